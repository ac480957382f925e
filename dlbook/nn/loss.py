"""Loss layers: ``CrossEntropyLoss``, ``MSELoss``, ``MultiMarginLoss`` as in ``torch.nn``.

``loss = layer(input, target)``; ``layer.backward()`` (upstream gradient 1 by default)
returns d loss / d input. The math is in :mod:`dlbook.nn.functional.loss`.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .functional.loss import REDUCTIONS
from .module import Module


class _Loss(Module):
    torch_args = ("reduction",)

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        # torch's deprecated flags keep their positions so that positional calls line up with torch
        if size_average is not None or reduce is not None:
            raise TypeError(f"{type(self).__name__}: size_average and reduce are deprecated in torch and "
                            f"not supported here; pass reduction='mean', 'sum' or 'none'")
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    @staticmethod
    def _unsupported(name: str, what: str, value, default) -> None:
        """Raise for a torch option this NumPy twin lacks, rather than silently ignoring it."""
        if not (value is None if default is None else value == default):
            raise NotImplementedError(f"{name}: {what} is not implemented; leave it at its default {default!r}")

    def _upstream(self, dy, out_shape, dtype) -> np.ndarray:
        """dy as an array of the loss's shape: 1 when omitted (the loss is where backprop starts)."""
        dy = np.ones(out_shape, dtype) if dy is None else np.asarray(dy)
        if dy.shape != out_shape:
            raise ValueError(f"{type(self).__name__}.backward expects dy of shape {out_shape}, got {dy.shape}")
        return dy.astype(dtype, copy=False)


class CrossEntropyLoss(_Loss):
    r"""Softmax cross-entropy: input scores (N, C) float, target (N,) int class indices.

    Returns the mean (or sum) of $-\log \mathrm{softmax}(s_i)_{y_i}$, or the (N,) vector for
    ``reduction="none"``. torch's constructor arguments in torch's order; per-class ``weight``,
    ``ignore_index`` and ``label_smoothing`` are not implemented and must keep their defaults
    (``from_torch`` of a module that sets them raises instead of dropping them).
    """

    torch_args = ("weight", "ignore_index", "reduction", "label_smoothing")

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self._unsupported("CrossEntropyLoss", "per-class weight", weight, None)
        self._unsupported("CrossEntropyLoss", "ignore_index", ignore_index, -100)
        self._unsupported("CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0)
        self.weight, self.ignore_index, self.label_smoothing = None, -100, 0.0

    def forward(self, input: np.ndarray, target: np.ndarray):
        self._check_input(input, 2, "scores (N, C)")
        loss = F.cross_entropy(input, target, self.reduction)
        self._cache = (input, np.asarray(target), np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        """d loss / d input, shape (N, C)."""
        scores, target, out_shape = self._need_cache()
        grad_output = self._upstream(dy, out_shape, scores.dtype)
        return F.cross_entropy_backward(scores, target, self.reduction, grad_output).astype(scores.dtype, copy=False)


class MultiMarginLoss(_Loss):
    r"""Multiclass hinge loss $\frac{1}{C}\sum_{j\ne y}\max(0, \Delta - s_y + s_j)^p$ (torch's 1/C included).

    input (N, C) float, target (N,) int; ``p`` in {1, 2}, ``margin`` is $\Delta$.
    """

    torch_args = ("p", "margin", "weight", "reduction")

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2 (as in torch), got {p!r}")
        self._unsupported("MultiMarginLoss", "per-class weight", weight, None)
        self.p, self.margin, self.weight = int(p), float(margin), None

    def forward(self, input: np.ndarray, target: np.ndarray):
        self._check_input(input, 2, "scores (N, C)")
        loss = F.multi_margin_loss(input, target, self.p, self.margin, self.reduction)
        self._cache = (input, np.asarray(target), np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        scores, target, out_shape = self._need_cache()
        grad_output = self._upstream(dy, out_shape, scores.dtype)
        return F.multi_margin_loss_backward(scores, target, self.p, self.margin, self.reduction,
                                            grad_output).astype(scores.dtype, copy=False)


class MSELoss(_Loss):
    r"""Mean squared error $\frac{1}{n}\sum (x - t)^2$: input and target of the same shape."""

    def forward(self, input: np.ndarray, target: np.ndarray):
        self._check_input(input, None, "array of any shape")
        target = np.asarray(target)
        if target.shape != input.shape:
            raise ValueError(f"MSELoss expects target of the input's shape {input.shape}, got {target.shape}")
        if target.dtype != input.dtype:
            raise TypeError(f"MSELoss expects target of the input's dtype {input.dtype}, got {target.dtype}")
        diff = input - target
        sq = diff * diff
        loss = sq.mean() if self.reduction == "mean" else sq.sum() if self.reduction == "sum" else sq
        self._cache = (diff, np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        """2 (x - t) dy, divided by the number of entries for the mean."""
        diff, out_shape = self._need_cache()
        grad_output = self._upstream(dy, out_shape, diff.dtype)
        scale = 2 / diff.size if self.reduction == "mean" else 2
        return (diff * scale * grad_output).astype(diff.dtype, copy=False)
