"""Fast word2vec in torch: skip-gram and CBOW with negative sampling, hand-derived batched steps.

The NumPy reference of :mod:`dlbook.word2vec` updates one example at a time, as word2vec's C
code does. Here a step takes a whole batch of examples (thousands of pairs) and updates the two
matrices in place with the gradients derived by hand, no autograd:

* :class:`Word2Vec` holds ``w_in`` (V, d), the input matrix whose rows are the word vectors
  (word2vec's ``syn0``), and ``w_out`` (V, d), the output matrix (``syn1neg``); initialised
  as word2vec does (``w_in`` uniform in ±0.5/d, ``w_out`` zeros).
* :func:`sgns_step` / :func:`cbow_step`: one batched SGD step; every example of the batch is
  computed from the same (old) matrices and the updates are summed into them with
  ``index_add_`` (a word twice in a batch gets both updates), the batched form of word2vec's
  lock-free ("Hogwild") SGD.
* :func:`train_word2vec`: the training loop: each epoch subsamples the corpus and builds its
  examples in NumPy (:func:`dlbook.word2vec.subsample`, :func:`~dlbook.word2vec.skipgram_pairs`,
  :func:`~dlbook.word2vec.cbow_windows`), shuffles them, draws the negatives in bulk from the
  unigram^0.75 distribution (alias method) and steps with word2vec's learning rate, decaying
  linearly from ``alpha`` to ``min_alpha`` over the whole run. CUDA when present; on the CPU
  ``workers`` threads share the matrices, as gensim's workers do.
* :func:`save_word2vec_format`: the text format gensim's ``KeyedVectors.load_word2vec_format``
  reads.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..devices import resolve_device

__all__ = ["Word2Vec", "sgns_step", "cbow_step", "sgns_loss", "cbow_loss", "learning_rate",
           "NoiseSampler", "train_word2vec", "save_word2vec_format"]

#: examples per step when ``batch_size`` is None. Larger batches are faster per example but sum
#: more updates of a frequent word computed from the same old vectors: on the Wikipedia excerpt,
#: skip-gram with 16,384 pairs a step lost most of its quality (WordSim-353 0.16 after 5 epochs,
#: against 0.26 with 2,048 to 8,192), and two workers double the effective batch.
DEFAULT_BATCH = {"sg": 2048, "cbow": 1024}


def _positive_int(who: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    return int(value)


class Word2Vec(torch.nn.Module):
    """The two matrices of word2vec: ``w_in`` (V, d) and ``w_out`` (V, d).

    ``w_in[i]`` is word i's vector when it is the input (skip-gram's center, one of CBOW's
    context words): what the notes call the hidden layer, a row lookup without activation.
    ``w_out[i]`` is word i's vector when it is the output (the word to predict, or a negative).
    Initialised as word2vec's C code and gensim do: ``w_in`` uniform in [-0.5/d, 0.5/d),
    ``w_out`` zeros (seeded by ``seed``). Both are Parameters without ``requires_grad``: the
    steps update them in place. ``sg`` records which model they were trained for.
    """

    def __init__(self, vocab_size: int, dim: int = 100, *, sg: bool = True, seed: int = 0,
                 dtype: torch.dtype = torch.float32, device=None) -> None:
        super().__init__()
        vocab_size = _positive_int("Word2Vec", "vocab_size", vocab_size)
        dim = _positive_int("Word2Vec", "dim", dim)
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"Word2Vec: dtype must be torch.float32 or torch.float64, got {dtype}")
        self.sg = bool(sg)
        generator = torch.Generator().manual_seed(int(seed))
        w_in = (torch.rand(vocab_size, dim, generator=generator, dtype=torch.float64) - 0.5) / dim
        self.w_in = torch.nn.Parameter(w_in.to(dtype=dtype, device=resolve_device(device)),
                                       requires_grad=False)
        self.w_out = torch.nn.Parameter(torch.zeros_like(self.w_in), requires_grad=False)

    @property
    def vocab_size(self) -> int:
        return self.w_in.shape[0]

    @property
    def dim(self) -> int:
        return self.w_in.shape[1]

    def vectors(self) -> np.ndarray:
        """The word vectors, ``w_in`` as a (V, d) NumPy array (a copy, on the CPU)."""
        return self.w_in.detach().cpu().numpy().copy()

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, dim={self.dim}, sg={self.sg}"


# -- the batched steps -------------------------------------------------------------------------
def _labels(k: int, like: torch.Tensor) -> torch.Tensor:
    """(1, 1+K): 1 for the true output word (column 0), 0 for the K negatives."""
    labels = torch.zeros(1, k + 1, dtype=like.dtype, device=like.device)
    labels[0, 0] = 1
    return labels


def _outputs(positives: torch.Tensor, negatives: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The output words (B, 1+K) (the true one first) and the weight of each (B, 1+K): 0 for a
    negative equal to the true word, which word2vec's C code and gensim skip, 1 otherwise."""
    outputs = torch.cat([positives[:, None], negatives], dim=1)
    weights = outputs != positives[:, None]
    weights[:, 0] = True
    return outputs, weights


