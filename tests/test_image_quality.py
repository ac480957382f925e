"""PSNR and SSIM (dlbook.image_quality, written from the definitions) against scikit-image on real
pictures with noise and blur, gray and colour; hand-derivable values; the helpers; bad input."""

import numpy as np
import pytest
import torch
from skimage import color, filters, metrics, util

from dlbook.data import load_image
from dlbook.image_quality import psnr, psnr_torch, rgb_to_y, shave, ssim

RTOL = 1e-10


def _rel(a, b) -> float:
    return abs(a - b) / abs(b)


def _degraded(image, kind: str, seed: int = 0):
    if kind == "noise":  # clipped: the test picture stays a valid [0, 1] image
        return np.clip(image + 0.08 * np.random.default_rng(seed).standard_normal(image.shape), 0, 1)
    channel_axis = -1 if image.ndim == 3 else None
    return filters.gaussian(image, sigma=1.2, channel_axis=channel_axis)


@pytest.fixture(scope="module")
def pictures():
    """A gray and a colour picture, cut to 128 × 160 (enough texture, quick)."""
    return {"gray": load_image("camera")[200:328, 150:310], "colour": load_image("astronaut")[40:168, 160:320]}


@pytest.mark.parametrize("kind", ["noise", "blur"])
@pytest.mark.parametrize("which", ["gray", "colour"])
def test_psnr_matches_skimage(pictures, which, kind):
    reference = pictures[which]
    test = _degraded(reference, kind)
    assert _rel(psnr(reference, test), metrics.peak_signal_noise_ratio(reference, test)) <= RTOL
    assert _rel(psnr(reference, test, data_range=2.0),
                metrics.peak_signal_noise_ratio(reference, test, data_range=2.0)) <= RTOL
    ref8, test8 = util.img_as_ubyte(reference), util.img_as_ubyte(test)  # uint8: data range 255 by default
    assert _rel(psnr(ref8, test8), metrics.peak_signal_noise_ratio(ref8, test8)) <= RTOL
    assert _rel(psnr(ref8, test8), psnr(ref8.astype(float), test8.astype(float), data_range=255)) <= RTOL


SSIM_OPTIONS = {
    "default (7 × 7 uniform)": {},
    "Wang et al. (11 × 11 Gaussian, population covariance)":
        dict(gaussian_weights=True, use_sample_covariance=False),
    "Gaussian, sample covariance": dict(gaussian_weights=True),
    "Gaussian cut to a 7 crop (mirrored borders matter)": dict(gaussian_weights=True, win_size=7, sigma=2.0),
    "11 × 11 uniform, other K": dict(win_size=11, K1=0.02, K2=0.05),
}


@pytest.mark.parametrize("options", sorted(SSIM_OPTIONS))
@pytest.mark.parametrize("kind", ["noise", "blur"])
@pytest.mark.parametrize("which", ["gray", "colour"])
def test_ssim_matches_skimage(pictures, which, kind, options):
    reference = pictures[which]
    test = _degraded(reference, kind)
    kwargs = dict(SSIM_OPTIONS[options], channel_axis=-1 if which == "colour" else None)
    ours = ssim(reference, test, 1.0, **kwargs)
    theirs = metrics.structural_similarity(reference, test, data_range=1.0, **kwargs)
    assert _rel(ours, theirs) <= RTOL
    assert ssim(reference, test, **kwargs) == ours  # a float image in [0, 1] has data range 1


def test_ssim_of_uint8_and_channels_first(pictures):
    reference = pictures["colour"]
    test = _degraded(reference, "noise", seed=1)
    ref8, test8 = util.img_as_ubyte(reference), util.img_as_ubyte(test)
    theirs = metrics.structural_similarity(ref8, test8, channel_axis=2)  # data range 255 from uint8
    assert _rel(ssim(ref8, test8, channel_axis=2), theirs) <= RTOL
    first = ssim(np.moveaxis(reference, -1, 0), np.moveaxis(test, -1, 0), channel_axis=0)
    assert _rel(first, ssim(reference, test, channel_axis=-1)) <= 1e-14


def test_psnr_by_hand():
    """A uniform error δ everywhere: MSE = δ², PSNR = -20 log10 δ for data range 1 (20 dB at δ = 0.1)."""
    reference = np.full((8, 8), 0.5)
    assert psnr(reference, reference + 0.1) == pytest.approx(20.0, rel=1e-12, abs=0)
    assert psnr(reference, reference - 0.01) == pytest.approx(40.0, rel=1e-12, abs=0)
    assert psnr(reference, reference) == float("inf")
    # halving the error adds 20 log10 2 ≈ 6.02 dB
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, (8, 8))
    gain = psnr(reference, reference + noise / 2) - psnr(reference, reference + noise)
    assert gain == pytest.approx(20 * np.log10(2), rel=1e-12, abs=0)


def test_ssim_by_hand(pictures):
    """SSIM is 1 for identical pictures, symmetric, and for a constant shift c of a flat picture
    only the luminance term remains: (2 μ (μ + c) + C1) / (μ² + (μ + c)² + C1)."""
    reference = pictures["gray"]
    assert ssim(reference, reference) == pytest.approx(1.0, rel=1e-14, abs=0)
    test = _degraded(reference, "noise")
    assert ssim(reference, test) == pytest.approx(ssim(test, reference), rel=1e-14, abs=0)
    flat, mu, c = np.full((9, 9), 0.4), 0.4, 0.2
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * mu * (mu + c) + c1) / (mu ** 2 + (mu + c) ** 2 + c1)
    assert ssim(flat, flat + c) == pytest.approx(expected, rel=1e-12, abs=0)


