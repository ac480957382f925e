r"""Softmax, cross-entropy and multiclass hinge losses, with their gradients.

Functional forms shared by chapter 1's linear classifier and the loss layers of
:mod:`dlbook.nn`. Conventions follow ``torch.nn.functional``: the class axis is axis 1
of batched scores (axis 0 of unbatched (C,) scores), targets are integer class indices
(or, for :func:`cross_entropy`, class probabilities of the scores' shape), and
``reduction`` is one of "mean", "sum", "none".
"""

from __future__ import annotations

import numbers

import numpy as np

from .activation import sigmoid

REDUCTIONS = ("mean", "sum", "none")


def _shape_of(x) -> str:
    return str(getattr(x, "shape", type(x).__name__))


def _check_reduction(reduction) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_float_scores(scores, name: str, ndims, expected: str) -> None:
    if not isinstance(scores, np.ndarray) or scores.ndim not in ndims:
        raise ValueError(f"{name}: expected scores of shape {expected}, got {_shape_of(scores)}")
    if not np.issubdtype(scores.dtype, np.floating):
        raise TypeError(f"{name}: expected float scores, got {scores.dtype}")


def _check_class_indices(target: np.ndarray, n_classes: int, name: str, ignore_index=None) -> np.ndarray:
    """``target`` as int64, after checking it holds integers in [0, C) (or ``ignore_index``)."""
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"{name}: expected integer class indices as target, got {target.dtype}")
    counted = target if ignore_index is None else target[target != ignore_index]
    if counted.size and (counted.min() < 0 or counted.max() >= n_classes):
        also = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise ValueError(f"{name}: target values must lie in [0, {n_classes - 1}]{also}, got range "
                         f"[{counted.min()}, {counted.max()}]")
    return target.astype(np.int64, copy=False)


def _check_weight(weight, n_classes: int, dtype, name: str):
    """Per-class weights as a (C,) array of the scores' dtype, or None."""
    if weight is None:
        return None
    weight = np.asarray(weight)
    if weight.shape != (n_classes,):
        raise ValueError(f"{name}: expected weight of shape ({n_classes},), one per class, got {weight.shape}")
    if weight.dtype == np.bool_ or not (np.issubdtype(weight.dtype, np.floating)
                                        or np.issubdtype(weight.dtype, np.integer)):
        raise TypeError(f"{name}: expected real (float) weight, got {weight.dtype}")
    return weight.astype(dtype, copy=False)


def _check_grad_output(grad_output, loss_shape: tuple, reduction: str, name: str) -> np.ndarray:
    grad_output = np.asarray(grad_output)
    if reduction == "none":
        if grad_output.ndim and grad_output.shape != loss_shape:
            raise ValueError(f"{name}: expected grad_output of the loss's shape {loss_shape} for "
                             f"reduction='none', got {grad_output.shape}")
    elif grad_output.ndim:
        raise ValueError(f"{name}: expected a scalar grad_output for reduction={reduction!r}, "
                         f"got shape {grad_output.shape}")
    return grad_output


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


# -- cross-entropy ------------------------------------------------------------------

_CE_SHAPES = "(C,), (N, C) or (N, C, d1, ..., dK)"


