"""Chapter 3's helpers: the MLP builder, the layer diagnostics and the overfitting experiment."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, rel_error
from dlbook.diagnostics import layer_outputs, weight_gradient_norms
from dlbook.models.mlp import mlp
from dlbook.overfitting import small_digits, train_small_digits
from nn_cases import LOSSES


def test_mlp_layout_and_parameter_names():
    model = mlp([64, 32, 16, 10], "tanh", dropout=0.5, batchnorm=True, dtype=np.float64)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 2 + ["Linear"]
    assert not model[0].bias and model[-1].bias  # no bias in front of BatchNorm
    twin = nn.to_torch(model)
    assert list(model.named_parameters()) == [k for k, _ in twin.named_parameters()]


@pytest.mark.parametrize("init, std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 800)), (0.05, 0.05),
                                       ("default", 1 / np.sqrt(3 * 400))])
def test_mlp_inits_have_the_intended_scale(init, std):
    model = mlp([400, 400, 10], init=init, dtype=np.float64, seed=0)
    w = model[0].params["weight"]
    # 160,000 draws: the sample std is within 1% of the true one with overwhelming probability
    assert w.std() == pytest.approx(std, rel=0.01)
    assert (not model[0].params["bias"].any()) == (init != "default")


def test_mlp_trunc_normal_is_cut_at_two_std_like_keras():
    from scipy import stats

    model = mlp([400, 400, 10], init=("trunc_normal", 0.05), dtype=np.float64, seed=0)
    w = model[0].params["weight"].ravel()
    assert np.abs(w).max() <= 0.1 and not model[0].params["bias"].any()
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


def test_layer_outputs_and_gradient_norms_match_torch():
    model = mlp([8, 6, 6, 3], "sigmoid", init="xavier", dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 8)), rng.integers(0, 3, 5)
    outputs = layer_outputs(model, x)
    assert len(outputs) == len(model) and rel_error(outputs[-1], model(x)) == 0
    norms = weight_gradient_norms(model, nn.CrossEntropyLoss(), x, y)
    twin = nn.to_torch(model)
    torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y)).backward()
    expected = [p.grad.norm().item() for k, p in twin.named_parameters() if k.endswith("weight")]
    np.testing.assert_allclose(norms, expected, rtol=1e-12)
    with pytest.raises(TypeError, match="Sequential"):
        layer_outputs(nn.Linear(2, 2), np.zeros((1, 2), np.float32))


def test_small_digits_split_is_stratified():
    X, y, X_val, y_val = small_digits(100)
    assert X.shape == (100, 64) and X_val.shape == (450, 64)
    assert np.bincount(y).tolist() == [10] * 10


def test_train_small_digits_records_the_weight_norm():
    history = train_small_digits(epochs=3, hidden=32)
    assert len(history.tracked["weight_norm"]) == 3 == len(history.val_loss)
    assert history.train_loss[-1] < history.train_loss[0]


def test_train_small_digits_uses_the_given_init():
    small = train_small_digits(epochs=1, hidden=32, init=("trunc_normal", 0.01))
    default = train_small_digits(epochs=1, hidden=32)
    # after one epoch the weights are still near their start: 100x smaller scale, smaller norm
    assert small.tracked["weight_norm"][0] < default.tracked["weight_norm"][0] / 2


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_round_trip_through_torch(name):
    layer = LOSSES[name][0]()
    back = nn.from_torch(nn.to_torch(layer))
    assert type(back) is type(layer) and back.torch_config() == layer.torch_config()


def test_bias_before_batchnorm_needs_atol_but_mlp_avoids_it():
    x = np.random.default_rng(0).standard_normal((16, 8))
    against_torch(mlp([8, 6, 3], batchnorm=True, dtype=np.float64), x, device="cpu")  # no atol needed
