"""The character language model: the NumPy CharRNN equals its torch twin (forward, state, every
gradient), the sequence loss equals torch's cross-entropy, and bad input is refused."""

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import rel_error
from dlbook.models import (CharRNN, CharRNNTorch, SequenceCrossEntropyLoss,
                           SequenceCrossEntropyLossTorch)

V = 13


def _pair(cell, num_layers, seed=0):
    model = CharRNN(V, 6, 9, num_layers, cell, dtype=np.float64, seed=seed)
    for p in model.parameters():  # no zero or default-like values for a check to miss
        p[...] = np.random.default_rng(seed + 7).uniform(-0.6, 0.6, p.shape)
    twin = CharRNNTorch(V, 6, 9, num_layers, cell).double()
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.state_dict().items()})
    return model, twin


def _state(cell, rng, num_layers, n):
    h = rng.standard_normal((num_layers, n, 9))
    return (h, rng.standard_normal((num_layers, n, 9))) if cell == "lstm" else h


def _torch_state(state):
    if isinstance(state, tuple):
        return tuple(torch.tensor(s, requires_grad=True) for s in state)
    return torch.tensor(state, requires_grad=True)


def _flat(state):
    return list(state) if isinstance(state, (tuple, list)) else [state]


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_numpy_char_rnn_equals_the_torch_twin_forward_and_gradients(cell, num_layers):
    model, twin = _pair(cell, num_layers)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in twin.named_parameters()]
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, V, (4, 7)), rng.integers(0, V, (4, 7))
    hx = _state(cell, rng, num_layers, 4)
    d_state = _state(cell, rng, num_layers, 4)  # a gradient arriving at the final state too
    loss_fn = SequenceCrossEntropyLoss()
    logits, h_n = model(x, hx, return_state=True)
    loss = loss_fn(logits, y)
    d_hx = model.backward(loss_fn.backward(), d_state)

    hx_t = _torch_state(hx)
    logits_t, h_n_t = twin(torch.from_numpy(x), hx_t, return_state=True)
    loss_t = SequenceCrossEntropyLossTorch()(logits_t, torch.from_numpy(y))
    extra = sum((a * torch.from_numpy(g)).sum() for a, g in zip(_flat(h_n_t), _flat(d_state)))
    (loss_t + extra).backward()

    assert logits.shape == (4, 7, V)
    assert rel_error(logits, logits_t.detach().numpy()) <= 1e-10
    assert abs(loss - loss_t.item()) <= 1e-10 * abs(loss_t.item())
    for ours, theirs in zip(_flat(h_n), _flat(h_n_t)):
        assert rel_error(ours, theirs.detach().numpy()) <= 1e-10
    for ours, theirs in zip(_flat(d_hx), _flat(hx_t)):
        assert rel_error(ours, theirs.grad.numpy()) <= 1e-10
    grads = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        assert rel_error(p.grad, grads[name].grad.numpy()) <= 1e-10, name
    assert all(m.saved_count == 0 for m in model.modules())


def test_without_a_state_the_model_starts_from_zeros_and_returns_no_state_gradient():
    model, twin = _pair("lstm", 1)
    x = np.random.default_rng(2).integers(0, V, (3, 5))
    zeros = (np.zeros((1, 3, 9)), np.zeros((1, 3, 9)))
    assert rel_error(model(x), model(x, zeros)) == 0
    model.clear_saved()
    logits = model(x)
    assert model.backward(np.ones_like(logits)) is None
    assert rel_error(logits, twin(torch.from_numpy(x)).detach().numpy()) <= 1e-10


def test_the_bridge_converts_both_ways():
    model = CharRNN(V, 4, 5, cell="rnn", seed=3)
    twin = nn.to_torch(model)
    assert isinstance(twin, CharRNNTorch) and twin.cell == "rnn" and twin.hidden_size == 5
    back = nn.from_torch(twin)
    assert isinstance(back, CharRNN)
    for name, value in model.state_dict().items():
        assert np.array_equal(back.state_dict()[name], value)


def test_torch_seed_fixes_the_weights_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = CharRNNTorch(V, 4, 5, seed=0), CharRNNTorch(V, 4, 5, seed=0)
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = CharRNNTorch(V, 4, 5, seed=1)
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_the_sequence_loss_is_torch_cross_entropy_over_every_position():
    rng = np.random.default_rng(4)
    scores, target = rng.standard_normal((3, 5, V)), rng.integers(0, V, (3, 5))
    scores_t = torch.tensor(scores, requires_grad=True)
    # torch's own layout for a loss per position: classes on axis 1, (N, C, L)
    reference = torch.nn.functional.cross_entropy(scores_t.permute(0, 2, 1), torch.from_numpy(target))
    reference.backward()
    loss = SequenceCrossEntropyLoss()
    assert abs(loss(scores, target) - reference.item()) <= 1e-12 * reference.item()
    assert rel_error(loss.backward(), scores_t.grad.numpy()) <= 1e-12
    ours_t = SequenceCrossEntropyLossTorch()(torch.from_numpy(scores), torch.from_numpy(target))
    assert abs(ours_t.item() - reference.item()) <= 1e-12 * reference.item()
    each = SequenceCrossEntropyLoss(reduction="none")
    per_position = each(scores, target)
    assert per_position.shape == (3, 5)
    assert abs(per_position.mean() - reference.item()) <= 1e-12 * reference.item()
    weights = rng.standard_normal((3, 5))
    assert rel_error(each.backward(weights), _none_grad(scores, target, weights)) <= 1e-12
    assert SequenceCrossEntropyLossTorch(reduction="none")(
        torch.from_numpy(scores), torch.from_numpy(target)).shape == (3, 5)


def _none_grad(scores, target, weights):
    s = torch.tensor(scores, requires_grad=True)
    losses = torch.nn.functional.cross_entropy(s.permute(0, 2, 1), torch.from_numpy(target), reduction="none")
    (losses * torch.from_numpy(weights)).sum().backward()
    return s.grad.numpy()


def test_bad_input():
    model = CharRNN(V, 4, 5, seed=0)
    twin = CharRNNTorch(V, 4, 5)
    with pytest.raises(ValueError, match=r"ids of shape \(N, L\) with an integer dtype"):
        model(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"ids of shape \(N, L\)"):
        model(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 13\)"):
        model(np.full((1, 2), V))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        model([[1, 2]])
    with pytest.raises(ValueError, match=r"ids of shape \(N, L\) with an integer dtype"):
        twin(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 13\)"):
        twin(torch.full((1, 2), -1))
    with pytest.raises(TypeError, match="torch.Tensor"):
        twin(np.zeros((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="cell must be one of"):
        CharRNN(V, cell="gru")
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        CharRNNTorch(V, 4, 0)
    with pytest.raises(ValueError, match=r"scores \(N, L, C\) and targets \(N, L\)"):
        SequenceCrossEntropyLoss()(np.zeros((2, 3, V)), np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"scores \(N, L, C\) and targets \(N, L\)"):
        SequenceCrossEntropyLossTorch()(torch.zeros(2, 3, V), torch.zeros(2, 3, 1, dtype=torch.long))
