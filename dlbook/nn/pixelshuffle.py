"""``PixelShuffle`` and ``PixelUnshuffle`` (``torch.nn``): channels into space and back.

No parameters. The math is in :mod:`dlbook.nn.functional.pixelshuffle`; a layer only
remembers the output's shape, so that its backward pass can check dy before undoing
the rearrangement.
"""

from __future__ import annotations

import numpy as np

from .functional.pixelshuffle import (check_factor, check_input, pixel_shuffle,
                                      pixel_unshuffle)
from .module import Module


class PixelShuffle(Module):
    """(*, C·r², H, W) -> (*, C, H·r, W·r), r = ``upscale_factor``."""

    torch_args = ("upscale_factor",)

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = check_factor(upscale_factor, "PixelShuffle",
                                           "upscale_factor")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(*, C·r², H, W)")
        check_input(x, self.upscale_factor, "PixelShuffle", "upscale_factor")
        y = pixel_shuffle(x, self.upscale_factor)
        self.save_for_backward(y.shape)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """d input: dy's entries moved back where they came from (pixel_unshuffle)."""
        self._check_grad_output(dy, self.saved_for_backward())
        return pixel_unshuffle(dy, self.upscale_factor)


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) -> (*, C·r², H, W), r = ``downscale_factor``; undoes
    :class:`PixelShuffle`."""

    torch_args = ("downscale_factor",)

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = check_factor(downscale_factor, "PixelUnshuffle",
                                             "downscale_factor")

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(*, C, H·r, W·r)")
        check_input(x, self.downscale_factor, "PixelUnshuffle", "downscale_factor")
        y = pixel_unshuffle(x, self.downscale_factor)
        self.save_for_backward(y.shape)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """d input: pixel_shuffle(dy)."""
        self._check_grad_output(dy, self.saved_for_backward())
        return pixel_shuffle(dy, self.downscale_factor)
