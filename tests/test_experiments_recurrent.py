"""Chapter 6's experiments: gradient norms through time (against torch autograd and the bound
||W_hh||^k), the unigram baseline by hand, stream loss and sampling, recursive nets vs the RNN,
and (slow) the two language models beating the unigram baseline."""

import math

import numpy as np
import pytest
import torch

from dlbook import nn
from dlbook.check import rel_error
from dlbook.data import TANG300_PATH, CharVocabulary
from dlbook.experiments.recurrent import (TreeRNN, balanced_tree, gradient_norms_through_time,
                                          gradient_norms_torch, gradient_setup, left_chain, sample,
                                          stream_loss, tree_depth, unigram_cross_entropy)
from dlbook.models import CharRNN, SequenceCrossEntropyLoss

CASES = [dict(kind="rnn", recurrent_scale=0.5), dict(kind="rnn", recurrent_scale=3.0), dict(kind="rnn"),
         dict(kind="lstm"), dict(kind="lstm", forget_bias=3.0)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_gradient_norms_equal_torch_autograd(case):
    ours, theirs = gradient_norms_through_time(**case), gradient_norms_torch(**case)
    assert ours.shape == (51,) and ours[-1] == 1.0
    assert np.allclose(ours, theirs, rtol=1e-10, atol=0)


def test_small_recurrent_weights_vanish_large_ones_explode():
    steps, scale = 50, 0.5
    cell, _, _ = gradient_setup("rnn", steps, recurrent_scale=scale)
    assert np.allclose(np.linalg.svd(cell.weight_hh, compute_uv=False), scale, rtol=1e-12, atol=0)
    small = gradient_norms_through_time("rnn", steps, recurrent_scale=scale)
    # each step back multiplies by W_hh^T diag(tanh') with ||W_hh|| = 0.5 and tanh' <= 1
    bound = scale ** (steps - np.arange(steps + 1))
    assert np.all(small <= bound * (1 + 1e-9))
    large = gradient_norms_through_time("rnn", steps, recurrent_scale=3.0)
    assert large[0] > 1  # more gradient reaches the first step than left the last: it grew


def test_open_forget_gates_keep_the_lstm_gradient():
    closed = gradient_norms_through_time("lstm", 50)
    open_ = gradient_norms_through_time("lstm", 50, forget_bias=3.0)
    # sigmoid(3) = 0.95 instead of about sigmoid(0) = 0.5 on the cell path, per step
    assert open_[0] > 1e3 * closed[0]


def test_gradient_setup_bad_input():
    with pytest.raises(ValueError, match="kind must be one of"):
        gradient_norms_through_time("gru")
    with pytest.raises(ValueError, match="recurrent_scale is a positive number for kind='rnn'"):
        gradient_setup("lstm", recurrent_scale=2.0)
    with pytest.raises(ValueError, match="forget_bias applies to kind='lstm'"):
        gradient_setup("rnn", forget_bias=1.0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        gradient_setup("rnn", steps=0)


def test_the_unigram_baseline_by_hand():
    vocab = CharVocabulary("abc")
    train, held_out = vocab.encode("aab"), vocab.encode("ab")
    # add-one counts a: 3, b: 2, c: 1 of 6, so p(a) = 1/2, p(b) = 1/3
    assert math.isclose(unigram_cross_entropy(train, held_out, 3), math.log(6) / 2, rel_tol=1e-15)
    # alpha = 0.5: a 2.5, b 1.5, c 0.5 of 4.5
    expected = -(math.log(2.5 / 4.5) + math.log(1.5 / 4.5)) / 2
    assert math.isclose(unigram_cross_entropy(train, held_out, 3, alpha=0.5), expected, rel_tol=1e-15)
    with pytest.raises(ValueError, match=r"eval_ids must lie in \[0, 3\)"):
        unigram_cross_entropy(train, np.array([3]), 3)
    with pytest.raises(ValueError, match="non-empty 1-D integer array"):
        unigram_cross_entropy(train, np.array([], dtype=np.int64), 3)
    with pytest.raises(ValueError, match="alpha must be positive"):
        unigram_cross_entropy(train, held_out, 3, alpha=0)


@pytest.fixture(scope="module")
def small_lm():
    vocab = CharVocabulary("春眠不觉晓处闻啼鸟，。\n")
    return CharRNN(len(vocab), 5, 8, dtype=np.float64, seed=0), vocab


def test_stream_loss_carries_the_state_across_chunks(small_lm):
    model, vocab = small_lm
    ids = vocab.encode("春眠不觉晓，处处闻啼鸟。\n春眠不觉晓，处处闻啼鸟。\n")
    with nn.no_grad():
        whole = float(SequenceCrossEntropyLoss()(model(ids[None, :-1]), ids[None, 1:]))
    for chunk_len in (1, 5, 1000):
        assert math.isclose(stream_loss(model, ids, chunk_len=chunk_len), whole, rel_tol=1e-12)
    with pytest.raises(ValueError, match="at least 2 ids"):
        stream_loss(model, ids[:1])


def _greedy_by_rerunning(model, vocab, prompt, length):
    """The argmax continuation, recomputed from the whole text at every step (no carried state)."""
    ids = list(vocab.encode(prompt))
    with nn.no_grad():
        for _ in range(length):
            ids.append(int(model(np.array([ids]))[0, -1].argmax()))
    return vocab.decode(np.array(ids))


def test_sampling_is_seeded_and_temperature_zero_is_the_argmax(small_lm):
    model, vocab = small_lm
    a = sample(model, vocab, "春眠", 40, temperature=1.0, seed=5)
    assert a == sample(model, vocab, "春眠", 40, temperature=1.0, seed=5)
    assert a != sample(model, vocab, "春眠", 40, temperature=1.0, seed=6)
    assert a.startswith("春眠") and len(a) == 42
    greedy = _greedy_by_rerunning(model, vocab, "春眠", 30)
    assert sample(model, vocab, "春眠", 30, temperature=0) == greedy
    assert sample(model, vocab, "春眠", 30, temperature=1e-9, seed=1) == greedy  # the limit T -> 0
    assert sample(nn.to_torch(model), vocab, "春眠", 40, temperature=1.0, seed=5) == a  # the torch twin
    assert model.training  # sampling restores the mode
    with pytest.raises(ValueError, match="non-empty prompt"):
        sample(model, vocab, "", 5)
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        sample(model, vocab, "春", 5, temperature=-1.0)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        sample(model, vocab, "秋", 5)


def test_trees():
    assert left_chain(1) == 0 and left_chain(4) == (((0, 1), 2), 3)
    assert tree_depth(left_chain(8)) == 7 and tree_depth(balanced_tree(range(8))) == 3
    assert balanced_tree(range(3)) == ((0, 1), 2) and tree_depth(5) == 0


def test_a_recursive_net_over_a_left_chain_is_the_elman_rnn():
    H, n = 6, 7
    rng = np.random.default_rng(0)
    tree_net = TreeRNN(H, dtype=np.float64, seed=1)
    rnn = nn.RNN(H, H, dtype=np.float64)
    rnn.load_state_dict({f"{k}_l0": v for k, v in tree_net.cell.state_dict().items()})
    x, h0 = rng.standard_normal((n, H)), rng.standard_normal((1, H))
    leaves = np.concatenate([h0, x])  # leaf 0 is the initial state, leaves 1..n the inputs
    root = tree_net(leaves, left_chain(n + 1))
    output, h_n = rnn(x, h0)
    assert rel_error(root, h_n[0]) <= 1e-15 and rel_error(root, output[-1]) <= 1e-15
    d_root = rng.standard_normal(H)
    d_leaves = tree_net.backward(d_root)
    d_output = np.zeros_like(output)
    d_output[-1] = d_root
    d_x, d_h0 = rnn.backward(d_output)
    assert rel_error(d_leaves[1:], d_x) <= 1e-12 and rel_error(d_leaves[0], d_h0[0]) <= 1e-12
    for name, p in tree_net.cell.named_parameters():
        assert rel_error(p.grad, getattr(rnn, f"{name}_l0").grad) <= 1e-12, name


def test_a_recursive_net_over_a_balanced_tree_matches_torch_autograd():
    H, n = 5, 6
    rng = np.random.default_rng(2)
    tree_net = TreeRNN(H, dtype=np.float64, seed=3)
    leaves = rng.standard_normal((n, H))
    tree = balanced_tree(range(n))
    d_root = rng.standard_normal(H)
    root = tree_net(leaves, tree)
    d_leaves = tree_net.backward(d_root)
    cell = nn.to_torch(tree_net.cell)
    leaves_t = torch.tensor(leaves, requires_grad=True)

    def compose(node):
        return cell(compose(node[1]), compose(node[0])) if isinstance(node, tuple) else leaves_t[node]

    root_t = compose(tree)
    (root_t * torch.from_numpy(d_root)).sum().backward()
    assert rel_error(root, root_t.detach().numpy()) <= 1e-12
    assert rel_error(d_leaves, leaves_t.grad.numpy()) <= 1e-12
    for name, p in cell.named_parameters():
        assert rel_error(getattr(tree_net.cell, name).grad, p.grad.numpy()) <= 1e-12, name
    with pytest.raises(ValueError, match="a leaf is an index in"):
        tree_net(leaves, (0, n))
    with pytest.raises(ValueError, match="inner node is a pair"):
        tree_net(leaves, (0, 1, 2))
    with pytest.raises(ValueError, match=r"leaves of shape \(n, 5\)"):
        tree_net(leaves[:, :4], 0)


@pytest.mark.slow
def test_the_torch_language_model_beats_the_unigram_baseline():
    from dlbook.experiments.recurrent import char_lm_model, train_char_lm

    result = train_char_lm(epochs=3, progress=False, device="cpu")
    assert result["val_loss"] < result["unigram_val"] and result["test_loss"] < result["unigram_test"]
    assert result["history"].val_loss[-1] < result["history"].val_loss[0]
    model = char_lm_model(result)  # rebuilt from the returned weights: the same validation loss
    from dlbook.data import load_tang_poems, split_by_poem

    val_ids = result["vocabulary"].encode(split_by_poem(load_tang_poems(), 0.1, 0.1, seed=0).val)
    assert math.isclose(stream_loss(model, val_ids), result["val_loss"], rel_tol=1e-6)
    text = sample(model, result["vocabulary"], "《", 20, temperature=0.8, seed=0)
    assert len(text) == 21


@pytest.mark.skipif(not TANG300_PATH.is_file(), reason="fortunes-zh is not installed (scripts/setup.sh installs it)")
def test_the_numpy_language_model_learns():
    from dlbook.experiments.recurrent import train_numpy_char_lm

    result = train_numpy_char_lm(train_chars=2000, epochs=3, progress=False)
    losses = result["history"].train_loss
    assert losses[-1] < losses[0] < math.log(2578)  # below uniform guessing, and falling


@pytest.mark.gpu
def test_the_torch_language_model_trains_on_cuda():
    from dlbook.experiments.recurrent import char_lm_model, train_char_lm

    result = train_char_lm(epochs=1, hidden_size=64, device="cuda", progress=False)
    assert result["device"].startswith("cuda")
    assert np.isfinite(result["val_loss"]) and result["val_loss"] < math.log(len(result["vocabulary"]))
    model = char_lm_model(result, device="cuda")
    cpu = char_lm_model(result, device="cpu")
    ids = result["vocabulary"].encode("《静夜思》\n作者：李白\n床前明月光")
    assert math.isclose(stream_loss(model, ids), stream_loss(cpu, ids), rel_tol=1e-4)
