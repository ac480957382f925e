"""A character-level language model: Embedding → LSTM (or Elman RNN) → Linear, twice.

:class:`CharRNN` is built from :mod:`dlbook.nn` layers (hand-written backward passes);
:class:`CharRNNTorch` is its torch twin with the same constructor arguments, children and
parameter names (``embedding.weight``, ``rnn.weight_ih_l0``, ..., ``fc.weight``,
``fc.bias``). The pair is registered with :func:`dlbook.nn.bridge.register_twin`, so
``nn.to_torch(model)``, ``nn.from_torch(module)`` and :func:`dlbook.check.against_torch`
work on them.

The interface that lets :func:`dlbook.train.fit` train and evaluate them:

* ``model(x)`` maps character ids x (N, L), int64, to next-character scores (logits)
  (N, L, vocab_size), starting from a zero state: what fit's per-epoch evaluation calls.
* ``model(x, hx, return_state=True) -> (logits, h_n)`` starts from ``hx`` (None: zeros)
  and returns the final state too (torch's LSTM layout: ``(h_n, c_n)``, each
  (num_layers, N, hidden_size); the RNN's ``h_n`` alone): what
  :func:`dlbook.train.tbptt_step` calls to carry the state across batches, and what
  sampling calls one character at a time.
* The loss is :class:`SequenceCrossEntropyLoss` (NumPy) or
  :class:`SequenceCrossEntropyLossTorch`: cross-entropy averaged over all N·L positions,
  in nats per character.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import nn
from ..nn.bridge import register_twin
from ..nn.module import as_generator

#: the recurrent layers a CharRNN can use (torch's class for each)
CELLS = {"lstm": "LSTM", "rnn": "RNN"}


def _check_config(who: str, vocab_size, embedding_dim, hidden_size, num_layers, cell) -> None:
    for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim),
                        ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    if cell not in CELLS:
        raise ValueError(f"{who}: cell must be one of {sorted(CELLS)}, got {cell!r}")


def _check_ids(who: str, x, vocab_size: int) -> None:
    shape, dtype = tuple(x.shape), x.dtype
    integer = (not x.is_floating_point() and not x.is_complex() and dtype != torch.bool
               if isinstance(x, torch.Tensor) else np.issubdtype(dtype, np.integer))
    if len(shape) != 2 or not integer:
        raise ValueError(f"{who} expects character ids of shape (N, L) with an integer dtype, "
                         f"got {dtype} of shape {shape}")
    if x.numel() if isinstance(x, torch.Tensor) else x.size:
        low, high = int(x.min()), int(x.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(f"{who}: ids must be in [0, {vocab_size}), got values in [{low}, {high}]")


# -- losses over sequences -----------------------------------------------------------------
def _check_scores(who: str, input, target) -> None:
    if input.ndim != target.ndim + 1 or tuple(input.shape[:-1]) != tuple(target.shape):
        raise ValueError(f"{who} expects scores (N, L, C) and targets (N, L) (scores of the target's shape "
                         f"plus a class axis), got {tuple(input.shape)} and {tuple(target.shape)}")


class SequenceCrossEntropyLoss(nn.CrossEntropyLoss):
    """Cross-entropy of scores (..., C) against class indices (...), every position alike.

    ``torch.nn.CrossEntropyLoss`` wants the classes on axis 1; a language model's logits have
    them last, (N, L, C). This loss flattens them to (N·L, C) and (N·L,): with
    ``reduction="mean"`` it is the mean loss per position (per character, in nats);
    ``"none"`` gives the (N, L) losses. ``backward()`` returns the gradient in the (N, L, C)
    layout.
    """

    def forward(self, input: np.ndarray, target: np.ndarray):
        _check_scores(type(self).__name__, input, np.asarray(target))
        target = np.asarray(target)
        loss = super().forward(input.reshape(-1, input.shape[-1]), target.reshape(-1))
        self.save_for_backward(input.shape, target.shape)
        return loss.reshape(target.shape) if self.reduction == "none" else loss

    def backward(self, dy=None) -> np.ndarray:
        shape, target_shape = self.saved_for_backward()
        if dy is not None and self.reduction == "none":
            dy = np.asarray(dy)
            if dy.shape != target_shape:
                raise ValueError(f"{type(self).__name__}.backward expects dy of shape {target_shape}, "
                                 f"got {dy.shape}")
            dy = dy.reshape(-1)
        return super().backward(dy).reshape(shape)


class SequenceCrossEntropyLossTorch(torch.nn.CrossEntropyLoss):
    """Torch twin of :class:`SequenceCrossEntropyLoss`: scores (..., C), targets (...)."""

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_scores(type(self).__name__, input, target)
        loss = super().forward(input.reshape(-1, input.shape[-1]), target.reshape(-1))
        return loss.reshape(target.shape) if self.reduction == "none" else loss


# -- the language model ----------------------------------------------------------------------
class CharRNN(nn.Module):
    """Character-level language model in NumPy: ``Embedding → LSTM/RNN → Linear``.

    Parameters
    ----------
    vocab_size : number of distinct characters (:class:`dlbook.data.CharVocabulary`)
    embedding_dim : size of each character's vector
    hidden_size, num_layers : of the recurrent layer (``batch_first=True``)
    cell : ``"lstm"`` (:class:`dlbook.nn.LSTM`) or ``"rnn"`` (:class:`dlbook.nn.RNN`, tanh)
    dtype : float32 (default) or float64.  seed : None, int or numpy Generator.

    Children ``embedding``, ``rnn``, ``fc``, as in :class:`CharRNNTorch`. Input ids (N, L)
    int64; output logits (N, L, vocab_size). See the module docstring for ``hx`` and
    ``return_state``.
    """

    torch_args = ("vocab_size", "embedding_dim", "hidden_size", "num_layers", "cell")

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1, cell: str = "lstm", *, dtype=None, seed=None) -> None:
        super().__init__()
        _check_config("CharRNN", vocab_size, embedding_dim, hidden_size, num_layers, cell)
        self.vocab_size, self.embedding_dim = int(vocab_size), int(embedding_dim)
        self.hidden_size, self.num_layers, self.cell = int(hidden_size), int(num_layers), cell
        rng = as_generator(seed)
        self.embedding = nn.Embedding(vocab_size, embedding_dim, dtype=dtype, seed=rng)
        recurrent = getattr(nn, CELLS[cell])
        self.rnn = recurrent(embedding_dim, hidden_size, num_layers, batch_first=True, dtype=dtype,
                             seed=rng)
        self.fc = nn.Linear(hidden_size, vocab_size, dtype=dtype, seed=rng)

    def forward(self, x: np.ndarray, hx=None, *, return_state: bool = False):
        """x: (N, L) ids -> logits (N, L, vocab_size), or (logits, h_n) with ``return_state``."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"CharRNN expects a numpy.ndarray of ids, got {type(x).__name__}")
        _check_ids("CharRNN", x, self.vocab_size)
        out, h_n = self.rnn(self.embedding(x), hx)
        logits = self.fc(out)
        return (logits, h_n) if return_state else logits

    def backward(self, d_logits: np.ndarray, d_state=None):
        """d_logits: (N, L, vocab_size); d_state: gradient of the returned h_n (None: zeros).

        Adds every parameter's gradient; returns the gradient of ``hx`` (None when forward got
        none), in ``hx``'s layout. The ids have no gradient.
        """
        d_embedded, d_hx = self.rnn.backward(self.fc.backward(d_logits), d_state)
        self.embedding.backward(d_embedded)
        return d_hx


