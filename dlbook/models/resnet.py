"""ResNet (He et al. 2016): residual blocks and networks, in torch and in NumPy.

A residual block computes ``y = F(x) + shortcut(x)``: the layers learn only the change
F, and the shortcut carries x (and, in the backward pass, the gradient) past them.

* Blocks: ``BasicBlock`` (two 3×3 convolutions) and ``Bottleneck`` (1×1 → 3×3 → 1×1, the
  3×3 at a quarter of the output width); their pre-activation versions (He et al. 2016,
  "Identity Mappings in Deep Residual Networks": BN → ReLU → conv, nothing after the
  addition) are ``PreActBasicBlock`` and ``PreActBottleneck``.
* Shortcuts, the paper's options: ``"A"`` an identity that, where the shape changes,
  subsamples by the stride and pads the new channels with zeros
  (:class:`ZeroPadShortcut`, no parameters); ``"B"`` a projection (1×1 convolution with
  the block's stride, then BatchNorm) where the shape changes, identity elsewhere;
  ``"C"`` projections everywhere.
* Networks: :class:`ResNet` stacks stages of blocks. :func:`imagenet_resnet` builds
  the ImageNet depths 18/34/50/101/152, :func:`cifar_resnet` the 6n+2-layer networks of
  the paper's section 4.2 (3×3 stem, stages of 16-32-64 channels, option A).
* Plain networks: ``plain=True`` (blocks, :class:`ResNet` and the builders) keeps every
  layer and drops the addition, ``y = F(x)``: the paper's plain baselines, which
  degrade with depth where the residual networks do not. With option A the two have
  exactly the same parameters.

Every class exists twice with the same constructor arguments, children and parameter
names (torchvision's: ``conv1``, ``bn1``, ``layer1.0.downsample.0.weight``, ``fc``): the
NumPy one (``BasicBlock``, ``ResNet``, ...) under the :mod:`dlbook.nn` contract, and its
torch twin (``BasicBlockTorch``, ``ResNetTorch``, ...). The pairs are registered with
:func:`dlbook.nn.bridge.register_twin`, so ``nn.to_torch(block)``,
``nn.from_torch(module)`` and :func:`dlbook.check.against_torch` work on them.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import nn
from ..devices import resolve_device
from ..nn import init as nninit
from ..nn.bridge import register_twin
from ..nn.module import as_generator

#: the paper's shortcut options (section 3.3 and Table 3)
SHORTCUTS = {
    "A": "zero-padding identity where the shape changes (no parameters)",
    "B": "projection (1×1 conv + BN) where the shape changes, identity elsewhere",
    "C": "projection in every block"}
#: where a downsampling bottleneck puts its stride 2: on the 3×3 (torchvision, "v1.5")
#: or on the first 1×1 (the paper, "v1"); basic blocks always put it on their first 3×3
STRIDE_ON = ("3x3", "1x1")
#: ImageNet depths: block kind and blocks per stage (the paper's Table 1)
DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
          50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3)),
          152: ("bottleneck", (3, 8, 36, 3))}
STEMS = ("imagenet", "cifar")
EXPANSION = {"basic": 1, "bottleneck": 4}


# -- the design rules, shared by both twins -------------------------------------------
def _positive_int(who: str, name: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    return int(value)


def shortcut_kind(in_channels: int, out_channels: int, stride: int,
                  shortcut: str = "B") -> str | None:
    """A block's shortcut: None (identity), ``"projection"`` or ``"zero_pad"``."""
    if shortcut not in SHORTCUTS:
        raise ValueError(f"unknown shortcut option {shortcut!r}: expected 'A' "
                         f"(zero-padding identity), 'B' (projection where the shape "
                         f"changes) or 'C' (projection everywhere)")
    if shortcut == "C":
        return "projection"
    if stride == 1 and in_channels == out_channels:
        return None
    if shortcut == "B":
        return "projection"
    if out_channels < in_channels:
        raise ValueError(f"shortcut 'A' pads channels with zeros, so it needs "
                         f"out_channels >= in_channels, got {in_channels} -> "
                         f"{out_channels}")
    return "zero_pad"


