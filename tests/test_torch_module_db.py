"""Every dlbook layer agrees with torch on torch's own test inputs for that layer.

torch's test suite describes each ``torch.nn`` module by a ``ModuleInfo`` in
``torch.testing._internal.common_modules.module_db``: constructor arguments and forward inputs
that exercise its options (no batch dimension, reductions, padding, running statistics, empty
batches, ...). For every ModuleInfo whose class ``dlbook.nn`` exports, in training and in eval
mode, this file builds the torch module, copies it with ``dlbook.nn.from_torch`` (same weights),
checks that ``dlbook.nn`` also builds it from the very same constructor arguments, runs both on
the same float64 inputs and proves, each to a relative error of at most 1e-10:

* the output;
* d input, for a fixed random upstream gradient (of the loss's shape for a loss); a loss's
  target is data here (torch also differentiates probability targets; dlbook does not);
* every parameter gradient, and every buffer after the forward pass (running statistics).

Options dlbook does not implement yet must be refused with a clear ``NotImplementedError`` or
``ValueError``, and only those in ``allowed_gap`` are recorded as expected failures; each of them
turns into a full comparison (and must then pass) once it is implemented. Any other refusal,
and any numerical mismatch, fails.
"""

from __future__ import annotations

import inspect
from collections import Counter

import numpy as np
import pytest
import torch
from torch.testing._internal.common_modules import module_db

import dlbook.nn as nn
from dlbook.check import rel_error

# importing torch's test internals freezes torch.backends flags for the whole session
# (torch.backends.disable_global_flags()); undo that, so that other test files may still set them
if torch.backends.flags_frozen():
    torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True

RTOL = 1e-10
OURS = {name for name, cls in vars(nn).items() if isinstance(cls, type) and issubclass(cls, nn.Module)}


def _cases():
    cases = []
    for info in module_db:
        name = info.module_cls.__name__
        if name not in OURS:
            continue
        for training in (True, False):
            # the inputs are random: seeded, the same on every run (a random confident score, softmax
            # within 1e-7 of 1, leaves p - 1 with ~1e-9 relative rounding on both sides)
            with torch.random.fork_rng():
                torch.manual_seed(0)
                inputs = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True,
                                                 training=training)
            seen = Counter(mi.desc for mi in inputs)
            for i, mi in enumerate(inputs):
                desc = mi.desc
                if seen[desc] > 1:  # e.g. Conv2d's two "" cases: tell them apart by their keywords
                    desc += "[" + ",".join(f"{k}={v}" for k, v in mi.constructor_input.kwargs.items()) + f"#{i}]"
                case_id = f"{name}-{desc}-{'train' if training else 'eval'}"
                cases.append(pytest.param(info, mi, training, id=case_id))
    return cases


CASES = _cases()


def test_the_database_covers_the_layers():
    """The comparison below really runs for the layers the book uses (no silent empty selection)."""
    covered = {case.values[0].module_cls.__name__ for case in CASES}
    expected = {"Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "CrossEntropyLoss",
                "MSELoss", "MultiMarginLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d", "MaxPool2d", "AvgPool2d",
                "RNN", "LSTM", "RNNCell", "LSTMCell", "Embedding",
                "BCELoss", "BCEWithLogitsLoss", "PReLU"}  # chapter 9 (issue 15); no PixelShuffle cases there
    assert expected <= covered, f"module_db has no cases for {sorted(expected - covered)}"


def allowed_gap(twin: torch.nn.Module, inputs: tuple) -> str | None:
    """Why dlbook may still refuse this case (an option being implemented now), or None: must pass."""
    name = type(twin).__name__
    gaps = []
    if name == "CrossEntropyLoss":
        scores, target = inputs[0], inputs[1]
        gaps += ["per-class weight"] * (twin.weight is not None)
        gaps += ["ignore_index"] * (twin.ignore_index != -100)
        gaps += ["label_smoothing"] * (twin.label_smoothing != 0)
        gaps += ["probability targets"] * target.is_floating_point()
        gaps += ["K-dimensional input"] * (scores.ndim > 2)
        gaps += ["unbatched input"] * (scores.ndim < 2)
    elif name == "MultiMarginLoss":
        gaps += ["per-class weight"] * (twin.weight is not None)
    elif name in ("RNN", "LSTM"):
        gaps += ["bidirectional"] * bool(twin.bidirectional)
        gaps += ["dropout between layers"] * (twin.dropout != 0)
        gaps += ["proj_size"] * bool(getattr(twin, "proj_size", 0))
    elif name == "MaxPool2d":
        gaps += ["return_indices"] * bool(twin.return_indices)
        gaps += ["ceil_mode"] * bool(twin.ceil_mode)
    return f"{name}: " + ", ".join(gaps) if gaps else None


