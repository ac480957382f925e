"""Pooling options of torch.nn.functional: return_indices and ceil_mode (max), ceil_mode with
count_include_pad and divisor_override (avg); forward, indices and gradients against torch (float64)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import example, given, settings, strategies as st

import dlbook.nn.functional as F
from dlbook.check import rel_error
from dlbook.cnn_shapes import conv_output_size


@st.composite
def pool_geometries(draw, kind):
    """(shape, kernel, stride, padding, dilation, ceil_mode); the input may be too small for torch."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if kind == "max" else (1, 1)
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)  # torch: at most half the kernel
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    hw = [max(1, span - 2 * p - 1) + draw(st.integers(0, 4)) for span, p in zip(spans, padding)]
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *hw)
    return shape, kernel, stride, padding, dilation, draw(st.booleans())


def _input(shape, kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal(shape)
    if kind == "ties":  # a small range of integers: most windows hold their maximum more than once
        return rng.integers(0, 3, shape).astype(np.float64)
    # ties plus infinities and NaN (torch: NaN wins, and the last NaN of a window is its index)
    return rng.choice([0.0, 1.0, 2.0, -np.inf, np.inf, np.nan], size=shape,
                      p=[0.25, 0.15, 0.1, 0.35, 0.05, 0.1])


def _torch_max(x, kernel, stride, padding, dilation, ceil_mode):
    xt = torch.tensor(x, requires_grad=True)
    y, idx = TF.max_pool2d(xt, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    return xt, y, idx


def _empty_windows(x, geometry):
    """Windows with no tap inside the input: torch's output there is -inf even for a finite input."""
    with torch.no_grad():
        return torch.isinf(_torch_max(np.zeros_like(x), *geometry)[1]).numpy()


EMPTY_ROWS = ((1, 2, 2, 3), (2, 1), 1, (1, 0), (3, 1), False)        # rows -1 and 2 of 2: outside
EMPTY_COLS = ((2, 1, 3, 2), (2, 2), (1, 1), (1, 1), (1, 3), True)     # columns -1 and 2 of 2: outside


@settings(max_examples=40, deadline=None)
@given(pool_geometries("max"), st.sampled_from(["normal", "ties", "specials"]), st.integers(0, 2**16))
@example(EMPTY_ROWS, "normal", 0)
@example(EMPTY_COLS, "ties", 1)
def test_max_pool_values_indices_and_gradient_match_torch(config, kind, seed):
    shape, *geometry = config
    x = _input(shape, kind, seed)
    try:
        xt, ty, ti = _torch_max(x, *geometry)
    except RuntimeError as e:  # torch: "Output size is too small"
        assert "too small" in str(e)
        with pytest.raises(ValueError, match="does not fit"):
            F.max_pool2d_forward(x, *geometry)
        return
    y, cache = F.max_pool2d_forward(x, *geometry)
    np.testing.assert_array_equal(y, ty.detach().numpy())  # a maximum is exact; NaN where torch has NaN
    assert cache.indices.dtype == np.int64 and cache.indices.shape == y.shape
    np.testing.assert_array_equal(cache.indices, ti.numpy())
    y2, indices2 = F.max_pool2d(x, *geometry, return_indices=True)
    np.testing.assert_array_equal(indices2, ti.numpy())
    np.testing.assert_array_equal(F.max_pool2d_with_indices(x, *geometry)[1], ti.numpy())

    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    dx = F.max_pool2d_backward(dy, cache)
    empty = _empty_windows(x, geometry)
    if not empty.any():
        ty.backward(torch.tensor(dy))
        expected = xt.grad.numpy()
    else:
        # torch's backward adds each window's gradient at its index, and would follow an empty
        # window's index outside the window (or the plane): build that rule here, without them.
        n, c, h, w = shape
        expected = np.zeros((n, c, h * w))
        nn_, cc, _, _ = np.nonzero(~empty)
        np.add.at(expected, (nn_, cc, ti.numpy()[~empty]), dy[~empty])
        expected = expected.reshape(shape)
        assert not F.max_pool2d_backward(np.where(empty, dy, 0.0), cache).any()  # empty windows pass nothing
    assert rel_error(dx, expected) <= 1e-10


@settings(max_examples=40, deadline=None)
@given(pool_geometries("avg"), st.booleans(), st.one_of(st.none(), st.integers(1, 5)), st.integers(0, 2**16))
def test_avg_pool_values_and_gradient_match_torch(config, count_include_pad, divisor_override, seed):
    shape, kernel, stride, padding, _, ceil_mode = config
    x = _input(shape, "normal", seed)
    xt = torch.tensor(x, requires_grad=True)
    options = dict(count_include_pad=count_include_pad, divisor_override=divisor_override)
    try:
        ty = TF.avg_pool2d(xt, kernel, stride, padding, ceil_mode=ceil_mode, **options)
    except RuntimeError as e:
        assert "too small" in str(e)
        with pytest.raises(ValueError, match="does not fit"):
            F.avg_pool2d_forward(x, kernel, stride, padding, ceil_mode=ceil_mode, **options)
        return
    y, cache = F.avg_pool2d_forward(x, kernel, stride, padding, ceil_mode=ceil_mode, **options)
    assert y.shape == tuple(ty.shape)
    assert rel_error(y, ty.detach().numpy()) <= 1e-10
    np.testing.assert_array_equal(F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode, **options), y)
    dy = np.random.default_rng(seed + 1).standard_normal(y.shape)
    ty.backward(torch.tensor(dy))
    assert rel_error(F.avg_pool2d_backward(dy, cache), xt.grad.numpy()) <= 1e-10


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 20), k=st.integers(1, 6), s=st.integers(1, 4), d=st.integers(1, 3),
       data=st.data())
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_output_size_matches_torch_pooling(ceil_mode, size, k, s, d, data):
    p = data.draw(st.integers(0, k // 2))
    x = torch.zeros(1, 1, size, 1)
    try:
        expected = TF.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), ceil_mode=ceil_mode).shape[2]
    except RuntimeError:
        with pytest.raises(ValueError, match="does not fit"):
            conv_output_size(size, k, s, p, d, ceil_mode=ceil_mode)
        return
    assert conv_output_size(size, k, s, p, d, ceil_mode=ceil_mode) == expected


