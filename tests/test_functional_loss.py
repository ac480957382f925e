"""The functional losses against torch.nn.functional, and their input checks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings, strategies as st

from dlbook.check import rel_error
from dlbook.nn import functional as dF

cases = st.tuples(st.integers(1, 12), st.integers(2, 9), st.integers(0, 2**31 - 1),
                  st.sampled_from(["mean", "sum", "none"]), st.floats(0.1, 30.0))


def _torch_loss_and_grad(torch_fn, scores, target, upstream, **kw):
    s = torch.tensor(scores, requires_grad=True)
    loss = torch_fn(s, torch.tensor(target), **kw)
    loss.backward(torch.tensor(upstream) if loss.ndim else None)
    return loss.detach().numpy(), s.grad.numpy()


@settings(max_examples=40, deadline=None)
@given(cases)
@example((2, 2, 599120, "mean", 18.5))  # confident rows: a gradient ~1e-10 next to rounding noise of p - 1
def test_cross_entropy_matches_torch(case):
    n, c, seed, reduction, scale = case
    rng = np.random.default_rng(seed)
    scores, target = rng.standard_normal((n, c)) * scale, rng.integers(0, c, n)
    upstream = rng.standard_normal(n) if reduction == "none" else 1.0
    loss_t, grad_t = _torch_loss_and_grad(F.cross_entropy, scores, target, upstream, reduction=reduction)
    assert rel_error(dF.cross_entropy(scores, target, reduction), loss_t) < 1e-12
    grad = dF.cross_entropy_backward(scores, target, reduction, grad_output=upstream)
    # entries are (softmax - onehot) * upstream / N: p - 1 rounds to ~eps absolutely, so confident rows
    # (p ~ 1 - 1e-10) carry noise far above 1e-12 of a tiny gradient; every entry is compared
    # relatively down to that noise floor
    unit = np.max(np.abs(upstream)) / (n if reduction == "mean" else 1)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-10, atol=1e-15 * unit)


@settings(max_examples=40, deadline=None)
@given(cases, st.sampled_from([1, 2]), st.floats(0.0, 3.0))
def test_multi_margin_matches_torch(case, p, margin):
    n, c, seed, reduction, scale = case
    rng = np.random.default_rng(seed)
    scores, target = rng.standard_normal((n, c)) * scale, rng.integers(0, c, n)
    upstream = rng.standard_normal(n) if reduction == "none" else 1.0
    loss_t, grad_t = _torch_loss_and_grad(F.multi_margin_loss, scores, target, upstream,
                                          p=p, margin=margin, reduction=reduction)
    ours = dF.multi_margin_loss(scores, target, p=p, margin=margin, reduction=reduction)
    grad = dF.multi_margin_loss_backward(scores, target, p=p, margin=margin, reduction=reduction,
                                         grad_output=upstream)
    assert rel_error(ours, loss_t) < 1e-12
    assert rel_error(grad, grad_t) < 1e-12


def test_softmax_is_stable_and_normalised():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    p = dF.softmax(x)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15, atol=0)
    assert rel_error(p, torch.softmax(torch.tensor(x), dim=1).numpy()) < 1e-15
    assert rel_error(dF.log_softmax(x), torch.log_softmax(torch.tensor(x), dim=1).numpy()) < 1e-15


def test_softmax_along_axis_0():
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert rel_error(dF.softmax(x, axis=0), torch.softmax(torch.tensor(x), dim=0).numpy()) < 1e-15


def test_hinge_loss_worked_example():
    # cs231n's example: scores (3.2, 5.1, -1.7), class 0 correct: hinge sum 2.9, torch divides by C = 3
    assert dF.multi_margin_loss(np.array([[3.2, 5.1, -1.7]]), np.array([0])) == pytest.approx(2.9 / 3, rel=1e-14)


@pytest.mark.parametrize("fn", [dF.cross_entropy, dF.cross_entropy_backward, dF.multi_margin_loss,
                                dF.multi_margin_loss_backward])
def test_bad_inputs_are_named(fn):
    scores = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"expected scores of shape \(C,\).*\(N, C\)"):
        fn(np.zeros(()), np.array(0))
    with pytest.raises(ValueError, match=r"target of shape \(\)"):  # unbatched (C,) scores take a () target
        fn(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match=r"target of shape \(3,\)"):
        fn(scores, np.array([0, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        fn(scores, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target values must lie in \[0, 3\]"):
        fn(scores, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match="float scores"):
        fn(np.zeros((3, 4), dtype=np.int64), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        fn(scores, np.array([0, 1, 2]), reduction="avg")


def test_multi_margin_rejects_unsupported_p():
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        dF.multi_margin_loss(np.zeros((2, 3)), np.array([0, 1]), p=3)
