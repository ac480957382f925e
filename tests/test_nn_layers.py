"""Every chapter-3 layer against its torch twin (CPU float64/float32, CUDA) and finite differences."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, gradcheck, rel_error
from nn_cases import LAYERS, LOSSES, make_input


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_torch_on_cpu(name, dtype):
    build, shape = LAYERS[name]
    layer = build(dtype)
    report = against_torch(layer, make_input(shape, dtype), device="cpu")  # raises on mismatch
    assert report.rtol == (1e-10 if dtype == np.float64 else 1e-5)
    # every parameter gradient and buffer was compared, not just the output
    compared = {f"d{k}" for k, _ in layer.named_parameters()} | {k for k, _ in layer.named_buffers()}
    assert compared <= set(report.errors)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_torch_on_cpu(name, dtype):
    build, shape, target = LOSSES[name]
    rng = np.random.default_rng(1)
    report = against_torch(build(), make_input(shape, dtype), target(rng, shape, dtype), device="cpu")
    assert report.max_rel <= (1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients_match_finite_differences(name):
    build, shape = LAYERS[name]
    layer = build(np.float64)
    errors = gradcheck(layer, make_input(shape, np.float64, seed=2))  # raises on mismatch
    assert set(errors) == {"dx"} | {f"d{k}" for k, _ in layer.named_parameters()}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradients_match_finite_differences(name):
    build, shape, target = LOSSES[name]
    rng = np.random.default_rng(3)
    errors = gradcheck(build(), make_input(shape, np.float64, seed=3), target(rng, shape, np.float64))
    assert errors["dx"] < 1e-6


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_torch_on_cuda(name, dtype):
    build, shape = LAYERS[name]
    report = against_torch(build(dtype), make_input(shape, dtype), device="cuda")  # raises on mismatch
    assert report.device.startswith("cuda")
    assert report.rtol == (1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_torch_on_cuda(name, dtype):
    build, shape, target = LOSSES[name]
    report = against_torch(build(), make_input(shape, dtype), target(np.random.default_rng(1), shape, dtype),
                           device="cuda")
    assert report.max_rel <= (1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_round_trip_through_torch_keeps_weights_and_config(name):
    build, shape = LAYERS[name]
    layer = build(np.float64)
    for p in layer.parameters():  # not the initial values, so a skipped copy shows
        p += np.random.default_rng(5).standard_normal(p.shape)
    twin = nn.to_torch(layer)
    back = nn.from_torch(twin)
    assert type(back) is type(layer) and back.training == layer.training
    assert repr(back) == repr(layer)
    state, back_state = layer.state_dict(), back.state_dict()
    assert list(back_state) == list(state) == list(twin.state_dict())
    for key, value in state.items():
        np.testing.assert_array_equal(back_state[key], value)
        assert back_state[key] is not value  # a copy
    assert all(isinstance(p, nn.Parameter) for p in back.parameters())


def test_from_torch_reads_float32_and_float64():
    lin = torch.nn.Linear(3, 2).double()
    assert nn.from_torch(lin).dtype == np.float64
    assert nn.from_torch(torch.nn.Linear(3, 2)).dtype == np.float32


def test_from_torch_rejects_a_layer_without_twin():
    with pytest.raises(TypeError, match="no twin"):
        nn.from_torch(torch.nn.GELU())


def test_module_to_casts_parameters_gradients_and_buffers():
    layer = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4))
    assert layer.dtype == np.float32
    y = layer(make_input((5, 3), np.float32))
    layer.backward(np.ones_like(y))
    before = {k: np.array(v) for k, v in layer.state_dict().items()}
    assert layer.to(np.float64) is layer
    for name, p in layer.named_parameters():
        assert isinstance(p, nn.Parameter) and p.dtype == np.float64 and p.grad.dtype == np.float64, name
    assert layer[1].running_var.dtype == np.float64
    assert layer[1].num_batches_tracked.dtype == np.int64  # counters stay integers
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # float32 -> float64 is exact
    layer(make_input((5, 3), np.float64))  # the layers accept float64 input now
    layer.to(torch.float32)
    assert layer.dtype == np.float32 and layer[1].running_mean.dtype == np.float32



def test_sequential_names_parameters_like_torch():
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.ReLU(), nn.Linear(3, 2, seed=1))
    twin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in twin.named_parameters()]
    assert {k: v.shape for k, v in model.named_parameters()} == \
        {k: tuple(v.shape) for k, v in twin.named_parameters()}
    assert model.parameter_count() == sum(p.numel() for p in twin.parameters())
    assert len(model) == 3 and isinstance(model[1], nn.ReLU)


def test_backward_accumulates_gradients_until_zero_grad():
    layer = nn.Linear(3, 2, dtype=np.float64, seed=0)
    x, dy = make_input((4, 3), np.float64), make_input((4, 2), np.float64, seed=1)
    assert layer.weight.grad is None and layer.bias.grad is None
    layer(x)
    layer.backward(dy)
    once = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer(x)
    layer.backward(dy)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-15, atol=0)
    layer.zero_grad(set_to_none=False)
    assert not layer.weight.grad.any() and not layer.bias.grad.any()
    layer.zero_grad()  # torch's default: forget the arrays
    assert layer.weight.grad is None and layer.bias.grad is None


def test_train_and_eval_propagate_to_children():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.eval()
    assert not model.training and not model[1].training
    model.train()
    assert model[1].training


def test_sigmoid_and_softmax_do_not_overflow_at_extremes():
    x = np.array([[-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # a naive 1/(1+exp(-x)) or exp(x)/sum would raise here
        np.testing.assert_array_equal(nn.Sigmoid()(x), [[0.0, 0.5, 1.0]])
        np.testing.assert_array_equal(nn.Softmax(dim=1)(x), [[0.0, 0.0, 1.0]])
        assert nn.LogSoftmax(dim=1)(x)[0, 0] == -2000.0


def test_functional_linear_matches_torch_over_leading_axes():
    """F.linear works on (..., in) like torch's; its backward sums the parameter gradients over them."""
    rng = np.random.default_rng(6)
    x, w, b, dy = (rng.standard_normal(s) for s in [(2, 3, 5), (4, 5), (4,), (2, 3, 4)])
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.linear(xt, wt, bt)
    yt.backward(torch.tensor(dy))
    assert rel_error(nn.functional.linear(x, w, b), yt.detach().numpy()) < 1e-14
    dx, dw, db = nn.functional.linear_backward(dy, x, w)
    for ours, theirs in ((dx, xt), (dw, wt), (db, bt)):
        assert ours.shape == theirs.shape and rel_error(ours, theirs.grad.numpy()) < 1e-14
    assert nn.functional.linear_backward(dy, x, w, has_bias=False)[2] is None
    assert rel_error(nn.functional.linear(x, w), yt.detach().numpy() - b) < 1e-14


def test_accumulate_grad_adds_into_a_copy_of_the_first_gradient():
    p = nn.Parameter(np.zeros((2, 3)))
    g = np.ones((2, 3))
    nn.accumulate_grad(p, g)
    assert p.grad is not g  # later additions must not write into the caller's array
    nn.accumulate_grad(p, 2 * g)
    np.testing.assert_array_equal(p.grad, 3 * g)
    np.testing.assert_array_equal(g, 1)
    with pytest.raises(ValueError, match=r"gradient of shape \(3, 2\) for a parameter of shape \(2, 3\)"):
        nn.accumulate_grad(p, np.ones((3, 2)))
