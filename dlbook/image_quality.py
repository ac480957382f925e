r"""How close is a restored picture to the original? PSNR and SSIM, from the definitions.

* :func:`psnr`: peak signal-to-noise ratio, $10 \log_{10}(R^2 / \mathrm{MSE})$ in
  decibels, with $R$ the data range (1 for float pictures in [0, 1], 255 for uint8).
  +3 dB halves the MSE.
* :func:`ssim`: structural similarity (Wang, Bovik, Sheikh and Simoncelli 2004). Around
  every pixel a window gives the local means $\mu_x, \mu_y$, variances
  $\sigma_x^2, \sigma_y^2$ and covariance $\sigma_{xy}$ of the two pictures, and

  $$\mathrm{SSIM} = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}
                         {(\mu_x^2 + \mu_y^2 + C_1)(\sigma_x^2 + \sigma_y^2 + C_2)},
    \qquad C_1 = (K_1 R)^2,\ C_2 = (K_2 R)^2,$$

  averaged over the pixels whose window lies inside the picture. It compares
  brightness, contrast and structure rather than squared error: two damages of the
  same MSE can score very differently.
* :func:`shave` crops a border before measuring (super-resolution papers crop
  ``scale`` pixels, which the upsampler could not know), :func:`rgb_to_y` takes the
  luma channel on which they report PSNR, and :func:`psnr_torch` measures a batch of
  torch tensors during training.

Options and defaults follow ``skimage.metrics.peak_signal_noise_ratio`` and
``structural_similarity``, against which the tests check these functions, with one
exception: a float picture in [0, 1] has data range 1 for SSIM too (skimage insists
on ``data_range``).
"""

from __future__ import annotations

import numbers

import numpy as np

_TRUNCATE = 3.5  # Gaussian window radius in sigmas: 11 taps for sigma 1.5 (Wang et al.)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_pair(reference, test, name: str) -> tuple[np.ndarray, np.ndarray]:
    for what, image in (("reference", reference), ("test", test)):
        if not isinstance(image, np.ndarray):
            hint = " (for tensors use psnr_torch)" if hasattr(image, "detach") else ""
            raise TypeError(f"{name}: expected {what} as a numpy.ndarray{hint}, "
                            f"got {type(image).__name__}")
        kind = image.dtype.kind  # f: float, i/u: signed/unsigned integer (b: bool)
        if kind not in "fiu":
            raise TypeError(f"{name}: expected a real (float or integer) {what} image, "
                            f"got {image.dtype}")
    if reference.shape != test.shape:
        raise ValueError(f"{name}: the two images must have the same shape, got "
                         f"reference {reference.shape} and test {test.shape}")
    if reference.size == 0:
        raise ValueError(f"{name}: the images are empty (shape {reference.shape})")
    return reference, test


def _data_range(reference, test, data_range, name: str) -> float:
    """R as given, else from the reference: its dtype's maximum for unsigned integers,
    1 for a float image in [0, 1]; anything else must say."""
    if data_range is not None:
        if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real) \
                or not np.isfinite(data_range) or data_range <= 0:
            raise ValueError(f"{name}: data_range must be a positive number (the largest "
                             f"possible value minus the smallest), got {data_range!r}")
        return float(data_range)
    if reference.dtype != test.dtype:
        raise ValueError(f"{name}: reference is {reference.dtype} and test {test.dtype}, "
                         f"so the range of values is unclear: convert one (e.g. "
                         f"skimage.util.img_as_float) or pass data_range")
    if np.issubdtype(reference.dtype, np.unsignedinteger):
        return float(np.iinfo(reference.dtype).max)
    low, high = float(np.min(reference)), float(np.max(reference))
    if np.issubdtype(reference.dtype, np.floating) and 0.0 <= low and high <= 1.0:
        return 1.0
    raise ValueError(f"{name}: pass data_range: the reference ({reference.dtype}, values "
                     f"in [{low:g}, {high:g}]) is neither an unsigned-integer image nor a "
                     f"float image in [0, 1], so its range is not implied (e.g. "
                     f"data_range=255 for 0..255 floats, 2 for [-1, 1])")


