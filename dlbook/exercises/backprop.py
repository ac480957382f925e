"""Chapter 2 (Backpropagation): a linear layer's backward pass, sigmoid's, and two matrix gradients."""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..calculus import IDENTITIES
from ..nn import functional as F
from .core import Case, Exercise, Slip

CHAPTER = 2
_SINGLE = {"en": "a single sample", "zh": "只有一个样本"}
_F32 = {"en": "float32", "zh": "float32"}


# -- linear_backward --------------------------------------------------------------------------
def reference_linear_backward(dy, x, weight):
    return F.linear_backward(dy, x, weight)


def _cases_linear_backward(rng):
    def case(n, d, h, dtype=np.float64, note=None):
        return Case({"dy": rng.standard_normal((n, h)).astype(dtype),
                     "x": rng.standard_normal((n, d)).astype(dtype),
                     "weight": rng.standard_normal((h, d)).astype(dtype)}, note)
    return [
        case(4, 3, 3),  # a square weight first: dy @ W.T runs, and the hint can name the slip
        case(5, 6, 2),
        case(1, 4, 3, note=_SINGLE),
        case(16, 64, 10),
        case(3, 2, 5),
        case(6, 5, 4, np.float32, note=_F32),
    ]


LINEAR_BACKWARD = Exercise(
    id="linear_backward", chapter=CHAPTER,
    title={"en": "Backward pass of a linear layer", "zh": "线性层的反向传播"},
    statement={
        "en": """Backward pass of y = x W^T + b (torch.nn.Linear's layout, samples in rows).
dy (N, H): the upstream gradient d loss / d y; x (N, D): the layer's input;
weight (H, D). Return (dx, dweight, dbias) with shapes (N, D), (H, D), (H,).""",
        "zh": """y = x W^T + b 的反向传播（torch.nn.Linear 的布局，样本占行）。
dy (N, H)：上游梯度 d loss / d y；x (N, D)：这一层的输入；weight (H, D)。
返回 (dx, dweight, dbias)，形状分别为 (N, D)、(H, D)、(H,)。"""},
    reference=reference_linear_backward, cases=_cases_linear_backward,
    outputs=("dx", "dweight", "dbias"),
    slips=(
        Slip("missing_bias_gradient", {"en": "the bias gradient is missing: return dbias = dy summed over "
                                             "the samples, shape (H,).",
                                       "zh": "漏了偏置的梯度：要返回 dbias = dy 对样本求和，形状 (H,)。"},
             variants=(lambda dy, x, weight: (dy @ weight, dy.T @ x),
                       lambda dy, x, weight: (dy @ weight, dy.T @ x, None),
                       lambda dy, x, weight: (dy @ weight, dy.T @ x, np.zeros(len(weight), dy.dtype)))),
        Slip("weight_gradient_transposed", {"en": "a transposed weight gradient: dweight has the weight's "
                                                  "shape (H, D), so it is dy^T x, not x^T dy.",
                                            "zh": "权重梯度转置了：dweight 与 weight 同形 (H, D)，"
                                                  "所以是 dy^T x，不是 x^T dy。"},
             variants=(lambda dy, x, weight: (dy @ weight, x.T @ dy, dy.sum(axis=0)),)),
        Slip("dx_transposed_weight", {"en": "a transposed weight in dx: y = x W^T gives dx = dy W, "
                                            "not dy W^T.",
                                      "zh": "dx 里的权重转置错了：y = x W^T 给出 dx = dy W，不是 dy W^T。"},
             variants=(lambda dy, x, weight: (dy @ weight.T, dy.T @ x, dy.sum(axis=0)),)),
        Slip("bias_gradient_mean", {"en": "a mean where a sum belongs: every sample uses the same bias, "
                                          "so dbias sums dy over the samples (dy.sum(axis=0)).",
                                    "zh": "该求和的地方求了平均：每个样本都用同一个偏置，"
                                          "所以 dbias 是 dy 对样本求和（dy.sum(axis=0)）。"},
             variants=(lambda dy, x, weight: (dy @ weight, dy.T @ x, dy.mean(axis=0)),)),
        Slip("weight_gradient_mean", {"en": "a mean where a sum belongs: dweight = dy^T x sums over the "
                                            "samples; dy already carries any 1/N of the loss.",
                                      "zh": "该求和的地方求了平均：dweight = dy^T x 对样本求和；"
                                            "损失里的 1/N 已经包含在 dy 里了。"},
             variants=(lambda dy, x, weight: (dy @ weight, dy.T @ x / len(x), dy.sum(axis=0)),)),
    ),
)


