"""Chapter 6's experiments: gradients through time, a character language model, trees.

* :func:`gradient_norms_through_time`: ||dL/dh_t|| for every time step of an Elman RNN or
  an LSTM (the NumPy cells of :mod:`dlbook.nn`, unrolled by hand), with
  :func:`gradient_norms_torch` computing the same numbers by torch's autograd. Small
  recurrent weights make the gradient vanish, large ones make it explode; an LSTM whose
  forget gates stay open keeps it.
* The language model on the 300 Tang poems: :func:`unigram_cross_entropy` (the baseline:
  character frequencies alone), :func:`train_char_lm` (the torch
  :class:`~dlbook.models.char_rnn.CharRNNTorch`, truncated BPTT through
  :func:`dlbook.train.fit`), :func:`stream_loss` (nats per character over a whole text,
  the state carried), :func:`sample` (text at a temperature, seeded) and
  :func:`train_numpy_char_lm` (the same recipe, smaller, on the NumPy
  :class:`~dlbook.models.char_rnn.CharRNN`).
* Recursive networks: :class:`TreeRNN` applies one composition cell along a binary tree;
  over the left-branching chain :func:`left_chain` it *is* the Elman RNN.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .. import nn, optim
from ..data import CharVocabulary, load_tang_poems, poems_in, split_by_poem, tbptt_windows
from ..devices import resolve_device
from ..models.char_rnn import (CharRNN, CharRNNTorch, SequenceCrossEntropyLoss,
                               SequenceCrossEntropyLossTorch)
from ..train import fit, tbptt_step

KINDS = ("rnn", "lstm")


# -- gradients through time ---------------------------------------------------------------------
def _check_kind(kind) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _positive_int(who: str, name: str, value) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    return int(value)


def gradient_setup(kind: str = "rnn", steps: int = 50, input_size: int = 8,
                   hidden_size: int = 32, *, recurrent_scale: float | None = None,
                   forget_bias: float | None = None, seed: int = 0):
    """The cell, inputs and readout of :func:`gradient_norms_through_time` (float64).

    kind: ``"rnn"`` (:class:`dlbook.nn.RNNCell`, tanh) or ``"lstm"``
    (:class:`dlbook.nn.LSTMCell`), torch's initialization. recurrent_scale: replace
    ``weight_hh`` by that multiple of a random orthogonal matrix, so every singular value
    of the recurrent matrix is ``recurrent_scale`` (RNN only). forget_bias: set the LSTM's
    forget-gate bias to this value (``bias_ih`` part; ``bias_hh`` part 0): a large value
    keeps the forget gates near 1. Returns (cell, x (steps, input_size) ~ N(0, 1),
    readout (hidden_size,) of unit norm).
    """
    who = "gradient_setup"
    _check_kind(kind)
    steps = _positive_int(who, "steps", steps)
    input_size = _positive_int(who, "input_size", input_size)
    hidden_size = _positive_int(who, "hidden_size", hidden_size)
    if recurrent_scale is not None and (kind != "rnn" or not recurrent_scale > 0):
        raise ValueError(f"{who}: recurrent_scale is a positive number for kind='rnn', got "
                         f"{recurrent_scale!r} for kind={kind!r}")
    if forget_bias is not None and kind != "lstm":
        raise ValueError(f"{who}: forget_bias applies to kind='lstm', got kind={kind!r}")
    rng = np.random.default_rng(seed)
    cls = nn.RNNCell if kind == "rnn" else nn.LSTMCell
    cell = cls(input_size, hidden_size, dtype=np.float64, seed=rng)
    if recurrent_scale is not None:
        q, r = np.linalg.qr(rng.standard_normal((hidden_size, hidden_size)))
        cell.weight_hh[...] = recurrent_scale * q * np.sign(np.diag(r))
    if forget_bias is not None:
        forget = slice(hidden_size, 2 * hidden_size)  # gates i, f, g, o
        cell.bias_ih[forget], cell.bias_hh[forget] = forget_bias, 0.0
    x = rng.standard_normal((steps, input_size))
    readout = rng.standard_normal(hidden_size)
    return cell, x, readout / np.linalg.norm(readout)


def gradient_norms_through_time(kind: str = "rnn", steps: int = 50, input_size: int = 8,
                                hidden_size: int = 32, *, recurrent_scale: float | None = None,
                                forget_bias: float | None = None, seed: int = 0) -> np.ndarray:
    """||dL/dh_t|| for t = 0..steps, by the NumPy cell's own backward, one step at a time.

    The cell of :func:`gradient_setup` runs over the inputs from h_0 = 0 (and c_0 = 0);
    the loss is a linear readout of the last state, L = r·h_T with ||r|| = 1, so
    ||dL/dh_T|| = 1 and each earlier norm shows how much of the gradient reaches step t.
    Backpropagation calls the cell's backward once per step, in reverse order (the stack
    of the layer contract); for the LSTM the gradient also flows through the cell states.
    Returns the (steps + 1,) norms, index t for h_t (index 0: the initial state).
    """
    cell, x, readout = gradient_setup(kind, steps, input_size, hidden_size,
                                      recurrent_scale=recurrent_scale,
                                      forget_bias=forget_bias, seed=seed)
    h = np.zeros(cell.hidden_size)
    state = h if kind == "rnn" else (h, np.zeros(cell.hidden_size))
    for x_t in x:
        state = cell(x_t, state)
    norms = [1.0]
    d_state = readout if kind == "rnn" else (readout, None)
    for _ in range(len(x)):
        _, d_state = cell.backward(d_state)
        norms.append(float(np.linalg.norm(d_state if kind == "rnn" else d_state[0])))
    return np.array(norms[::-1])


def gradient_norms_torch(kind: str = "rnn", steps: int = 50, input_size: int = 8,
                         hidden_size: int = 32, *, recurrent_scale: float | None = None,
                         forget_bias: float | None = None, seed: int = 0) -> np.ndarray:
    """The norms of :func:`gradient_norms_through_time`, by torch's autograd: the same
    cell (copied to ``torch.nn.RNNCell``/``LSTMCell``, float64), inputs and readout, each
    h_t keeping its ``.grad`` (``retain_grad``)."""
    cell, x, readout = gradient_setup(kind, steps, input_size, hidden_size,
                                      recurrent_scale=recurrent_scale,
                                      forget_bias=forget_bias, seed=seed)
    twin = nn.to_torch(cell)
    h = torch.zeros(cell.hidden_size, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(cell.hidden_size, dtype=torch.float64)
    hs = [h]
    for x_t in torch.from_numpy(x):
        if kind == "rnn":
            h = twin(x_t, h)
        else:
            h, c = twin(x_t, (h, c))
        h.retain_grad()
        hs.append(h)
    (torch.from_numpy(readout) * h).sum().backward()
    return np.array([float(h_t.grad.norm()) for h_t in hs])


# -- the language model ------------------------------------------------------------------------
def unigram_cross_entropy(train_ids, eval_ids, vocab_size: int, alpha: float = 1.0) -> float:
    """Nats per character of the unigram model on ``eval_ids``: the baseline a language model
    must beat.

    Each character gets probability (count in train_ids + alpha) / (len(train_ids) +
    alpha · vocab_size), whatever came before it (add-alpha smoothing, so that a character
    never seen in training costs a finite amount). Returns -mean log p(c) over eval_ids.
    """
    train_ids, eval_ids = np.asarray(train_ids), np.asarray(eval_ids)
    for name, ids in (("train_ids", train_ids), ("eval_ids", eval_ids)):
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or ids.size == 0:
            raise ValueError(f"unigram_cross_entropy: {name} must be a non-empty 1-D integer array, "
                             f"got {ids.dtype} of shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= vocab_size:
            raise ValueError(f"unigram_cross_entropy: {name} must lie in [0, {vocab_size}), got values "
                             f"in [{ids.min()}, {ids.max()}]")
    if not alpha > 0:
        raise ValueError(f"unigram_cross_entropy: alpha must be positive, got {alpha!r}")
    counts = np.bincount(train_ids, minlength=vocab_size) + alpha
    log_p = np.log(counts) - np.log(counts.sum())
    return float(-log_p[eval_ids].mean())


def _is_torch(model) -> bool:
    return isinstance(model, torch.nn.Module)


def _model_step(model, ids: np.ndarray, state):
    """Logits (L, V) as float64 NumPy and the next state, for ids (L,), without gradients."""
    if _is_torch(model):
        device = next(model.parameters()).device
        with torch.no_grad():
            logits, state = model(torch.as_tensor(ids[None], device=device), state, return_state=True)
        return logits[0].double().cpu().numpy(), state
    with nn.no_grad():
        logits, state = model(ids[None], state, return_state=True)
    return logits[0].astype(np.float64), state


def stream_loss(model, ids, *, chunk_len: int = 512) -> float:
    """Nats per character of ``model`` predicting ids[1:] from ids[:-1], read as one stream.

    The recurrent state is carried from each chunk of ``chunk_len`` characters to the next,
    so every character is predicted from everything before it in the text (fit's per-epoch
    evaluation starts each window from a zero state instead). Works for
    :class:`~dlbook.models.char_rnn.CharRNN` and
    :class:`~dlbook.models.char_rnn.CharRNNTorch` (in eval mode, without gradients).
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or len(ids) < 2:
        raise ValueError(f"stream_loss expects a 1-D integer array of at least 2 ids, got {ids.dtype} of "
                         f"shape {ids.shape}")
    chunk_len = _positive_int("stream_loss", "chunk_len", chunk_len)
    was_training = model.training
    model.eval()
    total, state = 0.0, None
    try:
        for start in range(0, len(ids) - 1, chunk_len):
            x = ids[start:start + chunk_len]
            y = ids[start + 1:start + 1 + chunk_len]
            logits, state = _model_step(model, x[:len(y)], state)
            shifted = logits - logits.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            total -= float(log_p[np.arange(len(y)), y].sum())
    finally:
        model.train(was_training)
    return total / (len(ids) - 1)


