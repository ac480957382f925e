"""Version 2 of the Module contract (dlbook/nn/module.py) behaves as torch.nn does.

Proved here, in float64 against torch (relative error <= 1e-10 by ``dlbook.check.rel_error``) and
against central finite differences:

* a module used twice (``Sequential(lin, Tanh(), lin)``) and a parameter tied between two modules
  are one parameter: listed and counted once, gradient summed over every use, stepped once by SGD
  and Adam exactly as torch steps it;
* a module may run forward several times before backward: backward consumes the calls last in,
  first out (also with eval BatchNorm/Dropout, with training BatchNorm, and for a CNN);
* backward with nothing saved fails clearly, and ``no_grad`` saves nothing;
* a reader's own ``nn.Module`` subclass, written as in torch, agrees with the same module written
  in torch: gradients, parameter names, state dicts both ways, optimizer steps;
* torch idioms: ``weight``/``bias`` attributes, ``Sequential`` slicing, ``zero_grad``,
  ``train``/``eval``, buffers and state-dict keys, ``.to(dtype)`` keeping ties;
* ``against_torch`` compares float32 at full precision (TF32 off), on the GPU too.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

from dlbook import nn, optim
from dlbook.check import against_torch, full_precision, gradcheck, rel_error

F64 = np.float64
RTOL = 1e-10


def _close(what: str, ours, theirs, rtol: float = RTOL) -> None:
    theirs = theirs.detach().cpu().numpy() if isinstance(theirs, torch.Tensor) else theirs
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, torch {theirs.shape}"
    err = rel_error(ours, theirs)
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:.0e}"


def _randn(*shape, seed=0, dtype=F64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _torch_linear(lin: nn.Linear) -> torch.nn.Linear:
    """A torch Linear holding a copy of ``lin``'s weights, built by hand (not by to_torch)."""
    twin = torch.nn.Linear(lin.in_features, lin.out_features, bias=lin.bias is not None).double()
    with torch.no_grad():
        twin.weight.copy_(torch.from_numpy(np.asarray(lin.weight)))
        if lin.bias is not None:
            twin.bias.copy_(torch.from_numpy(np.asarray(lin.bias)))
    return twin


def _compare_grads(model: nn.Module, twin: torch.nn.Module) -> None:
    """Same parameter names (a shared parameter once, under its first name) and gradients."""
    theirs = dict(twin.named_parameters())
    ours = dict(model.named_parameters())
    assert list(ours) == list(theirs)
    for name, p in ours.items():
        _close(f"d{name}", p.grad, theirs[name].grad)


def _numel(twin: torch.nn.Module) -> int:
    return sum(p.numel() for p in twin.parameters())


# -- one module used twice ------------------------------------------------------------------------
def _tied_sequential():
    lin = nn.Linear(3, 3, dtype=F64, seed=0)
    return nn.Sequential(lin, nn.Tanh(), lin)


def _twin_by_hand(model):
    t = _torch_linear(model[0])
    return torch.nn.Sequential(t, torch.nn.Tanh(), t)


@pytest.mark.parametrize("build_twin", [nn.to_torch, _twin_by_hand], ids=["to_torch", "by_hand"])
def test_module_used_twice_matches_torch(build_twin):
    model = _tied_sequential()
    lin = model[0]
    twin = build_twin(model)
    assert twin[0] is twin[2]
    x, dy = _randn(4, 3, seed=1), _randn(4, 3, seed=2)

    y = model(x)
    assert lin.saved_count == 2  # one saved call per use
    dx = model.backward(dy)
    assert lin.saved_count == 0

    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt)
    yt.backward(torch.tensor(dy))
    _close("output", y, yt)
    _close("dx", dx, xt.grad)
    _close("weight.grad", lin.weight.grad, twin[0].weight.grad)
    _close("bias.grad", lin.bias.grad, twin[0].bias.grad)
    _compare_grads(model, twin)


def test_module_used_twice_matches_finite_differences():
    errors = gradcheck(_tied_sequential(), _randn(4, 3, seed=1))
    assert set(errors) == {"dx", "d0.weight", "d0.bias"}


