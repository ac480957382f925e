"""Chapter 8 (practice: the notes' Keras walkthrough in PyTorch): one-hot labels, Keras' MaxNorm
constraint on a torch weight, categorical cross-entropy from logits, a rank's share of a batch."""

from __future__ import annotations

import numpy as np
import torch

from ..keras_dense import MaxNorm
from ..nn.functional.loss import cross_entropy
from .core import Case, Exercise, Slip

CHAPTER = 8
_F32 = {"en": "float32", "zh": "float32"}


# -- one_hot --------------------------------------------------------------------------------
def reference_one_hot(labels, classes):
    index = {name: i for i, name in enumerate(classes)}
    positions = torch.as_tensor([index[label] for label in labels], dtype=torch.int64)
    return torch.nn.functional.one_hot(positions, len(classes)).numpy()


_NAMES = ("cat", "dog", "panda", "zero", "one", "two", "three", "four", "five", "six")


def _cases_one_hot(rng):
    def case(n, c, note=None, classes=None):
        classes = sorted(rng.choice(_NAMES, size=c, replace=False)) if classes is None else classes
        labels = [str(x) for x in rng.choice(classes, size=n)]
        return Case({"labels": labels, "classes": [str(x) for x in classes]}, note)
    return [
        case(6, 3, classes=["cat", "dog", "panda"]),
        case(10, 5),
        case(4, 2, note={"en": "two classes: still two columns", "zh": "两个类别：仍然是两列"}),
        case(1, 4, note={"en": "a single label", "zh": "只有一个标签"}),
        case(12, 10),
        Case({"labels": ["panda", "panda", "cat"], "classes": ["cat", "dog", "panda"]},
             {"en": "a class that never occurs", "zh": "有一个类别没有出现"}),
    ]


def _one_hot_variant(binarizer=False, sorted_by_appearance=False, binary_code=False):
    def one_hot(labels, classes):
        if sorted_by_appearance:
            classes = list(dict.fromkeys(labels)) + [c for c in classes if c not in labels]
        idx = np.array([list(classes).index(label) for label in labels])
        if binary_code:  # 00, 01, 10, ...: a binary number, not one-hot
            bits = max(1, int(np.ceil(np.log2(len(classes)))))
            return ((idx[:, None] >> np.arange(bits)[::-1]) & 1).astype(np.int64)
        out = np.eye(len(classes), dtype=np.int64)[idx]
        return out[:, 1:] if binarizer and len(classes) == 2 else out
    return one_hot


ONE_HOT = Exercise(
    id="one_hot", chapter=CHAPTER,
    title={"en": "One-hot rows for string labels", "zh": "字符串标签的独热编码"},
    statement={
        "en": """One-hot encode string labels, as the notes do for cat, dog and panda.
labels: a list of N strings; classes: the C class names, in the column order to use (every
label is one of them). Return an (N, C) int64 array whose row i has a single 1, in the column
of labels[i], and 0 elsewhere: C columns even when C = 2.""",
        "zh": """把字符串标签编码成独热向量，就像笔记对 cat、dog、panda 做的那样。labels：N 个字符串的列表；
classes：C 个类别名，按列的顺序排列（每个标签都是其中之一）。返回 (N, C) 的 int64 数组：第 i 行
只有一个 1，在 labels[i] 所在的列，其余为 0；C = 2 时也是两列。"""},
    reference=reference_one_hot, cases=_cases_one_hot, outputs=("one_hot",),
    slips=(
        Slip("one_column_for_two_classes", {
            "en": "with two classes you returned one column, as sklearn's LabelBinarizer does; a "
                  "one-hot row has one column per class, also for C = 2.",
            "zh": "两个类别时你只返回了一列，这是 sklearn 的 LabelBinarizer 的做法；独热编码每个类别一列，"
                  "C = 2 时也不例外。"},
            variants=(_one_hot_variant(binarizer=True),)),
        Slip("binary_code", {
            "en": "that is a binary number (00, 01, 10), not one-hot: a one-hot row has exactly "
                  "one 1 and C columns.",
            "zh": "这是二进制编号（00、01、10），不是独热编码：独热向量恰好有一个 1，共 C 列。"},
            variants=(_one_hot_variant(binary_code=True),)),
        Slip("columns_by_appearance", {
            "en": "the columns follow the order in which labels first appear; use the order of "
                  "classes.",
            "zh": "列的顺序按标签第一次出现的先后排了；应当按 classes 的顺序。"},
            variants=(_one_hot_variant(sorted_by_appearance=True),)),
    ),
)


# -- max_norm_ ------------------------------------------------------------------------------
def reference_max_norm_(weight, max_value):
    projected = MaxNorm(max_value, axis=0)(torch.from_numpy(weight.T.copy())).T  # Keras: (in, units)
    return projected.numpy().astype(weight.dtype)


