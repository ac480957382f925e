"""The functional losses' torch options against torch.nn.functional, in float64 (and once float32).

Cross-entropy: unbatched (C,), (N, C) and K-dimensional (N, C, d1, ..., dK) scores; index and
probability targets; per-class weight (negative entries included); ignore_index; label smoothing;
every reduction. Multi-margin: per-class weight and unbatched input. Gradients are compared with
torch's autograd under the same upstream gradient; one case also against central differences.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

from dlbook.check import rel_error
from dlbook.nn import functional as dF

RTOL64, RTOL32 = 1e-10, 1e-5
REDUCTIONS = ["mean", "sum", "none"]


def _torch_loss_and_grad(torch_fn, scores, target, upstream, **kw):
    s = torch.tensor(scores, requires_grad=True)
    kw = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    loss = torch_fn(s, torch.tensor(target), **kw)
    loss.backward(torch.tensor(upstream, dtype=s.dtype))
    return loss.detach().numpy(), s.grad.numpy()


def _ours(fn, fn_backward, scores, target, reduction, upstream, **kw):
    loss = fn(scores, target, reduction, **kw)
    grad = fn_backward(scores, target, reduction, grad_output=upstream, **kw)
    return np.asarray(loss), grad


def _well_conditioned(terms) -> bool:
    """A sum of mixed-sign terms (negative weights) that does not cancel to rounding noise."""
    terms = np.asarray(terms, dtype=np.float64)
    return abs(terms.sum()) >= 1e-4 * np.abs(terms).sum()


@st.composite
def score_shapes(draw, max_batch_dims=3):
    """(C,) unbatched, or (N, C, d1, ..., dK) with K = 0, 1 or 2: 1-D to 4-D scores."""
    c = draw(st.integers(1, 5))
    batch_dims = draw(st.integers(0, max_batch_dims))  # 0: unbatched
    if batch_dims == 0:
        return (c,)
    n = draw(st.integers(1, 4))
    spatial = draw(st.lists(st.integers(1, 3), min_size=batch_dims - 1, max_size=batch_dims - 1))
    return (n, c, *spatial)


# Scores uniform in [-scale, scale], scale <= 5: no softmax saturates past 1 - p ~ e^-10. Deeper
# saturation makes the gradient p - 1 (and the loss -log p) a cancellation that neither torch nor
# NumPy gets to 1e-10 relative accuracy, so the two would disagree by rounding alone.
scales = st.floats(0.1, 5.0)


def _scores(rng, shape, scale):
    return rng.uniform(-scale, scale, shape)


smoothing = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))


def _weight(rng, c, negative: bool):
    return rng.uniform(-1.0, 2.0, c) if negative else rng.uniform(0.1, 2.0, c)


@settings(max_examples=40, deadline=None)
@given(score_shapes(), st.integers(0, 2**31 - 1), st.sampled_from(REDUCTIONS), smoothing,
       st.sampled_from([None, "positive", "negative"]), st.sampled_from([None, "class", "outside"]),
       scales)
def test_cross_entropy_index_targets_match_torch(shape, seed, reduction, label_smoothing, weighting,
                                                 ignoring, scale):
    rng = np.random.default_rng(seed)
    class_axis = 0 if len(shape) == 1 else 1
    c = shape[class_axis]
    index_shape = shape[:class_axis] + shape[class_axis + 1:]
    scores = _scores(rng, shape, scale)
    target = rng.integers(0, c, index_shape)
    kw = {"label_smoothing": label_smoothing}
    if weighting:
        kw["weight"] = _weight(rng, c, weighting == "negative")
    if ignoring:  # a real class (its targets are dropped) or a value outside [0, C), planted at random
        kw["ignore_index"] = int(rng.integers(0, c)) if ignoring == "class" else int(rng.choice([-100, -1, c + 2]))
        target = np.where(rng.random(index_shape) < 0.3, kw["ignore_index"], target)
    upstream = rng.standard_normal(index_shape) if reduction == "none" else rng.standard_normal()

    loss_t, grad_t = _torch_loss_and_grad(F.cross_entropy, scores, target, upstream, reduction=reduction, **kw)
    if reduction != "none":
        per_element = _torch_loss_and_grad(F.cross_entropy, scores, target, np.ones(index_shape),
                                           reduction="none", **kw)[0]
        assume(_well_conditioned(per_element) or not per_element.any())
    if reduction == "mean" and weighting:
        kept = target != kw.get("ignore_index", -100)
        assume(not kept.any() or _well_conditioned(kw["weight"][np.where(kept, target, 0)][kept]))

    loss, grad = _ours(dF.cross_entropy, dF.cross_entropy_backward, scores, target, reduction, upstream, **kw)
    assert loss.shape == (index_shape if reduction == "none" else ())
    assert grad.shape == scores.shape and grad.dtype == scores.dtype
    if np.isnan(loss_t).any():  # every target ignored under "mean": torch gives nan
        assert np.array_equal(np.isnan(loss), np.isnan(loss_t))
    else:
        assert rel_error(loss, loss_t) <= RTOL64
    assert rel_error(grad, grad_t) <= RTOL64


@settings(max_examples=30, deadline=None)
@given(score_shapes(), st.integers(0, 2**31 - 1), st.sampled_from(REDUCTIONS), smoothing,
       st.sampled_from([None, "positive", "negative"]), st.booleans(), scales)
def test_cross_entropy_probability_targets_match_torch(shape, seed, reduction, label_smoothing, weighting,
                                                       normalised, scale):
    rng = np.random.default_rng(seed)
    class_axis = 0 if len(shape) == 1 else 1
    scores = _scores(rng, shape, scale)
    target = rng.random(shape)  # torch does not require the probabilities to sum to 1
    if normalised:
        target /= target.sum(axis=class_axis, keepdims=True)
    kw = {"label_smoothing": label_smoothing}
    if weighting:
        kw["weight"] = _weight(rng, shape[class_axis], weighting == "negative")
    loss_shape = shape[:class_axis] + shape[class_axis + 1:]
    upstream = rng.standard_normal(loss_shape) if reduction == "none" else rng.standard_normal()

    loss_t, grad_t = _torch_loss_and_grad(F.cross_entropy, scores, target, upstream, reduction=reduction, **kw)
    if reduction != "none" and weighting == "negative":
        per_element = _torch_loss_and_grad(F.cross_entropy, scores, target, np.ones(loss_shape),
                                           reduction="none", **kw)[0]
        assume(_well_conditioned(per_element))
    loss, grad = _ours(dF.cross_entropy, dF.cross_entropy_backward, scores, target, reduction, upstream, **kw)
    assert loss.shape == (loss_shape if reduction == "none" else ())
    assert rel_error(loss, loss_t) <= RTOL64
    assert grad.shape == scores.shape
    assert rel_error(grad, grad_t) <= RTOL64


@settings(max_examples=30, deadline=None)
@given(st.booleans(), st.integers(1, 6), st.integers(2, 6), st.integers(0, 2**31 - 1),
       st.sampled_from(REDUCTIONS), st.sampled_from([1, 2]), st.floats(-1.0, 3.0),
       st.sampled_from([None, "positive", "negative"]))
def test_multi_margin_weight_and_unbatched_match_torch(unbatched, n, c, seed, reduction, p, margin, weighting):
    rng = np.random.default_rng(seed)
    shape, target_shape = ((c,), ()) if unbatched else ((n, c), (n,))
    scores, target = _scores(rng, shape, 3.0), rng.integers(0, c, target_shape)
    kw = {"weight": _weight(rng, c, weighting == "negative")} if weighting else {}
    upstream = rng.standard_normal(target_shape) if reduction == "none" else rng.standard_normal()
    loss_t, grad_t = _torch_loss_and_grad(F.multi_margin_loss, scores, target, upstream,
                                          p=p, margin=margin, reduction=reduction, **kw)
    if reduction != "none" and weighting == "negative":
        per_sample = _torch_loss_and_grad(F.multi_margin_loss, scores, target, np.ones(target_shape),
                                          p=p, margin=margin, reduction="none", **kw)[0]
        assume(_well_conditioned(per_sample) or not per_sample.any())
    loss = dF.multi_margin_loss(scores, target, p, margin, reduction, **kw)
    grad = dF.multi_margin_loss_backward(scores, target, p, margin, reduction, upstream, **kw)
    assert np.shape(loss) == (target_shape if reduction == "none" else ())
    assert grad.shape == scores.shape
    assert rel_error(loss, loss_t) <= RTOL64
    assert rel_error(grad, grad_t) <= RTOL64


@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 4, 3)])
def test_every_target_ignored_gives_torchs_nan_mean_and_zero_gradient(shape, weighted, label_smoothing):
    rng = np.random.default_rng(1)
    scores = rng.standard_normal(shape)
    target = np.full(shape[:1] + shape[2:] if len(shape) > 1 else (), 2)
    kw = {"ignore_index": 2, "label_smoothing": label_smoothing,
          "weight": rng.uniform(0.5, 2.0, 4) if weighted else None}
    loss_t, grad_t = _torch_loss_and_grad(F.cross_entropy, scores, target, 1.0, **kw)
    assert np.isnan(loss_t)  # the behaviour being matched
    assert np.isnan(dF.cross_entropy(scores, target, **kw))
    grad = dF.cross_entropy_backward(scores, target, **kw)
    assert np.array_equal(grad, grad_t)  # torch leaves ignored elements' gradient at exactly 0
    assert dF.cross_entropy(scores, target, "sum", **kw) == 0.0


@pytest.mark.parametrize("probabilities", [False, True])
def test_empty_batch_mean_is_nan_like_torch(probabilities):
    scores = np.zeros((0, 3, 2))
    target = np.zeros((0, 3, 2)) if probabilities else np.zeros((0, 2), np.int64)
    loss_t, grad_t = _torch_loss_and_grad(F.cross_entropy, scores, target, 1.0, label_smoothing=0.1)
    assert np.isnan(loss_t) and np.isnan(dF.cross_entropy(scores, target, label_smoothing=0.1))
    assert dF.cross_entropy_backward(scores, target, label_smoothing=0.1).shape == grad_t.shape


def test_multi_margin_empty_batch():
    # torch returns uninitialised memory here (2.13); we give the empty mean nan and the empty sum 0
    scores, target = np.zeros((0, 3)), np.zeros(0, np.int64)
    assert np.isnan(dF.multi_margin_loss(scores, target, weight=np.ones(3)))
    assert dF.multi_margin_loss(scores, target, reduction="sum") == 0.0
    assert dF.multi_margin_loss(scores, target, reduction="none").shape == (0,)
    assert dF.multi_margin_loss_backward(scores, target, weight=np.ones(3)).shape == (0, 3)


def test_weighted_mean_denominators():
    # Index targets: the mean divides by the summed weights of the kept targets, so a constant weight
    # cancels. Probability targets: it divides by the element count, so a constant weight scales.
    rng = np.random.default_rng(2)
    scores, target = rng.standard_normal((5, 4, 3)), rng.integers(0, 4, (5, 3))
    target[0, 0] = -100
    probs = rng.dirichlet(np.ones(4), (5, 3)).transpose(0, 2, 1)
    for ls in (0.0, 0.4):
        twice = {"weight": np.full(4, 2.0), "label_smoothing": ls}
        assert rel_error(dF.cross_entropy(scores, target, **twice),
                         dF.cross_entropy(scores, target, label_smoothing=ls)) <= 1e-14
        assert rel_error(dF.cross_entropy(scores, probs, **twice),
                         2 * dF.cross_entropy(scores, probs, label_smoothing=ls)) <= 1e-14
    kept = target != -100
    per_element = dF.cross_entropy(scores, target, "none", weight=np.arange(1.0, 5.0))
    assert per_element[0, 0] == 0.0
    assert rel_error(dF.cross_entropy(scores, target, weight=np.arange(1.0, 5.0)),
                     per_element.sum() / (target[kept] + 1.0).sum()) <= 1e-14


@pytest.mark.parametrize("probabilities", [False, True])
def test_float32_matches_torch(probabilities):
    rng = np.random.default_rng(3)
    scores = (rng.standard_normal((3, 5, 2, 2)) * 4).astype(np.float32)
    target = (rng.dirichlet(np.ones(5), (3, 2, 2)).transpose(0, 3, 1, 2).astype(np.float32) if probabilities
              else rng.integers(0, 5, (3, 2, 2)))
    kw = {"weight": rng.uniform(0.2, 2.0, 5).astype(np.float32), "label_smoothing": 0.15}
    if not probabilities:
        kw["ignore_index"] = 1
    for reduction in REDUCTIONS:
        upstream = (rng.standard_normal(target.shape[:1] + target.shape[-2:]).astype(np.float32)
                    if reduction == "none" else np.float32(0.7))
        loss_t, grad_t = _torch_loss_and_grad(F.cross_entropy, scores, target, upstream, reduction=reduction, **kw)
        loss, grad = _ours(dF.cross_entropy, dF.cross_entropy_backward, scores, target, reduction, upstream, **kw)
        assert loss.dtype == np.float32 and grad.dtype == np.float32
        assert rel_error(loss, loss_t) <= RTOL32
        assert rel_error(grad, grad_t) <= RTOL32


def test_weighted_smoothed_kdim_gradient_matches_central_differences():
    rng = np.random.default_rng(4)
    scores, target = rng.standard_normal((2, 4, 3, 2)), rng.integers(0, 4, (2, 3, 2))
    target[1, 2, 0] = 3  # ignore_index below: some targets are dropped
    kw = {"weight": np.array([0.5, 2.0, -0.3, 1.2]), "ignore_index": 3, "label_smoothing": 0.2}
    grad = dF.cross_entropy_backward(scores, target, **kw)
    numeric, h = np.zeros_like(scores), 1e-5
    for i in np.ndindex(scores.shape):
        plus, minus = scores.copy(), scores.copy()
        plus[i] += h
        minus[i] -= h
        numeric[i] = (dF.cross_entropy(plus, target, **kw) - dF.cross_entropy(minus, target, **kw)) / (2 * h)
    assert np.abs(grad).max() > 0.01
    assert rel_error(grad, numeric) <= 1e-8


SCORES, TARGET = np.zeros((2, 4, 3)), np.zeros((2, 3), np.int64)

CE_ERRORS = [
    (dict(scores=np.zeros(()), target=np.array(0)), ValueError,
     r"cross_entropy(_backward)?: expected scores of shape \(C,\), \(N, C\) or \(N, C, d1, \.\.\., dK\), got \(\)"),
    (dict(scores=[[0.0, 1.0]], target=np.array([0])), ValueError, r"expected scores of shape .* got list"),
    (dict(scores=np.zeros((2, 4, 3), np.int64)), TypeError, "expected float scores, got int64"),
    (dict(scores=np.zeros((2, 0, 3)), target=TARGET), ValueError, "at least one class"),
    (dict(target=np.zeros((2, 4), np.int64)), ValueError,
     r"expected target of shape \(2, 3\) \(class indices\) or \(2, 4, 3\) \(class probabilities\) "
     r"for scores of shape \(2, 4, 3\), got \(2, 4\)"),
    (dict(target=np.zeros((2, 3))), TypeError, "expected integer class indices as target, got float64"),
    (dict(target=np.zeros((2, 4, 3), np.int64)), TypeError, "expected float class probabilities"),
    (dict(target=np.full((2, 3), 4)), ValueError, r"target values must lie in \[0, 3\] \(or ignore_index=-100\)"),
    (dict(target=np.full((2, 3), -1)), ValueError, r"must lie in \[0, 3\].*got range \[-1, -1\]"),
    (dict(target=np.full((2, 3), 5), ignore_index=4), ValueError, r"\(or ignore_index=4\), got range \[5, 5\]"),
    (dict(target=np.zeros((2, 4, 3)), ignore_index=0), ValueError, "ignore_index applies to class-index targets"),
    (dict(ignore_index=1.0), TypeError, "expected an int ignore_index, got 1.0"),
    (dict(label_smoothing=-0.1), ValueError, r"label_smoothing must lie in \[0, 1\], got -0.1"),
    (dict(label_smoothing=1.5), ValueError, r"label_smoothing must lie in \[0, 1\], got 1.5"),
    (dict(label_smoothing=float("nan")), ValueError, r"label_smoothing must lie in \[0, 1\]"),
    (dict(weight=np.ones(3)), ValueError, r"expected weight of shape \(4,\), one per class, got \(3,\)"),
    (dict(weight=np.ones((4, 1))), ValueError, r"expected weight of shape \(4,\)"),
    (dict(weight=np.array(["a"] * 4)), TypeError, "expected real \\(float\\) weight"),
    (dict(reduction="avg"), ValueError, "reduction must be one of"),
]


@pytest.mark.parametrize("fn", [dF.cross_entropy, dF.cross_entropy_backward])
@pytest.mark.parametrize("overrides, error, message", CE_ERRORS)
def test_cross_entropy_errors_name_what_was_expected(fn, overrides, error, message):
    args = {"scores": SCORES, "target": TARGET, **overrides}
    with pytest.raises(error, match=message):
        fn(**args)


def test_unbatched_target_must_be_a_scalar():
    with pytest.raises(ValueError, match=r"expected target of shape \(\) \(class indices\) or \(4,\)"):
        dF.cross_entropy(np.zeros(4), np.array([1]))


def test_grad_output_shape_is_checked():
    with pytest.raises(ValueError, match=r"grad_output of the loss's shape \(2, 3\) for reduction='none', got \(2,\)"):
        dF.cross_entropy_backward(SCORES, TARGET, "none", np.ones(2))
    with pytest.raises(ValueError, match=r"scalar grad_output for reduction='mean', got shape \(2, 3\)"):
        dF.cross_entropy_backward(SCORES, TARGET, "mean", np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"grad_output of the loss's shape \(2,\)"):
        dF.multi_margin_loss_backward(np.zeros((2, 4)), np.zeros(2, np.int64), reduction="none",
                                      grad_output=np.ones(3))


@pytest.mark.parametrize("fn", [dF.multi_margin_loss, dF.multi_margin_loss_backward])
def test_multi_margin_errors_name_what_was_expected(fn):
    with pytest.raises(ValueError, match=r"expected scores of shape \(C,\) or \(N, C\), got \(2, 4, 3\)"):
        fn(SCORES, TARGET)
    with pytest.raises(ValueError, match=r"expected target of shape \(\) to match scores \(4,\), got \(1,\)"):
        fn(np.zeros(4), np.array([1]))
    with pytest.raises(ValueError, match=r"expected weight of shape \(4,\), one per class, got \(5,\)"):
        fn(np.zeros((2, 4)), np.array([0, 1]), weight=np.ones(5))
    with pytest.raises(TypeError, match="float scores"):
        fn(np.zeros(4, np.int32), np.array(1))


def test_options_are_keyword_only():
    # the positional order (scores, target, reduction[, grad_output]) stays as before the options came
    with pytest.raises(TypeError):
        dF.cross_entropy(SCORES, TARGET, "mean", np.ones(4))
    with pytest.raises(TypeError):
        dF.multi_margin_loss(np.zeros((2, 4)), np.array([0, 1]), 1, 1.0, "mean", np.ones(4))
