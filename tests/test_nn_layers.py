"""Every chapter-3 layer against its torch twin (CPU float64/float32, CUDA) and finite differences."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, gradcheck
from nn_cases import LAYERS, LOSSES, make_input


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_torch_on_cpu(name, dtype):
    build, shape = LAYERS[name]
    layer = build(dtype)
    report = against_torch(layer, make_input(shape, dtype), device="cpu")  # raises on mismatch
    assert report.rtol == (1e-10 if dtype == np.float64 else 1e-5)
    # every parameter gradient and buffer was compared, not just the output
    assert {f"d{k}" for k in layer.named_parameters()} | set(layer.named_buffers()) <= set(report.errors)


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
    assert set(errors) == {"dx"} | {f"d{k}" for k in layer.named_parameters()}


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
    for p in layer.named_parameters().values():  # not the initial values, so a skipped copy shows
        p += np.random.default_rng(5).standard_normal(p.shape)
    twin = nn.to_torch(layer)
    back = nn.from_torch(twin)
    assert type(back) is type(layer) and back.training == layer.training
    assert repr(back) == repr(layer)
    for key, value in {**layer.named_parameters(), **layer.named_buffers()}.items():
        np.testing.assert_array_equal({**back.named_parameters(), **back.named_buffers()}[key], value)
    assert dict(twin.named_parameters()).keys() == layer.named_parameters().keys()


def test_from_torch_reads_float32_and_float64():
    lin = torch.nn.Linear(3, 2).double()
    assert nn.from_torch(lin).dtype == np.float64
    assert nn.from_torch(torch.nn.Linear(3, 2)).dtype == np.float32


def test_from_torch_rejects_a_layer_without_twin():
    with pytest.raises(TypeError, match="no twin"):
        nn.from_torch(torch.nn.GELU())


def test_module_to_casts_parameters_and_buffers_in_place():
    layer = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4))
    assert layer.dtype == np.float32
    layer.to(np.float64)
    assert all(v.dtype == np.float64 for v in {**layer.named_parameters(), **layer.named_grads()}.values())
    assert layer[1].buffers["running_var"].dtype == np.float64
    assert layer[1].buffers["num_batches_tracked"].dtype == np.int64  # counters stay integers
    layer.to(torch.float32)
    assert layer.dtype == np.float32


def test_sequential_names_parameters_like_torch():
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.ReLU(), nn.Linear(3, 2, seed=1))
    twin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    assert list(model.named_parameters()) == [k for k, _ in twin.named_parameters()]
    assert {k: v.shape for k, v in model.named_parameters().items()} == \
        {k: tuple(v.shape) for k, v in twin.named_parameters()}
    assert model.parameter_count() == sum(p.numel() for p in twin.parameters())
    assert len(model) == 3 and isinstance(model[1], nn.ReLU)


def test_backward_accumulates_gradients_until_zero_grad():
    layer = nn.Linear(3, 2, dtype=np.float64, seed=0)
    x, dy = make_input((4, 3), np.float64), make_input((4, 2), np.float64, seed=1)
    layer(x)
    layer.backward(dy)
    once = layer.grads["weight"].copy()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.grads["weight"], 2 * once)
    layer.zero_grad()
    assert not layer.grads["weight"].any()


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
