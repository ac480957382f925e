"""Chapter 4 (CNNs): convolution and max-pooling forward, output sizes, receptive fields."""

from __future__ import annotations

import numpy as np

from .. import cnn_shapes
from ..nn import functional as F
from ..receptive_field import receptive_fields
from .core import Case, Exercise, Slip

CHAPTER = 4
_SINGLE = {"en": "a single sample", "zh": "只有一个样本"}
_STRIDE_GT_KERNEL = {"en": "stride larger than the kernel", "zh": "步幅大于卷积核"}
_F32 = {"en": "float32", "zh": "float32"}


# -- conv2d_forward ---------------------------------------------------------------------------
def reference_conv2d_forward(x, weight, bias, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride, padding)


def _conv_windows_at_index(x, weight, bias, stride=1, padding=0):
    """Window (r, c) starts at (r, c) instead of (r * stride, c * stride)."""
    full = F.conv2d(x, weight, bias, 1, padding)
    h, w = F.conv2d(x, weight, bias, stride, padding).shape[2:]
    return full[:, :, :h, :w]


def _cases_conv2d_forward(rng):
    def case(x_shape, w_shape, stride, padding, dtype=np.float64, note=None):
        return Case({"x": rng.standard_normal(x_shape).astype(dtype),
                     "weight": rng.standard_normal(w_shape).astype(dtype),
                     "bias": rng.standard_normal(w_shape[0]).astype(dtype),
                     "stride": stride, "padding": padding}, note)
    return [
        case((2, 3, 7, 7), (4, 3, 3, 3), 1, 1),
        case((1, 1, 6, 6), (2, 1, 3, 3), 2, 0, note=_SINGLE),
        case((2, 2, 8, 6), (3, 2, 3, 3), 1, 0, note={"en": "a non-square image", "zh": "非正方形的图像"}),
        case((2, 3, 9, 9), (2, 3, 2, 2), 3, 0, note=_STRIDE_GT_KERNEL),
        case((2, 2, 5, 5), (3, 2, 1, 1), 2, 1, note={"en": "a 1x1 kernel, stride 2 with padding 1",
                                                     "zh": "1x1 卷积核，步幅 2，填充 1"}),
        case((3, 4, 6, 6), (5, 4, 3, 3), 2, 2),
        case((1, 2, 6, 7), (3, 2, 2, 3), 1, 1, note={"en": "a non-square kernel (2 x 3)",
                                                     "zh": "非正方形的卷积核（2 x 3）"}),
        case((2, 3, 8, 8), (4, 3, 3, 3), 2, 1, dtype=np.float32, note=_F32),
    ]