def test_ceil_mode_by_hand():
    # Without the drop rule, ceil((3 + 2 - 2) / 2) + 1 = 3 windows; the third would start at
    # 2 * 2 - 1 = 3, past the input (rows 0..2), so torch keeps 2.
    assert conv_output_size(3, 2, 2, 1, ceil_mode=True) == 2
    assert conv_output_size(5, 2, 2, 0, ceil_mode=True) == 3 > conv_output_size(5, 2, 2, 0) == 2
    assert conv_output_size(2, 3, 2, 0, ceil_mode=True) == 1   # fits only by rounding up
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(2, 3, 2, 0)

    x = np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)  # value == flat index
    y, cache = F.max_pool2d_forward(x, 2, ceil_mode=True)
    expected = [[6, 8, 9], [16, 18, 19], [21, 23, 24]]  # the last row and column are 1 wide
    np.testing.assert_array_equal(y[0, 0], expected)
    np.testing.assert_array_equal(cache.indices[0, 0], expected)
    dx = F.max_pool2d_backward(np.ones((1, 1, 3, 3)), cache)
    np.testing.assert_array_equal(np.flatnonzero(dx), np.ravel(expected))

    y, _ = F.max_pool2d_forward(-x - 1, 2, ceil_mode=True)  # all negative: the -inf fill never wins
    np.testing.assert_array_equal(y[0, 0, 2], [-21, -23, -25])

    ones = np.ones((1, 1, 5, 5))
    np.testing.assert_array_equal(F.avg_pool2d(ones, 2, ceil_mode=True)[0, 0], np.ones((3, 3)))
    partial = F.avg_pool2d(ones, 2, ceil_mode=True, divisor_override=4)[0, 0]
    np.testing.assert_array_equal(partial, [[1, 1, .5], [1, 1, .5], [.5, .5, .25]])


def test_indices_pick_torchs_tap_in_awkward_windows():
    nan, inf = np.nan, np.inf
    row = np.array([[[[nan, 1.0, nan, 2.0]]]])
    y, idx = F.max_pool2d_with_indices(row, (1, 4))
    assert np.isnan(y).all() and idx.item() == 2  # torch keeps the last NaN
    y, idx = F.max_pool2d_with_indices(np.full((1, 1, 1, 4), -inf), (1, 3), (1, 2), (0, 1), ceil_mode=True)
    np.testing.assert_array_equal(idx[0, 0, 0], [0, 1, 3])  # all -inf: the first tap inside the input
    y, idx = F.max_pool2d_with_indices(np.full((1, 1, 2, 2), 7.0), 2)
    assert idx.item() == 0  # ties: the first tap


def test_float32_keeps_dtype_and_indices():
    x = np.random.default_rng(3).integers(0, 3, (2, 3, 7, 6)).astype(np.float32)
    y, idx = F.max_pool2d_with_indices(x, 3, 2, 1, ceil_mode=True)
    ty, tidx = TF.max_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=True, return_indices=True)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(idx, tidx.numpy())
    ya = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False, ceil_mode=True)
    assert ya.dtype == np.float32
    assert rel_error(ya, TF.avg_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=True, count_include_pad=False).numpy()) <= 1e-6


@pytest.mark.parametrize("config", [EMPTY_ROWS, EMPTY_COLS])
def test_empty_dilated_windows_give_minus_inf_and_no_gradient(config):
    shape, *geometry = config
    x = _input(shape, "normal", 4)
    y, cache = F.max_pool2d_forward(x, *geometry)
    empty = _empty_windows(x, geometry)
    assert empty.any() and np.all(y[empty] == -np.inf) and np.isfinite(y[~empty]).all()  # x is finite
    with torch.no_grad():
        np.testing.assert_array_equal(cache.indices, _torch_max(x, *geometry)[2].numpy())
    assert not F.max_pool2d_backward(np.where(empty, 1.0, 0.0), cache).any()
