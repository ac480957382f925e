"""Chapter 6 (recurrent networks, LSTM): one RNN step forward and backward, one LSTM step with
torch's gate layout, clipping gradients by their global norm."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn.utils import clip_grad_norm_
from .core import Case, Exercise, Slip

CHAPTER = 6
_SINGLE = {"en": "a single sequence (N = 1)", "zh": "只有一个序列（N = 1）"}
_F32 = {"en": "float32", "zh": "float32"}
_SQUARE = {"en": "input_size = hidden_size", "zh": "input_size = hidden_size"}


def _cell(cls, weight_ih, weight_hh, bias_ih, bias_hh):
    """A dlbook cell of ``cls`` holding the given weights (their dtype)."""
    hidden, inputs = weight_hh.shape[1], weight_ih.shape[1]
    cell = cls(inputs, hidden, dtype=weight_ih.dtype)
    for name, value in (("weight_ih", weight_ih), ("weight_hh", weight_hh),
                        ("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        getattr(cell, name)[...] = value
    return cell


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """x W_ih^T + b_ih + h W_hh^T + b_hh: what a slip variant starts from."""
    return x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh


def _weights(rng, n_in, hidden, gates, dtype, scale=1.0):
    bound = scale / np.sqrt(hidden)  # torch's U(-1/sqrt(H), 1/sqrt(H)), times scale
    return {"weight_ih": rng.uniform(-bound, bound, (gates * hidden, n_in)).astype(dtype),
            "weight_hh": rng.uniform(-bound, bound, (gates * hidden, hidden)).astype(dtype),
            "bias_ih": rng.uniform(-bound, bound, gates * hidden).astype(dtype),
            "bias_hh": rng.uniform(-bound, bound, gates * hidden).astype(dtype)}


# -- rnn_step_forward -----------------------------------------------------------------------
def reference_rnn_step_forward(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    cell = _cell(nn.RNNCell, weight_ih, weight_hh, bias_ih, bias_hh)
    with nn.no_grad():
        return cell(x, h)


def _cases_rnn_step_forward(rng):
    def case(n, n_in, hidden, dtype=np.float64, scale=1.0, zero_state=False, note=None):
        h = np.zeros((n, hidden)) if zero_state else rng.standard_normal((n, hidden)) * 0.5
        return Case({"x": rng.standard_normal((n, n_in)).astype(dtype), "h": h.astype(dtype),
                     **_weights(rng, n_in, hidden, 1, dtype, scale)}, note)
    return [
        case(3, 4, 4, scale=2.0, note=_SQUARE),
        case(1, 5, 3, scale=2.0, note=_SINGLE),
        case(4, 2, 6, scale=2.0, note={"en": "input_size < hidden_size",
                                       "zh": "input_size < hidden_size"}),
        case(2, 3, 5, scale=2.0, zero_state=True,
             note={"en": "the first step: h = 0", "zh": "第一步：h = 0"}),
        case(3, 6, 4, scale=8.0, note={"en": "large weights: tanh saturates",
                                       "zh": "权重很大：tanh 饱和"}),
        case(5, 3, 3, scale=2.0),
        case(3, 4, 5, dtype=np.float32, scale=2.0, note=_F32),
    ]


def _rnn_variant(nonlinearity, drop=()):
    def step(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
        terms = {"x": x @ weight_ih.T, "b_ih": bias_ih, "h": h @ weight_hh.T, "b_hh": bias_hh}
        return nonlinearity(sum(v for k, v in terms.items() if k not in drop)).astype(x.dtype)
    return step


RNN_STEP_FORWARD = Exercise(
    id="rnn_step_forward", chapter=CHAPTER,
    title={"en": "One step of a tanh RNN", "zh": "tanh RNN 的一步"},
    statement={
        "en": """One time step of torch.nn.RNNCell (tanh):
