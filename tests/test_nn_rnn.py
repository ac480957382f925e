"""dlbook.nn.RNN, LSTM, RNNCell and LSTMCell against torch (float64, relative error <= 1e-10), against
finite differences through time, and against each other (cells step by step = the sequence layer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, numerical_gradient, rel_error
from dlbook.nn.functional import recurrent as R

F64 = np.float64
RTOL = 1e-10
KINDS = {
    "RNN-tanh": lambda **kw: nn.RNN(3, 5, nonlinearity="tanh", **kw),
    "RNN-relu": lambda **kw: nn.RNN(3, 5, nonlinearity="relu", **kw),
    "LSTM": lambda **kw: nn.LSTM(3, 5, **kw),
}


def _t(array, grad=False):
    return torch.tensor(array, requires_grad=grad)


def _close(what, ours, theirs, rtol=RTOL):
    theirs = theirs.detach().cpu().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert np.shape(ours) == np.shape(theirs), f"{what}: shape {np.shape(ours)}, torch {np.shape(theirs)}"
    err = rel_error(ours, theirs)
    assert err <= rtol, f"{what}: relative error {err:.2e} > {rtol:.0e}"


def _randomize(layer, seed=3):
    """Weights that are not the initial ones (biases away from their init, so a lost bias shows)."""
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p[...] = 0.6 * rng.standard_normal(p.shape)
    return layer


def _run_both(kind, num_layers, batch_first, with_hx, unbatched, bias=True, grads="both", seed=0):
    """Forward and backward through the layer and its torch twin; returns every pair to compare."""
    layer = _randomize(KINDS[kind](num_layers=num_layers, batch_first=batch_first, bias=bias,
                                   dtype=F64, seed=seed))
    twin = nn.to_torch(layer)
    lstm = kind == "LSTM"
    rng = np.random.default_rng(seed + 1)
    L, N, H = 6, 4, 5
    x = rng.standard_normal((L, 3) if unbatched else ((N, L, 3) if batch_first else (L, N, 3)))
    state_shape = (num_layers, H) if unbatched else (num_layers, N, H)
    states = [rng.standard_normal(state_shape) for _ in range(2 if lstm else 1)]
    hx = None if not with_hx else (tuple(states) if lstm else states[0])
    hx_t = None if not with_hx else (tuple(_t(s, True) for s in states) if lstm else _t(states[0], True))

    out, final = layer(x, hx)
    xt = _t(x, True)
    out_t, final_t = twin(xt, hx_t)
    finals = list(final) if lstm else [final]
    finals_t = list(final_t) if lstm else [final_t]

    d_out = rng.standard_normal(out.shape) if grads in ("both", "output") else None
    d_finals = [rng.standard_normal(state_shape) if grads in ("both", "state") else None for _ in finals]
    if lstm:
        dx, d_init = layer.backward(d_out, tuple(d_finals) if grads != "output" else None)
    else:
        dx, d_init = layer.backward(d_out, d_finals[0])
    tensors, upstream = [], []
    for value, d in zip([out_t] + finals_t, [d_out] + d_finals):
        if d is not None:
            tensors.append(value)
            upstream.append(_t(d))
    torch.autograd.backward(tensors, upstream)

    pairs = [("output", out, out_t)]
    pairs += [(f"final state {i}", f, ft) for i, (f, ft) in enumerate(zip(finals, finals_t))]
    pairs.append(("d input", dx, xt.grad))
    if with_hx:
        d_init = list(d_init) if lstm else [d_init]
        hx_list = list(hx_t) if lstm else [hx_t]
        pairs += [(f"d initial state {i}", d, h.grad) for i, (d, h) in enumerate(zip(d_init, hx_list))]
    else:
        assert d_init is None
    torch_params = dict(twin.named_parameters())
    assert list(dict(layer.named_parameters())) == list(torch_params)
    pairs += [(f"d{name}", p.grad, torch_params[name].grad) for name, p in layer.named_parameters()]
    return pairs


@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["seq-first", "batch-first"])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sequence_layer_matches_torch(kind, num_layers, batch_first, with_hx, unbatched):
    for what, ours, theirs in _run_both(kind, num_layers, batch_first, with_hx, unbatched):
        _close(what, ours, theirs)


@pytest.mark.parametrize("grads", ["output", "state"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_gradient_into_output_only_or_final_states_only(kind, grads):
    for what, ours, theirs in _run_both(kind, 2, False, True, False, grads=grads, seed=4):
        _close(what, ours, theirs)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_without_bias_matches_torch(kind):
    for what, ours, theirs in _run_both(kind, 2, True, True, False, bias=False, seed=7):
        _close(what, ours, theirs)


def test_relu_case_sees_both_signs():
    """The ReLU comparison means something only if some pre-activations are negative."""
    layer = _randomize(nn.RNN(3, 5, nonlinearity="relu", dtype=F64, seed=0))
    out, _ = layer(np.random.default_rng(1).standard_normal((6, 4, 3)))
    assert 0 < np.mean(out == 0) < 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_float32_matches_torch(kind):
    layer = KINDS[kind](num_layers=2, seed=0)
    x = np.random.default_rng(0).standard_normal((7, 3, 3)).astype(np.float32)
    report = against_torch(layer, x)  # output, final states, dx, every weight gradient
    assert report.rtol == 1e-5 and "output[1]" in report.errors


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_against_torch_compares_every_output_and_gradient(kind):
    layer = _randomize(KINDS[kind](num_layers=2, batch_first=True, dtype=F64, seed=0))
    report = against_torch(layer, np.random.default_rng(0).standard_normal((3, 4, 3)))
    n_outputs = 3 if kind == "LSTM" else 2
    expected = {"output"} | {f"output[{i}]" for i in range(1, n_outputs)} | {"dx"}
    expected |= {f"d{name}" for name, _ in layer.named_parameters()}
    assert set(report.errors) == expected and report.max_rel <= RTOL


# -- cells --------------------------------------------------------------------------------------
CELLS = {
    "RNNCell-tanh": lambda **kw: nn.RNNCell(3, 5, nonlinearity="tanh", **kw),
    "RNNCell-relu": lambda **kw: nn.RNNCell(3, 5, nonlinearity="relu", **kw),
    "LSTMCell": lambda **kw: nn.LSTMCell(3, 5, **kw),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_state", [False, True], ids=["no-state", "state"])
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_matches_torch(kind, with_state, unbatched, bias):
    cell = _randomize(CELLS[kind](bias=bias, dtype=F64, seed=0))
    twin = nn.to_torch(cell)
    lstm = kind == "LSTMCell"
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3,) if unbatched else (4, 3))
    shape = (5,) if unbatched else (4, 5)
    states = [rng.standard_normal(shape) for _ in range(2 if lstm else 1)]
    states_t = [_t(s, True) for s in states]
    xt = _t(x, True)
    if lstm:
        h_new, c_new = cell(x, tuple(states) if with_state else None)
        h_t, c_t = twin(xt, tuple(states_t) if with_state else None)
        dh, dc = rng.standard_normal(shape), rng.standard_normal(shape)
        dx, d_state = cell.backward((dh, dc))
        torch.autograd.backward([h_t, c_t], [_t(dh), _t(dc)])
        pairs = [("h'", h_new, h_t), ("c'", c_new, c_t)]
        d_states = None if d_state is None else list(d_state)
    else:
        h_new = cell(x, states[0] if with_state else None)
        h_t = twin(xt, states_t[0] if with_state else None)
        dh = rng.standard_normal(shape)
        dx, d_state = cell.backward(dh)
        h_t.backward(_t(dh))
        pairs = [("h'", h_new, h_t)]
        d_states = None if d_state is None else [d_state]
    pairs.append(("d x", dx, xt.grad))
    if with_state:
        pairs += [(f"d state {i}", d, s.grad) for i, (d, s) in enumerate(zip(d_states, states_t))]
    else:
        assert d_states is None
    torch_params = dict(twin.named_parameters())
    assert list(dict(cell.named_parameters())) == list(torch_params)
    pairs += [(f"d{name}", p.grad, torch_params[name].grad) for name, p in cell.named_parameters()]
    for what, ours, theirs in pairs:
        _close(what, ours, theirs)


def test_lstm_cell_backward_takes_d_c_none_or_a_bare_d_h():
    cell = _randomize(nn.LSTMCell(3, 5, dtype=F64, seed=0))
    x, rng = np.random.default_rng(0).standard_normal((2, 3)), np.random.default_rng(1)
    hx = (rng.standard_normal((2, 5)), rng.standard_normal((2, 5)))
    dh = rng.standard_normal((2, 5))
    results = []
    for d_state in ((dh, None), dh, (dh, np.zeros((2, 5)))):
        cell.zero_grad()
        cell(x, hx)
        dx, (d_h, d_c) = cell.backward(d_state)
        results.append((dx, d_h, d_c, cell.weight_hh.grad.copy()))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["RNN-tanh", "RNN-relu", "LSTM"])
def test_cells_step_by_step_match_the_sequence_layer(kind):
    """A cell called once per step (backward in reverse order) computes what the sequence layer
    computes: outputs, final states, d input, d initial state and every weight gradient."""
    lstm = kind == "LSTM"
    layer = _randomize(KINDS[kind](dtype=F64, seed=0))
    cell = nn.LSTMCell(3, 5, dtype=F64) if lstm else nn.RNNCell(3, 5, nonlinearity=layer.nonlinearity,
                                                                  dtype=F64)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name)[...] = getattr(layer, f"{name}_l0")
    rng = np.random.default_rng(5)
    L, N = 7, 3
    x = rng.standard_normal((L, N, 3))
    h0, c0 = rng.standard_normal((1, N, 5)), rng.standard_normal((1, N, 5))
    d_out = rng.standard_normal((L, N, 5))
    d_hn, d_cn = rng.standard_normal((1, N, 5)), rng.standard_normal((1, N, 5))

    out, final = layer(x, (h0, c0) if lstm else h0)
    dx, d_init = layer.backward(d_out, (d_hn, d_cn) if lstm else d_hn)

    state = (h0[0], c0[0]) if lstm else h0[0]
    outs = []
    for t in range(L):
        state = cell(x[t], state)
        outs.append(state[0] if lstm else state)
    dxs = [None] * L
    d_h, d_c = d_hn[0], d_cn[0]
    for t in reversed(range(L)):
        if lstm:
            dxs[t], (d_h, d_c) = cell.backward((d_out[t] + d_h, d_c))
        else:
            dxs[t], d_h = cell.backward(d_out[t] + d_h)
    assert cell.saved_count == 0
    tol = 1e-12  # the same arithmetic, products grouped differently
    _close("outputs", np.stack(outs), out, tol)
    _close("h_n", (state[0] if lstm else state), final[0][0] if lstm else final[0], tol)
    if lstm:
        _close("c_n", state[1], final[1][0], tol)
        _close("d c_0", d_c, d_init[1][0], tol)
    _close("d input", np.stack(dxs), dx, tol)
    _close("d h_0", d_h, d_init[0][0] if lstm else d_init[0], tol)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        _close(f"d{name}", getattr(cell, name).grad, getattr(layer, f"{name}_l0").grad, tol)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_a_cell_used_T_times_accumulates_T_contributions(kind):
    """Weight sharing through time: the cell's gradient after T steps is torch's for the same
    cell unrolled T times, and it is the sum of what each step's backward alone contributes."""
    lstm = kind == "LSTMCell"
    cell = _randomize(CELLS[kind](dtype=F64, seed=0))
    twin = nn.to_torch(cell)
    T, rng = 5, np.random.default_rng(8)
    xs = rng.standard_normal((T, 2, 3))
    dhs = rng.standard_normal((T, 2, 5))  # only the last is used
    # a nonzero initial state: from h_0 = 0 the first step adds nothing to weight_hh's gradient
    init = [rng.standard_normal((2, 5)) for _ in range(2 if lstm else 1)]
    state = tuple(init) if lstm else init[0]
    state_t = tuple(_t(s) for s in init) if lstm else _t(init[0])
    per_step = []
    for t in range(T):
        state = cell(xs[t], state)
        state_t = twin(_t(xs[t]), state_t)
    # upstream: into the last h only; earlier steps get what flows back through time
    (state_t[0] if lstm else state_t).backward(_t(dhs[-1]))
    d_h, d_c = dhs[-1], None
    for t in reversed(range(T)):
        before = {name: (np.zeros(p.shape) if p.grad is None else p.grad.copy())
                  for name, p in cell.named_parameters()}
        if lstm:
            _, (d_h, d_c) = cell.backward((d_h, d_c))
        else:
            _, d_h = cell.backward(d_h)
        per_step.append({name: p.grad - before[name] for name, p in cell.named_parameters()})
    torch_params = dict(twin.named_parameters())
    for name, p in cell.named_parameters():
        _close(f"d{name}", p.grad, torch_params[name].grad)
        contributions = [step[name] for step in per_step]
        assert all(np.abs(c).max() > 0 for c in contributions), "a step contributed nothing"
        _close(f"d{name} = sum of {T} steps", sum(contributions), p.grad, 1e-14)
        assert rel_error(contributions[0], p.grad) > 1e-3  # not only the last step's share


