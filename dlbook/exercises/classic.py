"""Chapter 5 (AlexNet, VGG, ResNet): stacked 3×3 layers, AlexNet's output sizes,
ResNet's zero-padding shortcut, the bins of adaptive average pooling."""

from __future__ import annotations

import numpy as np

from .. import cnn_shapes
from ..nn import functional as F
from ..receptive_field import receptive_fields
from .core import Case, Exercise, Slip

CHAPTER = 5
_SINGLE = {"en": "a single sample", "zh": "只有一个样本"}
_F32 = {"en": "float32", "zh": "float32"}


# -- stacked_conv_cost -----------------------------------------------------------------
def reference_stacked_conv_cost(n_layers, channels, kernel_size=3):
    layer = cnn_shapes.WindowGeometry((kernel_size, kernel_size), (1, 1),
                                      ((0, 0), (0, 0)))
    field = receptive_fields([layer] * n_layers)[-1].size[0]
    weights = cnn_shapes.conv2d_param_count(channels, channels, kernel_size, bias=False)
    return field, n_layers * weights


def _cases_stacked_conv_cost(rng):
    fixed = [
        ((3, 64, 3), {"en": "VGG: three 3 x 3 layers", "zh": "VGG：三个 3 x 3 层"}),
        ((1, 64, 7), {"en": "one 7 x 7 layer: the same field as three 3 x 3 layers",
                      "zh": "一个 7 x 7 层：与三个 3 x 3 层的感受野相同"}),
        ((2, 128, 3), {"en": "two 3 x 3 layers see as far as one 5 x 5",
                       "zh": "两个 3 x 3 层与一个 5 x 5 层看得一样远"}),
        ((1, 16, 3), {"en": "a single layer", "zh": "只有一层"}),
        ((4, 8, 1), {"en": "1 x 1 convolutions: the field stays one pixel",
                     "zh": "1 x 1 卷积：感受野始终是一个像素"}),
        ((5, 1, 3), {"en": "one channel", "zh": "只有一个通道"}),
        ((2, 32, 5), None),
        ((4, 512, 3), {"en": "VGG-16's fourth stage (after pooling: this is the field "
                             "within the stage)",
                       "zh": "VGG-16 的第四段（其后有池化：这是段内的感受野）"}),
    ]
    cases = [Case(dict(zip(("n_layers", "channels", "kernel_size"), args)), note)
             for args, note in fixed]
    for _ in range(8):
        cases.append(Case({"n_layers": int(rng.integers(1, 9)),
                           "channels": int(rng.integers(2, 65)),
                           "kernel_size": int(rng.choice([1, 2, 3, 5, 7]))}))
    return cases


def _stack_cost(field, weights):
    """A wrong count: ``field(n, k)`` and ``weights(n, c, k)`` stand in for the
    right ones."""
    def cost(n_layers, channels, kernel_size=3):
        return (field(n_layers, kernel_size), weights(n_layers, channels, kernel_size))
    return cost


def _right_field(n, k):
    return n * (k - 1) + 1


def _right_weights(n, c, k):
    return n * c * c * k * k