def sgns_step(w_in: torch.Tensor, w_out: torch.Tensor, centers: torch.Tensor, contexts: torch.Tensor,
              negatives: torch.Tensor, lr: float) -> None:
    """One batched skip-gram negative-sampling step, in place, with hand-derived gradients.

    centers, contexts (B,) and negatives (B, K): word ids (int64). With ``v_b = w_in[centers[b]]``,
    ``u_bj = w_out[outputs[b, j]]`` (outputs: the context then the K negatives), scores
    ``s_bj = u_bj·v_b`` and labels ``y_b = (1, 0, ..., 0)``, the loss :func:`sgns_loss` has
    ``∂L/∂s_bj = σ(s_bj) - y_bj``; with ``g = lr · (y - σ(s))`` (zero for a negative equal to the
    context)::

        w_out[outputs[b, j]] += g_bj v_b           (B·(1+K) rows, duplicates summed)
        w_in[centers[b]]     += Σ_j g_bj u_bj      (B rows, duplicates summed)

    the SGD step ``w -= lr · ∂L/∂w`` on the batch's summed loss, every gradient taken at the old
    matrices (word2vec's update, applied to B pairs at once).
    """
    outputs, weights = _outputs(contexts, negatives)
    n, width = outputs.shape
    v = w_in.index_select(0, centers)                                       # (B, d)
    u = w_out.index_select(0, outputs.view(-1)).view(n, width, -1)          # (B, 1+K, d)
    scores = (u * v.unsqueeze(1)).sum(2)                                    # (B, 1+K)
    g = (_labels(width - 1, scores) - torch.sigmoid(scores)).mul_(weights).mul_(lr)
    grad_in = torch.bmm(g.unsqueeze(1), u).squeeze(1)                       # (B, d)
    w_out.index_add_(0, outputs.view(-1), (g.unsqueeze(2) * v.unsqueeze(1)).view(n * width, -1))
    w_in.index_add_(0, centers, grad_in)


def sgns_loss(w_in: torch.Tensor, w_out: torch.Tensor, centers: torch.Tensor, contexts: torch.Tensor,
              negatives: torch.Tensor) -> torch.Tensor:
    """The batch's summed skip-gram negative-sampling loss (a scalar; autograd flows through it):
    ``Σ_b [-log σ(u_o·v) - Σ_k log σ(-u_k·v)]``, negatives equal to the context left out."""
    outputs, weights = _outputs(contexts, negatives)
    scores = (w_out[outputs] * w_in[centers].unsqueeze(1)).sum(2)
    signs = 2 * _labels(outputs.shape[1] - 1, scores) - 1
    return -(torch.nn.functional.logsigmoid(signs * scores) * weights).sum()