# -- finite differences through time ----------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_backprop_through_time_matches_finite_differences(kind):
    """Central differences of a scalar of the output and the final states, through 2 layers and
    5 steps: the input, the initial states and a few weights."""
    lstm = kind == "LSTM"
    layer = _randomize(KINDS[kind](num_layers=2, dtype=F64, seed=1))
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 2, 3))
    h0, c0 = rng.standard_normal((2, 2, 5)), rng.standard_normal((2, 2, 5))
    hx = (h0, c0) if lstm else h0
    g_out, g_h, g_c = (rng.standard_normal(s) for s in ((5, 2, 5), (2, 2, 5), (2, 2, 5)))

    def scalar() -> float:
        out, final = layer(x, hx)
        value = np.sum(out * g_out)
        if lstm:
            return float(value + np.sum(final[0] * g_h) + np.sum(final[1] * g_c))
        return float(value + np.sum(final * g_h))

    layer.zero_grad()
    scalar()
    dx, d_init = layer.backward(g_out, (g_h, g_c) if lstm else g_h)
    checks = {"x": (x, dx), "h_0": (h0, d_init[0] if lstm else d_init)}
    if lstm:
        checks["c_0"] = (c0, d_init[1])
    for name in ("weight_hh_l0", "weight_ih_l1", "bias_ih_l0"):
        p = getattr(layer, name)
        checks[name] = (p, p.grad.copy())
    with nn.no_grad():
        for name, (array, analytic) in checks.items():
            numeric = numerical_gradient(scalar, array)
            err = rel_error(analytic, numeric)
            assert err < 1e-7, f"d{name}: finite-difference relative error {err:.2e}"
    assert all(m.saved_count == 0 for m in layer.modules())