def psnr(reference: np.ndarray, test: np.ndarray, data_range=None) -> float:
    r"""Peak signal-to-noise ratio in dB, $10 \log_{10}(R^2 / \mathrm{MSE})$.

    reference, test: arrays of one shape (gray (H, W), colour (H, W, 3), a batch),
    float or integer; the MSE is taken over every entry. ``data_range`` $R$ defaults
    to 255 for uint8 (the dtype's maximum for unsigned integers) and to 1 for a float
    reference in [0, 1]; other images must pass it. Identical images give ``inf``.
    """
    reference, test = _check_pair(reference, test, "psnr")
    peak = _data_range(reference, test, data_range, "psnr")
    diff = reference.astype(np.float64) - test.astype(np.float64)
    mse = float(np.mean(diff * diff))
    return float("inf") if mse == 0 else float(10 * np.log10(peak * peak / mse))


# -- SSIM --------------------------------------------------------------------------
def _window(win_size: int, gaussian_weights: bool, sigma: float) -> np.ndarray:
    """The 1-D weights (summing to 1) of the separable window: ``win_size`` equal
    ones, or a Gaussian 3.5 sigma wide either side, whatever win_size (as skimage)."""
    if not gaussian_weights:
        return np.full(win_size, 1.0 / win_size)
    radius = int(_TRUNCATE * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * offsets * offsets / (sigma * sigma))
    return weights / weights.sum()