class CharRNNTorch(torch.nn.Module):
    """Torch twin of :class:`CharRNN`: the same arguments, children and parameter names.

    ``seed``: torch's generator is seeded (and restored afterwards) for the initial weights;
    None draws them from the global generator as torch layers do.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1, cell: str = "lstm", *, seed=None) -> None:
        super().__init__()
        _check_config("CharRNNTorch", vocab_size, embedding_dim, hidden_size, num_layers, cell)
        self.vocab_size, self.embedding_dim = int(vocab_size), int(embedding_dim)
        self.hidden_size, self.num_layers, self.cell = int(hidden_size), int(num_layers), cell
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            self.embedding = torch.nn.Embedding(vocab_size, embedding_dim)
            recurrent = getattr(torch.nn, CELLS[cell])
            self.rnn = recurrent(embedding_dim, hidden_size, num_layers, batch_first=True)
            self.fc = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, x: torch.Tensor, hx=None, *, return_state: bool = False):
        """x: (N, L) ids -> logits (N, L, vocab_size), or (logits, h_n) with ``return_state``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"CharRNNTorch expects a torch.Tensor of ids, got {type(x).__name__}")
        _check_ids("CharRNNTorch", x, self.vocab_size)
        out, h_n = self.rnn(self.embedding(x), hx)
        logits = self.fc(out)
        return (logits, h_n) if return_state else logits


register_twin(CharRNN, CharRNNTorch)