# -- the contract: saved values, no_grad, several calls before backward --------------------------
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_two_calls_then_two_backward_calls_last_in_first_out(kind):
    """Truncated backprop calls forward per batch; two calls before backward are kept apart."""
    layer = _randomize(KINDS[kind](num_layers=2, dtype=F64, seed=0))
    twin = nn.to_torch(layer)
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 2, 3))]
    dys = [rng.standard_normal((4, 2, 5)), rng.standard_normal((6, 2, 5))]
    xts = [_t(x, True) for x in xs]
    for x, xt in zip(xs, xts):
        layer(x)
        twin(xt)[0].backward(_t(dys[len(layer._saved) - 1]))
    dx_second, _ = layer.backward(dys[1])
    dx_first, _ = layer.backward(dys[0])
    _close("dx of the second call", dx_second, xts[1].grad)
    _close("dx of the first call", dx_first, xts[0].grad)
    torch_params = dict(twin.named_parameters())
    for name, p in layer.named_parameters():
        _close(f"d{name}", p.grad, torch_params[name].grad)


@pytest.mark.parametrize("build", [lambda: nn.RNN(3, 5, 2), lambda: nn.LSTM(3, 5, 2),
                                   lambda: nn.RNNCell(3, 5), lambda: nn.LSTMCell(3, 5)])
