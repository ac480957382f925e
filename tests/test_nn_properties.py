"""Property tests: chapter-3 layers agree with torch over random shapes and hyper-parameters."""

import numpy as np
import torch
from hypothesis import given, settings, strategies as st

from dlbook import nn
from dlbook.check import against_torch, gradcheck

FAST = settings(max_examples=25, deadline=None, derandomize=True)
dtypes = st.sampled_from([np.float64, np.float32])
seeds = st.integers(0, 2**31 - 1)
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


def _x(shape, dtype, seed, scale=1.0):
    # independent of the seed-0 stream that a page's rng uses, as against_torch's dy is
    return (scale * np.random.default_rng([seed, 1]).standard_normal(shape)).astype(dtype)


@FAST
@given(n=st.integers(1, 6), fin=st.integers(1, 9), fout=st.integers(1, 9), bias=st.booleans(),
       dtype=dtypes, seed=seeds)
def test_linear(n, fin, fout, bias, dtype, seed):
    layer = nn.Linear(fin, fout, bias=bias, dtype=dtype, seed=seed)
    against_torch(layer, _x((n, fin), dtype, seed + 1), device="cpu")


@FAST
@given(shape=shapes, which=st.sampled_from(["ReLU", "Sigmoid", "Tanh", "LeakyReLU"]),
       slope=st.floats(0, 1), scale=st.sampled_from([0.1, 1.0, 3.0]), dtype=dtypes, seed=seeds)
def test_elementwise_activations(shape, which, slope, scale, dtype, seed):
    layer = nn.LeakyReLU(slope) if which == "LeakyReLU" else getattr(nn, which)()
    # |x| <= 3: tanh' >= 0.01. Deeper in saturation dx = dy (1 - y²) is ill-conditioned: one ulp
    # of y (ours vs torch's tanh) moves 1 - y² by eps/(1 - y²) relatively, beyond any fixed rtol
    x = (scale * np.random.default_rng([seed, 2]).uniform(-1, 1, shape)).astype(dtype)
    against_torch(layer, x, device="cpu")


@FAST
@given(shape=shapes, which=st.sampled_from(["Sigmoid", "Tanh"]), dtype=dtypes, seed=seeds)
def test_saturated_activations_match_torch_forward(shape, which, dtype, seed):
    """|x| up to ~100: outputs agree (no overflow in the stable sigmoid), gradients agree absolutely."""
    x = _x(shape, dtype, seed, 30.0)
    layer = getattr(nn, which)()
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(torch, which.lower())(xt)
    yt.backward(torch.ones_like(yt))
    np.testing.assert_allclose(layer(x), yt.detach().numpy(), rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=np.finfo(dtype).tiny)  # torch may flush subnormal results to 0
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), xt.grad.numpy(), rtol=0,
                               atol=1e-6 if dtype == np.float32 else 1e-15)


@FAST
@given(shape=shapes, data=st.data(), log=st.booleans(), scale=st.sampled_from([1.0, 100.0]),
       dtype=dtypes, seed=seeds)
