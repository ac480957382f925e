"""Chapter 3's experiments (dlbook.experiments.components): a look inside a network (each layer's
output, each weight's gradient) and the overfitting runs on 100 digits."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import rel_error
from dlbook.data import load_digits_split
from dlbook.experiments.components import (dead_relu_shares, layer_outputs, small_digits,
                                           train_and_test_small_digits, train_small_digits,
                                           weight_gradient_norms, weight_norm_of_weights)
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


def _rows(X):
    return {row.tobytes() for row in X}


def test_small_digits_takes_training_and_validation_digits_from_the_training_part():
    """100 stratified training digits and 449 validation digits, both from the training part
    of load_digits_split; the standard test split (450) is returned untouched and shares no
    digit with the other two."""
    data = small_digits(100)
    assert data.X_train.shape == (100, 64) and data.X_val.shape == (449, 64)
    assert np.bincount(data.y_train).tolist() == [10] * 10
    full = load_digits_split(seed=0)
    np.testing.assert_array_equal(data.X_test, full.X_test)
    np.testing.assert_array_equal(data.y_test, full.y_test)
    training_part = _rows(full.X_train)
    assert _rows(data.X_train) <= training_part and _rows(data.X_val) <= training_part
    assert not _rows(data.X_train) & _rows(data.X_val)
    assert not (_rows(data.X_train) | _rows(data.X_val)) & _rows(data.X_test)


def test_small_digits_bad_arguments():
    with pytest.raises(ValueError, match="needs a validation set"):
        small_digits(100, val_size=0.0)
    with pytest.raises(ValueError, match="n_train must be in"):
        small_digits(5)


def test_dead_relu_shares_counts_units_silent_on_every_input():
    model = mlp([4, 3, 2], dtype=np.float64, seed=0)
    model.train()
    model[0].weight[...] = 0.0
    model[0].bias[...] = [-1.0, 1.0, -2.0]  # two units at 0 for every input, one at 1
    x = np.random.default_rng(0).standard_normal((6, 4))
    np.testing.assert_array_equal(dead_relu_shares(model, x), [2 / 3])
    assert model.training  # the mode is restored
    model[0].bias[...] = [-1.0, 1.0, 0.0]
    model[0].weight[2, 0] = 1.0  # active for some inputs only: not dead
    np.testing.assert_array_equal(dead_relu_shares(model, x), [1 / 3])
    with pytest.raises(ValueError, match="ReLU"):
        dead_relu_shares(nn.Sequential(nn.Linear(4, 2)), x.astype(np.float32))


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


def test_lr_decay_changes_the_run_only_after_the_first_decay():
    constant = train_small_digits(epochs=4, hidden=32, lr=0.05)
    decayed = train_small_digits(epochs=4, hidden=32, lr=0.05, lr_decay_every=2, lr_decay=0.1)
    assert decayed.val_loss[:2] == constant.val_loss[:2]
    assert decayed.val_loss[2:] != constant.val_loss[2:]
    assert len(decayed.tracked["dead_last_layer"]) == 4


def test_train_and_test_repeats_the_validation_run_then_evaluates_the_test_set():
    settings = dict(epochs=2, hidden=32, lr=0.05, weight_decay=1e-3)
    run = train_and_test_small_digits(**settings)
    assert run["history"].val_loss == train_small_digits(**settings).val_loss
    model = mlp([64, 32, 32, 10], dtype=np.float64)
    model.load_state_dict(run["state_dict"])
    twin = nn.to_torch(model).eval()
    data = small_digits()
    logits = twin(torch.tensor(data.X_test))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(data.y_test)).item()
    acc = (logits.argmax(1).numpy() == data.y_test).mean()
    assert run["n_test"] == 450 and run["test_acc"] == acc
    assert run["test_loss"] == pytest.approx(loss, rel=1e-12)
