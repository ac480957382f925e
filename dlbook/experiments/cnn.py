"""Chapter 4's experiments: the digits CNN of :mod:`dlbook.models.cnn` trained in NumPy and in torch."""

from __future__ import annotations

import numpy as np
import torch

from .. import nn, optim
from ..devices import resolve_device
from ..models.cnn import digits_cnn, digits_cnn_torch


def train_digits_cnn(width: int = 16, epochs: int = 15, lr: float = 3e-3, batch_size: int = 32,
                     seed: int = 0) -> dict:
    """Train the NumPy network on the digits split with Adam; the run chapter 4 reports.

    Returns a dict: ``history`` (:class:`dlbook.train.History`), ``test_acc``, ``seconds``
    (wall-clock training time), ``state_dict`` (copies of the trained arrays, by torch name).
    """
    import time

    from ..data import load_digits_split
    from ..train import evaluate, fit

    split = load_digits_split(flatten=False)
    X_train, X_test = split.X_train.astype(np.float32), split.X_test.astype(np.float32)
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    model = digits_cnn(width, seed=seed)
    loss = nn.CrossEntropyLoss()
    start = time.perf_counter()
    # Products of a few thousand numbers: a second BLAS thread only adds syncing, and it stalls
    # badly when other processes hold the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(model, loss, optim.Adam(model.parameters(), lr=lr), X_train, split.y_train, X_test, split.y_test,
                      epochs=epochs, batch_size=batch_size, seed=seed, desc="NumPy CNN")
    seconds = time.perf_counter() - start
    return {"history": history, "test_acc": evaluate(model, loss, X_test, split.y_test)[1], "seconds": seconds,
            "state_dict": {k: np.array(v) for k, v in model.state_dict().items()}}


def train_digits_cnn_torch(width: int = 16, epochs: int = 20, lr: float = 3e-3, batch_size: int = 32,
                           seed: int = 0, device: str | None = None) -> dict:
    """Train the torch twin on the digits split (Adam, cosine learning-rate decay) on ``device``
    (default: the best available). Returns ``history``, ``test_acc``, ``seconds``, ``device``."""
    import time

    from ..data import load_digits_split
    from ..train import evaluate, fit

    split = load_digits_split(flatten=False)
    device = resolve_device(device)
    model = digits_cnn_torch(width, seed=seed, device=device)
    threads = torch.get_num_threads()
    if device.type == "cpu":  # batches of 32 tiny images: extra CPU threads cost more in syncing than they gain
        torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        history = fit(model, torch.nn.CrossEntropyLoss(), optimizer, split.X_train.astype(np.float32),
                      split.y_train, split.X_test.astype(np.float32), split.y_test, epochs=epochs,
                      batch_size=batch_size, seed=seed, device=device, scheduler=cosine, desc="torch CNN")
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    test_acc = evaluate(model, torch.nn.CrossEntropyLoss(), split.X_test.astype(np.float32), split.y_test)[1]
    return {"history": history, "test_acc": test_acc, "seconds": seconds, "device": str(device)}