CONV2D_FORWARD = Exercise(
    id="conv2d_forward", chapter=CHAPTER,
    title={"en": "2-D convolution with stride and padding", "zh": "带步幅和填充的二维卷积"},
    statement={
        "en": """Forward pass of a convolution layer, as torch.nn.functional.conv2d computes it
(a cross-correlation: the kernel is not flipped). x (N, C, H, W); weight (F, C, kh, kw);
bias (F,); stride, padding: ints, the same for both axes (zero padding on every side).
Return y (N, F, H_out, W_out), H_out = (H + 2 padding - kh) // stride + 1, x's dtype.""",
        "zh": """卷积层的前向传播，与 torch.nn.functional.conv2d 的算法相同（互相关：卷积核不翻转）。
x (N, C, H, W)；weight (F, C, kh, kw)；bias (F,)；stride、padding：整数，两个方向相同
（四周填充 0）。返回 y (N, F, H_out, W_out)，H_out = (H + 2 padding - kh) // stride + 1，
dtype 与 x 相同。"""},
    reference=reference_conv2d_forward, cases=_cases_conv2d_forward, outputs=("y",),
    slips=(
        Slip("padding_off_by_one", {"en": "off-by-one padding: your output equals the convolution with one "
                                          "pixel more (or less) of padding than asked. Pad exactly "
                                          "`padding` zeros on each of the four sides.",
                                    "zh": "填充差了一：你的输出等于多（或少）填充一个像素的卷积。"
                                          "四周各补恰好 `padding` 个零。"},
             variants=(lambda x, weight, bias, stride=1, padding=0:
                       F.conv2d(x, weight, bias, stride, padding + 1),
                       lambda x, weight, bias, stride=1, padding=0:  # raises for padding 0
                       F.conv2d(x, weight, bias, stride, padding - 1))),
        Slip("output_size_off_by_one", {"en": "one output row and column short: "
                                              "H_out = (H + 2 padding - kh) // stride + 1 (mind the + 1).",
                                        "zh": "输出少了一行一列：H_out = (H + 2 padding - kh) // stride + 1（别忘了 + 1）。"},
             variants=(lambda x, weight, bias, stride=1, padding=0:
                       F.conv2d(x, weight, bias, stride, padding)[:, :, :-1, :-1],)),
        Slip("stride_ignored", {"en": "the stride is ignored: windows are `stride` pixels apart.",
                                "zh": "忽略了步幅：相邻窗口相隔 `stride` 个像素。"},
             variants=(lambda x, weight, bias, stride=1, padding=0: F.conv2d(x, weight, bias, 1, padding),)),
        Slip("window_start", {"en": "window (r, c) starts at row r * stride and column c * stride; "
                                    "yours start at (r, c).",
                              "zh": "窗口 (r, c) 从第 r * stride 行、第 c * stride 列开始；你的从 (r, c) 开始。"},
             variants=(_conv_windows_at_index,)),
        Slip("kernel_flipped", {"en": "the kernel is flipped (signal processing's convolution); deep "
                                      "learning's convolution is a cross-correlation: weight[f, c, i, j] "
                                      "multiplies the window's pixel (i, j).",
                                "zh": "卷积核被翻转了（信号处理中的卷积）；深度学习的卷积是互相关："
                                      "weight[f, c, i, j] 乘窗口中的像素 (i, j)。"},
             variants=(lambda x, weight, bias, stride=1, padding=0:
                       F.conv2d(x, np.ascontiguousarray(weight[:, :, ::-1, ::-1]), bias, stride, padding),)),
        Slip("kernel_transposed", {"en": "a transposed kernel: weight[f, c, i, j] belongs to row i and "
                                         "column j of the window, not column i and row j.",
                                   "zh": "卷积核转置了：weight[f, c, i, j] 对应窗口的第 i 行第 j 列，"
                                         "不是第 i 列第 j 行。"},
             variants=(lambda x, weight, bias, stride=1, padding=0:
                       F.conv2d(x, np.ascontiguousarray(weight.transpose(0, 1, 3, 2)), bias, stride,
                                padding),)),
        Slip("missing_bias", {"en": "the bias is missing: add bias[f] to every output of channel f.",
                              "zh": "漏了偏置：输出通道 f 的每个值都要加上 bias[f]。"},
             variants=(lambda x, weight, bias, stride=1, padding=0: F.conv2d(x, weight, None, stride, padding),)),
    ),
)


# -- max_pool2d_forward -----------------------------------------------------------------------
def reference_max_pool2d_forward(x, kernel_size=2, stride=2):
    return F.max_pool2d(x, kernel_size, stride)


def _pool_windows_at_index(x, kernel_size=2, stride=2):
    full = F.max_pool2d(x, kernel_size, 1)
    h, w = F.max_pool2d(x, kernel_size, stride).shape[2:]
    return full[:, :, :h, :w]