def test_parameter_count_counts_a_shared_module_once():
    tied = _tied_sequential()
    assert tied.parameter_count() == _numel(nn.to_torch(tied)) == _numel(_twin_by_hand(tied)) == 12
    assert len(list(tied.parameters())) == 2
    untied = nn.Sequential(nn.Linear(3, 3, dtype=F64, seed=0), nn.Tanh(), nn.Linear(3, 3, dtype=F64, seed=1))
    by_hand = torch.nn.Sequential(_torch_linear(untied[0]), torch.nn.Tanh(), _torch_linear(untied[2]))
    assert untied.parameter_count() == _numel(nn.to_torch(untied)) == _numel(by_hand) == 24


# -- one parameter tied between two modules --------------------------------------------------------
def _tied_pair():
    a, b = nn.Linear(5, 5, dtype=F64, seed=1), nn.Linear(5, 5, dtype=F64, seed=2)
    b.weight = a.weight
    return nn.Sequential(a, nn.Tanh(), b)


def _tied_pair_by_hand(model):
    ta, tb = _torch_linear(model[0]), _torch_linear(model[2])
    tb.weight = ta.weight
    return torch.nn.Sequential(ta, torch.nn.Tanh(), tb)


@pytest.mark.parametrize("build_twin", [nn.to_torch, _tied_pair_by_hand], ids=["to_torch", "by_hand"])
def test_parameter_tied_between_modules_matches_torch(build_twin):
    model = _tied_pair()
    twin = build_twin(model)
    assert twin[2].weight is twin[0].weight and twin[2].bias is not twin[0].bias
    names = ["0.weight", "0.bias", "2.bias"]
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in twin.named_parameters()] == names
    assert model.parameter_count() == _numel(twin) == 35
    assert list(model.state_dict()) == list(twin.state_dict())  # the tied weight under both names

    x, dy = _randn(6, 5, seed=3), _randn(6, 5, seed=4)
    y = model(x)
    dx = model.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt)
    yt.backward(torch.tensor(dy))
    _close("output", y, yt)
    _close("dx", dx, xt.grad)
    _compare_grads(model, twin)


def test_tied_gradient_is_the_sum_over_both_uses():
    model = _tied_pair()
    untied = _tied_pair()
    untied[2].weight = nn.Parameter(np.array(untied[0].weight))  # same values, separate arrays
    x, dy = _randn(6, 5, seed=3), _randn(6, 5, seed=4)
    for m in (model, untied):
        m(x)
        m.backward(dy)
    _close("tied weight.grad", model[0].weight.grad, untied[0].weight.grad + untied[2].weight.grad)
    gradcheck(_tied_pair(), x)


# -- optimizers on tied parameters and on a custom module ------------------------------------------
def _tied_model():
    """A module used twice and a parameter tied to a third module."""
    lin, other = nn.Linear(3, 3, dtype=F64, seed=0), nn.Linear(3, 3, dtype=F64, seed=1)
    other.weight = lin.weight
    return nn.Sequential(lin, nn.Tanh(), lin, nn.Tanh(), other)


OPTIMIZERS = [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01), None),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), None),
    ("Adam", dict(lr=0.01, weight_decay=0.01), None),
    ("Adam", dict(lr=0.01), [{"params": ["0.weight"], "weight_decay": 0.01, "amsgrad": True},
                             {"params": ["0.bias", "4.bias"], "lr": 0.05}]),
]


def _steps_match_torch(model, twin, opt_name, hyper, groups, x, target, steps=3):
    """Train both with MSE for ``steps`` steps; the parameters must stay within 1e-10."""
    twin = twin.double()
    ours_params, their_params = dict(model.named_parameters()), dict(twin.named_parameters())
    assert list(ours_params) == list(their_params)
    if groups is None:
        ours_opt = getattr(optim, opt_name)(model.parameters(), **hyper)
        their_opt = getattr(torch.optim, opt_name)(twin.parameters(), **hyper)
    else:
        def pick(params):
            return [{**g, "params": [params[k] for k in g["params"]]} for g in groups]
        ours_opt = getattr(optim, opt_name)(pick(ours_params), **hyper)
        their_opt = getattr(torch.optim, opt_name)(pick(their_params), **hyper)
    before = {k: np.array(p) for k, p in ours_params.items()}
    crit, their_crit = nn.MSELoss(), torch.nn.MSELoss()
    xt, tt = torch.tensor(x), torch.tensor(target)
    for _ in range(steps):
        ours_opt.zero_grad()
        loss = crit(model(x), target)
        model.backward(crit.backward())
        ours_opt.step()
        their_opt.zero_grad()
        their_loss = their_crit(twin(xt), tt)
        their_loss.backward()
        their_opt.step()
        _close("loss", loss, their_loss)
    for name, p in ours_params.items():
        assert not np.array_equal(p, before[name]), f"{name} did not move"
        _close(name, p, their_params[name])