def _block_args(who: str, in_channels, out_channels, stride, shortcut, expansion: int,
                plain: bool = False):
    """The checked arguments and the shortcut kind (None, always, for a plain block)."""
    if not isinstance(plain, (bool, np.bool_)):
        raise ValueError(f"{who}: plain must be True or False, got {plain!r}")
    in_channels = _positive_int(who, "in_channels", in_channels)
    out_channels = _positive_int(who, "out_channels", out_channels)
    stride = _positive_int(who, "stride", stride)
    if out_channels % expansion:
        raise ValueError(f"{who}: out_channels must be a multiple of {expansion} "
                         f"(the inner width is out_channels/{expansion}), got "
                         f"{out_channels}")
    if plain:  # no addition, so no shortcut to build; the option is still checked
        shortcut_kind(1, 1, 1, shortcut)
        return in_channels, out_channels, stride, None
    return in_channels, out_channels, stride, shortcut_kind(in_channels, out_channels,
                                                             stride, shortcut)


def _check_stride_on(who: str, stride_on: str) -> None:
    if stride_on not in STRIDE_ON:
        raise ValueError(f"{who}: stride_on must be '3x3' (torchvision, v1.5) or '1x1' "
                         f"(the paper, v1), got {stride_on!r}")


def _block_input(block, x) -> None:
    """Raise unless x is a batch of images with the block's input channels."""
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 4 or shape[1] != block.in_channels:
        name = type(block).__name__.removesuffix("Torch")
        raise ValueError(f"{name}({block.in_channels} -> {block.out_channels}, stride "
                         f"{block.stride}) expects input of shape "
                         f"(N, {block.in_channels}, H, W), got {shape}")


def stage_plan(layers, widths, expansion: int, stem_width: int) -> list[list[tuple]]:
    """(in_channels, out_channels, stride) of every block, stage by stage.

    Stage i has ``layers[i]`` blocks of output width ``widths[i] * expansion``. Every
    stage after the first starts with a stride-2 block: the map is halved by a
    convolution, not by pooling, while (with the default widths) the channels double.
    """
    plan, cin = [], stem_width
    for i, (count, width) in enumerate(zip(layers, widths)):
        cout = width * expansion
        plan.append([(cin if j == 0 else cout, cout, 2 if i > 0 and j == 0 else 1)
                     for j in range(count)])
        cin = cout
    return plan


def _check_network(block, layers, widths, stem, shortcut, stride_on, in_channels,
                   num_classes, plain=False) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if block not in EXPANSION:
        raise ValueError(f"ResNet: block must be 'basic' or 'bottleneck', got "
                         f"{block!r}")
    layers, widths = tuple(layers), tuple(widths)
    for name, values in (("layers", layers), ("widths", widths)):
        if not values:
            raise ValueError(f"ResNet: {name} must hold at least one stage, got "
                             f"{values}")
        for v in values:
            _positive_int("ResNet", name, v)
    if len(layers) != len(widths):
        raise ValueError(f"ResNet: one width per stage expected, got layers {layers} "
                         f"and widths {widths}")
    if stem not in STEMS:
        raise ValueError(f"ResNet: stem must be 'imagenet' (7×7 stride 2 + 3×3 "
                         f"max-pool) or 'cifar' (3×3 stride 1), got {stem!r}")
    shortcut_kind(1, 1, 1, shortcut)  # validates the option
    if not isinstance(plain, (bool, np.bool_)):
        raise ValueError(f"ResNet: plain must be True or False, got {plain!r}")
    _check_stride_on("ResNet", stride_on)
    _positive_int("ResNet", "in_channels", in_channels)
    _positive_int("ResNet", "num_classes", num_classes)
    return tuple(int(v) for v in layers), tuple(int(v) for v in widths)


def _check_images(model, x) -> None:
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) != 4 or shape[1] != model.in_channels:
        raise ValueError(f"{type(model).__name__} expects images of shape "
                         f"(N, {model.in_channels}, H, W), got {shape}")