STACKED_CONV_COST = Exercise(
    id="stacked_conv_cost", chapter=CHAPTER,
    title={"en": "What a stack of small convolutions sees and costs",
           "zh": "一叠小卷积核的感受野与参数量"},
    statement={
        "en": """n_layers convolutions with kernel_size x kernel_size kernels, stacked
one after the other: stride 1, `channels` input and output channels each, no bias.
Return (receptive_field, params): how many input pixels, along one axis, one unit
of the last layer sees, and how many weights the stack has (ints). VGG's argument:
three 3 x 3 layers see 7 x 7 pixels with 27 C^2 weights, one 7 x 7 layer 49 C^2.""",
        "zh": """n_layers 个卷积层依次堆叠，卷积核为 kernel_size x kernel_size：步幅 1，
每层的输入、输出通道数都是 `channels`，没有偏置。返回 (receptive_field, params)：
最后一层的一个单元沿一个轴能看到多少个输入像素（感受野），以及这叠层共有多少个权重
（均为整数）。VGG 的论证：三个 3 x 3 层的感受野是 7 x 7，只用 27 C^2 个权重，
一个 7 x 7 层则要 49 C^2 个。"""},
    reference=reference_stacked_conv_cost, cases=_cases_stacked_conv_cost,
    outputs=("receptive_field", "params"),
    slips=(
        Slip("field_n_times_k", {
            "en": "the receptive field is not n_layers * kernel_size: the windows of "
                  "neighbouring layers overlap, so each layer widens the field by "
                  "kernel_size - 1 only: n_layers * (kernel_size - 1) + 1 (three "
                  "3 x 3 layers see 7 pixels, not 9).",
            "zh": "感受野不是 n_layers * kernel_size：相邻层的窗口互相重叠，每一层只让"
                  "感受野变宽 kernel_size - 1：n_layers * (kernel_size - 1) + 1"
                  "（三个 3 x 3 层看到 7 个像素，不是 9 个）。"},
            variants=(_stack_cost(lambda n, k: n * k, _right_weights),)),
        Slip("field_missing_plus_one", {
            "en": "the receptive field is one short: with no layer a unit already "
                  "sees its own pixel, so start from 1: "
                  "n_layers * (kernel_size - 1) + 1.",
            "zh": "感受野少了一：没有层时一个单元已经看到它自己那个像素，所以要从 1 "
                  "开始：n_layers * (kernel_size - 1) + 1。"},
            variants=(_stack_cost(lambda n, k: n * (k - 1), _right_weights),)),
        Slip("weights_c_not_c_squared", {
            "en": "each of the kernel_size^2 taps of a kernel has one weight per "
                  "input channel, and each output channel has its own kernel: "
                  "channels^2 * kernel_size^2 weights per layer, not "
                  "channels * kernel_size^2.",
            "zh": "卷积核的 kernel_size^2 个位置上，每个输入通道各有一个权重，而每个"
                  "输出通道又有自己的卷积核：每层 channels^2 * kernel_size^2 个权重，"
                  "不是 channels * kernel_size^2。"},
            variants=(_stack_cost(_right_field, lambda n, c, k: n * c * k * k),)),
        Slip("kernel_not_squared", {
            "en": "a kernel is kernel_size x kernel_size: kernel_size^2 taps, so "
                  "channels^2 * kernel_size^2 weights per layer.",
            "zh": "卷积核是 kernel_size x kernel_size 的：有 kernel_size^2 个位置，"
                  "所以每层有 channels^2 * kernel_size^2 个权重。"},
            variants=(_stack_cost(_right_field, lambda n, c, k: n * c * c * k),)),
        Slip("bias_counted", {
            "en": "the layers have no bias: count the weights only, "
                  "n_layers * channels^2 * kernel_size^2.",
            "zh": "这些层没有偏置：只数权重，n_layers * channels^2 * kernel_size^2。"},
            variants=(_stack_cost(_right_field,
                                  lambda n, c, k: n * (c * c * k * k + c)),)),
        Slip("one_layer_weights", {
            "en": "that is the weights of one layer: the stack has n_layers of them.",
            "zh": "这是一层的权重数：这叠层共有 n_layers 层。"},
            variants=(_stack_cost(_right_field, lambda n, c, k: c * c * k * k),)),
    ),
)


# -- alexnet_conv_output_size ----------------------------------------------------------
def reference_alexnet_conv_output_size(size, kernel_size, stride, padding=0):
    windows = cnn_shapes.conv_output_size(size, kernel_size, stride, padding)
    # the pixels left over after the last whole window: 0 when the windows fit exactly
    left_over = size + 2 * padding - kernel_size - (windows - 1) * stride
    return windows + left_over / stride, left_over == 0


