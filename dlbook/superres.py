"""Super-resolution data and scoring (chapter 9): the photos that ship offline, the
degradation that makes low-resolution inputs, training patches, and PSNR/SSIM against
bicubic interpolation on held-out pictures.

The degradation is the one SR benchmarks use: bicubic downscaling with antialiasing
(torch's ``interpolate(..., mode="bicubic", antialias=True)``). A model learns to invert
this one degradation; bicubic *upscaling* of the same input is the baseline to beat.
"""

from __future__ import annotations

import numpy as np
import torch

from .data import OFFLINE_IMAGES, load_image
from .image_quality import psnr, shave, ssim

#: held out from training: the pictures every score in the chapter is measured on
TEST_PHOTOS = ("camera", "astronaut", "chelsea")
#: scikit-learn's two sample photos, besides scikit-image's
SKLEARN_PHOTOS = ("china", "flower")
#: training pictures: every other offline photo except near-constant ones (their PSNR is
#: ~60 dB whatever the method, which would swamp a mean) and the 102×102 microaneurysms
TRAIN_PHOTOS = tuple(n for n in OFFLINE_IMAGES if n not in TEST_PHOTOS + ("cell", "moon", "microaneurysms")) \
    + SKLEARN_PHOTOS


def load_photo(name: str) -> np.ndarray:
    """A photo that ships offline, gray, float32 in [0, 1], shape (H, W)."""
    if name in SKLEARN_PHOTOS:
        from skimage.color import rgb2gray
        from sklearn.datasets import load_sample_image

        return rgb2gray(load_sample_image(f"{name}.jpg") / 255.0).astype(np.float32)
    if name not in OFFLINE_IMAGES:
        raise ValueError(f"unknown photo {name!r}; expected one of {OFFLINE_IMAGES + SKLEARN_PHOTOS}")
    return load_image(name, gray=True).astype(np.float32)


def downscale(images, scale: int) -> torch.Tensor:
    """Bicubic downscaling with antialiasing: (N, C, H, W) -> (N, C, H/scale, W/scale).
    H and W must be multiples of ``scale``."""
    x = torch.as_tensor(images)
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"downscale expects float (N, C, H, W) images, got {tuple(x.shape)} {x.dtype}")
    if not (isinstance(scale, int) and scale >= 2):
        raise ValueError(f"scale must be an int >= 2, got {scale!r}")
    if x.shape[-1] % scale or x.shape[-2] % scale:
        raise ValueError(f"height and width must be multiples of scale={scale}, got {tuple(x.shape[-2:])}")
    return torch.nn.functional.interpolate(x, scale_factor=1 / scale, mode="bicubic", antialias=True,
                                           align_corners=False)


def upscale_bicubic(images, scale: int) -> torch.Tensor:
    """The baseline: plain bicubic upscaling (N, C, h, w) -> (N, C, scale·h, scale·w)."""
    x = torch.as_tensor(images)
    if x.ndim != 4:
        raise ValueError(f"upscale_bicubic expects (N, C, h, w) images, got shape {tuple(x.shape)}")
    return torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


def random_patches(photos: list[np.ndarray], size: int, count: int,
                   rng: np.random.Generator) -> np.ndarray:
    """``count`` square patches (count, 1, size, size) cut at random places of random photos
    (each photo drawn with probability proportional to its area)."""
    if not photos:
        raise ValueError("random_patches needs at least one photo")
    small = [p.shape for p in photos if min(p.shape[:2]) < size]
    if small:
        raise ValueError(f"every photo must be at least {size}×{size}, got {small}")
    areas = np.array([p.shape[0] * p.shape[1] for p in photos], dtype=np.float64)
    which = rng.choice(len(photos), size=count, p=areas / areas.sum())
    out = np.empty((count, 1, size, size), dtype=np.float32)
    for k, i in enumerate(which):
        h, w = photos[i].shape[:2]
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        out[k, 0] = photos[i][top:top + size, left:left + size]
    return out


def training_pairs(size: int = 48, count: int = 4096, scale: int = 2, seed: int = 0):
    """(low-resolution, high-resolution) training patches from :data:`TRAIN_PHOTOS`:
    float32 arrays (count, 1, size/scale, size/scale) and (count, 1, size, size)."""
    if size % scale:
        raise ValueError(f"size must be a multiple of scale, got size={size}, scale={scale}")
    hr = random_patches([load_photo(n) for n in TRAIN_PHOTOS], size, count, np.random.default_rng(seed))
    return downscale(hr, scale).numpy(), hr


def held_out_pair(name: str, scale: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A held-out photo cropped to a multiple of ``scale``, and its degraded input:
    (1, 1, h, w) low resolution and (1, 1, H, W) high resolution."""
    hr = load_photo(name)
    hr = torch.as_tensor(hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale])[None, None]
    return downscale(hr, scale), hr


@torch.no_grad()
def score(reference: torch.Tensor, estimate: torch.Tensor, border: int) -> tuple[float, float]:
    """(PSNR in dB, SSIM) of a (1, 1, H, W) estimate, clipped to [0, 1], with ``border``
    pixels shaved off each side as SR papers do (the edges lack context)."""
    ref = shave(reference[0, 0].double().cpu().numpy(), border)
    est = shave(estimate[0, 0].clamp(0, 1).double().cpu().numpy(), border)
    return psnr(ref, est, data_range=1.0), ssim(ref, est, data_range=1.0)


@torch.no_grad()
def compare_with_bicubic(model: torch.nn.Module | None, names=TEST_PHOTOS, scale: int = 2,
                         border: int | None = None) -> dict[str, dict[str, float]]:
    """Per held-out photo: bicubic's and the model's PSNR and SSIM (model None: bicubic only).
    ``border`` defaults to ``scale``."""
    border = scale if border is None else border
    results = {}
    if model is not None:
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
    for name in names:
        lr, hr = held_out_pair(name, scale)
        row = dict(zip(("bicubic_psnr", "bicubic_ssim"), score(hr, upscale_bicubic(lr, scale), border)))
        if model is not None:
            sr = model(lr.to(device)).cpu()
            row.update(zip(("model_psnr", "model_ssim"), score(hr, sr, border)))
        results[name] = row
    if model is not None:
        model.train(was_training)
    return results