@pytest.mark.parametrize("opt_name, hyper, groups", OPTIMIZERS, ids=lambda v: str(v) if not isinstance(v, list) else "groups")
def test_optimizer_steps_on_tied_model_match_torch(opt_name, hyper, groups):
    model = _tied_model()
    twin = nn.to_torch(model)
    assert twin[0] is twin[2] and twin[4].weight is twin[0].weight
    assert [k for k, _ in model.named_parameters()] == ["0.weight", "0.bias", "4.bias"]
    _steps_match_torch(model, twin, opt_name, hyper, groups, _randn(8, 3, seed=5), _randn(8, 3, seed=6))
    assert model[4].weight is model[0].weight


# -- several forward calls, then backward in reverse order (LIFO) ----------------------------------
def _bn_model(mode: str):
    # training BatchNorm cancels the Linear's bias (zero gradient, only rounding noise to compare): no bias there
    model = nn.Sequential(nn.Linear(4, 6, bias=mode == "eval", dtype=F64, seed=0), nn.BatchNorm1d(6, dtype=F64), nn.ReLU(),
                          nn.Dropout(0.5, seed=0), nn.Linear(6, 3, dtype=F64, seed=1))
    bn, rng = model[1], np.random.default_rng(7)
    bn.weight[...] = rng.uniform(0.5, 1.5, 6)
    bn.bias[...] = rng.standard_normal(6)
    bn.running_mean[...] = rng.standard_normal(6)
    bn.running_var[...] = rng.uniform(0.5, 2.0, 6)
    if mode == "eval":
        model.eval()
    else:  # training BatchNorm (batch statistics, running statistics updated per call); Dropout off
        model.train()
        model[3].eval()
    return model, (5, 4)


def _cnn_model(mode: str):
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, dtype=F64, seed=0), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(27, 4, dtype=F64, seed=1))
    return model, (2, 2, 6, 6)


def _tied_lifo_model(mode: str):
    return _tied_model(), (4, 3)


@pytest.mark.parametrize("build, mode", [(_bn_model, "eval"), (_bn_model, "train"), (_cnn_model, ""),
                                         (_tied_lifo_model, "")],
                         ids=["batchnorm-dropout-eval", "batchnorm-train", "conv-maxpool", "tied"])
def test_two_forwards_then_two_backwards_match_torch(build, mode):
    model, shape = build(mode)
    twin = nn.to_torch(model)
    x1, x2 = _randn(*shape, seed=11), _randn(*shape, seed=12)
    y1 = model(x1)
    y2 = model(x2)
    g1, g2 = _randn(*y1.shape, seed=13), _randn(*y2.shape, seed=14)
    assert all(m.saved_count >= 2 for m in model.children())
    dx2 = model.backward(g2)  # the most recent call first, as backpropagation visits them
    dx1 = model.backward(g1)
    assert all(m.saved_count == 0 for m in model.modules())

    x1t, x2t = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    y1t, y2t = twin(x1t), twin(x2t)
    ((y1t * torch.tensor(g1)).sum() + (y2t * torch.tensor(g2)).sum()).backward()
    _close("y1", y1, y1t)
    _close("y2", y2, y2t)
    _close("dx1", dx1, x1t.grad)
    _close("dx2", dx2, x2t.grad)
    _compare_grads(model, twin)
    buffers = dict(twin.named_buffers())
    for name, b in model.named_buffers():
        _close(name, b, buffers[name])


# -- nothing saved -----------------------------------------------------------------------------
def test_backward_with_nothing_saved_raises():
    lin = nn.Linear(3, 2, dtype=F64, seed=0)
    dy = _randn(4, 2)
    with pytest.raises(RuntimeError, match="nothing saved"):
        lin.backward(dy)
    lin(_randn(4, 3))
    lin.backward(dy)
    with pytest.raises(RuntimeError, match="nothing saved"):  # the one call was consumed
        lin.backward(dy)
    model = nn.Sequential(nn.Linear(3, 2, dtype=F64, seed=0), nn.ReLU())
    with pytest.raises(RuntimeError, match="nothing saved"):
        model.backward(dy)


