"""SRGAN's two networks (Ledig et al., 2017), in torch, sized by their arguments (chapter 9).

* :class:`SRResNet`, the generator: a wide first convolution, ``blocks`` residual blocks
  (conv-BN-PReLU-conv-BN plus the input), a long skip over all of them, then one sub-pixel
  upsampling stage per factor 2 (a convolution to 4× the channels and ``PixelShuffle(2)``),
  and a last convolution back to image channels. All convolutions run at the low resolution
  until the shuffles. ``residual_over_bicubic=True`` adds the bicubic upsampling of the input
  to the output, so the network only learns what bicubic misses (not in the paper; it trains
  faster on a CPU budget).
* :class:`Discriminator`: 3×3 convolutions with LeakyReLU(0.2), BatchNorm after the first,
  the channels doubling every second block as stride 2 halves the map, then global average
  pooling (so any patch size works), a dense layer and one logit (real vs generated).

The paper's sizes are ``SRResNet(scale=4, in_channels=3, features=64, blocks=16)`` and
``Discriminator(in_channels=3, features=64, stages=4)``; the book trains smaller ones.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """x + BN(conv(PReLU(BN(conv(x))))): SRGAN's block, channels and size unchanged."""

    def __init__(self, features: int, batchnorm: bool = True):
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(features)) if batchnorm else nn.Identity
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1, bias=not batchnorm), norm(),
            nn.PReLU(features),
            nn.Conv2d(features, features, 3, padding=1, bias=not batchnorm), norm())

    def forward(self, x):
        return x + self.body(x)


class SRResNet(nn.Module):
    """The generator: (N, C, h, w) low-resolution images -> (N, C, scale·h, scale·w)."""

    def __init__(self, scale: int = 2, in_channels: int = 1, features: int = 64,
                 blocks: int = 16, *, batchnorm: bool = True, head_kernel: int = 9,
                 residual_over_bicubic: bool = False):
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8 (one PixelShuffle(2) per factor 2), got {scale!r}")
        for name, value in (("in_channels", in_channels), ("features", features), ("blocks", blocks)):
            if not (isinstance(value, int) and value >= (0 if name == "blocks" else 1)):
                raise ValueError(f"{name} must be a {'non-negative' if name == 'blocks' else 'positive'} "
                                 f"int, got {value!r}")
        if head_kernel % 2 == 0:
            raise ValueError(f"head_kernel must be odd (same-size convolution), got {head_kernel}")
        self.scale, self.residual_over_bicubic = scale, residual_over_bicubic
        pad = head_kernel // 2
        self.head = nn.Sequential(nn.Conv2d(in_channels, features, head_kernel, padding=pad),
                                  nn.PReLU(features))
        self.blocks = nn.Sequential(*(ResidualBlock(features, batchnorm) for _ in range(blocks)))
        self.fuse = nn.Sequential(nn.Conv2d(features, features, 3, padding=1, bias=not batchnorm),
                                  nn.BatchNorm2d(features) if batchnorm else nn.Identity())
        stages = []
        for _ in range(int(math.log2(scale))):  # sub-pixel convolution: 4F channels -> 2× size
            stages += [nn.Conv2d(features, 4 * features, 3, padding=1), nn.PixelShuffle(2),
                       nn.PReLU(features)]
        self.upsample = nn.Sequential(*stages)
        self.tail = nn.Conv2d(features, in_channels, head_kernel, padding=pad)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.tail.out_channels:
            raise ValueError(f"SRResNet expects (N, {self.tail.out_channels}, h, w) images, "
                             f"got shape {tuple(x.shape)}")
        features = self.head(x)
        out = self.tail(self.upsample(features + self.fuse(self.blocks(features))))
        if self.residual_over_bicubic:
            out = out + bicubic(x, self.scale)
        return out


class Discriminator(nn.Module):
    """(N, C, H, W) images -> (N,) logits: > 0 means "real" (``BCEWithLogitsLoss`` target 1)."""

    def __init__(self, in_channels: int = 1, features: int = 64, stages: int = 4,
                 dense: int = 1024):
        super().__init__()
        if not all(isinstance(v, int) and v >= 1 for v in (in_channels, features, stages, dense)):
            raise ValueError(f"in_channels, features, stages and dense must be positive ints, got "
                             f"{in_channels, features, stages, dense}")
        layers = [nn.Conv2d(in_channels, features, 3, padding=1), nn.LeakyReLU(0.2),
                  nn.Conv2d(features, features, 3, stride=2, padding=1, bias=False),
                  nn.BatchNorm2d(features), nn.LeakyReLU(0.2)]
        width = features
        for _ in range(stages - 1):  # double the channels, then halve the map
            layers += [nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width),
                       nn.LeakyReLU(0.2),
                       nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2)]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, dense),
                                        nn.LeakyReLU(0.2), nn.Linear(dense, 1))

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.features[0].in_channels:
            raise ValueError(f"Discriminator expects (N, {self.features[0].in_channels}, H, W) images, "
                             f"got shape {tuple(x.shape)}")
        return self.classifier(self.features(x)).squeeze(1)


def bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upsampling by ``scale`` (torch's, a = -0.75; the baseline SR has to beat)."""
    return nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
