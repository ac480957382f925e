"""dlbook.nn.Embedding against torch.nn.Embedding: lookups, gradients (repeated indices add up,
the padding row gets none), initialisation, torch's names, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import against_torch, rel_error

F64 = np.float64


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_lookup_and_gradient_match_torch(shape, index_dtype, padding_idx):
    layer = nn.Embedding(6, 4, padding_idx=padding_idx, dtype=F64, seed=0)
    twin = nn.to_torch(layer)
    indices = np.random.default_rng(1).integers(0, 6, shape).astype(index_dtype)
    indices.flat[:3] = [2, 2, 5]  # repeated indices, and the padding row (2, or 5 for -1)
    dy = np.random.default_rng(2).standard_normal(shape + (4,))
    y = layer(indices)
    assert layer.backward(dy) is None  # indices have no gradient
    yt = twin(torch.from_numpy(indices))
    yt.backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(y, yt.detach().numpy())  # a lookup: exact
    assert rel_error(layer.weight.grad, twin.weight.grad.numpy()) <= 1e-15
    if padding_idx is not None:
        assert layer.padding_idx == padding_idx % 6 == twin.padding_idx
        assert np.all(layer.weight.grad[layer.padding_idx] == 0)


def test_repeated_indices_add_up():
    """Row i's gradient is the sum of dy over every position that looked up i (hand count)."""
    layer = nn.Embedding(4, 3, dtype=F64, seed=0)
    indices = np.array([[1, 3, 1], [1, 0, 3]])
    dy = np.arange(18, dtype=F64).reshape(2, 3, 3)
    layer(indices)
    layer.backward(dy)
    expected = np.zeros((4, 3))
    expected[1] = dy[0, 0] + dy[0, 2] + dy[1, 0]
    expected[3] = dy[0, 1] + dy[1, 2]
    expected[0] = dy[1, 1]
    np.testing.assert_array_equal(layer.weight.grad, expected)


def test_against_torch_handles_index_input():
    layer = nn.Embedding(10, 5, padding_idx=0, dtype=F64, seed=3)
    report = against_torch(layer, np.array([[0, 4, 4, 9], [1, 0, 2, 4]]))
    assert set(report.errors) == {"output", "dweight"} and report.rtol == 1e-10


def test_two_calls_before_backward_accumulate():
    layer = nn.Embedding(5, 2, dtype=F64, seed=0)
    a, b = np.array([0, 1, 1]), np.array([[4, 1]])
    da, db = np.ones((3, 2)), 2 * np.ones((1, 2, 2))
    layer(a)
    layer(b)
    layer.backward(db)  # last in, first out
    layer.backward(da)
    expected = np.zeros((5, 2))
    expected[0], expected[1], expected[4] = 1, 2 + 2, 2
    np.testing.assert_array_equal(layer.weight.grad, expected)


def test_weight_starts_standard_normal_with_a_zero_padding_row():
    layer = nn.Embedding(2000, 10, padding_idx=7, seed=0)
    w = np.asarray(layer.weight)
    assert w.dtype == np.float32 and np.all(w[7] == 0)
    rows = np.delete(w, 7, axis=0).ravel()
    # N(0, 1): mean within 5 standard errors (1/sqrt(n)), variance within 5 of its (sqrt(2/n))
    n = rows.size
    assert abs(rows.mean()) < 5 / np.sqrt(n) and abs(rows.var() - 1) < 5 * np.sqrt(2 / n)
    np.testing.assert_array_equal(w, nn.Embedding(2000, 10, padding_idx=7, seed=0).weight)


def test_state_dict_and_round_trip_match_torch():
    module = torch.nn.Embedding(6, 3, padding_idx=-2).double()
    layer = nn.from_torch(module)
    assert list(layer.state_dict()) == list(module.state_dict()) == ["weight"]
    np.testing.assert_array_equal(layer.weight, module.weight.detach().numpy())
    assert layer.padding_idx == 4 and repr(nn.to_torch(layer)) == repr(module)
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.from_torch(torch.nn.Embedding(6, 3, max_norm=1.0))


@pytest.mark.parametrize("indices, error, message", [
    (np.array([0.0, 1.0]), TypeError, "integer indices"),
    (np.array([True, False]), TypeError, "integer indices"),
    ([0, 1], TypeError, "numpy.ndarray"),
    (np.array([0, 5]), ValueError, r"index 5 out of range.*\[0, 5\)"),
    (np.array([[0, -1]]), ValueError, r"index -1 out of range"),
])
def test_bad_indices_get_a_clear_error(indices, error, message):
    with pytest.raises(error, match=message):
        nn.Embedding(5, 2)(indices)


def test_bad_construction_and_gradient_get_clear_errors():
    with pytest.raises(ValueError, match=r"padding_idx must be an int in \[-5, 5\)"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="embedding_dim must be a positive int"):
        nn.Embedding(5, 0)
    layer = nn.Embedding(5, 2)
    layer(np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"dy of shape \(1, 3, 2\)"):
        layer.backward(np.zeros((3, 2), np.float32))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding_matches_torch_on_cuda(dtype):
    layer = nn.Embedding(50, 8, padding_idx=3, dtype=dtype, seed=0)
    indices = np.random.default_rng(0).integers(0, 50, (6, 20))
    report = against_torch(layer, indices, device="cuda")
    assert report.device.startswith("cuda") and report.max_rel <= (1e-10 if dtype == F64 else 1e-5)