# -- sigmoid_backward -------------------------------------------------------------------------
def reference_sigmoid_backward(dy, y):
    return F.sigmoid_backward(dy, y)


def _cases_sigmoid_backward(rng):
    def case(shape, scale=2.0, dtype=np.float64, note=None):
        x = rng.standard_normal(shape) * scale
        return Case({"dy": rng.standard_normal(shape).astype(dtype), "y": F.sigmoid(x).astype(dtype)}, note)
    return [
        case((4, 3)),
        case((1, 5), note=_SINGLE),
        case((2, 3, 4)),
        case((6, 2), scale=12.0, note={"en": "saturated units (|x| up to about 30)",
                                       "zh": "饱和的单元（|x| 可达 30 左右）"}),
        case((5, 4), dtype=np.float32, note=_F32),
    ]


SIGMOID_BACKWARD = Exercise(
    id="sigmoid_backward", chapter=CHAPTER,
    title={"en": "Backward pass of the sigmoid", "zh": "sigmoid 的反向传播"},
    statement={
        "en": """Backward pass of y = sigmoid(x), given the upstream gradient dy and the saved
output y (not x), both of any shape. Return dx = d loss / d x, y's shape and dtype.""",
        "zh": """y = sigmoid(x) 的反向传播：已知上游梯度 dy 和前向保存下来的输出 y（不是 x），
形状任意。返回 dx = d loss / d x，形状与 dtype 同 y。"""},
    reference=reference_sigmoid_backward, cases=_cases_sigmoid_backward, outputs=("dx",),
    slips=(
        Slip("missing_upstream", {"en": "the upstream gradient is missing: dx = dy * y * (1 - y) "
                                        "(chain rule: upstream times local derivative).",
                                  "zh": "漏了上游梯度：dx = dy * y * (1 - y)（链式法则：上游梯度乘局部导数）。"},
             variants=(lambda dy, y: y * (1 - y),)),
        Slip("sigmoid_applied_again", {"en": "y is already sigmoid(x): the local derivative is y (1 - y), "
                                             "no second sigmoid.",
                                       "zh": "y 已经是 sigmoid(x)：局部导数是 y (1 - y)，不要再套一次 sigmoid。"},
             variants=(lambda dy, y: dy * F.sigmoid(y) * (1 - F.sigmoid(y)),)),
        Slip("tanh_derivative", {"en": "that is tanh's derivative (1 - y^2); sigmoid's is y (1 - y).",
                                 "zh": "这是 tanh 的导数 (1 - y^2)；sigmoid 的导数是 y (1 - y)。"},
             variants=(lambda dy, y: dy * (1 - y * y),)),
    ),
)


# -- two matrix gradients, evaluated from chapter 2's table of identities --------------------------
def _closed_form(name: str):
    """A numpy function of the identity's other matrices (sorted by name) that evaluates its closed form."""
    identity = IDENTITIES[name]
    symbols = sorted(identity.closed_form.free_symbols, key=lambda s: s.name)
    return sp.lambdify(symbols, identity.closed_form, "numpy")


_TRACE_AXB = _closed_form("tr(AXB)")            # (A, B) -> A^T B^T
_TRACE_XTAX = _closed_form("tr(X^T A X)")       # (A, X) -> (A + A^T) X


def reference_matrix_gradient_trace(A, B):
    return np.asarray(_TRACE_AXB(A, B), dtype=np.float64)


def _cases_matrix_gradient_trace(rng):
    def case(m, p, q, note=None):  # A (m, p), X (p, q), B (q, m)
        return Case({"A": rng.standard_normal((m, p)), "B": rng.standard_normal((q, m))}, note)
    return [
        case(3, 3, 3, note={"en": "square matrices", "zh": "方阵"}),
        case(2, 3, 2),
        case(4, 3, 5),
        case(1, 4, 2, note={"en": "A is one row", "zh": "A 只有一行"}),
        case(5, 2, 1, note={"en": "X is one column", "zh": "X 只有一列"}),
    ]


