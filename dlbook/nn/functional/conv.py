r"""Convolution and pooling on (N, C, H, W) arrays, forward and backward, in NumPy.

Each operation comes as ``op(...)`` (forward only, the signature of
``torch.nn.functional``), ``op_forward(...) -> (y, cache)`` and
``op_backward(dy, cache)``: the cache holds exactly what the backward pass reuses (for a
convolution, the input, whose im2col matrix the backward pass rebuilds).

Convolution, as torch computes it (a cross-correlation; no kernel flip), for output
channel $f$ in group $g$:

$$y_{n f r c} = b_f + \sum_{c' \in g} \sum_{i,j} W_{f, c', i, j}\;
  x^{\text{pad}}_{n, c', r s_h + i d_h, c s_w + j d_w}$$

With the input as a matrix of windows ``cols`` (see :mod:`dlbook.nn.im2col`), the
forward pass is $Y = W_\text{mat}\,\text{cols}$, and the backward pass is two more
products: $dW_\text{mat} = dY\,\text{cols}^\top$, $d\text{cols} = W_\text{mat}^\top dY$
(then ``col2im``). Both passes go through the batch a block of images at a time
(:func:`image_blocks`); a 1×1 convolution needs no im2col at all (:func:`is_pointwise`),
and a stride-1 convolution reads shifted slices of the flattened padded images instead
(:func:`shifted_taps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ...cnn_shapes import conv_output_size, pair, resolve_padding
from ..im2col import WindowGeometry, col2im, im2col

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_images(x, who: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{who} expects a numpy.ndarray of shape (N, C, H, W), "
                        f"got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{who} expects input of shape (N, C, H, W), "
                         f"got shape {x.shape}")
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


# -- convolution -----------------------------------------------------------------------
#: Images go through im2col a block at a time, as many as make a matrix of about this
#: many bytes: the products then read it while it is still in the CPU's cache, and no
#: temporary is so large that the allocator maps fresh pages from the operating system
#: on every call.
BLOCK_BYTES = 2 ** 21


@dataclass
class ConvCache:
    """What :func:`conv2d_backward` needs: the input (not a copy), weight and geometry.

    The backward pass rebuilds the input's im2col matrix (or its shifted taps), a block of
    images at a time, rather than keeping the whole matrix (k_h·k_w times the input's
    size) alive between the passes.
    """

    x: np.ndarray             # (N, C, H, W)
    weight: np.ndarray        # (F, C/groups, kh, kw)
    out_hw: tuple[int, int]
    geometry: WindowGeometry
    groups: int
    has_bias: bool


def is_pointwise(geometry: WindowGeometry) -> bool:
    """A 1×1 kernel, stride 1, no padding: each window is one pixel, so the convolution
    is one matrix product per image, ``W (F, C) @ x[n] (C, H·W)``: no im2col needed."""
    return (geometry.kernel == (1, 1) and geometry.stride == (1, 1)
            and geometry.padding == ((0, 0), (0, 0)))


def image_blocks(x: np.ndarray, geometry: WindowGeometry, out_hw: tuple[int, int]):
    """Consecutive blocks of x's images with their im2col matrices (~BLOCK_BYTES each).

    Yields (images, cols): ``images`` a slice of the batch axis, ``cols`` of shape
    (C·kh·kw, nb·H_out·W_out) for the nb images in it.
    """
    n, c = x.shape[:2]
    per_image = c * geometry.kernel[0] * geometry.kernel[1] * out_hw[0] * out_hw[1]
    nb = max(1, BLOCK_BYTES // max(1, per_image * x.itemsize))
    for start in range(0, n, nb):
        images = slice(start, min(start + nb, n))
        yield images, im2col(x[images], geometry)[0]


def is_shifted(geometry: WindowGeometry) -> bool:
    """Stride 1: every kernel tap is one shift of the flattened padded image, so
    :func:`shifted_taps` needs no strided gather (a plain 1×1 needs not even that,
    :func:`is_pointwise` is tried first)."""
    return geometry.stride == (1, 1)


@dataclass
class ShiftedGrid:
    """A stride-1 convolution on the flattened padded image (``Hp·Wp`` pixels per channel).

    Tap (i, j) of the window whose top-left pixel is ``t`` sits at ``t + offsets[i·kw + j]``
    (``offsets = i·dh·Wp + j·dw``). The output computed at every ``t < length`` lands on
    the same padded grid; pixel (r, c) of the true output is grid pixel ``r·Wp + c``, and
    the grid pixels past the output's right or bottom edge are discarded.
    """

    padded_hw: tuple[int, int]
    offsets: list[int]
    length: int                     # Hp·Wp - offsets[-1]: windows that fit in the image

    @classmethod
    def of(cls, geometry: WindowGeometry, h: int, w: int) -> "ShiftedGrid":
        (kh, kw), (dh, dw) = geometry.kernel, geometry.dilation
        (pt, pb), (pl, pr) = geometry.padding
        hp, wp = h + pt + pb, w + pl + pr
        offsets = [i * dh * wp + j * dw for i in range(kh) for j in range(kw)]
        return cls((hp, wp), offsets, hp * wp - offsets[-1])


def pad_images(x: np.ndarray, padding) -> np.ndarray:
    """(nb, C, H, W) -> (nb, C, Hp·Wp): zero-padded images, each channel flattened."""
    (pt, pb), (pl, pr) = padding
    nb, c, h, w = x.shape
    if pt == pb == pl == pr == 0:
        return x.reshape(nb, c, h * w)
    xp = np.zeros((nb, c, h + pt + pb, w + pl + pr), dtype=x.dtype)
    xp[:, :, pt:pt + h, pl:pl + w] = x
    return xp.reshape(nb, c, -1)


def shifted_taps(x: np.ndarray, geometry: WindowGeometry):
    """Stride 1: consecutive blocks of x's images with their windows, ~BLOCK_BYTES each.

    Yields (images, taps, grid): ``taps`` of shape (nb, C·kh·kw, length), row (c, i, j)
    the padded channel c shifted by tap (i, j) (:class:`ShiftedGrid`): contiguous
    slices, copied without a gather and with no transpose of the batch axis.
    """
    n, c, h, w = x.shape
    grid = ShiftedGrid.of(geometry, h, w)
    per_image = c * len(grid.offsets) * grid.length * x.itemsize
    nb = max(1, BLOCK_BYTES // max(1, per_image))
    for start in range(0, n, nb):
        images = slice(start, min(start + nb, n))
        flat = pad_images(x[images], geometry.padding)
        taps = np.empty(flat.shape[:2] + (len(grid.offsets), grid.length), x.dtype)
        for k, offset in enumerate(grid.offsets):
            taps[:, :, k] = flat[:, :, offset:offset + grid.length]
        yield images, taps.reshape(flat.shape[0], -1, grid.length), grid


def _output_blocks(x: np.ndarray, w_mat: np.ndarray, geometry: WindowGeometry,
                   out_hw: tuple[int, int]):
    """(images, y) with y of shape (F, nb, H_out, W_out), a block of images at a time."""
    g, k = w_mat.shape[0], w_mat.shape[2]
    if is_shifted(geometry):            # y on the padded grid = W_mat @ taps, then crop
        for images, taps, grid in shifted_taps(x, geometry):
            nb = taps.shape[0]
            y = np.empty((nb, g * w_mat.shape[1]) + grid.padded_hw, x.dtype)  # tail unread
            np.matmul(w_mat, taps.reshape(nb, g, k, -1),
                      out=y.reshape(nb, g, w_mat.shape[1], -1)[..., :grid.length])
            yield images, y[:, :, :out_hw[0], :out_hw[1]].transpose(1, 0, 2, 3)
        return
    for images, cols in image_blocks(x, geometry, out_hw):  # cols: (C·kh·kw, nb·Ho·Wo)
        y = np.matmul(w_mat, cols.reshape(g, k, -1))
        yield images, y.reshape(g * w_mat.shape[1], -1, *out_hw)


def conv2d_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                   stride=1, padding=0, dilation=1,
                   groups: int = 1) -> tuple[np.ndarray, ConvCache]:
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

    Per block of images (see :func:`image_blocks`), ``y = W_mat @ cols``; a 1×1
    convolution with stride 1 and no padding skips im2col (see :func:`is_pointwise`),
    and so does any other stride-1 convolution (see :func:`shifted_taps`).
    """
    who = "conv2d"
    _check_images(x, who)
    if not isinstance(weight, np.ndarray) or weight.ndim != 4:
        raise ValueError(f"{who} expects weight of shape (F, C/groups, kh, kw), got "
                         f"{getattr(weight, 'shape', type(weight).__name__)}")
    if bias is not None and not isinstance(bias, np.ndarray):
        raise TypeError(f"{who} expects bias as a numpy.ndarray of shape (F,) or None, "
                        f"got {type(bias).__name__}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"{who}: input, weight and bias must share one dtype, got "
                        f"{x.dtype}, {weight.dtype}"
                        f"{'' if bias is None else ', ' + str(bias.dtype)}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    f, cg, kh, kw = weight.shape
    n, c, h, w = x.shape
    if c != cg * groups or f % groups:
        raise ValueError(f"{who}: weight of shape {weight.shape} with groups={groups} "
                         f"expects {cg * groups} input channels and out channels "
                         f"divisible by {groups}; got input of shape {x.shape}")
    if bias is not None and bias.shape != (f,):
        raise ValueError(f"{who}: bias must have shape ({f},), got {bias.shape}")
    stride = _positive_pair(stride, "stride", who)
    dilation = _positive_pair(dilation, "dilation", who)
    padding = resolve_padding(padding, (kh, kw), stride, dilation)
    geometry = WindowGeometry((kh, kw), stride, padding, dilation)
    out_hw = geometry.output_hw(h, w)
    g = int(groups)
    w_mat = weight.reshape(g, f // g, cg * kh * kw)
    cache = ConvCache(x, weight, out_hw, geometry, g, bias is not None)
    if is_pointwise(geometry):                  # y[n] = W_mat @ x[n], group by group
        y = np.matmul(w_mat, x.reshape(n, g, cg, h * w)).reshape(n, f, h, w)
        if bias is not None:
            y += bias[:, None, None]
        return y, cache
    out = np.empty((n, f) + out_hw, dtype=x.dtype)
    for images, y in _output_blocks(x, w_mat, geometry, out_hw):   # y: (F, nb, Ho, Wo)
        if bias is not None:
            y += bias[:, None, None, None]
        out[images] = y.transpose(1, 0, 2, 3)               # (F, nb, ..) -> (nb, F, ..)
    return out, cache


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1,
           padding=0, dilation=1, groups: int = 1) -> np.ndarray:
    """Forward pass only; arguments and shapes as :func:`conv2d_forward` (F.conv2d)."""
    return conv2d_forward(x, weight, bias, stride, padding, dilation, groups)[0]


def conv2d_backward(dy: np.ndarray, cache: ConvCache
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients of a convolution.

    dy : (N, F, H_out, W_out) -> (dx (N, C, H, W), dweight (F, C/groups, kh, kw),
    dbias (F,) or None).
    """
    weight, g, geometry = cache.weight, cache.groups, cache.geometry
    f, cg, kh, kw = weight.shape
    n, c, h, w = cache.x.shape
    expected = (n, f) + tuple(cache.out_hw)
    if not isinstance(dy, np.ndarray) or dy.shape != expected:
        raise ValueError(f"conv2d_backward expects dy of shape {expected}, "
                         f"got {getattr(dy, 'shape', type(dy).__name__)}")
    k = cg * kh * kw
    w_mat = weight.reshape(g, f // g, k)
    dtype = np.result_type(dy, weight)
    if is_pointwise(geometry):          # per image: dW += dY[n] X[n]ᵀ, dX[n] = Wᵀ dY[n]
        x = cache.x.reshape(n, g, cg, h * w)
        dy_4 = dy.reshape(n, g, f // g, h * w)
        dweight = np.zeros(w_mat.shape, dtype)
        for image in range(n):          # one image at a time: no (N, F, C) temporary
            dweight += np.matmul(dy_4[image], x[image].transpose(0, 2, 1))
        dx = np.matmul(w_mat.transpose(0, 2, 1), dy_4).reshape(n, c, h, w)
    elif is_shifted(geometry):
        dweight, dx = _shifted_backward(dy, cache, w_mat)
    else:
        dweight, dx = np.zeros(w_mat.shape, dtype), np.empty((n, c, h, w), dtype)
        for images, cols in image_blocks(cache.x, geometry, cache.out_hw):
            dy_mat = dy[images].transpose(1, 0, 2, 3).reshape(g, f // g, -1)
            cols = cols.reshape(g, k, -1)       # (G, k, nb·Ho·Wo); dy_mat (G, F/G, ...)
            dweight += np.matmul(dy_mat, cols.transpose(0, 2, 1))
            dcols = np.matmul(w_mat.transpose(0, 2, 1), dy_mat).reshape(g * k, -1)
            dx[images] = col2im(dcols, cache.x[images].shape, geometry)
    dbias = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return dx, dweight.reshape(weight.shape), dbias


def _shifted_backward(dy: np.ndarray, cache: ConvCache, w_mat: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Stride 1: dW_mat = dY·tapsᵀ and dtaps = W_matᵀ·dY on the padded grid, then each
    tap's rows are added back at its shift (the adjoint of the slicing) and the padding
    is cropped. dY sits on the grid with zeros where the forward pass discarded pixels."""
    g, k = w_mat.shape[0], w_mat.shape[2]
    n, c, h, w = cache.x.shape
    (ho, wo), ((pt, _), (pl, _)) = cache.out_hw, cache.geometry.padding
    dtype = np.result_type(dy, w_mat)
    dweight, dx = np.zeros(w_mat.shape, dtype), np.empty((n, c, h, w), dtype)
    for images, taps, grid in shifted_taps(cache.x, cache.geometry):
        nb, length = taps.shape[0], grid.length
        dy_grid = np.zeros((nb, dy.shape[1]) + grid.padded_hw, dtype)
        dy_grid[:, :, :ho, :wo] = dy[images]
        dy_grid = dy_grid.reshape(nb, g, -1, grid.padded_hw[0] * grid.padded_hw[1])
        dy_mat = dy_grid[..., :length]                      # (nb, G, F/G, length)
        dweight += np.matmul(dy_mat, taps.reshape(nb, g, k, -1).transpose(0, 1, 3, 2)).sum(0)
        dtaps = np.matmul(w_mat.transpose(0, 2, 1), dy_mat).reshape(nb, c, -1, length)
        dx_grid = np.zeros((nb, c, grid.padded_hw[0] * grid.padded_hw[1]), dtype)
        for tap, offset in enumerate(grid.offsets):
            dx_grid[:, :, offset:offset + length] += dtaps[:, :, tap]
        dx[images] = dx_grid.reshape(nb, c, *grid.padded_hw)[:, :, pt:pt + h, pl:pl + w]
    return dweight, dx


# -- pooling -----------------------------------------------------------------------------------
@dataclass
class PoolCache:
    """What the pooling backward passes need (and, for max-pooling, torch's ``indices``)."""

    x_shape: tuple[int, int, int, int]
    out_hw: tuple[int, int]
    geometry: WindowGeometry            # the windows im2col read; with ceil_mode the bottom/right
                                        # padding is widened so that a last, partial window fits
    argmax: np.ndarray | None = None    # max-pooling: winning tap per window, (C, N·Ho·Wo)
    divisor: np.ndarray | None = None   # avg-pooling: divisor per output pixel, (Ho, Wo)
    indices: np.ndarray | None = None   # max-pooling: int64 (N, C, Ho, Wo), winner's row * W + col (torch's)
    ceil_mode: bool = False


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


def pool_windows(who: str, geometry: WindowGeometry, h: int, w: int,
                 ceil_mode: bool = False) -> tuple[WindowGeometry, tuple[int, int]]:
    """The windows over an (H, W) input, and (H_out, W_out).

    ``ceil_mode`` (torch) rounds the number of windows up (see
    :func:`dlbook.cnn_shapes.conv_output_size`); the last window may then run past the padded
    input, so the bottom/right padding is widened until it fits. The extra border is filled
    like the padding (-inf for max, 0 for avg) and is never part of the input.
    """
    out_hw, padding = [], []
    for size, k, s, d, (p, _) in zip((h, w), geometry.kernel, geometry.stride, geometry.dilation,
                                      geometry.padding):
        try:
            out = conv_output_size(size, k, s, p, d, ceil_mode=ceil_mode)
        except ValueError as e:
            raise ValueError(f"{who}: {e}") from None
        needed = (out - 1) * s + d * (k - 1) + 1           # padded length the last window reaches
        out_hw.append(out)
        padding.append((p, max(p, needed - size - p)))
    return replace(geometry, padding=tuple(padding)), tuple(out_hw)


def _nchw(y_cnhw: np.ndarray, n: int, out_hw) -> np.ndarray:
    """(C, N·Ho·Wo) -> contiguous (N, C, Ho, Wo)."""
    return np.ascontiguousarray(y_cnhw.reshape(-1, n, *out_hw).transpose(1, 0, 2, 3))


def _first_tap_inside(out: int, s: int, p: int, d: int) -> np.ndarray:
    """Per window along one axis, the first tap at or after input row/column 0 (torch skips the
    leading padding this way). It is one of the window's k taps, as padding is at most k // 2."""
    start = np.arange(out) * s - p
    return -(np.minimum(start, 0) // d)                   # ceil(max(0, -start) / d)


def max_pool2d_forward(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
                       ceil_mode: bool = False) -> tuple[np.ndarray, PoolCache]:
    """Maximum over each window (padding never wins: it is -inf).

    x : (N, C, H, W) -> y : (N, C, H_out, W_out). ``stride`` defaults to ``kernel_size``;
    ``ceil_mode`` as in torch (see :func:`pool_windows`). ``cache.indices`` holds torch's
    ``return_indices``: for each output, ``row * W + col`` of the winner in its input plane.

    Winners follow torch's CPU kernel: ties go to the first tap in row-major order; a window
    holding NaN returns NaN and the *last* NaN's position; a window of only -inf picks its
    first tap inside the input. A dilated window with no tap inside the input gives -inf,
    torch's index (which may lie outside the plane) and no gradient.
    """
    who = "max_pool2d"
    _check_images(x, who)
    n, c, h, w = x.shape
    geometry, out_hw = pool_windows(who, pool_geometry(who, kernel_size, stride, padding, dilation),
                                    h, w, ceil_mode)
    cols, _ = im2col(x, geometry, fill=-np.inf)
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    (pt, _), (pl, _) = geometry.padding
    cols = cols.reshape(c, kh * kw, cols.shape[1])        # (C, kh·kw, N·Ho·Wo)
    argmax = cols.argmax(axis=1)                          # (C, N·Ho·Wo); first max, or first NaN
    y = np.take_along_axis(cols, argmax[:, None, :], axis=1)[:, 0]
    ti, tj = np.divmod(argmax, kw)                        # winning tap (row, col) in the window
    r = np.arange(argmax.shape[1]) // out_hw[1] % out_hw[0]   # output row and column of each window
    q = np.arange(argmax.shape[1]) % out_hw[1]

    ci, mi = np.nonzero(np.isnan(y))                      # torch keeps the last NaN of a window
    if ci.size:
        last = kh * kw - 1 - np.isnan(cols[ci, :, mi][:, ::-1]).argmax(axis=1)
        argmax[ci, mi] = last
        ti[ci, mi], tj[ci, mi] = np.divmod(last, kw)

    ci, mi = np.nonzero(y == -np.inf)                     # all -inf: torch's first tap inside the input
    if ci.size:                                           # (for an empty window, a padding tap: no gradient)
        fi, fj = _first_tap_inside(out_hw[0], sh, pt, dh), _first_tap_inside(out_hw[1], sw, pl, dw)
        ti[ci, mi], tj[ci, mi] = fi[r[mi]], fj[q[mi]]
        argmax[ci, mi] = ti[ci, mi] * kw + tj[ci, mi]

    rows, cols_ = r * sh - pt + ti * dh, q * sw - pl + tj * dw
    indices = _nchw((rows * w + cols_).astype(np.int64), n, out_hw)
    cache = PoolCache(x.shape, out_hw, geometry, argmax=argmax, indices=indices, ceil_mode=bool(ceil_mode))
    return _nchw(y, n, out_hw), cache


def max_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """Forward pass only, as ``F.max_pool2d``: y, or (y, indices) with ``return_indices``."""
    y, cache = max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, cache.indices) if return_indices else y


def max_pool2d_with_indices(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(y, indices), as ``F.max_pool2d_with_indices``: indices int64 of y's shape, ``row * W + col``."""
    y, cache = max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
    return y, cache.indices


def max_pool2d_backward(dy: np.ndarray, cache: PoolCache) -> np.ndarray:
    """The whole gradient of each window goes to its maximum: dy (N, C, Ho, Wo) -> dx (N, C, H, W)."""
    n, c = cache.x_shape[:2]
    _check_pool_dy(dy, (n, c) + tuple(cache.out_hw), "max_pool2d_backward")
    taps = cache.geometry.kernel[0] * cache.geometry.kernel[1]
    dcols = np.zeros((c, taps, cache.argmax.shape[1]), dtype=dy.dtype)
    np.put_along_axis(dcols, cache.argmax[:, None, :], dy.transpose(1, 0, 2, 3).reshape(c, 1, -1), axis=1)
    return col2im(dcols, cache.x_shape, cache.geometry)   # crops the padding: its taps never pass on gradient


def _check_pool_dy(dy, expected, who: str) -> None:
    if not isinstance(dy, np.ndarray) or dy.shape != expected:
        raise ValueError(f"{who} expects dy of shape {expected}, got {getattr(dy, 'shape', type(dy).__name__)}")


def _avg_divisor(geometry: WindowGeometry, h: int, w: int, out_hw, count_include_pad: bool,
                 divisor_override) -> np.ndarray:
    """(Ho, Wo) number each window's sum is divided by, following torch's rules.

    torch first clips a window to the input plus its (symmetric) padding; with
    ``count_include_pad`` that clipped length is the count, else the part inside the input.
    So a ceil_mode window hanging past the padding counts only what lies within it.
    """
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
                       divisor_override: int | None = None, *,
                       ceil_mode: bool = False) -> tuple[np.ndarray, PoolCache]:
    """Mean over each window: x (N, C, H, W) -> y (N, C, H_out, W_out).

    ``count_include_pad`` counts padded zeros in the divisor (torch's default);
    ``divisor_override`` replaces the divisor altogether; ``ceil_mode`` as in torch (see
    :func:`pool_windows` and :func:`_avg_divisor`). ``ceil_mode`` is keyword-only here: in
    ``F.avg_pool2d`` it comes before ``count_include_pad``.
    """
    who = "avg_pool2d"
    _check_images(x, who)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer)) or divisor_override < 1):
        raise ValueError(f"{who}: divisor_override must be a positive int or None, got {divisor_override!r}")
    geometry, out_hw = pool_windows(who, pool_geometry(who, kernel_size, stride, padding), *x.shape[2:], ceil_mode)
    cols, _ = im2col(x, geometry)
    n, c = x.shape[:2]
    divisor = _avg_divisor(geometry, *x.shape[2:], out_hw, count_include_pad, divisor_override)
    sums = cols.reshape(c, -1, n, *out_hw).sum(axis=1)          # (C, N, Ho, Wo)
    y = sums / divisor.astype(x.dtype)
    return _nchw(y, n, out_hw), PoolCache(x.shape, out_hw, geometry, divisor=divisor, ceil_mode=bool(ceil_mode))


def avg_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, count_include_pad: bool = True,
               divisor_override: int | None = None, *, ceil_mode: bool = False) -> np.ndarray:
    """Forward pass only; arguments as :func:`avg_pool2d_forward`."""
    return avg_pool2d_forward(x, kernel_size, stride, padding, count_include_pad, divisor_override,
                              ceil_mode=ceil_mode)[0]


def avg_pool2d_backward(dy: np.ndarray, cache: PoolCache) -> np.ndarray:
    """Each window spreads dy / divisor evenly over its taps: dy (N, C, Ho, Wo) -> dx (N, C, H, W).

    Taps on padding (or past it, with ceil_mode) receive their share too; col2im crops them away.
    """
    n, c = cache.x_shape[:2]
    _check_pool_dy(dy, (n, c) + tuple(cache.out_hw), "avg_pool2d_backward")
    taps = math.prod(cache.geometry.kernel)
    share = (dy / cache.divisor.astype(dy.dtype)).transpose(1, 0, 2, 3).reshape(c, 1, -1)
    dcols = np.broadcast_to(share, (c, taps, share.shape[2]))
    return col2im(dcols.reshape(c * taps, -1), cache.x_shape, cache.geometry)
