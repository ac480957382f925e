"""Chapter 3's experiments (dlbook.experiments.components): a look inside a network (each layer's
output, each weight's gradient) and the overfitting runs on 100 digits."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import rel_error
from dlbook.experiments.components import (layer_outputs, small_digits, train_small_digits, weight_gradient_norms,
                                           weight_norm_of_weights)
from dlbook.models.mlp import mlp


def _model_and_batch():
    model = mlp([8, 6, 6, 3], "sigmoid", init="xavier", dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    return model, rng.standard_normal((5, 8)), rng.integers(0, 3, 5)


def test_layer_outputs_match_torch_and_keep_what_backward_needs():
    model, x, y = _model_and_batch()
    twin = nn.to_torch(model)
    xt = torch.tensor(x, requires_grad=True)
    expected, h = [], xt
    for layer in twin:
        h = layer(h)
        expected.append(h)
    outputs = layer_outputs(model, x)
    assert len(outputs) == len(model)
    for ours, theirs in zip(outputs, expected):
        assert rel_error(ours, theirs.detach().numpy()) < 1e-14
    loss = nn.CrossEntropyLoss()
    loss(outputs[-1], y)
    dx = model.backward(loss.backward())  # no second forward pass needed
    torch.nn.functional.cross_entropy(h, torch.tensor(y)).backward()
    assert rel_error(dx, xt.grad.numpy()) < 1e-12
    grads = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        assert rel_error(p.grad, grads[name].grad.numpy()) < 1e-12, name
    with pytest.raises(TypeError, match="Sequential"):
        layer_outputs(nn.Linear(2, 2), np.zeros((1, 2), np.float32))


def test_weight_gradient_norms_match_torch_and_start_from_zero():
    model, x, y = _model_and_batch()
    for p in model.parameters():  # stale gradients must not leak into the norms
        p.grad = np.full(p.shape, 100.0)
    norms = weight_gradient_norms(model, nn.CrossEntropyLoss(), x, y)
    twin = nn.to_torch(model)
    torch.nn.functional.cross_entropy(twin(torch.tensor(x)), torch.tensor(y)).backward()
    expected = [p.grad.norm().item() for k, p in twin.named_parameters() if k.endswith("weight")]
    assert len(norms) == 3
    np.testing.assert_allclose(norms, expected, rtol=1e-12, atol=0)


def test_weight_norm_of_weights_leaves_the_biases_out():
    model = mlp([4, 3, 2], dtype=np.float64, seed=0)
    model[0].weight[...] = 0.0
    model[2].weight[...] = 2.0
    for layer in (model[0], model[2]):
        layer.bias[...] = 100.0
    assert weight_norm_of_weights(model) == pytest.approx(2.0 * np.sqrt(6), rel=1e-15)


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


def test_weight_decay_shrinks_the_weights():
    plain = train_small_digits(epochs=3, hidden=32)
    decayed = train_small_digits(epochs=3, hidden=32, weight_decay=0.05)
    assert decayed.tracked["weight_norm"][-1] < 0.95 * plain.tracked["weight_norm"][-1]