def test_no_grad_saves_nothing():
    model, shape = _bn_model("train")
    x = _randn(*shape)
    assert nn.is_grad_enabled()
    with nn.no_grad():
        assert not nn.is_grad_enabled()
        y = model(x)
    assert nn.is_grad_enabled()
    assert all(m.saved_count == 0 for m in model.modules())
    with pytest.raises(RuntimeError, match="nothing saved"):
        model.backward(np.ones_like(y))

    @nn.no_grad()
    def predict(inputs):
        return model(inputs)

    predict(x)
    assert all(m.saved_count == 0 for m in model.modules()) and nn.is_grad_enabled()
    with pytest.raises(ZeroDivisionError), nn.no_grad():
        1 / 0
    assert nn.is_grad_enabled()  # restored after an exception
    model(x)
    assert model[0].saved_count == 1
    model.clear_saved()
    assert all(m.saved_count == 0 for m in model.modules())


# -- a reader's own module ---------------------------------------------------------------------
class Net(nn.Module):
    """An MLP with residual blocks, written as a reader writes a torch module, plus its backward."""

    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.fc1 = nn.Linear(4, 8, dtype=F64, seed=rng)
        self.blocks = nn.ModuleList([nn.Linear(8, 8, dtype=F64, seed=rng) for _ in range(2)])
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 3, dtype=F64, seed=rng)

    def forward(self, x):
        h = self.act(self.fc1(x))
        for block in self.blocks:
            h = h + self.act(block(h))
        return self.head(h)

    def backward(self, dy):
        dh = self.head.backward(dy)
        for block in reversed(self.blocks):
            dh = dh + block.backward(self.act.backward(dh))
        return self.fc1.backward(self.act.backward(dh))