def _cases_max_pool2d_forward(rng):
    def case(shape, k, s, dtype=np.float64, negative=False, note=None):
        x = rng.standard_normal(shape)
        x = -np.abs(x) - 0.1 if negative else x
        return Case({"x": x.astype(dtype), "kernel_size": k, "stride": s}, note)
    return [
        case((2, 3, 6, 6), 2, 2),
        case((1, 2, 5, 5), 2, 2, note={"en": "a single sample; 5 is odd, so the last row and column "
                                             "belong to no window",
                                       "zh": "只有一个样本；5 是奇数，最后一行一列不属于任何窗口"}),
        case((2, 2, 7, 7), 3, 2, note={"en": "overlapping windows", "zh": "窗口互相重叠"}),
        case((2, 1, 8, 8), 2, 3, note=_STRIDE_GT_KERNEL),
        case((2, 2, 6, 5), 3, 1, note={"en": "a non-square image, stride 1", "zh": "非正方形的图像，步幅 1"}),
        case((2, 3, 6, 6), 2, 2, negative=True, note={"en": "every value negative", "zh": "所有值都是负数"}),
        case((2, 3, 8, 8), 2, 2, dtype=np.float32, note=_F32),
    ]


MAX_POOL2D_FORWARD = Exercise(
    id="max_pool2d_forward", chapter=CHAPTER,
    title={"en": "Max-pooling forward pass", "zh": "最大池化的前向传播"},
    statement={
        "en": """Max-pooling, as torch.nn.functional.max_pool2d(x, kernel_size, stride) without
padding. x (N, C, H, W); square windows of kernel_size, stride pixels apart, each channel
on its own. Return y (N, C, H_out, W_out), H_out = (H - kernel_size) // stride + 1,
x's dtype.""",
        "zh": """最大池化，与不带填充的 torch.nn.functional.max_pool2d(x, kernel_size, stride) 相同。
x (N, C, H, W)；边长为 kernel_size 的正方形窗口，相隔 stride 个像素，各通道分别计算。
返回 y (N, C, H_out, W_out)，H_out = (H - kernel_size) // stride + 1，dtype 与 x 相同。"""},
    reference=reference_max_pool2d_forward, cases=_cases_max_pool2d_forward, outputs=("y",),
    slips=(
        Slip("average_not_max", {"en": "that is average pooling: take each window's maximum.",
                                 "zh": "这是平均池化：要取每个窗口的最大值。"},
             variants=(lambda x, kernel_size=2, stride=2: F.avg_pool2d(x, kernel_size, stride),)),
        Slip("max_starts_at_zero", {"en": "the running maximum starts at 0, so a window of negative numbers "
                                          "gives 0: start from -inf (or the window's first value).",
                                    "zh": "最大值从 0 开始找，于是全是负数的窗口得到 0：应从 -inf"
                                          "（或窗口中的第一个值）开始。"},
             variants=(lambda x, kernel_size=2, stride=2: np.maximum(F.max_pool2d(x, kernel_size, stride), 0),)),
        Slip("stride_ignored", {"en": "the stride is ignored: windows are `stride` pixels apart.",
                                "zh": "忽略了步幅：相邻窗口相隔 `stride` 个像素。"},
             variants=(lambda x, kernel_size=2, stride=2: F.max_pool2d(x, kernel_size, 1),)),
        Slip("window_start", {"en": "window (r, c) starts at row r * stride and column c * stride; "
                                    "yours start at (r, c).",
                              "zh": "窗口 (r, c) 从第 r * stride 行、第 c * stride 列开始；你的从 (r, c) 开始。"},
             variants=(_pool_windows_at_index,)),
        Slip("partial_windows", {"en": "you kept partial windows at the border (rounded up); "
                                       "H_out = (H - kernel_size) // stride + 1 rounds down.",
                                 "zh": "你保留了边缘处不完整的窗口（向上取整）；"
                                       "H_out = (H - kernel_size) // stride + 1 是向下取整。"},
             variants=(lambda x, kernel_size=2, stride=2: F.max_pool2d(x, kernel_size, stride, ceil_mode=True),)),
        Slip("output_size_off_by_one", {"en": "one output row and column short: "
                                              "H_out = (H - kernel_size) // stride + 1 (mind the + 1).",
                                        "zh": "输出少了一行一列：H_out = (H - kernel_size) // stride + 1（别忘了 + 1）。"},
             variants=(lambda x, kernel_size=2, stride=2: F.max_pool2d(x, kernel_size, stride)[:, :, :-1, :-1],)),
    ),
)