def test_no_grad_saves_nothing(build):
    layer = build()
    x = np.zeros((4, 2, 3) if isinstance(layer, (nn.RNN, nn.LSTM)) else (2, 3), np.float32)
    with nn.no_grad():
        layer(x)
    assert layer.saved_count == 0
    with pytest.raises(RuntimeError, match="nothing saved"):
        layer.backward(np.zeros((4, 2, 5) if x.ndim == 3 else (2, 5), np.float32))


def test_output_does_not_alias_the_saved_states():
    layer = _randomize(nn.LSTM(3, 5, dtype=F64, seed=0))
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    dy = np.random.default_rng(1).standard_normal((4, 2, 5))
    out, (h_n, c_n) = layer(x)
    dx_clean, _ = layer.backward(dy)
    out, (h_n, c_n) = layer(x)
    out[...] = 0  # the caller may write into what it got back
    h_n[...] = 0
    c_n[...] = 0
    dx, _ = layer.backward(dy)
    np.testing.assert_array_equal(dx, dx_clean)


# -- construction -------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("build, torch_build", [
    (lambda b: nn.RNN(3, 5, 3, bias=b), lambda b: torch.nn.RNN(3, 5, 3, bias=b)),
    (lambda b: nn.LSTM(3, 5, 2, bias=b), lambda b: torch.nn.LSTM(3, 5, 2, bias=b)),
    (lambda b: nn.RNNCell(3, 5, bias=b), lambda b: torch.nn.RNNCell(3, 5, bias=b)),
    (lambda b: nn.LSTMCell(3, 5, bias=b), lambda b: torch.nn.LSTMCell(3, 5, bias=b)),
])
def test_state_dict_names_and_shapes_equal_torchs(build, torch_build, bias):
    ours, theirs = build(bias).state_dict(), torch_build(bias).state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == tuple(theirs[k].shape) for k in ours)


