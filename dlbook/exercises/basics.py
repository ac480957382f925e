"""Chapter 1 (Basics): linear scores, softmax cross-entropy, the multiclass hinge loss."""

from __future__ import annotations

import numpy as np

from ..nn import functional as F
from .core import Case, Exercise, Slip

CHAPTER = 1


# -- linear_scores ----------------------------------------------------------------------------
def reference_linear_scores(X, W, b):
    return F.linear(X, W, b)


def _cases_linear_scores(rng):
    def case(n, d, c, dtype=np.float64, note=None):
        return Case({"X": rng.standard_normal((n, d)).astype(dtype),
                     "W": rng.standard_normal((c, d)).astype(dtype),
                     "b": rng.standard_normal(c).astype(dtype)}, note)
    return [
        case(4, 3, 3),  # square W first: X @ W runs, and the hint can name the slip
        case(5, 6, 4),
        case(1, 5, 3, note={"en": "a single sample", "zh": "只有一个样本"}),
        case(8, 64, 10, note={"en": "the digits' sizes: D = 64, C = 10", "zh": "手写数字的尺寸：D = 64，C = 10"}),
        case(3, 2, 7),
        case(6, 5, 3, np.float32, note={"en": "float32", "zh": "float32"}),
    ]


LINEAR_SCORES = Exercise(
    id="linear_scores", chapter=CHAPTER,
    title={"en": "Linear scores of a batch", "zh": "一批样本的线性得分"},
    statement={
        "en": """Scores of a linear classifier for a batch: S = X W^T + b.
X (N, D): one sample per row; W (C, D): one template per class, as torch.nn.Linear's
weight; b (C,). Return S (N, C) in X's dtype.""",
        "zh": """线性分类器对一批样本的得分：S = X W^T + b。
X (N, D)：每行一个样本；W (C, D)：每类一个模板，与 torch.nn.Linear 的 weight 布局相同；
b (C,)。返回 S (N, C)，dtype 与 X 相同。"""},
    reference=reference_linear_scores, cases=_cases_linear_scores, outputs=("scores",),
    slips=(
        Slip("missing_bias", {"en": "the bias is missing: add b to every row (S = X W^T + b).",
                              "zh": "漏了偏置：每一行都要加上 b（S = X W^T + b）。"},
             variants=(lambda X, W, b: X @ W.T,)),
        Slip("transposed_weight", {"en": "a transposed weight: W is (C, D), one row per class, so the "
                                         "scores are X W^T, not X W.",
                                   "zh": "权重转置错了：W 的形状是 (C, D)，每类一行，所以得分是 X W^T，不是 X W。"},
             variants=(lambda X, W, b: X @ W + b,)),
        Slip("scores_transposed", {"en": "you computed W X^T: one column per sample. The batch layout "
                                         "keeps samples in rows: S = X W^T + b, shape (N, C).",
                                   "zh": "你算的是 W X^T：每列一个样本。批量布局让样本占行：S = X W^T + b，"
                                         "形状 (N, C)。"},
             variants=(lambda X, W, b: W @ X.T + b[:, None],)),
    ),
)


# -- softmax_cross_entropy ---------------------------------------------------------------------
def reference_softmax_cross_entropy(scores, y):
    return F.cross_entropy(scores, y), F.cross_entropy_backward(scores, y)


def _onehot(y, c):
    out = np.zeros((len(y), c))
    out[np.arange(len(y)), y] = 1
    return out


def _ce_sum(scores, y):
    return F.cross_entropy(scores, y, "sum"), F.cross_entropy_backward(scores, y, "sum")


def _ce_grad_not_divided(scores, y):
    return F.cross_entropy(scores, y), F.cross_entropy_backward(scores, y, "sum")


def _ce_grad_without_onehot(scores, y):
    return F.cross_entropy(scores, y), F.softmax(scores, axis=1) / len(y)


def _ce_softmax_over_batch(scores, y):
    logp = F.log_softmax(scores, axis=0)
    n = len(y)
    return -logp[np.arange(n), y].mean(), (np.exp(logp) - _onehot(y, scores.shape[1])) / n


def _large_scores(args, got, want):
    """Non-finite output on a case whose scores are far from 0 (where exp overflows or underflows)."""
    big = np.max(np.abs(args["scores"])) > 700
    values = got if isinstance(got, (tuple, list)) else (got,)
    bad = any(v is not None and not np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in values)
    return bool(big and bad)


