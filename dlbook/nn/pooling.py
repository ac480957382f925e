"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``. No parameters:
a fixed reduction per window."""

from __future__ import annotations

import numpy as np

from ..cnn_shapes import pair
from .functional.conv import (pool_geometry, avg_pool2d_backward, avg_pool2d_forward,
                              max_pool2d_backward, max_pool2d_forward)
from .functional.adaptive_pool import (adaptive_avg_pool2d_backward,
                                       adaptive_avg_pool2d_forward, resolve_output_size)
from .module import Module


def _pool_args(kernel_size, stride, padding):
    return pair(kernel_size, "kernel_size"), pair(kernel_size if stride is None else stride, "stride"), \
        pair(padding, "padding")


def _batched(layer: Module, x) -> tuple[np.ndarray, bool]:
    """(N, C, H, W) as it is, or unbatched (C, H, W) as a batch of one."""
    layer._check_input(x, (3, 4), "(N, C, H, W) or (C, H, W)")
    return (x[None], True) if x.ndim == 3 else (x, False)


def _batched_dy(dy, unbatched: bool):
    return dy[None] if unbatched and isinstance(dy, np.ndarray) else dy


def _unbatched(a: np.ndarray, unbatched: bool) -> np.ndarray:
    return a[0] if unbatched else a


class MaxPool2d(Module):
    """Largest value in each window, per channel: (N, C, H, W) -> (N, C, H_out, W_out).

    torch's arguments in torch's order. ``stride`` defaults to ``kernel_size`` (non-overlapping
    windows); ``ceil_mode`` rounds the output size up (a last, partial window); with
    ``return_indices`` the layer returns ``(y, indices)``, each index the flat position
    ``row * W + col`` of the maximum in its input plane (what ``MaxUnpool2d`` needs).
    Backward routes each window's gradient to the position of its maximum.
    """

    torch_args = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)
        self.dilation = pair(dilation, "dilation")
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)
        pool_geometry("MaxPool2d", self.kernel_size, self.stride, self.padding, self.dilation)  # validates

    def forward(self, x: np.ndarray):
        """x: (N, C, H, W) or unbatched (C, H, W) -> the same rank, pooled (and the indices)."""
        x4, unbatched = _batched(self, x)
        y, cache = max_pool2d_forward(x4, self.kernel_size, self.stride, self.padding, self.dilation,
                                      ceil_mode=self.ceil_mode)
        self.save_for_backward(cache, unbatched)
        y = _unbatched(y, unbatched)
        return (y, _unbatched(cache.indices, unbatched)) if self.return_indices else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: like the pooled output (not the indices) -> dx like the input."""
        cache, unbatched = self.saved_for_backward()
        return _unbatched(max_pool2d_backward(_batched_dy(dy, unbatched), cache), unbatched)


class AvgPool2d(Module):
    """Mean of each window, per channel: (N, C, H, W) -> (N, C, H_out, W_out).

    torch's arguments in torch's order: ``ceil_mode`` rounds the output size up;
    ``count_include_pad`` (default True) counts padded zeros in the mean;
    ``divisor_override`` divides every window sum by a fixed number.
    """

    torch_args = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_args(kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override
        pool_geometry("AvgPool2d", self.kernel_size, self.stride, self.padding)  # validates

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) or unbatched (C, H, W) -> the same rank, pooled."""
        x4, unbatched = _batched(self, x)
        y, cache = avg_pool2d_forward(x4, self.kernel_size, self.stride, self.padding,
                                      self.count_include_pad, self.divisor_override, ceil_mode=self.ceil_mode)
        self.save_for_backward(cache, unbatched)
        return _unbatched(y, unbatched)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        cache, unbatched = self.saved_for_backward()
        return _unbatched(avg_pool2d_backward(_batched_dy(dy, unbatched), cache), unbatched)


class AdaptiveAvgPool2d(Module):
    """The mean of each of ``output_size`` bins, per channel:
    (N, C, H, W) -> (N, C, H_out, W_out), like ``torch.nn.AdaptiveAvgPool2d``.

    ``output_size``: an int, or an (h, w) pair whose None keeps that input size. The
    bins follow from the input size with torch's edges, start = floor(i·H/H_out),
    end = ceil((i+1)·H/H_out) (:mod:`dlbook.nn.functional.adaptive_pool`), so inputs
    of any size give one output size: VGG and torchvision's AlexNet put one before
    their classifier. ``output_size=1`` is global average pooling.
    """

    torch_args = ("output_size",)

    def __init__(self, output_size) -> None:
        super().__init__()
        resolve_output_size(output_size, (1, 1))  # validates
        if isinstance(output_size, list):
            output_size = tuple(output_size)
        self.output_size = output_size

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) or unbatched (C, H, W) -> the same rank, (H_out, W_out)."""
        self._check_input(x, (3, 4), "(N, C, H, W) or (C, H, W)")
        y, cache = adaptive_avg_pool2d_forward(x, self.output_size)
        self.save_for_backward(cache)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: like the output -> dx like the input."""
        return adaptive_avg_pool2d_backward(dy, self.saved_for_backward())
