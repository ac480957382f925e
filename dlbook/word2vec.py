"""Word2Vec's data preparation and its NumPy reference (chapter 7).

Data preparation, as word2vec's C code and gensim do it:

* :class:`Vocabulary` — the words seen at least ``min_count`` times, most frequent first;
* :func:`keep_probabilities` / :func:`subsample` — frequent-word subsampling;
* :func:`noise_distribution` — the unigram^0.75 distribution negative samples are drawn from;
* :func:`skipgram_pairs` / :func:`cbow_windows` — the (input, output) training examples of the
  sliding window, with word2vec's randomly reduced window; vectorised, so a whole corpus of
  half a million tokens is turned into pairs in a fraction of a second.

The NumPy reference: one example's loss and its hand-derived gradients for skip-gram and CBOW,
with negative sampling (:func:`sgns_loss_and_grads`, :func:`cbow_ns_loss_and_grads`) and with
the full softmax over the vocabulary (:func:`sg_softmax_loss_and_grads`,
:func:`cbow_softmax_loss_and_grads`). ``w_in`` (V, d) is the input matrix (word2vec's ``syn0``,
what the notes call the hidden layer: a row lookup, no activation), ``w_out`` (V, d) the output
matrix (``syn1neg`` for negative sampling; the full-softmax output layer is ``w_out @ h``).
The word vectors one keeps are the rows of ``w_in``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

__all__ = ["Vocabulary", "keep_probabilities", "subsample", "noise_distribution", "skipgram_pairs",
           "cbow_windows", "sgns_loss_and_grads", "cbow_ns_loss_and_grads", "sg_softmax_loss_and_grads",
           "cbow_softmax_loss_and_grads"]


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _as_rng(rng) -> np.random.Generator:
    """A Generator from a Generator, an int seed, or None (seed 0: deterministic by default)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(0 if rng is None else int(rng))
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


