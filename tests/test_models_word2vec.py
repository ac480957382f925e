"""dlbook.models.word2vec: the batched hand-derived steps against autograd, the schedule, the
noise sampler, training on a corpus with a planted structure, determinism, saving, errors."""

import numpy as np
import pytest
import torch

import dlbook.models.word2vec as w2v
from dlbook.check import rel_error
from dlbook.models.word2vec import (NoiseSampler, Word2Vec, cbow_step, learning_rate,
                                    save_word2vec_format, sgns_loss, sgns_step, train_word2vec)
from dlbook.word2vec import Vocabulary, sgns_loss_and_grads

V, D = 7, 4


def _matrices(seed=0):
    g = torch.Generator().manual_seed(seed)
    # w_out random, not word2vec's zeros: every term of every gradient is then non-zero
    return (torch.randn(V, D, generator=g, dtype=torch.float64),
            torch.randn(V, D, generator=g, dtype=torch.float64))


# a batch with duplicate centers, contexts and negatives, and a negative equal to its context
CENTERS = torch.tensor([0, 3, 0, 5, 3, 6])
CONTEXTS = torch.tensor([1, 2, 1, 0, 4, 2])
NEGATIVES = torch.tensor([[2, 5, 2], [6, 6, 1], [3, 4, 5], [0, 1, 2], [4, 1, 0], [5, 3, 3]])


def _sigmoid_loss(score, label):
    return -torch.nn.functional.logsigmoid(score if label else -score)


def test_sgns_step_is_sgd_on_the_summed_loss_float64():
    w_in, w_out = _matrices()
    lr = 0.3
    # the loss written out example by example; word2vec skips a negative equal to the context
    a_in, a_out = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    loss = 0
    for b in range(len(CENTERS)):
        v = a_in[CENTERS[b]]
        loss = loss + _sigmoid_loss(a_out[CONTEXTS[b]] @ v, True)
        for k in NEGATIVES[b]:
            if k != CONTEXTS[b]:
                loss = loss + _sigmoid_loss(a_out[k] @ v, False)
    loss.backward()
    expected_in, expected_out = w_in - lr * a_in.grad, w_out - lr * a_out.grad

    new_in, new_out = w_in.clone(), w_out.clone()
    sgns_step(new_in, new_out, CENTERS, CONTEXTS, NEGATIVES, lr)
    assert rel_error(new_in.numpy(), expected_in.numpy()) <= 1e-12
    assert rel_error(new_out.numpy(), expected_out.numpy()) <= 1e-12
    assert rel_error(sgns_loss(w_in, w_out, CENTERS, CONTEXTS, NEGATIVES).item(), loss.item()) <= 1e-12
    # the rows that appear twice moved by two examples' worth, not one
    assert not torch.equal(new_in[0], w_in[0]) and not torch.equal(new_out[6], w_out[6])


def test_sgns_loss_equals_the_numpy_reference_summed():
    w_in, w_out = _matrices(1)
    negatives = torch.tensor([[3, 4], [5, 6], [2, 2]])  # none equals its context
    centers, contexts = torch.tensor([0, 1, 0]), torch.tensor([1, 2, 6])
    reference = sum(sgns_loss_and_grads(w_in.numpy(), w_out.numpy(), int(c), int(o), n.numpy())[0]
                    for c, o, n in zip(centers, contexts, negatives))
    ours = sgns_loss(w_in, w_out, centers, contexts, negatives).item()
    assert rel_error(ours, reference) <= 1e-12


def test_cbow_step_is_word2vec_update_float64():
    """w_out: SGD on the summed loss (h the mean of the contexts); w_in: each used context word
    gets the whole step of h, -lr * dL/dh, as word2vec's C code and gensim do."""
    w_in, w_out = _matrices(2)
    contexts = torch.tensor([[1, 2, -1, 2], [0, -1, -1, 3], [1, 5, 6, 0]])
    targets = torch.tensor([3, 4, 3])
    negatives = torch.tensor([[0, 6], [4, 2], [2, 2]])  # 4 equals its target: skipped
    lr = 0.2
    a_out = w_out.clone().requires_grad_()
    hs, loss = [], 0
    for b in range(len(targets)):
        used = contexts[b][contexts[b] >= 0]
        h = w_in[used].mean(0).clone().requires_grad_()
        hs.append((used, h))
        loss = loss + _sigmoid_loss(a_out[targets[b]] @ h, True)
        for k in negatives[b]:
            if k != targets[b]:
                loss = loss + _sigmoid_loss(a_out[k] @ h, False)
    loss.backward()
    expected_in = w_in.clone()
    for used, h in hs:
        for word in used:
            expected_in[word] -= lr * h.grad
    expected_out = w_out - lr * a_out.grad

    new_in, new_out = w_in.clone(), w_out.clone()
    cbow_step(new_in, new_out, contexts, targets, negatives, lr)
    assert rel_error(new_in.numpy(), expected_in.numpy()) <= 1e-12
    assert rel_error(new_out.numpy(), expected_out.numpy()) <= 1e-12
    assert torch.equal(new_in[4], w_in[4])  # 4 is no context word: untouched


