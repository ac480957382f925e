"""Chapter 3 (Building blocks): BatchNorm in training mode, inverted dropout, SGD with momentum."""

from __future__ import annotations

import numpy as np

from .. import nn, optim
from .core import Case, Exercise, Slip

CHAPTER = 3
_F32 = {"en": "float32", "zh": "float32"}


# -- batchnorm_forward ------------------------------------------------------------------------
def reference_batchnorm_forward(x, gamma, beta, eps=1e-5):
    bn = nn.BatchNorm1d(x.shape[1], eps=eps, dtype=x.dtype)  # a fresh layer is in training mode
    bn.weight[...] = gamma
    bn.bias[...] = beta
    return bn(x)


def _bn(x, gamma, beta, eps, mean, var):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def _bn_unbiased(x, gamma, beta, eps=1e-5):
    return _bn(x, gamma, beta, eps, x.mean(axis=0), x.var(axis=0, ddof=1))


def _bn_per_sample(x, gamma, beta, eps=1e-5):
    return _bn(x, gamma, beta, eps, x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True))


def _bn_eps_outside(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / (x.std(axis=0) + eps) + beta


def _bn_variance_not_sqrt(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / (x.var(axis=0) + eps) + beta


def _cases_batchnorm_forward(rng):
    def case(n, d, eps=1e-5, dtype=np.float64, std=None, note=None):
        scale = rng.uniform(0.5, 3.0, d) if std is None else std
        x = rng.standard_normal((n, d)) * scale + rng.uniform(-2, 2, d)
        return Case({"x": x.astype(dtype), "gamma": rng.uniform(0.5, 2.0, d).astype(dtype),
                     "beta": rng.standard_normal(d).astype(dtype), "eps": eps}, note)
    return [
        case(8, 3),
        case(2, 4, note={"en": "two samples, the smallest batch BatchNorm can normalize",
                         "zh": "两个样本，BatchNorm 能规范化的最小批量"}),
        case(32, 10),
        case(16, 3, std=np.array([1.0, 3e-3, 1e-3]),
             note={"en": "features whose variance is close to eps", "zh": "方差接近 eps 的特征"}),
        case(10, 5, eps=1e-3, note={"en": "eps = 1e-3", "zh": "eps = 1e-3"}),
        case(16, 5, dtype=np.float32, note=_F32),
    ]


BATCHNORM_FORWARD = Exercise(
    id="batchnorm_forward", chapter=CHAPTER,
    title={"en": "Batch normalization, training mode", "zh": "批量规范化（训练模式）"},
    statement={
        "en": """BatchNorm1d's forward pass in training mode. x (N, D): N samples of D features;
gamma, beta (D,). Normalize every feature with the batch's mean and (biased) variance,
x_hat = (x - mean) / sqrt(var + eps), then return y = gamma * x_hat + beta, x's shape
and dtype.""",
        "zh": """训练模式下 BatchNorm1d 的前向传播。x (N, D)：N 个样本，每个 D 个特征；gamma、beta (D,)。
用这一批的均值和（有偏）方差规范化每个特征，x_hat = (x - mean) / sqrt(var + eps)，
再返回 y = gamma * x_hat + beta，形状与 dtype 同 x。"""},
    reference=reference_batchnorm_forward, cases=_cases_batchnorm_forward, outputs=("y",),
    slips=(
        Slip("unbiased_variance", {"en": "the unbiased variance (divided by N - 1): in training, BatchNorm "
                                         "normalizes with the biased variance, divided by N "
                                         "(np.var's default; torch.var's default is unbiased).",
                                   "zh": "用了无偏方差（除以 N - 1）：训练时 BatchNorm 用有偏方差规范化，除以 N"
                                         "（np.var 的默认值；torch.var 默认是无偏的）。"},
             variants=(_bn_unbiased,)),
        Slip("normalized_per_sample", {"en": "the wrong axis: you normalized each sample over its features "
                                             "(that is LayerNorm). BatchNorm normalizes each feature over "
                                             "the batch, axis 0.",
                                       "zh": "轴错了：你把每个样本在它的特征上规范化（那是 LayerNorm）。"
                                             "BatchNorm 把每个特征在整批上规范化，axis=0。"},
             variants=(_bn_per_sample,)),
        Slip("eps_outside_sqrt", {"en": "eps belongs inside the square root: sqrt(var + eps), not "
                                        "sqrt(var) + eps.",
                                  "zh": "eps 应在平方根里面：sqrt(var + eps)，而不是 sqrt(var) + eps。"},
             variants=(_bn_eps_outside,)),
        Slip("divided_by_variance", {"en": "divide by the standard deviation sqrt(var + eps), not by the "
                                           "variance.",
                                     "zh": "要除以标准差 sqrt(var + eps)，而不是方差。"},
             variants=(_bn_variance_not_sqrt,)),
        Slip("gamma_beta_missing", {"en": "the affine step is missing or swapped: y = gamma * x_hat + beta.",
                                    "zh": "缩放平移这一步漏了或者颠倒了：y = gamma * x_hat + beta。"},
             variants=(lambda x, gamma, beta, eps=1e-5: _bn(x, 1, 0, eps, x.mean(0), x.var(0)),
                       lambda x, gamma, beta, eps=1e-5: _bn(x, beta, gamma, eps, x.mean(0), x.var(0)))),
    ),
)


# -- dropout_forward --------------------------------------------------------------------------
def reference_dropout_forward(x, p, mask):
    return nn.Dropout(p)(x, mask=mask)  # a fresh layer is in training mode


def _p_one_not_finite(args, got, want):
    got = np.asarray(got, dtype=np.float64)
    return args["p"] == 1 and not np.isfinite(got).all()


def _cases_dropout_forward(rng):
    def case(shape, p, dtype=np.float64, note=None):
        x = rng.standard_normal(shape).astype(dtype)
        return Case({"x": x, "p": p, "mask": rng.random(shape) >= p}, note)
    return [
        case((4, 5), 0.3),
        case((1, 6), 0.5, note={"en": "a single sample", "zh": "只有一个样本"}),
        case((2, 3, 4, 4), 0.2, note={"en": "images (N, C, H, W)", "zh": "图像 (N, C, H, W)"}),
        case((8, 10), 0.25, dtype=np.float32, note=_F32),
        case((3, 4), 0.0, note={"en": "p = 0: nothing is dropped", "zh": "p = 0：什么都不丢"}),
        case((3, 4), 1.0, note={"en": "p = 1: everything is dropped", "zh": "p = 1：全部丢弃"}),
    ]


DROPOUT_FORWARD = Exercise(
    id="dropout_forward", chapter=CHAPTER,
    title={"en": "Inverted dropout with a given mask", "zh": "给定掩码的反向缩放（inverted）Dropout"},
    statement={
        "en": """Dropout's forward pass in training mode, "inverted" as in torch. x: any shape;
p: the probability of dropping a unit; mask: bool, x's shape, True = keep (drawn for
you). Zero the dropped units and scale the kept ones so that the expectation stays x.
For p = 1 every unit is dropped: return zeros. Keep x's dtype.""",
        "zh": """训练模式下 Dropout 的前向传播，与 torch 一样采用“反向缩放”（inverted）。x：任意形状；
p：丢弃一个单元的概率；mask：与 x 同形的布尔数组，True 表示保留（已经替你抽好）。
把丢弃的单元置零，并缩放保留的单元，使期望仍等于 x。p = 1 时全部丢弃：返回全零。
dtype 与 x 相同。"""},
    reference=reference_dropout_forward, cases=_cases_dropout_forward, outputs=("y",),
    slips=(
        Slip("divided_by_p", {"en": "p is the probability of dropping: the kept fraction is 1 - p, so the "
                                    "kept units are divided by 1 - p, not by p.",
                              "zh": "p 是丢弃的概率：保留的比例是 1 - p，所以保留的单元除以 1 - p，而不是除以 p。"},
             variants=(lambda x, p, mask: x * mask / p,)),
        Slip("no_rescaling", {"en": "the kept units are not rescaled: inverted dropout divides them by "
                                    "1 - p during training, so inference needs no change.",
                              "zh": "保留的单元没有缩放：inverted dropout 在训练时把它们除以 1 - p，推理时就无需改动。"},
             variants=(lambda x, p, mask: x * mask,)),
        Slip("scaled_the_wrong_way", {"en": "scaled the wrong way: multiplying by 1 - p shrinks the "
                                            "expectation; divide by 1 - p.",
                                      "zh": "缩放方向反了：乘以 1 - p 会缩小期望；应除以 1 - p。"},
             variants=(lambda x, p, mask: x * mask * (1 - p),)),
        Slip("mask_inverted", {"en": "the mask is inverted: True means keep.",
                               "zh": "掩码用反了：True 表示保留。"},
             variants=(lambda x, p, mask: x * ~mask / (1 - p),)),
        Slip("p_one_division", {"en": "for p = 1 every unit is dropped and 1 - p = 0: return zeros instead "
                                      "of dividing by 0.",
                                "zh": "p = 1 时所有单元都被丢弃，1 - p = 0：直接返回全零，不要除以 0。"},
             detect=_p_one_not_finite),
    ),
)


# -- sgd_momentum_step ------------------------------------------------------------------------
def reference_sgd_momentum_step(param, grad, buf, lr, momentum, dampening=0.0, weight_decay=0.0):
    p = nn.Parameter(np.array(param, copy=True))
    p.grad = np.array(grad, copy=True)
    sgd = optim.SGD([p], lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    if buf is not None:
        sgd.state[id(p)] = {"momentum_buffer": np.array(buf, copy=True)}
    sgd.step()
    return np.asarray(p).copy(), sgd.state[id(p)]["momentum_buffer"]


def _sgd(param, grad, buf, lr, momentum, dampening, weight_decay, *, damp_first=False,
         decay=True, decay_late=False, lr_in_buffer=False):
    """SGD with momentum and one of the slips switched on."""
    g = grad + weight_decay * param if decay and not decay_late else grad
    if lr_in_buffer:  # cs231n's velocity: v = mu v + lr g, p -= v
        g = lr * g
    if buf is None:
        new = (1 - dampening) * g if damp_first else g
    else:
        new = momentum * buf + (1 - dampening) * g
    step = new if lr_in_buffer else lr * new
    if decay_late:
        step = step + lr * weight_decay * param
    return param - step, new


def _cases_sgd_momentum_step(rng):
    def case(shape, first=False, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0,
             dtype=np.float64, note=None):
        param = rng.standard_normal(shape).astype(dtype)
        grad = rng.standard_normal(shape).astype(dtype)
        buf = None if first else rng.standard_normal(shape).astype(dtype)
        return Case({"param": param, "grad": grad, "buf": buf, "lr": lr, "momentum": momentum,
                     "dampening": dampening, "weight_decay": weight_decay}, note)
    first = {"en": "the first step: buf is None", "zh": "第一步：buf 为 None"}
    return [
        case((3, 4), lr=0.05),
        case((5,), first=True, note=first),
        case((2, 3, 3), weight_decay=0.01, note={"en": "weight decay", "zh": "权重衰减"}),
        case((4, 2), dampening=0.3, lr=0.2, momentum=0.8, note={"en": "dampening", "zh": "dampening"}),
        case((4, 3), first=True, dampening=0.5, weight_decay=0.1,
             note={"en": "the first step, with dampening and weight decay",
                   "zh": "第一步，带 dampening 和权重衰减"}),
        case((6, 3), lr=0.01, momentum=0.99, weight_decay=1e-3, dtype=np.float32, note=_F32),
    ]


SGD_MOMENTUM_STEP = Exercise(
    id="sgd_momentum_step", chapter=CHAPTER,
    title={"en": "One step of SGD with momentum (torch's rule)", "zh": "带动量的 SGD 的一步（torch 的规则）"},
    statement={
        "en": """One step of torch.optim.SGD with momentum for one parameter.
g = grad + weight_decay * param; the buffer becomes g on the first step (buf is None),
else momentum * buf + (1 - dampening) * g; then param - lr * buffer.
Return (new_param, new_buf), param's dtype; leave the inputs unchanged or not, as you like.""",
        "zh": """对一个参数做一步带动量的 torch.optim.SGD。
g = grad + weight_decay * param；第一步（buf 为 None）时缓冲区变为 g，
否则变为 momentum * buf + (1 - dampening) * g；然后参数变为 param - lr * 缓冲区。
返回 (new_param, new_buf)，dtype 与 param 相同；是否原地修改输入都可以。"""},
    reference=reference_sgd_momentum_step, cases=_cases_sgd_momentum_step, outputs=("param", "buf"),
    slips=(
        Slip("dampening_on_first_step", {"en": "torch's first step copies g into the buffer as it is, "
                                               "without (1 - dampening).",
                                         "zh": "torch 的第一步把 g 原样放进缓冲区，不乘 (1 - dampening)。"},
             variants=(lambda *a: _sgd(*a, damp_first=True),)),
        Slip("weight_decay_missing", {"en": "weight decay is missing: it adds weight_decay * param to the "
                                            "gradient before the momentum.",
                                      "zh": "漏了权重衰减：要在动量之前把 weight_decay * param 加到梯度上。"},
             variants=(lambda *a: _sgd(*a, decay=False),)),
        Slip("weight_decay_after_momentum", {"en": "weight decay goes into the gradient before the buffer "
                                                   "is updated, not into the step afterwards.",
                                             "zh": "权重衰减要在更新缓冲区之前加到梯度上，而不是之后加到步长上。"},
             variants=(lambda *a: _sgd(*a, decay_late=True),)),
        Slip("lr_in_buffer", {"en": "the learning rate is folded into the buffer (cs231n's velocity "
                                    "v = mu v - lr g): torch keeps lr out of the buffer, "
                                    "b = momentum b + (1 - dampening) g, then param -= lr b.",
                              "zh": "把学习率放进了缓冲区（cs231n 的速度 v = mu v - lr g）：torch 的缓冲区不含 lr，"
                                    "b = momentum b + (1 - dampening) g，然后 param -= lr b。"},
             variants=(lambda *a: _sgd(*a, lr_in_buffer=True),)),
    ),
)

EXERCISES = [BATCHNORM_FORWARD, DROPOUT_FORWARD, SGD_MOMENTUM_STEP]
