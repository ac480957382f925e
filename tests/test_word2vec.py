"""dlbook.word2vec: the vocabulary, subsampling, the noise distribution and the sliding-window
examples against hand-written tables and gensim; the four losses and their hand-derived
gradients against torch autograd (float64) and finite differences; the errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbook.check import numerical_gradient, rel_error
from dlbook.word2vec import (Vocabulary, cbow_ns_loss_and_grads, cbow_softmax_loss_and_grads, cbow_windows,
                             keep_probabilities, noise_distribution, sg_softmax_loss_and_grads,
                             sgns_loss_and_grads, skipgram_pairs, subsample)

SENTENCES = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"], ["a", "dog"]]
# counted by hand: the 3, dog 2, sat 2, a 1, cat 1, mat 1, on 1


def _zipf_corpus(n_tokens=60_000, vocab=3_000, seed=0):
    """Sentences of random words with Zipf-like frequencies (a few very frequent, many rare)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1)
    ids = rng.choice(vocab, size=n_tokens, p=p / p.sum())
    return [[f"w{i}" for i in ids[start:start + 20]] for start in range(0, n_tokens, 20)]


# -- vocabulary ---------------------------------------------------------------------------------
def test_vocabulary_order_and_counts_match_a_hand_count():
    vocab = Vocabulary.build(SENTENCES, min_count=1)
    assert vocab.words == ("the", "dog", "sat", "a", "cat", "mat", "on")  # by count, ties alphabetical
    assert vocab.counts.dtype == np.int64
    assert vocab.counts.tolist() == [3, 2, 2, 1, 1, 1, 1]
    assert vocab.index == {w: i for i, w in enumerate(vocab.words)}
    assert len(vocab) == 7 and vocab.total == 11 and "cat" in vocab


def test_min_count_keeps_the_frequent_words_and_encode_drops_the_others():
    vocab = Vocabulary.build(SENTENCES, min_count=2)
    assert vocab.words == ("the", "dog", "sat") and vocab.counts.tolist() == [3, 2, 2]
    encoded = vocab.encode(SENTENCES)
    assert [e.tolist() for e in encoded] == [[0, 2, 0], [0, 1, 2], [1]]
    assert all(e.dtype == np.int64 for e in encoded)
    assert vocab.lookup("sat") == 2
    with pytest.raises(KeyError, match=r"'cat'.*min_count=2"):
        vocab.lookup("cat")


def test_vocabulary_matches_gensims():
    from gensim.models import Word2Vec

    corpus = _zipf_corpus()
    vocab = Vocabulary.build(corpus, min_count=5)
    model = Word2Vec(min_count=5, sample=1e-3, seed=0, workers=1)
    model.build_vocab(corpus)
    gensim_counts = {w: model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key}
    assert dict(zip(vocab.words, vocab.counts.tolist())) == gensim_counts
    # both number the words by descending count (gensim breaks ties by first occurrence)
    np.testing.assert_array_equal(vocab.counts, [gensim_counts[w] for w in model.wv.index_to_key])