class TorchNet(torch.nn.Module):
    """The same module in torch, with the same attribute names."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(8, 8) for _ in range(2)])
        self.act = torch.nn.ReLU()
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x):
        h = self.act(self.fc1(x))
        for block in self.blocks:
            h = h + self.act(block(h))
        return self.head(h)


def test_custom_module_matches_its_torch_twin():
    net = Net()
    report = against_torch(net, _randn(6, 4, seed=1), twin=TorchNet(), device="cpu")
    assert report.max_rel <= RTOL
    expected = {"output", "dx"} | {f"d{k}" for k, _ in TorchNet().named_parameters()}
    assert set(report.errors) == expected
    assert net.act.saved_count == 0  # three uses, three backward calls


def test_custom_module_has_torchs_names():
    net, twin = Net(), TorchNet()
    names = [k for k, _ in twin.named_parameters()]
    assert [k for k, _ in net.named_parameters()] == names
    assert names[:4] == ["fc1.weight", "fc1.bias", "blocks.0.weight", "blocks.0.bias"]
    assert list(net.state_dict()) == list(twin.state_dict())
    assert [k for k, _ in net.named_children()] == [k for k, _ in twin.named_children()]
    assert [k for k, _ in net.named_modules()] == [k for k, _ in twin.named_modules()]
    assert net.parameter_count() == _numel(twin)
    assert isinstance(net.get_submodule("blocks.1"), nn.Linear)


def test_custom_module_state_dict_round_trips_both_ways():
    net, x = Net(), _randn(5, 4, seed=2)
    twin = TorchNet().double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})  # strict
    for k, v in twin.state_dict().items():
        _close(k, net.state_dict()[k], v)
    with torch.no_grad():
        _close("output after loading into torch", net(x), twin(torch.tensor(x)))
    net.clear_saved()

    torch.manual_seed(3)
    other = TorchNet().double()  # fresh weights, loaded into ours
    result = net.load_state_dict(other.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in other.state_dict().items():
        _close(k, net.state_dict()[k], v)
    with nn.no_grad(), torch.no_grad():
        _close("output after loading from torch", net(x), other(torch.tensor(x)))
    assert isinstance(net.fc1.weight, nn.Parameter)  # loaded in place, still the parameters


def test_custom_module_strict_loading_names_the_keys():
    net, twin = Net(), TorchNet().double()
    state = net.state_dict()
    del state["blocks.1.bias"]
    state["blocks.2.weight"] = np.zeros((8, 8))
    with pytest.raises(KeyError) as ours:
        net.load_state_dict(state)
    with pytest.raises(RuntimeError) as theirs:
        twin.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    for key in ("blocks.1.bias", "blocks.2.weight"):
        assert key in str(ours.value) and key in str(theirs.value)
    result = net.load_state_dict(state, strict=False)
    expected = twin.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}, strict=False)
    assert result.missing_keys == expected.missing_keys == ["blocks.1.bias"]
    assert result.unexpected_keys == expected.unexpected_keys == ["blocks.2.weight"]
    with pytest.raises(ValueError, match="fc1.weight"):
        net.load_state_dict({**net.state_dict(), "fc1.weight": np.zeros((4, 8))})


@pytest.mark.parametrize("opt_name, hyper", [("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
                                             ("Adam", dict(lr=0.01, weight_decay=0.01))])
def test_optimizers_update_a_custom_module_like_torch(opt_name, hyper):
    net = Net()
    twin = TorchNet().double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    _steps_match_torch(net, twin, opt_name, hyper, None, _randn(7, 4, seed=4), _randn(7, 3, seed=5))


def test_custom_module_matches_finite_differences():
    errors = gradcheck(Net(), _randn(3, 4, seed=6))
    assert set(errors) == {"dx"} | {f"d{k}" for k, _ in Net().named_parameters()}


# -- torch idioms ------------------------------------------------------------------------------
def test_weight_and_bias_attributes_as_in_torch():
    lin, twin = nn.Linear(3, 2, dtype=F64, seed=0), torch.nn.Linear(3, 2)
    assert isinstance(lin.weight, nn.Parameter) and isinstance(lin.weight, np.ndarray)
    assert lin.weight.shape == tuple(twin.weight.shape) and lin.bias.shape == tuple(twin.bias.shape)
    assert lin.weight.grad is None
    no_bias, twin_no_bias = nn.Linear(3, 2, bias=False), torch.nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None and twin_no_bias.bias is None
    assert [k for k, _ in no_bias.named_parameters()] == [k for k, _ in twin_no_bias.named_parameters()] == ["weight"]
    assert list(no_bias.state_dict()) == list(twin_no_bias.state_dict())
    conv = nn.Conv2d(2, 3, 3, bias=False)
    assert conv.bias is None and list(conv.state_dict()) == ["weight"]


def test_assigning_a_plain_array_to_a_parameter_raises_as_in_torch():
    lin, twin = nn.Linear(3, 2, dtype=F64, seed=0), torch.nn.Linear(3, 2)
    with pytest.raises(TypeError, match="weight"):
        lin.weight = np.zeros((2, 3))
    with pytest.raises(TypeError, match="weight"):
        twin.weight = torch.zeros(2, 3)
    assert isinstance(lin.weight, nn.Parameter)
    lin.weight = nn.Parameter(np.zeros((2, 3)))  # a Parameter is accepted, and registered
    assert dict(lin.named_parameters())["weight"] is lin.weight
    lin.bias = None  # as torch allows
    assert [k for k, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(TypeError):
        nn.Parameter(np.zeros(3, dtype=np.int64))


def test_sequential_slicing_keeps_the_layers_and_their_names():
    model = nn.Sequential(nn.Linear(4, 3, dtype=F64, seed=0), nn.ReLU(), nn.Linear(3, 2, dtype=F64, seed=1))
    twin = nn.to_torch(model)
    part, their_part = model[1:], twin[1:]
    assert isinstance(part, nn.Sequential) and len(part) == len(their_part) == 2
    assert part[0] is model[1] and part[1] is model[2] and list(part) == list(model)[1:]
    assert model[-1] is model[2]
    assert [k for k, _ in part.named_parameters()] == [k for k, _ in their_part.named_parameters()]
    assert list(part.state_dict()) == list(their_part.state_dict()) == ["2.weight", "2.bias"]
    x = _randn(5, 3)
    with nn.no_grad(), torch.no_grad():
        _close("slice vs torch slice", part(x), their_part(torch.tensor(x)))
        _close("to_torch of a slice", part(x), nn.to_torch(part)(torch.tensor(x)))
        _close("from_torch of a slice", nn.from_torch(their_part)(x), their_part(torch.tensor(x)))


def test_sequential_from_an_ordered_dict_has_torchs_names():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(4, 3, dtype=F64, seed=0), act=nn.Tanh()))
    twin = torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(4, 3), act=torch.nn.Tanh()))
    assert list(model.state_dict()) == list(twin.state_dict()) == ["fc.weight", "fc.bias"]
    assert model.fc is model[0]
    back = nn.from_torch(nn.to_torch(model))
    assert list(back.state_dict()) == ["fc.weight", "fc.bias"]
    against_torch(model, _randn(5, 4), device="cpu")


def test_zero_grad_sets_grad_to_none():
    model = _tied_model()
    model(_randn(4, 3))
    model.backward(_randn(4, 3, seed=1))
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    twin = nn.to_torch(model)
    twin.zero_grad()
    assert all(p.grad is None for p in twin.parameters())


def test_train_and_eval_propagate_like_torch():
    model, _ = _bn_model("eval")
    twin = nn.to_torch(model)
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    model[3].eval()  # one submodule's own mode, as torch allows
    twin.train()
    twin[3].eval()
    ours = {k: m.training for k, m in model.named_modules()}
    assert ours == {k: m.training for k, m in twin.named_modules()}
    assert ours == {k: m.training for k, m in nn.to_torch(model).named_modules()}
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_buffers_and_state_dict_keys_equal_torchs_with_batchnorm():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, dtype=F64, seed=0), nn.BatchNorm2d(3, dtype=F64), nn.ReLU(),
                          nn.Flatten(), nn.Linear(12, 4, dtype=F64, seed=1), nn.BatchNorm1d(4, dtype=F64))
    twin = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(12, 4), torch.nn.BatchNorm1d(4)).double()
    assert list(model.state_dict()) == list(twin.state_dict())
    assert "1.num_batches_tracked" in model.state_dict()
    pairs = list(model.named_buffers())
    assert all(isinstance(pair, tuple) and len(pair) == 2 for pair in pairs)
    assert [k for k, _ in pairs] == [k for k, _ in twin.named_buffers()]
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in twin.named_parameters()]

    twin.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in model.state_dict().items()})
    x = _randn(4, 2, 4, 4)
    model(x)
    twin(torch.tensor(x))  # one training step of running statistics on both sides
    theirs = dict(twin.named_buffers())
    for name, b in model.named_buffers():
        _close(name, b, theirs[name])
    assert model[1].num_batches_tracked == 1 and model[1].num_batches_tracked.dtype == np.int64


def test_to_float32_keeps_ties_and_casts_grads():
    model = _tied_model()
    model.append(nn.BatchNorm1d(3, dtype=F64))
    model(_randn(4, 3))
    model.backward(_randn(4, 3, seed=1))
    names = [k for k, _ in model.named_parameters()]
    assert model.to(np.float32) is model
    assert model[0] is model[2] and model[4].weight is model[0].weight
    assert [k for k, _ in model.named_parameters()] == names and model.parameter_count() == 3 * 3 + 3 + 3 + 2 * 3
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    assert model[5].running_mean.dtype == np.float32 and model[5].num_batches_tracked.dtype == np.int64
    twin = nn.to_torch(model)
    assert twin[0] is twin[2] and twin[4].weight is twin[0].weight and twin[0].weight.dtype == torch.float32
    against_torch(model.eval(), _randn(4, 3, dtype=np.float32), device="cpu")  # eval: 4.bias is not cancelled by BN
    model.to(torch.float64)
    assert model[4].weight is model[0].weight and model.dtype == np.float64


# -- against_torch at full float32 precision --------------------------------------------------------
def _float32_cnn(channels=3, size=8, hidden=4):
    return nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(hidden * (size // 2) ** 2, 5, seed=1))


def test_against_torch_float32_conv_model():
    model = _float32_cnn()
    assert model.dtype == np.float32
    report = against_torch(model, _randn(2, 3, 8, 8, dtype=np.float32), device="cpu")
    assert report.rtol == 1e-5 and report.max_rel <= 1e-5
    assert {"output", "dx", "d0.weight", "d0.bias", "d4.weight", "d4.bias"} == set(report.errors)


def test_full_precision_turns_tf32_off_and_restores_it():
    precision = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")  # TF32 matmuls allowed (also on CUDA)
        with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled, allow_tf32=True):
            with full_precision():
                assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
                assert torch.get_float32_matmul_precision() == "highest"
            assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
            assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(precision)


@pytest.mark.gpu
def test_against_torch_on_cuda_float32_at_full_precision():
    """Large enough that TF32 (10-bit mantissa products) would miss 1e-5 by orders of magnitude."""
    model = _float32_cnn(channels=16, size=16, hidden=32)
    previous = torch.backends.cudnn.allow_tf32
    report = against_torch(model, _randn(8, 16, 16, 16, dtype=np.float32), device="cuda")
    assert report.device.startswith("cuda") and report.max_rel <= 1e-5
    assert torch.backends.cudnn.allow_tf32 == previous