# -- NumPy: the option-A shortcut and the blocks -------------------------------------
class ZeroPadShortcut(nn.Module):
    """Option A: keep every ``stride``-th row and column, then append zero channels.

    (N, C_in, H, W) -> (N, C_out, ceil(H/stride), ceil(W/stride)); the channels
    C_in..C_out-1 are exactly zero. No parameters. Backward: the first C_in channels of
    dy go back to the kept positions; the zero channels and the skipped positions get no
    gradient.
    """

    torch_args = ("in_channels", "out_channels", "stride")

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        who = "ZeroPadShortcut"
        self.in_channels = _positive_int(who, "in_channels", in_channels)
        self.out_channels = _positive_int(who, "out_channels", out_channels)
        self.stride = _positive_int(who, "stride", stride)
        if out_channels < in_channels:
            raise ValueError(f"{who} pads channels, so it needs out_channels >= "
                             f"in_channels, got {in_channels} -> {out_channels}")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, 4, f"(N, {self.in_channels}, H, W)")
        _block_input(self, x)
        kept = x[:, :, ::self.stride, ::self.stride]
        n, c, h, w = kept.shape
        y = np.zeros((n, self.out_channels, h, w), x.dtype)
        y[:, :c] = kept
        self.save_for_backward(x.shape)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self.saved_for_backward()
        n, _, h, w = shape
        s = self.stride
        self._check_grad_output(dy, (n, self.out_channels, -(-h // s), -(-w // s)))
        dx = np.zeros(shape, dy.dtype)
        dx[:, :, ::s, ::s] = dy[:, :self.in_channels]
        return dx


def _shortcut(kind, in_channels, out_channels, stride, dtype, rng, *, bn: bool = True):
    """The NumPy shortcut: None, a projection (1×1 conv [+ BN]) or ZeroPadShortcut."""
    if kind is None:
        return None
    if kind == "zero_pad":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    conv = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False, dtype=dtype,
                     seed=rng)
    if not bn:
        return conv
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels, dtype=dtype))


class _Residual(nn.Module):
    """What the NumPy blocks share: argument checks, input checks, the saved shape.

    ``plain=True`` makes the block of a plain network: the same layers, no shortcut and
    no addition (``downsample`` is None).
    """

    torch_args = ("in_channels", "out_channels", "stride", "shortcut", "plain")
    expansion = 1

    def _setup(self, in_channels, out_channels, stride, shortcut, plain=False):
        who = type(self).__name__
        in_channels, out_channels, stride, kind = _block_args(
            who, in_channels, out_channels, stride, shortcut, self.expansion, plain)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.shortcut, self.plain = stride, shortcut, bool(plain)
        return kind

    def _begin(self, x) -> None:
        self._check_input(x, 4, f"(N, {self.in_channels}, H, W)")
        _block_input(self, x)

    def _end(self, y: np.ndarray) -> np.ndarray:
        self.save_for_backward(y.shape)
        return y

    def _dy(self, dy: np.ndarray) -> np.ndarray:
        return self._check_grad_output(dy, self.saved_for_backward())


