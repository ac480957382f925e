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


def _groups(model, named_groups):
    """Parameter groups by name: [{"params": ["0.weight"], "lr": ...}, ...] -> groups of parameters."""
    params = dict(model.named_parameters())
    return [{**g, "params": [params[k] for k in g["params"]]} for g in named_groups]


def _run_both(ours_cls, torch_cls, config, steps=8, dtype=np.float64, named_groups=None, lr_change=None):
    """Feed the same random gradients to both optimizers; compare the parameters after each step.

    ``named_groups``: parameter groups by name (else all parameters in one group); ``lr_change``:
    a new lr for every group after half the steps, written into ``param_groups`` as a scheduler does."""
    model = _model(dtype)
    twin = nn.to_torch(model)
    if named_groups is None:
        ours, theirs = ours_cls(model.parameters(), **config), torch_cls(twin.parameters(), **config)
    else:
        ours = ours_cls(_groups(model, named_groups), **config)
        theirs = torch_cls(_groups(twin, named_groups), **config)
    rng = np.random.default_rng(0)
    worst = 0.0
    for step in range(steps):
        if lr_change is not None and step == steps // 2:
            for group in ours.param_groups + theirs.param_groups:
                group["lr"] = lr_change
        grads = {k: rng.standard_normal(p.shape).astype(dtype) for k, p in model.named_parameters()}
        ours.zero_grad()
        theirs.zero_grad()
        for k, p in model.named_parameters():
            p.grad = grads[k].copy()
        for k, p in twin.named_parameters():
            p.grad = torch.tensor(grads[k])
        ours.step()
        theirs.step()
        ours_params = dict(model.named_parameters())
        for k, p in twin.named_parameters():
            worst = max(worst, rel_error(ours_params[k], p.detach().numpy()))
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


GROUPS = [{"params": ["0.weight", "2.weight"], "weight_decay": 0.1},
          {"params": ["0.bias"], "lr": 0.5},
          {"params": ["2.bias"]}]


@pytest.mark.parametrize("cls, torch_cls, config", [(optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
                                                    (optim.Adam, torch.optim.Adam, dict(lr=0.01))])
def test_parameter_groups_and_lr_changes_match_torch(cls, torch_cls, config):
    """Each group's own hyper-parameters, the defaults for the rest; an lr written into
    param_groups mid-run (what a scheduler does) takes effect at the next step."""
    assert _run_both(cls, torch_cls, config, named_groups=GROUPS, lr_change=0.02) < 1e-12
    model = _model()
    opt = cls(_groups(model, GROUPS), **config)
    assert [g["lr"] for g in opt.param_groups] == [config["lr"], 0.5, config["lr"]]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0, 0.0]


def test_parameters_without_a_gradient_are_left_alone():
    model = _model()
    before = {k: np.array(v) for k, v in model.named_parameters()}
    opt = optim.Adam(model.parameters(), lr=0.1, weight_decay=0.1)
    model[0].weight.grad = np.ones(model[0].weight.shape)
    opt.step()
    after = dict(model.named_parameters())
    assert not np.array_equal(after["0.weight"], before["0.weight"])
    for k in ("0.bias", "2.weight", "2.bias"):  # weight decay alone does not move them (as in torch)
        np.testing.assert_array_equal(after[k], before[k])
    assert set(opt.state) == {id(model[0].weight)}


def test_a_shared_parameter_is_stepped_once():
    """A parameter tied between two layers is one entry of model.parameters(): one update per step."""
    a, b = nn.Linear(3, 3, dtype=np.float64, seed=0), nn.Linear(3, 3, dtype=np.float64, seed=1)
    b.weight = a.weight
    model = nn.Sequential(a, nn.Tanh(), b)
    opt = optim.SGD(model.parameters(), lr=1.0)
    assert len(opt.param_groups[0]["params"]) == 3
    before = np.array(a.weight)
    a.weight.grad = np.ones((3, 3))
    opt.step()
    np.testing.assert_array_equal(model[2].weight, before - 1.0)