def test_learning_rate_decays_linearly():
    assert learning_rate(0.0) == 0.025
    assert learning_rate(1.0, 0.025, 1e-4) == pytest.approx(1e-4, rel=1e-12, abs=0)
    assert learning_rate(0.5, 0.1, 0.0) == pytest.approx(0.05, rel=1e-12, abs=0)
    with pytest.raises(ValueError, match="progress"):
        learning_rate(1.5)


def _planted_corpus(seed=0, sentences=400, length=12):
    """Two groups of 8 words; a sentence draws its words from one group only."""
    rng = np.random.default_rng(seed)
    groups = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]
    corpus = [list(rng.choice(groups[n % 2], size=length)) for n in range(sentences)]
    vocab = Vocabulary.build(corpus, min_count=1)
    return corpus, vocab, vocab.encode(corpus)


def _nearest_in_own_group(words, vectors) -> float:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    nearest = cosine.argmax(axis=1)
    return np.mean([words[i][0] == words[j][0] for i, j in enumerate(nearest)])


TRAIN = dict(dim=16, window=3, negative=4, epochs=5, sample=0, batch_size=256, device="cpu",
             progress=False)


@pytest.mark.parametrize("sg", [True, False])
def test_training_separates_words_that_never_meet(sg):
    _, vocab, ids = _planted_corpus()
    model, stats = train_word2vec(ids, vocab, sg=sg, **TRAIN)
    vectors = model.vectors()
    assert np.isfinite(vectors).all()
    # every word's nearest neighbour is from its own group (chance: 7 of 15)
    assert _nearest_in_own_group(vocab.words, vectors) == 1.0
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    group = np.array([w[0] == "a" for w in vocab.words])
    within = (unit[group] @ unit[group].T).mean()
    across = (unit[group] @ unit[~group].T).mean()
    assert within > across
    assert stats["words"] == TRAIN["epochs"] * sum(len(s) for s in ids)
    assert stats["effective_words"] == stats["words"]  # sample=0: nothing dropped


def test_two_workers_train_too():
    _, vocab, ids = _planted_corpus(1)
    model, stats = train_word2vec(ids, vocab, workers=2, **TRAIN)
    assert stats["workers"] == 2
    assert _nearest_in_own_group(vocab.words, model.vectors()) == 1.0


def test_same_seed_same_vectors():
    _, vocab, ids = _planted_corpus()
    settings = {**TRAIN, "epochs": 2, "sample": 1e-2}
    first = train_word2vec(ids, vocab, seed=3, **settings)[0].vectors()
    again = train_word2vec(ids, vocab, seed=3, **settings)[0].vectors()
    other = train_word2vec(ids, vocab, seed=4, **settings)[0].vectors()
    assert np.array_equal(first, again)
    assert not np.allclose(first, other, rtol=1e-3, atol=0)