def _cases_alexnet_conv_output_size(rng):
    fixed = [
        ((224, 11, 4, 0), {"en": "AlexNet's first layer on the paper's 224 x 224",
                           "zh": "论文中 224 x 224 输入上的 AlexNet 第一层"}),
        ((227, 11, 4, 0), {"en": "the 227 x 227 that makes it fit",
                           "zh": "能放得下的 227 x 227"}),
        ((224, 11, 4, 2), {"en": "torchvision's AlexNet: padding 2",
                           "zh": "torchvision 的 AlexNet：填充 2"}),
        ((55, 3, 2, 0), {"en": "AlexNet's overlapping 3 x 3 pooling, stride 2",
                         "zh": "AlexNet 的重叠池化：3 x 3，步幅 2"}),
        ((27, 5, 1, 2), {"en": "AlexNet's second layer: 5 x 5, padding 2",
                         "zh": "AlexNet 的第二层：5 x 5，填充 2"}),
        ((224, 3, 1, 1), {"en": "VGG: 3 x 3, padding 1 keeps the size",
                          "zh": "VGG：3 x 3、填充 1，尺寸不变"}),
        ((224, 7, 2, 3), {"en": "ResNet's 7 x 7 stem, stride 2",
                          "zh": "ResNet 的 7 x 7 起始层，步幅 2"}),
        ((112, 3, 2, 1), {"en": "ResNet's 3 x 3 max-pooling, stride 2",
                          "zh": "ResNet 的 3 x 3 最大池化，步幅 2"}),
        ((6, 1, 3, 0), {"en": "stride larger than the kernel", "zh": "步幅大于卷积核"}),
        ((5, 5, 1, 0), {"en": "the kernel covers the whole input",
                        "zh": "卷积核覆盖整个输入"}),
    ]
    names = ("size", "kernel_size", "stride", "padding")
    cases = [Case(dict(zip(names, args)), note) for args, note in fixed]
    while len(cases) < 20:
        size, k, s, p = (int(v) for v in (rng.integers(1, 260), rng.integers(1, 12),
                                          rng.integers(1, 6), rng.integers(0, 4)))
        if k <= size + 2 * p:
            cases.append(Case(dict(zip(names, (size, k, s, p)))))
    return cases


def _exact(size, k, s, p):
    return (size + 2 * p - k) / s + 1


def _whole(size, k, s, p):
    return (size + 2 * p - k) % s == 0


def _rounded(rounding, as_int, whole):
    """The value rounded before it is reported; ``whole``: the is_whole reported."""
    def wrong(size, kernel_size, stride, padding=0):
        value = rounding(size + 2 * padding - kernel_size, stride) + 1
        return (value if as_int else float(value),
                whole(size, kernel_size, stride, padding))
    return wrong