class BasicBlock(_Residual):
    """Two 3×3 convolutions: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    (N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride); ``conv1`` carries
    the stride. ``downsample`` is the shortcut module (None for the identity).
    ``plain=True``: relu(bn2(conv2(relu(bn1(conv1(x)))))), no shortcut.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", plain: bool = False, *, dtype=None,
                 seed=None) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        rng = as_generator(seed)
        c_in, c_out = self.in_channels, self.out_channels
        self.conv1 = nn.Conv2d(c_in, c_out, 3, self.stride, 1, bias=False, dtype=dtype,
                               seed=rng)
        self.bn1 = nn.BatchNorm2d(c_out, dtype=dtype)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False, dtype=dtype, seed=rng)
        self.bn2 = nn.BatchNorm2d(c_out, dtype=dtype)
        self.downsample = _shortcut(kind, c_in, c_out, self.stride, dtype, rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._begin(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.plain:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self._end(self.relu(out))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d_sum = self.relu.backward(self._dy(dy))  # through the ReLU after the addition
        # the addition hands d_sum unchanged to both paths; x collects the sum of both
        d = self.conv2.backward(self.bn2.backward(d_sum))
        d_residual = self.conv1.backward(self.bn1.backward(self.relu.backward(d)))
        if self.plain:
            return d_residual
        if self.downsample is None:
            return d_residual + d_sum
        return d_residual + self.downsample.backward(d_sum)


class Bottleneck(_Residual):
    """1×1 (to width = out/4) → 3×3 (width) → 1×1 (to out), then + shortcut(x).

    ``stride_on="3x3"`` puts the stride on ``conv2`` (torchvision, "v1.5"); ``"1x1"``
    puts it on ``conv1`` (the paper, "v1"). Same parameters either way.
    """

    torch_args = ("in_channels", "out_channels", "stride", "shortcut", "stride_on",
                  "plain")
    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", stride_on: str = "3x3", plain: bool = False, *,
                 dtype=None, seed=None) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        _check_stride_on(type(self).__name__, stride_on)
        self.stride_on = stride_on
        rng = as_generator(seed)
        c_in, c_out, width = self.in_channels, self.out_channels, self.out_channels // 4
        s1, s3 = (1, self.stride) if stride_on == "3x3" else (self.stride, 1)
        self.conv1 = nn.Conv2d(c_in, width, 1, s1, bias=False, dtype=dtype, seed=rng)
        self.bn1 = nn.BatchNorm2d(width, dtype=dtype)
        self.conv2 = nn.Conv2d(width, width, 3, s3, 1, bias=False, dtype=dtype,
                               seed=rng)
        self.bn2 = nn.BatchNorm2d(width, dtype=dtype)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False, dtype=dtype, seed=rng)
        self.bn3 = nn.BatchNorm2d(c_out, dtype=dtype)
        self.relu = nn.ReLU()
        self.downsample = _shortcut(kind, c_in, c_out, self.stride, dtype, rng)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._begin(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if not self.plain:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self._end(self.relu(out))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        d_sum = self.relu.backward(self._dy(dy))
        d = self.conv3.backward(self.bn3.backward(d_sum))
        d = self.conv2.backward(self.bn2.backward(self.relu.backward(d)))
        d_residual = self.conv1.backward(self.bn1.backward(self.relu.backward(d)))
        if self.plain:
            return d_residual
        if self.downsample is None:
            return d_residual + d_sum
        return d_residual + self.downsample.backward(d_sum)


class PreActBasicBlock(_Residual):
    """Pre-activation basic block: x + conv2(relu(bn2(conv1(relu(bn1(x)))))).

    Nothing follows the addition, so the identity path from block to block is clean. A
    shortcut that changes the shape (a projection is a bare 1×1 conv here) reads the
    pre-activated input relu(bn1(x)), as in the authors' code; the identity reads x.
    ``plain=True`` drops the addition (and the shortcut).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", plain: bool = False, *, dtype=None,
                 seed=None) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        rng = as_generator(seed)
        c_in, c_out = self.in_channels, self.out_channels
        self.bn1 = nn.BatchNorm2d(c_in, dtype=dtype)
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, self.stride, 1, bias=False, dtype=dtype,
                               seed=rng)
        self.bn2 = nn.BatchNorm2d(c_out, dtype=dtype)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False, dtype=dtype, seed=rng)
        self.downsample = _shortcut(kind, c_in, c_out, self.stride, dtype, rng,
                                    bn=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._begin(x)
        p = self.relu(self.bn1(x))
        out = self.conv2(self.relu(self.bn2(self.conv1(p))))
        if not self.plain:
            out = out + (x if self.downsample is None else self.downsample(p))
        return self._end(out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._dy(dy)
        d_p = self.conv1.backward(self.bn2.backward(self.relu.backward(
            self.conv2.backward(dy))))
        if self.downsample is not None:
            # this shortcut left after the pre-activation: its gradient joins there
            d_p = d_p + self.downsample.backward(dy)
        dx = self.bn1.backward(self.relu.backward(d_p))
        if self.plain or self.downsample is not None:
            return dx
        return dx + dy  # + the identity's share


class PreActBottleneck(_Residual):
    """Pre-activation bottleneck: three BN → ReLU → conv steps (1×1, 3×3, 1×1), + x.

    Widths, ``stride_on`` and shortcuts as in :class:`Bottleneck` and
    :class:`PreActBasicBlock`.
    """

    torch_args = ("in_channels", "out_channels", "stride", "shortcut", "stride_on",
                  "plain")
    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", stride_on: str = "3x3", plain: bool = False, *,
                 dtype=None, seed=None) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        _check_stride_on(type(self).__name__, stride_on)
        self.stride_on = stride_on
        rng = as_generator(seed)
        c_in, c_out, width = self.in_channels, self.out_channels, self.out_channels // 4
        s1, s3 = (1, self.stride) if stride_on == "3x3" else (self.stride, 1)
        self.bn1 = nn.BatchNorm2d(c_in, dtype=dtype)
        self.conv1 = nn.Conv2d(c_in, width, 1, s1, bias=False, dtype=dtype, seed=rng)
        self.bn2 = nn.BatchNorm2d(width, dtype=dtype)
        self.conv2 = nn.Conv2d(width, width, 3, s3, 1, bias=False, dtype=dtype,
                               seed=rng)
        self.bn3 = nn.BatchNorm2d(width, dtype=dtype)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False, dtype=dtype, seed=rng)
        self.relu = nn.ReLU()
        self.downsample = _shortcut(kind, c_in, c_out, self.stride, dtype, rng,
                                    bn=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._begin(x)
        p = self.relu(self.bn1(x))
        out = self.conv1(p)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        if not self.plain:
            out = out + (x if self.downsample is None else self.downsample(p))
        return self._end(out)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy = self._dy(dy)
        d = self.conv2.backward(self.bn3.backward(self.relu.backward(
            self.conv3.backward(dy))))
        d_p = self.conv1.backward(self.bn2.backward(self.relu.backward(d)))
        if self.downsample is not None:
            d_p = d_p + self.downsample.backward(dy)
        dx = self.bn1.backward(self.relu.backward(d_p))
        if self.plain or self.downsample is not None:
            return dx
        return dx + dy


BLOCKS = {("basic", False): BasicBlock, ("bottleneck", False): Bottleneck,
          ("basic", True): PreActBasicBlock, ("bottleneck", True): PreActBottleneck}


# -- NumPy: the network --------------------------------------------------------------
class ResNet(nn.Module):
    """Stem → stages of residual blocks → global average pooling → one ``fc`` layer.

    Parameters
    ----------
    block : ``"basic"`` or ``"bottleneck"``
    layers : blocks per stage, e.g. (2, 2, 2, 2)
    num_classes, in_channels : int
    widths : per stage, the basic block's width or the bottleneck's inner width (its
        output is 4× that)
    stem : ``"imagenet"`` (7×7 conv stride 2, BN, ReLU, 3×3 max-pool stride 2) or
        ``"cifar"`` (3×3 conv stride 1, BN, ReLU), with ``widths[0]`` channels
    shortcut : ``"A"``, ``"B"`` or ``"C"`` (:data:`SHORTCUTS`)
    stride_on : ``"3x3"`` or ``"1x1"``, see :class:`Bottleneck`
    preact : pre-activation blocks; the stem then has no BN-ReLU, and a final BN-ReLU
        (``bn_final``) follows the last stage
    plain : the plain network of the same layers: no block adds a shortcut
    dtype : float32 (default) or float64.  seed : None, int or numpy Generator.

    Input (N, in_channels, H, W); output (N, num_classes) scores. Convolutions start as
    He et al. (2015) recommend for ReLU (``kaiming_normal_``, fan_out), BN at γ=1, β=0.
    """

    torch_args = ("block", "layers", "num_classes", "in_channels", "widths", "stem",
                  "shortcut", "stride_on", "preact", "plain")

    def __init__(self, block: str = "basic", layers=(2, 2, 2, 2),
                 num_classes: int = 1000, in_channels: int = 3, *,
                 widths=(64, 128, 256, 512), stem: str = "imagenet",
                 shortcut: str = "B", stride_on: str = "3x3", preact: bool = False,
                 plain: bool = False, dtype=None, seed=0) -> None:
        super().__init__()
        self.layers, self.widths = _check_network(block, layers, widths, stem, shortcut,
                                                  stride_on, in_channels, num_classes,
                                                  plain)
        self.block, self.stem, self.shortcut = block, stem, shortcut
        self.stride_on, self.preact, self.plain = stride_on, bool(preact), bool(plain)
        self.num_classes, self.in_channels = int(num_classes), int(in_channels)
        rng = as_generator(seed)
        stem_width = self.widths[0]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, stem_width, 7, 2, 3, bias=False,
                                   dtype=dtype, seed=rng)
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False,
                                   dtype=dtype, seed=rng)
        if not self.preact:
            self.bn1 = nn.BatchNorm2d(stem_width, dtype=dtype)
            self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else None
        cls = BLOCKS[block, self.preact]
        extra = {"stride_on": stride_on} if block == "bottleneck" else {}
        plan = stage_plan(self.layers, self.widths, EXPANSION[block], stem_width)
        for i, stage in enumerate(plan):
            setattr(self, f"layer{i + 1}", nn.Sequential(*[
                cls(c_in, c_out, s, shortcut, plain=self.plain, **extra, dtype=dtype,
                    seed=rng)
                for c_in, c_out, s in stage]))
        features = plan[-1][-1][1]
        if self.preact:
            self.bn_final = nn.BatchNorm2d(features, dtype=dtype)
            self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(features, num_classes, dtype=dtype, seed=rng)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nninit.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu",
                                       generator=rng)

    def stages(self) -> list[nn.Sequential]:
        """``layer1``, ``layer2``, ...: the stages in order."""
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.layers))]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, in_channels, H, W) -> (N, num_classes)."""
        _check_images(self, x)
        x = self.conv1(x)
        if not self.preact:
            x = self.relu(self.bn1(x))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for stage in self.stages():
            x = stage(x)
        if self.preact:
            x = self.relu(self.bn_final(x))
        x = self.avgpool(x)  # (N, C, 1, 1)
        self.save_for_backward(x.shape)
        return self.fc(x.reshape(len(x), -1))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        pooled = self.saved_for_backward()
        d = self.avgpool.backward(self.fc.backward(dy).reshape(pooled))
        if self.preact:
            d = self.bn_final.backward(self.relu.backward(d))
        for stage in reversed(self.stages()):
            d = stage.backward(d)
        if self.maxpool is not None:
            d = self.maxpool.backward(d)
        if not self.preact:
            d = self.bn1.backward(self.relu.backward(d))
        return self.conv1.backward(d)


def _depth(depth) -> tuple[str, tuple[int, ...]]:
    if depth not in DEPTHS:
        raise ValueError(f"unknown ResNet depth {depth!r}: expected one of "
                         f"{sorted(DEPTHS)} (for the CIFAR-style depths 6n+2 use "
                         f"cifar_resnet(n))")
    return DEPTHS[depth]


def imagenet_resnet(depth: int = 18, num_classes: int = 1000, in_channels: int = 3,
                    *, shortcut: str = "B", stride_on: str = "3x3",
                    preact: bool = False, plain: bool = False, dtype=None,
                    seed=0) -> ResNet:
    """The NumPy ResNet-18/34/50/101/152 of the paper's Table 1 (input e.g.
    (N, 3, 224, 224)); ``plain=True``: the plain network of the same layers.

    Slow in NumPy at ImageNet size; see :func:`imagenet_resnet_torch` for training.
    """
    block, layers = _depth(depth)
    return ResNet(block, layers, num_classes, in_channels, shortcut=shortcut,
                  stride_on=stride_on, preact=preact, plain=plain, dtype=dtype,
                  seed=seed)


def cifar_resnet(n: int = 3, num_classes: int = 10, in_channels: int = 3, *,
                 shortcut: str = "A", preact: bool = False, plain: bool = False,
                 dtype=None, seed=0) -> ResNet:
    """The paper's CIFAR-10 network (section 4.2): 6n+2 weighted layers.

    3×3 conv (16 channels), then three stages of n basic blocks at 16, 32 and 64
    channels (the map halves, by a stride-2 conv, at the second and third), global
    average pooling and ``fc``. n=3 gives ResNet-20, n=9 ResNet-56, n=18 ResNet-110.
    Shortcut option A by default, as in the paper. Any image size that survives two
    halvings works (8×8 digits: 8 -> 4 -> 2). ``plain=True`` gives the paper's plain
    6n+2-layer baseline: the same layers and, with option A, the same parameters (and,
    for the same seed, the same initial weights), without the additions.
    """
    n = _positive_int("cifar_resnet", "n", n)
    return ResNet("basic", (n, n, n), num_classes, in_channels, widths=(16, 32, 64),
                  stem="cifar", shortcut=shortcut, preact=preact, plain=plain,
                  dtype=dtype, seed=seed)


# -- torch twins ----------------------------------------------------------------------
tnn = torch.nn


class ZeroPadShortcutTorch(tnn.Module):
    """Torch twin of :class:`ZeroPadShortcut` (option A, no parameters)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        ZeroPadShortcut(in_channels, out_channels, stride)  # validates
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.stride = int(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _block_input(self, x)
        kept = x[:, :, ::self.stride, ::self.stride]
        # pad (last dim: 0, 0; next: 0, 0; channels: 0 before, C_out - C_in after)
        extra = self.out_channels - self.in_channels
        return torch.nn.functional.pad(kept, (0, 0, 0, 0, 0, extra))


def _shortcut_torch(kind, in_channels, out_channels, stride, *, bn: bool = True):
    if kind is None:
        return None
    if kind == "zero_pad":
        return ZeroPadShortcutTorch(in_channels, out_channels, stride)
    conv = tnn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
    return tnn.Sequential(conv, tnn.BatchNorm2d(out_channels)) if bn else conv


class _ResidualTorch(tnn.Module):
    expansion = 1

    def _setup(self, in_channels, out_channels, stride, shortcut, plain=False):
        name = type(self).__name__.removesuffix("Torch")
        in_channels, out_channels, stride, kind = _block_args(
            name, in_channels, out_channels, stride, shortcut, self.expansion, plain)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.shortcut, self.plain = stride, shortcut, bool(plain)
        return kind

    def _add_shortcut(self, out, x, p=None):
        """out + the shortcut of x (of p, the pre-activated x, for a projection or
        zero-padding in a pre-activation block); out alone in a plain block."""
        if self.plain:
            return out
        if self.downsample is None:
            return out + x
        return out + self.downsample(x if p is None else p)


class BasicBlockTorch(_ResidualTorch):
    """Torch twin of :class:`BasicBlock`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", plain: bool = False) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        c_in, c_out = self.in_channels, self.out_channels
        self.conv1 = tnn.Conv2d(c_in, c_out, 3, self.stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(c_out)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(c_out)
        self.downsample = _shortcut_torch(kind, c_in, c_out, self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _block_input(self, x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self._add_shortcut(out, x))


class BottleneckTorch(_ResidualTorch):
    """Torch twin of :class:`Bottleneck`."""

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", stride_on: str = "3x3",
                 plain: bool = False) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        _check_stride_on("Bottleneck", stride_on)
        self.stride_on = stride_on
        c_in, c_out, width = self.in_channels, self.out_channels, self.out_channels // 4
        s1, s3 = (1, self.stride) if stride_on == "3x3" else (self.stride, 1)
        self.conv1 = tnn.Conv2d(c_in, width, 1, s1, bias=False)
        self.bn1 = tnn.BatchNorm2d(width)
        self.conv2 = tnn.Conv2d(width, width, 3, s3, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(width)
        self.conv3 = tnn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(c_out)
        self.relu = tnn.ReLU()
        self.downsample = _shortcut_torch(kind, c_in, c_out, self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _block_input(self, x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self._add_shortcut(out, x))


class PreActBasicBlockTorch(_ResidualTorch):
    """Torch twin of :class:`PreActBasicBlock`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", plain: bool = False) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        c_in, c_out = self.in_channels, self.out_channels
        self.bn1 = tnn.BatchNorm2d(c_in)
        self.relu = tnn.ReLU()
        self.conv1 = tnn.Conv2d(c_in, c_out, 3, self.stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(c_out)
        self.conv2 = tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.downsample = _shortcut_torch(kind, c_in, c_out, self.stride, bn=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _block_input(self, x)
        p = self.relu(self.bn1(x))
        out = self.conv2(self.relu(self.bn2(self.conv1(p))))
        return self._add_shortcut(out, x, p)


class PreActBottleneckTorch(_ResidualTorch):
    """Torch twin of :class:`PreActBottleneck`."""

    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 shortcut: str = "B", stride_on: str = "3x3",
                 plain: bool = False) -> None:
        super().__init__()
        kind = self._setup(in_channels, out_channels, stride, shortcut, plain)
        _check_stride_on("PreActBottleneck", stride_on)
        self.stride_on = stride_on
        c_in, c_out, width = self.in_channels, self.out_channels, self.out_channels // 4
        s1, s3 = (1, self.stride) if stride_on == "3x3" else (self.stride, 1)
        self.bn1 = tnn.BatchNorm2d(c_in)
        self.conv1 = tnn.Conv2d(c_in, width, 1, s1, bias=False)
        self.bn2 = tnn.BatchNorm2d(width)
        self.conv2 = tnn.Conv2d(width, width, 3, s3, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(width)
        self.conv3 = tnn.Conv2d(width, c_out, 1, bias=False)
        self.relu = tnn.ReLU()
        self.downsample = _shortcut_torch(kind, c_in, c_out, self.stride, bn=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _block_input(self, x)
        p = self.relu(self.bn1(x))
        out = self.conv1(p)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return self._add_shortcut(out, x, p)


BLOCKS_TORCH = {("basic", False): BasicBlockTorch,
                ("bottleneck", False): BottleneckTorch,
                ("basic", True): PreActBasicBlockTorch,
                ("bottleneck", True): PreActBottleneckTorch}


class ResNetTorch(tnn.Module):
    """Torch twin of :class:`ResNet` (same arguments, modules and parameter names)."""

    def __init__(self, block: str = "basic", layers=(2, 2, 2, 2),
                 num_classes: int = 1000, in_channels: int = 3, *,
                 widths=(64, 128, 256, 512), stem: str = "imagenet",
                 shortcut: str = "B", stride_on: str = "3x3",
                 preact: bool = False, plain: bool = False) -> None:
        super().__init__()
        self.layers, self.widths = _check_network(block, layers, widths, stem, shortcut,
                                                  stride_on, in_channels, num_classes,
                                                  plain)
        self.block, self.stem, self.shortcut = block, stem, shortcut
        self.stride_on, self.preact, self.plain = stride_on, bool(preact), bool(plain)
        self.num_classes, self.in_channels = int(num_classes), int(in_channels)
        stem_width = self.widths[0]
        if stem == "imagenet":
            self.conv1 = tnn.Conv2d(in_channels, stem_width, 7, 2, 3, bias=False)
        else:
            self.conv1 = tnn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False)
        if not self.preact:
            self.bn1 = tnn.BatchNorm2d(stem_width)
            self.relu = tnn.ReLU()
        self.maxpool = tnn.MaxPool2d(3, 2, 1) if stem == "imagenet" else None
        cls = BLOCKS_TORCH[block, self.preact]
        extra = {"stride_on": stride_on} if block == "bottleneck" else {}
        plan = stage_plan(self.layers, self.widths, EXPANSION[block], stem_width)
        for i, stage in enumerate(plan):
            setattr(self, f"layer{i + 1}", tnn.Sequential(*[
                cls(c_in, c_out, s, shortcut, plain=self.plain, **extra)
                for c_in, c_out, s in stage]))
        features = plan[-1][-1][1]
        if self.preact:
            self.bn_final = tnn.BatchNorm2d(features)
            self.relu = tnn.ReLU()
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(features, num_classes)
        for m in self.modules():
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def stages(self) -> list[tnn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.layers))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(self, x)
        x = self.conv1(x)
        if not self.preact:
            x = self.relu(self.bn1(x))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for stage in self.stages():
            x = stage(x)
        if self.preact:
            x = self.relu(self.bn_final(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def imagenet_resnet_torch(depth: int = 18, num_classes: int = 1000,
                          in_channels: int = 3, *, shortcut: str = "B",
                          stride_on: str = "3x3", preact: bool = False,
                          plain: bool = False, seed=0, device=None) -> ResNetTorch:
    """ResNet-18/34/50/101/152 in torch, on ``device`` (default
    :func:`dlbook.devices.best_device`), initialized from torch's generator seeded with
    ``seed`` (the global one is left as it was).

    With the defaults (option B, ``stride_on="3x3"``) this is torchvision's ``resnet18``
    ... ``resnet152`` (same modules and parameter names). For 1000 classes it has
    11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 / 60,192,808 parameters, the
    counts torchvision publishes for its weights, which are v1.5 (stride on the 3×3).
    The paper's v1 (``stride_on="1x1"``) has exactly the same parameters; only the
    multiply-adds of a 224×224 image differ: 4.09 G for ResNet-50 v1.5 (torchvision's
    published "GFLOPS") against 3.86 G for v1, the count the paper's Table 1 gives
    ("3.8×10⁹ FLOPs"; its 7.6 and 11.3 for 101 and 152 are v1's 7.57 and 11.28 G).
    The weights differ from ``imagenet_resnet(depth, seed=seed)``'s (built natively
    here, not converted from NumPy); ``nn.to_torch(imagenet_resnet(...))`` gives the
    NumPy model's.
    """
    block, layers = _depth(depth)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ResNetTorch(block, layers, num_classes, in_channels, shortcut=shortcut,
                            stride_on=stride_on, preact=preact, plain=plain)
    return model.to(resolve_device(device))


def cifar_resnet_torch(n: int = 3, num_classes: int = 10, in_channels: int = 3, *,
                       shortcut: str = "A", preact: bool = False, plain: bool = False,
                       seed=0, device=None) -> ResNetTorch:
    """:func:`cifar_resnet` in torch, with the same initial weights for the same seed
    (the NumPy network converted by :func:`dlbook.nn.to_torch`), on ``device``."""
    model = cifar_resnet(n, num_classes, in_channels, shortcut=shortcut, preact=preact,
                         plain=plain, seed=seed)
    return nn.to_torch(model, device=resolve_device(device))


TWINS = [(ZeroPadShortcut, ZeroPadShortcutTorch), (BasicBlock, BasicBlockTorch),
         (Bottleneck, BottleneckTorch), (PreActBasicBlock, PreActBasicBlockTorch),
         (PreActBottleneck, PreActBottleneckTorch), (ResNet, ResNetTorch)]
for _numpy_cls, _torch_cls in TWINS:
    register_twin(_numpy_cls, _torch_cls)
