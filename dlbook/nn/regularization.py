r"""The L2 penalty $\frac{\lambda}{2}\sum \lVert W \rVert^2$ and its gradient $\lambda W$, made explicit.

Optimizers apply the same thing through ``weight_decay`` (as torch does): adding
$\lambda W$ to each gradient is exactly the gradient of this penalty. These helpers exist
to show that equivalence and to report the penalty's value.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .module import Module, accumulate_grad


def _selected(model: Module, include: Callable[[str], bool] | None):
    if not isinstance(model, Module):
        raise TypeError(f"expected a dlbook.nn.Module, got {type(model).__name__}")
    return {n: p for n, p in model.named_parameters() if include is None or include(n)}


def l2_penalty(model: Module, weight_decay: float, include: Callable[[str], bool] | None = None) -> float:
    r"""$\frac{\lambda}{2} \sum_p \lVert p \rVert^2$ over the parameters whose name passes ``include``
    (all of them by default, like ``weight_decay``; e.g. ``lambda n: n.endswith("weight")``
    leaves biases alone)."""
    return 0.5 * weight_decay * sum(float(np.sum(p.astype(np.float64) ** 2))
                                    for p in _selected(model, include).values())


def l2_penalty_backward(model: Module, weight_decay: float,
                        include: Callable[[str], bool] | None = None) -> None:
    r"""Add the penalty's gradient $\lambda p$ to each selected parameter's
    ``.grad``."""
    for p in _selected(model, include).values():
        accumulate_grad(p, weight_decay * p)


def weight_norm(model: Module, include: Callable[[str], bool] | None = None) -> float:
    r"""$\sqrt{\sum_p \lVert p \rVert^2}$: the size that weight decay shrinks."""
    return float(np.sqrt(sum(float(np.sum(p.astype(np.float64) ** 2)) for p in _selected(model, include).values())))