# -- the vocabulary --------------------------------------------------------------------------------
class Vocabulary:
    """The words kept for training, numbered by descending count (ties in alphabetical order).

    ``words`` (tuple of str), ``counts`` ((V,) int64, ``counts[i]`` the corpus count of
    ``words[i]``), ``index`` (word -> id), ``min_count``. Id 0 is the most frequent word, as in
    word2vec and gensim (gensim breaks ties by first occurrence instead of alphabetically).
    """

    def __init__(self, words, counts, min_count: int = 1) -> None:
        words = tuple(words)
        counts = np.asarray(counts)
        if not words:
            raise ValueError("Vocabulary needs at least one word")
        if any(not isinstance(w, str) or not w for w in words):
            raise TypeError("Vocabulary words must be non-empty str")
        if len(set(words)) != len(words):
            raise ValueError("Vocabulary words must be distinct")
        if counts.shape != (len(words),) or not np.issubdtype(counts.dtype, np.integer):
            raise ValueError(f"counts must be ({len(words)},) integers, got {counts.dtype} of shape "
                             f"{counts.shape}")
        self.min_count = _positive_int("min_count", min_count)
        if counts.min() < self.min_count:
            raise ValueError(f"every count must be >= min_count={self.min_count}, got {counts.min()}")
        self.words: tuple[str, ...] = words
        self.counts: np.ndarray = counts.astype(np.int64)
        self.index: dict[str, int] = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, sentences, min_count: int = 5) -> "Vocabulary":
        """Count the words of ``sentences`` (an iterable of lists of str tokens) and keep those
        seen at least ``min_count`` times."""
        min_count = _positive_int("min_count", min_count)
        if isinstance(sentences, str):
            raise TypeError("sentences must be an iterable of token lists, got a str")
        counter: Counter = Counter()
        for number, sentence in enumerate(sentences):
            if isinstance(sentence, str):
                raise TypeError(f"sentence {number} is a str; expected a list of str tokens "
                                f"(split it first)")
            counter.update(sentence)
        if not counter:
            raise ValueError("empty corpus: the sentences hold no tokens")
        bad = next((w for w in counter if not isinstance(w, str)), None)
        if bad is not None:
            raise TypeError(f"tokens must be str, got {type(bad).__name__} ({bad!r})")
        kept = sorted(((-c, w) for w, c in counter.items() if c >= min_count))
        if not kept:
            raise ValueError(f"no word occurs min_count={min_count} times (the most frequent, "
                             f"{counter.most_common(1)[0][0]!r}, occurs {counter.most_common(1)[0][1]})")
        return cls([w for _, w in kept], np.array([-c for c, _ in kept], dtype=np.int64), min_count)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words, {self.total:,} tokens, min_count={self.min_count})"

    @property
    def total(self) -> int:
        """The number of corpus tokens that are in the vocabulary (sum of ``counts``)."""
        return int(self.counts.sum())

    def lookup(self, word: str) -> int:
        """The id of ``word``; a KeyError naming the word and min_count when it is not kept."""
        try:
            return self.index[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary ({len(self)} words seen at least "
                           f"min_count={self.min_count} times)") from None
        except TypeError:
            raise TypeError(f"words are str, got {type(word).__name__}") from None

    def encode(self, sentences) -> list[np.ndarray]:
        """Each sentence as an int64 array of ids; words outside the vocabulary are dropped (as
        word2vec does: the window then reaches across them)."""
        if isinstance(sentences, str):
            raise TypeError("encode expects an iterable of token lists, got a str")
        index_get = self.index.get
        encoded = []
        for number, sentence in enumerate(sentences):
            if isinstance(sentence, str):
                raise TypeError(f"sentence {number} is a str; expected a list of str tokens")
            ids = np.fromiter((index_get(w, -1) for w in sentence), dtype=np.int64)
            encoded.append(ids[ids >= 0])
        return encoded


# -- subsampling and the noise distribution --------------------------------------------------------
def _counts_array(counts) -> np.ndarray:
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0 or not np.issubdtype(counts.dtype, np.number):
        raise ValueError(f"counts must be a non-empty 1-D array of word counts, got shape {counts.shape}")
    if not np.all(counts > 0):
        raise ValueError("every count must be positive (a vocabulary holds only words that occur)")
    return counts


def keep_probabilities(counts, sample: float = 1e-3) -> np.ndarray:
    """The probability that subsampling keeps one occurrence of each word, (V,) float64.

    With ``t = sample · total`` (``total = counts.sum()``, the tokens of the vocabulary) and
    ``f`` a word's count::

        keep(f) = min(1, (sqrt(f / t) + 1) · t / f)

    the rule of word2vec's C code (``ran = (sqrt(cn / (sample * train_words)) + 1) * (sample *
    train_words) / cn``) and of gensim 4 (``Word2Vec.prepare_vocab``: ``(np.sqrt(v /
    threshold_count) + 1) * (threshold_count / v)`` with ``threshold_count = sample *
    retain_total``, stored as ``sample_int = uint32(keep · (2**32 - 1))``, compared with a random
    uint32). Words rarer than about ``2.6 t`` are always kept; a word making up a fraction
    ``p`` of the corpus keeps about ``sqrt(sample / p)`` of its occurrences. (Mikolov et al.'s
    paper writes ``1 - sqrt(t / f)`` for the *discard* probability; the code differs.)
    """
    counts = _counts_array(counts)
    if not isinstance(sample, (int, float, np.floating)) or isinstance(sample, bool) \
            or not 0 < sample < 1:
        raise ValueError(f"sample must be a fraction in (0, 1) (word2vec's default 1e-3), got {sample!r}; "
                         f"for no subsampling, do not call subsample")
    threshold = sample * float(counts.sum())
    keep = (np.sqrt(counts / threshold) + 1) * (threshold / counts)  # gensim's order of operations
    return np.minimum(keep, 1.0)


def subsample(ids, keep, rng=None):
    """Drop each occurrence of word ``w`` with probability ``1 - keep[w]``, independently.

    ``ids``: one sentence (1-D int array) or a list of them (then a list comes back, sentences
    in order, each possibly shorter or empty). ``keep``: (V,) from :func:`keep_probabilities`.
    ``rng``: a numpy Generator or an int seed (None: seed 0). Draw anew every epoch, as
    word2vec does.
    """
    keep = np.asarray(keep, dtype=np.float64)
    if keep.ndim != 1 or np.any((keep < 0) | (keep > 1)):
        raise ValueError(f"keep must be a 1-D array of probabilities in [0, 1], got shape {keep.shape}")
    rng = _as_rng(rng)
    single = isinstance(ids, np.ndarray)
    sentences = [ids] if single else list(ids)
    flat, lengths = _concatenate(sentences, len(keep))
    kept = rng.random(len(flat)) < keep[flat]
    if single:
        return flat[kept]
    boundaries = np.cumsum(lengths)[:-1]
    return [part[mask] for part, mask in zip(np.split(flat, boundaries), np.split(kept, boundaries))]


def noise_distribution(counts, power: float = 0.75) -> np.ndarray:
    """The negative-sampling distribution ``P(w) = f_w^power / Σ_v f_v^power``, (V,) float64.

    ``power=0.75`` is word2vec's (C code: ``pow(cn, power)`` in ``InitUnigramTable``; gensim:
    ``ns_exponent``): rare words are drawn more often than their frequency, frequent ones less.
    """
    counts = _counts_array(counts).astype(np.float64)
    if not isinstance(power, (int, float, np.floating)) or not np.isfinite(power):
        raise ValueError(f"power must be a finite number, got {power!r}")
    weights = counts ** power
    return weights / weights.sum()


# -- training examples from the sliding window -----------------------------------------------------
def _concatenate(sentences, vocab_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All sentences' ids in one int64 array and the sentence lengths, validated."""
    arrays = []
    for number, sentence in enumerate(sentences):
        array = np.asarray(sentence)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"sentence {number}: expected a 1-D integer array of word ids, got "
                             f"{array.dtype} of shape {array.shape}")
        arrays.append(array.astype(np.int64, copy=False))
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    if flat.size and flat.min() < 0:
        raise ValueError(f"word ids must be >= 0, got {flat.min()}")
    if vocab_size is not None and flat.size and flat.max() >= vocab_size:
        raise ValueError(f"word ids must be < {vocab_size} (the size of keep), got {flat.max()}")
    return flat, np.array([len(a) for a in arrays], dtype=np.int64)


def _windows(ids, window: int, rng, reduced: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ids (N,), the offsets (2·window,) and a mask (N, 2·window): True where position i's
    neighbour at that offset exists (same sentence) and lies in i's effective window."""
    window = _positive_int("window", window)
    sentences = [ids] if isinstance(ids, np.ndarray) else list(ids)
    flat, lengths = _concatenate(sentences)
    if flat.size == 0:
        raise ValueError("empty corpus: no word ids to build training examples from")
    # how far each position may reach left and right without leaving its sentence
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    reach_left = np.arange(len(flat)) - starts
    reach_right = np.repeat(lengths, lengths) - 1 - reach_left
    if reduced:
        # word2vec: b = next_random % window, window a in [b, 2·window - b]; gensim: reduced_windows
        # = randint(0, window): the effective window is window - b, uniform in 1..window
        effective = window - _as_rng(rng).integers(0, window, size=len(flat))
        reach_left = np.minimum(reach_left, effective)
        reach_right = np.minimum(reach_right, effective)
    offsets = np.concatenate([np.arange(-window, 0), np.arange(1, window + 1)])
    mask = np.concatenate([-offsets[None, :window] <= reach_left[:, None],
                           offsets[None, window:] <= reach_right[:, None]], axis=1)
    return flat, offsets, mask


def skipgram_pairs(ids, window: int, rng=None, reduced: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Skip-gram's training pairs (center, context), two (P,) int64 arrays.

    ``ids``: one sentence (1-D int array) or a list of them; pairs never cross a sentence
    boundary. Every word is the center once per position, paired with each word at distance
    1..b on either side, in sentence order (centers in order, for each center its contexts
    left to right). ``reduced=False``: b = ``window``. ``reduced=True``: b is drawn uniformly
    from 1..``window`` for each position, as word2vec does (C code: ``b = next_random %
    window``; gensim: ``reduced_windows = randint(0, window)``, effective window ``window -
    reduced``): near words are paired more often than far ones (distance k with probability
    ``(window - k + 1) / window``). ``rng``: numpy Generator or int seed (None: seed 0).

    The model predicts the context from the center: center -> ``w_in``, context -> ``w_out``.
    (word2vec's C code and gensim loop the other way round, feeding the context word's input
    vector and predicting the center; with the window drawn per position the same pairs occur
    equally often on average.)
    """
    flat, offsets, mask = _windows(ids, window, rng, reduced)
    rows, columns = np.nonzero(mask)  # row-major: by center, then by offset (left to right)
    return flat[rows], flat[rows + offsets[columns]]


def cbow_windows(ids, window: int, rng=None, reduced: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """CBOW's training examples: contexts (M, 2·window) int64 padded with -1, targets (M,) int64.

    Row m holds the words around target m at offsets ``-window..-1, 1..window`` (column j is
    offset ``j - window`` for ``j < window``, ``j - window + 1`` after), -1 where the offset
    falls outside the sentence or the (reduced) window; windows are drawn as in
    :func:`skipgram_pairs`. Positions with no context word at all (one-word sentences) are left
    out, as in word2vec's C code (``if (cw)``). The model averages the non-padding rows of
    ``w_in`` (see :func:`cbow_ns_loss_and_grads`).
    """
    flat, offsets, mask = _windows(ids, window, rng, reduced)
    has_context = mask.any(axis=1)
    mask = mask[has_context]
    positions = np.flatnonzero(has_context)[:, None] + offsets
    contexts = np.where(mask, flat[np.where(mask, positions, 0)], -1)
    return contexts, flat[has_context]


# -- the NumPy reference: one example's loss and hand-derived gradients ----------------------------
def _matrices(w_in, w_out) -> tuple[int, int]:
    for name, w in (("w_in", w_in), ("w_out", w_out)):
        if not isinstance(w, np.ndarray) or w.ndim != 2 or not np.issubdtype(w.dtype, np.floating):
            raise TypeError(f"{name} must be a 2-D float array (V, d), got "
                            f"{getattr(w, 'dtype', type(w).__name__)} of shape {np.shape(w)}")
    if w_in.shape != w_out.shape:
        raise ValueError(f"w_in and w_out must both be (V, d), got {w_in.shape} and {w_out.shape}")
    return w_in.shape


def _word_id(name: str, value, vocab_size: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < vocab_size:
        raise ValueError(f"{name} must be a word id in [0, {vocab_size}), got {value!r}")
    return int(value)


def _word_ids(name: str, values, vocab_size: int, allow_padding: bool = False) -> np.ndarray:
    ids = np.asarray(values)
    if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty 1-D integer array of word ids, got "
                         f"{ids.dtype} of shape {ids.shape}" + (" (negatives must be >= 1)"
                                                               if name == "negatives" else ""))
    low = -1 if allow_padding else 0
    if ids.min() < low or ids.max() >= vocab_size:
        raise ValueError(f"{name} must hold word ids in [0, {vocab_size})"
                         + (" or -1 (padding)" if allow_padding else "")
                         + f", got values in [{ids.min()}, {ids.max()}]")
    return ids.astype(np.int64)


def _sigmoid(x):
    from scipy.special import expit

    return expit(x)


def _negative_sampling(h: np.ndarray, u_pos: np.ndarray, u_neg: np.ndarray):
    """Loss and gradients wrt h, u_pos and u_neg of ``-log σ(u_pos·h) - Σ_k log σ(-u_neg[k]·h)``."""
    s_pos = u_pos @ h
    s_neg = u_neg @ h  # (K,)
    loss = np.logaddexp(0, -s_pos) + np.logaddexp(0, s_neg).sum()  # -log σ(x) = log(1 + e^-x)
    d_pos = _sigmoid(s_pos) - 1  # ∂loss/∂s_pos
    d_neg = _sigmoid(s_neg)  # ∂loss/∂s_neg[k]
    grad_h = d_pos * u_pos + d_neg @ u_neg
    return float(loss), grad_h, d_pos * h, d_neg[:, None] * h[None, :]


def _full_softmax(h: np.ndarray, w_out: np.ndarray, target: int):
    """Loss and gradients wrt h and w_out of ``-log softmax(w_out @ h)[target]``."""
    scores = w_out @ h  # (V,)
    shifted = scores - scores.max()
    log_z = np.log(np.exp(shifted).sum())
    loss = log_z - shifted[target]
    error = np.exp(shifted - log_z)  # softmax p; ∂loss/∂scores = p - onehot(target)
    error[target] -= 1
    return float(loss), w_out.T @ error, np.outer(error, h)


def _context_mean(w_in: np.ndarray, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used = contexts >= 0
    if not used.any():
        raise ValueError("contexts holds no word id (only -1 padding): CBOW needs at least one context word")
    return w_in[contexts[used]].mean(axis=0), used


def sgns_loss_and_grads(w_in, w_out, center, context, negatives):
    """Skip-gram with negative sampling, one (center, context) pair and K negative words.

    With ``v = w_in[center]`` (d,), ``u_o = w_out[context]`` (d,), ``u_k = w_out[negatives[k]]``::

        loss = -log σ(u_o·v) - Σ_k log σ(-u_k·v)
        ∂loss/∂v   = (σ(u_o·v) - 1) u_o + Σ_k σ(u_k·v) u_k
        ∂loss/∂u_o = (σ(u_o·v) - 1) v
        ∂loss/∂u_k = σ(u_k·v) v

    Binary classification: the true context is class 1, each noise word class 0.
    Returns ``(loss, grad_center (d,), grad_context (d,), grad_negatives (K, d))``, one gradient
    per slot. To step the matrices, add them at their rows with ``np.add.at`` (a word may fill
    two slots; its gradient is the sum). word2vec's C code and gensim skip a negative that
    equals the context word and step by ``alpha`` times these gradients at once, pair by pair.
    """
    vocab_size, _ = _matrices(w_in, w_out)
    center = _word_id("center", center, vocab_size)
    context = _word_id("context", context, vocab_size)
    negatives = _word_ids("negatives", negatives, vocab_size)
    return _negative_sampling(w_in[center], w_out[context], w_out[negatives])


def cbow_ns_loss_and_grads(w_in, w_out, contexts, target, negatives):
    """CBOW with negative sampling: predict ``target`` from the mean of its context vectors.

    With ``h = mean_j w_in[contexts[j]]`` over the n context words (-1 entries, the padding of
    :func:`cbow_windows`, are skipped), ``u_t = w_out[target]``, ``u_k = w_out[negatives[k]]``::

        loss = -log σ(u_t·h) - Σ_k log σ(-u_k·h)
        ∂loss/∂h   = (σ(u_t·h) - 1) u_t + Σ_k σ(u_k·h) u_k
        ∂loss/∂w_in[contexts[j]] = ∂loss/∂h / n        (each context slot)
        ∂loss/∂u_t = (σ(u_t·h) - 1) h,   ∂loss/∂u_k = σ(u_k·h) h

    The mean, not a concatenation: word2vec's C code divides the summed context vectors by
    their number ``cw`` and gensim's default ``cbow_mean=1`` does the same. Both then add the
    whole ``∂loss/∂h`` step (not divided by n) to every context vector, a step n times the
    gradient's; this function returns the true gradient.
    Returns ``(loss, grad_contexts (C, d) with zero rows at padding, grad_target (d,),
    grad_negatives (K, d))``.
    """
    vocab_size, dim = _matrices(w_in, w_out)
    contexts = _word_ids("contexts", contexts, vocab_size, allow_padding=True)
    target = _word_id("target", target, vocab_size)
    negatives = _word_ids("negatives", negatives, vocab_size)
    h, used = _context_mean(w_in, contexts)
    loss, grad_h, grad_target, grad_negatives = _negative_sampling(h, w_out[target], w_out[negatives])
    grad_contexts = np.zeros((len(contexts), dim), dtype=grad_h.dtype)
    grad_contexts[used] = grad_h / used.sum()
    return loss, grad_contexts, grad_target, grad_negatives


def sg_softmax_loss_and_grads(w_in, w_out, center, context):
    """Skip-gram with the full softmax over the vocabulary (fine for tiny vocabularies).

    With ``v = w_in[center]`` (d,), scores ``s = w_out @ v`` (V,), ``p = softmax(s)``::

        loss = -log p[context] = log Σ_w exp(s_w) - s_context
        ∂loss/∂s = p - onehot(context)                   (V,)
        ∂loss/∂v = w_out.T @ (p - onehot(context))        (d,)
        ∂loss/∂w_out = outer(p - onehot(context), v)      (V, d): every output row moves

    The cost of a step is O(V·d), against O((K+1)·d) with negative sampling.
    Returns ``(loss, grad_center (d,), grad_w_out (V, d))``.
    """
    vocab_size, _ = _matrices(w_in, w_out)
    center = _word_id("center", center, vocab_size)
    context = _word_id("context", context, vocab_size)
    return _full_softmax(w_in[center], w_out, context)


def cbow_softmax_loss_and_grads(w_in, w_out, contexts, target):
    """CBOW with the full softmax: ``h = mean_j w_in[contexts[j]]`` (-1 padding skipped), then
    as :func:`sg_softmax_loss_and_grads` with ``h`` for ``v``; each of the n context slots gets
    ``∂loss/∂h / n = w_out.T @ (p - onehot(target)) / n``.
    Returns ``(loss, grad_contexts (C, d) with zero rows at padding, grad_w_out (V, d))``.
    """
    vocab_size, dim = _matrices(w_in, w_out)
    contexts = _word_ids("contexts", contexts, vocab_size, allow_padding=True)
    target = _word_id("target", target, vocab_size)
    h, used = _context_mean(w_in, contexts)
    loss, grad_h, grad_w_out = _full_softmax(h, w_out, target)
    grad_contexts = np.zeros((len(contexts), dim), dtype=grad_h.dtype)
    grad_contexts[used] = grad_h / used.sum()
    return loss, grad_contexts, grad_w_out
