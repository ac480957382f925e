"""dlbook.keras_dense.Dense against Keras 3 itself (torch backend): forward, penalties,
constraints, initializers and whole training steps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook.check import rel_error
from dlbook.keras_dense import (L1, L2, L1L2, Dense, MaxNorm, NonNeg, TruncatedNormal, apply_constraints,
                                import_keras, regularization_loss, to_keras, with_regularization)

keras = import_keras()
#: Keras 3's type promotion maps 64-bit results to 32-bit (as JAX does by default), so its
#: products compute in float32 even for float64 layers: agreement to float32 precision
KERAS_RTOL = 1e-5


def _random_dense(rng, **kwargs):
    dense = Dense(5, 3, dtype=torch.float64, **kwargs)
    with torch.no_grad():  # random bias too, so a dropped bias shows
        dense.weight.copy_(torch.as_tensor(rng.normal(size=(3, 5))))
        if dense.bias is not None:
            dense.bias.copy_(torch.as_tensor(rng.normal(size=3)))
    return dense


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("shape", [(7, 5), (2, 4, 5), (2, 3, 4, 5)])
def test_forward_matches_keras_on_the_last_axis(activation, shape):
    rng = np.random.default_rng(0)
    dense = _random_dense(rng, activation=activation)
    x = rng.normal(size=shape)
    ours = dense(torch.as_tensor(x)).detach().numpy()
    theirs = keras.ops.convert_to_numpy(to_keras(dense)(x))
    assert ours.shape == shape[:-1] + (3,)  # no flattening: only the last axis changes
    assert rel_error(ours, theirs) < KERAS_RTOL
    # and it is torch's Linear on the last axis
    linear = torch.nn.functional.linear(torch.as_tensor(x), dense.weight, dense.bias).detach().numpy()
    if activation is None:
        assert rel_error(ours, linear) < 1e-15


def test_no_bias():
    rng = np.random.default_rng(1)
    dense = _random_dense(rng, use_bias=False)
    x = rng.normal(size=(4, 5))
    assert dense.bias is None and len(to_keras(dense).weights) == 1
    np.testing.assert_allclose(dense(torch.as_tensor(x)).detach().numpy(), x @ dense.weight.detach().numpy().T,
                               rtol=1e-13, atol=0)


def test_penalties_match_keras_layer_losses():
    rng = np.random.default_rng(2)
    dense = _random_dense(rng, activation="relu", kernel_regularizer=L1L2(0.01, 0.02),
                          bias_regularizer=L2(0.3), activity_regularizer=L1(0.05))
    x = rng.normal(size=(6, 5))
    dense(torch.as_tensor(x))
    layer = to_keras(dense)
    layer(x)
    theirs = sum(float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses)
    ours = float(regularization_loss(dense).detach())
    assert np.isclose(ours, theirs, rtol=KERAS_RTOL, atol=0)
    # by hand: Keras' L2 has no 1/2, the activity penalty is divided by the batch size
    w, b = dense.weight.detach().numpy(), dense.bias.detach().numpy()
    out = np.maximum(x @ w.T + b, 0)
    by_hand = 0.01 * np.abs(w).sum() + 0.02 * (w ** 2).sum() + 0.3 * (b ** 2).sum() + 0.05 * out.sum() / 6
    assert np.isclose(ours, by_hand, rtol=1e-12, atol=0)


def test_l2_penalty_is_weight_decay_of_twice_the_factor():
    rng = np.random.default_rng(3)
    dense = _random_dense(rng, kernel_regularizer=L2(0.01))
    regularization_loss(dense).backward()
    np.testing.assert_allclose(dense.weight.grad.numpy(), 2 * 0.01 * dense.weight.detach().numpy(),
                               rtol=1e-14, atol=0)


@pytest.mark.parametrize("constraint", [MaxNorm(1.5), MaxNorm(1.0, axis=1), NonNeg()])
def test_constraints_match_keras(constraint):
    rng = np.random.default_rng(4)
    bias_constraint = NonNeg() if isinstance(constraint, MaxNorm) else MaxNorm(1.0)  # a bias has one axis
    dense = _random_dense(rng, kernel_constraint=constraint, bias_constraint=bias_constraint)
    layer = to_keras(dense)
    kernel = keras.ops.convert_to_numpy(layer.kernel_constraint(layer.kernel))
    bias = keras.ops.convert_to_numpy(layer.bias_constraint(layer.bias))
    apply_constraints(dense)
    assert rel_error(dense.weight.detach().numpy(), kernel.T) < KERAS_RTOL
    assert rel_error(dense.bias.detach().numpy(), bias) < KERAS_RTOL


def test_max_norm_caps_each_units_incoming_weights():
    rng = np.random.default_rng(5)
    dense = _random_dense(rng, kernel_constraint=MaxNorm(1.0))
    before = dense.weight.detach().numpy().copy()
    apply_constraints(dense)
    rows = np.linalg.norm(dense.weight.detach().numpy(), axis=1)  # torch layout: one row per unit
    long = np.linalg.norm(before, axis=1) > 1
    assert long.any() and np.allclose(rows[long], 1.0, rtol=1e-6, atol=0)
    np.testing.assert_allclose(dense.weight.detach().numpy()[~long], before[~long], rtol=1e-6, atol=0)


def test_initializers_follow_keras_definitions():
    dense = Dense(400, 300, seed=0)
    w = dense.weight.detach().numpy()
    limit = np.sqrt(6 / (400 + 300))  # Glorot uniform
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.999 * limit
    assert np.isclose(w.std(), limit / np.sqrt(3), rtol=0.01, atol=0)
    assert not dense.bias.detach().numpy().any()  # zeros
    keras_w = keras.ops.convert_to_numpy(keras.initializers.GlorotUniform(seed=0)((400, 300)))
    assert np.abs(keras_w).max() <= limit and np.isclose(keras_w.std(), w.std(), rtol=0.01, atol=0)

    trunc = Dense(400, 300, kernel_initializer=TruncatedNormal(stddev=0.05)).weight.detach().numpy()
    assert np.abs(trunc).max() <= 0.1  # cut at 2 stddev
    # std of N(0, 1) cut at ±2: sqrt(1 - 4 φ(2) / (Φ(2) - Φ(-2)))
    from scipy.stats import norm
    factor = np.sqrt(1 - 4 * norm.pdf(2) / (norm.cdf(2) - norm.cdf(-2)))
    assert np.isclose(trunc.std(), 0.05 * factor, rtol=0.01, atol=0)


def test_seeded_initialisation_is_reproducible():
    a, b, c = Dense(5, 3, seed=7), Dense(5, 3, seed=7), Dense(5, 3, seed=8)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, c.weight)


def test_training_steps_match_keras_fit():
    """Three SGD steps of the whole mapping (penalties in the loss, constraints after each step)
    against Keras' own model.fit on the same data and weights."""
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(8, 5)), rng.normal(size=(8, 3))
    dense = _random_dense(rng, activation="tanh", kernel_regularizer=L1L2(0.01, 0.02),
                          bias_regularizer=L2(0.05), activity_regularizer=L2(0.1),
                          kernel_constraint=MaxNorm(1.2), bias_constraint=NonNeg())
    layer = to_keras(dense)
    model = keras.Sequential([keras.Input((5,), dtype="float64"), layer])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)

    optimizer = torch.optim.SGD(dense.parameters(), lr=0.1)
    loss_fn = with_regularization(torch.nn.MSELoss(), dense)
    for _ in range(3):
        optimizer.zero_grad()
        loss_fn(dense(torch.as_tensor(x)), torch.as_tensor(y)).backward()
        optimizer.step()
        apply_constraints(dense)
    kernel, bias = (keras.ops.convert_to_numpy(v) for v in (layer.kernel, layer.bias))
    assert rel_error(dense.weight.detach().numpy(), kernel.T) < KERAS_RTOL
    assert rel_error(dense.bias.detach().numpy(), bias) < KERAS_RTOL


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="units must be a positive int"):
        Dense(5, 0)
    with pytest.raises(ValueError, match="activation must be"):
        Dense(5, 3, activation="swish")
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        Dense(5, 3, kernel_initializer="glorot")
    with pytest.raises(ValueError, match="last axis has size 5"):
        Dense(5, 3)(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="l1 and l2 must be >= 0"):
        L1L2(-1.0)
    with pytest.raises(ValueError, match="max_value must be positive"):
        MaxNorm(0)
    with pytest.raises(ValueError, match="no dlbook.keras_dense.Dense"):
        regularization_loss(torch.nn.Linear(2, 2))


@pytest.mark.gpu
def test_dense_on_cuda_matches_the_cpu():
    rng = np.random.default_rng(7)
    dense = _random_dense(rng, activation="relu", kernel_regularizer=L2(0.01), activity_regularizer=L1(0.1),
                          kernel_constraint=MaxNorm(1.0))
    x = torch.as_tensor(rng.normal(size=(4, 2, 5)))
    cpu_out, cpu_penalty = dense(x), regularization_loss(dense)
    dense.cuda()
    gpu_out, gpu_penalty = dense(x.cuda()), regularization_loss(dense)
    assert rel_error(gpu_out.detach().cpu().numpy(), cpu_out.detach().numpy()) < 1e-12
    assert np.isclose(float(gpu_penalty.detach()), float(cpu_penalty.detach()), rtol=1e-12, atol=0)
    apply_constraints(dense)
    assert float(dense.weight.detach().norm(dim=1).max()) <= 1.0 + 1e-6