@pytest.mark.parametrize("module", [
    torch.nn.RNN(3, 5, 2, nonlinearity="relu", bias=False, batch_first=True),
    torch.nn.LSTM(3, 5, 3, bias=False), torch.nn.LSTM(2, 4),
    torch.nn.RNNCell(3, 5, bias=False, nonlinearity="relu"), torch.nn.LSTMCell(3, 5),
], ids=lambda m: repr(m))
def test_round_trip_through_torch_keeps_weights_and_config(module):
    module = module.double()
    layer = nn.from_torch(module)
    assert layer.torch_config() == {k: getattr(module, k) for k in layer.torch_args}
    assert list(layer.state_dict()) == list(module.state_dict())
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(layer.state_dict()[name], value.numpy())
    back = nn.to_torch(layer)
    assert repr(back) == repr(module)
    for name, value in back.state_dict().items():
        assert torch.equal(value, module.state_dict()[name])


@pytest.mark.parametrize("build", [lambda s: nn.RNN(4, 16, 2, seed=s), lambda s: nn.LSTM(4, 16, 2, seed=s),
                                   lambda s: nn.RNNCell(4, 16, seed=s), lambda s: nn.LSTMCell(4, 16, seed=s)])
def test_initial_weights_uniform_within_torchs_bound_and_seeded(build):
    """torch starts every weight U(-1/sqrt(H), 1/sqrt(H)); the seed fixes them."""
    layer, again, other = build(0), build(0), build(1)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.ravel() for p in layer.parameters()])
    assert values.dtype == np.float32
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    # zero mean: within 5 standard errors (U(-b, b) has standard deviation b / sqrt(3))
    assert abs(values.mean()) < 5 * bound / np.sqrt(3 * values.size)
    for (name, p), q, r in zip(layer.named_parameters(), again.parameters(), other.parameters()):
        np.testing.assert_array_equal(p, q)
        assert not np.array_equal(p, r), name