def _local_mean(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted mean around every entry, one axis after another (the window is
    separable). Borders are mirrored (d c b a | a b c d, scipy.ndimage's "reflect");
    :func:`ssim` crops them away again whenever the window fits in the crop."""
    radius = len(weights) // 2
    for axis in range(image.ndim):
        pad = [(0, 0)] * image.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(image, pad, mode="symmetric")
        windows = np.lib.stride_tricks.sliding_window_view(padded, len(weights), axis)
        image = windows @ weights
    return image


def _ssim_one(x, y, peak, win_size, weights, use_sample_covariance, k1, k2) -> float:
    n = win_size ** x.ndim
    # unbiased covariances by default, as skimage; Wang et al. use population ones
    cov_norm = n / (n - 1) if use_sample_covariance else 1.0
    mu_x, mu_y = _local_mean(x, weights), _local_mean(y, weights)
    var_x = cov_norm * (_local_mean(x * x, weights) - mu_x * mu_x)
    var_y = cov_norm * (_local_mean(y * y, weights) - mu_y * mu_y)
    cov_xy = cov_norm * (_local_mean(x * y, weights) - mu_x * mu_y)
    c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2
    similarity = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
                  / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)))
    crop = (win_size - 1) // 2  # keep the pixels whose window lies inside the picture
    return float(similarity[(slice(crop, -crop or None),) * x.ndim].mean())


def ssim(reference: np.ndarray, test: np.ndarray, data_range=None, *,
         win_size: int | None = None, gaussian_weights: bool = False,
         sigma: float = 1.5, use_sample_covariance: bool = True,
         channel_axis: int | None = None, K1: float = 0.01, K2: float = 0.03) -> float:
    r"""Mean structural similarity of two images (1 when identical), as
    ``skimage.metrics.structural_similarity``.

    reference, test: arrays of one shape; every axis is spatial except
    ``channel_axis`` (e.g. -1 for (H, W, 3) colour), whose channels are compared
    separately and averaged. The local window is ``win_size`` × ``win_size``, uniform
    (default 7), or with ``gaussian_weights`` a Gaussian of standard deviation
    ``sigma`` cut at 3.5 sigma (11 × 11 for sigma 1.5); ``win_size`` then sets only
    the crop and the covariance correction, and defaults to the Gaussian's width.
    Wang et al.'s own settings are ``gaussian_weights=True,
    use_sample_covariance=False``. ``data_range`` as in :func:`psnr` (1 for a float
    image in [0, 1]); K1 and K2 set $C_1$ and $C_2$.
    """
    name = "ssim"
    reference, test = _check_pair(reference, test, name)
    peak = _data_range(reference, test, data_range, name)
    if not isinstance(sigma, numbers.Real) or not sigma > 0:
        raise ValueError(f"{name}: sigma must be a positive number, got {sigma!r}")
    for what, k in (("K1", K1), ("K2", K2)):
        if not isinstance(k, numbers.Real) or not k >= 0:
            raise ValueError(f"{name}: {what} must be a number >= 0, got {k!r}")
    if win_size is None:  # the Gaussian's width (11 for sigma 1.5), or skimage's 7
        win_size = 2 * int(_TRUNCATE * sigma + 0.5) + 1 if gaussian_weights else 7
    if not _is_int(win_size) or win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"{name}: win_size must be an odd int >= 3, got {win_size!r}")
    weights = _window(win_size, bool(gaussian_weights), float(sigma))

    x, y = reference.astype(np.float64), test.astype(np.float64)
    if channel_axis is not None:
        if not _is_int(channel_axis) or not -x.ndim <= channel_axis < x.ndim:
            raise ValueError(f"{name}: channel_axis must be an axis of the images' shape "
                             f"{x.shape}, got {channel_axis!r}")
        x, y = np.moveaxis(x, channel_axis, 0), np.moveaxis(y, channel_axis, 0)
    spatial = x.shape[1:] if channel_axis is not None else x.shape
    if min(spatial) < win_size:
        hint = "" if channel_axis is not None else \
            "; for colour images pass channel_axis (e.g. -1 for (H, W, 3))"
        raise ValueError(f"{name}: win_size {win_size} exceeds the image's spatial extent "
                         f"{spatial} (images of shape {reference.shape}): pass a smaller "
                         f"odd win_size{hint}")
    args = (peak, win_size, weights, bool(use_sample_covariance), float(K1), float(K2))
    if channel_axis is None:
        return _ssim_one(x, y, *args)
    return float(np.mean([_ssim_one(xc, yc, *args) for xc, yc in zip(x, y)]))


# -- helpers for super-resolution ---------------------------------------------------
def shave(image, border: int, axes=(0, 1)):
    """``image`` without ``border`` rows/columns at both ends of each of ``axes``
    (default the first two: (H, W) or (H, W, C); ``axes=(-2, -1)`` for (N, C, H, W)).
    A view, for NumPy arrays and torch tensors alike; ``border=0`` crops nothing."""
    if not _is_int(border) or border < 0:
        raise ValueError(f"shave: border must be an int >= 0, got {border!r}")
    shape = tuple(image.shape)
    axes = (axes,) if _is_int(axes) else tuple(axes)
    index = [slice(None)] * len(shape)
    for axis in axes:
        if not _is_int(axis) or not -len(shape) <= axis < len(shape):
            raise ValueError(f"shave: axes must be axes of the image's shape {shape}, "
                             f"got {axes!r}")
        if shape[axis] <= 2 * border:
            raise ValueError(f"shave: cannot crop {border} from both ends of axis {axis} "
                             f"of length {shape[axis]} (image shape {shape})")
        index[axis] = slice(border, shape[axis] - border)
    return image[tuple(index)]


def rgb_to_y(image: np.ndarray, channel_axis: int = -1) -> np.ndarray:
    r"""The luma Y of ITU-R BT.601 (MATLAB's ``rgb2ycbcr``, on which super-resolution
    papers report PSNR) of a float RGB image in [0, 1]:
    $Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255$, in [16/255, 235/255].
    The channel axis (default last, of size 3) is removed."""
    if not isinstance(image, np.ndarray) or not np.issubdtype(image.dtype, np.floating):
        got = getattr(image, "dtype", type(image).__name__)
        raise TypeError(f"rgb_to_y: expected a float numpy.ndarray in [0, 1], got {got}")
    if not _is_int(channel_axis) or not -image.ndim <= channel_axis < image.ndim \
            or image.shape[channel_axis] != 3:
        raise ValueError(f"rgb_to_y: expected 3 colour channels on axis "
                         f"{channel_axis!r}, got shape {image.shape}")
    coefficients = np.array([65.481, 128.553, 24.966])
    rgb_last = np.moveaxis(image, channel_axis, -1)
    return (16.0 + np.tensordot(rgb_last, coefficients, axes=1)) / 255.0


def psnr_torch(reference, test, data_range: float = 1.0, dim=None):
    r"""PSNR of torch tensors (on any device) in dB, as a tensor: one value for
    everything with ``dim=None``, or e.g. one per image of an (N, C, H, W) batch with
    ``dim=(1, 2, 3)`` (the MSE taken over those axes)."""
    import torch

    for what, value in (("reference", reference), ("test", test)):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            got = getattr(value, "dtype", type(value).__name__)
            raise TypeError(f"psnr_torch: expected {what} as a float torch.Tensor, "
                            f"got {got}")
    if reference.shape != test.shape:
        raise ValueError(f"psnr_torch: the two images must have the same shape, got "
                         f"reference {tuple(reference.shape)} and test "
                         f"{tuple(test.shape)}")
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real) \
            or not data_range > 0:
        raise ValueError(f"psnr_torch: data_range must be a positive number, "
                         f"got {data_range!r}")
    squared = (reference - test) ** 2
    mse = squared.mean() if dim is None else squared.mean(dim=dim)
    return 10 * torch.log10(data_range ** 2 / mse)