def _numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    if isinstance(value, (tuple, list)):
        return type(value)(_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    return value


def _flatten(value) -> list:
    """The arrays (or tensors) in a nested tuple, depth first."""
    return [leaf for v in value for leaf in _flatten(v)] if isinstance(value, tuple) else [value]


def _fresh(value):
    """A leaf copy of an input tensor (requires_grad kept), so no case sees another's .grad."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    return value


def _grad(tensor: torch.Tensor | None, like) -> np.ndarray:
    """A torch gradient as NumPy; None (never reached) as zeros."""
    grad = None if tensor is None else tensor.grad
    return np.zeros(np.shape(like)) if grad is None else grad.detach().cpu().numpy()


def _assert_close(what: str, ours, theirs) -> None:
    """Relative error <= RTOL; NaN only where torch has NaN (a mean over no targets is 0/0)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape}, torch {theirs.shape}"
    nan = np.isnan(theirs)
    assert np.array_equal(np.isnan(ours), nan), f"{what}: NaN where torch has none, or the reverse"
    err = rel_error(ours[~nan], theirs[~nan])
    assert err <= RTOL, f"{what}: relative error {err:.3e} > {RTOL:.0e}"


@pytest.mark.parametrize("info, module_input, training", CASES)
def test_matches_torch(info, module_input, training):
    cls_name = info.module_cls.__name__
    torch.manual_seed(0)
    twin = info.module_cls(*module_input.constructor_input.args, **module_input.constructor_input.kwargs)
    twin = twin.to(torch.float64).train(training)
    # dlbook layers name their input x where torch says input: pass the inputs by position
    bound = inspect.signature(twin.forward).bind(*module_input.forward_input.args,
                                                 **module_input.forward_input.kwargs)
    assert not bound.kwargs, f"{cls_name}.forward takes keyword-only inputs {sorted(bound.kwargs)}"
    inputs = tuple(_fresh(v) for v in bound.args)
    gap = allowed_gap(twin, inputs)

    try:
        layer = nn.from_torch(twin)
        y = layer(*_numpy(inputs))
    except (NotImplementedError, ValueError) as error:
        if gap is None:
            raise
        assert str(error), f"{cls_name} refused {gap} without saying why"
        pytest.xfail(f"{gap} not implemented yet: {type(error).__name__}: {error}")

    yt = twin(*inputs)
    if cls_name in ("RNN", "LSTM", "LSTMCell"):  # (output, h_n), (output, (h_n, c_n)), (h, c)
        flat, flat_t = _flatten(y), _flatten(yt)
        assert len(flat) == len(flat_t), f"{cls_name} returns {len(flat)} arrays, torch {len(flat_t)}"
        for i, (extra, extra_t) in enumerate(zip(flat[1:], flat_t[1:]), 1):
            _assert_close(f"output {i}", extra, extra_t.detach().numpy())
        y, yt = y[0], yt[0]  # backward below takes d output (the states get no gradient here)
    elif isinstance(yt, tuple):  # (output, indices) for return_indices: backward takes d output
        assert isinstance(y, tuple) and len(y) == len(yt), f"{cls_name} returns {type(y).__name__}, torch a tuple"
        for i, (extra, extra_t) in enumerate(zip(y[1:], yt[1:]), 1):
            assert np.array_equal(extra, extra_t.numpy()), f"output {i} differs from torch's"
        y, yt = y[0], yt[0]
    _assert_close("output", y, yt.detach().numpy())
    assert np.asarray(y).dtype == np.float64, f"output dtype {np.asarray(y).dtype}"

    dy = np.random.default_rng(0).standard_normal(tuple(yt.shape))
    dx = layer.backward(np.asarray(dy))
    dx = dx[0] if isinstance(dx, tuple) else dx  # a recurrent layer's (d input, d state)
    yt.backward(torch.from_numpy(np.asarray(dy)))
    if inputs[0].is_floating_point():
        _assert_close("d input", dx, _grad(inputs[0], dx))
    else:  # an Embedding's indices have no gradient
        assert dx is None, f"{cls_name}.backward returns a gradient for integer input"

    torch_params = dict(twin.named_parameters())
    ours = dict(layer.named_parameters())
    assert list(ours) == list(torch_params), f"parameters {list(ours)}, torch {list(torch_params)}"
    for name, p in ours.items():
        _assert_close(f"{name} (value)", p, torch_params[name].detach().numpy())
        _assert_close(f"d{name}", np.zeros(p.shape) if p.grad is None else p.grad, _grad(torch_params[name], p))

    torch_buffers = dict(twin.named_buffers())
    buffers = dict(layer.named_buffers())
    assert list(buffers) == list(torch_buffers), f"buffers {list(buffers)}, torch {list(torch_buffers)}"
    for name, b in buffers.items():
        _assert_close(f"{name} after forward", b, torch_buffers[name].numpy())

    # the same constructor arguments build the same layer here too (torch's signature, not only from_torch)
    direct = getattr(nn, cls_name)(*_numpy(module_input.constructor_input.args),
                                   **_numpy(module_input.constructor_input.kwargs))
    config, expected = direct.torch_config(), layer.torch_config()
    assert config.keys() == expected.keys()
    for key, value in config.items():  # values may be arrays (a loss's class weights)
        assert np.array_equal(_numpy(value), _numpy(expected[key])), \
            f"torch's arguments give {key}={value!r} here, from_torch {expected[key]!r}"
    shapes = {k: np.shape(v) for k, v in direct.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in twin.state_dict().items()}
