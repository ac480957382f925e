"""BatchNorm2d (issue 4's layer) under the conv-style checks: random image batches against torch
(output, dx, dweight, dbias and the running buffers; float64 rel <= 1e-10) and finite differences."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dlbook.nn as nn
from dlbook.check import against_torch, gradcheck


@st.composite
def bn_cases(draw, max_side=5, min_values=3):
    """At least ``min_values`` values per channel. Training needs 2 (torch refuses 1), but with
    exactly 2 the normalized output is +-1 whatever x is: dx is then an eps-sized ~1e-8 made
    of cancelling terms, and any comparison of it measures rounding, so the cases start at 3."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    n = max(n, -(-min_values // (h * w)))
    layer = nn.BatchNorm2d(c, eps=draw(st.sampled_from([1e-5, 1e-3, 0.1])),
                           momentum=draw(st.sampled_from([0.1, 0.5, None])),
                           affine=draw(st.booleans()), track_running_stats=draw(st.booleans()),
                           bias=draw(st.booleans()), dtype=np.float64)
    training = draw(st.booleans())
    return layer, (n, c, h, w), training


def _prepare(layer, shape, training, seed):
    """Non-trivial parameters and running statistics, so every term of the formula matters."""
    rng = np.random.default_rng(seed)
    if layer.affine:
        layer.weight[...] = rng.uniform(0.5, 2.0, shape[1])
        if layer.bias is not None:
            layer.bias[...] = rng.standard_normal(shape[1])
    if layer.track_running_stats:
        layer.running_mean[...] = rng.standard_normal(shape[1])
        layer.running_var[...] = rng.uniform(0.5, 2.0, shape[1])
    layer.train(training)
    return 3 * rng.standard_normal(shape) + 1  # callers seed dy with seed + 1: dy must not be x's own draws


@settings(max_examples=60, deadline=None)
@given(bn_cases(), st.integers(0, 2**16))
def test_batchnorm2d_matches_torch_float64(case, seed):
    layer, shape, training = case
    x = _prepare(layer, shape, training, seed)
    against_torch(layer, x, device="cpu", seed=seed + 1)  # raises beyond 1e-10, float64's default


@pytest.mark.gpu
@settings(max_examples=20, deadline=None)
@given(bn_cases(), st.integers(0, 2**16))
def test_batchnorm2d_matches_torch_on_cuda(case, seed):
    layer, shape, training = case
    x = _prepare(layer, shape, training, seed)
    against_torch(layer, x, device="cuda", seed=seed + 1)  # raises beyond 1e-10, float64's default


@settings(max_examples=15, deadline=None)
@given(bn_cases(max_side=3), st.integers(0, 2**16))
def test_batchnorm2d_gradients_match_finite_differences(case, seed):
    layer, shape, training = case
    x = _prepare(layer, shape, training, seed)
    gradcheck(layer, x, rtol=1e-6, seed=seed + 1)  # a projection not drawn from x's own stream


def test_training_output_is_normalized_per_channel():
    """Independent of torch: with weight 1 and bias 0 each channel has mean 0 and variance ~1."""
    x = np.random.default_rng(0).standard_normal((8, 3, 5, 5)) * [[[[1.0]], [[10.0]], [[0.1]]]] + 4
    y = nn.BatchNorm2d(3, dtype=np.float64)(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + 1e-5), rtol=1e-12)  # eps shrinks it


def test_batchnorm2d_follows_a_conv_layer_against_torch():
    """Conv -> BN -> ReLU as one Sequential, the block every small CNN uses."""
    block = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False, seed=0), nn.BatchNorm2d(4),
                          nn.ReLU()).to(np.float64)
    x = np.random.default_rng(1).standard_normal((3, 2, 6, 6))
    against_torch(block, x, device="cpu")  # raises beyond 1e-10, float64's default


def test_conv_bias_before_batchnorm_gets_no_gradient():
    """BN subtracts each channel's batch mean, so a per-channel bias before it cancels exactly."""
    block = nn.Sequential(nn.Conv2d(2, 4, 3, seed=0), nn.BatchNorm2d(4)).to(np.float64)
    rng = np.random.default_rng(2)
    y = block(rng.standard_normal((3, 2, 6, 6)))
    block.backward(rng.standard_normal(y.shape))
    assert np.abs(block[0].bias.grad).max() < 1e-12
    assert np.abs(block[0].weight.grad).max() > 1e-3
