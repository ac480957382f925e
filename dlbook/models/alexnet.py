r"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) as the paper describes it, and the
single-tower variant torchvision builds; one layer list gives each network, its shapes
and its parameter count.

The paper's network, for a 227×227×3 image:

- C1: 96 kernels of 11×11×3, stride 4 -> 55×55×96; ReLU, local response normalization
  (LRN), 3×3 max-pooling with stride 2 (overlapping windows) -> 27×27×96;
- C2: 256 kernels of 5×5×48, padding 2 -> 27×27×256; ReLU, LRN, pooling -> 13×13×256;
- C3: 384 kernels of 3×3×256; C4: 384 of 3×3×192; C5: 256 of 3×3×192 (padding 1,
  ReLU each); pooling -> 6×6×256;
- F6, F7: 4096 units, ReLU, dropout 0.5; F8: 1000 scores.

The network was trained on two GPUs, each holding half of the kernels of every layer.
C2, C4 and C5 see only the maps of their own GPU: a kernel of C2 spans 48 of C1's 96
maps. That is a grouped convolution with ``groups=2``; C3 and the dense layers see
both halves.

**224 or 227?** The paper says the input is 224×224×3, but with 11×11 kernels, stride 4
and no padding, $(224 - 11)/4 + 1 = 54.25$ windows do not tile the image, while the
paper's next layer is 55×55 wide. $(227 - 11)/4 + 1 = 55$ exactly, and so
:func:`alexnet` builds the paper's network for 227×227 inputs and refuses others
(:func:`unrounded_output_size` shows the arithmetic). torchvision keeps 224 and pads C1
by 2 instead: $\lfloor (224 + 4 - 11)/4 \rfloor + 1 = 55$.

torchvision's variant: one tower of 64-192-384-256-256 channels, no LRN, an
``AdaptiveAvgPool2d(6)`` before F6 (other input sizes give a 6×6 map too), and dropout
on the inputs of F6 and F7 where the paper (and Caffe) drop F6's and F7's outputs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction

import torch

from ..cnn_shapes import conv2d_param_count, conv_output_size, linear_param_count
from ..devices import resolve_device
from ..receptive_field import WINDOWED, window_of
from .summary import LayerArithmetic


@dataclass(frozen=True)
class ConvSpec:
    """One convolutional layer of AlexNet, and what follows its ReLU."""

    name: str
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    groups: int = 1      # 2: the paper's two GPUs, each kernel sees half the maps
    lrn: bool = False    # local response normalization after the ReLU
    pool: bool = False   # then 3×3 max-pooling with stride 2


@dataclass(frozen=True)
class AlexNetSpec:
    """A variant: the input it is built for (C, H, W), its convolutions, the widths of
    F6 and F7, and the output size of the adaptive pooling before F6 (None: none)."""

    name: str
    input_shape: tuple[int, int, int]
    convs: tuple[ConvSpec, ...]
    hidden: tuple[int, ...] = (4096, 4096)
    adaptive_pool: int | None = None


#: Max-pooling of AlexNet: 3×3 windows, stride 2 (overlapping, section 3.4).
POOL = {"kernel_size": 3, "stride": 2}
#: LRN of the paper: n = 5, k = 2, alpha = 1e-4, beta = 0.75 (section 3.3). torch
#: divides alpha by n; the paper does not, so torch's alpha is 5 · 1e-4.
PAPER_LRN = {"size": 5, "alpha": 5 * 1e-4, "beta": 0.75, "k": 2.0}

VARIANTS = {
    "paper": AlexNetSpec("paper", (3, 227, 227), (
        ConvSpec("conv1", 96, 11, stride=4, lrn=True, pool=True),
        ConvSpec("conv2", 256, 5, padding=2, groups=2, lrn=True, pool=True),
        ConvSpec("conv3", 384, 3, padding=1),
        ConvSpec("conv4", 384, 3, padding=1, groups=2),
        ConvSpec("conv5", 256, 3, padding=1, groups=2, pool=True))),
    "torchvision": AlexNetSpec("torchvision", (3, 224, 224), (
        ConvSpec("conv1", 64, 11, stride=4, padding=2, pool=True),
        ConvSpec("conv2", 192, 5, padding=2, pool=True),
        ConvSpec("conv3", 384, 3, padding=1),
        ConvSpec("conv4", 256, 3, padding=1),
        ConvSpec("conv5", 256, 3, padding=1, pool=True)), adaptive_pool=6),
}


def _spec(variant: str) -> AlexNetSpec:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