def test_training_end_to_end_matches_torch():
    """Real gradients from backward, 20 Adam steps: the NumPy and torch models stay together."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 5)), rng.integers(0, 3, 32)
    model, loss = _model(), nn.CrossEntropyLoss()
    twin = nn.to_torch(model)
    ours, theirs = optim.Adam(model.parameters(), lr=0.05), torch.optim.Adam(twin.parameters(), lr=0.05)
    for _ in range(20):
        ours.zero_grad()
        loss(model(X), y)
        model.backward(loss.backward())
        ours.step()
        theirs.zero_grad()
        torch.nn.functional.cross_entropy(twin(torch.tensor(X)), torch.tensor(y)).backward()
        theirs.step()
    ours_params = dict(model.named_parameters())
    for k, p in twin.named_parameters():
        assert rel_error(ours_params[k], p.detach().numpy()) < 1e-10


def test_weight_decay_is_the_gradient_of_the_l2_penalty():
    model = _model()
    lam = 0.3
    p = model[0].weight
    numeric = numerical_gradient(lambda: nn.l2_penalty(model, lam), p)
    model.zero_grad()
    nn.l2_penalty_backward(model, lam)
    assert rel_error(p.grad, numeric) < 1e-8
    np.testing.assert_allclose(p.grad, lam * p, rtol=1e-15, atol=0)


def test_sgd_weight_decay_equals_explicit_penalty():
    a, b = _model(), _model()
    for m in (a, b):
        for p in m.parameters():
            p.grad = np.ones(p.shape)
    optim.SGD(a.parameters(), lr=0.1, weight_decay=0.05).step()
    nn.l2_penalty_backward(b, 0.05)
    optim.SGD(b.parameters(), lr=0.1).step()
    b_params = dict(b.named_parameters())
    for k, v in a.named_parameters():
        np.testing.assert_allclose(v, b_params[k], rtol=1e-15, atol=0)


def test_penalty_can_skip_biases():
    model = _model()
    for layer in (model[0], model[2]):
        layer.bias[...] = 10.0  # would dominate the penalty if counted
    only_weights = nn.l2_penalty(model, 2.0, include=lambda n: n.endswith("weight"))
    expected = sum(np.sum(np.asarray(layer.weight) ** 2) for layer in (model[0], model[2]))
    assert only_weights == pytest.approx(expected, rel=1e-14)
    assert nn.weight_norm(model) ** 2 == pytest.approx(nn.l2_penalty(model, 2.0), rel=1e-14)
    assert nn.l2_penalty(model, 2.0) > 2 * only_weights


def test_an_optimizer_built_before_module_to_refuses_to_step_the_stale_parameters():
    """NumPy cannot cast an array in place, so .to() makes new parameters; stepping the old ones would
    silently leave the model unchanged, so the optimizer says so instead."""
    model = _model(np.float32)
    opt = optim.SGD(model.parameters(), lr=1.0)
    model.to(np.float64)
    for p in model.parameters():
        p.grad = np.ones(p.shape)
    with pytest.raises(RuntimeError, match="build the optimizer after .to()"):
        opt.step()


def test_an_optimizer_built_after_module_to_updates_the_model():
    model = _model(np.float32).to(np.float64)
    opt = optim.SGD(model.parameters(), lr=1.0)
    for p in model.parameters():
        p.grad = np.ones(p.shape)
    before = np.array(model[0].bias)
    opt.step()
    np.testing.assert_allclose(model[0].bias, before - 1.0, rtol=1e-15, atol=0)


@pytest.mark.parametrize("make, error, message", [
    (lambda m: optim.SGD(m, lr=0.1), TypeError, r"pass model.parameters\(\)"),
    (lambda m: optim.SGD(m.named_parameters(), lr=0.1), TypeError, "optimizes dlbook.nn.Parameter arrays"),
    (lambda m: optim.SGD([np.zeros(3)], lr=0.1), TypeError, "optimizes dlbook.nn.Parameter arrays"),
    (lambda m: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda m: optim.SGD([m[0].weight, m[0].weight], lr=0.1), ValueError, "appears twice"),
    (lambda m: optim.SGD([{"params": [m[0].weight]}, {"params": [m[0].weight]}], lr=0.1), ValueError, "appears twice"),
    (lambda m: optim.SGD([{"params": [m[0].weight], "betas": (0.9, 0.99)}], lr=0.1), ValueError,
     r"unknown hyper-parameters \['betas'\]"),
    (lambda m: optim.SGD([{"lr": 0.1}], lr=0.1), TypeError, "'params' list"),
    (lambda m: optim.SGD(m.parameters(), lr=-1), ValueError, "lr must be >= 0"),
    (lambda m: optim.SGD(m.parameters(), lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires"),
    (lambda m: optim.SGD(m.parameters(), lr=0.1, weight_decay=-1), ValueError, "weight_decay must be >= 0"),
    (lambda m: optim.SGD([{"params": [m[0].weight], "lr": -0.1}], lr=0.1), ValueError, "lr must be >= 0"),
    (lambda m: optim.Adam(m.parameters(), betas=(0.9, 1.0)), ValueError, "betas must be"),
    (lambda m: optim.Adam(m.parameters(), eps=-1.0), ValueError, "eps must be >= 0"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(_model())


# -- learning-rate schedules ------------------------------------------------------------------
SCHEDULES = [("StepLR", dict(step_size=3)), ("StepLR", dict(step_size=2, gamma=0.5)),
             ("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingLR", dict(T_max=5)),
             ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01))]


def _optimizers(named_groups=GROUPS):
    model = _model()
    twin = nn.to_torch(model)
    return (optim.SGD(_groups(model, named_groups), lr=0.1, momentum=0.9),
            torch.optim.SGD(_groups(twin, named_groups), lr=0.1, momentum=0.9))


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=str)
def test_schedulers_match_torch_epoch_for_epoch(name, kwargs):
    """The same learning rate in every group at every epoch, to the last bit (cosine past T_max
    too, where it climbs back), and the same state_dict."""
    ours_opt, theirs_opt = _optimizers()
    ours = getattr(optim.lr_scheduler, name)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    assert ours.get_last_lr() == theirs.get_last_lr() == [0.1, 0.5, 0.1]
    for _ in range(13):
        theirs_opt.step()  # torch wants the optimizer to step first
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr()
        assert [g["lr"] for g in ours_opt.param_groups] == [g["lr"] for g in theirs_opt.param_groups]
    assert ours.state_dict() == theirs.state_dict()
    assert getattr(optim, name) is getattr(optim.lr_scheduler, name)


def test_step_lr_decays_every_step_size_epochs():
    opt, _ = _optimizers([{"params": ["0.weight"]}])
    scheduler = optim.StepLR(opt, step_size=2, gamma=0.1)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(5):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3], rtol=1e-14, atol=0)


def test_cosine_reaches_eta_min_at_t_max():
    opt, _ = _optimizers([{"params": ["0.weight"]}])
    scheduler = optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    for _ in range(10):
        scheduler.step()
    assert scheduler.get_last_lr()[0] == pytest.approx(0.001, rel=1e-12)


@pytest.mark.parametrize("name, kwargs", SCHEDULES[:4], ids=str)
def test_a_schedule_resumes_from_its_state_dict_as_torch_does(name, kwargs):
    """Save after 4 epochs, build a new scheduler with last_epoch=3 on an optimizer holding
    initial_lr, load the state: the remaining epochs agree with an uninterrupted torch run,
    and torch's state_dict loads into ours."""
    ours_opt, theirs_opt = _optimizers()
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    for _ in range(4):
        theirs_opt.step()
        theirs.step()
    saved = theirs.state_dict()
    for ours_group, theirs_group in zip(ours_opt.param_groups, theirs_opt.param_groups):
        ours_group.update(lr=theirs_group["lr"], initial_lr=theirs_group["initial_lr"])
    ours = getattr(optim.lr_scheduler, name)(ours_opt, last_epoch=3, **kwargs)
    ours.load_state_dict(saved)
    for group, lr in zip(ours_opt.param_groups, theirs.get_last_lr()):
        group["lr"] = lr
    for _ in range(6):
        theirs_opt.step()
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr()


