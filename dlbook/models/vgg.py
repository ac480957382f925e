r"""VGG (Simonyan & Zisserman, 2015): configurations A to E of the paper's table 1.

Every convolution is 3×3 with stride 1 and padding 1, so it keeps the size; five 2×2
max-poolings with stride 2 halve it, 224 -> 7; the channels double from block to block,
64 -> 512. Two stacked 3×3 convolutions see 5×5 pixels and three see 7×7, with fewer
weights ($3 \cdot 3^2 C^2 = 27C^2$ against $7^2 C^2 = 49C^2$) and a ReLU between each.

=====  ========  ============================================================
 cfg    name     convolutions per block
=====  ========  ============================================================
 A      VGG-11   1, 1, 2, 2, 2
 B      VGG-13   2, 2, 2, 2, 2
 C      VGG-16   2, 2, 3, 3, 3 (the third of blocks 3-5 a 1×1 convolution)
 D      VGG-16   2, 2, 3, 3, 3
 E      VGG-19   2, 2, 4, 4, 4
=====  ========  ============================================================

Then F6 and F7 of 4096 units with ReLU and dropout 0.5, and F8 of 1000 scores. As
torchvision does, an ``AdaptiveAvgPool2d(7)`` sits before F6: at 224×224 the map is
already 7×7 and it changes nothing; other sizes still give F6 its 7·7·512 inputs.
``batch_norm=True`` puts a BatchNorm2d after every convolution (torchvision's
``vgg16_bn``; not in the paper, which predates batch normalization).
"""

from __future__ import annotations

from collections import OrderedDict

import torch

from ..cnn_shapes import conv2d_param_count, conv_output_size, linear_param_count
from .alexnet import ImageClassifier, build_seeded, positive_int
from .summary import LayerArithmetic

#: Table 1: an int is a 3×3 convolution with that many channels, (c, 1) a 1×1 one,
#: "M" a 2×2 max-pooling with stride 2.
CONFIGS = {
    "A": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "B": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "C": (64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M",
          512, 512, (512, 1), "M", 512, 512, (512, 1), "M"),
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
          512, 512, 512, "M", 512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
          512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}
#: torchvision's names for the configurations it builds.
NAMES = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}
INPUT_SHAPE = (3, 224, 224)
POOLED = 7          # the side of the map before F6
HIDDEN = (4096, 4096)


def _config(config: str) -> str:
    key = NAMES.get(config, config)
    if key not in CONFIGS:
        raise ValueError(f"config must be one of {sorted(CONFIGS)} or "
                         f"{sorted(NAMES)}, got {config!r}")
    return key


def _convs(config: str):
    """(out_channels, kernel_size) per convolution, None per pooling."""
    for item in CONFIGS[_config(config)]:
        if item == "M":
            yield None
        else:
            yield (item, 3) if isinstance(item, int) else item


