"""PixelShuffle / PixelUnshuffle (and their functional forms) against torch, the index formula and
finite differences; every forward call serves one backward, last in first out; bad input is refused.

A shuffle only moves entries, so outputs and gradients must equal torch's exactly (no rounding).
"""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, gradcheck
from dlbook.nn import functional as F

SHAPES = [  # (input shape for PixelShuffle, r): unbatched, batched, two batch dimensions, r = 1
    ((8, 3, 5), 2),
    ((2, 18, 4, 3), 3),
    ((2, 3, 4, 2, 2), 2),
    ((2, 5, 3, 4), 1),
]


def _x(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, r", SHAPES)
def test_pixel_shuffle_equals_torch_forward_and_backward(shape, r, dtype):
    x = _x(shape, dtype)
    layer = nn.PixelShuffle(r)
    y = layer(x)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.pixel_shuffle(xt, r)
    assert y.dtype == dtype and np.array_equal(y, yt.detach().numpy())
    dy = _x(y.shape, dtype, seed=1)
    yt.backward(torch.tensor(dy))
    assert np.array_equal(layer.backward(dy), xt.grad.numpy())
    assert np.array_equal(F.pixel_shuffle_backward(dy, r), xt.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, r", SHAPES)
def test_pixel_unshuffle_equals_torch_forward_and_backward(shape, r, dtype):
    *batch, c, h, w = shape
    x = _x((*batch, c // (r * r), h * r, w * r), dtype)
    layer = nn.PixelUnshuffle(r)
    y = layer(x)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.pixel_unshuffle(xt, r)
    assert y.dtype == dtype and np.array_equal(y, yt.detach().numpy())
    dy = _x(y.shape, dtype, seed=1)
    yt.backward(torch.tensor(dy))
    assert np.array_equal(layer.backward(dy), xt.grad.numpy())
    assert np.array_equal(F.pixel_unshuffle_backward(dy, r), xt.grad.numpy())


def test_pixel_shuffle_follows_the_index_formula():
    """y[n, c, h·r + i, w·r + j] = x[n, c·r² + i·r + j, h, w], entry by entry (no torch involved)."""
    r, n, c, h, w = 3, 2, 2, 4, 5
    x = _x((n, c * r * r, h, w))
    y = F.pixel_shuffle(x, r)
    assert y.shape == (n, c, h * r, w * r)
    for b, k, hh, ww, i, j in np.ndindex(n, c, h, w, r, r):
        assert y[b, k, hh * r + i, ww * r + j] == x[b, k * r * r + i * r + j, hh, ww]


def test_an_empty_batch_keeps_the_shape_formula():
    """(0, C·r², H, W) -> (0, C, H·r, W·r) and back. Not compared with torch: torch 2.13's
    pixel_unshuffle returns an empty input with its shape unchanged, so its backward fails there."""
    shuffle, unshuffle = nn.PixelShuffle(2), nn.PixelUnshuffle(2)
    y = shuffle(_x((0, 4, 3, 3)))
    assert y.shape == (0, 1, 6, 6) == tuple(torch.nn.functional.pixel_shuffle(torch.zeros(0, 4, 3, 3), 2).shape)
    assert shuffle.backward(np.zeros(y.shape)).shape == (0, 4, 3, 3)
    z = unshuffle(_x((0, 1, 6, 6)))
    assert z.shape == (0, 4, 3, 3) and unshuffle.backward(z).shape == (0, 1, 6, 6)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_unshuffle_inverts_shuffle_both_ways(r):
    x = _x((2, 2 * r * r, 3, 4))
    assert np.array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, r), r), x)
    z = _x((2, 2, 3 * r, 4 * r))
    assert np.array_equal(F.pixel_shuffle(F.pixel_unshuffle(z, r), r), z)


@pytest.mark.parametrize("layer, shape", [(nn.PixelShuffle(2), (2, 8, 3, 3)),
                                          (nn.PixelUnshuffle(2), (2, 2, 4, 6))])
def test_layers_against_torch_twins_and_finite_differences(layer, shape):
    for dtype in (np.float64, np.float32):
        report = against_torch(layer, _x(shape, dtype), device="cpu")  # built by to_torch; raises on mismatch
        assert report.errors["output"][0] == 0 and report.errors["dx"][0] == 0
    assert gradcheck(layer, _x(shape, seed=3))["dx"] < 1e-8
    twin = nn.to_torch(layer)
    assert type(twin).__name__ == type(layer).__name__
    back = nn.from_torch(twin)
    assert type(back) is type(layer) and back.torch_config() == layer.torch_config()
    assert repr(layer) in ("PixelShuffle(upscale_factor=2)", "PixelUnshuffle(downscale_factor=2)")


def test_a_layer_called_twice_before_backward_answers_last_call_first():
    shuffle = nn.PixelShuffle(2)
    x1, x2 = _x((1, 4, 2, 3)), _x((3, 8, 2, 2), seed=1)  # different shapes: a mix-up cannot pass
    y1, y2 = shuffle(x1), shuffle(x2)
    assert shuffle.saved_count == 2
    dy1, dy2 = _x(y1.shape, seed=2), _x(y2.shape, seed=3)
    x1t, x2t = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    torch.nn.functional.pixel_shuffle(x1t, 2).backward(torch.tensor(dy1))
    torch.nn.functional.pixel_shuffle(x2t, 2).backward(torch.tensor(dy2))
    assert np.array_equal(shuffle.backward(dy2), x2t.grad.numpy())  # the most recent call first
    assert np.array_equal(shuffle.backward(dy1), x1t.grad.numpy())
    with pytest.raises(RuntimeError, match="nothing saved"):
        shuffle.backward(dy1)


def test_esp_cn_style_upsampler_matches_torch():
    """Conv2d -> PixelShuffle, the ESPCN head: gradients reach the convolution's weights as in torch."""
    model = nn.Sequential(nn.Conv2d(3, 3 * 4, 3, padding=1, dtype=np.float64, seed=0), nn.PixelShuffle(2))
    report = against_torch(model, _x((2, 3, 5, 4)), device="cpu")
    assert {"output", "dx", "d0.weight", "d0.bias"} <= set(report.errors)


def test_no_grad_saves_nothing():
    layer = nn.PixelUnshuffle(2)
    with nn.no_grad():
        layer(_x((1, 1, 4, 4)))
    assert layer.saved_count == 0


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.pixel_shuffle(_x((1, 6, 2, 2)), 2), ValueError,
     r"channel axis \(size 6.*divisible by upscale_factor² = 4"),
    (lambda: F.pixel_shuffle(_x((4, 2)), 2), ValueError, r"at least 3 dimensions, got shape \(4, 2\)"),
    (lambda: F.pixel_unshuffle(_x((1, 1, 4, 5)), 2), ValueError,
     "height and width .* divisible by downscale_factor = 2"),
    (lambda: F.pixel_unshuffle(_x((4,)), 2), ValueError, "at least 3 dimensions"),
    (lambda: F.pixel_shuffle(_x((1, 4, 2, 2)), 0), ValueError, "positive int upscale_factor, got 0"),
    (lambda: F.pixel_shuffle(_x((1, 4, 2, 2)), 2.0), ValueError, "positive int upscale_factor, got 2.0"),
    (lambda: F.pixel_unshuffle(_x((1, 1, 4, 4)), True), ValueError, "positive int downscale_factor"),
    (lambda: F.pixel_shuffle([[[1.0]]], 1), TypeError, "numpy.ndarray"),
    (lambda: nn.PixelShuffle(-1), ValueError, "PixelShuffle expects a positive int upscale_factor, got -1"),
    (lambda: nn.PixelUnshuffle(1.5), ValueError, "PixelUnshuffle expects a positive int downscale_factor"),
    (lambda: nn.PixelShuffle(2)(_x((2, 3))), ValueError, "PixelShuffle expects input of shape .* at least 3"),
    (lambda: nn.PixelShuffle(2)(np.ones((1, 4, 2, 2), np.int64)), TypeError, "float32 or float64"),
    (lambda: nn.PixelUnshuffle(3)(_x((1, 2, 6, 4))), ValueError, "divisible by downscale_factor = 3"),
])
def test_bad_input_names_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_backward_checks_dy_shape():
    layer = nn.PixelShuffle(2)
    layer(_x((1, 4, 2, 2)))
    with pytest.raises(ValueError, match=r"expects dy of shape \(1, 1, 4, 4\)"):
        layer.backward(_x((1, 4, 2, 2)))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layer, shape", [(nn.PixelShuffle(3), (2, 18, 4, 3)),
                                          (nn.PixelUnshuffle(2), (2, 3, 4, 6))])
def test_layers_match_torch_on_cuda(layer, shape, dtype):
    report = against_torch(layer, _x(shape, dtype), device="cuda")
    assert report.device.startswith("cuda")
    assert report.errors["output"][0] == 0 and report.errors["dx"][0] == 0