# -- bad input ------------------------------------------------------------------------------------
def test_unsupported_options_say_what_is_supported():
    with pytest.raises(NotImplementedError, match="dropout=0 only"):
        nn.RNN(3, 5, 2, dropout=0.5)
    with pytest.raises(NotImplementedError, match="bidirectional=False only"):
        nn.LSTM(3, 5, bidirectional=True)
    with pytest.raises(NotImplementedError, match="proj_size=0 only"):
        nn.LSTM(3, 5, proj_size=2)
    with pytest.raises(NotImplementedError, match="bidirectional=False only"):
        nn.from_torch(torch.nn.RNN(3, 5, bidirectional=True))
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        nn.RNN(3, 5, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        nn.RNNCell(3, 5, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        nn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        nn.RNN(3, 4, num_layers=0)


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m(np.zeros((4, 2, 3, 1), F64)), ValueError, r"\(L, N, H_in\).*got shape \(4, 2, 3, 1\)"),
    (lambda m: m(np.zeros((4, 3), F64)[0]), ValueError, r"unbatched \(L, H_in\)"),
    (lambda m: m(np.zeros((4, 2, 7), F64)), ValueError, r"input_size = 3.*got \(4, 2, 7\)"),
    (lambda m: m(np.zeros((0, 2, 3), F64)), ValueError, "at least one step"),
    (lambda m: m(np.zeros((4, 2, 3), np.float32)), TypeError, "float64 parameters but got float32"),
    (lambda m: m(np.zeros((4, 2, 3), np.int64)), TypeError, "float32 or float64 input"),
    (lambda m: m([[[0.0] * 3]]), TypeError, "numpy.ndarray"),
    (lambda m: m(np.zeros((4, 2, 3), F64), np.zeros((1, 2, 5), F64)), ValueError,
     r"hx of shape \(2, 2, 5\).*got \(1, 2, 5\)"),
    (lambda m: m(np.zeros((4, 2, 3), F64), np.zeros((2, 5), F64)), ValueError,
     r"hx of shape \(2, 2, 5\) \(num_layers, N, hidden_size\)"),
    (lambda m: m(np.zeros((4, 3), F64), np.zeros((2, 1, 5), F64)), ValueError,
     r"hx of shape \(2, 5\) \(num_layers, hidden_size\) for unbatched"),
    (lambda m: m(np.zeros((4, 2, 3), F64), np.zeros((2, 2, 5), np.float32)), TypeError,
     "float64 parameters but got float32 hx"),
])
def test_rnn_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call(nn.RNN(3, 5, 2, dtype=F64))


def test_lstm_bad_states_and_gradients_get_clear_errors():
    lstm = nn.LSTM(3, 5, 2, batch_first=True, dtype=F64)
    x = np.zeros((2, 4, 3))
    with pytest.raises(TypeError, match=r"pair \(h_0, c_0\)"):
        lstm(x, np.zeros((2, 2, 5)))
    with pytest.raises(ValueError, match=r"c_0 of shape \(2, 2, 5\)"):
        lstm(x, (np.zeros((2, 2, 5)), np.zeros((2, 4, 5))))
    lstm(x)
    with pytest.raises(ValueError, match=r"d_output of shape \(2, 4, 5\)"):
        lstm.backward(np.zeros((4, 2, 5)))
    lstm(x)
    with pytest.raises(ValueError, match=r"d_c_n of shape \(2, 2, 5\)"):
        lstm.backward(np.zeros((2, 4, 5)), (None, np.zeros((2, 5))))
    lstm(x)
    with pytest.raises(TypeError, match=r"pair \(d_h_n, d_c_n\)"):
        lstm.backward(np.zeros((2, 4, 5)), np.zeros((2, 2, 5)))