def vgg_layers(config: str = "D", batch_norm: bool = False, num_classes: int = 1000,
               input_size: int = 224) -> list[LayerArithmetic]:
    """The network worked out with :mod:`dlbook.cnn_shapes`, one row per convolution,
    BatchNorm, pooling and dense layer (ReLU and dropout change neither shapes nor
    counts). ``input_size``: the side of the square input."""
    positive_int("num_classes", num_classes)
    channels, side = INPUT_SHAPE[0], positive_int("input_size", input_size)
    rows, block, index = [], 1, 1
    for conv in _convs(config):
        if conv is None:
            side = conv_output_size(side, 2, 2)
            rows.append(LayerArithmetic(f"pool{block}", "MaxPool2d",
                                        (channels, side, side), None, 0, 0))
            block, index = block + 1, 1
            continue
        out, k = conv
        side = conv_output_size(side, k, 1, k // 2)
        weights = conv2d_param_count(channels, out, k, bias=False)
        rows.append(LayerArithmetic(f"conv{block}_{index}", "Conv2d", (out, side, side),
                                    (out, channels, k, k), weights, out))
        if batch_norm:  # gamma and beta, one per channel
            rows.append(LayerArithmetic(f"bn{block}_{index}", "BatchNorm2d",
                                        (out, side, side), (out,), out, out))
        channels, index = out, index + 1
    rows.append(LayerArithmetic("avgpool", "AdaptiveAvgPool2d",
                                (channels, POOLED, POOLED), None, 0, 0))
    features = channels * POOLED * POOLED
    for i, width in enumerate(HIDDEN + (num_classes,), start=6):
        rows.append(LayerArithmetic(f"fc{i}", "Linear", (width,), (width, features),
                                    linear_param_count(features, width, bias=False),
                                    width))
        features = width
    return rows


def vgg_parameter_count(config: str = "D", batch_norm: bool = False,
                        num_classes: int = 1000) -> int:
    """The total of :func:`vgg_layers`: D (VGG-16) 138,357,544; E 143,667,240."""
    return sum(row.params for row in vgg_layers(config, batch_norm, num_classes))


def torchvision_init_(model: torch.nn.Module) -> torch.nn.Module:
    """torchvision's VGG initialization: He (fan-out) normal convolutions, N(0, 0.01²)
    dense layers, zero biases, BatchNorm at γ = 1, β = 0."""
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(layer.weight, mode="fan_out",
                                              nonlinearity="relu")
                layer.bias.zero_()
            elif isinstance(layer, torch.nn.BatchNorm2d):
                layer.weight.fill_(1.0)
                layer.bias.zero_()
            elif isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0.0, 0.01)
                layer.bias.zero_()
    return model


def _layers(config: str, batch_norm: bool, num_classes: int, dropout: float
            ) -> OrderedDict:
    """torchvision's layout (features, avgpool, classifier), so its state dict loads."""
    features, channels = [], INPUT_SHAPE[0]
    for conv in _convs(config):
        if conv is None:
            features.append(torch.nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        out, k = conv
        features.append(torch.nn.Conv2d(channels, out, k, padding=k // 2))
        if batch_norm:
            features.append(torch.nn.BatchNorm2d(out))
        features.append(torch.nn.ReLU(inplace=True))
        channels = out
    classifier, width_in = [], channels * POOLED * POOLED
    for width in HIDDEN:
        classifier += [torch.nn.Linear(width_in, width), torch.nn.ReLU(inplace=True),
                       torch.nn.Dropout(dropout)]
        width_in = width
    classifier.append(torch.nn.Linear(width_in, num_classes))
    return OrderedDict(features=torch.nn.Sequential(*features),
                       avgpool=torch.nn.AdaptiveAvgPool2d(POOLED),
                       flatten=torch.nn.Flatten(),
                       classifier=torch.nn.Sequential(*classifier))


def vgg(config: str = "D", *, batch_norm: bool = False, num_classes: int = 1000,
        dropout: float = 0.5, seed: int | None = 0, device=None,
        dtype=None) -> ImageClassifier:
    """VGG in torch: ``config`` "A" to "E" (or "vgg11", "vgg13", "vgg16", "vgg19").

    Expects (N, 3, H, W) images, nominally 224×224 (at least 32×32, for five halvings);
    returns (N, num_classes) scores. torchvision's layout, names and initialization
    (:func:`torchvision_init_`), so ``vgg("D")`` has ``vgg16``'s state-dict keys.
    ``seed`` fixes the weights (the same on every device); ``device`` defaults to
    :func:`dlbook.devices.best_device` (``"meta"``: shapes only); ``dtype``: float32.
    """
    key = _config(config)
    positive_int("num_classes", num_classes)
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    name = f"VGG config {key}" + (" with BatchNorm" if batch_norm else "")

    def make():
        return torchvision_init_(ImageClassifier(
            _layers(key, bool(batch_norm), num_classes, dropout), INPUT_SHAPE, False,
            name))
    return build_seeded(make, seed, device, dtype)
