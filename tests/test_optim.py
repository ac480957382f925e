"""SGD and Adam take the same steps as torch.optim; weight decay is the L2 penalty's gradient."""

import numpy as np
import pytest
import torch

from dlbook import nn, optim
from dlbook.check import numerical_gradient, rel_error

SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, nesterov=True),
               dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.01),
               dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)]
ADAM_CONFIGS = [dict(), dict(lr=0.01, betas=(0.8, 0.99)), dict(lr=0.01, weight_decay=0.1),
                dict(lr=0.01, amsgrad=True, eps=1e-6)]


def _model(dtype=np.float64):
    return nn.Sequential(nn.Linear(5, 4, seed=0, dtype=dtype), nn.Tanh(), nn.Linear(4, 3, seed=1, dtype=dtype))


def _run_both(ours_cls, torch_cls, config, steps=8, dtype=np.float64):
    """Feed the same random gradients to both optimizers; compare the parameters after each step."""
    model = _model(dtype)
    twin = nn.to_torch(model)
    ours, theirs = ours_cls(model, **config), torch_cls(twin.parameters(), **config)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(steps):
        grads = {k: rng.standard_normal(p.shape).astype(dtype) for k, p in model.named_parameters().items()}
        ours.zero_grad()
        theirs.zero_grad()
        for k, g in model.named_grads().items():
            g += grads[k]
        for k, p in twin.named_parameters():
            p.grad = torch.tensor(grads[k])
        ours.step()
        theirs.step()
        for k, p in twin.named_parameters():
            worst = max(worst, rel_error(model.named_parameters()[k], p.detach().numpy()))
    return worst


@pytest.mark.parametrize("config", SGD_CONFIGS, ids=str)
def test_sgd_matches_torch_step_for_step(config):
    assert _run_both(optim.SGD, torch.optim.SGD, config) < 1e-12


@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=str)
def test_adam_matches_torch_step_for_step(config):
    assert _run_both(optim.Adam, torch.optim.Adam, config) < 1e-12


@pytest.mark.parametrize("cls, torch_cls, config", [(optim.SGD, torch.optim.SGD, SGD_CONFIGS[2]),
                                                    (optim.Adam, torch.optim.Adam, ADAM_CONFIGS[3])])
def test_float32_matches_torch(cls, torch_cls, config):
    assert _run_both(cls, torch_cls, config, dtype=np.float32) < 1e-5


def test_training_end_to_end_matches_torch():
    """Real gradients from backward, 20 Adam steps: the NumPy and torch models stay together."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 5)), rng.integers(0, 3, 32)
    model, loss = _model(), nn.CrossEntropyLoss()
    twin = nn.to_torch(model)
    ours, theirs = optim.Adam(model, lr=0.05), torch.optim.Adam(twin.parameters(), lr=0.05)
    for _ in range(20):
        ours.zero_grad()
        loss(model(X), y)
        model.backward(loss.backward())
        ours.step()
        theirs.zero_grad()
        torch.nn.functional.cross_entropy(twin(torch.tensor(X)), torch.tensor(y)).backward()
        theirs.step()
    for k, p in twin.named_parameters():
        assert rel_error(model.named_parameters()[k], p.detach().numpy()) < 1e-10


def test_weight_decay_is_the_gradient_of_the_l2_penalty():
    model = _model()
    lam = 0.3
    p = model.named_parameters()["0.weight"]
    numeric = numerical_gradient(lambda: nn.l2_penalty(model, lam), p)
    model.zero_grad()
    nn.l2_penalty_backward(model, lam)
    np.testing.assert_allclose(model.named_grads()["0.weight"], numeric, rtol=1e-8)
    np.testing.assert_allclose(model.named_grads()["0.weight"], lam * p)


def test_sgd_weight_decay_equals_explicit_penalty():
    a, b = _model(), _model()
    for m in (a, b):
        m.zero_grad()
        for g in m.named_grads().values():
            g += 1.0
    optim.SGD(a, lr=0.1, weight_decay=0.05).step()
    nn.l2_penalty_backward(b, 0.05)
    optim.SGD(b, lr=0.1).step()
    for k, v in a.named_parameters().items():
        np.testing.assert_allclose(v, b.named_parameters()[k], rtol=1e-15)


def test_penalty_can_skip_biases():
    model = _model()
    only_weights = nn.l2_penalty(model, 2.0, include=lambda n: n.endswith("weight"))
    expected = sum(np.sum(p ** 2) for k, p in model.named_parameters().items() if k.endswith("weight"))
    assert only_weights == pytest.approx(expected)
    assert nn.weight_norm(model) ** 2 == pytest.approx(nn.l2_penalty(model, 2.0))


def test_optimizer_updates_survive_module_to():
    """Parameters are read at every step, so casting the model after building the optimizer is safe."""
    model = _model(np.float32)
    opt = optim.SGD(model, lr=1.0)
    model.to(np.float64)
    for g in model.named_grads().values():
        g += 1.0
    before = model.named_parameters()["0.bias"].copy()
    opt.step()
    np.testing.assert_allclose(model.named_parameters()["0.bias"], before - 1.0)


@pytest.mark.parametrize("make, error, message", [
    (lambda m: optim.SGD(m.named_parameters(), lr=0.1), TypeError, "expects a dlbook.nn.Module"),
    (lambda m: optim.SGD(m, lr=-1), ValueError, "lr must be >= 0"),
    (lambda m: optim.SGD(m, lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires"),
    (lambda m: optim.SGD(m, lr=0.1, weight_decay=-1), ValueError, "weight_decay must be >= 0"),
    (lambda m: optim.Adam(m, betas=(0.9, 1.0)), ValueError, "betas must be"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(_model())