def test_cell_bad_input_gets_clear_errors():
    cell, lstm_cell = nn.RNNCell(3, 5, dtype=F64), nn.LSTMCell(3, 5, dtype=F64)
    with pytest.raises(ValueError, match=r"\(N, input_size\) or unbatched"):
        cell(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="input_size = 3"):
        cell(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"h of shape \(2, 5\)"):
        cell(np.zeros((2, 3)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"h of shape \(5,\)"):
        cell(np.zeros(3), np.zeros((1, 5)))
    with pytest.raises(TypeError, match="float64 parameters but got float32"):
        cell(np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"pair \(h, c\)"):
        lstm_cell(np.zeros((2, 3)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"c of shape \(2, 5\)"):
        lstm_cell(np.zeros((2, 3)), (np.zeros((2, 5)), np.zeros(5)))
    cell(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"d_h_new of shape \(2, 5\)"):
        cell.backward(np.zeros(5))


def test_functional_step_is_what_the_cells_compute():
    """The functional forms (one home of the equations) against torch's cells in float64."""
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    w_ih, w_hh, b_ih, b_hh = (rng.standard_normal(s) for s in ((16, 3), (16, 4), (16,), (16,)))
    h_t, c_t = torch._VF.lstm_cell(_t(x), (_t(h), _t(c)), _t(w_ih), _t(w_hh), _t(b_ih), _t(b_hh))
    h_new, c_new = R.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
    _close("h'", h_new, h_t)
    _close("c'", c_new, c_t)
    for nonlinearity, torch_cell in (("tanh", torch._VF.rnn_tanh_cell), ("relu", torch._VF.rnn_relu_cell)):
        ours = R.rnn_cell(x, h, w_ih[:4], w_hh[:4, :], b_ih[:4], b_hh[:4], nonlinearity)
        _close(f"rnn {nonlinearity}", ours, torch_cell(_t(x), _t(h), _t(w_ih[:4]), _t(w_hh[:4]),
                                                      _t(b_ih[:4]), _t(b_hh[:4])))
    big = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]])  # the sigmoid neither overflows nor warns
    with np.errstate(all="raise"):
        gates = R.lstm_cell_forward(np.tile(big, 4) * 1.0, np.zeros((1, 5)), np.zeros((1, 5)),
                                    np.zeros((20, 5)))[2]
    _close("sigmoid", gates[0, :5], torch.sigmoid(torch.tensor(big[0])), 1e-15)


# -- on the GPU: torch's cuDNN kernels as the reference ------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["RNN-tanh", "RNN-relu", "LSTM", "RNNCell", "LSTMCell"])
def test_recurrent_layers_match_torch_on_cuda(name, dtype):
    build = {**KINDS, "RNNCell": lambda **kw: nn.RNNCell(3, 5, **kw),
             "LSTMCell": lambda **kw: nn.LSTMCell(3, 5, **kw)}[name]
    if name.endswith("Cell"):
        layer, shape = build(dtype=dtype, seed=0), (4, 3)
    else:
        layer, shape = build(num_layers=2, batch_first=True, dtype=dtype, seed=0), (4, 9, 3)
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    report = against_torch(layer, x, device="cuda")  # raises on mismatch
    assert report.device.startswith("cuda")
    assert report.max_rel <= (1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sequence_layer_with_states_matches_torch_on_cuda(kind):
    lstm = kind == "LSTM"
    layer = _randomize(KINDS[kind](num_layers=3, dtype=F64, seed=0))
    twin = nn.to_torch(layer, device="cuda")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4, 3))
    states = [rng.standard_normal((3, 4, 5)) for _ in range(2 if lstm else 1)]
    out, final = layer(x, tuple(states) if lstm else states[0])
    cuda = [torch.tensor(s, device="cuda") for s in states]
    out_t, final_t = twin(torch.tensor(x, device="cuda"), tuple(cuda) if lstm else cuda[0])
    _close("output", out, out_t)
    for ours, theirs in zip(final if lstm else [final], final_t if lstm else [final_t]):
        _close("final state", ours, theirs)
