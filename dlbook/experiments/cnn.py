"""Chapter 4's experiments: the digits CNN of :mod:`dlbook.models.cnn` trained in NumPy and in torch.

Both train on the training split and are monitored on the validation split (``val_size`` of all
digits, carved out of the training part); neither touches the test split, which the page
evaluates once, for the model it chose on validation.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .. import nn, optim
from ..data import load_digits_split
from ..devices import resolve_device
from ..models.cnn import digits_cnn, digits_cnn_torch
from ..train import evaluate, fit


def _split(val_size: float):
    split = load_digits_split(flatten=False, val_size=val_size)
    if len(split.X_val) == 0:
        raise ValueError("the digits CNN is monitored on a validation split: val_size must be > 0")
    return split


def train_digits_cnn(width: int = 16, epochs: int = 15, lr: float = 3e-3, batch_size: int = 32,
                     seed: int = 0, val_size: float = 0.2) -> dict:
    """Train the NumPy network with Adam on the training split, monitored on the validation split.

    Returns a dict: ``history`` (:class:`dlbook.train.History`, ``val_*`` on the validation
    split), ``val_acc`` (after the last epoch), ``seconds`` (wall-clock training time) and
    ``state_dict`` (copies of the trained arrays, by torch name). The test split is not used.
    """
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    split = _split(val_size)
    X_train, X_val = split.X_train.astype(np.float32), split.X_val.astype(np.float32)
    model = digits_cnn(width, seed=seed)
    loss = nn.CrossEntropyLoss()
    start = time.perf_counter()
    # Products of a few thousand numbers: a second BLAS thread only adds syncing, and it stalls
    # badly when other processes hold the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(model, loss, optim.Adam(model.parameters(), lr=lr), X_train, split.y_train,
                      X_val, split.y_val, epochs=epochs, batch_size=batch_size, seed=seed,
                      desc="NumPy CNN")
    seconds = time.perf_counter() - start
    return {"history": history, "val_acc": evaluate(model, loss, X_val, split.y_val)[1],
            "seconds": seconds,
            "state_dict": {k: np.array(v) for k, v in model.state_dict().items()}}


def train_digits_cnn_torch(width: int = 16, epochs: int = 15, lr: float = 3e-3, batch_size: int = 32,
                           seed: int = 0, val_size: float = 0.2, device: str | None = None) -> dict:
    """Train the torch twin (Adam, cosine learning-rate decay) on ``device`` (default: the best
    available), monitored on the validation split. Returns ``history``, ``val_acc``, ``seconds``,
    ``device`` and ``state_dict`` (CPU tensors, for ``digits_cnn_torch(...).load_state_dict``)."""
    split = _split(val_size)
    X_train, X_val = split.X_train.astype(np.float32), split.X_val.astype(np.float32)
    device = resolve_device(device)
    model = digits_cnn_torch(width, seed=seed, device=device)
    threads = torch.get_num_threads()
    if device.type == "cpu":  # batches of 32 tiny images: extra CPU threads cost more in syncing than they gain
        torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        history = fit(model, torch.nn.CrossEntropyLoss(), optimizer, X_train, split.y_train, X_val,
                      split.y_val, epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                      scheduler=cosine, desc="torch CNN")
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    val_acc = evaluate(model, torch.nn.CrossEntropyLoss(), X_val, split.y_val)[1]
    return {"history": history, "val_acc": val_acc, "seconds": seconds, "device": str(device),
            "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
