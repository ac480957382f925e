"""fit's shuffle=False and the truncated-BPTT train_step: batches in order, the state carried from
each batch to the next and detached (no gradient reaches the previous batch), reset each epoch,
gradients clipped; sequence outputs evaluated per position."""

import numpy as np
import pytest
import torch

from dlbook import nn, optim
from dlbook.check import rel_error
from dlbook.data import tbptt_windows
from dlbook.models import CharRNN, CharRNNTorch, SequenceCrossEntropyLoss, SequenceCrossEntropyLossTorch
from dlbook.train import evaluate, fit, tbptt_step

V = 11


def _recorded_batches(model, X, y, **kwargs):
    seen = []

    def step(xb, yb):
        seen.append(np.asarray(yb.cpu() if torch.is_tensor(yb) else yb).copy())
        return 0.0

    fit(model, None, None, X, y, epochs=2, batch_size=4, train_step=step, device="cpu", progress=False,
        **kwargs)
    return seen


@pytest.mark.parametrize("make", [lambda: nn.Linear(3, 2), lambda: torch.nn.Linear(3, 2)])
def test_shuffle_false_keeps_the_order_every_epoch(make):
    X, y = np.random.default_rng(0).standard_normal((10, 3)), np.arange(10)
    in_order = [y[i:i + 4] for i in (0, 4, 8)]
    seen = _recorded_batches(make(), X, y, shuffle=False)
    assert len(seen) == 6 and all(np.array_equal(a, b) for a, b in zip(seen, in_order + in_order))
    shuffled = _recorded_batches(make(), X, y)  # the default still shuffles
    assert not all(np.array_equal(a, b) for a, b in zip(shuffled, in_order + in_order))


class _Recorder(torch.nn.Module):
    """A torch CharRNNTorch that remembers the state each call got and returned."""

    def __init__(self):
        super().__init__()
        self.inner = CharRNNTorch(V, 4, 6, seed=0).double()
        self.calls = []

    def forward(self, x, hx=None, *, return_state=False):
        out = self.inner(x, hx, return_state=return_state)
        if return_state:
            self.calls.append((hx, out[1]))
        return out


def _lm_data(batch_size=3, seq_len=5, n=200, seed=0):
    ids = np.random.default_rng(seed).integers(0, V, n)
    return tbptt_windows(ids, seq_len, batch_size)


def test_torch_tbptt_carries_the_detached_state_and_resets_each_epoch():
    X, Y = _lm_data()
    model = _Recorder()
    loss_fn = SequenceCrossEntropyLossTorch()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    step = tbptt_step(model, loss_fn, opt)
    fit(model, loss_fn, None, X, Y, epochs=2, batch_size=3, shuffle=False, train_step=step, device="cpu",
        progress=False)
    per_epoch = len(X) // 3
    assert len(model.calls) == 2 * per_epoch
    for epoch in range(2):
        calls = model.calls[epoch * per_epoch:(epoch + 1) * per_epoch]
        assert calls[0][0] is None  # each epoch starts from zeros
        for (_, final), (initial, _) in zip(calls[:-1], calls[1:]):
            for a, b in zip(final, initial):
                assert torch.equal(a.detach(), b) and b.grad_fn is None and not b.requires_grad


def _step_gradients(model, loss_fn, x, y, hx):
    model.zero_grad()
    logits = model(torch.from_numpy(x), hx, return_state=True)[0]
    loss_fn(logits, torch.from_numpy(y)).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def test_no_gradient_reaches_the_previous_batch():
    X, Y = _lm_data()
    model = CharRNNTorch(V, 4, 6, seed=1).double()
    loss_fn = SequenceCrossEntropyLossTorch()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # weights fixed: compare the gradients only
    step = tbptt_step(model, loss_fn, opt)
    step(torch.from_numpy(X[:3]), torch.from_numpy(Y[:3]))
    carried = tuple(s.clone() for s in step.state)
    step(torch.from_numpy(X[3:6]), torch.from_numpy(Y[3:6]))
    ours = {n: p.grad.clone() for n, p in model.named_parameters()}
    # the second batch alone, from the carried state taken as a constant
    alone = _step_gradients(model, loss_fn, X[3:6], Y[3:6], carried)
    # full BPTT: the second batch's loss backpropagated through the first batch as well
    model.zero_grad()
    _, state = model(torch.from_numpy(X[:3]), None, return_state=True)
    logits = model(torch.from_numpy(X[3:6]), state, return_state=True)[0]
    loss_fn(logits, torch.from_numpy(Y[3:6])).backward()
    for name, grad in ours.items():
        assert rel_error(grad.numpy(), alone[name].numpy()) <= 1e-12, name
    assert max(rel_error(ours[n].numpy(), p.grad.numpy()) for n, p in model.named_parameters()) > 1e-6