def sample(model, vocabulary: CharVocabulary, prompt: str, length: int, *,
           temperature: float = 1.0, seed: int = 0) -> str:
    """``prompt`` followed by ``length`` characters drawn from the model one at a time.

    Each character is drawn from softmax(logits / temperature) by a NumPy Generator seeded
    with ``seed`` (the same seed gives the same text); it is then fed back as the next
    input, the state carried. Temperature below 1 sharpens the distribution, above 1
    flattens it; ``temperature=0`` takes the most likely character every time (greedy),
    the limit of temperature -> 0. Works for torch and NumPy character models.
    """
    if not isinstance(prompt, str) or not prompt:
        raise ValueError("sample needs a non-empty prompt to start from")
    if not isinstance(length, (int, np.integer)) or isinstance(length, bool) or length < 0:
        raise ValueError(f"sample: length must be a non-negative int, got {length!r}")
    if not (isinstance(temperature, (int, float, np.floating)) and temperature >= 0
            and np.isfinite(temperature)):
        raise ValueError(f"sample: temperature must be a finite number >= 0, got {temperature!r}")
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    try:
        logits, state = _model_step(model, vocabulary.encode(prompt), None)
        drawn = []
        for _ in range(length):
            scores = logits[-1]
            if temperature == 0:
                next_id = int(np.argmax(scores))
            else:
                z = scores / temperature
                p = np.exp(z - z.max())
                next_id = int(rng.choice(len(p), p=p / p.sum()))
            drawn.append(next_id)
            logits, state = _model_step(model, np.array([next_id]), state)
    finally:
        model.train(was_training)
    return prompt + vocabulary.decode(np.array(drawn, dtype=np.int64))


