"""Loss layers: ``CrossEntropyLoss``, ``MSELoss``, ``MultiMarginLoss``, ``BCEWithLogitsLoss``,
``BCELoss`` as in ``torch.nn``.

``loss = layer(input, target)``; ``layer.backward()`` (upstream gradient 1 by default)
returns d loss / d input. The math is in :mod:`dlbook.nn.functional.loss`.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .functional.loss import REDUCTIONS
from .module import Module, _as_numpy


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

    def _upstream(self, dy, out_shape, dtype) -> np.ndarray:
        """dy as an array of the loss's shape: 1 when omitted (the loss is where backprop starts)."""
        dy = np.ones(out_shape, dtype) if dy is None else np.asarray(dy)
        if dy.shape != out_shape:
            raise ValueError(f"{type(self).__name__}.backward expects dy of shape {out_shape}, got {dy.shape}")
        return dy.astype(dtype, copy=False)


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` (C,), kept as a buffer, as torch keeps it."""

    def __init__(self, weight, size_average, reduce, reduction: str) -> None:
        super().__init__(size_average, reduce, reduction)
        if weight is not None:
            weight = _as_numpy(weight)
            if weight.ndim != 1 or not np.issubdtype(weight.dtype, np.floating):
                raise ValueError(f"{type(self).__name__}: weight must be a float array of shape (C,), "
                                 f"got {weight.dtype} {weight.shape}")
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    r"""Softmax cross-entropy, with all of ``torch.nn.CrossEntropyLoss``'s options.

    input: scores (N, C), unbatched (C,), or (N, C, d1, ..., dK) for a loss per position (a
    sequence, a pixel). target: class indices of the input's shape without C, or class
    probabilities of the input's shape. ``weight`` (C,) weighs each class, ``ignore_index``
    drops the positions whose target is that class (padding), ``label_smoothing`` ε mixes the
    target with the uniform distribution. See :func:`dlbook.nn.functional.cross_entropy`.
    Returns the mean (or sum) loss, or the per-position losses for ``reduction="none"``.
    """

    torch_args = ("weight", "ignore_index", "reduction", "label_smoothing")

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = int(ignore_index), float(label_smoothing)
        if not 0.0 <= self.label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")

    def _options(self) -> dict:
        return dict(weight=self.weight, ignore_index=self.ignore_index, label_smoothing=self.label_smoothing)

    def forward(self, input: np.ndarray, target: np.ndarray):
        self._check_input(input, None, "scores (C,), (N, C) or (N, C, d1, ...)")
        loss = F.cross_entropy(input, target, self.reduction, **self._options())
        self.save_for_backward(input, np.asarray(target), np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        """d loss / d input, the input's shape."""
        scores, target, out_shape = self.saved_for_backward()
        grad_output = self._upstream(dy, out_shape, scores.dtype)
        return F.cross_entropy_backward(scores, target, self.reduction, grad_output,
                                        **self._options()).astype(scores.dtype, copy=False)


class MultiMarginLoss(_WeightedLoss):
    r"""Multiclass hinge loss $\frac{1}{C}\sum_{j\ne y}\max(0, \Delta - s_y + s_j)^p$ (torch's 1/C included).

    input (N, C) or unbatched (C,) float, target (N,) or () int; ``p`` in {1, 2}, ``margin`` is
    $\Delta$; ``weight`` (C,) multiplies each sample's loss by the weight of its true class.
    """

    torch_args = ("p", "margin", "weight", "reduction")

    def __init__(self, p: int = 1, margin: float = 1.0, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2 (as in torch), got {p!r}")
        self.p, self.margin = int(p), float(margin)

    def forward(self, input: np.ndarray, target: np.ndarray):
        self._check_input(input, (1, 2), "scores (N, C) or (C,)")
        loss = F.multi_margin_loss(input, target, self.p, self.margin, self.reduction, weight=self.weight)
        self.save_for_backward(input, np.asarray(target), np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        scores, target, out_shape = self.saved_for_backward()
        grad_output = self._upstream(dy, out_shape, scores.dtype)
        return F.multi_margin_loss_backward(scores, target, self.p, self.margin, self.reduction, grad_output,
                                            weight=self.weight).astype(scores.dtype, copy=False)


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
        self.save_for_backward(diff, np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        """2 (x - t) dy, divided by the number of entries for the mean."""
        diff, out_shape = self.saved_for_backward()
        grad_output = self._upstream(dy, out_shape, diff.dtype)
        scale = 2 / diff.size if self.reduction == "mean" else 2
        return (diff * scale * grad_output).astype(diff.dtype, copy=False)


# -- chapter 9 (issue 15): binary cross-entropy, the loss of a GAN's discriminator ---------------
def _broadcast_buffer(value, what: str, owner: str):
    """A weight given as an array or tensor of any shape (broadcast against the input later)."""
    if value is None:
        return None
    value = _as_numpy(value)
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(f"{owner}: {what} must be a float array (broadcastable to the input's shape), "
                         f"got {value.dtype} {value.shape}")
    return value


class BCEWithLogitsLoss(_Loss):
    r"""Sigmoid and binary cross-entropy in one stable step, as ``torch.nn.BCEWithLogitsLoss``.

    input: logits of any shape; target: labels in {0, 1} or probabilities, the input's shape.
    ``weight`` rescales each entry's loss and ``pos_weight`` the positive term (e.g. (C,) for C
    labels on the last axis); both broadcast to the input's shape and are kept as buffers, as
    in torch. Per entry $\ell = w\,[(1 - t)\,x - (1 + (p - 1)\,t) \log \sigma(x)]$; backward
    gives $w\,(\sigma(x) - t)$ without pos_weight. See
    :func:`dlbook.nn.functional.binary_cross_entropy_with_logits`.
    """

    torch_args = ("weight", "reduction", "pos_weight")

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _broadcast_buffer(weight, "weight", "BCEWithLogitsLoss"))
        self.register_buffer("pos_weight", _broadcast_buffer(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

    def forward(self, input: np.ndarray, target: np.ndarray):
        self._check_input(input, None, "logits of any shape")
        loss = F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
        self.save_for_backward(input, np.asarray(target), np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        """d loss / d input, the input's shape."""
        logits, target, out_shape = self.saved_for_backward()
        grad_output = self._upstream(dy, out_shape, logits.dtype)
        return F.binary_cross_entropy_with_logits_backward(
            logits, target, grad_output, self.weight, reduction=self.reduction, pos_weight=self.pos_weight)


class BCELoss(_Loss):
    r"""Binary cross-entropy on probabilities in [0, 1], as ``torch.nn.BCELoss`` (logs clamped at -100).

    Prefer :class:`BCEWithLogitsLoss` on the logits: it never takes the log of a probability
    that rounded to 0. ``weight`` broadcasts to the input's shape. See
    :func:`dlbook.nn.functional.binary_cross_entropy`.
    """

    torch_args = ("weight", "reduction")

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _broadcast_buffer(weight, "weight", "BCELoss"))

    def forward(self, input: np.ndarray, target: np.ndarray):
        self._check_input(input, None, "probabilities in [0, 1] of any shape")
        loss = F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)
        self.save_for_backward(input, np.asarray(target), np.shape(loss))
        return loss

    def backward(self, dy=None) -> np.ndarray:
        """d loss / d input, the input's shape."""
        probs, target, out_shape = self.saved_for_backward()
        grad_output = self._upstream(dy, out_shape, probs.dtype)
        return F.binary_cross_entropy_backward(probs, target, grad_output, self.weight,
                                               reduction=self.reduction)
# -- end chapter 9 -------------------------------------------------------------------------------
