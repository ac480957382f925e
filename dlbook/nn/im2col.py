r"""Sliding windows over images without Python loops over pixels or the batch.

Convolution and pooling both look at the same windows: for every output position, the
$k_h \times k_w$ (possibly dilated, strided) patch of the zero-padded input under it. We
lay the input out channel-major, (C, N, H_p, W_p), and take every window as a strided
*view* (no copy). ``im2col`` then copies the windows once into a matrix of shape
(C·k_h·k_w, N·H_out·W_out), so a whole convolution is one matrix product
(BLAS at full speed), and its output comes out as (C_out, N·H_out·W_out).

``col2im`` is the adjoint: it adds each column back onto the pixels it was read from.
It loops over the $k_h k_w$ kernel offsets only; each step adds one shifted, strided
slice for all images and channels at once.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..cnn_shapes import WindowGeometry


def pad_channels_first(x: np.ndarray, padding, fill: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> (C, N, top + H + bottom, left + W + right), border = ``fill``.

    Transposing and padding happen in one copy. Without padding, nothing is copied: the
    result is a transposed view of x (im2col's copy does the transposing).
    """
    (pt, pb), (pl, pr) = padding
    if pt == pb == pl == pr == 0:
        return x.transpose(1, 0, 2, 3)
    n, c, h, w = x.shape
    xp = np.full((c, n, h + pt + pb, w + pl + pr), fill, dtype=x.dtype)
    xp[:, :, pt:pt + h, pl:pl + w] = x.transpose(1, 0, 2, 3)
    return xp


def windows(xp: np.ndarray, geometry: WindowGeometry,
            out_hw: tuple[int, int]) -> np.ndarray:
    """A read-only view of a padded array, shape xp.shape[:-2] + (kh, kw, Ho, Wo).

    ``view[..., i, j, r, c] = xp[..., r*sh + i*dh, c*sw + j*dw]``: kernel tap (i, j) of
    the window that produces output pixel (r, c).
    """
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    *lead, row, col = xp.strides
    shape = xp.shape[:-2] + (kh, kw) + tuple(out_hw)
    strides = tuple(lead) + (row * dh, col * dw, row * sh, col * sw)
    return as_strided(xp, shape, strides, writeable=False)


def im2col(x: np.ndarray, geometry: WindowGeometry,
           fill: float = 0.0) -> tuple[np.ndarray, tuple[int, int]]:
    """Columns of all windows of x.

    Parameters
    ----------
    x : (N, C, H, W)
    geometry : the windows' kernel, stride, padding and dilation.
    fill : value of the padded border (0 for convolution, -inf for max-pooling).

    Returns
    -------
    cols : (C·kh·kw, N·H_out·W_out), row ``(c, i, j)`` holds tap (i, j) of channel c
        for every window, columns ordered (n, r, c).
    (H_out, W_out)
    """
    out_hw = geometry.output_hw(*x.shape[2:])
    xp = pad_channels_first(x, geometry.padding, fill)
    view = windows(xp, geometry, out_hw)  # (C, N, kh, kw, Ho, Wo)
    c, n = x.shape[1], x.shape[0]
    kh, kw = geometry.kernel
    cols = view.transpose(0, 2, 3, 1, 4, 5).reshape(
        c * kh * kw, n * out_hw[0] * out_hw[1])  # the one copy
    return cols, out_hw


def col2im(dcols: np.ndarray, x_shape: tuple[int, int, int, int],
           geometry: WindowGeometry) -> np.ndarray:
    """Adjoint of :func:`im2col`: add each column entry back onto its input pixel.

    dcols : (C·kh·kw, N·H_out·W_out) -> dx : (N, C, H, W) (padding cropped away).
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (dh, dw) = geometry.kernel, geometry.stride, geometry.dilation
    (pt, pb), (pl, pr) = geometry.padding
    ho, wo = geometry.output_hw(h, w)
    dcols = dcols.reshape(c, kh, kw, n, ho, wo)
    dxp = np.zeros((c, n, h + pt + pb, w + pl + pr), dtype=dcols.dtype)
    for i in range(kh):  # loop over kernel taps only; each adds a whole strided slice
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            dxp[:, :, rows, columns] += dcols[:, i, j]
    return np.ascontiguousarray(dxp[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3))
