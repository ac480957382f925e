r"""Softmax, cross-entropy and multiclass hinge losses, with their gradients.

Functional forms shared by chapter 1's linear classifier and the loss layers of
:mod:`dlbook.nn`. Conventions follow ``torch.nn.functional``: scores of shape (N, C),
integer targets of shape (N,), ``reduction`` in {"mean", "sum", "none"}.
"""

from __future__ import annotations

import numpy as np

REDUCTIONS = ("mean", "sum", "none")


def _check_scores(scores, target, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(scores, np.ndarray) or scores.ndim != 2:
        raise ValueError(f"{name}: expected scores of shape (N, C), got {getattr(scores, 'shape', type(scores).__name__)}")
    if not np.issubdtype(scores.dtype, np.floating):
        raise TypeError(f"{name}: expected float scores, got {scores.dtype}")
    target = np.asarray(target)
    if target.shape != (scores.shape[0],):
        raise ValueError(f"{name}: expected target of shape ({scores.shape[0]},) to match scores {scores.shape}, got {target.shape}")
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"{name}: expected integer class indices as target, got {target.dtype}")
    if target.size and (target.min() < 0 or target.max() >= scores.shape[1]):
        raise ValueError(f"{name}: target values must lie in [0, {scores.shape[1] - 1}], got range "
                         f"[{target.min()}, {target.max()}]")
    return scores, target


def _reduce(per_sample: np.ndarray, reduction: str):
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "none":
        return per_sample
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce_backward(grad_per_sample: np.ndarray, reduction: str, n: int) -> np.ndarray:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return grad_per_sample / n if reduction == "mean" else grad_per_sample


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Stable log-softmax along ``axis``:

    $\log\mathrm{softmax}(x)_i = x_i - m - \log\sum_j e^{x_j - m}$, $m = \max_j x_j$.
    Subtracting the max keeps every exponent ≤ 0, so nothing overflows.
    """
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities along ``axis``; computed through :func:`log_softmax` for stability."""
    return np.exp(log_softmax(x, axis=axis))


def cross_entropy(scores: np.ndarray, target: np.ndarray, reduction: str = "mean"):
    r"""Softmax cross-entropy $L_i = -\log \mathrm{softmax}(s_i)_{y_i}$, like ``F.cross_entropy``.

    scores: (N, C) float; target: (N,) int in [0, C). Returns a scalar, or (N,) for ``"none"``.
    """
    scores, target = _check_scores(scores, target, "cross_entropy")
    per_sample = -log_softmax(scores, axis=1)[np.arange(len(target)), target]
    return _reduce(per_sample, reduction)


def cross_entropy_backward(scores: np.ndarray, target: np.ndarray, reduction: str = "mean",
                           grad_output=1.0) -> np.ndarray:
    r"""$\partial L / \partial s = \mathrm{softmax}(s) - \mathrm{onehot}(y)$ (divided by N for the mean).

    ``grad_output`` is the upstream gradient: a scalar, or (N,) for ``reduction="none"``.
    """
    scores, target = _check_scores(scores, target, "cross_entropy_backward")
    grad = softmax(scores, axis=1)
    grad[np.arange(len(target)), target] -= 1
    grad = _reduce_backward(grad, reduction, len(target))
    return grad * (np.asarray(grad_output)[:, None] if reduction == "none" else grad_output)


def _margins(scores, target, margin):
    correct = scores[np.arange(len(target)), target][:, None]
    margins = np.maximum(0.0, margin - correct + scores)
    margins[np.arange(len(target)), target] = 0.0  # the true class is not compared with itself
    return margins


def multi_margin_loss(scores: np.ndarray, target: np.ndarray, p: int = 1,
                      margin: float = 1.0, reduction: str = "mean"):
    r"""Multiclass hinge loss as ``F.multi_margin_loss``:

    $L_i = \frac{1}{C}\sum_{j \ne y_i} \max(0,\ \Delta - s_{i,y_i} + s_{i,j})^p$.

    Note the $1/C$: torch divides by the number of classes, while the cs231n "SVM loss"
    does not; the two differ by exactly that factor.
    """
    scores, target = _check_scores(scores, target, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p}")
    per_sample = np.sum(_margins(scores, target, margin) ** p, axis=1) / scores.shape[1]
    return _reduce(per_sample, reduction)


def multi_margin_loss_backward(scores: np.ndarray, target: np.ndarray, p: int = 1, margin: float = 1.0,
                               reduction: str = "mean", grad_output=1.0) -> np.ndarray:
    """Gradient of :func:`multi_margin_loss` with respect to the scores, shape (N, C)."""
    scores, target = _check_scores(scores, target, "multi_margin_loss_backward")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss_backward: p must be 1 or 2, got {p}")
    margins = _margins(scores, target, margin)
    grad = (margins > 0).astype(scores.dtype) if p == 1 else 2 * margins
    rows = np.arange(len(target))
    grad[rows, target] = -grad.sum(axis=1)  # the true score appears with a minus in every term
    grad = _reduce_backward(grad / scores.shape[1], reduction, len(target))
    return grad * (np.asarray(grad_output)[:, None] if reduction == "none" else grad_output)
