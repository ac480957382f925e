r"""Convolution and pooling on (N, C, H, W) arrays, forward and backward, in NumPy.

Each operation comes as ``op(...)`` (forward only, the signature of ``torch.nn.functional``),
``op_forward(...) -> (y, cache)`` and ``op_backward(dy, cache)``: the cache holds exactly
what the backward pass reuses (for a convolution, the im2col matrix of the input).

Convolution, as torch computes it (a cross-correlation; no kernel flip), for output
channel $f$ in group $g$:

$$y_{n f r c} = b_f + \sum_{c' \in g} \sum_{i,j} W_{f, c', i, j}\; x^{\text{pad}}_{n, c', r s_h + i d_h, c s_w + j d_w}$$

With the input as a matrix of windows ``cols`` (see :mod:`dlbook.nn.im2col`), the forward
pass is $Y = W_\text{mat}\,\text{cols}$, and the backward pass is two more products:
$dW_\text{mat} = dY\,\text{cols}^\top$, $d\text{cols} = W_\text{mat}^\top dY$ (then ``col2im``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...cnn_shapes import pair, resolve_padding
from ..im2col import WindowGeometry, col2im, im2col

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_images(x, who: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{who} expects a numpy.ndarray of shape (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{who} expects input of shape (N, C, H, W), got shape {x.shape}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"{who} expects float32 or float64 input, got {x.dtype}")
    return x


def _positive_pair(value, name: str, who: str) -> tuple[int, int]:
    try:
        a, b = pair(value, name)
    except ValueError as e:
        raise ValueError(f"{who}: {e}") from None
    if a < 1 or b < 1:
        raise ValueError(f"{who}: {name} must be >= 1, got {value!r}")
    return a, b


# -- convolution -------------------------------------------------------------------------------
@dataclass
class ConvCache:
    """What :func:`conv2d_backward` needs: the input's im2col matrix, the weight and the geometry."""

    cols: np.ndarray          # (C·kh·kw, N·H_out·W_out)
    weight: np.ndarray        # (F, C/groups, kh, kw)
    x_shape: tuple[int, int, int, int]
    out_hw: tuple[int, int]
    geometry: WindowGeometry
    groups: int
    has_bias: bool


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1,
                   padding=0, dilation=1, groups: int = 1) -> tuple[np.ndarray, ConvCache]:
    """2-D convolution (cross-correlation) with zero padding.

    Parameters
    ----------
    x : (N, C, H, W)
    weight : (F, C/groups, kh, kw)
    bias : (F,) or None
    stride, dilation : int or (h, w) pair, >= 1
    padding : int, (h, w) pair, "valid" or "same" (stride 1), as in torch
    groups : C and F split into ``groups`` independent convolutions

    Returns
    -------
    y : (N, F, H_out, W_out), x's dtype
    cache : :class:`ConvCache`
    """
    who = "conv2d"
    _check_images(x, who)
    if not isinstance(weight, np.ndarray) or weight.ndim != 4:
        raise ValueError(f"{who} expects weight of shape (F, C/groups, kh, kw), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    if bias is not None and not isinstance(bias, np.ndarray):
        raise TypeError(f"{who} expects bias as a numpy.ndarray of shape (F,) or None, got {type(bias).__name__}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"{who}: input, weight and bias must share one dtype, got {x.dtype}, {weight.dtype}"
                        f"{'' if bias is None else ', ' + str(bias.dtype)}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    f, cg, kh, kw = weight.shape
    n, c, h, w = x.shape
    if c != cg * groups or f % groups:
        raise ValueError(f"{who}: weight of shape {weight.shape} with groups={groups} expects "
                         f"{cg * groups} input channels and out channels divisible by {groups}; "
                         f"got input of shape {x.shape}")
    if bias is not None and bias.shape != (f,):
        raise ValueError(f"{who}: bias must have shape ({f},), got {bias.shape}")
    stride, dilation = _positive_pair(stride, "stride", who), _positive_pair(dilation, "dilation", who)
    geometry = WindowGeometry((kh, kw), stride, resolve_padding(padding, (kh, kw), stride, dilation), dilation)
    cols, out_hw = im2col(x, geometry)
    y = np.matmul(weight.reshape(groups, f // groups, cg * kh * kw),
                  cols.reshape(groups, cg * kh * kw, cols.shape[1])).reshape(f, n, *out_hw)
    if bias is not None:
        y += bias[:, None, None, None]
    cache = ConvCache(cols, weight, (n, c, h, w), out_hw, geometry, int(groups), bias is not None)
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3)), cache


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> np.ndarray:
    """Forward pass only; arguments and shapes as :func:`conv2d_forward` (and ``F.conv2d``)."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


def conv2d_backward(dy: np.ndarray, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of a convolution.

    dy : (N, F, H_out, W_out) -> (dx (N, C, H, W), dweight (F, C/groups, kh, kw), dbias (F,) or None).
    """
    weight, g = cache.weight, cache.groups
    f, cg, kh, kw = weight.shape
    n = cache.x_shape[0]
    expected = (n, f) + tuple(cache.out_hw)
    if not isinstance(dy, np.ndarray) or dy.shape != expected:
        raise ValueError(f"conv2d_backward expects dy of shape {expected}, got {getattr(dy, 'shape', type(dy).__name__)}")
    k = cg * kh * kw
    dy_mat = dy.transpose(1, 0, 2, 3).reshape(g, f // g, -1)            # (G, F/G, N·Ho·Wo)
    cols = cache.cols.reshape(g, k, -1)                                  # (G, C/G·kh·kw, N·Ho·Wo)
    w_mat = weight.reshape(g, f // g, k)
    dweight = np.matmul(dy_mat, cols.transpose(0, 2, 1)).reshape(weight.shape)
    dcols = np.matmul(w_mat.transpose(0, 2, 1), dy_mat).reshape(g * k, -1)
    dx = col2im(dcols, cache.x_shape, cache.geometry)
    dbias = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return dx, dweight, dbias


# -- pooling -----------------------------------------------------------------------------------
@dataclass
class PoolCache:
    """What the pooling backward passes need."""

    x_shape: tuple[int, int, int, int]
    out_hw: tuple[int, int]
    geometry: WindowGeometry
    argmax: np.ndarray | None = None    # max-pooling: winning tap per window, (C, N·Ho·Wo)
    divisor: np.ndarray | None = None   # avg-pooling: divisor per output pixel, (Ho, Wo)


def pool_geometry(who: str, kernel_size, stride, padding, dilation=1) -> WindowGeometry:
    """Checked pooling windows; ``stride=None`` means ``kernel_size``; padding at most half the kernel (torch's rule)."""
    kernel = _positive_pair(kernel_size, "kernel_size", who)
    stride = kernel if stride is None else _positive_pair(stride, "stride", who)
    dilation = _positive_pair(dilation, "dilation", who)
    ph, pw = pair(padding, "padding")
    for p, k in ((ph, kernel[0]), (pw, kernel[1])):
        if p < 0 or p > k // 2:  # torch's rule: at most half the kernel size
            raise ValueError(f"{who}: padding must be between 0 and half the kernel size, got padding="
                             f"{padding!r} for kernel_size={kernel_size!r}")
    return WindowGeometry(kernel, stride, ((ph, ph), (pw, pw)), dilation)


def _nchw(y_cnhw: np.ndarray, n: int, out_hw) -> np.ndarray:
    """(C, N·Ho·Wo) -> contiguous (N, C, Ho, Wo)."""
    return np.ascontiguousarray(y_cnhw.reshape(-1, n, *out_hw).transpose(1, 0, 2, 3))


def max_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0,
                       dilation=1) -> tuple[np.ndarray, PoolCache]:
    """Maximum over each window (padding never wins: it is -inf).

    x : (N, C, H, W) -> y : (N, C, H_out, W_out). ``stride`` defaults to ``kernel_size``.
    Ties go to the first tap in row-major order, as in torch.
    """
    who = "max_pool2d"
    _check_images(x, who)
    geometry = pool_geometry(who, kernel_size, stride, padding, dilation)
    cols, out_hw = im2col(x, geometry, fill=-np.inf)
    n, c = x.shape[:2]
    cols = cols.reshape(c, -1, cols.shape[1])            # (C, kh·kw, N·Ho·Wo)
    argmax = cols.argmax(axis=1)                          # (C, N·Ho·Wo)
    y = np.take_along_axis(cols, argmax[:, None, :], axis=1)[:, 0]
    return _nchw(y, n, out_hw), PoolCache(x.shape, out_hw, geometry, argmax=argmax)


def max_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1) -> np.ndarray:
    return max_pool2d_forward(x, kernel_size, stride, padding, dilation)[0]


def max_pool2d_backward(dy: np.ndarray, cache: PoolCache) -> np.ndarray:
    """The whole gradient of each window goes to its maximum: dy (N, C, Ho, Wo) -> dx (N, C, H, W)."""
    n, c = cache.x_shape[:2]
    _check_pool_dy(dy, (n, c) + tuple(cache.out_hw), "max_pool2d_backward")
    taps = cache.geometry.kernel[0] * cache.geometry.kernel[1]
    dcols = np.zeros((c, taps, cache.argmax.shape[1]), dtype=dy.dtype)
    np.put_along_axis(dcols, cache.argmax[:, None, :], dy.transpose(1, 0, 2, 3).reshape(c, 1, -1), axis=1)
    return col2im(dcols, cache.x_shape, cache.geometry)


def _check_pool_dy(dy, expected, who: str) -> None:
    if not isinstance(dy, np.ndarray) or dy.shape != expected:
        raise ValueError(f"{who} expects dy of shape {expected}, got {getattr(dy, 'shape', type(dy).__name__)}")


def _avg_divisor(geometry: WindowGeometry, h: int, w: int, out_hw, count_include_pad: bool,
                 divisor_override) -> np.ndarray:
    """(Ho, Wo) number each window's sum is divided by, following torch's rules."""
    if divisor_override is not None:
        return np.full(out_hw, float(divisor_override))
    counts = []
    for size, k, s, (p, _), o in zip((h, w), geometry.kernel, geometry.stride, geometry.padding, out_hw):
        start = np.arange(o) * s - p                  # first tap of each window, in input coordinates
        end = np.minimum(start + k, size + p)          # torch clips windows to the padded input
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, size) - np.maximum(start, 0))
    return np.multiply.outer(counts[0], counts[1]).astype(np.float64)


