"""Dropout: Bernoulli masks with the right rate, inverted scaling, identity in eval mode."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, gradcheck


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_drop_rate_and_mean_are_right(p):
    n = 200_000
    y = nn.Dropout(p, seed=0)(np.ones(n))
    dropped = np.mean(y == 0)
    # binomial: the dropped fraction has std sqrt(p(1-p)/n); 5 sigma never fails by chance in practice
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)
    # inverted scaling keeps E[y] = x: each entry is 0 or 1/(1-p), with variance p/(1-p)
    assert abs(y.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)
    assert set(np.unique(y)) == {0.0, 1 / (1 - p)}


def test_backward_reuses_the_forward_mask():
    layer = nn.Dropout(0.5, seed=1)
    x, dy = np.random.default_rng(0).standard_normal((2, 50, 3))
    y = layer(x)
    dx = layer.backward(dy)
    np.testing.assert_array_equal(dx == 0, y == 0)
    np.testing.assert_array_equal(dx[y != 0], 2 * dy[y != 0])
    np.testing.assert_array_equal(layer.mask, y != 0)


def test_each_backward_uses_the_mask_of_its_own_forward_call():
    """Two calls, then two backwards (last in, first out): each gradient goes through its own mask."""
    layer = nn.Dropout(0.5, seed=2)
    x = np.ones((40, 5))
    y1, y2 = layer(x), layer(x)
    assert not np.array_equal(y1 == 0, y2 == 0)
    np.testing.assert_array_equal(layer.mask, y2 != 0)  # the last mask
    dx2, dx1 = layer.backward(x), layer.backward(x)
    np.testing.assert_array_equal(dx1, y1)
    np.testing.assert_array_equal(dx2, y2)
    with pytest.raises(RuntimeError, match="nothing saved"):
        layer.backward(x)


def test_eval_mode_is_the_identity_and_matches_torch():
    layer = nn.Dropout(0.7, seed=0).eval()
    x = np.random.default_rng(0).standard_normal((4, 5))
    assert layer(x) is x and layer.mask is None
    dy = np.ones_like(x)
    assert layer.backward(dy) is dy
    against_torch(layer, x, device="cpu")


def test_p_zero_and_p_one_match_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    torch_all_dropped = torch.nn.functional.dropout(torch.tensor(x), 1.0, training=True).numpy()
    np.testing.assert_array_equal(nn.Dropout(1.0)(x), torch_all_dropped)
    assert not torch_all_dropped.any()


def test_masks_are_fresh_each_call_and_reproducible_by_seed():
    x = np.ones(1000)
    a, b = nn.Dropout(0.5, seed=3), nn.Dropout(0.5, seed=3)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))


def test_mask_rate_matches_torch_in_distribution():
    """Our masks and torch's drop the same fraction (two-proportion z-test, 5 sigma)."""
    n, p = 100_000, 0.3
    ours = np.mean(nn.Dropout(p, seed=0)(np.ones(n)) == 0)
    torch.manual_seed(0)
    theirs = (torch.nn.functional.dropout(torch.ones(n), p, training=True) == 0).float().mean().item()
    assert abs(ours - theirs) < 5 * np.sqrt(2 * p * (1 - p) / n)


class _FixedMaskDropout(nn.Dropout):
    """Training-mode dropout that replays one mask, so finite differences see a fixed function."""

    def __init__(self, p, mask):
        super().__init__(p)
        self.fixed = mask

    def forward(self, x, mask=None):
        return super().forward(x, mask=self.fixed)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_training_mode_backward_matches_finite_differences(p):
    x = np.random.default_rng(4).standard_normal((5, 6))
    mask = np.random.default_rng(5).random(x.shape) >= p
    layer = _FixedMaskDropout(p, mask)
    errors = gradcheck(layer, x)  # raises on mismatch
    assert set(errors) == {"dx"}
    layer(x)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), mask / (1 - p), rtol=1e-15, atol=0)
