"""Chapter 7 (word vectors, Word2Vec): the skip-gram pairs of a sentence, one skip-gram
negative-sampling example's loss and gradients, word2vec's subsampling keep probability."""

from __future__ import annotations

import numpy as np

from ..word2vec import keep_probabilities, sgns_loss_and_grads, skipgram_pairs
from .core import Case, Exercise, Slip

CHAPTER = 7


# -- skipgram_training_pairs ----------------------------------------------------------------
def reference_skipgram_training_pairs(ids, window):
    return skipgram_pairs(ids, window, reduced=False)


def _cases_skipgram_training_pairs(rng):
    def case(length, window, vocab=50, note=None):
        return Case({"ids": rng.integers(0, vocab, size=length).astype(np.int64), "window": window}, note)
    return [
        case(8, 2),
        case(12, 3),
        case(5, 1, note={"en": "window = 1: only the neighbours", "zh": "window = 1：只有相邻的词"}),
        case(3, 4, note={"en": "a window wider than the sentence", "zh": "窗口比句子还宽"}),
        case(2, 2, note={"en": "a sentence of two words", "zh": "只有两个词的句子"}),
        case(20, 5, vocab=5, note={"en": "repeated words", "zh": "有重复的词"}),
    ]


def _pairs_variant(include_center=False, short=False, wrap=False):
    def pairs(ids, window):
        ids = np.asarray(ids)
        n = len(ids)
        centers, contexts = [], []
        for i in range(n):
            for offset in range(-window, window + 1):
                if (offset == 0 and not include_center) or (short and abs(offset) == window):
                    continue
                j = i + offset
                if wrap:
                    j %= n
                elif not 0 <= j < n:
                    continue
                centers.append(ids[i])
                contexts.append(ids[j])
        return np.array(centers, dtype=np.int64), np.array(contexts, dtype=np.int64)
    return pairs


SKIPGRAM_TRAINING_PAIRS = Exercise(
    id="skipgram_training_pairs", chapter=CHAPTER,
    title={"en": "The skip-gram pairs of a sentence", "zh": "一个句子的 skip-gram 训练对"},
    statement={
        "en": """Skip-gram's training pairs of one sentence, with a fixed window.
ids (n,): the sentence's word ids; window >= 1. For every position i (in order) and every
position j with 1 <= |i - j| <= window inside the sentence (left to right), one pair
(ids[i], ids[j]): the center word and a context word. Return (centers, contexts), two
int64 arrays of the same length.""",
        "zh": """一个句子的 skip-gram 训练对，窗口大小固定。
ids (n,)：句子中各词的编号；window >= 1。对每个位置 i（按顺序）和句子内每个满足
1 <= |i - j| <= window 的位置 j（从左到右），生成一对 (ids[i], ids[j])：中心词和一个
上下文词。返回 (centers, contexts)，两个长度相同的 int64 数组。"""},
    reference=reference_skipgram_training_pairs, cases=_cases_skipgram_training_pairs,
    outputs=("centers", "contexts"),
    slips=(
        Slip("center_included", {
            "en": "the center word is paired with itself: the offsets are -window..-1 and "
                  "1..window, without 0.",
            "zh": "中心词和它自己配成了一对：偏移是 -window..-1 和 1..window，不含 0。"},
            variants=(_pairs_variant(include_center=True),)),
        Slip("window_too_short", {
            "en": "the words at distance exactly window are missing: the window reaches "
                  "window words on each side (range(1, window + 1)).",
            "zh": "漏了距离正好为 window 的词：窗口向两边各伸出 window 个词"
                  "（range(1, window + 1)）。"},
            variants=(_pairs_variant(short=True),)),
        Slip("wrapped_around", {
            "en": "the window wrapped around the sentence's ends: a position outside the "
                  "sentence (j < 0 or j >= n) has no word; ids[-1] is the last word, not a "
                  "neighbour of the first.",
            "zh": "窗口绕过了句子的两端：句子之外的位置（j < 0 或 j >= n）没有词；ids[-1] "
                  "是最后一个词，不是第一个词的邻居。"},
            variants=(_pairs_variant(wrap=True),)),
    ),
)


# -- sgns_example ---------------------------------------------------------------------------
def reference_sgns_example(w_in, w_out, center, context, negatives):
    return sgns_loss_and_grads(w_in, w_out, center, context, negatives)