# -- conv_output_size -------------------------------------------------------------------------
def reference_conv_output_size(size, kernel_size, stride=1, padding=0):
    return cnn_shapes.conv_output_size(size, kernel_size, stride, padding)


def _cases_conv_output_size(rng):
    fixed = [
        ((32, 3, 1, 1), {"en": "'same' padding", "zh": "保持尺寸的填充"}),
        ((7, 3, 2, 1), None),
        ((28, 5, 1, 0), None),
        ((224, 11, 4, 2), {"en": "AlexNet's first layer", "zh": "AlexNet 的第一层"}),
        ((5, 2, 2, 0), {"en": "a last partial window", "zh": "最后一个窗口不完整"}),
        ((6, 1, 3, 0), _STRIDE_GT_KERNEL),
        ((5, 5, 1, 0), {"en": "the kernel covers the whole input", "zh": "卷积核覆盖整个输入"}),
        ((1, 3, 1, 1), {"en": "a one-pixel input", "zh": "只有一个像素的输入"}),
    ]
    cases = [Case(dict(zip(("size", "kernel_size", "stride", "padding"), args)), note)
             for args, note in fixed]
    while len(cases) < 20:
        size, k, s, p = (int(v) for v in (rng.integers(1, 41), rng.integers(1, 8), rng.integers(1, 5),
                                          rng.integers(0, 4)))
        if k <= size + 2 * p:
            cases.append(Case({"size": size, "kernel_size": k, "stride": s, "padding": p}))
    return cases