def _cases_softmax_cross_entropy(rng):
    def case(n, c, scale=2.0, shift=0.0, note=None):
        return Case({"scores": rng.standard_normal((n, c)) * scale + shift,
                     "y": rng.integers(0, c, size=n)}, note)
    return [
        case(5, 4),
        case(8, 10, scale=3.0),
        case(1, 3, note={"en": "a single sample", "zh": "只有一个样本"}),
        case(6, 5, shift=1000.0, note={"en": "large scores, around 1000", "zh": "很大的分数，1000 左右"}),
        case(4, 3, shift=-1000.0, note={"en": "very negative scores, around -1000",
                                        "zh": "很小的分数，-1000 左右"}),
        Case({"scores": np.zeros((3, 4)), "y": np.array([0, 3, 1])},
             {"en": "all scores equal", "zh": "所有分数相等"}),
        case(7, 2),
    ]


SOFTMAX_CROSS_ENTROPY = Exercise(
    id="softmax_cross_entropy", chapter=CHAPTER,
    title={"en": "Stable softmax cross-entropy and its gradient", "zh": "数值稳定的 softmax 交叉熵及其梯度"},
    statement={
        "en": """Mean cross-entropy loss of a batch and its gradient with respect to the scores.
scores (N, C) float64, y (N,) integer classes in [0, C).
loss = mean over i of -log softmax(scores[i])[y[i]], computed stably (subtract each
row's maximum first). Return (loss, dscores), dscores (N, C) = d loss / d scores.""",
        "zh": """一批样本的平均交叉熵损失，以及它对分数的梯度。
scores (N, C) float64，y (N,) 是 [0, C) 中的整数类别。
loss = 对 i 求平均 -log softmax(scores[i])[y[i]]，要数值稳定（先减去每行的最大值）。
返回 (loss, dscores)，dscores (N, C) = d loss / d scores。"""},
    reference=reference_softmax_cross_entropy, cases=_cases_softmax_cross_entropy,
    outputs=("loss", "dscores"),
    slips=(
        Slip("no_max_shift", {"en": "a softmax without the max shift: exp overflows to inf for scores "
                                    "near 1000 (and underflows to 0 near -1000). Subtract each row's "
                                    "maximum before exp; it changes nothing mathematically.",
                              "zh": "softmax 没有先减去最大值：分数在 1000 左右时 exp 上溢为 inf"
                                    "（在 -1000 左右时下溢为 0）。取 exp 之前先减去每行的最大值，数学上结果不变。"},
             detect=_large_scores),
        Slip("sum_not_mean", {"en": "a sum where a mean belongs: the loss is the mean over the N samples, "
                                    "and its gradient is divided by N too.",
                              "zh": "该求平均的地方求了和：损失是 N 个样本的平均，梯度也要除以 N。"},
             variants=(_ce_sum,)),
        Slip("gradient_not_divided", {"en": "the gradient is not divided by N: the loss is a mean, so "
                                            "dscores = (softmax - onehot(y)) / N.",
                                      "zh": "梯度没有除以 N：损失是平均值，所以 dscores = (softmax - onehot(y)) / N。"},
             variants=(_ce_grad_not_divided,)),
        Slip("gradient_without_onehot", {"en": "the gradient misses the -1 at the correct class: "
                                               "dscores = (softmax - onehot(y)) / N.",
                                         "zh": "梯度在正确类别处少减了 1：dscores = (softmax - onehot(y)) / N。"},
             variants=(_ce_grad_without_onehot,)),
        Slip("softmax_over_batch", {"en": "softmax over the wrong axis: each row (one sample) is normalized "
                                          "over its C classes, axis=1.",
                                    "zh": "softmax 的轴错了：每一行（一个样本）在它的 C 个类别上归一化，axis=1。"},
             variants=(_ce_softmax_over_batch,)),
    ),
)


# -- multiclass_hinge_loss ---------------------------------------------------------------------
def reference_multiclass_hinge_loss(scores, y, margin=1.0):
    return (F.multi_margin_loss(scores, y, margin=margin),
            F.multi_margin_loss_backward(scores, y, margin=margin))


def _hinge_without_1_over_c(scores, y, margin=1.0):
    c = scores.shape[1]
    loss, grad = reference_multiclass_hinge_loss(scores, y, margin)
    return loss * c, grad * c


def _hinge_counts_correct_class(scores, y, margin=1.0):
    loss, grad = reference_multiclass_hinge_loss(scores, y, margin)
    return loss + margin / scores.shape[1], grad