def _cases_sgns_example(rng):
    def case(vocab, dim, k, scale=0.5, dtype=np.float64, repeat=False, note=None):
        ids = rng.choice(vocab, size=k + 2, replace=False)
        negatives = ids[2:].copy()
        if repeat:
            negatives[-1] = negatives[0]
        return Case({"w_in": (scale * rng.standard_normal((vocab, dim))).astype(dtype),
                     "w_out": (scale * rng.standard_normal((vocab, dim))).astype(dtype),
                     "center": int(ids[0]), "context": int(ids[1]),
                     "negatives": negatives.astype(np.int64)}, note)
    return [
        case(100, 10, 3),
        case(20, 8, 5),
        case(8, 3, 1, note={"en": "one negative", "zh": "只有一个负样本"}),
        case(12, 5, 4, repeat=True,
             note={"en": "a noise word drawn twice", "zh": "同一个噪声词被抽中两次"}),
        case(15, 6, 5, scale=1.5, note={"en": "large vectors: σ near 0 or 1", "zh": "向量较大：σ 接近 0 或 1"}),
        case(30, 10, 5),
    ]


def _sgns_variant(positive_slope=False, negatives_as_positives=False, loss_sign=1.0):
    def example(w_in, w_out, center, context, negatives):
        sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        v, u_o, u_k = w_in[center], w_out[context], w_out[negatives]
        s_o, s_k = u_o @ v, u_k @ v
        if negatives_as_positives:
            loss = np.log1p(np.exp(-s_o)) + np.log1p(np.exp(-s_k)).sum()
            d_k = sigmoid(s_k) - 1
        else:
            loss = np.log1p(np.exp(-s_o)) + np.log1p(np.exp(s_k)).sum()
            d_k = sigmoid(s_k)
        d_o = sigmoid(s_o) if positive_slope else sigmoid(s_o) - 1
        return (float(loss_sign * loss), d_o * u_o + d_k @ u_k, d_o * v, d_k[:, None] * v[None, :])
    return example


SGNS_EXAMPLE = Exercise(
    id="sgns_example", chapter=CHAPTER,
    title={"en": "One skip-gram negative-sampling example: loss and gradients",
           "zh": "skip-gram 负采样的一个样本：损失与梯度"},
    statement={
        "en": """The loss and gradients of one skip-gram example with negative sampling.
w_in, w_out (V, d): the input and output matrices; center, context: word ids; negatives (K,):
the noise words' ids. With v = w_in[center], u_o = w_out[context], u_k = w_out[negatives[k]]:
loss = -log σ(u_o·v) - Σ_k log σ(-u_k·v). Return (loss, grad_center (d,), grad_context (d,),
grad_negatives (K, d)): the gradients of the loss with respect to v, u_o and each u_k (one
row per slot of negatives, even when a word fills two slots).""",
        "zh": """skip-gram 负采样的一个样本的损失和梯度。w_in、w_out (V, d)：输入矩阵和输出矩阵；
center、context：词的编号；negatives (K,)：噪声词的编号。记 v = w_in[center]，
u_o = w_out[context]，u_k = w_out[negatives[k]]：loss = -log σ(u_o·v) - Σ_k log σ(-u_k·v)。
返回 (loss, grad_center (d,), grad_context (d,), grad_negatives (K, d))：损失对 v、u_o 和每个
u_k 的梯度（negatives 的每个位置一行，即使同一个词占了两个位置）。"""},
    reference=reference_sgns_example, cases=_cases_sgns_example,
    outputs=("loss", "grad_center", "grad_context", "grad_negatives"),
    slips=(
        Slip("positive_slope", {
            "en": "the true context word's slope is σ(u_o·v) - 1, not σ(u_o·v): its label is 1, "
                  "and the derivative of -log σ(s) is σ(s) - 1.",
            "zh": "真实上下文词的斜率是 σ(u_o·v) - 1，不是 σ(u_o·v)：它的标签是 1，"
                  "-log σ(s) 的导数是 σ(s) - 1。"},
            variants=(_sgns_variant(positive_slope=True),)),
        Slip("negatives_as_positives", {
            "en": "the noise words are class 0: their term is -log σ(-u_k·v) (mind the minus "
                  "inside σ), with slope σ(u_k·v).",
            "zh": "噪声词属于类别 0：它们的项是 -log σ(-u_k·v)（注意 σ 里的负号），"
                  "斜率是 σ(u_k·v)。"},
            variants=(_sgns_variant(negatives_as_positives=True),)),
        Slip("loss_sign", {
            "en": "the loss is the negative log-likelihood: -log σ(...), a positive number.",
            "zh": "损失是负对数似然：-log σ(...)，是正数。"},
            variants=(_sgns_variant(loss_sign=-1.0),)),
    ),
)


