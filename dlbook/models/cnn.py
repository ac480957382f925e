"""The small CNN of chapter 4 for 8×8 digits: one definition, a NumPy network and its torch twin.

    (N, 1, 8, 8) -> [Conv 3×3 -> BatchNorm -> ReLU -> MaxPool 2×2] × 2 -> Flatten -> Linear -> (N, 10)

Each conv block doubles the channels while max-pooling halves the side (8 -> 4 -> 2), the
habit of VGG and ResNet. Convolutions have no bias: the BatchNorm after them subtracts each
channel's mean, which would cancel it.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import nn
from ..devices import resolve_device


def digits_cnn(width: int = 16, n_classes: int = 10, *, seed=0,
               dtype=None) -> nn.Sequential:
    """The NumPy network: input (N, 1, 8, 8) float, output (N, n_classes) scores.

    ``width`` is the channel count of the first block (the second has twice as many).
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False, seed=rng),
        nn.BatchNorm2d(width), nn.ReLU(),
        nn.MaxPool2d(2),  # (N, width, 4, 4)
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False, seed=rng),
        nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 2·width, 2, 2)
        nn.Flatten(),
        nn.Linear(2 * width * 2 * 2, n_classes, seed=rng),
    )
    return model.to(np.float32 if dtype is None else dtype)


def digits_cnn_torch(width: int = 16, n_classes: int = 10, *, seed=0, device=None) -> torch.nn.Sequential:
    """The same network in torch (same layers, same initial weights for the same seed), on ``device``
    (default :func:`dlbook.devices.best_device`)."""
    return nn.to_torch(digits_cnn(width, n_classes, seed=seed), device=resolve_device(device))
