"""Proofs that a NumPy layer is right: against its torch twin, and against finite differences.

Relative error is normwise, ``max|a - b| / max(max|a|, max|b|)``, so one near-zero entry
cannot blow it up; the defaults follow cs231n's habit (float64 smooth functions ~1e-10).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .devices import resolve_device
from .nn.module import Module, no_grad

DEFAULT_RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}
_DY_STREAM = 7919  # see against_torch


class MismatchError(AssertionError):
    """A NumPy result disagrees with its reference beyond the tolerance."""


def max_abs_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def rel_error(a, b) -> float:
    """Normwise relative error ``max|a-b| / max(max|a|, max|b|)`` (0 when both are 0)."""
    scale = max(float(np.max(np.abs(a))) if np.size(a) else 0.0,
                float(np.max(np.abs(b))) if np.size(b) else 0.0)
    err = max_abs_error(a, b)
    return err / scale if scale > 0 else err


@dataclass
class Report:
    """Errors per compared quantity: ``{"output": (abs, rel), "dx": ..., "weight": ...}``."""

    errors: dict[str, tuple[float, float]] = field(default_factory=dict)
    rtol: float = 0.0
    device: str = "cpu"
    atol: float = 0.0

    @property
    def max_rel(self) -> float:
        return max((rel for _, rel in self.errors.values()), default=0.0)

    def __str__(self) -> str:
        rows = [f"{name:>16}: max abs {a:.2e}  rel {r:.2e}" for name, (a, r) in self.errors.items()]
        return f"vs torch on {self.device} (rtol {self.rtol:.0e})\n" + "\n".join(rows)


def _record(report: Report, name: str, ours, theirs, rtol: float) -> None:
    abs_err, rel = max_abs_error(ours, theirs), rel_error(ours, theirs)
    report.errors[name] = (abs_err, rel)
    scale = max(float(np.max(np.abs(ours), initial=0)), float(np.max(np.abs(theirs), initial=0)))
    if rel > rtol and not scale <= report.atol:
        hint = "" if report.atol else " (if it is zero in exact arithmetic, e.g. a bias before BatchNorm, pass atol)"
        raise MismatchError(f"{name}: relative error {rel:.3e} > {rtol:.0e}{hint}\n{report}")


@contextlib.contextmanager
def full_precision():
    """Turn off TF32 (on by default for cuDNN convolutions on recent GPUs) while comparing:
    TF32 rounds float32 products to 10 mantissa bits, which a 1e-5 comparison would blame on the code."""
    matmul = torch.get_float32_matmul_precision()
    cuda_matmul = torch.backends.cuda.matmul.allow_tf32
    torch.set_float32_matmul_precision("highest")
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled, allow_tf32=False):
            yield
    finally:
        torch.set_float32_matmul_precision(matmul)
        torch.backends.cuda.matmul.allow_tf32 = cuda_matmul


def against_torch(layer: Module, x: np.ndarray, target=None, *, twin=None, dy=None, device=None,
                  rtol: float | None = None, atol: float = 0.0, seed: int = 0) -> Report:
    """Run ``layer`` and its torch twin on the same input; compare output, dx and every gradient.

    The twin is built by :func:`dlbook.nn.to_torch`, or given as ``twin``: a torch module with the
    same parameter and buffer names (a custom module written twice); the layer's weights are
    copied into it. Runs at full float32 precision on any device (see :func:`full_precision`).

    For a loss layer pass ``target``; the upstream gradient is then 1. Otherwise ``dy``
    (default: standard normal, fixed by ``seed``, from a stream no input is likely to share)
    is fed to both backward passes. A layer with a tuple output (RNN, LSTM, LSTMCell) has every
    part compared and fed a gradient (see :func:`_compare_tuple_outputs`); integer input
    (Embedding's indices) has no dx.
    A training-mode ``Dropout`` (0 < p < 1) anywhere in ``layer`` raises ``ValueError``: torch
    would draw another mask. Raises :class:`MismatchError` when any relative error exceeds ``rtol``
    (default 1e-10 for float64, 1e-5 for float32), unless both sides are below ``atol`` in
    magnitude. ``atol`` is 0 by default, so a tiny but meaningful gradient (deep in a vanishing
    stack) is still compared relatively; pass e.g. ``atol=1e-12`` where a gradient is zero in
    exact arithmetic and only rounding noise remains (a Linear's bias followed by BatchNorm).
    """
    from .nn.bridge import load_into_torch, to_torch
    from .nn.dropout import Dropout

    random = [name or type(m).__name__ for name, m in layer.named_modules()
              if isinstance(m, Dropout) and m.training and 0 < m.p < 1]
    if random:
        raise ValueError(f"against_torch cannot compare training-mode Dropout {random}: the two sides would "
                         f"draw different masks. Call .eval() on it, or replay torch's mask with "
                         f"Dropout.forward(x, mask=...)")
    x = np.asarray(x)
    # integer input (an Embedding's indices): the layer's dtype sets the precision
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(layer.dtype or np.float32)
    rtol = DEFAULT_RTOL.get(dtype, 1e-5) if rtol is None else rtol
    device = resolve_device(device)
    if twin is None:
        twin = to_torch(layer, device=device)
    else:
        twin = twin.to(device=device, dtype=torch.float64 if dtype == np.float64 else torch.float32)
        load_into_torch(layer, twin)
    report = Report(rtol=rtol, device=str(device), atol=atol)
    with full_precision():
        _compare_with_twin(layer, twin, x, target, dy, device, seed, rtol, report)
    return report


def _compare_with_twin(layer, twin, x, target, dy, device, seed, rtol, report) -> None:
    layer.zero_grad()
    twin.zero_grad()
    xt = torch.tensor(x, device=device, requires_grad=bool(np.issubdtype(x.dtype, np.floating)))
    if target is not None:
        y = layer.forward(x, target)
        target_t = torch.as_tensor(np.asarray(target), device=device)
        yt = twin(xt, target_t)
        dx = layer.backward(np.ones_like(np.asarray(y)))
        yt.backward(torch.ones_like(yt))
    else:
        y = layer.forward(x)
        yt = twin(xt)
        if isinstance(y, tuple):  # (output, h_n), (output, (h_n, c_n)), an LSTMCell's (h, c)
            return _compare_tuple_outputs(layer, twin, xt, y, yt, dy, device, seed, rtol, report)
        if dy is None:
            # a stream of its own: dy drawn like a test's x (default_rng(0)) would make dy == x,
            # for which BatchNorm's dx cancels to rounding noise
            dy = np.random.default_rng((seed, _DY_STREAM)).standard_normal(np.shape(y))
            dy = dy.astype(np.asarray(y).dtype)
        dx = layer.backward(dy)
        yt.backward(torch.tensor(dy, device=device))
    _record(report, "output", y, yt.detach().cpu().numpy(), rtol)
    _compare_grads(layer, twin, xt, dx, rtol, report)


def _leaves(value) -> list:
    """The arrays in a nested tuple, depth first."""
    return [leaf for v in value for leaf in _leaves(v)] if isinstance(value, tuple) else [value]


def _like(structure, leaves: list):
    """The leaves put back into the nesting of ``structure``."""
    if not isinstance(structure, tuple):
        return leaves.pop(0)
    return tuple(_like(item, leaves) for item in structure)


def _compare_tuple_outputs(layer, twin, xt, y, yt, dy, device, seed, rtol, report) -> None:
    """A layer whose output is a tuple: every part is compared, and every part gets an upstream
    gradient (dy: a tuple of the output's nesting, None parts zero; default standard normal).
    The layer's backward takes them as its arguments, nested like the output (``rnn.backward(
    d_output, d_h_n)``, ``lstm.backward(d_output, (d_h_n, d_c_n))``)."""
    ys, yts = _leaves(y), _leaves(yt)
    if len(ys) != len(yts):
        raise MismatchError(f"the layer returns {len(ys)} arrays, its torch twin {len(yts)}")
    if dy is None:
        rng = np.random.default_rng((seed, _DY_STREAM))
        dys = [rng.standard_normal(np.shape(leaf)).astype(leaf.dtype) for leaf in ys]
    else:
        dys = _leaves(dy) if isinstance(dy, tuple) else [dy] + [None] * (len(ys) - 1)
        dys = [np.zeros_like(leaf) if d is None else np.asarray(d) for d, leaf in zip(dys, ys)]
    dx = layer.backward(*_like(y, list(dys)))
    torch.autograd.backward(yts, [torch.tensor(d, device=device) for d in dys])
    for i, (ours, theirs) in enumerate(zip(ys, yts)):
        _record(report, "output" if i == 0 else f"output[{i}]", ours, theirs.detach().cpu().numpy(), rtol)
    _compare_grads(layer, twin, xt, dx, rtol, report)


def _compare_grads(layer, twin, xt, dx, rtol, report) -> None:
    """dx, every parameter's gradient and every buffer, after both backward passes. A backward
    that returns a tuple (a recurrent layer's (dx, d_state)) has dx first."""
    dx = dx[0] if isinstance(dx, tuple) else dx
    if xt.requires_grad:  # integer input (indices) has no gradient
        _record(report, "dx", dx, xt.grad.cpu().numpy(), rtol)
    torch_params = dict(twin.named_parameters())
    for name, p in layer.named_parameters():
        if name not in torch_params:
            raise KeyError(f"the torch twin has no parameter {name!r}; it has {sorted(torch_params)}")
        grad = np.zeros_like(np.asarray(p)) if p.grad is None else p.grad
        tgrad = torch_params[name].grad
        _record(report, f"d{name}", grad, tgrad.cpu().numpy() if tgrad is not None else np.zeros_like(grad), rtol)
    torch_buffers = dict(twin.named_buffers())
    for name, buf in layer.named_buffers():
        _record(report, name, buf, torch_buffers[name].cpu().numpy(), rtol)


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function ``f()`` with respect to array ``x`` (changed in place, restored)."""
    if x.dtype != np.float64:
        raise TypeError(f"finite differences need float64, got {x.dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        plus = f()
        x[i] = old - eps
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(layer: Module, x: np.ndarray, target=None, *, eps: float = 1e-6,
              rtol: float = 1e-6, atol: float = 1e-8, seed: int = 0) -> dict[str, float]:
    """Compare ``layer.backward`` with central differences, for the input and every parameter.

    Float64 only. A non-scalar output (any layer; a loss with ``reduction="none"``) is reduced
    to a scalar by a fixed random projection ``sum(y * g)``, which exercises every output entry.
    Stochastic layers must be in a deterministic state (e.g. ``eval()``); layers with running
    statistics update them on every one of the many forward calls.
    A gradient whose analytic and numeric values are both below ``atol`` counts as zero
    (central differences of a constant carry ~1e-10 of rounding noise).
    Returns relative errors; raises :class:`MismatchError` on mismatch.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    if layer.dtype not in (None, np.float64):
        raise TypeError(f"gradcheck needs a float64 layer, got {layer.dtype}; call layer.to(np.float64)")

    def run():
        return layer.forward(x, target) if target is not None else layer.forward(x)

    with no_grad():
        probe = np.asarray(run())
    g = np.random.default_rng(seed).standard_normal(probe.shape) if probe.ndim else None

    def scalar() -> float:
        y = run()
        return float(np.sum(y * g)) if g is not None else float(y)

    layer.zero_grad()
    scalar()
    analytic = {"dx": layer.backward(np.ones(()) if g is None else g)}
    params = dict(layer.named_parameters())
    analytic.update({f"d{k}": np.zeros_like(np.asarray(p)) if p.grad is None else p.grad.copy()
                     for k, p in params.items()})
    with no_grad():  # many forward calls, no backward
        numeric = {"dx": numerical_gradient(scalar, x, eps)}
        for name, p in params.items():
            numeric[f"d{name}"] = numerical_gradient(scalar, p, eps)
    errors = {}
    for name in analytic:
        errors[name] = rel_error(analytic[name], numeric[name])
        scale = max(np.max(np.abs(analytic[name]), initial=0), np.max(np.abs(numeric[name]), initial=0))
        if errors[name] > rtol and not scale <= atol:
            raise MismatchError(f"{name}: finite-difference relative error {errors[name]:.3e} > {rtol:.0e}")
    return errors
