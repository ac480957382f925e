"""Helpers on a model's gradients, like ``torch.nn.utils``."""

from __future__ import annotations

import math

import numpy as np

from .module import Parameter


def clip_grad_norm_(parameters, max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    r"""Scale all gradients together so that their total norm is at most
    ``max_norm``, in place, as ``torch.nn.utils.clip_grad_norm_`` does.

    The total norm is the ``norm_type``-norm of all gradients seen as one vector
    (computed as torch does: the norm of the per-parameter norms; ``inf`` is the
    largest $|g|$). Every gradient is multiplied by
    $\min(1,\ \text{max\_norm} / (\text{total} + 10^{-6}))$: the step keeps its
    direction, and gradients that are short enough stay as they are. Parameters
    without a gradient (``.grad`` None) are skipped. With ``error_if_nonfinite`` a
    NaN or infinite total raises ``RuntimeError`` (otherwise the gradients become
    NaN, as in torch). Returns the total norm before clipping.

    ``parameters``: one :class:`Parameter` or an iterable of them
    (e.g. ``model.parameters()``).
    """
    if isinstance(parameters, np.ndarray):
        parameters = [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"clip_grad_norm_ expects dlbook.nn.Parameter objects, "
                            f"got {type(p).__name__}; for torch tensors use "
                            f"torch.nn.utils.clip_grad_norm_")
    norm_type, max_norm = float(norm_type), float(max_norm)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        maxima = [np.max(np.abs(g), initial=0) for g in grads]
        total = float(np.max(np.array(maxima, np.float64)))  # NaN if any is NaN
    else:
        norms = [np.linalg.norm(g.ravel(), ord=norm_type) for g in grads]
        total = float(np.linalg.norm(np.array(norms, np.float64), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           f"`parameters` is non-finite ({total}), so it cannot be "
                           f"clipped. Set error_if_nonfinite=False to scale the "
                           f"gradients by the non-finite norm anyway")
    coefficient = max_norm / (total + 1e-6)
    if not math.isnan(coefficient):
        coefficient = min(coefficient, 1.0)
    with np.errstate(invalid="ignore"):  # inf * 0 = NaN, as in torch
        for g in grads:
            g *= np.asarray(coefficient, dtype=g.dtype)
    return total