def _context_weights(contexts: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padding-free ids (B, C) (-1 -> 0), used slots (B, C) and mean weights (B, C): 1/n_b on the
    n_b used slots of row b, 0 on padding."""
    used = contexts >= 0
    counts = used.sum(1, keepdim=True)
    if bool((counts == 0).any()):
        raise ValueError("every CBOW example needs at least one context word (rows of -1 only found)")
    return contexts.clamp(min=0), used, used.to(dtype) / counts.to(dtype)


def cbow_step(w_in: torch.Tensor, w_out: torch.Tensor, contexts: torch.Tensor, targets: torch.Tensor,
              negatives: torch.Tensor, lr: float) -> None:
    """One batched CBOW negative-sampling step, in place, as word2vec (and gensim's cbow_mean=1).

    contexts (B, C): the context word ids, -1 as padding (:func:`dlbook.word2vec.cbow_windows`);
    targets (B,), negatives (B, K). ``h_b`` is the MEAN of the used context rows of ``w_in``;
    scores, ``g`` and the ``w_out`` update as in :func:`sgns_step` with ``h_b`` for ``v_b``. Then
    every used context word of example b gets ``e_b = Σ_j g_bj u_bj`` added to its ``w_in`` row:
    the whole step for h, not the gradient of the mean (which would be ``e_b / n_b``). That is
    what word2vec's C code (``syn0 += neu1e`` for each context word) and gensim do; it steps
    the context vectors ``n_b`` times further than SGD on :func:`cbow_loss` would.
    """
    ids, used, mean_weights = _context_weights(contexts, w_in.dtype)
    outputs, weights = _outputs(targets, negatives)
    n, width = outputs.shape
    c = ids.shape[1]
    x = w_in.index_select(0, ids.view(-1)).view(n, c, -1)                   # (B, C, d)
    h = torch.bmm(mean_weights.unsqueeze(1), x).squeeze(1)                  # (B, d)
    u = w_out.index_select(0, outputs.view(-1)).view(n, width, -1)          # (B, 1+K, d)
    scores = (u * h.unsqueeze(1)).sum(2)
    g = (_labels(width - 1, scores) - torch.sigmoid(scores)).mul_(weights).mul_(lr)
    step_h = torch.bmm(g.unsqueeze(1), u)                                   # (B, 1, d)
    w_out.index_add_(0, outputs.view(-1), (g.unsqueeze(2) * h.unsqueeze(1)).view(n * width, -1))
    w_in.index_add_(0, ids.view(-1), (used.unsqueeze(2).to(w_in.dtype) * step_h).view(n * c, -1))


def cbow_loss(w_in: torch.Tensor, w_out: torch.Tensor, contexts: torch.Tensor, targets: torch.Tensor,
              negatives: torch.Tensor) -> torch.Tensor:
    """The batch's summed CBOW negative-sampling loss, h the mean of the context vectors."""
    ids, _, mean_weights = _context_weights(contexts, w_in.dtype)
    outputs, weights = _outputs(targets, negatives)
    h = (w_in[ids] * mean_weights.unsqueeze(2)).sum(1)
    scores = (w_out[outputs] * h.unsqueeze(1)).sum(2)
    signs = 2 * _labels(outputs.shape[1] - 1, scores) - 1
    return -(torch.nn.functional.logsigmoid(signs * scores) * weights).sum()


def learning_rate(progress: float, alpha: float = 0.025, min_alpha: float = 1e-4) -> float:
    """word2vec's linear decay: ``alpha`` at the start (progress 0), ``min_alpha`` at the end
    (progress 1, the fraction of all epochs' examples done), as gensim computes it."""
    if not 0 <= progress <= 1:
        raise ValueError(f"progress must be in [0, 1], got {progress!r}")
    return alpha - (alpha - min_alpha) * progress


# -- negatives ---------------------------------------------------------------------------------
class NoiseSampler:
    """Draws word ids from a distribution over the vocabulary in O(1) each (Walker's alias method).

    probabilities (V,): e.g. :func:`dlbook.word2vec.noise_distribution`. ``sample(shape,
    generator)`` draws a uniform slot i and keeps it with probability ``keep[i]``, else takes
    ``alias[i]``: exact, and cheap on the CPU and a GPU alike (word2vec's C code uses a table
    of 1e8 entries instead).
    """

    def __init__(self, probabilities, device=None) -> None:
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 1 or p.size == 0 or np.any(p < 0) or not np.isclose(p.sum(), 1.0, rtol=1e-9, atol=0):
            raise ValueError(f"probabilities must be a non-empty 1-D array of non-negative numbers "
                             f"summing to 1, got shape {p.shape}")
        n = len(p)
        scaled = p * n
        keep = np.ones(n)
        alias = np.arange(n)
        small = [i for i in range(n) if scaled[i] < 1]
        large = [i for i in range(n) if scaled[i] >= 1]
        while small and large:  # Vose's construction
            s, big = small.pop(), large.pop()
            keep[s], alias[s] = scaled[s], big
            scaled[big] -= 1 - scaled[s]
            (small if scaled[big] < 1 else large).append(big)
        device = resolve_device(device)
        self.probabilities = p
        self.keep = torch.as_tensor(keep, device=device)
        self.alias = torch.as_tensor(alias, dtype=torch.int64, device=device)

    def sample(self, shape, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.alias.device
        slots = torch.randint(len(self.alias), shape, generator=generator, device=device)
        coins = torch.rand(shape, generator=generator, device=device, dtype=torch.float64)
        return torch.where(coins < self.keep[slots], slots, self.alias[slots])


# -- training ----------------------------------------------------------------------------------
def _check_training_args(sentences_ids, vocab, dim, window, negative, epochs, sample, alpha,
                         min_alpha, batch_size, workers) -> list[np.ndarray]:
    who = "train_word2vec"
    for name, value in (("dim", dim), ("window", window), ("negative", negative),
                        ("epochs", epochs), ("workers", workers)):
        _positive_int(who, name, value)
    if batch_size is not None:
        _positive_int(who, "batch_size", batch_size)
    if not (isinstance(alpha, (int, float)) and alpha > 0 and isinstance(min_alpha, (int, float))
            and 0 <= min_alpha <= alpha):
        raise ValueError(f"{who}: need alpha > 0 and 0 <= min_alpha <= alpha, got alpha={alpha!r}, "
                         f"min_alpha={min_alpha!r}")
    if not (isinstance(sample, (int, float)) and 0 <= sample < 1):
        raise ValueError(f"{who}: sample must be in [0, 1) (0: no subsampling), got {sample!r}")
    counts = getattr(vocab, "counts", None)
    if counts is None or not hasattr(vocab, "words"):
        raise TypeError(f"{who}: vocab must be a dlbook.word2vec.Vocabulary, got {type(vocab).__name__}")
    if isinstance(sentences_ids, np.ndarray) and sentences_ids.ndim == 1:
        raise TypeError(f"{who}: sentences_ids is a list of 1-D id arrays (Vocabulary.encode), "
                        f"got one array; wrap it in a list")
    sentences = [np.asarray(s) for s in sentences_ids]
    for number, s in enumerate(sentences):
        if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
            raise ValueError(f"{who}: sentence {number} must be a 1-D integer array of word ids, got "
                             f"{s.dtype} of shape {s.shape}")
        if s.size and (s.min() < 0 or s.max() >= len(vocab)):
            raise ValueError(f"{who}: sentence {number} holds ids outside [0, {len(vocab)}) "
                             f"(the vocabulary's size): {s.min()}..{s.max()}")
    if sum(s.size for s in sentences) < 2:
        raise ValueError(f"{who}: empty corpus: the sentences hold fewer than 2 word ids")
    return [s.astype(np.int64, copy=False) for s in sentences]


def _epoch_examples(sentences, keep, window, sg, rng):
    """One epoch's examples, shuffled: (inputs, outputs, effective words); inputs (M,) skip-gram
    centers or (M, 2·window) CBOW contexts, outputs (M,)."""
    from ..word2vec import cbow_windows, skipgram_pairs, subsample

    kept = sentences if keep is None else subsample(sentences, keep, rng)
    words = sum(len(s) for s in kept)
    if words == 0:
        return None, None, 0
    inputs, outputs = skipgram_pairs(kept, window, rng) if sg else cbow_windows(kept, window, rng)
    order = rng.permutation(len(outputs))
    return inputs[order], outputs[order], words


def train_word2vec(sentences_ids, vocab, *, sg: bool = True, dim: int = 100, window: int = 5,
                   negative: int = 5, epochs: int = 15, sample: float = 1e-3, alpha: float = 0.025,
                   min_alpha: float = 1e-4, batch_size: int | None = None, seed: int = 0, device=None,
                   workers: int = 1, dtype: torch.dtype = torch.float32,
                   progress: bool | None = None) -> tuple[Word2Vec, dict]:
    """Train skip-gram (``sg=True``) or CBOW with negative sampling; return ``(model, stats)``.

    sentences_ids: the corpus as id arrays (:meth:`dlbook.word2vec.Vocabulary.encode`); vocab: its
    :class:`~dlbook.word2vec.Vocabulary` (the counts set subsampling and the noise distribution).
    The hyper-parameters are gensim's (``vector_size`` is ``dim``): ``window``, ``negative``
    (noise words per example, unigram^0.75), ``sample`` (subsampling threshold, 0 for none),
    ``alpha`` -> ``min_alpha`` (linear decay over all epochs).
    Each epoch draws its subsampling, reduced windows and order anew; steps of ``batch_size``
    examples (default :data:`DEFAULT_BATCH`) go through :func:`sgns_step` / :func:`cbow_step`,
    each at the learning rate of its position in the run.
    device: None is CUDA when present (:func:`dlbook.devices.best_device`). On the CPU, torch's
    own threads are set to 1 during training and ``workers`` threads take turns of 32 steps, all
    updating the same matrices without locks (as gensim's workers do). ``workers=1`` gives the
    same vectors for the same seed; with more, the order of the updates depends on timing.
    (On a GPU, ``index_add_`` adds duplicates in no fixed order: equal up to rounding.)
    stats: ``words`` (corpus ids processed, epochs × ids), ``effective_words`` (after
    subsampling), ``examples`` (pairs or CBOW windows), ``seconds``, ``words_per_second``,
    ``batch_size``, ``workers``, ``device``.
    """
    sentences = _check_training_args(sentences_ids, vocab, dim, window, negative, epochs, sample,
                                     alpha, min_alpha, batch_size, workers)
    from ..word2vec import keep_probabilities, noise_distribution

    device = resolve_device(device)
    if device.type != "cpu":
        workers = 1
    batch_size = batch_size or DEFAULT_BATCH["sg" if sg else "cbow"]
    model = Word2Vec(len(vocab), dim, sg=sg, seed=seed, dtype=dtype, device=device)
    keep = keep_probabilities(vocab.counts, sample) if sample > 0 else None
    noise = NoiseSampler(noise_distribution(vocab.counts), device=device)
    step = sgns_step if sg else cbow_step
    corpus_words = sum(len(s) for s in sentences)
    turn = 32 * batch_size  # examples per turn (a worker's unit of work)
    totals = {"effective_words": 0, "examples": 0}
    bar = tqdm(total=epochs * corpus_words, unit="word", unit_scale=True, disable=None if progress is None
               else not progress, desc="skip-gram" if sg else "CBOW")
    lock = threading.Lock()

    def turns():
        """(epoch, inputs, outputs, start, stop, examples in the epoch) for every turn, in order."""
        for epoch in range(epochs):
            rng = np.random.default_rng([seed, epoch])
            inputs, outputs, words = _epoch_examples(sentences, keep, window, sg, rng)
            totals["effective_words"] += words
            if inputs is None:
                with lock:
                    bar.update(corpus_words)
                continue
            totals["examples"] += len(outputs)
            inputs = torch.from_numpy(inputs).to(device)
            outputs = torch.from_numpy(outputs).to(device)
            for start in range(0, len(outputs), turn):
                yield epoch, inputs, outputs, start, min(start + turn, len(outputs)), len(outputs)

    def work(epoch, inputs, outputs, start, stop, size, generator):
        # negatives depend on the turn alone, not on which worker takes it
        generator.manual_seed(int(np.random.SeedSequence([seed, epoch, start]).generate_state(1)[0]))
        negatives = noise.sample((stop - start, negative), generator)
        for begin in range(start, stop, batch_size):
            end = min(begin + batch_size, stop)
            lr = learning_rate((epoch + begin / size) / epochs, alpha, min_alpha)
            step(model.w_in, model.w_out, inputs[begin:end], outputs[begin:end],
                 negatives[begin - start:end - start], lr)
        with lock:
            bar.update(round(corpus_words * (stop - start) / size))

    threads_before = torch.get_num_threads()
    start_time = time.perf_counter()
    try:
        with torch.no_grad():
            if device.type == "cpu":
                torch.set_num_threads(1)
            if workers == 1:
                generator = torch.Generator(device=device)
                for job in turns():
                    work(*job, generator)
            else:
                _run_workers(turns(), work, workers, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    finally:
        torch.set_num_threads(threads_before)
        bar.close()
    seconds = time.perf_counter() - start_time
    stats = {"words": epochs * corpus_words, **totals, "seconds": seconds,
             "words_per_second": epochs * corpus_words / seconds, "batch_size": batch_size,
             "workers": workers, "device": str(device)}
    return model, stats


def _run_workers(jobs, work, workers: int, device) -> None:
    """Feed ``jobs`` to ``workers`` threads calling ``work(*job, generator)``; re-raise the first
    error. The main thread builds the next epoch's examples while the workers train."""
    pending: queue.Queue = queue.Queue(maxsize=2 * workers)
    errors: list[BaseException] = []
    done = object()

    def run():
        generator = torch.Generator(device=device)
        while (job := pending.get()) is not done:
            if not errors:
                try:
                    work(*job, generator)
                except BaseException as error:  # noqa: BLE001 - handed to the main thread
                    errors.append(error)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for job in jobs:
            if errors:
                break
            pending.put(job)
    finally:
        for _ in threads:
            pending.put(done)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


# -- saving ------------------------------------------------------------------------------------
def save_word2vec_format(path, words, vectors) -> Path:
    """Write vectors in word2vec's text format: a header ``"V d"``, then one line per word,
    ``word x_1 ... x_d`` (float32 written with ``%.9g``, which gives back the same float32).
    gensim reads it with ``KeyedVectors.load_word2vec_format(path)``. Returns the path."""
    words = list(words)
    vectors = vectors.detach().cpu().numpy() if isinstance(vectors, torch.Tensor) else np.asarray(vectors)
    if vectors.ndim != 2 or len(words) != vectors.shape[0] or not np.issubdtype(vectors.dtype, np.floating):
        raise ValueError(f"save_word2vec_format: need one float row per word, got {len(words)} words "
                         f"and {vectors.dtype} vectors of shape {vectors.shape}")
    bad = next((w for w in words if not isinstance(w, str) or not w or any(c.isspace() for c in w)), None)
    if bad is not None:
        raise ValueError(f"save_word2vec_format: words must be non-empty str without whitespace, "
                         f"got {bad!r}")
    if not np.all(np.isfinite(vectors)):
        raise ValueError("save_word2vec_format: vectors hold NaN or inf")
    path = Path(path)
    rows = vectors.astype(np.float32)
    with path.open("w", encoding="utf-8") as f:
        f.write(f"{rows.shape[0]} {rows.shape[1]}\n")
        for word, row in zip(words, rows):
            f.write(word + " " + " ".join(f"{x:.9g}" for x in row.tolist()) + "\n")
    return path