def _cases_max_norm_(rng):
    def case(units, inputs, scale, max_value=2.0, dtype=np.float64, zero_row=False, note=None):
        w = scale * rng.standard_normal((units, inputs))
        if zero_row:
            w[0] = 0.0
        return Case({"weight": w.astype(dtype), "max_value": max_value}, note)
    return [
        case(4, 6, 1.0),
        case(5, 3, 1.5, max_value=1.0),
        case(3, 3, 0.3, note={"en": "every row already short: nothing changes (but for 1e-7)",
                              "zh": "每一行都已经够短：几乎不变（除了 1e-7）"}),
        case(1, 8, 2.0, note={"en": "a single unit", "zh": "只有一个单元"}),
        case(4, 5, 1.0, zero_row=True, note={"en": "a row of zeros", "zh": "有一行全是零"}),
        case(6, 4, 2.0, max_value=3.0),
        case(4, 7, 1.0, dtype=np.float32, note=_F32),
    ]


def _max_norm_variant(axis=1, scale_all=False, epsilon=1e-7):
    def max_norm_(weight, max_value):
        norms = np.sqrt(np.sum(weight.astype(np.float64) ** 2, axis=axis, keepdims=True))
        target = np.full_like(norms, max_value) if scale_all else np.minimum(norms, max_value)
        return (weight * (target / (epsilon + norms))).astype(weight.dtype)
    return max_norm_


MAX_NORM = Exercise(
    id="max_norm_", chapter=CHAPTER,
    title={"en": "Keras' MaxNorm on a torch weight", "zh": "在 torch 的权重上做 Keras 的 MaxNorm"},
    statement={
        "en": """Keras' MaxNorm constraint for a weight in torch's layout.
weight (units, in_features): row j holds unit j's incoming weights (Keras' kernel is
weight.T). Scale every row whose Euclidean norm exceeds max_value down to norm max_value,
as Keras does: row * min(norm, max_value) / (norm + 1e-7). Return the new weight (same
shape and dtype).""",
        "zh": """在 torch 布局的权重上实现 Keras 的 MaxNorm 约束。weight (units, in_features)：第 j 行是
单元 j 的输入权重（Keras 的 kernel 是 weight.T）。把欧几里得范数超过 max_value 的行缩小到范数
max_value，与 Keras 的公式相同：row * min(norm, max_value) / (norm + 1e-7)。返回新的权重
（形状和 dtype 不变）。"""},
    reference=reference_max_norm_, cases=_cases_max_norm_, outputs=("weight",),
    slips=(
        Slip("columns_normalized", {
            "en": "you bounded the columns: in torch's (units, in_features) layout a unit's "
                  "incoming vector is a row (Keras' axis=0 refers to its (in, units) kernel).",
            "zh": "你约束的是列：在 torch 的 (units, in_features) 布局中，一个单元的输入权重是一行"
                  "（Keras 的 axis=0 指的是它 (in, units) 的 kernel）。"},
            variants=(_max_norm_variant(axis=0),)),
        Slip("every_row_rescaled", {
            "en": "short rows must stay as they are: the factor is min(norm, max_value) / norm, "
                  "not max_value / norm.",
            "zh": "短的行应当保持不变：系数是 min(norm, max_value) / norm，不是 max_value / norm。"},
            variants=(_max_norm_variant(scale_all=True),)),
        Slip("no_epsilon", {
            "en": "Keras divides by norm + 1e-7 (a row of zeros stays zero instead of 0/0).",
            "zh": "Keras 除以 norm + 1e-7（全零的行仍为零，而不是 0/0）。"},
            variants=(_max_norm_variant(epsilon=0.0),)),
    ),
)


# -- categorical_crossentropy ---------------------------------------------------------------
def reference_categorical_crossentropy(logits, one_hot):
    return float(cross_entropy(logits, one_hot.astype(logits.dtype)))


def _cases_categorical_crossentropy(rng):
    def case(n, c, scale=1.0, note=None):
        labels = rng.integers(0, c, size=n)
        return Case({"logits": scale * rng.standard_normal((n, c)),
                     "one_hot": np.eye(c, dtype=np.int64)[labels]}, note)
    return [
        case(4, 3),
        case(8, 10),
        case(1, 5, note={"en": "a single sample", "zh": "只有一个样本"}),
        case(6, 4, scale=1000.0, note={"en": "large logits: exp overflows without the max shift",
                                      "zh": "logits 很大：不减去最大值，exp 会溢出"}),
        case(5, 2, note={"en": "two classes", "zh": "两个类别"}),
        case(7, 6, scale=3.0),
    ]


def _cce_variant(shift=True, mean=True, softmax_twice=False):
    def categorical_crossentropy(logits, one_hot):
        s = logits.astype(np.float64)
        if softmax_twice:
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s = s / s.sum(axis=1, keepdims=True)
        if shift:
            s = s - s.max(axis=1, keepdims=True)
        log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        total = -np.sum(one_hot * log_p)
        return float(total / len(s) if mean else total)
    return categorical_crossentropy


