r"""Pixel shuffle (sub-pixel convolution, Shi et al. 2016) and its inverse, as in
``torch.nn.functional``.

``pixel_shuffle`` with factor $r$ moves channels into space,
(*, C·r², H, W) -> (*, C, H·r, W·r):

$$y[c,\ h r + i,\ w r + j] = x[c r^2 + i r + j,\ h,\ w], \qquad 0 \le i, j < r .$$

Each group of $r^2$ channels becomes the $r \times r$ block of sub-pixels at every
input position: an ESPCN network computes all channels at low resolution, and this
one rearrangement makes the high-resolution picture. ``pixel_unshuffle`` is the
exact inverse. Both only move entries, so the backward pass of one is the other
applied to the upstream gradient. Any number of leading (batch) dimensions is
allowed, as in torch.
"""

from __future__ import annotations

import numbers

import numpy as np


def check_factor(factor, name: str, factor_name: str) -> int:
    """The factor as an int; a clear error unless it is a positive int (not 2.0)."""
    integral = isinstance(factor, numbers.Integral) and not isinstance(factor, bool)
    if not integral or factor < 1:
        raise ValueError(f"{name} expects a positive int {factor_name}, got {factor!r}")
    return int(factor)


def check_input(x, factor, name: str, factor_name: str) -> None:
    """A clear error unless x is an array (*, C, H, W) and factor a positive int."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} expects a numpy.ndarray of shape (*, C, H, W), "
                        f"got {type(x).__name__}")
    check_factor(factor, name, factor_name)
    if x.ndim < 3:
        raise ValueError(f"{name} expects input of shape (*, C, H, W) with at least 3 "
                         f"dimensions, got shape {x.shape}")


def pixel_shuffle(x: np.ndarray, upscale_factor: int) -> np.ndarray:
    """(*, C·r², H, W) -> (*, C, H·r, W·r) with r = ``upscale_factor``."""
    check_input(x, upscale_factor, "pixel_shuffle", "upscale_factor")
    r = int(upscale_factor)
    *batch, channels, height, width = x.shape
    if channels % (r * r):
        raise ValueError(f"pixel_shuffle expects the channel axis (size {channels}, "
                         f"axis -3 of shape {x.shape}) to be divisible by "
                         f"upscale_factor² = {r * r}")
    c, nb = channels // (r * r), len(batch)
    # channel c·r² + i·r + j -> (c, i, j)
    blocks = x.reshape(*batch, c, r, r, height, width)
    order = (*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)  # (*, c, h, i, w, j)
    return blocks.transpose(order).reshape(*batch, c, height * r, width * r)


def pixel_unshuffle(x: np.ndarray, downscale_factor: int) -> np.ndarray:
    """(*, C, H·r, W·r) -> (*, C·r², H, W) with r = ``downscale_factor``:
    undoes :func:`pixel_shuffle`."""
    check_input(x, downscale_factor, "pixel_unshuffle", "downscale_factor")
    r = int(downscale_factor)
    *batch, channels, height, width = x.shape
    if height % r or width % r:
        raise ValueError(f"pixel_unshuffle expects height and width (the last two "
                         f"axes of shape {x.shape}) to be divisible by "
                         f"downscale_factor = {r}")
    h, w, nb = height // r, width // r, len(batch)
    blocks = x.reshape(*batch, channels, h, r, w, r)  # (*, c, h, i, w, j)
    order = (*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)  # (*, c, i, j, h, w)
    return blocks.transpose(order).reshape(*batch, channels * r * r, h, w)


def pixel_shuffle_backward(dy: np.ndarray, upscale_factor: int) -> np.ndarray:
    """d input of :func:`pixel_shuffle`: dy's entries moved back by pixel_unshuffle."""
    return pixel_unshuffle(dy, upscale_factor)


def pixel_unshuffle_backward(dy: np.ndarray, downscale_factor: int) -> np.ndarray:
    """d input of :func:`pixel_unshuffle`: pixel_shuffle(dy, r)."""
    return pixel_shuffle(dy, downscale_factor)
