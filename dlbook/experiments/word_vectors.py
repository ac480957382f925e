"""Chapter 7's experiments: how good are word vectors, and how do dlbook's compare with gensim's?

* Evaluation, for any (words, vectors): :func:`similarity_correlation` (Spearman's rank
  correlation between cosine similarity and human scores, WordSim-353 / SimLex-999),
  :func:`analogy_accuracy` (``a : b :: c : ?`` by 3CosAdd, as gensim's
  ``evaluate_word_analogies``), :func:`nearest` (the words of highest cosine similarity).
* :func:`train_gensim`: gensim's ``Word2Vec`` with the same hyper-parameters as
  :func:`dlbook.models.word2vec.train_word2vec`.
* :func:`compare`: both trained on the same corpus (gensim's Wikipedia excerpt) with the same
  hyper-parameters and number of threads, evaluated alike, side by side; cached.
* :func:`project_2d`: a 2-D PCA projection of chosen words' vectors, for a plot.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["similarity_correlation", "analogy_accuracy", "nearest", "train_gensim", "train_dlbook",
           "compare", "project_2d", "unit_rows"]


def _table(who: str, words, vectors) -> tuple[dict[str, int], np.ndarray]:
    """word -> row, and the vectors as (V, d) float64, checked."""
    words = list(words)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words) or not np.issubdtype(vectors.dtype, np.floating):
        raise ValueError(f"{who}: need one float row per word, got {len(words)} words and "
                         f"{vectors.dtype} vectors of shape {vectors.shape}")
    index = {w: i for i, w in enumerate(words)}
    if len(index) != len(words):
        raise ValueError(f"{who}: words must be distinct")
    return index, vectors.astype(np.float64)


def unit_rows(vectors) -> np.ndarray:
    """Each row divided by its Euclidean norm (zero rows stay zero): cosine similarity becomes a
    dot product."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    mean_rank = (starts + ends + 1) / 2  # positions start..end-1 have ranks start+1..end
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def similarity_correlation(words, vectors, pairs) -> tuple[float, int, int]:
    """Spearman's correlation between the vectors' cosine similarities and human scores.

    pairs: ``(word, word, score)`` triples (:func:`dlbook.data.load_word_similarity`). Pairs with
    a word outside ``words`` are left out, as gensim's ``evaluate_word_pairs`` does by default
    (words compared as given: load the sets lower-cased for a lower-cased corpus).
    Returns ``(spearman, used, total)``: the correlation over the ``used`` pairs (the Pearson
    correlation of the ranks, ties sharing their mean rank) and how many there were in all.
    """
    index, vectors = _table("similarity_correlation", words, vectors)
    pairs = list(pairs)
    if not pairs or any(len(p) != 3 for p in pairs):
        raise ValueError("similarity_correlation: pairs must be a non-empty list of (word, word, score)")
    kept = [(index[a], index[b], float(s)) for a, b, s in pairs if a in index and b in index]
    if len(kept) < 3:
        raise ValueError(f"similarity_correlation: only {len(kept)} of {len(pairs)} pairs have both "
                         f"words in the vocabulary; a correlation needs at least 3")
    first, second, human = (np.array(column) for column in zip(*kept))
    unit = unit_rows(vectors)
    cosine = np.einsum("ij,ij->i", unit[first], unit[second])
    x, y = _ranks(cosine), _ranks(human)
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x @ x) * (y @ y))
    spearman = float(x @ y / denominator) if denominator > 0 else float("nan")
    return spearman, len(kept), len(pairs)


def _questions(questions) -> list[tuple[str, str, str, str]]:
    if isinstance(questions, dict):
        questions = [q for section in questions.values() for q in section]
    questions = [tuple(q) for q in questions]
    if not questions or any(len(q) != 4 for q in questions):
        raise ValueError("analogy_accuracy: questions must be a non-empty list of (a, b, c, d) "
                         "(or a dict of such lists by section, as load_analogies returns)")
    return questions


