"""Conv2d and the functional conv2d: against torch (float64, rel <= 1e-10), finite differences,
the naive loops, and the im2col/col2im adjoint identity."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import dlbook.nn as nn
import dlbook.nn.functional as F
from dlbook.check import against_torch, gradcheck, rel_error
from dlbook.nn.im2col import WindowGeometry, col2im, im2col


@st.composite
def conv_configs(draw, max_size=4):
    """A random Conv2d configuration and an input that fits it."""
    groups = draw(st.integers(1, 3))
    cfg = dict(in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
               kernel_size=(draw(st.integers(1, 4)), draw(st.integers(1, 4))),
               stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
               padding=(draw(st.integers(0, 2)), draw(st.integers(0, 2))),
               dilation=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
               groups=groups, bias=draw(st.booleans()))
    hw = []
    for k, p, d in zip(cfg["kernel_size"], cfg["padding"], cfg["dilation"]):
        span = d * (k - 1) + 1
        hw.append(max(1, span - 2 * p) + draw(st.integers(0, max_size)))
    n = draw(st.integers(1, 3))
    return cfg, (n, cfg["in_channels"], *hw)


def _input(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(conv_configs(), st.integers(0, 2**16))
def test_conv2d_matches_torch_float64(config, seed):
    cfg, shape = config
    layer = nn.Conv2d(**cfg, dtype=np.float64, seed=seed)
    report = against_torch(layer, _input(shape, seed), device="cpu")


@settings(max_examples=15, deadline=None)
@given(conv_configs(), st.integers(0, 2**16))
def test_conv2d_matches_torch_float32(config, seed):
    cfg, shape = config
    layer = nn.Conv2d(**cfg, seed=seed)
    against_torch(layer, _input(shape, seed, np.float32), device="cpu", rtol=1e-5)


@pytest.mark.gpu
@settings(max_examples=20, deadline=None)
@given(conv_configs(), st.integers(0, 2**16))
def test_conv2d_matches_torch_on_cuda(config, seed):
    cfg, shape = config
    layer = nn.Conv2d(**cfg, dtype=np.float64, seed=seed)
    against_torch(layer, _input(shape, seed), device="cuda")  # raises beyond 1e-10, float64's default


@settings(max_examples=12, deadline=None)
@given(conv_configs(max_size=2), st.integers(0, 2**16))
def test_conv2d_gradients_match_finite_differences(config, seed):
    cfg, shape = config
    layer = nn.Conv2d(**cfg, dtype=np.float64, seed=seed)
    errors = gradcheck(layer, _input((1,) + shape[1:], seed), rtol=1e-6)
    assert set(errors) == {"dx", "dweight"} | ({"dbias"} if cfg["bias"] else set())


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), f=st.integers(1, 3), k=st.integers(1, 4),
       stride=st.integers(1, 3), padding=st.integers(0, 2), extra=st.integers(0, 4),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_naive_loops_equal_fast_conv(n, c, f, k, stride, padding, extra, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, max(1, k - 2 * padding) + extra, max(1, k - 2 * padding) + extra + 1))
    w, b = rng.standard_normal((f, c, k, k)), rng.standard_normal(f) if bias else None
    np.testing.assert_allclose(nn.naive_conv2d(x, w, b, stride, padding),
                               F.conv2d(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)


def test_naive_conv_is_one_dot_product_per_output():
    """Independent of both implementations: y[0, 0, 0, 0] is the sum over the first window."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3))
    expected = sum(x[0, c, i, j] * w[1, c, i, j] for c in range(3) for i in range(3) for j in range(3))
    assert nn.naive_conv2d(x, w)[0, 1, 0, 0] == pytest.approx(expected, rel=1e-12)
    assert F.conv2d(x, w)[0, 1, 0, 0] == pytest.approx(expected, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(conv_configs(), st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col(config, seed):
    """<im2col(x), g> == <x, col2im(g)> for all x, g: the backward pass of a linear map is its transpose."""
    cfg, shape = config
    (ph, pw) = cfg["padding"]
    geometry = WindowGeometry(cfg["kernel_size"], cfg["stride"], ((ph, ph), (pw, pw)), cfg["dilation"])
    x = _input(shape, seed)
    cols, _ = im2col(x, geometry)
    g = _input(cols.shape, seed + 1)
    assert np.sum(cols * g) == pytest.approx(np.sum(x * col2im(g, x.shape, geometry)), rel=1e-10, abs=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's perf note
@pytest.mark.parametrize("padding", ["same", "valid", (0, 2)])
@pytest.mark.parametrize("kernel_size", [3, 4, (2, 5)])
def test_string_and_asymmetric_padding_match_torch(padding, kernel_size):
    layer = nn.Conv2d(2, 3, kernel_size, padding=padding, dilation=(1, 2), dtype=np.float64, seed=0)
    against_torch(layer, _input((2, 2, 9, 10), 0), device="cpu")


def test_output_keeps_the_spatial_size_with_same_padding():
    y = nn.Conv2d(3, 5, 4, padding="same", seed=0)(np.zeros((2, 3, 7, 9), np.float32))
    assert y.shape == (2, 5, 7, 9)


def test_from_torch_round_trip_gives_the_same_layer():
    torch.manual_seed(0)
    twin = torch.nn.Conv2d(4, 6, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, bias=False).double()
    layer = nn.from_torch(twin)
    assert layer.groups == 2 and layer.bias is None and layer.dtype == np.float64
    assert dict(layer.named_parameters()).keys() == dict(twin.named_parameters()).keys()
    x = _input((2, 4, 8, 8), 3)
    np.testing.assert_allclose(layer(x), twin(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_initial_weights_follow_torch_bound():
    layer = nn.Conv2d(8, 64, 5, groups=2, seed=0)
    bound = 1 / np.sqrt(4 * 5 * 5)
    w = layer.weight
    assert isinstance(w, nn.Parameter) and w.shape == (64, 4, 5, 5) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.std(w) == pytest.approx(bound / np.sqrt(3), rel=0.05)  # uniform on ±bound


def test_gradients_accumulate_like_torch():
    layer = nn.Conv2d(2, 3, 3, dtype=np.float64, seed=0)
    x, dy = _input((2, 2, 5, 5), 0), _input((2, 3, 3, 3), 1)
    layer(x), layer.backward(dy)
    once = {name: p.grad.copy() for name, p in layer.named_parameters()}
    layer(x), layer.backward(dy)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-14, atol=0)


def test_two_calls_then_two_backwards_match_torch():
    """Each backward consumes the most recent forward call (last in, first out)."""
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64, seed=0)
    twin = nn.to_torch(layer)
    x1, x2 = _input((2, 2, 5, 5), 0), _input((1, 2, 5, 5), 1)
    dy1, dy2 = _input((2, 3, 5, 5), 2), _input((1, 3, 5, 5), 3)
    layer(x1), layer(x2)
    dx2, dx1 = layer.backward(dy2), layer.backward(dy1)
    xt1, xt2 = (torch.tensor(x, requires_grad=True) for x in (x1, x2))
    (twin(xt1) * torch.tensor(dy1)).sum().add((twin(xt2) * torch.tensor(dy2)).sum()).backward()
    assert rel_error(dx1, xt1.grad.numpy()) < 1e-12 and rel_error(dx2, xt2.grad.numpy()) < 1e-12
    assert rel_error(layer.weight.grad, twin.weight.grad.numpy()) < 1e-12
    assert rel_error(layer.bias.grad, twin.bias.grad.numpy()) < 1e-12


@pytest.mark.parametrize("bias", [True, False])
def test_unbatched_input_matches_torch(bias):
    layer = nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=bias, dtype=np.float64, seed=0)
    x = _input((3, 7, 6), 0)
    assert layer(x).shape == (4, 4, 3)
    against_torch(layer, x, device="cpu")  # raises beyond 1e-10, float64's default


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="reflect"), NotImplementedError, "padding_mode"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "divisible by groups"),
    (lambda: nn.Conv2d(3, 4, 0), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), ValueError, "stride 1"),
    (lambda: nn.Conv2d(3, 4, 3, padding=-1), ValueError, "padding"),
])
def test_bad_configuration_is_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_input_is_refused_with_the_expected_shape():
    layer = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        layer(np.zeros((2, 2, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) or \(3, H, W\)"):
        layer(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        layer(np.zeros((8, 8), np.float32))
    with pytest.raises(TypeError, match="float64 input"):
        layer(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match="does not fit"):
        layer(np.zeros((1, 3, 2, 8), np.float32))
    layer(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"dy of shape \(1, 4, 6, 6\)"):
        layer.backward(np.zeros((1, 4, 5, 6), np.float32))


def test_functional_conv2d_checks_weight_and_dtype():
    x = np.zeros((1, 4, 5, 5))
    with pytest.raises(ValueError, match="expects 6 input channels"):
        F.conv2d(x, np.zeros((2, 3, 3, 3)), groups=2)
    with pytest.raises(TypeError, match="one dtype"):
        F.conv2d(x, np.zeros((2, 4, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        F.conv2d(x, np.zeros((2, 4, 3, 3)), np.zeros(3))
    with pytest.raises(TypeError, match="bias as a numpy.ndarray"):
        F.conv2d(x, np.zeros((2, 4, 3, 3)), [0.0, 0.0])