CATEGORICAL_CROSSENTROPY = Exercise(
    id="categorical_crossentropy", chapter=CHAPTER,
    title={"en": "Categorical cross-entropy from logits and one-hot labels",
           "zh": "由 logits 和独热标签计算分类交叉熵"},
    statement={
        "en": """The loss Keras calls categorical_crossentropy, computed from logits as torch's
CrossEntropyLoss does. logits (N, C): the last layer's scores (no softmax applied);
one_hot (N, C): one 1 per row. With p = softmax(logits) over each row, return the mean over
the N samples of -sum_c one_hot[n, c] * log p[n, c], as a Python float. Stay finite for
large logits (subtract each row's maximum first).""",
        "zh": """Keras 叫作 categorical_crossentropy 的损失，像 torch 的 CrossEntropyLoss 那样由 logits 计算。
logits (N, C)：最后一层的得分（还没有做 softmax）；one_hot (N, C)：每行一个 1。记 p 为每一行的
softmax，返回 -sum_c one_hot[n, c] * log p[n, c] 对 N 个样本的平均，作为 Python float。
logits 很大时结果也要是有限的（先减去每一行的最大值）。"""},
    reference=reference_categorical_crossentropy, cases=_cases_categorical_crossentropy,
    outputs=("loss",),
    slips=(
        Slip("softmax_twice", {
            "en": "the logits went through a softmax before the loss: CrossEntropyLoss applies "
                  "log_softmax itself, so the model's last layer gives raw scores.",
            "zh": "logits 在进入损失之前已经做过一次 softmax：CrossEntropyLoss 自己会做 log_softmax，"
                  "所以模型最后一层输出的是原始得分。"},
            variants=(_cce_variant(softmax_twice=True),)),
        Slip("summed", {
            "en": "that is the sum over the batch; the loss is its mean (divide by N).",
            "zh": "这是整个批量的和；损失是平均值（除以 N）。"},
            variants=(_cce_variant(mean=False),)),
        Slip("no_max_shift", {
            "en": "exp overflowed: subtract each row's maximum before exp (log_softmax does).",
            "zh": "exp 溢出了：在 exp 之前先减去每一行的最大值（log_softmax 就是这样做的）。"},
            variants=(_cce_variant(shift=False),)),
    ),
)


# -- shard_batch ----------------------------------------------------------------------------
def reference_shard_batch(indices, rank, world_size):
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(len(indices)), num_replicas=world_size, rank=rank,
                                 shuffle=False)
    return np.asarray(indices)[list(sampler)]


def _cases_shard_batch(rng):
    def case(batch, rank, world_size, note=None):
        return Case({"indices": rng.permutation(1000)[:batch].astype(np.int64), "rank": rank,
                     "world_size": world_size}, note)
    return [
        case(8, 1, 2),
        case(12, 2, 4),
        case(6, 0, 3, note={"en": "rank 0", "zh": "rank 0"}),
        case(10, 4, 5, note={"en": "the last rank", "zh": "最后一个 rank"}),
        case(4, 0, 1, note={"en": "one process: the whole batch", "zh": "只有一个进程：整个批量"}),
        case(16, 3, 8),
    ]


def _shard_variant(blocks=False, offset=0):
    def shard_batch(indices, rank, world_size):
        indices = np.asarray(indices)
        if blocks:
            share = len(indices) // world_size
            return indices[rank * share:(rank + 1) * share]
        return indices[(rank + offset) % world_size::world_size]
    return shard_batch


SHARD_BATCH = Exercise(
    id="shard_batch", chapter=CHAPTER,
    title={"en": "One process's share of a global batch", "zh": "一个进程在全局批量中的份额"},
    statement={
        "en": """The rows of a global batch that process `rank` of `world_size` trains on, by
torch's DistributedSampler rule (shuffle=False): rank r takes positions r, r + W, r + 2W, ...
indices (B,): the global batch's sample indices, B a multiple of world_size; 0 <= rank <
world_size. Return the (B / world_size,) int64 indices of this rank's share.""",
        "zh": """按 torch 的 DistributedSampler 规则（shuffle=False），world_size 个进程中第 rank 个进程训练
全局批量的哪些行：rank r 取位置 r、r + W、r + 2W、……。indices (B,)：全局批量中样本的编号，
B 是 world_size 的倍数；0 <= rank < world_size。返回这个 rank 的份额：(B / world_size,) 的
int64 编号。"""},
    reference=reference_shard_batch, cases=_cases_shard_batch, outputs=("share",),
    slips=(
        Slip("contiguous_blocks", {
            "en": "you gave each rank a contiguous block; DistributedSampler interleaves: rank r "
                  "takes indices[r::world_size].",
            "zh": "你给每个 rank 分了连续的一段；DistributedSampler 是交错分配的：rank r 取 "
                  "indices[r::world_size]。"},
            variants=(_shard_variant(blocks=True),)),
        Slip("ranks_from_one", {
            "en": "ranks count from 0: rank 0 takes the first row.",
            "zh": "rank 从 0 开始数：rank 0 取第一行。"},
            variants=(_shard_variant(offset=1),)),
    ),
)

EXERCISES = [ONE_HOT, MAX_NORM, CATEGORICAL_CROSSENTROPY, SHARD_BATCH]