h_new = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh).
x (N, input_size); h (N, hidden_size), the previous hidden state; weight_ih
(hidden_size, input_size); weight_hh (hidden_size, hidden_size); bias_ih, bias_hh
(hidden_size,). Return h_new (N, hidden_size), x's dtype.""",
        "zh": """torch.nn.RNNCell（tanh）的一个时间步：
h_new = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)。
x (N, input_size)；h (N, hidden_size)，上一步的隐状态；weight_ih
(hidden_size, input_size)；weight_hh (hidden_size, hidden_size)；bias_ih、bias_hh
(hidden_size,)。返回 h_new (N, hidden_size)，dtype 与 x 相同。"""},
    reference=reference_rnn_step_forward, cases=_cases_rnn_step_forward, outputs=("h_new",),
    slips=(
        Slip("transposed_weight", {
            "en": "a transposed weight: weight_ih is (hidden_size, input_size), as in torch, so "
                  "a row of x meets it as x @ weight_ih.T (and h as h @ weight_hh.T).",
            "zh": "权重转置错了：weight_ih 的形状是 (hidden_size, input_size)，与 torch 相同，"
                  "所以 x 的一行要乘 weight_ih.T：x @ weight_ih.T（h 则是 h @ weight_hh.T）。"},
            variants=(lambda x, h, wi, wh, bi, bh: reference_rnn_step_forward(
                          x, h, np.ascontiguousarray(wi.T), wh, bi, bh),
                      lambda x, h, wi, wh, bi, bh: reference_rnn_step_forward(
                          x, h, wi, np.ascontiguousarray(wh.T), bi, bh),
                      lambda x, h, wi, wh, bi, bh: reference_rnn_step_forward(
                          x, h, np.ascontiguousarray(wi.T), np.ascontiguousarray(wh.T), bi,
                          bh))),
        Slip("one_bias", {
            "en": "a bias is missing: torch's cell has two, bias_ih and bias_hh, and adds both.",
            "zh": "漏了一个偏置：torch 的单元有两个偏置 bias_ih 和 bias_hh，两个都要加上。"},
            variants=(_rnn_variant(np.tanh, drop=("b_hh",)), _rnn_variant(np.tanh, drop=("b_ih",)))),
        Slip("state_ignored", {
            "en": "the previous hidden state is missing: the recurrence is the term h @ weight_hh.T.",
            "zh": "漏了上一步的隐状态：循环正是 h @ weight_hh.T 这一项。"},
            variants=(_rnn_variant(np.tanh, drop=("h",)),
                      _rnn_variant(np.tanh, drop=("h", "b_hh")))),
        Slip("sigmoid_not_tanh", {
            "en": "the nonlinearity is tanh (values in (-1, 1)), not the sigmoid.",
            "zh": "非线性函数是 tanh（取值在 (-1, 1) 之间），不是 sigmoid。"},
            variants=(_rnn_variant(_sigmoid),)),
        Slip("no_tanh", {
            "en": "tanh is missing: h_new = tanh(...) of the sum.",
            "zh": "漏了 tanh：h_new 是整个和的 tanh。"},
            variants=(_rnn_variant(lambda a: a),)),
    ),
)


