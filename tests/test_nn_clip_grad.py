"""dlbook.nn.utils.clip_grad_norm_ against torch.nn.utils.clip_grad_norm_ on the same gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.nn.utils import clip_grad_norm_

SHAPES = [(3, 4), (5,), (2, 2, 3)]


def _pair(scale=1.0, dtype=np.float64, seed=0, without_grad=()):
    """The same parameters and gradients in dlbook and in torch."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        p = nn.Parameter(rng.standard_normal(shape).astype(dtype))
        t = torch.nn.Parameter(torch.from_numpy(np.array(p)))
        if i not in without_grad:
            p.grad = (scale * rng.standard_normal(shape)).astype(dtype)
            t.grad = torch.from_numpy(p.grad.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def _assert_same(ours, theirs, rtol):
    for p, t in zip(ours, theirs):
        if t.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped, and left alone
def test_matches_torch(norm_type, max_norm):
    ours, theirs = _pair()
    before = [p.grad.copy() for p in ours]
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=float(norm_type))
    assert isinstance(total, float)
    assert math.isclose(total, total_t.item(), rel_tol=1e-14, abs_tol=0)
    _assert_same(ours, theirs, 1e-14)
    clipped = total > max_norm
    assert clipped == (max_norm == 0.5)  # both branches are exercised
    if not clipped:
        for p, g in zip(ours, before):
            np.testing.assert_array_equal(p.grad, g)


def test_the_total_is_the_norm_of_all_gradients_as_one_vector():
    ours, _ = _pair(seed=4)
    everything = np.concatenate([p.grad.ravel() for p in ours])
    total = clip_grad_norm_(ours, 0.1)
    assert math.isclose(total, np.sqrt(np.sum(everything ** 2)), rel_tol=1e-14)
    after = np.concatenate([p.grad.ravel() for p in ours])
    assert math.isclose(np.linalg.norm(after), 0.1 * total / (total + 1e-6), rel_tol=1e-12)
    np.testing.assert_allclose(after / np.linalg.norm(after), everything / total, rtol=1e-12, atol=0)


def test_parameters_without_gradient_are_skipped():
    ours, theirs = _pair(without_grad=(1,))
    total = clip_grad_norm_(iter(ours), 0.3)  # any iterable, e.g. model.parameters()
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 0.3)
    assert math.isclose(total, total_t.item(), rel_tol=1e-14)
    assert ours[1].grad is None
    _assert_same(ours, theirs, 1e-14)
    assert clip_grad_norm_([ours[1]], 1.0) == 0.0 == torch.nn.utils.clip_grad_norm_([theirs[1]], 1.0).item()


def test_a_single_parameter_and_a_model():
    ours, theirs = _pair(seed=2)
    total = clip_grad_norm_(ours[0], 0.2)
    total_t = torch.nn.utils.clip_grad_norm_(theirs[0], 0.2)
    assert math.isclose(total, total_t.item(), rel_tol=1e-14)
    _assert_same(ours[:1], theirs[:1], 1e-14)
    model = nn.LSTM(3, 4, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _ = model(x)
    model.backward(out)
    twin = nn.to_torch(model)
    for (name, p), (_, t) in zip(model.named_parameters(), twin.named_parameters()):
        t.grad = torch.from_numpy(p.grad.copy())
    total = clip_grad_norm_(model.parameters(), 0.05)
    assert math.isclose(total, torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.05).item(), rel_tol=1e-14)
    _assert_same(list(model.parameters()), list(twin.parameters()), 1e-14)


def test_float32_gradients_match_torch():
    ours, theirs = _pair(dtype=np.float32, seed=3)
    total = clip_grad_norm_(ours, 1.0)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isclose(total, total_t.item(), rel_tol=1e-6)
    assert all(p.grad.dtype == np.float32 for p in ours)
    _assert_same(ours, theirs, 1e-6)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
@pytest.mark.parametrize("where", [0, 2])  # the first or the last gradient
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_total(bad, where, norm_type):
    ours, theirs = _pair(seed=5)
    ours[where].grad.flat[1] = bad
    theirs[where].grad.view(-1)[1] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type, error_if_nonfinite=True)
    # without the check: what torch does (an infinite norm zeroes the finite entries, NaN spreads)
    total = clip_grad_norm_(ours, 1.0, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type)
    assert math.isnan(total) if math.isnan(bad) else total == math.inf
    assert (math.isnan(total_t.item()) if math.isnan(bad) else total_t.item() == math.inf)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())  # NaN where torch has NaN


def test_torch_tensors_are_refused():
    with pytest.raises(TypeError, match="torch.nn.utils.clip_grad_norm_"):
        clip_grad_norm_([torch.zeros(3, requires_grad=True)], 1.0)
