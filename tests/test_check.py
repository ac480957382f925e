"""The checkers catch wrong layers: a check that cannot fail proves nothing."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import MismatchError, against_torch, gradcheck, numerical_gradient, rel_error


class Sigmoid(nn.Sigmoid):  # derivative 1% off (a subclass outside dlbook.nn: its twin is passed)
    def backward(self, dy):
        return 1.01 * super().backward(dy)


class Linear(nn.Linear):  # forward right, weight gradient 0.01% too large
    def backward(self, dy):
        dx = super().backward(dy)
        self.weight.grad *= 1.0001
        return dx


class BatchNorm1d(nn.BatchNorm1d):  # forgets the unbiased correction of the running variance
    def _update_running(self, mean, var, n):
        super()._update_running(mean, var * (n - 1) / n, n)


def test_rel_error_is_normwise_and_scale_free():
    a = np.array([1.0, 2.0, 0.0])
    assert rel_error(a, a) == 0
    assert rel_error(a, a + [0, 0, 1e-9]) == pytest.approx(0.5e-9, rel=1e-6, abs=0)  # relative to max|a|, not the 0
    assert rel_error(1e6 * a, 1e6 * (a + [0, 0, 1e-9])) == pytest.approx(0.5e-9, rel=1e-6, abs=0)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0
    with pytest.raises(ValueError, match="shapes differ"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_a_known_function():
    x = np.random.default_rng(0).standard_normal((3, 4))
    grad = numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, x.astype(np.float32))


@pytest.mark.parametrize("layer, twin, wrong", [
    (Sigmoid(), torch.nn.Sigmoid(), "dx"),
    (Linear(3, 2, dtype=np.float64, seed=0), torch.nn.Linear(3, 2), "dweight"),
])
def test_both_checkers_catch_a_wrong_backward(layer, twin, wrong):
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(MismatchError, match=f"^{wrong}: relative error"):
        against_torch(layer, x, twin=twin, device="cpu")
    with pytest.raises(MismatchError, match=f"^{wrong}: finite-difference"):
        gradcheck(layer, x)


def test_a_subclass_outside_dlbook_nn_needs_an_explicit_twin():
    """Its backward may differ from the parent's: using the parent's torch twin silently would be a guess."""
    with pytest.raises(TypeError, match="twin="):
        against_torch(Sigmoid(), np.zeros((2, 3)), device="cpu")


def test_against_torch_catches_wrong_running_statistics():
    x = np.random.default_rng(0).standard_normal((8, 3))
    with pytest.raises(MismatchError, match="running_var"):
        against_torch(BatchNorm1d(3, dtype=np.float64), x, twin=torch.nn.BatchNorm1d(3), device="cpu")


class Residual(nn.Module):
    """A custom module (no torch.nn class of its name): y = x + fc2(relu(fc1(x)))."""

    def __init__(self, d, wrong=False):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(d, 2 * d, dtype=np.float64, seed=0), nn.ReLU(), \
            nn.Linear(2 * d, d, dtype=np.float64, seed=1)
        self.wrong = wrong

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))

    def backward(self, dy):
        dx = self.fc1.backward(self.act.backward(self.fc2.backward(dy)))
        return dx if self.wrong else dy + dx  # the wrong one forgets the skip path


class TorchResidual(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.act, self.fc2 = torch.nn.Linear(d, 2 * d), torch.nn.ReLU(), torch.nn.Linear(2 * d, d)

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


def test_a_custom_module_is_checked_against_a_twin_written_in_torch():
    x = np.random.default_rng(2).standard_normal((5, 4))
    report = against_torch(Residual(4), x, twin=TorchResidual(4), device="cpu")
    assert {"output", "dx", "dfc1.weight", "dfc1.bias", "dfc2.weight", "dfc2.bias"} <= set(report.errors)
    gradcheck(Residual(4), x)
    with pytest.raises(MismatchError, match="^dx"):
        against_torch(Residual(4, wrong=True), x, twin=TorchResidual(4), device="cpu")
    with pytest.raises(TypeError, match="twin="):
        against_torch(Residual(4), x, device="cpu")


def test_a_gradient_that_is_zero_in_exact_arithmetic_needs_atol():
    """A Linear bias before training-mode BatchNorm has zero gradient; only rounding noise differs,
    so it fails a relative comparison by default and passes with an explicit noise floor."""
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64, seed=0), nn.BatchNorm1d(3, dtype=np.float64))
    x = np.random.default_rng(1).standard_normal((6, 4))
    with pytest.raises(MismatchError, match="0.bias.*pass atol"):
        against_torch(model, x, device="cpu")
    report = against_torch(model, x, device="cpu", atol=1e-12)
    assert np.max(np.abs(model[0].bias.grad)) < 1e-12
    assert "0.bias" in str(report) and "vs torch on cpu" in str(report)


def test_tiny_but_real_gradients_are_still_compared_relatively():
    """Deep in a sigmoid stack gradients are ~1e-13 yet exact to ~1e-16 relative: a wrong one must fail."""
    layers = []
    for i in range(12):
        layers += [nn.Linear(8, 8, dtype=np.float64, seed=i), nn.Sigmoid()]
    model = nn.Sequential(*layers)
    x = np.random.default_rng(0).standard_normal((4, 8))
    against_torch(model, x, device="cpu")
    assert np.abs(model[0].weight.grad).max() < 1e-6
    twin = nn.to_torch(model)
    model._modules["1"] = Sigmoid()  # 1% wrong derivative in the first layer only
    with pytest.raises(MismatchError, match=r"dx: relative error 9\.9"):  # dx ~1e-12, 1% off: caught
        against_torch(model, x, twin=twin, device="cpu")


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


def test_full_precision_restores_torch_precision_flags():
    """against_torch turns TF32 off while it compares; the user's settings come back afterwards."""
    from dlbook.check import full_precision

    before = (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32)
    try:
        torch.set_float32_matmul_precision("high")
        torch.backends.cuda.matmul.allow_tf32 = True
        with full_precision():
            assert torch.get_float32_matmul_precision() == "highest"
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.get_float32_matmul_precision() == "high"
        assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.set_float32_matmul_precision(before[0])
        torch.backends.cuda.matmul.allow_tf32 = before[1]