# -- subsampling and noise --------------------------------------------------------------------
def test_keep_probabilities_by_hand():
    counts = np.array([100, 10, 1])
    t = 1e-2 * 111  # sample · total
    expected = [(math.sqrt(100 / t) + 1) * t / 100,  # 0.1165
                (math.sqrt(10 / t) + 1) * t / 10,  # 0.4441
                1.0]  # (sqrt(1/1.11) + 1) · 1.11 = 2.16, clipped
    keep = keep_probabilities(counts, sample=1e-2)
    assert keep.dtype == np.float64
    np.testing.assert_allclose(keep, expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(keep[:2], [0.11646, 0.44417], rtol=1e-4, atol=0)  # worked out on paper


def test_a_dominant_word_keeps_about_sqrt_sample_over_its_frequency():
    counts = np.array([10**6, *([1] * 10**4)])  # one word is ~99% of the corpus
    keep = keep_probabilities(counts, sample=1e-4)
    fraction = counts[0] / counts.sum()
    # keep = sqrt(t/f) + t/f with t/f = sample / fraction: the second term is small here
    np.testing.assert_allclose(keep[0], math.sqrt(1e-4 / fraction) + 1e-4 / fraction, rtol=1e-12, atol=0)
    assert np.all(keep[1:] == 1.0)


def test_keep_probabilities_match_gensims_sample_int():
    """gensim stores uint32(keep · (2**32 - 1)) per word and keeps a word when that is >= a random
    uint32: the same truncation of our probabilities must give its integers exactly."""
    from gensim.models import Word2Vec

    corpus = _zipf_corpus()
    vocab = Vocabulary.build(corpus, min_count=5)
    for sample in (1e-3, 1e-4):
        model = Word2Vec(min_count=5, sample=sample, seed=0, workers=1)
        model.build_vocab(corpus)
        theirs = np.array([model.wv.get_vecattr(w, "sample_int") for w in vocab.words], dtype=np.uint32)
        ours = (keep_probabilities(vocab.counts, sample) * (2**32 - 1)).astype(np.uint32)
        assert (ours < 2**32 - 1).sum() > 10  # some words are subsampled at all
        np.testing.assert_array_equal(ours, theirs)


def test_subsample_keeps_each_word_at_its_rate():
    n = 100_000
    ids = np.repeat(np.arange(3), n)
    keep = np.array([0.1, 0.5, 1.0])
    kept = subsample(ids, keep, np.random.default_rng(0))
    rates = np.bincount(kept, minlength=3) / n
    # a binomial count: standard deviation sqrt(p(1-p)/n) <= 0.0016; allow 5 of them
    tolerance = 5 * np.sqrt(keep * (1 - keep) / n)
    assert np.all(np.abs(rates - keep) <= tolerance)
    assert rates[2] == 1.0
    sentences = [ids[:10], ids[n:n + 5], ids[2 * n:2 * n + 7]]
    parts = subsample(sentences, keep, 1)
    assert len(parts) == 3 and parts[2].tolist() == [2] * 7  # sentences stay apart and in order
    assert set(parts[0].tolist()) <= {0} and set(parts[1].tolist()) <= {1}


def test_noise_distribution_by_hand():
    counts = np.array([1, 16, 81])  # 1^0.75, 16^0.75, 81^0.75 = 1, 8, 27
    np.testing.assert_allclose(noise_distribution(counts), np.array([1, 8, 27]) / 36, rtol=1e-15, atol=0)
    np.testing.assert_allclose(noise_distribution(counts, power=1.0), counts / 98, rtol=1e-15, atol=0)
    np.testing.assert_allclose(noise_distribution(counts, power=0.0), np.full(3, 1 / 3), rtol=1e-15, atol=0)


def test_noise_distribution_matches_gensims_cumulative_table():
    from gensim.models import Word2Vec

    corpus = _zipf_corpus()
    model = Word2Vec(min_count=5, negative=5, seed=0, workers=1)
    model.build_vocab(corpus)
    counts = np.array([model.wv.get_vecattr(w, "count") for w in model.wv.index_to_key])
    domain = 2**31 - 1  # gensim's cum_table holds round(cumulative probability · domain)
    theirs = np.diff(np.concatenate([[0], model.cum_table.astype(np.float64)])) / domain
    ours = noise_distribution(counts)
    rounding = 1 / domain  # each of two rounded table entries is off by at most half a unit
    np.testing.assert_allclose(theirs, ours, rtol=rounding / ours.min(), atol=0)


# -- the sliding window -----------------------------------------------------------------------
IDS = np.array([10, 11, 12, 13, 14])  # "the quick brown fox jumps"; position p holds id 10 + p
PAIRS_WINDOW_1 = [(10, 11), (11, 10), (11, 12), (12, 11), (12, 13), (13, 12), (13, 14), (14, 13)]
PAIRS_WINDOW_2 = [(10, 11), (10, 12),
                  (11, 10), (11, 12), (11, 13),
                  (12, 10), (12, 11), (12, 13), (12, 14),
                  (13, 11), (13, 12), (13, 14),
                  (14, 12), (14, 13)]


@pytest.mark.parametrize("window, table", [(1, PAIRS_WINDOW_1), (2, PAIRS_WINDOW_2)])
def test_skipgram_pairs_of_a_sentence_by_hand(window, table):
    centers, contexts = skipgram_pairs(IDS, window, reduced=False)
    assert centers.dtype == contexts.dtype == np.int64
    assert list(zip(centers.tolist(), contexts.tolist())) == table


def test_pairs_never_cross_sentences():
    centers, contexts = skipgram_pairs([IDS[:2], IDS[2:]], 2, reduced=False)
    assert list(zip(centers.tolist(), contexts.tolist())) == [
        (10, 11), (11, 10), (12, 13), (12, 14), (13, 12), (13, 14), (14, 12), (14, 13)]
    centers, _ = skipgram_pairs([np.array([7]), IDS[:0], IDS[:2]], 3, reduced=False)
    assert centers.tolist() == [10, 11]  # a one-word sentence has no pair, an empty one nothing


def test_reduced_windows_are_uniform_in_1_to_window():
    window, n = 5, 20_000
    ids = np.arange(n + 2 * window)  # distinct ids: an id is its position
    centers, contexts = skipgram_pairs(ids, window, rng=np.random.default_rng(0))
    interior = (centers >= window) & (centers < n + window)  # both sides hold a full window
    distance = np.abs(contexts - centers)[interior]
    reach = np.zeros(len(ids), dtype=np.int64)
    np.maximum.at(reach, centers[interior], distance)
    reach = reach[window:n + window]
    per_center = np.bincount(centers[interior], minlength=len(ids))[window:n + window]
    assert np.all(per_center == 2 * reach)  # every word within the drawn window on both sides
    assert reach.min() == 1 and reach.max() == window
    frequencies = np.bincount(reach, minlength=window + 1)[1:] / n
    # each frequency is a binomial proportion with p = 1/5: sd sqrt(p(1-p)/n) = 0.0028; allow 5
    tolerance = 5 * math.sqrt(0.2 * 0.8 / n)
    assert np.all(np.abs(frequencies - 1 / window) <= tolerance), frequencies
    # so distance k is used with probability (window - k + 1) / window
    used = np.bincount(distance, minlength=window + 1)[1:] / (2 * n)
    expected = (window - np.arange(1, window + 1) + 1) / window
    assert np.all(np.abs(used - expected) <= 5 * np.sqrt(expected * (1 - expected) / n)), used


def test_reduced_windows_follow_the_seed():
    first = skipgram_pairs(np.arange(200), 5, rng=3)
    second = skipgram_pairs(np.arange(200), 5, rng=np.random.default_rng(3))
    other = skipgram_pairs(np.arange(200), 5, rng=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert len(other[0]) != len(first[0]) or not np.array_equal(other[1], first[1])


def test_cbow_windows_by_hand():
    contexts, targets = cbow_windows(IDS, 2, reduced=False)
    assert contexts.dtype == targets.dtype == np.int64
    assert targets.tolist() == [10, 11, 12, 13, 14]
    # columns: offsets -2, -1, +1, +2; -1 pads outside the sentence
    assert contexts.tolist() == [[-1, -1, 11, 12],
                                 [-1, 10, 12, 13],
                                 [10, 11, 13, 14],
                                 [11, 12, 14, -1],
                                 [12, 13, -1, -1]]
    contexts, targets = cbow_windows([IDS[:2], np.array([7]), IDS[2:3]], 1, reduced=False)
    assert targets.tolist() == [10, 11] and contexts.tolist() == [[-1, 11], [10, -1]]


def test_cbow_windows_hold_the_skipgram_pairs_of_the_same_draw():
    ids = [np.arange(0, 50), np.arange(100, 137)]
    centers, context_ids = skipgram_pairs(ids, 4, rng=7)
    contexts, targets = cbow_windows(ids, 4, rng=7)
    from_cbow = sorted((t, c) for t, row in zip(targets.tolist(), contexts.tolist()) for c in row if c >= 0)
    assert from_cbow == sorted(zip(centers.tolist(), context_ids.tolist()))


def test_pair_generation_handles_the_size_of_a_real_corpus():
    """Many sentences at once, vectorised (the benchmark script measures the time)."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 3_000, size=200)
    sentences = [rng.integers(0, 9_000, size=n) for n in lengths]
    centers, contexts = skipgram_pairs(sentences, 5, rng=0, reduced=False)
    # a sentence of n words has sum over distances k <= min(5, n - 1) of 2 (n - k) pairs
    expected = sum(2 * (n - k) for n in lengths.tolist() for k in range(1, min(5, n - 1) + 1))
    assert len(centers) == expected


# -- the NumPy reference against torch autograd and finite differences --------------------------
V, D = 7, 4


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.7, (V, D)), rng.normal(0, 0.7, (V, D))


# a negative repeated and one equal to the true output word: each slot gets its own gradient and
# the matrix gradient is their sum (np.add.at)
NEGATIVES = np.array([3, 5, 3, 1])
CONTEXTS = np.array([4, -1, 6, 4])  # a padded CBOW row with a repeated word


def _matrix_grads(kind, w_in, w_out):
    """Our loss and gradients wrt the whole matrices (slot gradients added at their rows)."""
    grad_in, grad_out = np.zeros_like(w_in), np.zeros_like(w_out)
    if kind == "sgns":
        loss, g_center, g_context, g_neg = sgns_loss_and_grads(w_in, w_out, 2, 1, NEGATIVES)
        np.add.at(grad_in, 2, g_center)
        np.add.at(grad_out, [1, *NEGATIVES], np.vstack([g_context, g_neg]))
    elif kind == "cbow_ns":
        loss, g_contexts, g_target, g_neg = cbow_ns_loss_and_grads(w_in, w_out, CONTEXTS, 1, NEGATIVES)
        used = CONTEXTS >= 0
        np.add.at(grad_in, CONTEXTS[used], g_contexts[used])
        assert np.all(g_contexts[~used] == 0)
        np.add.at(grad_out, [1, *NEGATIVES], np.vstack([g_target, g_neg]))
    elif kind == "sg_softmax":
        loss, g_center, grad_out = sg_softmax_loss_and_grads(w_in, w_out, 2, 1)
        np.add.at(grad_in, 2, g_center)
    else:
        loss, g_contexts, grad_out = cbow_softmax_loss_and_grads(w_in, w_out, CONTEXTS, 1)
        used = CONTEXTS >= 0
        np.add.at(grad_in, CONTEXTS[used], g_contexts[used])
    return loss, grad_in, grad_out


def _torch_loss(kind, w_in, w_out):
    if kind.startswith("sg"):
        h = w_in[2]
    else:
        h = w_in[torch.as_tensor(CONTEXTS[CONTEXTS >= 0])].mean(dim=0)
    if kind.endswith("softmax"):
        return F.cross_entropy((w_out @ h)[None], torch.tensor([1]))
    return -F.logsigmoid(w_out[1] @ h) - F.logsigmoid(-(w_out[torch.as_tensor(NEGATIVES)] @ h)).sum()


KINDS = ["sgns", "cbow_ns", "sg_softmax", "cbow_softmax"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_and_gradients_match_torch_autograd(kind, seed):
    w_in, w_out = _weights(seed)
    loss, grad_in, grad_out = _matrix_grads(kind, w_in, w_out)
    t_in = torch.tensor(w_in, requires_grad=True)
    t_out = torch.tensor(w_out, requires_grad=True)
    t_loss = _torch_loss(kind, t_in, t_out)
    t_loss.backward()
    assert isinstance(loss, float)
    assert abs(loss - t_loss.item()) <= 1e-12 * abs(t_loss.item())
    assert rel_error(grad_in, t_in.grad.numpy()) <= 1e-12
    assert rel_error(grad_out, t_out.grad.numpy()) <= 1e-12
    assert np.count_nonzero(grad_in.any(axis=1)) == (1 if kind.startswith("sg") else 2)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_match_finite_differences(kind):
    w_in, w_out = _weights(2)
    _, grad_in, grad_out = _matrix_grads(kind, w_in, w_out)
    loss = lambda: _matrix_grads(kind, w_in, w_out)[0]  # noqa: E731
    assert rel_error(grad_in, numerical_gradient(loss, w_in)) <= 1e-8
    assert rel_error(grad_out, numerical_gradient(loss, w_out)) <= 1e-8


def test_large_scores_give_finite_losses():
    w_in, w_out = _weights(0)
    w_in, w_out = w_in * 60, w_out * 60  # scores of several thousand: naive exp overflows
    for kind in KINDS:
        loss, grad_in, grad_out = _matrix_grads(kind, w_in, w_out)
        assert np.isfinite(loss) and np.all(np.isfinite(grad_in)) and np.all(np.isfinite(grad_out))


def test_the_float32_reference_stays_float32():
    w_in, w_out = (w.astype(np.float32) for w in _weights(0))
    _, g_center, g_context, g_neg = sgns_loss_and_grads(w_in, w_out, 2, 1, NEGATIVES)
    assert g_center.dtype == g_context.dtype == g_neg.dtype == np.float32


# -- errors ------------------------------------------------------------------------------------
def test_empty_corpus():
    for sentences in ([], [[]], [[], []]):
        with pytest.raises(ValueError, match="empty corpus"):
            Vocabulary.build(sentences)
    with pytest.raises(ValueError, match="empty corpus"):
        skipgram_pairs([], 2)
    with pytest.raises(ValueError, match="empty corpus"):
        cbow_windows([np.zeros(0, dtype=np.int64)], 2)
    with pytest.raises(ValueError, match="min_count=5"):
        Vocabulary.build(SENTENCES, min_count=5)  # no word that frequent


def test_bad_sentences():
    with pytest.raises(TypeError, match="str"):
        Vocabulary.build("the cat sat")
    with pytest.raises(TypeError, match="split it"):
        Vocabulary.build(["the cat sat"])
    with pytest.raises(ValueError, match="integer array of word ids"):
        skipgram_pairs([np.array([0.5, 1.5])], 2)
    with pytest.raises(ValueError, match=">= 0"):
        skipgram_pairs(np.array([0, -3]), 2)


@pytest.mark.parametrize("window", [0, -1, 1.5, True])
def test_window_below_one(window):
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        skipgram_pairs(IDS, window)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        cbow_windows(IDS, window)


@pytest.mark.parametrize("min_count", [0, -2, 2.5])
def test_min_count_below_one(min_count):
    with pytest.raises(ValueError, match="min_count must be an int >= 1"):
        Vocabulary.build(SENTENCES, min_count=min_count)


@pytest.mark.parametrize("sample", [0, -1e-3, 1, 2.0])
def test_sample_outside_zero_one(sample):
    with pytest.raises(ValueError, match=r"sample must be a fraction in \(0, 1\)"):
        keep_probabilities(np.array([5, 3]), sample)


def test_negatives_below_one_and_bad_ids():
    w_in, w_out = _weights(0)
    with pytest.raises(ValueError, match="negatives must be >= 1"):
        sgns_loss_and_grads(w_in, w_out, 2, 1, np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="negatives must be >= 1"):
        cbow_ns_loss_and_grads(w_in, w_out, CONTEXTS, 1, [])
    with pytest.raises(ValueError, match=r"center must be a word id in \[0, 7\)"):
        sgns_loss_and_grads(w_in, w_out, 7, 1, NEGATIVES)
    with pytest.raises(ValueError, match=r"negatives must hold word ids in \[0, 7\)"):
        sgns_loss_and_grads(w_in, w_out, 2, 1, np.array([1, 9]))
    with pytest.raises(ValueError, match="only -1 padding"):
        cbow_softmax_loss_and_grads(w_in, w_out, np.array([-1, -1]), 1)
    with pytest.raises(ValueError, match=r"both be \(V, d\)"):
        sg_softmax_loss_and_grads(w_in, w_out[:, :3], 2, 1)
    with pytest.raises(TypeError, match="2-D float array"):
        sg_softmax_loss_and_grads(w_in.astype(np.int64), w_out, 2, 1)


def test_keep_and_noise_need_positive_counts():
    for bad in (np.array([3, 0]), np.array([]), np.array([[1, 2]])):
        with pytest.raises(ValueError, match="count"):
            keep_probabilities(bad)
        with pytest.raises(ValueError, match="count"):
            noise_distribution(bad)
    with pytest.raises(ValueError, match="probabilities in"):
        subsample(IDS, np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="< 2"):
        subsample(np.array([0, 2]), np.array([0.5, 0.5]))