def _lm_data(val_fraction: float, test_fraction: float, seed: int, path=None):
    text = load_tang_poems() if path is None else load_tang_poems(path, sha256=None)
    split = split_by_poem(text, val_fraction, test_fraction, seed=seed)
    vocabulary = CharVocabulary.from_text(text)  # the symbol inventory of the whole corpus
    return split, vocabulary


#: the settings chapter 6 trains with (about 20 s on one CPU core; the validation loss was
#: lowest after 8 epochs)
LM_SETTINGS = dict(epochs=8, embedding_dim=128, hidden_size=256, seq_len=32, batch_size=16,
                   lr=2e-3, max_norm=1.0, cell="lstm")


def train_char_lm(epochs: int = 8, embedding_dim: int = 128, hidden_size: int = 256,
                  seq_len: int = 32, batch_size: int = 16, lr: float = 2e-3,
                  max_norm: float | None = 1.0, cell: str = "lstm", num_layers: int = 1,
                  val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
                  device=None, progress: bool | None = None) -> dict:
    """Train the torch character model on the Tang poems; return what the chapter shows.

    The poems (:func:`dlbook.data.load_tang_poems`) are split by poem
    (:func:`dlbook.data.split_by_poem`); the vocabulary is every character of the corpus.
    The training text is laid out by :func:`dlbook.data.tbptt_windows` in ``batch_size``
    streams of windows of ``seq_len`` characters, and
    ``CharRNNTorch(V, embedding_dim, hidden_size, num_layers, cell, seed=seed)`` is trained
    by :func:`dlbook.train.fit` (``shuffle=False``) with :func:`dlbook.train.tbptt_step`
    (state carried between batches, gradient norm clipped to ``max_norm``) and Adam at
    ``lr``, on ``device`` (default :func:`dlbook.devices.best_device`; on the CPU with one
    thread, since a second one only waits on these small matrix products, and thrashes when
    the cores are shared). fit evaluates each epoch on the training and validation windows,
    each window from a zero state.

    Returns a dict: ``history`` (:class:`dlbook.train.History`; ``tracked["step_loss"]`` the
    mean training-step loss per epoch), ``state_dict`` (NumPy arrays, see
    :func:`char_lm_model`), ``config`` (the model's arguments), ``vocabulary``,
    ``val_loss`` / ``test_loss`` (:func:`stream_loss` of the final model, nats per
    character), ``unigram_val`` / ``unigram_test`` (:func:`unigram_cross_entropy` from the
    training text's counts), ``grad_norms`` (each step's gradient norm before clipping),
    ``chars`` (characters per split), ``settings``, ``device`` and ``seconds`` (training).
    """
    if cell not in ("lstm", "rnn"):
        raise ValueError(f"train_char_lm: cell must be 'lstm' or 'rnn', got {cell!r}")
    for name, value in (("epochs", epochs), ("seq_len", seq_len), ("batch_size", batch_size)):
        _positive_int("train_char_lm", name, value)
    if not lr > 0:
        raise ValueError(f"train_char_lm: lr must be positive, got {lr!r}")
    settings = dict(epochs=epochs, embedding_dim=embedding_dim, hidden_size=hidden_size,
                    seq_len=seq_len, batch_size=batch_size, lr=lr, max_norm=max_norm, cell=cell,
                    num_layers=num_layers, val_fraction=val_fraction,
                    test_fraction=test_fraction, seed=seed)
    split, vocabulary = _lm_data(val_fraction, test_fraction, seed)
    train_ids, val_ids, test_ids = (vocabulary.encode(t) for t in (split.train, split.val, split.test))
    X, Y = tbptt_windows(train_ids, seq_len, batch_size)
    X_val, Y_val = tbptt_windows(val_ids, seq_len, 1)
    config = dict(vocab_size=len(vocabulary), embedding_dim=embedding_dim, hidden_size=hidden_size,
                  num_layers=num_layers, cell=cell)
    device = resolve_device(device)
    model = CharRNNTorch(**config, seed=seed).to(device)
    loss_fn = SequenceCrossEntropyLossTorch()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    step = tbptt_step(model, loss_fn, optimizer, max_norm=max_norm)
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        history = fit(model, loss_fn, None, X, Y, X_val, Y_val, epochs=epochs, batch_size=batch_size,
                      seed=seed, device=device, train_step=step, shuffle=False, eval_batch_size=64,
                      desc=f"char-{cell}", progress=progress)
        seconds = time.perf_counter() - start
        val_loss, test_loss = stream_loss(model, val_ids), stream_loss(model, test_ids)
    finally:
        torch.set_num_threads(threads)
    return dict(history=history, config=config, vocabulary=vocabulary,
                state_dict={k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
                val_loss=val_loss, test_loss=test_loss,
                unigram_val=unigram_cross_entropy(train_ids, val_ids, len(vocabulary)),
                unigram_test=unigram_cross_entropy(train_ids, test_ids, len(vocabulary)),
                grad_norms=list(step.grad_norms),
                chars=dict(train=len(train_ids), val=len(val_ids), test=len(test_ids)),
                settings=settings, device=str(device), seconds=seconds)


def char_lm_model(result: dict, device=None) -> CharRNNTorch:
    """The trained :class:`CharRNNTorch` of a :func:`train_char_lm` result, in eval mode."""
    model = CharRNNTorch(**result["config"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in result["state_dict"].items()})
    return model.to(resolve_device(device)).eval()


#: the settings of chapter 6's NumPy model (about a second per epoch on two CPU cores)
NUMPY_LM_SETTINGS = dict(train_chars=None, epochs=5, embedding_dim=32, hidden_size=64, seq_len=32,
                         batch_size=16, lr=5e-3, max_norm=1.0, cell="lstm")


def train_numpy_char_lm(train_chars: int | None = None, epochs: int = 5, embedding_dim: int = 32,
                        hidden_size: int = 64, seq_len: int = 32, batch_size: int = 16,
                        lr: float = 5e-3, max_norm: float | None = 1.0, cell: str = "lstm",
                        val_fraction: float = 0.1, test_fraction: float = 0.1,
                        seed: int = 0, progress: bool | None = None) -> dict:
    """The recipe of :func:`train_char_lm` on the NumPy :class:`CharRNN` (float32), smaller.

    The same split and vocabulary as :func:`train_char_lm`; ``train_chars`` cuts the training
    text to its first poems holding at least that many characters (None: all). The model
    ``CharRNN(V, embedding_dim, hidden_size, cell=cell, seed=seed)`` is trained by
    :func:`dlbook.train.fit` with :func:`dlbook.train.tbptt_step` and
    :class:`dlbook.optim.Adam`, every gradient by the layers' hand-written backward passes.
    Returns a dict: ``history`` (per epoch, on the training and validation windows),
    ``val_loss`` (:func:`stream_loss`), ``unigram_val`` (from the same training
    characters), ``chars``, ``settings`` and ``seconds``.
    """
    if cell not in ("lstm", "rnn"):
        raise ValueError(f"train_numpy_char_lm: cell must be 'lstm' or 'rnn', got {cell!r}")
    if train_chars is not None:
        _positive_int("train_numpy_char_lm", "train_chars", train_chars)
    settings = dict(train_chars=train_chars, epochs=epochs, embedding_dim=embedding_dim,
                    hidden_size=hidden_size, seq_len=seq_len, batch_size=batch_size, lr=lr,
                    max_norm=max_norm, cell=cell, val_fraction=val_fraction,
                    test_fraction=test_fraction, seed=seed)
    split, vocabulary = _lm_data(val_fraction, test_fraction, seed)
    kept, size = [], 0
    for poem in poems_in(split.train):
        if train_chars is not None and size >= train_chars:
            break
        kept.append(poem)
        size += len(poem) + 2
    train_ids = vocabulary.encode("\n\n".join(kept) + "\n")
    val_ids = vocabulary.encode(split.val)
    X, Y = tbptt_windows(train_ids, seq_len, batch_size)
    X_val, Y_val = tbptt_windows(val_ids, seq_len, 1)
    model = CharRNN(len(vocabulary), embedding_dim, hidden_size, cell=cell, seed=seed)
    loss_fn = SequenceCrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    step = tbptt_step(model, loss_fn, optimizer, max_norm=max_norm)
    start = time.perf_counter()
    history = fit(model, loss_fn, None, X, Y, X_val, Y_val, epochs=epochs, batch_size=batch_size,
                  seed=seed, train_step=step, shuffle=False, eval_batch_size=64,
                  desc=f"numpy-char-{cell}", progress=progress)
    seconds = time.perf_counter() - start
    return dict(history=history, val_loss=stream_loss(model, val_ids),
                unigram_val=unigram_cross_entropy(train_ids, val_ids, len(vocabulary)),
                chars=dict(train=len(train_ids), val=len(val_ids)), settings=settings,
                seconds=seconds)


# -- recursive networks ------------------------------------------------------------------------
def left_chain(n: int):
    """The left-branching binary tree over leaves 0..n-1: ((((0, 1), 2), 3), ...)."""
    n = _positive_int("left_chain", "n", n)
    tree = 0
    for leaf in range(1, n):
        tree = (tree, leaf)
    return tree


def balanced_tree(leaves):
    """A balanced binary tree over the leaf indices ``leaves`` (e.g. ``range(8)``)."""
    leaves = list(leaves)
    if not leaves:
        raise ValueError("balanced_tree needs at least one leaf")
    if len(leaves) == 1:
        return leaves[0]
    half = (len(leaves) + 1) // 2
    return (balanced_tree(leaves[:half]), balanced_tree(leaves[half:]))


def tree_depth(tree) -> int:
    """Compositions on the longest path from a leaf to the root (0 for a single leaf)."""
    if isinstance(tree, tuple):
        return 1 + max(tree_depth(tree[0]), tree_depth(tree[1]))
    return 0


class TreeRNN(nn.Module):
    r"""A recursive neural network: one composition applied at every inner node of a binary tree.

    A node with children (left, right) gets $p = \tanh(W_{hh}\, h_{left} + W_{ih}\, h_{right} +
    b)$, i.e. $\tanh(W [h_{left}; h_{right}] + b)$ with $W = [W_{hh}\ W_{ih}]$: the
    composition is an :class:`dlbook.nn.RNNCell` (``cell``, with ``input_size =
    hidden_size``) whose input is the right child and whose state is the left child. A
    leaf is a row of ``leaves``. Over :func:`left_chain` with leaves (h_0, x_1, ..., x_n)
    the network computes h_t = tanh(W_hh h_{t-1} + W_ih x_t + b): the Elman RNN.

    ``forward(leaves, tree)``: leaves (n, hidden_size), tree nested pairs of leaf indices ->
    the root (hidden_size,). ``backward(d_root)`` -> d_leaves (n, hidden_size); the cell's
    gradients are added, its calls undone in reverse order.
    """

    def __init__(self, hidden_size: int, *, dtype=None, seed=None) -> None:
        super().__init__()
        self.cell = nn.RNNCell(hidden_size, hidden_size, dtype=dtype, seed=seed)

    def forward(self, leaves: np.ndarray, tree) -> np.ndarray:
        H = self.cell.hidden_size
        self._check_input(leaves, 2, f"(n, {H})")
        if leaves.shape[1] != H:
            raise ValueError(f"TreeRNN expects leaves of shape (n, {H}), got {leaves.shape}")
        def compose(node):
            if isinstance(node, tuple):
                if len(node) != 2:
                    raise ValueError(f"TreeRNN: an inner node is a pair (left, right), got {node!r}")
                left, right = compose(node[0]), compose(node[1])
                return self.cell(right, left)
            if (not isinstance(node, (int, np.integer)) or isinstance(node, bool)
                    or not 0 <= node < len(leaves)):
                raise ValueError(f"TreeRNN: a leaf is an index in [0, {len(leaves)}), got {node!r}")
            return leaves[node].copy()

        root = compose(tree)
        self.save_for_backward((tree, leaves.shape))
        return root

    def backward(self, d_root: np.ndarray) -> np.ndarray:
        tree, shape = self.saved_for_backward()
        self._check_grad_output(d_root, shape[1:])
        d_leaves = np.zeros(shape, d_root.dtype)

        def back(node, grad):  # forward's calls in reverse: the node, its right, then its left subtree
            if not isinstance(node, tuple):
                d_leaves[node] += grad
                return
            d_right, d_left = self.cell.backward(grad)
            back(node[1], d_right)
            back(node[0], d_left)

        back(tree, d_root)
        return d_leaves
