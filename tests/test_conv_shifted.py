"""The stride-1 convolution on shifted slices of the flattened padded images (issue 11):
checked against torch and against the im2col path it replaces, in float64 (output, dx,
dweight, dbias), over padding, dilation, groups, bias, odd sizes and single images; the
tests check that the path was taken (no im2col), so a slip in it fails here."""

import numpy as np
import pytest
import torch

import dlbook.nn as nn
import dlbook.nn.functional.conv as conv
from dlbook.check import against_torch
from dlbook.nn.im2col import WindowGeometry

from test_conv_fast_paths import assert_close, ours, theirs


def _arrays(n, c, f, hw, kernel, groups, bias, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c) + hw).astype(dtype)
    w = rng.standard_normal((f, c // groups) + kernel).astype(dtype)
    b = rng.standard_normal(f).astype(dtype) if bias else None
    return x, w, b


SHIFTED = [  # (n, c, f, (h, w), kernel, groups, bias, options)
    (2, 3, 4, (7, 6), (3, 3), 1, True, dict(padding=1)),
    (1, 3, 1, (5, 5), (3, 3), 1, True, dict(padding=1)),                # N = 1
    (3, 4, 6, (9, 7), (3, 3), 2, False, dict(padding=0)),
    (2, 6, 3, (8, 9), (2, 3), 3, True, dict(padding=(1, 0), dilation=(1, 2))),
    (1, 2, 5, (6, 7), (3, 3), 1, True, dict(padding="same", dilation=2)),
    (2, 2, 2, (5, 6), (2, 2), 1, True, dict(padding="same")),           # asymmetric pad
    (2, 4, 4, (5, 3), (5, 1), 4, True, dict(padding=(2, 0))),           # depthwise
    (3, 2, 3, (4, 4), (1, 1), 1, True, dict(padding=2)),                # 1×1, padded
    (1, 3, 2, (3, 3), (3, 3), 1, False, dict(padding=3)),       # more padding than kernel
    (2, 1, 1, (1, 1), (1, 1), 1, True, dict(padding=(0, 1))),
    (2, 3, 2, (4, 5), (4, 5), 1, True, dict()),                         # kernel = image
]


@pytest.mark.parametrize("n, c, f, hw, kernel, groups, bias, options", SHIFTED)
def test_shifted_path_matches_torch_and_the_im2col_path(n, c, f, hw, kernel, groups,
                                                        bias, options, im2col_calls,
                                                        monkeypatch):
    x, w, b = _arrays(n, c, f, hw, kernel, groups, bias, seed=n + c + f)
    options = dict(options, groups=groups)
    fast = ours(x, w, b, **options)
    assert im2col_calls == []               # the shifted path was taken
    assert_close(fast, theirs(x, w, b, **options), rtol=1e-12)

    monkeypatch.setattr(conv, "is_shifted", lambda geometry: False)
    monkeypatch.setattr(conv, "is_pointwise", lambda geometry: False)
    general = ours(x, w, b, **options)
    assert im2col_calls                     # now through im2col
    assert_close(fast, general, rtol=1e-12)


@pytest.mark.parametrize("images_per_block", [1, 2, 3])
def test_blocks_of_images_give_the_whole_batch_result(images_per_block, monkeypatch):
    x, w, b = _arrays(5, 4, 6, (7, 6), (3, 3), 2, True, seed=4)
    options = dict(padding=1, dilation=(1, 2), groups=2)
    whole = ours(x, w, b, **options)
    blocks = []
    original = conv.shifted_taps

    def recording(x, geometry):
        for images, taps, grid in original(x, geometry):
            blocks.append(taps.shape[0])
            yield images, taps, grid

    monkeypatch.setattr(conv, "shifted_taps", recording)
    grid = conv.ShiftedGrid.of(conv.WindowGeometry((3, 3), (1, 1), ((1, 1), (1, 1)),
                                                   (1, 2)), 7, 6)
    per_image = 4 * 9 * grid.length * x.itemsize
    monkeypatch.setattr(conv, "BLOCK_BYTES", images_per_block * per_image + per_image // 2)
    blocked = ours(x, w, b, **options)
    sizes = [min(images_per_block, 5 - s) for s in range(0, 5, images_per_block)]
    assert blocks == sizes + sizes          # forward, then backward
    assert_close(blocked, whole, rtol=1e-12)
    assert_close(blocked, theirs(x, w, b, **options), rtol=1e-12)


def test_grid_offsets_by_hand():
    """3×3 kernel, dilation (2, 1), padding 1 on a 5×4 image: the padded image is 7×6,
    tap (i, j) sits i·2·6 + j pixels after its window's top-left pixel, and the last
    window that fits starts 42 - 26 = 16 pixels in."""
    geometry = WindowGeometry((3, 3), (1, 1), ((1, 1), (1, 1)), (2, 1))
    grid = conv.ShiftedGrid.of(geometry, 5, 4)
    assert grid.padded_hw == (7, 6)
    assert grid.offsets == [0, 1, 2, 12, 13, 14, 24, 25, 26]
    assert grid.length == 16


def test_taps_are_shifted_copies_of_the_padded_image():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    geometry = WindowGeometry((2, 3), (1, 1), ((1, 0), (0, 2)), (1, 1))
    [(images, taps, grid)] = list(conv.shifted_taps(x, geometry))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 0), (0, 2))).reshape(2, 3, -1)
    assert images == slice(0, 2) and taps.shape == (2, 3 * 6, grid.length)
    for k, offset in enumerate(grid.offsets):
        assert np.array_equal(taps.reshape(2, 3, 6, -1)[:, :, k],
                              padded[:, :, offset:offset + grid.length])
    x += 1.0                                 # a copy: later changes to x do not reach it
    assert taps[0, 0, grid.offsets[-1]] == padded[0, 0, grid.offsets[-1]]


def test_shifted_path_in_float32():
    x, w, b = _arrays(3, 8, 16, (9, 6), (3, 3), 2, True, seed=1, dtype=np.float32)
    assert_close(ours(x, w, b, padding=1, groups=2),
                 theirs(x, w, b, padding=1, groups=2), rtol=1e-5)


@pytest.mark.parametrize("shape", [(3, 4, 6, 5), (4, 6, 5)])     # batched and unbatched
def test_conv2d_layer_matches_torch(shape):
    layer = nn.Conv2d(4, 6, 3, padding=1, groups=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(0).standard_normal(shape)
    report = against_torch(layer, x, device="cpu", rtol=1e-12)
    assert {"output", "dx", "dweight", "dbias"} <= set(report.errors)


def test_layer_called_twice_before_backward():
    """The contract's stack: two forward calls, then two backward calls in reverse order;
    the weight gradient is the sum of both, as torch's autograd computes it."""
    layer = nn.Conv2d(3, 2, 3, padding=1, dtype=np.float64, seed=0)
    twin = nn.to_torch(layer)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((2, 3, 5, 4)) for _ in range(2)]
    dys = [rng.standard_normal((2, 2, 5, 4)) for _ in range(2)]
    for x in xs:
        layer(x)
    dxs = [layer.backward(dy) for dy in dys[::-1]][::-1]
    xts = [torch.tensor(x, requires_grad=True) for x in xs]
    loss = sum((twin(xt) * torch.tensor(dy)).sum() for xt, dy in zip(xts, dys))
    loss.backward()
    for dx, xt in zip(dxs, xts):
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=0)
    np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(), rtol=1e-12, atol=0)