_ROUNDINGS = (lambda a, b: a // b, lambda a, b: -(-a // b), lambda a, b: round(a / b))
_ALWAYS_TRUE = lambda *_: True  # noqa: E731 - the value is whole once it is rounded

ALEXNET_CONV_OUTPUT_SIZE = Exercise(
    id="alexnet_conv_output_size", chapter=CHAPTER,
    title={"en": "AlexNet's 224 or 227: does the kernel fit exactly?",
           "zh": "AlexNet 的 224 还是 227：卷积核是否恰好放得下？"},
    statement={
        "en": """The output-size formula without the rounding: for an input of `size`
pixels, zero-padded by `padding` on both ends, a kernel of `kernel_size` and stride
`stride`, return (value, is_whole): the float
value = (size + 2 padding - kernel_size) / stride + 1, exactly (do not round it), and
is_whole, a bool: whether value is an integer, i.e. whether the windows cover the
padded input exactly. AlexNet's first layer (11 x 11, stride 4) gives 54.25 on a
224 x 224 image and 55.0 on 227 x 227.""",
        "zh": """不取整的输出尺寸公式：输入有 `size` 个像素，两端各填充 `padding` 个零，
卷积核长 `kernel_size`，步幅为 `stride`。返回 (value, is_whole)：
value = (size + 2 padding - kernel_size) / stride + 1，以浮点数精确给出（不要取整）；
is_whole 为布尔值：value 是否为整数，即窗口是否恰好铺满填充后的输入。
AlexNet 的第一层（11 x 11，步幅 4）在 224 x 224 的图像上得到 54.25，
在 227 x 227 上得到 55.0。"""},
    reference=reference_alexnet_conv_output_size,
    cases=_cases_alexnet_conv_output_size, outputs=("value", "is_whole"),
    slips=(
        Slip("missing_plus_one", {
            "en": "off by one: the first window fits before any step, so add 1: "
                  "(size + 2 padding - kernel_size) / stride + 1.",
            "zh": "差了一：第一个窗口不需要移动就已放下，所以要加 1："
                  "(size + 2 padding - kernel_size) / stride + 1。"},
            variants=(lambda size, k, s, p=0: (_exact(size, k, s, p) - 1,
                                               _whole(size, k, s, p)),)),
        Slip("floored", {
            "en": "you rounded to a whole number (//, int() or round()) before "
                  "reporting: report the exact quotient, with true division /. The "
                  "fraction is the point: 54.25 means the windows do not cover the "
                  "input exactly, and a framework's // silently drops the pixels "
                  "left over.",
            "zh": "你在给出结果之前把它取整了（//、int() 或 round()）：要用普通除法 / "
                  "给出精确的商。小数部分正是要点：54.25 说明窗口没有恰好铺满输入，"
                  "框架的 // 会悄悄丢掉剩下的像素。"},
            variants=tuple(_rounded(r, as_int, whole) for r in _ROUNDINGS
                           for as_int in (False, True)
                           for whole in (_ALWAYS_TRUE, _whole))),
        Slip("padding_counted_once", {
            "en": "the padding is added on both ends: size + 2 padding.",
            "zh": "两端都要填充 0：size + 2 padding。"},
            variants=(lambda size, k, s, p=0: (_exact(size, k, s, p) - p / s,
                                               _whole(size - p, k, s, p)),)),
        Slip("is_whole_wrong", {
            "en": "is_whole does not follow the value: it is True exactly when "
                  "size + 2 padding - kernel_size is a multiple of stride "
                  "(value.is_integer()); isinstance(value, int) is False for every "
                  "float.",
            "zh": "is_whole 与 value 不符：当且仅当 size + 2 padding - kernel_size 是 "
                  "stride 的整数倍时它才为 True（value.is_integer()）；对任何浮点数，"
                  "isinstance(value, int) 都是 False。"},
            variants=(lambda size, k, s, p=0: (_exact(size, k, s, p), False),
                      lambda size, k, s, p=0: (_exact(size, k, s, p), True))),
    ),
)


# -- zero_pad_shortcut -----------------------------------------------------------------
def reference_zero_pad_shortcut(x, out_channels, stride):
    # the library keeps exercises below the models (tests/test_layout.py); the tests check
    # this reference against dlbook.models.resnet.ZeroPadShortcut on every case
    if out_channels < x.shape[1]:
        raise ValueError(f"out_channels must be >= the {x.shape[1]} input channels, "
                         f"got {out_channels}")
    kept = x[:, :, ::stride, ::stride]
    y = np.zeros((kept.shape[0], out_channels) + kept.shape[2:], dtype=x.dtype)
    y[:, :kept.shape[1]] = kept
    return y


def _cases_zero_pad_shortcut(rng):
    def case(shape, out_channels, stride, dtype=np.float64, note=None):
        return Case({"x": rng.standard_normal(shape).astype(dtype),
                     "out_channels": out_channels, "stride": stride}, note)
    return [
        case((2, 4, 6, 6), 8, 2),
        case((1, 3, 5, 5), 6, 2, note={
            "en": "a single sample; 5 is odd, so rows 0, 2 and 4 are kept",
            "zh": "只有一个样本；5 是奇数，保留第 0、2、4 行"}),
        case((2, 16, 8, 8), 32, 2, note={"en": "CIFAR ResNet: 16 -> 32 channels",
                                         "zh": "CIFAR 上的 ResNet：16 -> 32 个通道"}),
        case((2, 4, 6, 6), 4, 2, note={"en": "no new channels: subsampling only",
                                       "zh": "没有新通道：只降采样"}),
        case((2, 3, 5, 4), 7, 1, note={
            "en": "stride 1: new channels only; a non-square image",
            "zh": "步幅 1：只补新通道；非正方形的图像"}),
        case((2, 2, 9, 9), 5, 3, note={"en": "stride 3", "zh": "步幅 3"}),
        case((3, 5, 7, 6), 10, 2),
        case((2, 4, 8, 8), 8, 2, dtype=np.float32, note=_F32),
    ]


def _pad_channels_after(kept, out_channels):
    n, c, h, w = kept.shape
    y = np.zeros((n, out_channels, h, w), kept.dtype)
    y[:, :c] = kept
    return y


def _zeros_first(x, out_channels, stride):
    kept = x[:, :, ::stride, ::stride]
    y = np.zeros((kept.shape[0], out_channels, *kept.shape[2:]), x.dtype)
    y[:, out_channels - x.shape[1]:] = kept
    return y


def _zeros_split(before):
    def wrong(x, out_channels, stride):
        new = out_channels - x.shape[1]
        pad = before(new)
        return np.pad(x[:, :, ::stride, ::stride],
                      ((0, 0), (pad, new - pad), (0, 0), (0, 0)))
    return wrong


def _averaged(ceil_mode):
    def wrong(x, out_channels, stride):
        kept = F.avg_pool2d(x, stride, stride, ceil_mode=ceil_mode)
        return _pad_channels_after(kept, out_channels)
    return wrong


def _subsampled_from(offset):
    def wrong(x, out_channels, stride):
        start = offset(stride)
        kept = x[:, :, start::stride, start::stride]
        return _pad_channels_after(kept, out_channels)
    return wrong


ZERO_PAD_SHORTCUT = Exercise(
    id="zero_pad_shortcut", chapter=CHAPTER,
    title={"en": "ResNet's zero-padding shortcut (option A)",
           "zh": "ResNet 的补零捷径（选项 A）"},
    statement={
        "en": """The shortcut of a residual block whose output is smaller and wider than
its input, without parameters (option A of the ResNet paper). x (N, C, H, W): keep
every stride-th row and column, starting at 0 (x[:, :, ::stride, ::stride]), then pad
the channel axis with zeros up to out_channels: output channel c is input channel c
for c < C, the channels C .. out_channels - 1 are zero. Return
y (N, out_channels, ceil(H / stride), ceil(W / stride)), x's dtype.
Raise ValueError if out_channels < C.""",
        "zh": """残差块的输出比输入更小、通道更多时的捷径（shortcut），不含参数（ResNet 论文的
选项 A）。x (N, C, H, W)：从 0 开始每隔 stride 取一行一列（x[:, :, ::stride, ::stride]），
再在通道轴上补零，补到 out_channels 个通道：c < C 时输出通道 c 就是输入通道 c，
通道 C .. out_channels - 1 全为零。返回 y (N, out_channels, ceil(H / stride),
ceil(W / stride))，dtype 与 x 相同。out_channels < C 时抛出 ValueError。"""},
    reference=reference_zero_pad_shortcut, cases=_cases_zero_pad_shortcut,
    outputs=("y",),
    slips=(
        Slip("zeros_before", {
            "en": "the zeros come first: they go after the existing channels, so "
                  "output channel c is input channel c for c < C, and the channels "
                  "C .. out_channels - 1 are zero (as in "
                  "dlbook.models.resnet.ZeroPadShortcut).",
            "zh": "你把零补在了前面：零应补在原有通道之后，c < C 时输出通道 c 就是"
                  "输入通道 c，通道 C .. out_channels - 1 为零"
                  "（与 dlbook.models.resnet.ZeroPadShortcut 相同）。"},
            variants=(_zeros_first,)),
        Slip("zeros_split", {
            "en": "the zeros are split before and after the channels (as torch's "
                  "F.pad(x, (0, 0, 0, 0, p, p)) does): here all of them go after the "
                  "last channel of x, channels C .. out_channels - 1.",
            "zh": "你把零分在了通道的前后两边（torch 的 F.pad(x, (0, 0, 0, 0, p, p)) "
                  "就是这样）：这里零都补在 x 的最后一个通道之后，即通道 "
                  "C .. out_channels - 1。"},
            variants=(_zeros_split(lambda new: new // 2),
                      _zeros_split(lambda new: new - new // 2))),
        Slip("averaged", {
            "en": "that averages each stride x stride block (average pooling): "
                  "option A keeps one pixel of each, x[:, :, ::stride, ::stride], "
                  "and mixes nothing.",
            "zh": "这是对每个 stride x stride 的块求平均（平均池化）：选项 A 只保留"
                  "每块中的一个像素 x[:, :, ::stride, ::stride]，不做任何混合。"},
            variants=(_averaged(False), _averaged(True))),
        Slip("subsampled_late", {
            "en": "the kept rows and columns start at 0: x[:, :, ::stride, ::stride] "
                  "keeps 0, stride, 2 stride, ...; yours start later.",
            "zh": "保留的行和列从 0 开始：x[:, :, ::stride, ::stride] 保留第 0、"
                  "stride、2 stride……行；你的开始得晚了。"},
            variants=(_subsampled_from(lambda s: 1),
                      _subsampled_from(lambda s: s - 1))),
        Slip("stride_ignored", {
            "en": "the stride is ignored: the shortcut must shrink the height and "
                  "width as the block's strided convolution does, "
                  "x[:, :, ::stride, ::stride].",
            "zh": "忽略了步幅：捷径要像残差块中带步幅的卷积一样缩小高和宽，"
                  "x[:, :, ::stride, ::stride]。"},
            variants=(lambda x, out_channels, stride:
                      _pad_channels_after(x, out_channels),)),
        Slip("channels_not_padded", {
            "en": "the channels are not padded: y has out_channels channels, the "
                  "last out_channels - C of them zero.",
            "zh": "通道没有补零：y 有 out_channels 个通道，最后 out_channels - C "
                  "个为零。"},
            variants=(lambda x, out_channels, stride: x[:, :, ::stride, ::stride],)),
    ),
)


# -- adaptive_avg_pool_bins ------------------------------------------------------------
def reference_adaptive_avg_pool_bins(in_size, out_size):
    return F.adaptive_pool_bins(in_size, out_size)


def _cases_adaptive_avg_pool_bins(rng):
    fixed = [
        ((10, 4), None),
        ((6, 3), {"en": "out_size divides in_size: plain windows of 2",
                  "zh": "out_size 整除 in_size：大小为 2 的普通窗口"}),
        ((7, 6), {"en": "torchvision's AlexNet on a 256 x 256 image: 7 -> 6, "
                        "the bins overlap",
                  "zh": "torchvision 的 AlexNet 在 256 x 256 图像上：7 -> 6，"
                        "各区间互相重叠"}),
        ((7, 1), {"en": "global average pooling: one bin",
                  "zh": "全局平均池化：只有一个区间"}),
        ((5, 5), {"en": "the same size: one pixel per bin",
                  "zh": "尺寸相同：每个区间一个像素"}),
        ((3, 5), {"en": "more outputs than inputs", "zh": "输出比输入多"}),
        ((13, 6), None),
        ((1, 3), {"en": "a one-pixel input", "zh": "只有一个像素的输入"}),
    ]
    cases = [Case({"in_size": i, "out_size": o}, note) for (i, o), note in fixed]
    for _ in range(10):
        cases.append(Case({"in_size": int(rng.integers(1, 41)),
                           "out_size": int(rng.integers(1, 13))}))
    return cases


def _bins_end_floored(in_size, out_size):
    return [(i * in_size // out_size, (i + 1) * in_size // out_size)
            for i in range(out_size)]


def _bins_equal_width(in_size, out_size):
    width = in_size // out_size
    return [(i * width, (i + 1) * width) for i in range(out_size)]


def _bins_fixed_window(in_size, out_size):
    stride = in_size // out_size
    kernel = in_size - (out_size - 1) * stride
    return [(i * stride, i * stride + kernel) for i in range(out_size)]


def _bins_end_inclusive(in_size, out_size):
    bins = F.adaptive_pool_bins(in_size, out_size)
    return [(start, end - 1) for start, end in bins]


ADAPTIVE_AVG_POOL_BINS = Exercise(
    id="adaptive_avg_pool_bins", chapter=CHAPTER,
    title={"en": "The bins of adaptive average pooling",
           "zh": "自适应平均池化的区间"},
    statement={
        "en": """Adaptive average pooling (torch's AdaptiveAvgPool2d, as in
torchvision's AlexNet, VGG and ResNet) chooses the output size and derives the windows
from it. Along one axis, from in_size pixels to out_size outputs, output i averages
the pixels start_i <= j < end_i, with start_i = floor(i * in_size / out_size) and
end_i = ceil((i + 1) * in_size / out_size). Return the list of (start_i, end_i)
pairs (ints, end excluded), i = 0 .. out_size - 1.""",
        "zh": """自适应平均池化（torch 的 AdaptiveAvgPool2d，torchvision 的 AlexNet、
VGG 和 ResNet 都用它）先选定输出尺寸，再由它推出池化窗口。沿一个轴从 in_size 个像素得到
out_size 个输出，输出 i 对像素 start_i <= j < end_i 求平均，其中
start_i = floor(i * in_size / out_size)，end_i = ceil((i + 1) * in_size / out_size)。
返回由 (start_i, end_i) 组成的列表（整数，不含 end），i = 0 .. out_size - 1。"""},
    reference=reference_adaptive_avg_pool_bins,
    cases=_cases_adaptive_avg_pool_bins, outputs=("bins",),
    slips=(
        Slip("end_floored", {
            "en": "the end of a bin rounds up: end_i = ceil((i + 1) * in_size / "
                  "out_size). Rounded down, a bin misses the pixel it covers only in "
                  "part; in torch that pixel belongs to both neighbouring bins.",
            "zh": "区间的终点要向上取整：end_i = ceil((i + 1) * in_size / out_size)。"
                  "向下取整会漏掉只被部分覆盖的那个像素；在 torch 中这个像素同时属于"
                  "相邻的两个区间。"},
            variants=(_bins_end_floored,)),
        Slip("equal_width", {
            "en": "bins of equal width in_size // out_size drop the remainder: the "
                  "last pixels fall into no bin. Use start_i = floor(i * in_size / "
                  "out_size) and end_i = ceil((i + 1) * in_size / out_size).",
            "zh": "宽度都取 in_size // out_size 的区间丢掉了余数：最后几个像素不属于"
                  "任何区间。应取 start_i = floor(i * in_size / out_size)，"
                  "end_i = ceil((i + 1) * in_size / out_size)。"},
            variants=(_bins_equal_width,)),
        Slip("fixed_window", {
            "en": "that is a fixed window (stride in_size // out_size, kernel "
                  "in_size - (out_size - 1) * stride), exact only when out_size "
                  "divides in_size; torch's bins differ in size: "
                  "start_i = floor(i * in_size / out_size), "
                  "end_i = ceil((i + 1) * in_size / out_size).",
            "zh": "这是固定窗口（步幅 in_size // out_size，池化窗口 in_size - "
                  "(out_size - 1) * stride），只有 out_size 整除 in_size 时才对；"
                  "torch 的各区间大小不一：start_i = floor(i * in_size / out_size)，"
                  "end_i = ceil((i + 1) * in_size / out_size)。"},
            variants=(_bins_fixed_window,)),
        Slip("end_inclusive", {
            "en": "the end is excluded, as in a slice: bin i is x[start_i:end_i], "
                  "so end_i = ceil((i + 1) * in_size / out_size), not one less.",
            "zh": "终点不包含在内，与切片相同：区间 i 是 x[start_i:end_i]，所以 "
                  "end_i = ceil((i + 1) * in_size / out_size)，不是再减一。"},
            variants=(_bins_end_inclusive,)),
    ),
)

EXERCISES = [STACKED_CONV_COST, ALEXNET_CONV_OUTPUT_SIZE, ZERO_PAD_SHORTCUT,
             ADAPTIVE_AVG_POOL_BINS]
