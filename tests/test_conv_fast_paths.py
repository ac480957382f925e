"""The convolution's fast paths (issue 11): a 1×1 convolution as one matrix product per
image with no im2col, and the batch cut into blocks of images. Each path is checked
against torch in float64 (output, dx, dweight, dbias) and against the path it replaces,
and the tests check which path was taken, so a slip in a fast path fails here. (The
stride-1 path on shifted slices has its own file, test_conv_shifted.py; the block tests
here turn it off so that their stride-1 cases go through im2col.)"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import dlbook.nn as nn
import dlbook.nn.functional.conv as conv
from dlbook.check import against_torch, rel_error
from dlbook.nn.im2col import WindowGeometry, im2col, pad_channels_first

NAMES = ("output", "dx", "dweight", "dbias")


def _arrays(n, c, f, hw, k, groups, bias, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c) + hw).astype(dtype)
    w = rng.standard_normal((f, c // groups, k, k)).astype(dtype)
    b = rng.standard_normal(f).astype(dtype) if bias else None
    return x, w, b


def ours(x, w, b, dy_seed=99, **options):
    """(y, dx, dweight, dbias) from conv2d_forward/backward, dy drawn to fit y."""
    y, cache = conv.conv2d_forward(x, w, b, **options)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(x.dtype)
    return (y,) + conv.conv2d_backward(dy, cache)


def theirs(x, w, b, dy_seed=99, **options):
    """The same from torch.nn.functional.conv2d and autograd."""
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, wt, bt, **options)
    dy = np.random.default_rng(dy_seed).standard_normal(tuple(y.shape)).astype(x.dtype)
    y.backward(torch.tensor(dy))
    return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(),
            None if b is None else bt.grad.numpy())


def assert_close(a, b, rtol):
    for name, u, v in zip(NAMES, a, b):
        assert (u is None) == (v is None), name
        if u is not None:
            assert u.shape == v.shape, name
            assert u.dtype == v.dtype, name
            assert rel_error(u, v) < rtol, f"{name}: {rel_error(u, v):.1e}"


# -- 1×1: one product per image -------------------------------------------------------
POINTWISE = [  # (n, c, f, (h, w), groups, bias, dilation)
    (3, 4, 6, (5, 7), 1, True, 1),
    (2, 6, 4, (4, 3), 2, False, 1),
    (1, 6, 9, (3, 3), 3, True, 2),      # dilation changes nothing for a 1×1 kernel
    (4, 1, 1, (1, 6), 1, True, 1),
]


@pytest.mark.parametrize("n, c, f, hw, groups, bias, dilation", POINTWISE)
def test_pointwise_path_matches_torch_and_the_im2col_path(n, c, f, hw, groups, bias,
                                                          dilation, im2col_calls,
                                                          monkeypatch):
    x, w, b = _arrays(n, c, f, hw, 1, groups, bias, seed=n + c + f)
    options = dict(groups=groups, dilation=dilation)
    fast = ours(x, w, b, **options)
    assert im2col_calls == []               # the fast path was taken: no im2col at all
    assert_close(fast, theirs(x, w, b, **options), rtol=1e-12)

    monkeypatch.setattr(conv, "is_pointwise", lambda geometry: False)
    monkeypatch.setattr(conv, "is_shifted", lambda geometry: False)
    general = ours(x, w, b, **options)
    assert im2col_calls                     # now through im2col
    assert_close(fast, general, rtol=1e-12)


@pytest.mark.parametrize("padding", ["same", "valid", 0])
def test_string_padding_of_a_1x1_kernel_is_no_padding(padding, im2col_calls):
    x, w, b = _arrays(2, 3, 5, (4, 6), 1, 1, True, seed=2)
    result = ours(x, w, b, padding=padding)
    assert im2col_calls == []
    assert_close(result, theirs(x, w, b, padding=padding), rtol=1e-12)


def test_pointwise_path_in_float32():
    x, w, b = _arrays(3, 8, 16, (6, 5), 1, 2, True, seed=1, dtype=np.float32)
    assert_close(ours(x, w, b, groups=2), theirs(x, w, b, groups=2), rtol=1e-5)


@pytest.mark.parametrize("options", [
    dict(stride=2), dict(stride=(1, 2)), dict(padding=1), dict(padding=(0, 1)),
])
def test_1x1_with_stride_or_padding_is_not_pointwise(options, im2col_calls):
    x, w, b = _arrays(2, 4, 6, (5, 6), 1, 2, True, seed=3)
    result = ours(x, w, b, groups=2, **options)
    # strided: im2col's windows; padded with stride 1: the shifted path, no im2col
    assert bool(im2col_calls) == ("stride" in options)
    assert_close(result, theirs(x, w, b, groups=2, **options), rtol=1e-12)


def test_is_pointwise_only_for_1x1_stride_1_unpadded():
    def geometry(kernel=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0)),
                 dilation=(1, 1)):
        return WindowGeometry(kernel, stride, padding, dilation)

    assert conv.is_pointwise(geometry())
    assert conv.is_pointwise(geometry(dilation=(2, 3)))
    assert not conv.is_pointwise(geometry(kernel=(1, 2)))
    assert not conv.is_pointwise(geometry(kernel=(3, 1)))
    assert not conv.is_pointwise(geometry(stride=(1, 2)))
    assert not conv.is_pointwise(geometry(padding=((0, 0), (0, 1))))
    assert not conv.is_pointwise(geometry(padding=((1, 0), (0, 0))))


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (4, 5, 6)])     # batched and unbatched
def test_pointwise_conv2d_layer_matches_torch(shape):
    layer = nn.Conv2d(4, 6, 1, groups=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal(shape)
    report = against_torch(layer, x, device="cpu", rtol=1e-12)
    assert {"output", "dx"} <= set(report.errors)


def test_pointwise_gradients_accumulate():
    layer = nn.Conv2d(3, 2, 1, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    dy = np.random.default_rng(1).standard_normal((2, 2, 4, 4))
    layer(x), layer.backward(dy)
    once = layer.weight.grad.copy()
    layer(x), layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * once, rtol=1e-14, atol=0)


# -- blocks of images ------------------------------------------------------------------
BLOCKED = [  # (n, c, f, (h, w), k, groups, bias, options)
    (5, 3, 4, (7, 6), 3, 1, True, dict(padding=1)),
    (7, 4, 6, (9, 8), 3, 2, False, dict(stride=2, padding=1)),
    (4, 6, 3, (8, 9), 2, 3, True, dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    (3, 2, 2, (6, 6), 1, 1, True, dict(stride=2)),
]


@pytest.mark.parametrize("images_per_block", [1, 2, 3])
@pytest.mark.parametrize("n, c, f, hw, k, groups, bias, options", BLOCKED)
def test_blocks_of_images_give_the_whole_batch_result(n, c, f, hw, k, groups, bias,
                                                      options, images_per_block,
                                                      im2col_calls, monkeypatch):
    monkeypatch.setattr(conv, "is_shifted", lambda geometry: False)
    x, w, b = _arrays(n, c, f, hw, k, groups, bias, seed=n * k)
    options = dict(options, groups=groups)
    whole = ours(x, w, b, **options)
    assert im2col_calls == [n, n]             # one block: forward, then backward
    im2col_calls.clear()

    y = whole[0]
    per_image = c * k * k * y.shape[2] * y.shape[3] * x.itemsize
    budget = images_per_block * per_image + per_image // 2
    monkeypatch.setattr(conv, "BLOCK_BYTES", budget)
    blocked = ours(x, w, b, **options)
    sizes = [min(images_per_block, n - s) for s in range(0, n, images_per_block)]
    assert im2col_calls == sizes + sizes      # the last block may be smaller
    assert_close(blocked, whole, rtol=1e-12)
    assert_close(blocked, theirs(x, w, b, **options), rtol=1e-12)


def test_a_block_budget_smaller_than_one_image_still_takes_whole_images(im2col_calls,
                                                                        monkeypatch):
    monkeypatch.setattr(conv, "BLOCK_BYTES", 1)
    monkeypatch.setattr(conv, "is_shifted", lambda geometry: False)
    x, w, b = _arrays(3, 2, 3, (5, 5), 3, 1, True, seed=0, dtype=np.float32)
    result = ours(x, w, b, padding=1)
    assert im2col_calls == [1, 1, 1] * 2
    assert_close(result, theirs(x, w, b, padding=1), rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), groups=st.integers(1, 2), k=st.integers(1, 3),
       stride=st.integers(1, 2), padding=st.integers(0, 1), dilation=st.integers(1, 2),
       budget=st.integers(1, 3000), bias=st.booleans(), seed=st.integers(0, 2**16),
       shifted=st.booleans())
def test_random_blocked_convolutions_match_torch(n, groups, k, stride, padding,
                                                 dilation, budget, bias, seed, shifted):
    x, w, b = _arrays(n, 2 * groups, 3 * groups, (6, 5), k, groups, bias, seed)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "BLOCK_BYTES", budget)
        if not shifted:                 # stride 1 through im2col too
            patch.setattr(conv, "is_shifted", lambda geometry: False)
        assert_close(ours(x, w, b, **options), theirs(x, w, b, **options), rtol=1e-12)


def test_the_cache_keeps_the_input_not_its_columns():
    x, w, b = _arrays(2, 3, 4, (6, 6), 3, 1, True, seed=0)
    _, cache = conv.conv2d_forward(x, w, b, padding=1)
    assert cache.x is x and not hasattr(cache, "cols")


def test_unpadded_windows_read_the_input_in_place():
    """Without padding there is nothing to pad: the channel-first array is a view of x,
    and im2col still copies (a later change to x does not reach the columns)."""
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    xp = pad_channels_first(x, ((0, 0), (0, 0)))
    assert np.shares_memory(xp, x) and np.array_equal(xp, x.transpose(1, 0, 2, 3))
    geometry = WindowGeometry((2, 2), (1, 1), ((0, 0), (0, 0)))
    cols, _ = im2col(x, geometry)
    before = cols.copy()
    x += 1.0
    assert np.array_equal(cols, before)
