r"""Adaptive average pooling: choose the output size; the windows follow from it.

Along an axis of length $H$ pooled to $H_\text{out}$ values, output $i$ averages the
input rows $[\text{start}_i, \text{end}_i)$, with torch's bin edges

$$\text{start}_i = \left\lfloor \frac{i\,H}{H_\text{out}} \right\rfloor, \qquad
\text{end}_i = \left\lceil \frac{(i+1)\,H}{H_\text{out}} \right\rceil .$$

When $H_\text{out}$ divides $H$ these are plain windows of size and stride
$H/H_\text{out}$; otherwise neighbouring bins differ in size and may overlap.
``output_size=1`` is global average pooling (one mean per channel).

A 2-D bin is a row bin times a column bin, so the mean over it is separable:
$Y = A_h\, X\, A_w^\top$ for each (n, c), where row $i$ of the averaging matrix $A$
holds $1/(\text{end}_i - \text{start}_i)$ on its bin. The backward pass is the
transpose, $dX = A_h^\top\, dY\, A_w$.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def adaptive_pool_bins(in_size: int, out_size: int) -> list[tuple[int, int]]:
    """torch's bins ``[(start, end), ...]`` (end excluded) from in_size to out_size."""
    for name, value in (("in_size", in_size), ("out_size", out_size)):
        if not _is_int(value) or value < 1:
            raise ValueError(f"adaptive_pool_bins: {name} must be an int >= 1, "
                             f"got {value!r}")
    return [((i * in_size) // out_size, -(-((i + 1) * in_size) // out_size))
            for i in range(out_size)]


def averaging_matrix(in_size: int, out_size: int, dtype=np.float64) -> np.ndarray:
    """(out_size, in_size): row i averages bin i, so ``A @ v`` pools a vector ``v``."""
    matrix = np.zeros((out_size, in_size), dtype)
    for i, (start, end) in enumerate(adaptive_pool_bins(in_size, out_size)):
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def resolve_output_size(output_size, input_hw: tuple[int, int]) -> tuple[int, int]:
    """torch's ``output_size``: an int, or an (h, w) pair (None keeps the input's)."""
    if _is_int(output_size):
        sizes = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        sizes = tuple(output_size)
    else:
        sizes = (0, 0)  # refused below
    out = [int(n) if size is None else size for size, n in zip(sizes, input_hw)]
    if not all(_is_int(size) and size >= 1 for size in out):
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int >= 1 or a "
                         f"pair of them (None keeps that input size), "
                         f"got {output_size!r}")
    return int(out[0]), int(out[1])


@dataclass
class AdaptivePoolCache:
    """What :func:`adaptive_avg_pool2d_backward` needs: the two averaging matrices."""

    rows: np.ndarray     # A_h, (H_out, H)
    cols: np.ndarray     # A_w, (W_out, W)
    x_shape: tuple[int, ...]


def _check_images(x, who: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{who} expects a numpy.ndarray of shape (N, C, H, W) or "
                        f"(C, H, W), got {type(x).__name__}")
    if x.ndim not in (3, 4) or 0 in x.shape[-2:]:
        raise ValueError(f"{who} expects input of shape (N, C, H, W) or (C, H, W) "
                         f"with H, W >= 1, got shape {x.shape}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"{who} expects float32 or float64 input, got {x.dtype}")
    return x


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size
                                ) -> tuple[np.ndarray, AdaptivePoolCache]:
    """x (N, C, H, W) or (C, H, W) -> y (..., H_out, W_out): the mean of each bin."""
    _check_images(x, "adaptive_avg_pool2d")
    h, w = x.shape[-2:]
    out_h, out_w = resolve_output_size(output_size, (h, w))
    rows = averaging_matrix(h, out_h, x.dtype)
    cols = averaging_matrix(w, out_w, x.dtype)
    y = rows @ x @ cols.T               # (..., H_out, W), then (..., H_out, W_out)
    return y, AdaptivePoolCache(rows, cols, x.shape)


def adaptive_avg_pool2d(x: np.ndarray, output_size) -> np.ndarray:
    """Forward pass only, as ``torch.nn.functional.adaptive_avg_pool2d``."""
    return adaptive_avg_pool2d_forward(x, output_size)[0]


def adaptive_avg_pool2d_backward(dy: np.ndarray, cache: AdaptivePoolCache
                                 ) -> np.ndarray:
    """Each bin shares its gradient evenly among its pixels: dx = A_h^T dy A_w."""
    expected = cache.x_shape[:-2] + (cache.rows.shape[0], cache.cols.shape[0])
    if not isinstance(dy, np.ndarray) or dy.shape != expected:
        got = getattr(dy, "shape", type(dy).__name__)
        raise ValueError(f"adaptive_avg_pool2d_backward expects dy of shape {expected} "
                         f"(the output of the forward call it matches), got {got}")
    return cache.rows.T @ dy @ cache.cols
