"""LocalResponseNorm: against torch (float64, rel <= 1e-10), finite differences, by hand,
and the Module contract (many calls before backward, no_grad, clear errors)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from dlbook import nn
from dlbook.check import against_torch, gradcheck, rel_error
from dlbook.nn import functional as F


def _input(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# alpha large enough that the cross-channel term of the gradient is not lost in dy / D^beta
CASES = {
    "alexnet-paper": ((5,), {"alpha": 5e-4, "beta": 0.75, "k": 2.0}, (2, 8, 5, 5)),
    "strong": ((5,), {"alpha": 2.0, "beta": 0.75, "k": 1.0}, (2, 7, 4, 3)),
    "even-size": ((2,), {"alpha": 1.5, "beta": 0.6, "k": 0.5}, (1, 5, 4, 4)),
    "size-above-C": ((9,), {"alpha": 3.0, "beta": 1.2, "k": 1.0}, (2, 4, 3, 3)),
    "size-1": ((1,), {"alpha": 1.0, "beta": 0.5, "k": 2.0}, (2, 3, 4, 4)),
    "1d": ((3,), {"alpha": 1.0}, (2, 6, 7)),
    "3d": ((4,), {"alpha": 1.0, "beta": 0.9}, (1, 5, 3, 2, 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(name, dtype):
    args, kwargs, shape = CASES[name]
    report = against_torch(nn.LocalResponseNorm(*args, **kwargs), _input(shape, 1, dtype),
                           device="cpu")  # raises beyond 1e-10 (float64) or 1e-5 (float32)
    assert {"output", "dx"} <= set(report.errors)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    args, kwargs, shape = CASES[name]
    errors = gradcheck(nn.LocalResponseNorm(*args, **kwargs), _input(shape, 2))
    assert set(errors) == {"dx"}


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 7), channels=st.integers(1, 6), alpha=st.floats(0.01, 3.0),
       beta=st.floats(0.1, 1.5), k=st.floats(0.5, 3.0), seed=st.integers(0, 2**16))
def test_matches_torch_for_any_geometry(size, channels, alpha, beta, k, seed):
    layer = nn.LocalResponseNorm(size, alpha, beta, k)
    against_torch(layer, _input((2, channels, 3, 2), seed), device="cpu")


def test_by_hand_the_paper_formula():
    """torch's alpha is the paper's times n: with alpha = 5e-4, n = 5 the denominator is
    (2 + 1e-4 * sum of the squares of the 5 neighbouring channels) ** 0.75 (Krizhevsky
    et al. 2012, section 3.3), channels beyond the edges left out."""
    x = _input((1, 7, 2, 2), 3)
    y = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)(x)
    expected = np.empty_like(x)
    for c in range(7):
        lo, hi = max(0, c - 2), min(6, c + 2)
        energy = (x[0, lo:hi + 1] ** 2).sum(axis=0)
        expected[0, c] = x[0, c] / (2 + 1e-4 * energy) ** 0.75
    assert rel_error(y, expected) < 1e-14


def test_by_hand_the_window_of_an_even_size():
    """size 2: channel c sees c - 1 and c (torch pads size//2 = 1 before, 0 after)."""
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1)
    y = nn.LocalResponseNorm(2, alpha=2.0, beta=1.0, k=1.0)(x).ravel()
    energy = np.array([1.0, 1 + 4, 4 + 9])
    np.testing.assert_allclose(y, [1, 2, 3] / (1 + 2.0 / 2 * energy), rtol=1e-15, atol=0)


def test_functional_form_agrees_with_the_layer_and_torch():
    x = _input((2, 6, 3, 3), 4)
    ours = F.local_response_norm(x, 3, alpha=0.5, beta=0.7, k=1.5)
    theirs = torch.nn.functional.local_response_norm(torch.tensor(x), 3, 0.5, 0.7, 1.5)
    assert rel_error(ours, theirs.numpy()) < 1e-14
    np.testing.assert_array_equal(ours, nn.LocalResponseNorm(3, 0.5, 0.7, 1.5)(x))


def test_several_calls_before_backward_are_consumed_last_in_first_out():
    layer = nn.LocalResponseNorm(3, alpha=1.0)
    x1, x2 = _input((1, 4, 2, 2), 5), _input((1, 4, 2, 2), 6)
    dy1, dy2 = _input((1, 4, 2, 2), 7), _input((1, 4, 2, 2), 8)
    layer(x1)
    layer(x2)
    assert layer.saved_count == 2
    dx2, dx1 = layer.backward(dy2), layer.backward(dy1)
    for x, dy, dx in ((x1, dy1, dx1), (x2, dy2, dx2)):
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.local_response_norm(xt, 3, 1.0).backward(torch.tensor(dy))
        assert rel_error(dx, xt.grad.numpy()) < 1e-12
    with pytest.raises(RuntimeError, match="nothing saved"):
        layer.backward(dy1)


def test_no_grad_saves_nothing():
    layer = nn.LocalResponseNorm(3)
    with nn.no_grad():
        layer(_input((1, 4, 2, 2)))
    assert layer.saved_count == 0


def test_round_trip_through_torch_keeps_the_configuration():
    layer = nn.LocalResponseNorm(4, alpha=0.3, beta=0.6, k=1.5)
    twin = nn.to_torch(layer)
    assert isinstance(twin, torch.nn.LocalResponseNorm)
    assert (twin.size, twin.alpha, twin.beta, twin.k) == (4, 0.3, 0.6, 1.5)
    back = nn.from_torch(twin)
    assert repr(back) == repr(layer) == "LocalResponseNorm(size=4, alpha=0.3, beta=0.6, k=1.5)"
    assert layer.parameter_count() == 0 and not list(layer.state_dict())


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.LocalResponseNorm(0), ValueError, "size must be an int >= 1"),
    (lambda: nn.LocalResponseNorm(2.5), ValueError, "size must be an int >= 1"),
    (lambda: nn.LocalResponseNorm(3, alpha="big"), ValueError, "alpha must be a real number"),
    (lambda: nn.LocalResponseNorm(3)(np.zeros((4, 5))), ValueError, r"\(N, C, \*\)"),
    (lambda: nn.LocalResponseNorm(3)(np.zeros((1, 3, 2), np.int64)), TypeError, "float32 or float64"),
    (lambda: nn.LocalResponseNorm(3)([[[1.0]]]), TypeError, "numpy.ndarray"),
    (lambda: F.local_response_norm(np.zeros((4, 5)), 3), ValueError, r"\(N, C, H, W\)"),
])
def test_bad_input_is_refused_with_a_clear_message(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_backward_refuses_a_dy_of_the_wrong_shape():
    layer = nn.LocalResponseNorm(3)
    layer(np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"dy of shape \(1, 3, 2, 2\)"):
        layer.backward(np.zeros((1, 3, 2)))


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_on_cuda(name):
    args, kwargs, shape = CASES[name]
    report = against_torch(nn.LocalResponseNorm(*args, **kwargs), _input(shape, 1),
                           device="cuda")  # raises beyond 1e-10
    assert report.device.startswith("cuda")