MATRIX_GRADIENT_TRACE = Exercise(
    id="matrix_gradient_trace", chapter=CHAPTER,
    title={"en": "Gradient of tr(AXB) with respect to X", "zh": "tr(AXB) 对 X 的梯度"},
    statement={
        "en": """f(X) = tr(A X B) with A (m, p), X (p, q), B (q, m). Return df/dX as a numpy array
of X's shape (p, q), computed from A and B (derive it with df = tr(G^T dX)).""",
        "zh": """f(X) = tr(A X B)，A (m, p)，X (p, q)，B (q, m)。用 A 和 B 算出 df/dX，
返回与 X 同形 (p, q) 的 numpy 数组（用 df = tr(G^T dX) 推导）。"""},
    reference=reference_matrix_gradient_trace, cases=_cases_matrix_gradient_trace, outputs=("dX",),
    slips=(
        Slip("no_transposes", {"en": "tr(AXB) = tr(BAX) = <(BA)^T, X>, so the gradient is (BA)^T = A^T B^T, "
                                     "not A B.",
                               "zh": "tr(AXB) = tr(BAX) = <(BA)^T, X>，所以梯度是 (BA)^T = A^T B^T，不是 A B。"},
             variants=(lambda A, B: A @ B,)),
        Slip("gradient_transposed", {"en": "a transposed gradient: B A is (q, p), but the gradient has X's "
                                           "shape (p, q): (BA)^T = A^T B^T.",
                                     "zh": "梯度转置了：B A 的形状是 (q, p)，而梯度与 X 同形 (p, q)：(BA)^T = A^T B^T。"},
             variants=(lambda A, B: B @ A,)),
        Slip("order_reversed", {"en": "the order is reversed: (BA)^T = A^T B^T, not B^T A^T.",
                                "zh": "顺序反了：(BA)^T = A^T B^T，不是 B^T A^T。"},
             variants=(lambda A, B: B.T @ A.T,)),
    ),
)


def reference_trace_quadratic_gradient(A, X):
    return np.asarray(_TRACE_XTAX(A, X), dtype=np.float64)


def _cases_trace_quadratic_gradient(rng):
    def case(n, k, note=None):
        return Case({"A": rng.standard_normal((n, n)), "X": rng.standard_normal((n, k))}, note)
    a = rng.standard_normal((4, 4))
    return [
        case(3, 2),
        case(4, 1, note={"en": "X is one column: f = x^T A x", "zh": "X 只有一列：f = x^T A x"}),
        case(2, 5),
        case(5, 5),
        Case({"A": a + a.T, "X": rng.standard_normal((4, 3))}, {"en": "a symmetric A", "zh": "对称的 A"}),
    ]


TRACE_QUADRATIC_GRADIENT = Exercise(
    id="trace_quadratic_gradient", chapter=CHAPTER,
    title={"en": "Gradient of tr(X^T A X) with respect to X", "zh": "tr(X^T A X) 对 X 的梯度"},
    statement={
        "en": """f(X) = tr(X^T A X) with A (n, n), not necessarily symmetric, and X (n, k).
Return df/dX, shape (n, k), as a numpy function of A and X.""",
        "zh": """f(X) = tr(X^T A X)，A (n, n) 不一定对称，X (n, k)。
返回 df/dX，形状 (n, k)，写成 A 和 X 的 numpy 函数。"""},
    reference=reference_trace_quadratic_gradient, cases=_cases_trace_quadratic_gradient, outputs=("dX",),
    slips=(
        Slip("assumed_symmetric", {"en": "2 A X holds only for a symmetric A; in general the gradient is "
                                         "(A + A^T) X.",
                                   "zh": "2 A X 只在 A 对称时成立；一般情形下梯度是 (A + A^T) X。"},
             variants=(lambda A, X: 2 * A @ X,)),
        Slip("one_term_missing", {"en": "one term is missing: X appears twice in tr(X^T A X), and the "
                                        "product rule gives A X + A^T X.",
                                  "zh": "少了一项：X 在 tr(X^T A X) 中出现两次，乘积法则给出 A X + A^T X。"},
             variants=(lambda A, X: A @ X, lambda A, X: A.T @ X)),
    ),
)

EXERCISES = [LINEAR_BACKWARD, SIGMOID_BACKWARD, MATRIX_GRADIENT_TRACE, TRACE_QUADRATIC_GRADIENT]