def _hinge_true_class_gradient_missing(scores, y, margin=1.0):
    loss, grad = reference_multiclass_hinge_loss(scores, y, margin)
    grad = grad.copy()
    grad[np.arange(len(y)), y] = 0
    return loss, grad


def _hinge_sum(scores, y, margin=1.0):
    return (F.multi_margin_loss(scores, y, margin=margin, reduction="sum"),
            F.multi_margin_loss_backward(scores, y, margin=margin, reduction="sum"))


def _hinge_margin_one(scores, y, margin=1.0):
    return reference_multiclass_hinge_loss(scores, y, 1.0)


def _cases_multiclass_hinge_loss(rng):
    def case(n, c, scale=1.0, margin=1.0, note=None):
        return Case({"scores": rng.standard_normal((n, c)) * scale, "y": rng.integers(0, c, size=n),
                     "margin": margin}, note)
    return [
        case(5, 4),
        case(8, 10, scale=2.0),
        case(1, 3, note={"en": "a single sample", "zh": "只有一个样本"}),
        case(6, 5, margin=2.0, note={"en": "margin 2", "zh": "间隔为 2"}),
        case(7, 2, scale=3.0),
        case(4, 6, scale=0.1, margin=0.5, note={"en": "every margin violated", "zh": "每个间隔都被违反"}),
    ]


MULTICLASS_HINGE_LOSS = Exercise(
    id="multiclass_hinge_loss", chapter=CHAPTER,
    title={"en": "Multiclass hinge (SVM) loss and its gradient", "zh": "多类 hinge（SVM）损失及其梯度"},
    statement={
        "en": """Multiclass hinge loss of a batch, in torch's form (F.multi_margin_loss):
L_i = (1/C) * sum over j != y_i of max(0, margin - s[i, y_i] + s[i, j]),
loss = mean of L_i over the N samples. scores (N, C) float64, y (N,) classes.
Return (loss, dscores), dscores (N, C) = d loss / d scores (take the derivative
of max(0, t) at t = 0 to be 0).""",
        "zh": """一批样本的多类 hinge 损失，采用 torch 的形式（F.multi_margin_loss）：
L_i = (1/C) * 对 j != y_i 求和 max(0, margin - s[i, y_i] + s[i, j])，
loss = N 个样本 L_i 的平均。scores (N, C) float64，y (N,) 是类别。
返回 (loss, dscores)，dscores (N, C) = d loss / d scores（max(0, t) 在 t = 0 处的导数取 0）。"""},
    reference=reference_multiclass_hinge_loss, cases=_cases_multiclass_hinge_loss,
    outputs=("loss", "dscores"),
    slips=(
        Slip("missing_1_over_c", {"en": "the 1/C is missing: torch's MultiMarginLoss divides each sample's "
                                        "sum by the number of classes C (cs231n's SVM loss does not).",
                                  "zh": "少了 1/C：torch 的 MultiMarginLoss 把每个样本的和除以类别数 C"
                                        "（cs231n 的 SVM 损失不除）。"},
             variants=(_hinge_without_1_over_c,)),
        Slip("correct_class_counted", {"en": "the correct class is counted as a competitor: the sum runs "
                                             "over j != y_i only (else every sample adds margin / C).",
                                       "zh": "把正确类别也算进去了：求和只对 j != y_i 进行"
                                             "（否则每个样本都多出 margin / C）。"},
             variants=(_hinge_counts_correct_class,)),
        Slip("true_class_gradient_missing", {"en": "the gradient of the correct score is missing: s[i, y_i] "
                                                   "appears with a minus sign in every violated term, so its "
                                                   "entry is -(number of violated terms) / (C N).",
                                             "zh": "正确类别分数的梯度漏了：s[i, y_i] 在每个被违反的项里都带负号，"
                                                   "所以它的梯度是 -(被违反的项数) / (C N)。"},
             variants=(_hinge_true_class_gradient_missing,)),
        Slip("sum_not_mean", {"en": "a sum where a mean belongs: the loss is the mean over the N samples, "
                                    "and its gradient is divided by N too.",
                              "zh": "该求平均的地方求了和：损失是 N 个样本的平均，梯度也要除以 N。"},
             variants=(_hinge_sum,)),
        Slip("margin_ignored", {"en": "the margin argument is ignored: use margin, not a fixed 1.",
                                "zh": "忽略了 margin 参数：要用传入的 margin，而不是固定的 1。"},
             variants=(_hinge_margin_one,)),
    ),
)

EXERCISES = [LINEAR_SCORES, SOFTMAX_CROSS_ENTROPY, MULTICLASS_HINGE_LOSS]