def positive_int(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def unrounded_output_size(size: int, kernel_size: int, stride: int = 1,
                          padding: int = 0) -> Fraction:
    """$(H + 2p - k)/s + 1$ before rounding down: a whole number only when the windows
    tile the padded input exactly. ``unrounded_output_size(224, 11, 4)`` is 54.25."""
    for name, value in (("size", size), ("kernel_size", kernel_size),
                        ("stride", stride)):
        positive_int(name, value)
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, got {padding!r}")
    return Fraction(size + 2 * padding - kernel_size, stride) + 1


def alexnet_layers(variant: str = "paper", num_classes: int = 1000,
                   input_size: int | None = None) -> list[LayerArithmetic]:
    """The network worked out by hand, one row per layer with an effect on the shape or
    with parameters: conv, LRN, pooling, dense (ReLU and dropout change neither).

    Output sizes come from :func:`dlbook.cnn_shapes.conv_output_size` (which rounds
    down: 224 gives the paper's C1 54 columns, not 55), counts from
    :func:`~dlbook.cnn_shapes.conv2d_param_count` and
    :func:`~dlbook.cnn_shapes.linear_param_count`. ``input_size`` (a square side)
    defaults to the variant's own; another one shows where the layers would go.
    """
    spec = _spec(variant)
    positive_int("num_classes", num_classes)
    channels, side, _ = spec.input_shape
    side = side if input_size is None else positive_int("input_size", input_size)
    rows = []
    for conv in spec.convs:
        weights = conv2d_param_count(channels, conv.out_channels, conv.kernel_size,
                                     conv.groups, bias=False)
        side = conv_output_size(side, conv.kernel_size, conv.stride, conv.padding)
        shape = (conv.out_channels, channels // conv.groups, conv.kernel_size,
                 conv.kernel_size)
        channels = conv.out_channels
        rows.append(LayerArithmetic(conv.name, "Conv2d", (channels, side, side), shape,
                                    weights, conv.out_channels))
        index = conv.name[len("conv"):]
        if conv.lrn:
            rows.append(LayerArithmetic(f"norm{index}", "LocalResponseNorm",
                                        (channels, side, side), None, 0, 0))
        if conv.pool:
            side = conv_output_size(side, POOL["kernel_size"], POOL["stride"])
            rows.append(LayerArithmetic(f"pool{index}", "MaxPool2d",
                                        (channels, side, side), None, 0, 0))
    if spec.adaptive_pool is not None:
        side = spec.adaptive_pool
        rows.append(LayerArithmetic("avgpool", "AdaptiveAvgPool2d",
                                    (channels, side, side), None, 0, 0))
    features = channels * side * side
    for i, width in enumerate(spec.hidden + (num_classes,)):
        rows.append(LayerArithmetic(f"fc{6 + i}", "Linear", (width,), (width, features),
                                    linear_param_count(features, width, bias=False),
                                    width))
        features = width
    return rows


def alexnet_parameter_count(variant: str = "paper", num_classes: int = 1000) -> int:
    """The total of :func:`alexnet_layers`: 60,965,224 for the paper's network,
    61,100,840 for torchvision's."""
    return sum(row.params for row in alexnet_layers(variant, num_classes))


class ImageClassifier(torch.nn.Sequential):
    """A ``Sequential`` that states the input it expects and refuses any other with a
    message that says why.

    ``input_shape`` is (C, H, W). With ``exact_size`` only that H×W is accepted (the
    paper's AlexNet, whose F6 expects exactly 6×6×256 numbers); otherwise any image
    for which every window still fits (an adaptive pooling layer evens out the rest).
    """

    def __init__(self, layers: OrderedDict, input_shape: tuple[int, int, int],
                 exact_size: bool, name: str, hint: str = "") -> None:
        super().__init__(layers)
        self.input_shape, self.exact_size = tuple(input_shape), bool(exact_size)
        self.network_name, self.hint = name, hint

    def expected(self) -> str:
        c, h, w = self.input_shape
        return (f"(N, {c}, {h}, {w})" if self.exact_size
                else f"(N, {c}, H, W), nominally (N, {c}, {h}, {w})")

    def check_input(self, x) -> None:
        """Raise ValueError unless x is a batch of images this network accepts."""
        shape = tuple(getattr(x, "shape", ()))
        c, h, w = self.input_shape
        if not isinstance(x, torch.Tensor) or len(shape) != 4 or shape[1] != c or (
                self.exact_size and shape[2:] != (h, w)):
            got = shape if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{self.network_name} expects input of shape "
                             f"{self.expected()}, got {got}{self.hint}")
        size = shape[2:]
        for layer in self.modules():
            if type(layer).__name__ in WINDOWED:
                try:
                    size = window_of(layer).output_hw(*size)
                except ValueError as error:
                    raise ValueError(f"{self.network_name}: an input of "
                                     f"{shape[2]}×{shape[3]} pixels is too small "
                                     f"({error}); expected {self.expected()}") from None

    def forward(self, x):
        self.check_input(x)
        return super().forward(x)


def build_seeded(make, seed: int | None, device, dtype) -> torch.nn.Module:
    """Build on the CPU with a fixed seed (the same weights on every device), then move;
    on ``"meta"`` build there (shapes only, no memory)."""
    device = resolve_device(device)
    if device.type == "meta":
        with torch.device("meta"):
            model = make()
    else:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            model = make()
        model = model.to(device)
    return model.to(dtype) if dtype is not None else model


