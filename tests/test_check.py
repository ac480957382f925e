"""The checkers catch wrong layers: a check that cannot fail proves nothing."""

import numpy as np
import pytest

from dlbook import nn
from dlbook.check import MismatchError, against_torch, gradcheck, numerical_gradient, rel_error


class Sigmoid(nn.Sigmoid):  # torch twin found by name; derivative 1% off
    def backward(self, dy):
        return 1.01 * super().backward(dy)


class Linear(nn.Linear):  # forward right, weight gradient 0.01% too large
    def backward(self, dy):
        dx = super().backward(dy)
        self.grads["weight"] *= 1.0001
        return dx


class BatchNorm1d(nn.BatchNorm1d):  # forgets the unbiased correction of the running variance
    def _update_running(self, mean, var, n):
        super()._update_running(mean, var * (n - 1) / n, n)


def test_rel_error_is_normwise_and_scale_free():
    a = np.array([1.0, 2.0, 0.0])
    assert rel_error(a, a) == 0
    assert rel_error(a, a + [0, 0, 1e-9]) == pytest.approx(0.5e-9)  # relative to max|a|, not to the 0 entry
    assert rel_error(1e6 * a, 1e6 * (a + [0, 0, 1e-9])) == pytest.approx(rel_error(a, a + [0, 0, 1e-9]))
    assert rel_error(np.zeros(3), np.zeros(3)) == 0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_a_known_function():
    x = np.random.default_rng(0).standard_normal((3, 4))
    grad = numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, x.astype(np.float32))


@pytest.mark.parametrize("layer, x", [
    (Sigmoid(), np.random.default_rng(0).standard_normal((4, 3))),
    (Linear(3, 2, dtype=np.float64, seed=0), np.random.default_rng(0).standard_normal((4, 3))),
])
def test_both_checkers_catch_a_wrong_backward(layer, x):
    with pytest.raises(MismatchError):
        against_torch(layer, x, device="cpu")
    with pytest.raises(MismatchError, match="finite-difference"):
        gradcheck(layer, x)


def test_against_torch_catches_wrong_running_statistics():
    x = np.random.default_rng(0).standard_normal((8, 3))
    with pytest.raises(MismatchError, match="running_var"):
        against_torch(BatchNorm1d(3, dtype=np.float64), x, device="cpu")


def test_a_gradient_that_is_zero_in_exact_arithmetic_needs_atol():
    """A Linear bias before training-mode BatchNorm has zero gradient; only rounding noise differs,
    so it fails a relative comparison by default and passes with an explicit noise floor."""
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64, seed=0), nn.BatchNorm1d(3, dtype=np.float64))
    x = np.random.default_rng(1).standard_normal((6, 4))
    with pytest.raises(MismatchError, match="0.bias.*pass atol"):
        against_torch(model, x, device="cpu")
    report = against_torch(model, x, device="cpu", atol=1e-12)
    assert np.max(np.abs(model.named_grads()["0.bias"])) < 1e-12
    assert "0.bias" in str(report) and "vs torch on cpu" in str(report)


def test_tiny_but_real_gradients_are_still_compared_relatively():
    """Deep in a sigmoid stack gradients are ~1e-13 yet exact to ~1e-16 relative: a wrong one must fail."""
    layers = []
    for i in range(12):
        layers += [nn.Linear(8, 8, dtype=np.float64, seed=i), nn.Sigmoid()]
    model = nn.Sequential(*layers)
    x = np.random.default_rng(0).standard_normal((4, 8))
    against_torch(model, x, device="cpu")
    assert np.abs(model.named_grads()["0.weight"]).max() < 1e-6
    model._modules["1"] = Sigmoid()  # 1% wrong derivative in the first layer only
    with pytest.raises(MismatchError, match=r"dx: relative error 9\.9"):  # dx ~1e-12, 1% off: caught
        against_torch(model, x, device="cpu")


def test_float32_tolerance_is_looser():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    assert against_torch(nn.Linear(3, 2, seed=0), x, device="cpu").rtol == 1e-5
    with pytest.raises(TypeError, match="float64 layer"):
        gradcheck(nn.Linear(3, 2, seed=0), x)


def test_default_dy_is_not_a_copy_of_a_seed_0_input():
    """With dy == x (both from default_rng(0)) BatchNorm's dx cancels to noise and float32 fails;
    against_torch draws dy from a stream of its own."""
    x = np.random.default_rng(0).standard_normal((6, 7)).astype(np.float32)
    against_torch(nn.BatchNorm1d(7), x, device="cpu")


def test_training_mode_dropout_is_refused_with_a_clear_error():
    """Two random masks would differ: the checker says so instead of reporting a mismatch."""
    x = np.random.default_rng(0).standard_normal((4, 3))
    model = nn.Sequential(nn.Linear(3, 3, dtype=np.float64, seed=0), nn.Dropout(0.5))
    with pytest.raises(ValueError, match=r"training-mode Dropout \['1'\].*\.eval\(\)"):
        against_torch(model, x, device="cpu")
    against_torch(model.eval(), x, device="cpu")
    against_torch(nn.Dropout(1.0), x, device="cpu")  # p = 1 drops everything on both sides
