"""Chapter 2's hand-written two-layer network (dlbook.experiments.backprop) against torch autograd and
finite differences, and its training on the digits through dlbook.train.fit."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dlbook.check import numerical_gradient, rel_error
from dlbook.experiments import backprop
from dlbook.experiments.backprop import (init_mlp, linear_backward, linear_forward, mlp_forward, mlp_loss_and_grads,
                                         torch_mlp_loss_and_grads, train_mlp_on_digits)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 6), d=st.integers(1, 5), h=st.integers(1, 6), c=st.integers(2, 4),
       activation=st.sampled_from(["relu", "sigmoid"]), seed=st.integers(0, 1000))
def test_mlp_gradients_match_torch(n, d, h, c, activation, seed):
    rng = np.random.default_rng(seed)
    params = init_mlp(d, h, c, seed=seed)
    x, y = rng.standard_normal((n, d)), rng.integers(0, c, n)
    loss, grads = mlp_loss_and_grads(params, x, y, activation)
    loss_t, grads_t = torch_mlp_loss_and_grads(params, x, y, activation)
    assert math.isclose(loss, loss_t, rel_tol=1e-12)
    assert set(grads) == set(params)
    for name in grads:
        assert grads[name].shape == params[name].shape
        assert rel_error(grads[name], grads_t[name]) < 1e-10, name


def test_mlp_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    params = init_mlp(4, 5, 3, seed=1)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    _, grads = mlp_loss_and_grads(params, x, y, "sigmoid")
    for name, p in params.items():
        numeric = numerical_gradient(lambda: mlp_loss_and_grads(params, x, y, "sigmoid")[0], p)
        assert rel_error(grads[name], numeric) < 1e-7, name


def test_a_wrong_relu_backward_is_caught(monkeypatch):
    monkeypatch.setattr(backprop, "ACTIVATIONS", {**backprop.ACTIVATIONS,
                                                  "relu": (backprop.relu_forward, lambda dy, mask: dy)})
    rng = np.random.default_rng(0)
    params = init_mlp(4, 8, 3)
    x, y = rng.standard_normal((10, 4)), rng.integers(0, 3, 10)
    _, grads = mlp_loss_and_grads(params, x, y)
    _, grads_t = torch_mlp_loss_and_grads(params, x, y)
    assert rel_error(grads["fc1.weight"], grads_t["fc1.weight"]) > 1e-3


def test_linear_layer_is_the_transposed_column_rule():
    # rows-are-samples dx = dy W is (W^T dY^T)^T, the notes' dg/dX = W^T dh/dY in column layout
    rng = np.random.default_rng(0)
    x, w, b, dy = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((5, 4))
    out, cache = linear_forward(x, w, b)
    np.testing.assert_allclose(out, (w @ x.T).T + b, rtol=1e-14, atol=0)
    dx, dw, db = linear_backward(dy, cache)
    np.testing.assert_allclose(dx, (w.T @ dy.T).T, rtol=1e-14, atol=0)
    np.testing.assert_allclose(dw, sum(np.outer(dy[i], x[i]) for i in range(5)), rtol=1e-13, atol=0)
    np.testing.assert_allclose(db, dy.sum(0), rtol=1e-14, atol=0)


def test_init_mlp_draws_torch_linear_bounds_and_is_seeded():
    params = init_mlp(400, 300, 10, seed=0)
    assert {k: v.shape for k, v in params.items()} == {"fc1.weight": (300, 400), "fc1.bias": (300,),
                                                     "fc2.weight": (10, 300), "fc2.bias": (10,)}
    for name, fan_in in (("fc1.weight", 400), ("fc2.weight", 300)):
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(params[name]).max() <= bound and np.abs(params[name]).max() > 0.99 * bound
    np.testing.assert_array_equal(params["fc1.weight"], init_mlp(400, 300, 10, seed=0)["fc1.weight"])
    assert not np.array_equal(params["fc1.weight"], init_mlp(400, 300, 10, seed=1)["fc1.weight"])


def test_errors():
    params = init_mlp(3, 4, 2)
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="linear_forward expects"):
        linear_forward(np.zeros((5, 2)), params["fc1.weight"], params["fc1.bias"])
    with pytest.raises(ValueError, match="dy of shape"):
        linear_backward(np.zeros((5, 3)), (x, params["fc1.weight"]))
    with pytest.raises(KeyError, match="fc2.bias"):
        mlp_forward({k: v for k, v in params.items() if k != "fc2.bias"}, x)
    with pytest.raises(ValueError, match="activation"):
        mlp_forward(params, x, "tanh")
    with pytest.raises(ValueError, match="shape"):
        mlp_forward(params, np.zeros(3))
    with pytest.raises(ValueError, match="positive int"):
        init_mlp(0, 4, 2)
    bad = dict(params, **{"fc2.weight": np.zeros((2, 5))})
    with pytest.raises(ValueError, match="hidden units"):
        mlp_forward(bad, x)


@pytest.mark.gpu
def test_mlp_gradients_match_torch_on_cuda():
    rng = np.random.default_rng(0)
    params = init_mlp(8, 16, 4, seed=0)
    x, y = rng.standard_normal((32, 8)), rng.integers(0, 4, 32)
    loss, grads = mlp_loss_and_grads(params, x, y)
    loss_t, grads_t = torch_mlp_loss_and_grads(params, x, y, device="cuda")
    assert math.isclose(loss, loss_t, rel_tol=1e-10)
    for name in grads:
        assert rel_error(grads[name], grads_t[name]) < 1e-10, name


def test_train_mlp_on_digits_is_full_batch_gradient_descent_on_the_hand_written_network():
    """fit with one batch of every training digit is plain gradient descent: the same steps taken with
    mlp_loss_and_grads by hand give the same loss after each step and the same final parameters."""
    from dlbook.data import load_digits_split

    steps, lr = 4, 0.5
    result = train_mlp_on_digits(hidden=16, steps=steps, lr=lr, seed=0)
    split = load_digits_split(seed=0)
    params = init_mlp(split.X_train.shape[1], 16, split.n_classes, seed=0)
    losses = []
    for _ in range(steps):
        _, grads = mlp_loss_and_grads(params, split.X_train, split.y_train)
        for name in params:
            params[name] -= lr * grads[name]
        losses.append(mlp_loss_and_grads(params, split.X_train, split.y_train)[0])  # after the step
    assert result["losses"].shape == (steps,)
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-12, atol=0)
    for name in params:
        assert rel_error(result["params"][name], params[name]) < 1e-12, name
    scores, _ = mlp_forward(params, split.X_test)
    assert result["test_acc"] == np.mean(scores.argmax(1) == split.y_test)