def test_fit_steps_the_scheduler_once_per_epoch():
    from dlbook.train import fit

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.StepLR(opt, step_size=2, gamma=0.5)
    fit(model, nn.CrossEntropyLoss(), opt, X, y, epochs=5, batch_size=7, progress=False,
        scheduler=scheduler)
    assert scheduler.last_epoch == 5 and opt.param_groups[0]["lr"] == pytest.approx(0.025, rel=1e-15)


@pytest.mark.parametrize("make, error, message", [
    (lambda o: optim.StepLR(o, step_size=0), ValueError, "step_size must be a positive int"),
    (lambda o: optim.StepLR(o, step_size=2.5), ValueError, "step_size must be a positive int"),
    (lambda o: optim.StepLR(o, step_size=2, gamma=0), ValueError, "gamma must be > 0"),
    (lambda o: optim.ExponentialLR(o, gamma=-0.5), ValueError, "gamma must be > 0"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be a positive int"),
    (lambda o: optim.CosineAnnealingLR(o, T_max=5, eta_min=-1e-3), ValueError, "eta_min must be >= 0"),
    (lambda o: optim.StepLR(o, step_size=2, last_epoch=-2), ValueError, "last_epoch must be an int >= -1"),
    (lambda o: optim.StepLR(o, step_size=2, last_epoch=4), KeyError, "no 'initial_lr'"),
    (lambda o: optim.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), step_size=2),
     TypeError, "torch.optim.lr_scheduler.StepLR"),
])
def test_scheduler_bad_arguments(make, error, message):
    opt, _ = _optimizers()
    with pytest.raises(error, match=message):
        make(opt)