def analogy_accuracy(words, vectors, questions, *, restrict_vocab: int = 300_000,
                     batch_size: int = 1024) -> tuple[float, int, int]:
    """The fraction of analogy questions ``a : b :: c : d`` answered with d, by 3CosAdd.

    questions: ``(a, b, c, d)`` tuples, or a dict of them by section
    (:func:`dlbook.data.load_analogies`). As gensim's ``evaluate_word_analogies``: only the first
    ``restrict_vocab`` words (``words`` in order, most frequent first) take part; a question with
    a word outside them is left out; the answer is the word w, not one of a, b, c, maximising
    ``cos(w, mean(b̂ - â + ĉ))`` over those words (x̂: unit vectors). Returns ``(accuracy, used,
    total)``: correct / used, the questions used and all questions.
    """
    questions = _questions(questions)
    index, vectors = _table("analogy_accuracy", words, vectors)
    if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, int) or restrict_vocab < 1:
        raise ValueError(f"analogy_accuracy: restrict_vocab must be a positive int, got {restrict_vocab!r}")
    unit = unit_rows(vectors[:restrict_vocab])
    allowed = len(unit)
    ids = np.array([[index[w] for w in q] for q in questions
                    if all(w in index and index[w] < allowed for w in q)], dtype=np.int64).reshape(-1, 4)
    correct = 0
    for start in range(0, len(ids), batch_size):
        a, b, c, d = ids[start:start + batch_size].T
        query = unit_rows(unit[b] - unit[a] + unit[c])
        scores = query @ unit.T
        rows = np.arange(len(a))
        for excluded in (a, b, c):
            scores[rows, excluded] = -np.inf
        correct += int(np.sum(scores.argmax(axis=1) == d))
    accuracy = correct / len(ids) if len(ids) else float("nan")
    return accuracy, len(ids), len(questions)


