"""AdaptiveAvgPool2d: against torch (float64, rel <= 1e-10), finite differences, torch's bin
edges by hand, and the Module contract."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from dlbook import nn
from dlbook.check import against_torch, gradcheck, rel_error
from dlbook.nn import functional as F


def _input(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


CASES = {
    "divisible": (3, (2, 3, 6, 9)),
    "uneven-overlapping": (3, (2, 3, 5, 7)),
    "global": (1, (2, 4, 5, 6)),
    "pair": ((4, 3), (1, 2, 7, 5)),
    "keep-width": ((3, None), (1, 3, 5, 6)),
    "upsampling": ((8, 9), (1, 2, 5, 6)),
    "identity": (7, (1, 2, 7, 7)),
    "13-to-6": (6, (1, 2, 13, 13)),
    "unbatched": (2, (3, 5, 4)),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(name, dtype):
    size, shape = CASES[name]
    against_torch(nn.AdaptiveAvgPool2d(size), _input(shape, 1, dtype), device="cpu")


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    size, shape = CASES[name]
    assert set(gradcheck(nn.AdaptiveAvgPool2d(size), _input(shape, 2))) == {"dx"}


@settings(max_examples=50, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), oh=st.integers(1, 8),
       ow=st.one_of(st.none(), st.integers(1, 8)), seed=st.integers(0, 2**16))
def test_matches_torch_for_any_sizes(h, w, oh, ow, seed):
    against_torch(nn.AdaptiveAvgPool2d((oh, ow)), _input((2, 2, h, w), seed), device="cpu")


def test_bins_are_torchs_floor_and_ceil():
    # 5 -> 3: [0, 2), [1, 4), [3, 5): neighbouring bins share a row when 3 does not divide 5
    assert F.adaptive_pool_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]
    assert F.adaptive_pool_bins(6, 3) == [(0, 2), (2, 4), (4, 6)]   # plain 2-windows
    assert F.adaptive_pool_bins(7, 1) == [(0, 7)]                   # global
    assert F.adaptive_pool_bins(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]
    for n_in, n_out in ((13, 6), (224, 7), (10, 4)):
        for i, (start, end) in enumerate(F.adaptive_pool_bins(n_in, n_out)):
            assert start == int(np.floor(i * n_in / n_out))
            assert end == int(np.ceil((i + 1) * n_in / n_out))


def test_by_hand_means_over_the_bins():
    x = np.arange(15, dtype=np.float64).reshape(1, 1, 3, 5)
    y = nn.AdaptiveAvgPool2d((1, 3))(x)[0, 0, 0]
    # one row bin (all 3 rows), column bins [0, 2), [1, 4), [3, 5)
    expected = [x[0, 0, :, 0:2].mean(), x[0, 0, :, 1:4].mean(), x[0, 0, :, 3:5].mean()]
    np.testing.assert_allclose(y, expected, rtol=1e-15, atol=0)


def test_global_average_pooling_is_the_mean_per_channel():
    x = _input((3, 4, 5, 6), 3)
    y = nn.AdaptiveAvgPool2d(1)(x)
    assert y.shape == (3, 4, 1, 1)
    assert rel_error(y[:, :, 0, 0], x.mean(axis=(2, 3))) < 1e-14


def test_divisible_sizes_equal_a_plain_average_pooling():
    x = _input((2, 3, 12, 8), 4)
    assert rel_error(nn.AdaptiveAvgPool2d((4, 2))(x), nn.AvgPool2d((3, 4))(x)) < 1e-14


def test_several_calls_before_backward_are_consumed_last_in_first_out():
    layer = nn.AdaptiveAvgPool2d(2)
    x1, x2 = _input((1, 2, 5, 5), 5), _input((1, 2, 3, 4), 6)
    layer(x1)
    layer(x2)
    dx2 = layer.backward(np.ones((1, 2, 2, 2)))
    dx1 = layer.backward(np.ones((1, 2, 2, 2)))
    assert dx2.shape == x2.shape and dx1.shape == x1.shape
    for x, dx in ((x1, dx1), (x2, dx2)):
        xt = torch.tensor(x, requires_grad=True)
        torch.nn.functional.adaptive_avg_pool2d(xt, 2).sum().backward()
        assert rel_error(dx, xt.grad.numpy()) < 1e-14
    with pytest.raises(RuntimeError, match="nothing saved"):
        layer.backward(np.ones((1, 2, 2, 2)))


def test_no_grad_saves_nothing():
    layer = nn.AdaptiveAvgPool2d(1)
    with nn.no_grad():
        layer(_input((1, 2, 3, 3)))
    assert layer.saved_count == 0


@pytest.mark.parametrize("size", [3, (3, None), (2, 4)])
def test_round_trip_through_torch_keeps_the_configuration(size):
    layer = nn.AdaptiveAvgPool2d(size)
    twin = nn.to_torch(layer)
    assert isinstance(twin, torch.nn.AdaptiveAvgPool2d) and twin.output_size == size
    assert repr(nn.from_torch(twin)) == repr(layer) == f"AdaptiveAvgPool2d(output_size={size!r})"


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.AdaptiveAvgPool2d(0), ValueError, "output_size must be an int >= 1"),
    (lambda: nn.AdaptiveAvgPool2d((2, 3, 4)), ValueError, "output_size"),
    (lambda: nn.AdaptiveAvgPool2d("7"), ValueError, "output_size"),
    (lambda: nn.AdaptiveAvgPool2d(2)(np.zeros((4, 4))), ValueError, r"\(N, C, H, W\) or \(C, H, W\)"),
    (lambda: nn.AdaptiveAvgPool2d(2)(np.zeros((1, 1, 4, 4), np.int64)), TypeError, "float32 or float64"),
    (lambda: F.adaptive_avg_pool2d(np.zeros((1, 1, 0, 4)), 2), ValueError, "H, W >= 1"),
    (lambda: F.adaptive_pool_bins(0, 2), ValueError, "in_size must be an int >= 1"),
])
def test_bad_input_is_refused_with_a_clear_message(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_backward_refuses_a_dy_of_the_wrong_shape():
    layer = nn.AdaptiveAvgPool2d(2)
    layer(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"dy of shape \(1, 3, 2, 2\)"):
        layer.backward(np.zeros((1, 3, 5, 5)))


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_on_cuda(name):
    size, shape = CASES[name]
    report = against_torch(nn.AdaptiveAvgPool2d(size), _input(shape, 1), device="cuda")
    assert report.device.startswith("cuda")
