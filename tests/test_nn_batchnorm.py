"""BatchNorm1d and BatchNorm2d: one implementation, torch's statistics, train and eval modes."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch


@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (16, 3)), (nn.BatchNorm1d, (8, 3, 5)),
                                        (nn.BatchNorm2d, (4, 3, 6, 6))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_running_statistics_follow_torch_over_many_steps(cls, shape, momentum):
    rng = np.random.default_rng(0)
    layer = cls(3, momentum=momentum, dtype=np.float64)
    twin = nn.to_torch(layer)
    for _ in range(5):
        x = 2 + 3 * rng.standard_normal(shape)
        layer(x)
        twin(torch.tensor(x))
    for name, buf in twin.named_buffers():
        np.testing.assert_allclose(getattr(layer, name), buf.numpy(), rtol=1e-12)
    assert layer.num_batches_tracked == 5
    layer.eval()
    against_torch(layer, rng.standard_normal(shape), device="cpu")


def test_training_output_is_normalized_per_channel():
    x = 5 + 2 * np.random.default_rng(0).standard_normal((64, 3, 4, 4))
    y = nn.BatchNorm2d(3, dtype=np.float64)(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-4)  # eps = 1e-5 shrinks it slightly


def test_2d_is_1d_on_channels_moved_to_the_length_axis():
    """BatchNorm2d on (N, C, H, W) = BatchNorm1d on (N, C, H*W): the same statistics per channel."""
    x = np.random.default_rng(1).standard_normal((5, 3, 4, 2))
    dy = np.random.default_rng(2).standard_normal(x.shape)
    b2, b1 = nn.BatchNorm2d(3, dtype=np.float64), nn.BatchNorm1d(3, dtype=np.float64)
    np.testing.assert_allclose(b2(x).reshape(5, 3, 8), b1(x.reshape(5, 3, 8)), rtol=1e-14)
    np.testing.assert_allclose(b2.backward(dy).reshape(5, 3, 8), b1.backward(dy.reshape(5, 3, 8)), rtol=1e-12)


def test_eval_mode_does_not_change_running_statistics():
    layer = nn.BatchNorm1d(4, dtype=np.float64)
    layer(np.random.default_rng(0).standard_normal((8, 4)))
    before = {k: v.copy() for k, v in layer.named_buffers()}
    layer.eval()(np.random.default_rng(1).standard_normal((8, 4)))
    for k, v in layer.named_buffers():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("momentum", [0.1, None])
def test_an_empty_batch_passes_through_and_counts_as_torch_counts_it(momentum):
    """torch returns the empty batch, leaves the running statistics alone, but counts the batch in
    num_batches_tracked, which the cumulative average (momentum=None) of later batches divides by."""
    rng = np.random.default_rng(3)
    layer = nn.BatchNorm1d(3, momentum=momentum, dtype=np.float64)
    twin = nn.to_torch(layer)
    empty = np.zeros((0, 3))
    assert layer(empty).shape == (0, 3)
    assert layer.backward(empty).shape == (0, 3)
    xt = torch.tensor(empty, requires_grad=True)
    twin(xt).sum().backward()
    for name, p in twin.named_parameters():  # zeros, not None: an optimizer steps them (momentum, Adam)
        np.testing.assert_array_equal(getattr(layer, name).grad, p.grad.numpy())
    for x in (rng.standard_normal((6, 3)), 2 + rng.standard_normal((6, 3))):
        layer(x)
        twin(torch.tensor(x))
    for name, buf in twin.named_buffers():
        np.testing.assert_allclose(getattr(layer, name), buf.numpy(), rtol=1e-12, atol=0, err_msg=name)


@pytest.mark.parametrize("affine, bias", [(True, False), (False, True)])
def test_bias_keyword_matches_torch(affine, bias):
    """torch's ``bias=False`` keeps the scale and drops the shift (ignored without affine)."""
    layer = nn.BatchNorm2d(3, affine=affine, bias=bias, dtype=np.float64)
    twin = torch.nn.BatchNorm2d(3, affine=affine, bias=bias, dtype=torch.float64)
    assert sorted(dict(layer.named_parameters())) == sorted(dict(twin.named_parameters()))
    if affine:
        layer.weight[...] = [0.5, 2.0, -1.0]
    x = np.random.default_rng(4).standard_normal((4, 3, 3, 3))
    against_torch(layer, x, twin=twin, device="cpu")  # raises beyond 1e-10, float64's default