CONV_OUTPUT_SIZE = Exercise(
    id="conv_output_size", chapter=CHAPTER,
    title={"en": "Output size of a convolution", "zh": "卷积的输出尺寸"},
    statement={
        "en": """How many windows fit along one axis: an input of `size` pixels, zero-padded by
`padding` on both ends, a kernel of `kernel_size`, windows `stride` apart.
Return the output size as an int.""",
        "zh": """沿一个轴能放下多少个窗口：输入有 `size` 个像素，两端各补 `padding` 个零，
卷积核长 `kernel_size`，相邻窗口相隔 `stride`。以整数返回输出尺寸。"""},
    reference=reference_conv_output_size, cases=_cases_conv_output_size, outputs=("output_size",),
    slips=(
        Slip("missing_plus_one", {"en": "off by one: the first window fits before any step, so add 1: "
                                        "(size + 2 padding - kernel_size) // stride + 1.",
                                  "zh": "差了一：第一个窗口不需要移动就已放下，所以要加 1："
                                        "(size + 2 padding - kernel_size) // stride + 1。"},
             variants=(lambda size, k, s=1, p=0: (size + 2 * p - k) // s,)),
        Slip("padding_counted_once", {"en": "the padding is added on both ends: size + 2 padding.",
                                      "zh": "两端都要填充 0：size + 2 padding。"},
             variants=(lambda size, k, s=1, p=0: (size + p - k) // s + 1,)),
        Slip("rounded_up", {"en": "rounded up: a window that does not fit completely is not computed, so "
                                  "round down (//).",
                            "zh": "向上取整了：放不完整的窗口不参与计算，所以要向下取整（//）。"},
             variants=(lambda size, k, s=1, p=0: -(-(size + 2 * p - k) // s) + 1,)),
        Slip("true_division", {"en": "true division gives a float: use floor division //, and return an int.",
                               "zh": "普通除法得到的是浮点数：用整除 //，返回整数。"},
             variants=(lambda size, k, s=1, p=0: (size + 2 * p - k) / s + 1,)),
    ),
)


# -- receptive_field_size ---------------------------------------------------------------------
def reference_receptive_field_size(layers):
    windows = [cnn_shapes.WindowGeometry((k, k), (s, s), ((0, 0), (0, 0))) for k, s in layers]
    return receptive_fields(windows)[-1].size[0]


def _rf_strides_ignored(layers):
    return 1 + sum(k - 1 for k, _ in layers)


def _rf_own_stride(layers):
    size, jump = 1, 1
    for k, s in layers:
        jump *= s
        size += (k - 1) * jump
    return size


def _rf_kernels_added(layers):
    size, jump = 1, 1
    for k, s in layers:
        size += k * jump
        jump *= s
    return size


def _cases_receptive_field_size(rng):
    fixed = [
        ([(3, 1)], {"en": "one 3 x 3 layer", "zh": "一个 3 x 3 层"}),
        ([(3, 1), (3, 1)], {"en": "two 3 x 3 layers", "zh": "两个 3 x 3 层"}),
        ([(3, 2), (3, 2)], None),
        ([(3, 1), (2, 2), (3, 1), (2, 2)], {"en": "conv, pool, conv, pool", "zh": "卷积、池化、卷积、池化"}),
        ([(1, 2), (3, 1)], _STRIDE_GT_KERNEL),
        ([], {"en": "no layer: a pixel sees itself", "zh": "没有层：一个像素只看到它自己"}),
        ([(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)],
         {"en": "AlexNet's convolutions and poolings", "zh": "AlexNet 的卷积层和池化层"}),
    ]
    cases = [Case({"layers": layers}, note) for layers, note in fixed]
    for _ in range(8):
        n = int(rng.integers(1, 6))
        cases.append(Case({"layers": [(int(rng.integers(1, 8)), int(rng.integers(1, 4))) for _ in range(n)]}))
    return cases


RECEPTIVE_FIELD_SIZE = Exercise(
    id="receptive_field_size", chapter=CHAPTER,
    title={"en": "Receptive field of a stack of layers", "zh": "一叠层的感受野"},
    statement={
        "en": """layers: a list of (kernel_size, stride) pairs, first layer first (convolutions or
poolings, square windows; padding does not change the size). Return how many input
pixels, along one axis, one unit of the last layer sees (an int; 1 for no layer).""",
        "zh": """layers：由 (kernel_size, stride) 组成的列表，第一层在前（卷积或池化，正方形窗口；
填充不影响大小）。返回最后一层的一个单元沿一个轴能看到多少个输入像素（整数；没有层时为 1）。"""},
    reference=reference_receptive_field_size, cases=_cases_receptive_field_size, outputs=("receptive_field",),
    slips=(
        Slip("strides_ignored", {"en": "the strides are ignored: a layer's kernel spreads over "
                                       "(kernel_size - 1) times the product of the strides of the layers "
                                       "before it.",
                                 "zh": "忽略了步幅：一层的卷积核在输入上跨过 (kernel_size - 1) 乘以"
                                       "它之前各层步幅之积。"},
             variants=(_rf_strides_ignored,)),
        Slip("own_stride_counted", {"en": "a layer's own stride is counted too: its kernel is spread by the "
                                          "strides of the layers before it only.",
                                    "zh": "把这一层自己的步幅也算进去了：它的卷积核只被之前各层的步幅拉开。"},
             variants=(_rf_own_stride,)),
        Slip("kernel_not_minus_one", {"en": "each layer adds (kernel_size - 1) times the jump, not "
                                            "kernel_size times: a 3-wide kernel widens the field by 2.",
                                      "zh": "每层增加的是 (kernel_size - 1) 乘以间距，不是 kernel_size 乘以间距："
                                            "宽 3 的卷积核让感受野变宽 2。"},
             variants=(_rf_kernels_added, lambda layers: _rf_kernels_added(layers) - 1)),
    ),
)

EXERCISES = [CONV2D_FORWARD, MAX_POOL2D_FORWARD, CONV_OUTPUT_SIZE, RECEPTIVE_FIELD_SIZE]
