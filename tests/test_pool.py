"""MaxPool2d and AvgPool2d: against torch (float64, rel <= 1e-10), finite differences, and by hand."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dlbook.nn as nn
import dlbook.nn.functional as F
from dlbook.check import against_torch, gradcheck


@st.composite
def pool_configs(draw, kind, max_extra=4):
    """A pooling layer of ``kind`` ("max" or "avg") with random geometry, and an input shape that fits."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if kind == "max" else (1, 1)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)  # torch: at most half the kernel
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    hw = [max(1, span - 2 * p) + draw(st.integers(0, max_extra)) for span, p in zip(spans, padding)]
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *hw)
    if kind == "max":
        layer = nn.MaxPool2d(kernel, stride, padding, dilation)
    else:
        layer = nn.AvgPool2d(kernel, stride, padding, count_include_pad=draw(st.booleans()),
                             divisor_override=draw(st.one_of(st.none(), st.integers(1, 5))))
    return layer, shape


def _input(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _has_empty_window(layer, shape) -> bool:
    """A dilated max window that only sees padding (torch returns -inf there; no gradient to compare)."""
    y = layer(_input(shape, 0))
    return not np.all(np.isfinite(y))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["max", "avg"]).flatmap(pool_configs), st.integers(0, 2**16))
def test_pooling_matches_torch_float64(config, seed):
    layer, shape = config
    if _has_empty_window(layer, shape):
        return
    against_torch(layer, _input(shape, seed), device="cpu")  # raises beyond 1e-10, float64's default


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(["max", "avg"]).flatmap(pool_configs), st.integers(0, 2**16))
def test_pooling_matches_torch_float32(config, seed):
    layer, shape = config
    if _has_empty_window(layer, shape):
        return
    against_torch(layer, _input(shape, seed, np.float32), device="cpu")


@pytest.mark.gpu
@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["max", "avg"]).flatmap(pool_configs), st.integers(0, 2**16))
def test_pooling_matches_torch_on_cuda(config, seed):
    layer, shape = config
    if _has_empty_window(layer, shape):
        return
    against_torch(layer, _input(shape, seed), device="cuda")  # raises beyond 1e-10, float64's default


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["max", "avg"]).flatmap(lambda kind: pool_configs(kind, max_extra=2)),
       st.integers(0, 2**16))
def test_pooling_gradients_match_finite_differences(config, seed):
    layer, shape = config
    if _has_empty_window(layer, shape):
        return
    gradcheck(layer, _input((1,) + shape[1:], seed))


def test_max_pool_by_hand():
    x = np.array([[1, 5, 2, 0],
                  [3, 4, 8, 1],
                  [0, 2, 6, 7],
                  [9, 1, 3, 2]], dtype=np.float64)[None, None]
    pool = nn.MaxPool2d(2)
    np.testing.assert_array_equal(pool(x)[0, 0], [[5, 8], [9, 7]])
    dx = pool.backward(np.array([[[[10., 20.], [30., 40.]]]]))
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[3, 0], expected[2, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], expected)  # each window's gradient goes to its maximum only


def test_avg_pool_by_hand_with_padding():
    x = np.arange(1, 10, dtype=np.float64).reshape(1, 1, 3, 3)
    with_pad = nn.AvgPool2d(2, stride=2, padding=1)(x)[0, 0]
    without = nn.AvgPool2d(2, stride=2, padding=1, count_include_pad=False)(x)[0, 0]
    np.testing.assert_allclose(with_pad, [[1 / 4, (2 + 3) / 4], [(4 + 7) / 4, (5 + 6 + 8 + 9) / 4]])
    np.testing.assert_allclose(without, [[1, 2.5], [5.5, 7]])


def test_max_pool_has_no_parameters_and_keeps_channels():
    pool = nn.MaxPool2d(3, stride=2, padding=1)
    assert pool.parameter_count() == 0
    assert pool(np.zeros((2, 5, 9, 7), np.float32)).shape == (2, 5, 5, 4)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.MaxPool2d(2, padding=2), "half the kernel"),
    (lambda: nn.AvgPool2d(3, padding=2), "half the kernel"),
    (lambda: nn.MaxPool2d(0), "kernel_size"),
    (lambda: nn.AvgPool2d(2, divisor_override=0).forward(np.zeros((1, 1, 4, 4))), "divisor_override"),
])
def test_bad_pool_configuration_is_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_pool_refuses_wrong_rank_and_dy():
    pool = nn.MaxPool2d(2)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\)"):
        pool(np.zeros((4, 4)))
    pool(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"dy of shape \(1, 2, 2, 2\)"):
        pool.backward(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        F.avg_pool2d(np.zeros((2, 4, 4)), 2)


def test_from_torch_copies_the_geometry():
    import torch

    x = _input((2, 3, 9, 8), 5)
    for twin in (torch.nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
                 torch.nn.MaxPool2d(2, ceil_mode=True),
                 torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, divisor_override=None),
                 torch.nn.AvgPool2d(2, divisor_override=3), torch.nn.AvgPool2d(2, ceil_mode=True)):
        layer = nn.from_torch(twin)
        assert repr(layer) == repr(nn.from_torch(nn.to_torch(layer)))
        np.testing.assert_allclose(layer(x), twin(torch.tensor(x)).numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("layer", [nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(2, stride=1)], ids=repr)
def test_unbatched_input_matches_torch(layer):
    x = _input((3, 7, 6), 6)
    against_torch(layer, x, device="cpu")  # raises beyond 1e-10, float64's default
    assert layer(x).shape == layer(x[None]).shape[1:]