# -- keep_probability -----------------------------------------------------------------------
def reference_keep_probability(counts, sample):
    return keep_probabilities(counts, sample=sample)


def _cases_keep_probability(rng):
    def case(vocab, sample, top=100_000, note=None):
        counts = np.sort(rng.zipf(1.3, size=vocab).clip(1, top))[::-1].astype(np.int64)
        counts[0] = top  # a very frequent word, so that subsampling drops something
        return Case({"counts": counts, "sample": sample}, note)
    return [
        case(50, 1e-3),
        case(200, 1e-3),
        case(100, 1e-4, note={"en": "sample = 1e-4: more words are subsampled",
                              "zh": "sample = 1e-4：更多的词被下采样"}),
        case(20, 1e-2, note={"en": "sample = 1e-2: few words are subsampled",
                             "zh": "sample = 1e-2：很少的词被下采样"}),
        Case({"counts": np.array([5, 5, 5, 5], dtype=np.int64), "sample": 1e-3},
             {"en": "equally frequent words", "zh": "频率相同的词"}),
        case(500, 1e-3, top=1_000_000),
    ]


def _keep_variant(paper=False, clipped=True, per_fraction=False):
    def keep(counts, sample):
        counts = np.asarray(counts, dtype=np.float64)
        total = counts.sum()
        if paper:
            k = np.sqrt(sample * total / counts)
        elif per_fraction:
            k = (np.sqrt(counts / sample) + 1) * sample / counts  # t = sample, not sample·total
        else:
            t = sample * total
            k = (np.sqrt(counts / t) + 1) * t / counts
        return np.minimum(k, 1.0) if clipped else k
    return keep


KEEP_PROBABILITY = Exercise(
    id="keep_probability", chapter=CHAPTER,
    title={"en": "word2vec's subsampling: the probability of keeping a word",
           "zh": "word2vec 的下采样：保留一个词的概率"},
    statement={
        "en": """The probability that word2vec's subsampling keeps one occurrence of each word.
counts (V,): the words' counts in the corpus; sample: word2vec's threshold (e.g. 1e-3).
With t = sample · counts.sum() and f a word's count, word2vec's code keeps it with
probability min(1, (sqrt(f / t) + 1) · t / f). Return the (V,) float64 probabilities.""",
        "zh": """word2vec 的下采样保留每个词的一次出现的概率。counts (V,)：各词在语料中出现的次数；
sample：word2vec 的阈值（例如 1e-3）。记 t = sample · counts.sum()，f 为某个词的次数，
word2vec 的代码以概率 min(1, (sqrt(f / t) + 1) · t / f) 保留它。返回 (V,) 的 float64
概率。"""},
    reference=reference_keep_probability, cases=_cases_keep_probability, outputs=("keep",),
    slips=(
        Slip("paper_formula", {
            "en": "that is the paper's rule, keep = sqrt(t / f); word2vec's code (and gensim) "
                  "keeps (sqrt(f / t) + 1) · t / f, which keeps more.",
            "zh": "这是论文里的规则 keep = sqrt(t / f)；word2vec 的代码（以及 gensim）保留的概率"
                  "是 (sqrt(f / t) + 1) · t / f，保留得更多。"},
            variants=(_keep_variant(paper=True),)),
        Slip("not_clipped", {
            "en": "a probability is at most 1: rare words give (sqrt(f / t) + 1) · t / f > 1, "
                  "so take min(1, ...).",
            "zh": "概率最大是 1：罕见词的 (sqrt(f / t) + 1) · t / f 大于 1，所以要取 min(1, ...)。"},
            variants=(_keep_variant(clipped=False),)),
        Slip("threshold_not_scaled", {
            "en": "the threshold is t = sample · (total count), a count like f; sample alone "
                  "is a fraction.",
            "zh": "阈值是 t = sample · （总次数），与 f 一样是一个次数；单独的 sample 是一个比例。"},
            variants=(_keep_variant(per_fraction=True),)),
    ),
)

EXERCISES = [SKIPGRAM_TRAINING_PAIRS, SGNS_EXAMPLE, KEEP_PROBABILITY]
