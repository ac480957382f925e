"""Initializers draw from torch.nn.init's distributions (Kolmogorov–Smirnov tests, fixed seeds)."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from dlbook import nn
from dlbook.nn import init

SHAPES = [(200, 100), (64, 16, 3, 3)]  # a Linear weight and a Conv2d weight (fans include the kernel)
P_MIN = 1e-3  # seeds are fixed, so each test is deterministic; a wrong scale gives p ~ 0


def _fans(shape):
    w = torch.empty(shape)
    return torch.nn.init._calculate_fan_in_and_fan_out(w)


def _sample(fn, shape, seed=0, **kw):
    return fn(np.empty(shape), generator=seed, **kw).ravel()


def _torch_sample(fn, shape, **kw):
    torch.manual_seed(0)
    return fn(torch.empty(shape, dtype=torch.float64), **kw).numpy().ravel()


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_match_torch(shape):
    assert init.calculate_fan_in_and_fan_out(np.empty(shape)) == _fans(shape)


@pytest.mark.parametrize("nonlinearity, param", [("linear", None), ("sigmoid", None), ("tanh", None),
                                                 ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                                 ("leaky_relu", 0), ("selu", None), ("conv2d", None)])
def test_gains_match_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


def _xavier_std(shape, gain=1.0):
    fan_in, fan_out = _fans(shape)
    return gain * math.sqrt(2 / (fan_in + fan_out))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", [
    # (ours, torch's, kwargs, exact distribution as a function of the shape)
    (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {"gain": 2.0},
     lambda s: stats.uniform(-math.sqrt(3) * _xavier_std(s, 2.0), 2 * math.sqrt(3) * _xavier_std(s, 2.0))),
    (init.xavier_normal_, torch.nn.init.xavier_normal_, {},
     lambda s: stats.norm(0, _xavier_std(s))),
    (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"nonlinearity": "relu"},
     lambda s: stats.uniform(-math.sqrt(6 / _fans(s)[0]), 2 * math.sqrt(6 / _fans(s)[0]))),
    (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"mode": "fan_out", "nonlinearity": "relu"},
     lambda s: stats.norm(0, math.sqrt(2 / _fans(s)[1]))),
    (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"a": 0.2},  # leaky_relu gain
     lambda s: stats.norm(0, math.sqrt(2 / (1 + 0.04) / _fans(s)[0]))),
    (init.trunc_normal_, torch.nn.init.trunc_normal_, {"mean": 0.5, "std": 1.0, "a": -0.5, "b": 1.0},
     lambda s: stats.truncnorm(-1.0, 0.5, loc=0.5, scale=1.0)),
    (init.trunc_normal_, torch.nn.init.trunc_normal_, {"std": 0.02},  # cut-offs ±2 are absolute: no effect
     lambda s: stats.norm(0, 0.02)),
], ids=["xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal_fan_out",
        "kaiming_normal_leaky", "trunc_normal", "trunc_normal_small_std"])
def test_distribution_matches_the_formula_and_torch(case, shape):
    ours_fn, torch_fn, kw, dist = case
    ours = _sample(ours_fn, shape, **kw)
    assert stats.kstest(ours, dist(shape).cdf).pvalue > P_MIN
    assert stats.ks_2samp(ours, _torch_sample(torch_fn, shape, **kw)).pvalue > P_MIN


def test_ks_test_detects_a_wrong_scale():
    """The test above has power: a 10% larger std (a plausible bug) is rejected."""
    shape = SHAPES[0]
    wrong = np.random.default_rng(0).normal(0, 1.1 * _xavier_std(shape), shape).ravel()
    assert stats.kstest(wrong, stats.norm(0, _xavier_std(shape)).cdf).pvalue < P_MIN


def test_trunc_normal_respects_the_cut_offs():
    w = init.trunc_normal_(np.empty(10_000), mean=0, std=1, a=-0.1, b=0.3, generator=0)
    assert w.min() >= -0.1 and w.max() <= 0.3


def test_linear_default_init_matches_torch():
    """torch.nn.Linear: kaiming_uniform_(a=√5) = U(-1/√in, 1/√in) for weight and bias."""
    layer = nn.Linear(300, 200, seed=0, dtype=np.float64)
    bound = 1 / math.sqrt(300)
    torch.manual_seed(0)
    twin = torch.nn.Linear(300, 200, dtype=torch.float64)
    for name in ("weight", "bias"):
        ours = np.asarray(getattr(layer, name)).ravel()
        assert stats.kstest(ours, stats.uniform(-bound, 2 * bound).cdf).pvalue > P_MIN
        assert stats.ks_2samp(ours, getattr(twin, name).detach().numpy().ravel()).pvalue > P_MIN


def test_default_uniform_bound_comes_from_the_weight_or_the_given_fan_in():
    bound = 1 / math.sqrt(50)
    w = init.default_uniform_(np.empty((200, 50)), generator=0)
    b = init.default_uniform_(np.empty(2000), 50, generator=1)  # a bias: its weight's fan_in
    for values in (w.ravel(), b):
        assert stats.kstest(values, stats.uniform(-bound, 2 * bound).cdf).pvalue > P_MIN
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.default_uniform_(np.empty(5))


def test_an_initializer_refills_a_parameter_in_place():
    layer = nn.Linear(40, 30, seed=0)
    weight = layer.weight
    out = init.kaiming_normal_(layer.weight, generator=0)
    assert out is weight and layer.weight is weight and isinstance(weight, nn.Parameter)
    assert stats.kstest(np.asarray(weight).ravel(), stats.norm(0, math.sqrt(2 / 40)).cdf).pvalue > P_MIN


def test_fills_in_place_and_keeps_dtype():
    w = np.zeros((30, 20), np.float32)
    out = init.xavier_uniform_(w, generator=0)
    assert out is w and w.dtype == np.float32 and w.any()
    init.constant_(w, 0.5)
    assert (w == 0.5).all()
    init.zeros_(w)
    assert not w.any()


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(np.zeros(5))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.kaiming_normal_(np.zeros((3, 3)), nonlinearity="swish")
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal_(np.zeros((3, 3)), mode="fan_avg")
    with pytest.raises(TypeError, match="float numpy.ndarray"):
        init.normal_(np.zeros((3, 3), np.int64))
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(np.zeros(3), a=1, b=0)