def _cross_entropy_terms(scores, target, weight, ignore_index, label_smoothing, name: str):
    r"""Check the inputs; return what forward and backward share, class axis moved last.

    Every loss element is $\ell = -\sum_c a_c \log \mathrm{softmax}(s)_c$ for a coefficient
    vector $a$ fixed by the target. Returns ``(s, a, ignored, count)``: scores ``s`` of shape
    (*B, C) with B the target's (index) shape, ``a`` of the same shape, the (*B) boolean mask of
    ignored elements (None for probability targets) and the "mean" denominator ``count``.
    """
    _check_float_scores(scores, name, range(1, 65), _CE_SHAPES)
    class_axis = 0 if scores.ndim == 1 else 1
    n_classes = scores.shape[class_axis]
    if n_classes == 0:
        raise ValueError(f"{name}: expected at least one class on axis {class_axis} of scores {scores.shape}")
    if isinstance(ignore_index, (bool, np.bool_)) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{name}: expected an int ignore_index, got {ignore_index!r}")
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must lie in [0, 1], got {label_smoothing!r}")
    weight = _check_weight(weight, n_classes, scores.dtype, name)
    target = np.asarray(target)
    index_shape = scores.shape[:class_axis] + scores.shape[class_axis + 1:]
    s = np.moveaxis(scores, class_axis, -1)
    eps, dtype = float(label_smoothing), scores.dtype
    w = np.ones(n_classes, dtype) if weight is None else weight

    if target.shape == scores.shape:  # class probabilities, torch's rule: same shape as the scores
        if not np.issubdtype(target.dtype, np.floating):
            raise TypeError(f"{name}: expected float class probabilities as target of the scores' shape "
                            f"{scores.shape}, got {target.dtype}")
        if ignore_index >= 0:
            raise ValueError(f"{name}: ignore_index applies to class-index targets only; leave it negative "
                             f"(default -100) with class probabilities, got {ignore_index}")
        probs = np.moveaxis(target.astype(dtype, copy=False), class_axis, -1)
        if eps:
            probs = probs * (1 - eps) + eps / n_classes
        return s, w * probs, None, int(np.prod(index_shape))

    if target.shape != index_shape:
        raise ValueError(f"{name}: expected target of shape {index_shape} (class indices) or "
                         f"{scores.shape} (class probabilities) for scores of shape {scores.shape}, "
                         f"got {target.shape}")
    target = _check_class_indices(target, n_classes, name, ignore_index)
    ignored = target == ignore_index
    kept = ~ignored
    safe = np.where(ignored, 0, target)
    w_target = np.where(ignored, 0, w[safe]).astype(dtype, copy=False)  # w[y], 0 where ignored
    a = np.zeros(s.shape, dtype)
    np.put_along_axis(a, safe[..., None], ((1 - eps) * w_target)[..., None], axis=-1)
    if eps:
        a += (eps / n_classes) * w * kept[..., None]
    return s, a, ignored, w_target.sum()


def cross_entropy(scores: np.ndarray, target: np.ndarray, reduction: str = "mean", *,
                  weight=None, ignore_index: int = -100, label_smoothing: float = 0.0):
    r"""Softmax cross-entropy with all of ``F.cross_entropy``'s options.

    Shapes (the class axis is axis 1, or axis 0 when unbatched):

    ===================  ==================  ========================
    scores               index target        probability target
    ===================  ==================  ========================
    (C,)                 ()                  (C,)
    (N, C)               (N,)                (N, C)
    (N, C, d1, ..., dK)  (N, d1, ..., dK)    (N, C, d1, ..., dK)
    ===================  ==================  ========================

    A target of the scores' own shape holds class probabilities (float); otherwise it holds
    integer class indices in [0, C), or ``ignore_index``. With $p = \mathrm{softmax}(s)$ over
    the classes, $\varepsilon$ = ``label_smoothing`` in [0, 1] and $w$ = ``weight`` (C,)
    (all ones when None; negative entries allowed), each element's loss is

    * index target $y \ne$ ``ignore_index``:
      $\ell = -(1-\varepsilon)\, w_y \log p_y - \frac{\varepsilon}{C} \sum_c w_c \log p_c$;
      an element whose target is ``ignore_index`` has $\ell = 0$;
    * probability target $t$: $\ell = -\sum_c w_c \big((1-\varepsilon) t_c + \frac{\varepsilon}{C}\big) \log p_c$.

    ``"none"`` returns $\ell$ with the target's (index) shape, ``"sum"`` its sum. ``"mean"``
    divides the sum by $\sum w_{y}$ over the non-ignored elements for index targets (the
    number of non-ignored elements when unweighted; nan when all are ignored, as in torch),
    and by the number of elements $N d_1 \cdots d_K$ for probability targets, weighted or not.
    ``ignore_index`` ≥ 0 with probability targets is an error, as in torch.
    """
    _check_reduction(reduction)
    s, a, _, count = _cross_entropy_terms(scores, target, weight, ignore_index, label_smoothing, "cross_entropy")
    per_element = -np.sum(a * log_softmax(s, axis=-1), axis=-1)
    if reduction == "none":
        return per_element
    total = per_element.sum()
    if reduction == "sum":
        return total
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 is nan, as in torch
        return total / count