def paper_init_(model: ImageClassifier) -> ImageClassifier:
    """Section 5 of the paper: weights from N(0, 0.01²); biases 1 in C2, C4, C5, F6 and
    F7 (so that their ReLUs start with positive inputs), 0 elsewhere."""
    ones = {"conv2", "conv4", "conv5", "fc6", "fc7"}
    with torch.no_grad():
        for name, layer in model.named_children():
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                layer.weight.normal_(0.0, 0.01)
                layer.bias.fill_(1.0 if name in ones else 0.0)
    return model


def _paper_layers(spec: AlexNetSpec, num_classes: int, dropout: float) -> OrderedDict:
    """Caffe's names for the paper's layers: conv1, relu1, norm1, pool1, ..., fc8."""
    layers, channels = OrderedDict(), spec.input_shape[0]
    for conv in spec.convs:
        i = conv.name[len("conv"):]
        layers[conv.name] = torch.nn.Conv2d(channels, conv.out_channels,
                                            conv.kernel_size, conv.stride, conv.padding,
                                            groups=conv.groups)
        layers[f"relu{i}"] = torch.nn.ReLU(inplace=True)
        if conv.lrn:
            layers[f"norm{i}"] = torch.nn.LocalResponseNorm(**PAPER_LRN)
        if conv.pool:
            layers[f"pool{i}"] = torch.nn.MaxPool2d(**POOL)
        channels = conv.out_channels
    layers["flatten"] = torch.nn.Flatten()
    features = channels * 6 * 6
    for i, width in enumerate(spec.hidden, start=6):
        layers[f"fc{i}"] = torch.nn.Linear(features, width)
        layers[f"relu{i}"] = torch.nn.ReLU(inplace=True)
        layers[f"drop{i}"] = torch.nn.Dropout(dropout)  # on F6's and F7's outputs
        features = width
    layers[f"fc{6 + len(spec.hidden)}"] = torch.nn.Linear(features, num_classes)
    return layers


def _torchvision_layers(spec: AlexNetSpec, num_classes: int, dropout: float
                        ) -> OrderedDict:
    """torchvision's layout (features, avgpool, classifier), so its state dict loads."""
    features, channels = [], spec.input_shape[0]
    for conv in spec.convs:
        features += [torch.nn.Conv2d(channels, conv.out_channels, conv.kernel_size,
                                     conv.stride, conv.padding),
                     torch.nn.ReLU(inplace=True)]
        if conv.pool:
            features.append(torch.nn.MaxPool2d(**POOL))
        channels = conv.out_channels
    size = spec.adaptive_pool
    classifier, width_in = [], channels * size * size
    for width in spec.hidden:
        classifier += [torch.nn.Dropout(dropout), torch.nn.Linear(width_in, width),
                       torch.nn.ReLU(inplace=True)]
        width_in = width
    classifier.append(torch.nn.Linear(width_in, num_classes))
    return OrderedDict(features=torch.nn.Sequential(*features),
                       avgpool=torch.nn.AdaptiveAvgPool2d(size),
                       flatten=torch.nn.Flatten(),
                       classifier=torch.nn.Sequential(*classifier))


def alexnet(variant: str = "paper", num_classes: int = 1000, *, dropout: float = 0.5,
            seed: int | None = 0, device=None, dtype=None) -> ImageClassifier:
    """AlexNet in torch. ``variant="paper"`` expects (N, 3, 227, 227) images;
    ``"torchvision"`` expects (N, 3, H, W), nominally 224×224. Output: (N, num_classes)
    scores. The model's ``input_shape`` says it, and its forward refuses other inputs.

    paper: grouped C2, C4, C5 (``groups=2``), LRN after C1 and C2 (:data:`PAPER_LRN`),
    overlapping pooling, dropout on F6 and F7, the paper's initialization
    (:func:`paper_init_`); layers named as in Caffe (conv1, norm1, pool1, ..., fc8).
    torchvision: its layout and names (``features.0``, ``classifier.6``) and torch's
    default initialization. ``seed`` fixes the weights (the same on every device);
    ``device`` defaults to :func:`dlbook.devices.best_device` (``"meta"``: shapes
    only); ``dtype`` defaults to float32.
    """
    spec = _spec(variant)
    positive_int("num_classes", num_classes)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    c, h, w = spec.input_shape
    if variant == "paper":
        hint = (f" (the paper's text says 224, but (224 - 11)/4 + 1 = "
                f"{float(unrounded_output_size(224, 11, 4))} is not a whole number of "
                f"windows; {h} gives {unrounded_output_size(h, 11, 4)})")

        def make():
            layers = _paper_layers(spec, num_classes, dropout)
            return paper_init_(ImageClassifier(layers, spec.input_shape, True,
                                               "AlexNet (paper)", hint))
    else:
        def make():
            return ImageClassifier(_torchvision_layers(spec, num_classes, dropout),
                                   spec.input_shape, False, "AlexNet (torchvision)")
    return build_seeded(make, seed, device, dtype)
