"""A small NumPy training loop for any :class:`dlbook.nn.Module`, loss layer and optimizer.

One epoch = one pass of shuffled minibatches: forward, loss, backward from the loss,
optimizer step. After each epoch the model is evaluated (in eval mode, so Dropout is off
and BatchNorm uses its running statistics) on the training and the validation data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from .data import minibatches
from .nn.module import Module


@dataclass
class History:
    """Per-epoch curves. ``*_acc`` is NaN when targets are not class indices; ``val_*`` empty
    without validation data; ``tracked[name]`` holds the values of each ``track`` function."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    tracked: dict[str, list[float]] = field(default_factory=dict)


def evaluate(model: Module, loss_fn: Module, X: np.ndarray, y: np.ndarray,
             batch_size: int = 512) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on (X, y) in eval mode; the model's mode is restored.

    X: (N, ...) inputs; y: (N,) class indices (accuracy = argmax over axis 1) or regression
    targets (accuracy NaN). ``loss_fn`` must average over the batch (``reduction="mean"``).
    """
    if len(X) == 0:
        raise ValueError("evaluate needs at least one sample")
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    classify = np.issubdtype(np.asarray(y).dtype, np.integer)
    try:
        for xb, yb in minibatches(X, y, batch_size):
            out = model(xb)
            total_loss += float(loss_fn(out, yb)) * len(xb)
            if classify:
                correct += int(np.sum(out.argmax(axis=1) == yb))
    finally:
        model.train(was_training)
    return total_loss / len(X), (correct / len(X) if classify else float("nan"))


def fit(model: Module, loss_fn: Module, optimizer, X_train: np.ndarray, y_train: np.ndarray,
        X_val: np.ndarray | None = None, y_val: np.ndarray | None = None, *, epochs: int = 10,
        batch_size: int = 64, seed: int = 0, track: dict[str, Callable[[Module], float]] | None = None,
        desc: str | None = None, progress: bool | None = None) -> History:
    """Train ``model`` with minibatch steps of ``optimizer``; return the per-epoch :class:`History`.

    X_train: (N, ...) in the model's dtype; y_train: (N,). ``seed`` fixes the shuffling.
    ``track`` maps names to functions of the model recorded after each epoch (e.g. a weight
    norm). ``progress=None`` shows a tqdm bar only in a terminal or notebook, as tqdm's
    ``disable=None``; ``False`` hides it.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    rng = np.random.default_rng(seed)
    history = History(tracked={name: [] for name in (track or {})})
    bar = tqdm(range(epochs), desc=desc, disable=None if progress is None else not progress)
    for _ in bar:
        model.train()
        for xb, yb in minibatches(X_train, y_train, batch_size, rng):
            optimizer.zero_grad()
            loss_fn(model(xb), yb)
            model.backward(loss_fn.backward())
            optimizer.step()
        loss, acc = evaluate(model, loss_fn, X_train, y_train)
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        if X_val is not None:
            loss, acc = evaluate(model, loss_fn, X_val, y_val)
            history.val_loss.append(loss)
            history.val_acc.append(acc)
        for name, fn in (track or {}).items():
            history.tracked[name].append(float(fn(model)))
        bar.set_postfix(train_loss=f"{history.train_loss[-1]:.4f}",
                        **({"val_loss": f"{history.val_loss[-1]:.4f}"} if history.val_loss else {}))
    return history