def cross_entropy_backward(scores: np.ndarray, target: np.ndarray, reduction: str = "mean",
                           grad_output=1.0, *, weight=None, ignore_index: int = -100,
                           label_smoothing: float = 0.0) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to the scores (shape and dtype of ``scores``).

    For an element $\ell = -\sum_c a_c \log p_c$ (coefficients $a$ as in :func:`cross_entropy`)
    $\partial \ell / \partial s_c = p_c \sum_k a_k - a_c$, which is $p - \mathrm{onehot}(y)$
    in the plain case. It is scaled by the upstream gradient and, for ``"mean"``, divided by the
    same denominator as the loss. ``grad_output`` is a scalar, or an array of the loss's shape
    (the target's index shape) for ``reduction="none"``. Ignored elements get a zero gradient,
    even when every element is ignored (torch's behaviour).
    """
    _check_reduction(reduction)
    name = "cross_entropy_backward"
    s, a, ignored, count = _cross_entropy_terms(scores, target, weight, ignore_index, label_smoothing, name)
    upstream = _check_grad_output(grad_output, s.shape[:-1], reduction, name)
    with np.errstate(divide="ignore", invalid="ignore"):  # every element ignored: 0 / 0, zeroed below
        if reduction == "mean":
            upstream = upstream / count
        grad = (softmax(s, axis=-1) * a.sum(axis=-1, keepdims=True) - a) * upstream[..., None]
    if ignored is not None:
        grad[ignored] = 0.0
    class_axis = 0 if scores.ndim == 1 else 1
    return np.moveaxis(grad, -1, class_axis).astype(scores.dtype, copy=False)


# -- multiclass hinge -----------------------------------------------------------------

def _multi_margin_inputs(scores, target, p, weight, name: str):
    """Check the inputs; return (N, C) scores, (N,) int64 target and (N,) w[y] (None if unweighted)."""
    _check_float_scores(scores, name, (1, 2), "(C,) or (N, C)")
    if p not in (1, 2):
        raise ValueError(f"{name}: p must be 1 or 2, got {p}")
    n_classes = scores.shape[-1]
    if n_classes == 0:
        raise ValueError(f"{name}: expected at least one class on the last axis of scores {scores.shape}")
    target = np.asarray(target)
    expected = scores.shape[:-1]
    if target.shape != expected:
        raise ValueError(f"{name}: expected target of shape {expected} to match scores {scores.shape}, "
                         f"got {target.shape}")
    target = _check_class_indices(target, n_classes, name)
    weight = _check_weight(weight, n_classes, scores.dtype, name)
    scores2, target1 = scores.reshape(-1, n_classes), target.reshape(-1)  # unbatched: one row
    return scores2, target1, None if weight is None else weight[target1]


def _margins(scores, target, margin):
    correct = scores[np.arange(len(target)), target][:, None]
    margins = np.maximum(0.0, margin - correct + scores)
    margins[np.arange(len(target)), target] = 0.0  # the true class is not compared with itself
    return margins


def multi_margin_loss(scores: np.ndarray, target: np.ndarray, p: int = 1,
                      margin: float = 1.0, reduction: str = "mean", *, weight=None):
    r"""Multiclass hinge loss as ``F.multi_margin_loss``:

    $L_i = \frac{w_{y_i}}{C}\sum_{j \ne y_i} \max(0,\ \Delta - s_{i,y_i} + s_{i,j})^p$.

    scores (N, C) float with target (N,) ints in [0, C); unbatched: (C,) with ().
    ``weight`` (C,), default all ones, scales a sample's loss by the weight of its
    true class, after the power (as torch's kernel does; its docs put $w$ inside
    the max). ``"mean"`` divides by N, weighted or not; ``"none"`` keeps (N,) or ().

    Note the $1/C$: torch divides by the number of classes, while the cs231n "SVM loss"
    does not; the two differ by exactly that factor.
    """
    _check_reduction(reduction)
    s, y, w_y = _multi_margin_inputs(scores, target, p, weight, "multi_margin_loss")
    per_sample = np.sum(_margins(s, y, margin) ** p, axis=1) / s.shape[1]
    if w_y is not None:
        per_sample = per_sample * w_y
    if reduction == "none":
        return per_sample.reshape(np.shape(target))
    if reduction == "sum":
        return per_sample.sum()
    with np.errstate(invalid="ignore"):  # an empty batch's mean is nan
        return per_sample.sum() / len(per_sample)


def multi_margin_loss_backward(scores: np.ndarray, target: np.ndarray, p: int = 1, margin: float = 1.0,
                               reduction: str = "mean", grad_output=1.0, *, weight=None) -> np.ndarray:
    """Gradient of :func:`multi_margin_loss` with respect to the scores, shape (N, C) (or (C,)).

    ``grad_output`` is a scalar, or an array of the loss's shape ((N,), or () unbatched) for
    ``reduction="none"``.
    """
    _check_reduction(reduction)
    name = "multi_margin_loss_backward"
    scores2, target1, w_target = _multi_margin_inputs(scores, target, p, weight, name)
    upstream = _check_grad_output(grad_output, np.shape(target), reduction, name)
    n, n_classes = scores2.shape
    margins = _margins(scores2, target1, margin)
    grad = (margins > 0).astype(scores.dtype) if p == 1 else 2 * margins
    rows = np.arange(n)
    grad[rows, target1] = -grad.sum(axis=1)  # the true score appears with a minus in every term
    scale = np.broadcast_to(upstream, np.shape(target)).reshape(-1) / n_classes
    if reduction == "mean":
        scale = scale / max(n, 1)
    if w_target is not None:
        scale = scale * w_target
    return (grad * scale[:, None]).reshape(scores.shape).astype(scores.dtype, copy=False)


# -- binary cross-entropy (chapter 9, issue 15) ------------------------------------------

_BCE_LOG_FLOOR = -100.0  # torch clamps each log at -100, so a probability of exactly 0 costs 100
_BCE_GRAD_FLOOR = float(np.float32(1e-12))  # torch divides by max(x(1 - x), 1e-12), a float32 constant


def _bce_inputs(input, target, weight, pos_weight, reduction, name: str):
    """Check the inputs; return (input, target, weight, pos_weight), the last three cast to
    input's dtype (weight and pos_weight may be None)."""
    _check_reduction(reduction)
    if not isinstance(input, np.ndarray):
        raise TypeError(f"{name}: expected input as a numpy.ndarray, got {type(input).__name__}")
    if not np.issubdtype(input.dtype, np.floating):
        raise TypeError(f"{name}: expected float input, got {input.dtype}")
    target = np.asarray(target)
    if target.shape != input.shape:
        raise ValueError(f"{name}: expected target of the input's shape {input.shape} (one 0/1 label or "
                         f"probability per entry), got {target.shape}")
    if not (np.issubdtype(target.dtype, np.floating) or np.issubdtype(target.dtype, np.integer)):
        raise TypeError(f"{name}: expected a real target (0/1 labels or probabilities), got {target.dtype}")
    extras = []
    for what, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is not None:
            value = np.asarray(value)
            if not np.issubdtype(value.dtype, np.floating) and not np.issubdtype(value.dtype, np.integer):
                raise TypeError(f"{name}: expected a real {what}, got {value.dtype}")
            try:
                grown = np.broadcast_shapes(value.shape, input.shape)
            except ValueError:
                grown = None
            if grown != input.shape:
                raise ValueError(f"{name}: {what} of shape {value.shape} does not broadcast to the input's "
                                 f"shape {input.shape}")
            value = value.astype(input.dtype, copy=False)
        extras.append(value)
    return input, target.astype(input.dtype, copy=False), *extras


def _reduce(per_entry: np.ndarray, reduction: str):
    if reduction == "none":
        return per_entry
    if reduction == "sum":
        return per_entry.sum()
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty input's mean is nan, as in torch
        return per_entry.sum() / per_entry.size


def _bce_upstream(grad_output, input: np.ndarray, reduction: str, name: str) -> np.ndarray:
    upstream = _check_grad_output(grad_output, input.shape, reduction, name).astype(input.dtype, copy=False)
    if reduction == "mean":
        upstream = upstream / max(input.size, 1)
    return upstream


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    r"""$\log \sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})$, torch's form: no overflow."""
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def binary_cross_entropy_with_logits(input: np.ndarray, target: np.ndarray, weight=None,
                                     *, reduction: str = "mean", pos_weight=None):
    r"""Binary cross-entropy on logits, as ``F.binary_cross_entropy_with_logits``.

    For a logit $x$ and a target $t \in [0, 1]$ (a label or a probability) of the
    same shape, each entry's loss is

    $$\ell = -w\,\big[\,p\,t \log \sigma(x) + (1 - t) \log(1 - \sigma(x))\,\big]
           = w\,\big[(1 - t)\,x - (1 + (p - 1)\,t) \log \sigma(x)\big],$$

    by $\log(1 - \sigma(x)) = \log \sigma(x) - x$. ``weight`` $w$ and ``pos_weight``
    $p$ (the weight of the positive term, e.g. (C,) for C labels on the last axis)
    broadcast to the input's shape; both default to 1. With :func:`log_sigmoid`,
    logits of ±1000 give finite losses, where $\log(\mathrm{sigmoid}(x))$ gives
    $-\infty$. ``"mean"`` averages over every entry; ``"none"`` keeps the shape.
    """
    name = "binary_cross_entropy_with_logits"
    x, t, w, p = _bce_inputs(input, target, weight, pos_weight, reduction, name)
    log_weight = 1 if p is None else 1 + (p - 1) * t
    loss = (1 - t) * x - log_weight * log_sigmoid(x)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits_backward(input: np.ndarray, target: np.ndarray,
                                              grad_output=1.0, weight=None, *,
                                              reduction: str = "mean",
                                              pos_weight=None) -> np.ndarray:
    r"""d loss / d input of :func:`binary_cross_entropy_with_logits`, input's shape.

    Each entry: $w\,\big[(1 + (p - 1)\,t)\,\sigma(x) - p\,t\big]$, which is
    $w\,(\sigma(x) - t)$ without ``pos_weight``: the sigmoid and the log cancel into
    prediction minus target. Scaled by the upstream gradient (a scalar, or of the
    input's shape for ``"none"``) and, for ``"mean"``, divided by the entry count.
    """
    name = "binary_cross_entropy_with_logits_backward"
    x, t, w, p = _bce_inputs(input, target, weight, pos_weight, reduction, name)
    upstream = _bce_upstream(grad_output, x, reduction, name)
    s = sigmoid(x)
    grad = s - t if p is None else (1 + (p - 1) * t) * s - p * t
    if w is not None:
        grad = grad * w
    return (grad * upstream).astype(x.dtype, copy=False)


def binary_cross_entropy(input: np.ndarray, target: np.ndarray, weight=None, *, reduction: str = "mean"):
    r"""Binary cross-entropy on probabilities $x \in [0, 1]$, as ``F.binary_cross_entropy``:

    $\ell = -w\,[\,t \log x + (1 - t) \log(1 - x)\,]$, each log clamped at -100 as in torch (so
    $x = 0$ or $1$ gives a finite loss). Prefer :func:`binary_cross_entropy_with_logits`: a
    probability that rounded to 0 or 1 has lost the information the logit still holds.
    """
    name = "binary_cross_entropy"
    x, t, w, _ = _bce_inputs(input, target, weight, None, reduction, name)
    if x.size and not (np.all(x >= 0) and np.all(x <= 1)):  # also refuses nan
        raise ValueError(f"{name}: expected input probabilities in [0, 1], got values in [{np.nanmin(x)}, "
                         f"{np.nanmax(x)}]{' and nan' * bool(np.isnan(x).any())} (for logits use "
                         f"binary_cross_entropy_with_logits)")
    with np.errstate(divide="ignore"):  # log 0 = -inf, clamped to -100 below
        log_x = np.maximum(np.log(x), _BCE_LOG_FLOOR)
        log_1mx = np.maximum(np.log1p(-x), _BCE_LOG_FLOOR)
    loss = -(t * log_x + (1 - t) * log_1mx)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


def binary_cross_entropy_backward(input: np.ndarray, target: np.ndarray, grad_output=1.0, weight=None, *,
                                  reduction: str = "mean") -> np.ndarray:
    r"""d loss / d input of :func:`binary_cross_entropy`: $w\,(x - t) / \max(x(1 - x), 10^{-12})$,
    torch's formula (the floor keeps x = 0 or 1 finite), scaled like the loss."""
    name = "binary_cross_entropy_backward"
    x, t, w, _ = _bce_inputs(input, target, weight, None, reduction, name)
    upstream = _bce_upstream(grad_output, x, reduction, name)
    grad = (x - t) / np.maximum(x * (1 - x), _BCE_GRAD_FLOOR)
    if w is not None:
        grad = grad * w
    return (grad * upstream).astype(x.dtype, copy=False)