# -- lstm_step_forward ----------------------------------------------------------------------
def reference_lstm_step_forward(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    cell = _cell(nn.LSTMCell, weight_ih, weight_hh, bias_ih, bias_hh)
    with nn.no_grad():
        return cell(x, (h, c))


def _cases_lstm_step_forward(rng):
    def case(n, n_in, hidden, dtype=np.float64, scale=1.0, zero_state=False, note=None):
        h, c = (np.zeros((n, hidden)) if zero_state else rng.standard_normal((n, hidden))
                for _ in range(2))
        return Case({"x": rng.standard_normal((n, n_in)).astype(dtype),
                     "h": (0.5 * h).astype(dtype), "c": (2.0 * c).astype(dtype),
                     **_weights(rng, n_in, hidden, 4, dtype, scale)}, note)
    return [
        case(3, 4, 4, scale=2.0, note=_SQUARE),
        case(1, 5, 3, scale=2.0, note=_SINGLE),
        case(4, 2, 6, scale=2.0, note={"en": "input_size < hidden_size",
                                       "zh": "input_size < hidden_size"}),
        case(2, 3, 5, scale=2.0, zero_state=True,
             note={"en": "the first step: h = c = 0", "zh": "第一步：h = c = 0"}),
        case(3, 6, 4, scale=6.0, note={"en": "large weights: the gates saturate",
                                       "zh": "权重很大：门饱和"}),
        case(5, 3, 3, scale=2.0),
        case(3, 4, 5, dtype=np.float32, scale=2.0, note=_F32),
    ]


def _lstm_variant(order="ifgo", g_act=np.tanh, h_of_c=np.tanh, input_gate=True,
                  coupled=False):
    """An LSTM step with one thing changed: the gates' order in the weight rows, the
    candidate's nonlinearity, tanh on the cell state, the input gate, a coupled forget gate."""
    def step(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        chunks = dict(zip(order, np.split(_affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh),
                                          4, axis=1)))
        i, f, o = _sigmoid(chunks["i"]), _sigmoid(chunks["f"]), _sigmoid(chunks["o"])
        g = g_act(chunks["g"])
        if coupled:
            c_new = f * c + (1 - f) * g
        else:
            c_new = f * c + (i * g if input_gate else g)
        return (o * h_of_c(c_new)).astype(x.dtype), c_new.astype(x.dtype)
    return step


LSTM_STEP_FORWARD = Exercise(
    id="lstm_step_forward", chapter=CHAPTER,
    title={"en": "One step of an LSTM, with torch's gate layout",
           "zh": "LSTM 的一步（torch 的门排列）"},
    statement={
        "en": """One time step of torch.nn.LSTMCell. The rows of weight_ih (4H, input_size),
weight_hh (4H, H), bias_ih and bias_hh (4H,) hold the four gates in torch's order
i, f, g, o (H rows each). With a = x W_ih^T + b_ih + h W_hh^T + b_hh split into
a_i, a_f, a_g, a_o:  i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g),
o = sigmoid(a_o);  c_new = f * c + i * g;  h_new = o * tanh(c_new).
x (N, input_size); h, c (N, H). Return (h_new, c_new), each (N, H), x's dtype.""",
        "zh": """torch.nn.LSTMCell 的一个时间步。weight_ih (4H, input_size)、weight_hh (4H, H)、
bias_ih 和 bias_hh (4H,) 的各行按 torch 的顺序 i、f、g、o 存放四个门（各 H 行）。
把 a = x W_ih^T + b_ih + h W_hh^T + b_hh 分成 a_i、a_f、a_g、a_o：
i = sigmoid(a_i)，f = sigmoid(a_f)，g = tanh(a_g)，o = sigmoid(a_o)；
c_new = f * c + i * g；h_new = o * tanh(c_new)。
x (N, input_size)；h、c (N, H)。返回 (h_new, c_new)，形状均为 (N, H)，dtype 与 x 相同。"""},
    reference=reference_lstm_step_forward, cases=_cases_lstm_step_forward,
    outputs=("h_new", "c_new"),
    slips=(
        Slip("gate_order_ifog", {
            "en": "the gates are in the wrong order: torch stores them as i, f, g, o (the "
                  "candidate g third, the output gate last); i, f, o, g is cs231n's layout.",
            "zh": "门的顺序错了：torch 按 i、f、g、o 存放（候选值 g 第三，输出门最后）；"
                  "i、f、o、g 是 cs231n 作业的排法。"},
            variants=(_lstm_variant(order="ifog"),)),
        Slip("gate_order_other", {
            "en": "the gates are in the wrong order: rows [0, H) are i, [H, 2H) f, [2H, 3H) g "
                  "(the candidate), [3H, 4H) o.",
            "zh": "门的顺序错了：第 [0, H) 行是 i，[H, 2H) 是 f，[2H, 3H) 是 g（候选值），"
                  "[3H, 4H) 是 o。"},
            variants=tuple(_lstm_variant(order=o) for o in
                           ("figo", "figo"[::-1], "iofg", "gifo", "oifg", "igfo"))),
        Slip("sigmoid_candidate", {
            "en": "the candidate g goes through tanh, not the sigmoid: it is a new value for "
                  "the cell state, in (-1, 1); only i, f and o are gates in (0, 1).",
            "zh": "候选值 g 用 tanh，不用 sigmoid：它是记忆元的新内容，取值在 (-1, 1)；"
                  "只有 i、f、o 是取值在 (0, 1) 的门。"},
            variants=(_lstm_variant(g_act=_sigmoid),)),
        Slip("h_without_tanh", {
            "en": "h_new = o * tanh(c_new): the cell state goes through tanh before the "
                  "output gate.",
            "zh": "h_new = o * tanh(c_new)：记忆元先经过 tanh，再乘输出门。"},
            variants=(_lstm_variant(h_of_c=lambda c: c),)),
        Slip("input_gate_missing", {
            "en": "the input gate is missing: c_new = f * c + i * g.",
            "zh": "漏了输入门：c_new = f * c + i * g。"},
            variants=(_lstm_variant(input_gate=False),)),
        Slip("coupled_gates", {
            "en": "c_new = f * c + i * g: the input gate i has weights of its own; (1 - f) in "
                  "its place is the coupled variant (and a GRU's update), not torch's LSTM.",
            "zh": "c_new = f * c + i * g：输入门 i 有自己的权重；用 (1 - f) 代替它是耦合的变体"
                  "（也是 GRU 的更新方式），不是 torch 的 LSTM。"},
            variants=(_lstm_variant(coupled=True),)),
    ),
)


# -- rnn_step_backward ----------------------------------------------------------------------
def reference_rnn_step_backward(d_h_new, x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    cell = _cell(nn.RNNCell, weight_ih, weight_hh, bias_ih, bias_hh)
    cell(x, h)
    d_x, d_h = cell.backward(d_h_new)
    return d_x, d_h, cell.weight_ih.grad, cell.weight_hh.grad, cell.bias_ih.grad


def _cases_rnn_step_backward(rng):
    def case(n, n_in, hidden, dtype=np.float64, scale=2.0, note=None):
        return Case({"d_h_new": rng.standard_normal((n, hidden)).astype(dtype),
                     "x": rng.standard_normal((n, n_in)).astype(dtype),
                     "h": (0.5 * rng.standard_normal((n, hidden))).astype(dtype),
                     **_weights(rng, n_in, hidden, 1, dtype, scale)}, note)
    return [
        case(3, 4, 4, note=_SQUARE),
        case(1, 5, 3, note=_SINGLE),
        case(4, 2, 6, note={"en": "input_size < hidden_size", "zh": "input_size < hidden_size"}),
        case(3, 6, 4, scale=6.0, note={"en": "large weights: tanh saturates, small gradients",
                                       "zh": "权重很大：tanh 饱和，梯度很小"}),
        case(5, 3, 3),
        case(3, 4, 5, dtype=np.float32, note=_F32),
    ]


def _rnn_backward_variant(local="new", d_h_transposed=False, weight_transposed=False,
                          bias_mean=False):
    """One RNN step's backward with one slip: the tanh derivative taken at the old state
    ("old"), tanh applied again ("again") or left out ("none"); a transposed product."""
    def backward(d_h_new, x, h, weight_ih, weight_hh, bias_ih, bias_hh):
        h_new = np.tanh(_affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh))
        slope = {"new": 1 - h_new ** 2, "old": 1 - h ** 2, "again": 1 - np.tanh(h_new) ** 2,
                 "none": np.ones_like(h_new)}[local]
        da = d_h_new * slope
        d_h = da @ (weight_hh.T if d_h_transposed else weight_hh)
        d_w_ih, d_w_hh = da.T @ x, da.T @ h
        if weight_transposed:
            d_w_ih, d_w_hh = x.T @ da, h.T @ da
        d_b = da.mean(0) if bias_mean else da.sum(0)
        return tuple(v.astype(x.dtype) for v in (da @ weight_ih, d_h, d_w_ih, d_w_hh, d_b))
    return backward


RNN_STEP_BACKWARD = Exercise(
    id="rnn_step_backward", chapter=CHAPTER,
    title={"en": "The backward pass of one tanh RNN step", "zh": "tanh RNN 一步的反向传播"},
    statement={
        "en": """The backward pass of h_new = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
(one step of torch.nn.RNNCell). Given d_h_new = dL/dh_new (N, H) and the step's inputs
x (N, input_size), h (N, H) and weights (shapes as in rnn_step_forward), return
(d_x, d_h, d_weight_ih, d_weight_hh, d_bias): the gradients of L with respect to x, h,
weight_ih, weight_hh and bias_ih (bias_hh's gradient is the same), each shaped like
what it is the gradient of, x's dtype. Recompute h_new from the inputs.""",
        "zh": """h_new = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)（torch.nn.RNNCell 的一步）的反向传播。
已知 d_h_new = dL/dh_new (N, H)，以及这一步的输入 x (N, input_size)、h (N, H) 和权重
（形状同 rnn_step_forward），返回 (d_x, d_h, d_weight_ih, d_weight_hh, d_bias)：
L 对 x、h、weight_ih、weight_hh 和 bias_ih 的梯度（bias_hh 的梯度与之相同），形状与各自的
变量相同，dtype 与 x 相同。h_new 由输入重新算出。"""},
    reference=reference_rnn_step_backward, cases=_cases_rnn_step_backward,
    outputs=("d_x", "d_h", "d_weight_ih", "d_weight_hh", "d_bias"),
    slips=(
        Slip("derivative_at_old_state", {
            "en": "tanh's derivative is 1 - tanh(a)^2 = 1 - h_new^2, at this step's output, "
                  "not 1 - h^2 at the previous state.",
            "zh": "tanh 的导数是 1 - tanh(a)^2 = 1 - h_new^2，取在这一步的输出上，"
                  "不是上一步状态的 1 - h^2。"},
            variants=(_rnn_backward_variant(local="old"),)),
        Slip("tanh_applied_again", {
            "en": "h_new is already tanh(a): the derivative is 1 - h_new^2, not "
                  "1 - tanh(h_new)^2.",
            "zh": "h_new 已经是 tanh(a)：导数是 1 - h_new^2，不是 1 - tanh(h_new)^2。"},
            variants=(_rnn_backward_variant(local="again"),)),
        Slip("derivative_missing", {
            "en": "tanh's derivative is missing: multiply d_h_new by 1 - h_new^2 first.",
            "zh": "漏了 tanh 的导数：先把 d_h_new 乘以 1 - h_new^2。"},
            variants=(_rnn_backward_variant(local="none"),)),
        Slip("d_h_transposed", {
            "en": "h enters as h @ weight_hh.T, so its gradient is da @ weight_hh (no "
                  "transpose), with da = d_h_new * (1 - h_new^2).",
            "zh": "h 以 h @ weight_hh.T 的形式参与计算，所以它的梯度是 da @ weight_hh（不转置），"
                  "其中 da = d_h_new * (1 - h_new^2)。"},
            variants=(_rnn_backward_variant(d_h_transposed=True),)),
        Slip("weight_gradient_transposed", {
            "en": "a transposed weight gradient: d_weight_ih = da.T @ x has weight_ih's shape "
                  "(hidden_size, input_size).",
            "zh": "权重梯度转置了：d_weight_ih = da.T @ x，形状与 weight_ih 相同，"
                  "为 (hidden_size, input_size)。"},
            variants=(_rnn_backward_variant(weight_transposed=True),)),
        Slip("bias_gradient_mean", {
            "en": "the bias gradient is a sum over the batch (each row used the bias once), "
                  "not a mean.",
            "zh": "偏置的梯度是对批量求和（每一行都用了一次偏置），不是求平均。"},
            variants=(_rnn_backward_variant(bias_mean=True),)),
    ),
)


# -- clip_grad_norm -------------------------------------------------------------------------
def reference_clip_grad_norm(grad_ih, grad_hh, max_norm):
    params = [nn.Parameter(np.zeros_like(g)) for g in (grad_ih, grad_hh)]
    for p, g in zip(params, (grad_ih, grad_hh)):
        p.grad = np.array(g, copy=True)
    total = clip_grad_norm_(params, max_norm)
    return params[0].grad, params[1].grad, grad_ih.dtype.type(total)  # compared at its precision


def _cases_clip_grad_norm(rng):
    def case(h, n_in, scale, max_norm, dtype=np.float64, note=None):
        return Case({"grad_ih": (scale * rng.standard_normal((h, n_in))).astype(dtype),
                     "grad_hh": (scale * rng.standard_normal((h, h))).astype(dtype),
                     "max_norm": max_norm}, note)
    return [
        case(4, 3, 2.0, 1.0, note={"en": "a total norm above max_norm: clipped",
                                   "zh": "总范数大于 max_norm：要裁剪"}),
        case(3, 5, 0.01, 1.0, note={"en": "a total norm below max_norm: unchanged",
                                    "zh": "总范数小于 max_norm：保持不变"}),
        case(6, 2, 5.0, 0.5),
        case(2, 2, 1e3, 5.0, note={"en": "exploding gradients", "zh": "梯度爆炸"}),
        Case({"grad_ih": np.zeros((3, 2)), "grad_hh": np.zeros((3, 3)), "max_norm": 1.0},
             {"en": "all gradients zero", "zh": "梯度全为零"}),
        case(5, 4, 1.0, 2.0),
        case(4, 3, 3.0, 1.0, dtype=np.float32, note=_F32),
    ]


def _clip_variant(per_tensor=False, scale_up=False, eps=1e-6, squared=False, after=False):
    def clip(grad_ih, grad_hh, max_norm):
        grads = (grad_ih, grad_hh)
        norms = [np.sqrt(np.sum(g.astype(np.float64) ** 2)) for g in grads]
        total = np.sqrt(sum(n ** 2 for n in norms))
        if per_tensor:
            coefs = [min(max_norm / (n + eps), 1.0) for n in norms]
        else:
            coef = max_norm / (total + eps) if eps else max_norm / total
            coefs = [coef if scale_up else min(coef, 1.0)] * 2
        out = [(g * c).astype(g.dtype) for g, c in zip(grads, coefs)]
        reported = total ** 2 if squared else (min(total, max_norm) if after else total)
        return out[0], out[1], grad_ih.dtype.type(reported)
    return clip


CLIP_GRAD_NORM = Exercise(
    id="clip_grad_norm", chapter=CHAPTER,
    title={"en": "Clipping gradients by their global norm",
           "zh": "按全局范数裁剪梯度"},
    statement={
        "en": """Gradient clipping as torch.nn.utils.clip_grad_norm_ does it, for the two weight
gradients of an RNN cell: grad_ih (H, input_size), grad_hh (H, H); max_norm > 0.
The total norm is the 2-norm of all the entries of both together. When it exceeds
max_norm, both gradients are scaled by the same factor max_norm / (total + 1e-6)
(torch's 1e-6 guards against a zero norm); otherwise they stay as they are.
Return (clipped_ih, clipped_hh, total_norm): new arrays, the gradients' dtype, and the
total norm *before* clipping (a number).""",
        "zh": """按 torch.nn.utils.clip_grad_norm_ 的方式裁剪一个 RNN 单元的两个权重梯度：
grad_ih (H, input_size)、grad_hh (H, H)；max_norm > 0。总范数是两者全部元素放在一起的
2-范数。它超过 max_norm 时，两个梯度乘以同一个系数 max_norm / (total + 1e-6)
（torch 加 1e-6 是为了防止范数为零）；否则保持不变。返回 (clipped_ih, clipped_hh,
total_norm)：新的数组，dtype 与梯度相同，以及裁剪*之前*的总范数（一个数）。"""},
    reference=reference_clip_grad_norm, cases=_cases_clip_grad_norm,
    outputs=("clipped_ih", "clipped_hh", "total_norm"),
    slips=(
        Slip("per_tensor", {
            "en": "each gradient was clipped by its own norm: clip_grad_norm_ computes one "
                  "total norm over all of them and scales them all by the same factor, so "
                  "the direction of the whole gradient is kept.",
            "zh": "每个梯度按各自的范数裁剪了：clip_grad_norm_ 对全部梯度算一个总范数，"
                  "并把它们乘以同一个系数，从而保持整个梯度的方向。"},
            variants=(_clip_variant(per_tensor=True),)),
        Slip("scaled_up", {
            "en": "small gradients were scaled up: the factor is min(1, max_norm / (total + "
                  "1e-6)); below max_norm the gradients stay as they are.",
            "zh": "把小梯度放大了：系数是 min(1, max_norm / (total + 1e-6))；"
                  "小于 max_norm 时梯度保持不变。"},
            variants=(_clip_variant(scale_up=True),)),
        Slip("no_eps", {
            "en": "torch divides by total + 1e-6, not by total (the clipped norm is then just "
                  "below max_norm, and a zero norm cannot divide by zero).",
            "zh": "torch 除以 total + 1e-6，而不是 total（于是裁剪后的范数略小于 max_norm，"
                  "范数为零时也不会除以零）。"},
            variants=(_clip_variant(eps=0.0),)),
        Slip("norm_squared", {
            "en": "the total norm is the square root of the sum of squares.",
            "zh": "总范数是平方和的平方根。"},
            variants=(_clip_variant(squared=True),)),
        Slip("norm_after_clipping", {
            "en": "return the total norm before clipping, as torch does (it tells you how "
                  "large the gradient was).",
            "zh": "返回裁剪之前的总范数，与 torch 一样（它告诉你梯度原本有多大）。"},
            variants=(_clip_variant(after=True),)),
    ),
)

EXERCISES = [RNN_STEP_FORWARD, LSTM_STEP_FORWARD, RNN_STEP_BACKWARD, CLIP_GRAD_NORM]