def nearest(words, vectors, word: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` words of highest cosine similarity to ``word`` (itself excluded), most similar
    first, as (word, cosine) pairs. A KeyError names a word that has no vector."""
    index, vectors = _table("nearest", words, vectors)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"nearest: k must be a positive int, got {k!r}")
    if word not in index:
        raise KeyError(f"{word!r} has no vector (not among the {len(index)} words of the vocabulary)")
    unit = unit_rows(vectors)
    cosine = unit @ unit[index[word]]
    cosine[index[word]] = -np.inf
    order = np.argsort(-cosine, kind="stable")[:min(k, len(index) - 1)]
    names = list(index)
    return [(names[i], float(cosine[i])) for i in order]


def project_2d(words, vectors, chosen) -> np.ndarray:
    """The chosen words' vectors projected on their first two principal components, (n, 2).

    PCA over the chosen words only (centred at their mean), so the two axes are the directions
    in which these words differ most. Each axis' sign is fixed (its largest-magnitude loading is
    positive), so a plot is the same at every build. A KeyError names a word without a vector.
    """
    index, vectors = _table("project_2d", words, vectors)
    chosen = list(chosen)
    if len(chosen) < 2:
        raise ValueError(f"project_2d needs at least 2 words, got {len(chosen)}")
    missing = [w for w in chosen if w not in index]
    if missing:
        raise KeyError(f"no vector for {missing} (not in the vocabulary)")
    x = vectors[[index[w] for w in chosen]]
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
    coordinates = x @ axes.T
    return np.pad(coordinates, ((0, 0), (0, 2 - coordinates.shape[1])))


# -- training both ---------------------------------------------------------------------------------
def train_gensim(sentences, *, sg: bool = True, dim: int = 100, window: int = 5, negative: int = 5,
                 epochs: int = 15, sample: float = 1e-3, min_count: int = 5, alpha: float = 0.025,
                 min_alpha: float = 1e-4, workers: int = 2, seed: int = 0):
    """gensim's ``Word2Vec`` on token lists, the same hyper-parameters as dlbook's trainer.

    Returns ``(words, vectors, stats)``: gensim's vocabulary (most frequent first), its vectors
    (V, dim) float32 and ``seconds`` (``train`` alone, not counting the vocabulary), ``words``
    (corpus tokens × epochs, unknown words included, as gensim counts raw words),
    ``words_per_second``, ``effective_words`` (after min_count and subsampling, as gensim
    reports them). With ``workers > 1`` the vectors vary from run to run (gensim's threads).
    """
    from gensim.models import Word2Vec as GensimWord2Vec

    sentences = [list(s) for s in sentences]
    model = GensimWord2Vec(vector_size=dim, window=window, negative=negative, hs=0, sg=int(sg),
                           sample=sample, min_count=min_count, alpha=alpha, min_alpha=min_alpha,
                           workers=workers, seed=seed, cbow_mean=1)
    model.build_vocab(sentences)
    start = time.perf_counter()
    _, effective = model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    seconds = time.perf_counter() - start
    words = epochs * sum(len(s) for s in sentences)
    stats = {"seconds": seconds, "words": words, "words_per_second": words / seconds,
             "effective_words": int(effective), "workers": workers}
    return list(model.wv.index_to_key), model.wv.vectors.copy(), stats


def train_dlbook(sentences, *, sg: bool = True, dim: int = 100, window: int = 5, negative: int = 5,
                 epochs: int = 15, sample: float = 1e-3, min_count: int = 5, alpha: float = 0.025,
                 min_alpha: float = 1e-4, workers: int = 2, seed: int = 0, batch_size: int | None = None,
                 device=None, progress: bool | None = None):
    """dlbook's :func:`~dlbook.models.word2vec.train_word2vec` on token lists; returns ``(words,
    vectors, stats)`` like :func:`train_gensim` (``words`` counts all corpus tokens, as gensim's
    does; the vocabulary and encoding are not timed, as gensim's ``build_vocab`` is not)."""
    from ..models.word2vec import train_word2vec
    from ..word2vec import Vocabulary

    sentences = [list(s) for s in sentences]
    vocab = Vocabulary.build(sentences, min_count=min_count)
    model, stats = train_word2vec(vocab.encode(sentences), vocab, sg=sg, dim=dim, window=window,
                                  negative=negative, epochs=epochs, sample=sample, alpha=alpha,
                                  min_alpha=min_alpha, workers=workers, seed=seed,
                                  batch_size=batch_size, device=device, progress=progress)
    words = epochs * sum(len(s) for s in sentences)
    stats = {**stats, "words": words, "words_per_second": words / stats["seconds"]}
    return list(vocab.words), model.vectors(), stats


def _evaluate(words, vectors, stats) -> dict:
    from ..data import load_analogies, load_word_similarity

    spearman, used, total = similarity_correlation(words, vectors, load_word_similarity("wordsim353"))
    simlex, simlex_used, _ = similarity_correlation(words, vectors, load_word_similarity("simlex999"))
    analogy, analogy_used, analogy_total = analogy_accuracy(words, vectors, load_analogies())
    return {"spearman": spearman, "pairs_used": used, "pairs_total": total, "simlex": simlex,
            "simlex_used": simlex_used, "analogy": analogy, "analogy_used": analogy_used,
            "analogy_total": analogy_total, "seconds": stats["seconds"],
            "words_per_second": stats["words_per_second"], "words": words, "vectors": vectors,
            "stats": stats}


def _compare(sg, dim, window, negative, epochs, sample, min_count, workers, seed, batch_size, device,
             progress):
    from ..data import load_wiki_excerpt

    corpus = load_wiki_excerpt()
    settings = dict(sg=sg, dim=dim, window=window, negative=negative, epochs=epochs, sample=sample,
                    min_count=min_count, workers=workers, seed=seed)
    ours = train_dlbook(corpus, **settings, batch_size=batch_size, device=device, progress=progress)
    theirs = train_gensim(corpus, **settings)
    return {"settings": {**settings, "corpus_tokens": sum(len(s) for s in corpus),
                         "articles": len(corpus)},
            "dlbook": _evaluate(*ours), "gensim": _evaluate(*theirs)}


def compare(*, sg: bool = True, dim: int = 100, window: int = 5, negative: int = 5, epochs: int = 15,
            sample: float = 1e-3, min_count: int = 5, workers: int = 2, seed: int = 0,
            batch_size: int | None = None, device: str | None = None, progress: bool | None = None,
            cache: bool = True) -> dict:
    """dlbook's and gensim's word2vec on gensim's Wikipedia excerpt, same settings, side by side.

    Both train on :func:`dlbook.data.load_wiki_excerpt` (106 articles, 452,944 tokens) with the
    same hyper-parameters and ``workers`` threads. Returns ``{"settings": ..., "dlbook": ...,
    "gensim": ...}``; each side holds ``spearman`` (WordSim-353), ``pairs_used`` / ``pairs_total``,
    ``simlex`` (SimLex-999), ``analogy`` (accuracy on questions-words.txt), ``analogy_used`` /
    ``analogy_total``, ``seconds`` (training), ``words_per_second`` (corpus tokens × epochs /
    seconds, the same count for both), ``words`` and ``vectors`` (for neighbours and plots).
    Cached with :func:`dlbook.cache.cached_call` (``cache=False`` recomputes), so the zh and en
    pages share one run: the times are those of the run that filled the cache.
    """
    from ..cache import cached_call

    kwargs = dict(sg=sg, dim=dim, window=window, negative=negative, epochs=epochs, sample=sample,
                  min_count=min_count, workers=workers, seed=seed, batch_size=batch_size,
                  device=device)
    if not cache:
        return _compare(**kwargs, progress=progress)
    return cached_call(_compare, **kwargs, progress=progress)