def avg_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0, count_include_pad: bool = True,
                       divisor_override: int | None = None) -> tuple[np.ndarray, PoolCache]:
    """Mean over each window: x (N, C, H, W) -> y (N, C, H_out, W_out).

    ``count_include_pad`` counts padded zeros in the divisor (torch's default);
    ``divisor_override`` replaces the divisor altogether.
    """
    who = "avg_pool2d"
    _check_images(x, who)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer)) or divisor_override < 1):
        raise ValueError(f"{who}: divisor_override must be a positive int or None, got {divisor_override!r}")
    geometry = pool_geometry(who, kernel_size, stride, padding)
    cols, out_hw = im2col(x, geometry)
    n, c = x.shape[:2]
    divisor = _avg_divisor(geometry, *x.shape[2:], out_hw, count_include_pad, divisor_override)
    sums = cols.reshape(c, -1, n, *out_hw).sum(axis=1)          # (C, N, Ho, Wo)
    y = sums / divisor.astype(x.dtype)
    return _nchw(y, n, out_hw), PoolCache(x.shape, out_hw, geometry, divisor=divisor)


def avg_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, count_include_pad: bool = True,
               divisor_override: int | None = None) -> np.ndarray:
    return avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad, divisor_override)[0]


def avg_pool2d_backward(dy: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Each window spreads dy / divisor evenly over its taps: dy (N, C, Ho, Wo) -> dx (N, C, H, W)."""
    n, c = cache.x_shape[:2]
    _check_pool_dy(dy, (n, c) + tuple(cache.out_hw), "avg_pool2d_backward")
    taps = math.prod(cache.geometry.kernel)
    share = (dy / cache.divisor.astype(dy.dtype)).transpose(1, 0, 2, 3).reshape(c, 1, -1)
    dcols = np.broadcast_to(share, (c, taps, share.shape[2]))
    return col2im(dcols.reshape(c * taps, -1), cache.x_shape, cache.geometry)
