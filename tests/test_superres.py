"""dlbook.superres: offline photos, the degradation, patches, and the bicubic comparison."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook import superres
from dlbook.image_quality import psnr


def test_photos_are_gray_unit_range_and_the_split_is_disjoint():
    assert not set(superres.TRAIN_PHOTOS) & set(superres.TEST_PHOTOS)
    for name in superres.TRAIN_PHOTOS + superres.TEST_PHOTOS:
        photo = superres.load_photo(name)
        assert photo.ndim == 2 and photo.dtype == np.float32 and 0 <= photo.min() and photo.max() <= 1
        assert photo.std() > 0.05, name  # no near-constant picture


def test_downscale_averages_with_antialiasing():
    flat = torch.full((1, 1, 8, 8), 0.4, dtype=torch.float64)
    np.testing.assert_allclose(superres.downscale(flat, 2).numpy(), 0.4, rtol=1e-12, atol=0)
    # a one-pixel checkerboard is beyond the new Nyquist limit: antialiasing averages it to grey,
    # plain subsampling picks one colour (aliasing: a black picture)
    board = torch.as_tensor(np.indices((16, 16)).sum(0) % 2, dtype=torch.float64)[None, None]
    small = superres.downscale(board, 2)[..., 2:-2, 2:-2]
    assert float(board[..., ::2, ::2].max()) == 0.0
    assert np.allclose(small.numpy(), 0.5, rtol=0.1, atol=0)


def test_patches_come_from_the_photos():
    rng = np.random.default_rng(0)
    photo = np.arange(30 * 40, dtype=np.float32).reshape(30, 40) / 1200
    patches = superres.random_patches([photo], 6, 5, rng)
    assert patches.shape == (5, 1, 6, 6)
    for p in patches[:, 0]:
        top, left = divmod(int(round(p[0, 0] * 1200)), 40)
        np.testing.assert_array_equal(p, photo[top:top + 6, left:left + 6])
    with pytest.raises(ValueError, match="at least 50×50"):
        superres.random_patches([photo], 50, 1, rng)


def test_training_pairs_shapes_and_degradation():
    lr, hr = superres.training_pairs(size=24, count=8, scale=2, seed=0)
    assert lr.shape == (8, 1, 12, 12) and hr.shape == (8, 1, 24, 24)
    np.testing.assert_allclose(lr, superres.downscale(torch.as_tensor(hr), 2).numpy(), rtol=1e-6, atol=0)


def test_bicubic_comparison_of_the_identity_upscaler():
    class Nearest(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    table = superres.compare_with_bicubic(Nearest(), names=("camera",))
    row = table["camera"]
    lr, hr = superres.held_out_pair("camera", 2)
    assert np.isclose(row["bicubic_psnr"], psnr(hr[0, 0, 2:-2, 2:-2].double().numpy(),
                      superres.upscale_bicubic(lr, 2)[0, 0, 2:-2, 2:-2].clamp(0, 1).double().numpy(),
                      data_range=1.0), rtol=1e-12, atol=0)
    assert row["bicubic_psnr"] > row["model_psnr"]  # bicubic beats nearest-neighbour
    assert 0 < row["model_ssim"] < row["bicubic_ssim"] < 1


def test_bad_input():
    with pytest.raises(ValueError, match="multiples of scale=2"):
        superres.downscale(torch.zeros(1, 1, 5, 4), 2)
    with pytest.raises(ValueError, match=r"float \(N, C, H, W\)"):
        superres.downscale(torch.zeros(4, 4), 2)
    with pytest.raises(ValueError, match="unknown photo"):
        superres.load_photo("lena")
    with pytest.raises(ValueError, match="multiple of scale"):
        superres.training_pairs(size=25, scale=2)