def test_same_psnr_different_ssim(pictures):
    """Noise and blur tuned to the same MSE (PSNR within 1 dB): SSIM, which compares local structure
    rather than squared error, tells the two apart."""
    reference = pictures["gray"]
    blurred = _degraded(reference, "blur")
    noisy = np.clip(reference + np.random.default_rng(3).standard_normal(reference.shape)
                    * np.sqrt(np.mean((blurred - reference) ** 2)), 0, 1)
    assert abs(psnr(reference, noisy) - psnr(reference, blurred)) < 1.0
    assert abs(ssim(reference, noisy) - ssim(reference, blurred)) > 0.05


def test_shave_crops_the_border():
    image = np.arange(6 * 7 * 3).reshape(6, 7, 3)
    cropped = shave(image, 2)
    assert cropped.shape == (2, 3, 3) and np.array_equal(cropped, image[2:4, 2:5])
    assert np.shares_memory(cropped, image)
    batch = torch.arange(2 * 3 * 6 * 8).reshape(2, 3, 6, 8)
    assert torch.equal(shave(batch, 1, axes=(-2, -1)), batch[..., 1:5, 1:7])
    assert shave(image, 0) is not None and shave(image, 0).shape == image.shape


def test_rgb_to_y_matches_skimage(pictures):
    rgb = pictures["colour"]
    np.testing.assert_allclose(rgb_to_y(rgb), color.rgb2ycbcr(rgb)[..., 0] / 255, rtol=1e-13, atol=0)
    first = rgb_to_y(np.moveaxis(rgb, -1, 0), channel_axis=0)
    np.testing.assert_allclose(first, rgb_to_y(rgb), rtol=1e-15, atol=0)
    assert rgb_to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16 / 255, rel=1e-15)
    assert rgb_to_y(np.ones((1, 1, 3)))[0, 0] == pytest.approx(235 / 255, rel=1e-15)


def test_psnr_torch_matches_psnr(pictures):
    reference = pictures["colour"]
    tests = [_degraded(reference, "noise", seed=s) for s in range(3)]
    batch = torch.tensor(np.stack(tests))
    refs = torch.tensor(np.stack([reference] * 3))
    per_image = psnr_torch(refs, batch, dim=(1, 2, 3))
    assert per_image.shape == (3,)
    for value, test in zip(per_image.tolist(), tests):
        assert _rel(value, psnr(reference, test)) <= 1e-12
    assert _rel(psnr_torch(refs, batch, data_range=255.0).item(),
                psnr(np.stack([reference] * 3), np.stack(tests), data_range=255)) <= 1e-12


@pytest.mark.parametrize("call, error, message", [
    (lambda r: psnr(r, r[:-1]), ValueError, "same shape"),
    (lambda r: ssim(r, r[:, :-1]), ValueError, "same shape"),
    (lambda r: psnr(r * 255, r * 255), ValueError, r"pass data_range.*float64, values in \[\d+, 255\]"),
    (lambda r: ssim(2 * r - 1, 2 * r - 1), ValueError, r"pass data_range.*\[-1, 1\]"),
    (lambda r: psnr(util.img_as_ubyte(r), r), ValueError, "uint8 and test float64"),
    (lambda r: psnr(r, r, data_range=0), ValueError, "positive number"),
    (lambda r: psnr(torch.tensor(r), r), TypeError, "psnr_torch"),
    (lambda r: psnr(r > 0.5, r > 0.5), TypeError, "real .* image, got bool"),
    (lambda r: psnr(np.zeros((0, 3)), np.zeros((0, 3))), ValueError, "empty"),
    (lambda r: ssim(r, r, win_size=6), ValueError, "odd int >= 3"),
    (lambda r: ssim(r[:5, :5], r[:5, :5]), ValueError, r"win_size 7 exceeds .* \(5, 5\)"),
    (lambda r: ssim(np.stack([r] * 3, -1), np.stack([r] * 3, -1)), ValueError, "pass channel_axis"),
    (lambda r: ssim(r, r, channel_axis=2), ValueError, "channel_axis must be an axis"),
    (lambda r: ssim(r, r, sigma=0.0), ValueError, "sigma must be a positive"),
    (lambda r: shave(r, 64), ValueError, "cannot crop 64 from both ends of axis 0 of length 128"),
    (lambda r: shave(r, -1), ValueError, "border must be an int >= 0"),
    (lambda r: shave(r, 1, axes=(0, 2)), ValueError, "axes must be axes"),
    (lambda r: rgb_to_y(r), ValueError, "3 colour channels"),
    (lambda r: psnr_torch(r, r), TypeError, "float torch.Tensor"),
    (lambda r: psnr_torch(torch.tensor(r), torch.tensor(r[1:])), ValueError, "same shape"),
])
def test_bad_input_names_what_was_expected(pictures, call, error, message):
    with pytest.raises(error, match=message):
        call(pictures["gray"])


@pytest.mark.gpu
def test_psnr_torch_on_cuda(pictures):
    reference = pictures["colour"]
    test = _degraded(reference, "noise")
    value = psnr_torch(torch.tensor(reference, device="cuda"), torch.tensor(test, device="cuda"))
    assert value.device.type == "cuda"
    assert _rel(value.item(), psnr(reference, test)) <= 1e-12