def test_softmax_along_any_dim(shape, data, log, scale, dtype, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    layer = nn.LogSoftmax(dim=dim) if log else nn.Softmax(dim=dim)
    if dtype == np.float32:
        # saturated float32 softmax: dx = y (dy - <dy, y>) cancels to ~1e-3 while float32 rounding
        # of the O(1) terms is ~1e-7, so no 1e-5 relative agreement exists to test; float64 covers it
        scale = 1.0
    x = _x(shape, dtype, seed, scale)  # scale 100: exp would overflow without the max shift
    against_torch(layer, x, device="cpu")
    if not log:
        np.testing.assert_allclose(layer(x).sum(axis=dim), 1, rtol=1e-5)


@FAST
@given(n=st.integers(1, 5), length=st.sampled_from([None, 1, 3]), c=st.integers(1, 4),
       eps=st.sampled_from([1e-5, 1e-3, 0.1]), momentum=st.sampled_from([None, 0.0, 0.1, 0.9]),
       affine=st.booleans(), track=st.booleans(), steps=st.integers(1, 3), dtype=dtypes, seed=seeds)
def test_batchnorm1d_train_then_eval(n, length, c, eps, momentum, affine, track, steps, dtype, seed):
    shape = (n + 3, c) if length is None else (n + 3, c, length)  # >= 4 values per channel
    layer = nn.BatchNorm1d(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track, dtype=dtype)
    if affine:
        layer.weight[:] = _x((c,), dtype, seed + 7) + 1
        layer.bias[:] = _x((c,), dtype, seed + 8)
    for step in range(steps):  # running statistics are compared after every step
        against_torch(layer, _x(shape, dtype, seed + step, 3.0) + 2, device="cpu")
    layer.eval()
    against_torch(layer, _x(shape, dtype, seed + 99), device="cpu")


@FAST
@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(2, 4),
       training=st.booleans(), dtype=dtypes, seed=seeds)
def test_batchnorm2d(n, c, h, w, training, dtype, seed):
    n, h = n + 1, h + 1  # >= 8 values per channel: with 2, x̂ = ±1 and dx is pure cancellation
    layer = nn.BatchNorm2d(c, dtype=dtype).train(training)
    if training:
        against_torch(layer, _x((n, c, h, w), dtype, seed), device="cpu")
    else:
        layer.running_mean[:] = _x((c,), dtype, seed + 1)
        layer.running_var[:] = np.abs(_x((c,), dtype, seed + 2)) + 0.5
        against_torch(layer, _x((n, c, h, w), dtype, seed), device="cpu")


@FAST
@given(n=st.integers(1, 6), c=st.integers(2, 6), which=st.sampled_from(["ce", "margin", "mse"]),
       p=st.sampled_from([1, 2]), margin=st.floats(0, 2), reduction=st.sampled_from(["mean", "sum", "none"]),
       dtype=dtypes, seed=seeds)
def test_losses(n, c, which, p, margin, reduction, dtype, seed):
    rng = np.random.default_rng(seed)
    x = _x((n, c), dtype, seed)
    if which == "mse":
        against_torch(nn.MSELoss(reduction=reduction), x, _x((n, c), dtype, seed + 1), device="cpu")
        return
    target = rng.integers(0, c, n)
    layer = nn.CrossEntropyLoss(reduction=reduction) if which == "ce" else \
        nn.MultiMarginLoss(p=p, margin=margin, reduction=reduction)
    against_torch(layer, x, target, device="cpu")


@settings(max_examples=10, deadline=None, derandomize=True)
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=5), act=st.sampled_from(["ReLU", "Tanh", "Sigmoid"]),
       seed=seeds)
def test_random_mlps_match_torch_and_finite_differences(widths, act, seed):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers += [nn.Linear(a, b, dtype=np.float64, seed=seed + i), getattr(nn, act)()]
    model = nn.Sequential(*layers)
    x = _x((4, widths[0]), np.float64, seed)
    against_torch(model, x, device="cpu")
    gradcheck(model, x)


@FAST
@given(shape=shapes, p=st.floats(0, 1), seed=seeds, dtype=dtypes)
def test_dropout_replaying_torchs_mask_matches_torch(shape, p, seed, dtype):
    """Same mask, same result: the random draw is the only difference from torch."""
    torch.manual_seed(seed)
    x = np.abs(_x(shape, dtype, seed)) + 0.1  # no zeros in x, so zeros in y mark dropped entries
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.dropout(xt, p, training=True)
    dy = _x(shape, dtype, seed + 1)
    yt.backward(torch.tensor(dy))
    keep = yt.detach().numpy() != 0
    layer = nn.Dropout(p)
    np.testing.assert_allclose(layer(x, mask=keep), yt.detach().numpy(), rtol=1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(layer.backward(dy), xt.grad.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-14)
