"""Pooling layers: ``MaxPool2d`` and ``AvgPool2d``. No parameters: a fixed reduction per window."""

from __future__ import annotations

import numpy as np

from ..cnn_shapes import pair
from .functional.conv import (pool_geometry, avg_pool2d_backward, avg_pool2d_forward,
                              max_pool2d_backward, max_pool2d_forward)
from .module import Module


def _pool_args(kernel_size, stride, padding):
    return pair(kernel_size, "kernel_size"), pair(kernel_size if stride is None else stride, "stride"), \
        pair(padding, "padding")


class MaxPool2d(Module):
    """Largest value in each window, per channel: (N, C, H, W) -> (N, C, H_out, W_out).

    ``stride`` defaults to ``kernel_size`` (non-overlapping windows), as in torch.
    Backward routes each window's gradient to the position of its maximum.
    ``ceil_mode`` and ``return_indices`` are not implemented.
    """

    torch_args = ("kernel_size", "stride", "padding", "dilation")

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)
        self.dilation = pair(dilation, "dilation")
        pool_geometry("MaxPool2d", self.kernel_size, self.stride, self.padding, self.dilation)  # validates

    @classmethod
    def from_torch_module(cls, module) -> "MaxPool2d":
        if module.ceil_mode or module.return_indices:
            raise NotImplementedError("MaxPool2d: ceil_mode=True and return_indices=True are not implemented")
        return cls(module.kernel_size, module.stride, module.padding, module.dilation)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, 4, "(N, C, H, W)")
        y, self._cache = max_pool2d_forward(x, self.kernel_size, self.stride, self.padding, self.dilation)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return max_pool2d_backward(dy, self._need_cache())


class AvgPool2d(Module):
    """Mean of each window, per channel: (N, C, H, W) -> (N, C, H_out, W_out).

    ``count_include_pad`` (default True, as torch) counts padded zeros in the mean;
    ``divisor_override`` divides every window sum by a fixed number. ``ceil_mode`` is not implemented.
    """

    torch_args = ("kernel_size", "stride", "padding", "count_include_pad", "divisor_override")

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override
        pool_geometry("AvgPool2d", self.kernel_size, self.stride, self.padding)  # validates

    @classmethod
    def from_torch_module(cls, module) -> "AvgPool2d":
        if module.ceil_mode:
            raise NotImplementedError("AvgPool2d: ceil_mode=True is not implemented")
        return cls(module.kernel_size, module.stride, module.padding, module.count_include_pad,
                   module.divisor_override)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, 4, "(N, C, H, W)")
        y, self._cache = avg_pool2d_forward(x, self.kernel_size, self.stride, self.padding,
                                            self.count_include_pad, self.divisor_override)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return avg_pool2d_backward(dy, self._need_cache())
