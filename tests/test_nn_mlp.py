"""Chapter 3's MLP builder (dlbook.models.mlp) and the loss layers' round trip through torch."""

import numpy as np
import pytest

from dlbook import nn
from dlbook.check import against_torch
from dlbook.models.mlp import mlp
from nn_cases import LOSSES


def test_mlp_layout_and_parameter_names():
    model = mlp([64, 32, 16, 10], "tanh", dropout=0.5, batchnorm=True, dtype=np.float64)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 2 + ["Linear"]
    assert model[0].bias is None and model[-1].bias is not None  # no bias in front of BatchNorm
    twin = nn.to_torch(model)
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in twin.named_parameters()]


@pytest.mark.parametrize("init, std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 800)), (0.05, 0.05),
                                       ("default", 1 / np.sqrt(3 * 400))])
def test_mlp_inits_have_the_intended_scale(init, std):
    model = mlp([400, 400, 10], init=init, dtype=np.float64, seed=0)
    w = model[0].weight
    # 160,000 draws: the sample std is within 1% of the true one with overwhelming probability
    assert w.std() == pytest.approx(std, rel=0.01)
    assert (not model[0].bias.any()) == (init != "default")


def test_mlp_trunc_normal_is_cut_at_two_std_like_keras():
    from scipy import stats

    model = mlp([400, 400, 10], init=("trunc_normal", 0.05), dtype=np.float64, seed=0)
    w = np.asarray(model[0].weight).ravel()
    assert np.abs(w).max() <= 0.1 and not model[0].bias.any()
    # the exact law: N(0, 0.05²) conditioned on |w| <= 2 std (its std is 0.88 * 0.05)
    assert stats.kstest(w, stats.truncnorm(-2, 2, scale=0.05).cdf).pvalue > 1e-3
    assert stats.kstest(w, stats.norm(0, 0.05).cdf).pvalue < 1e-3  # not the untruncated normal


@pytest.mark.parametrize("kwargs, message", [
    (dict(widths=[64]), "at least two positive ints"),
    (dict(widths=[64, 0, 10]), "at least two positive ints"),
    (dict(widths=[4, 2], activation="gelu"), "activation must be one of"),
    (dict(widths=[4, 2], init="orthogonal"), "init must be"),
    (dict(widths=[4, 2], init=("trunc_normal", -0.1)), "init must be"),
    (dict(widths=[4, 2], init=("normal", 0.1)), "init must be"),
])
def test_mlp_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mlp(**kwargs)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_round_trip_through_torch(name):
    layer = LOSSES[name][0]()
    back = nn.from_torch(nn.to_torch(layer))
    assert type(back) is type(layer) and back.torch_config() == layer.torch_config()


def test_bias_before_batchnorm_needs_atol_but_mlp_avoids_it():
    x = np.random.default_rng(0).standard_normal((16, 8))
    against_torch(mlp([8, 6, 3], batchnorm=True, dtype=np.float64), x, device="cpu")  # no atol needed
