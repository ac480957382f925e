"""Hand-made digit features."""

import numpy as np
import pytest

from dlbook.features import FEATURE_SETS, featurize, gradient_histograms, ink_profiles


def test_ink_profiles_are_row_and_column_means():
    image = np.zeros((8, 8))
    image[2, :] = 1.0  # one full row of ink
    image[:, 5] = 1.0  # one full column
    f = ink_profiles(image[None])[0]
    rows, cols = f[:8], f[8:]
    assert rows[2] == 1.0 and cols[5] == 1.0
    np.testing.assert_allclose(np.delete(rows, 2), 1 / 8, rtol=1e-15, atol=0)
    np.testing.assert_allclose(np.delete(cols, 5), 1 / 8, rtol=1e-15, atol=0)
    assert np.array_equal(ink_profiles(image.reshape(1, 64)), ink_profiles(image[None]))


def test_hog_sees_edge_orientation():
    vertical = np.zeros((8, 8))
    vertical[:, 4:] = 1.0
    horizontal = vertical.T
    hv, hh = gradient_histograms(vertical[None])[0], gradient_histograms(horizontal[None])[0]
    assert hv.shape == (144,)
    # the same edge turned by 90 degrees fills other orientation bins
    assert np.argmax(hv.reshape(-1, 9).sum(0)) != np.argmax(hh.reshape(-1, 9).sum(0))
    assert gradient_histograms(np.zeros((1, 8, 8)), cell=4, orientations=8).shape == (1, 32)


def test_feature_sets_shapes():
    X = np.random.default_rng(0).random((5, 64))
    widths = {name: featurize(name, X).shape for name in FEATURE_SETS}
    assert widths == {"pixels": (5, 64), "ink": (5, 16), "hog": (5, 144), "pixels+hog": (5, 208)}


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 8, 8\) or \(N, 64\)"):
        ink_profiles(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="cell must be a positive divisor of 8"):
        gradient_histograms(np.zeros((1, 8, 8)), cell=3)
    with pytest.raises(ValueError, match="orientations must be a positive int"):
        gradient_histograms(np.zeros((1, 8, 8)), orientations=0)
    with pytest.raises(ValueError, match="unknown feature set"):
        featurize("edges", np.zeros((1, 64)))