def test_numpy_tbptt_step_equals_the_torch_one():
    X, Y = _lm_data()
    model = CharRNN(V, 4, 6, dtype=np.float64, seed=2)
    twin = nn.to_torch(model)
    np_step = tbptt_step(model, SequenceCrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5), max_norm=0.25)
    t_step = tbptt_step(twin, SequenceCrossEntropyLossTorch(), torch.optim.SGD(twin.parameters(), lr=0.5),
                        max_norm=0.25)
    for k in range(3):
        rows = slice(3 * k, 3 * k + 3)
        a = np_step(X[rows], Y[rows])
        b = t_step(torch.from_numpy(X[rows]), torch.from_numpy(Y[rows]))
        assert abs(a - b) <= 1e-10 * abs(b)
        for s, t in zip(np_step.state, t_step.state):
            assert rel_error(s, t.numpy()) <= 1e-10
    assert np.allclose(np_step.grad_norms, t_step.grad_norms, rtol=1e-10, atol=0)
    assert max(np_step.grad_norms) > 0.25  # the clipping had something to do
    for name, p in twin.named_parameters():
        assert rel_error(model.state_dict()[name], p.detach().numpy()) <= 1e-10, name
    assert all(m.saved_count == 0 for m in model.modules())


def test_clipping_limits_the_update():
    X, Y = _lm_data()
    model = CharRNNTorch(V, 4, 6, seed=3).double()
    before = [p.detach().clone() for p in model.parameters()]
    step = tbptt_step(model, SequenceCrossEntropyLossTorch(), torch.optim.SGD(model.parameters(), lr=1.0),
                      max_norm=1e-3)
    step(torch.from_numpy(X[:3]), torch.from_numpy(Y[:3]))
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    total = step.grad_norms[0]
    assert total > 1e-3
    # torch's clip_grad_norm_ scales by max_norm / (total + 1e-6)
    assert abs(float(moved) - 1e-3 * total / (total + 1e-6)) <= 1e-9


def test_fit_trains_a_numpy_char_rnn_with_tbptt():
    ids = np.tile(np.arange(V), 40)  # a periodic text: each next id is determined
    X, Y = tbptt_windows(ids, 8, 4)
    model = CharRNN(V, 8, 16, seed=0)
    loss_fn = SequenceCrossEntropyLoss()
    step = tbptt_step(model, loss_fn, optim.Adam(model.parameters(), lr=0.02), max_norm=5.0)
    history = fit(model, loss_fn, None, X, Y, X[:4], Y[:4], epochs=6, batch_size=4, shuffle=False,
                  train_step=step, progress=False)
    assert history.train_loss[-1] < np.log(V) / 4  # from about log V (uniform guessing)
    assert history.val_acc[-1] > 0.9 and len(history.tracked["step_loss"]) == 6


def test_tbptt_refuses_shuffling_and_batches_of_another_size():
    X, Y = _lm_data()
    model = CharRNN(V, 4, 6, seed=0)
    loss_fn = SequenceCrossEntropyLoss()
    step = tbptt_step(model, loss_fn, optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="pass shuffle=False"):
        fit(model, loss_fn, None, X, Y, batch_size=3, train_step=step, progress=False)
    step(X[:3], Y[:3])
    with pytest.raises(ValueError, match="carries a state for 3 streams into a batch of 2"):
        step(X[3:5], Y[3:5])
    with pytest.raises(ValueError, match="needs a loss_fn and an optimizer"):
        tbptt_step(model, None, None)
    with pytest.raises(ValueError, match="max_norm must be positive"):
        tbptt_step(model, loss_fn, optim.SGD(model.parameters(), lr=0.1), max_norm=0)
    with pytest.raises(TypeError, match="dlbook.nn.Module or a torch.nn.Module"):
        tbptt_step(lambda x: x, loss_fn, object())
    with pytest.raises(ValueError, match="eval_batch_size must be >= 1"):
        fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.1), X, Y, eval_batch_size=0, progress=False)


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_evaluate_scores_sequences_per_position(framework):
    X, Y = _lm_data()
    model = CharRNN(V, 4, 6, dtype=np.float64, seed=4)
    with nn.no_grad():
        logits = model(X)
    accuracy = float((logits.argmax(-1) == Y).mean())  # over all N·L positions
    mean_loss = float(SequenceCrossEntropyLoss()(logits, Y))  # one batch: the mean over positions
    if framework == "torch":
        model, loss_fn = nn.to_torch(model), SequenceCrossEntropyLossTorch()
    else:
        loss_fn = SequenceCrossEntropyLoss()
    for batch_size in (len(X), 4):  # equal windows: the batch size changes nothing
        loss, acc = evaluate(model, loss_fn, X, Y, batch_size=batch_size, device="cpu")
        assert acc == accuracy and abs(loss - mean_loss) <= 1e-12 * mean_loss


@pytest.mark.gpu
def test_torch_tbptt_runs_on_cuda():
    X, Y = _lm_data()
    model = CharRNNTorch(V, 4, 6, seed=0)
    loss_fn = SequenceCrossEntropyLossTorch()
    step = tbptt_step(model.cuda(), loss_fn, torch.optim.Adam(model.parameters(), lr=0.01), max_norm=1.0)
    history = fit(model, loss_fn, None, X, Y, X[:3], Y[:3], epochs=2, batch_size=3, shuffle=False,
                  train_step=step, device="cuda", progress=False)
    assert all(s.device.type == "cuda" for s in step.state)
    assert np.isfinite(history.val_loss).all() and len(history.train_loss) == 2