def test_schedule_of_the_training_loop(monkeypatch):
    rates = []
    real_step = w2v.sgns_step
    monkeypatch.setattr(w2v, "sgns_step", lambda *args: (rates.append(args[-1]), real_step(*args)))
    _, vocab, ids = _planted_corpus()
    alpha, min_alpha, epochs, batch = 0.05, 0.001, 3, 256
    _, stats = train_word2vec(ids, vocab, **{**TRAIN, "epochs": epochs, "batch_size": batch},
                              alpha=alpha, min_alpha=min_alpha)
    steps_per_epoch = -(-stats["examples"] // epochs // batch)
    assert rates[0] == alpha
    assert np.all(np.diff(rates) < 0)
    # the last step starts one batch before the end: within a step's worth of min_alpha
    one_step = (alpha - min_alpha) / (epochs * (steps_per_epoch - 1))
    assert min_alpha < rates[-1] <= min_alpha + one_step


def test_noise_sampler_draws_the_distribution():
    p = np.array([0.5, 0.25, 0.125, 0.0625, 0.0625])
    draws = NoiseSampler(p).sample((200_000,), torch.Generator().manual_seed(0)).numpy()
    frequency = np.bincount(draws, minlength=len(p)) / len(draws)
    sd = np.sqrt(p * (1 - p) / len(draws))
    assert np.all(np.abs(frequency - p) < 5 * sd)  # 5 binomial standard deviations
    assert np.bincount(NoiseSampler([0.0, 1.0]).sample((1000,)).numpy(), minlength=2)[0] == 0


def test_word2vec_initialisation():
    model = Word2Vec(50, 20, seed=1)
    assert [name for name, _ in model.named_parameters()] == ["w_in", "w_out"]
    assert model.w_in.abs().max() <= 0.5 / 20 and model.w_in.std() > 0.1 / 20
    assert torch.count_nonzero(model.w_out) == 0
    assert torch.equal(Word2Vec(50, 20, seed=1).w_in, model.w_in)


def test_saved_file_loads_in_gensim(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    words = ["the", "cat", "sat", "on", "mat"]
    vectors = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32) * 1e-3
    path = save_word2vec_format(tmp_path / "vectors.txt", words, vectors)
    loaded = gensim_models.KeyedVectors.load_word2vec_format(str(path))
    assert loaded.index_to_key == words
    assert np.array_equal(loaded.vectors, vectors)


@pytest.mark.parametrize("change, message", [
    (dict(sentences_ids=[]), "empty corpus"),
    (dict(sentences_ids=[np.array([3])]), "empty corpus"),
    (dict(window=0), "window"),
    (dict(negative=0), "negative"),
    (dict(epochs=0), "epochs"),
    (dict(sample=1.5), "sample"),
    (dict(alpha=0.01, min_alpha=0.1), "min_alpha"),
    (dict(sentences_ids=[np.array([0, 99])]), "outside"),
    (dict(sentences_ids=[np.array([0.0, 1.0])]), "integer"),
])
def test_bad_training_input(change, message):
    _, vocab, ids = _planted_corpus()
    kwargs = {**TRAIN, "sentences_ids": ids, **change}
    with pytest.raises(ValueError, match=message):
        train_word2vec(kwargs.pop("sentences_ids"), vocab, **kwargs)


def test_other_errors(tmp_path):
    with pytest.raises(ValueError, match="dim"):
        Word2Vec(10, 0)
    with pytest.raises(TypeError, match="Vocabulary"):
        train_word2vec([np.array([0, 1])], ["a", "b"])
    with pytest.raises(ValueError, match="one float row per word"):
        save_word2vec_format(tmp_path / "x.txt", ["a"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="whitespace"):
        save_word2vec_format(tmp_path / "x.txt", ["a b"], np.zeros((1, 3)))
    with pytest.raises(ValueError, match="context word"):
        cbow_step(*_matrices(), torch.tensor([[-1, -1]]), torch.tensor([0]), torch.tensor([[1]]), 0.1)
    with pytest.raises(ValueError, match="sum"):
        NoiseSampler([0.5, 0.6])


@pytest.mark.gpu
def test_training_on_cuda():
    _, vocab, ids = _planted_corpus()
    model, stats = train_word2vec(ids, vocab, **{**TRAIN, "device": "cuda"})
    assert model.w_in.device.type == "cuda" and stats["device"].startswith("cuda")
    assert _nearest_in_own_group(vocab.words, model.vectors()) == 1.0
    # the same step on CUDA and the CPU, float64
    w_in, w_out = _matrices()
    cpu_in, cpu_out = w_in.clone(), w_out.clone()
    sgns_step(cpu_in, cpu_out, CENTERS, CONTEXTS, NEGATIVES, 0.3)
    gpu_in, gpu_out = w_in.cuda(), w_out.cuda()
    sgns_step(gpu_in, gpu_out, CENTERS.cuda(), CONTEXTS.cuda(), NEGATIVES.cuda(), 0.3)
    assert rel_error(gpu_in.cpu().numpy(), cpu_in.numpy()) <= 1e-12
    assert rel_error(gpu_out.cpu().numpy(), cpu_out.numpy()) <= 1e-12
