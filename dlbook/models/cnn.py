"""The small CNN of chapter 4 for 8×8 digits: one definition, a NumPy network and its torch twin.

    (N, 1, 8, 8) -> [Conv 3×3 -> BatchNorm -> ReLU -> MaxPool 2×2] × 2 -> Flatten -> Linear -> (N, 10)

Each conv block doubles the channels while max-pooling halves the side (8 -> 4 -> 2), the
habit of VGG and ResNet. Convolutions have no bias: the BatchNorm after them subtracts each
channel's mean, which would cancel it.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import nn
from ..devices import resolve_device


def digits_cnn(width: int = 16, n_classes: int = 10, *, seed=0,
               dtype=None) -> nn.Sequential:
    """The NumPy network: input (N, 1, 8, 8) float, output (N, n_classes) scores.

    ``width`` is the channel count of the first block (the second has twice as many).
    """
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    rng = np.random.default_rng(seed)
    model = nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False, seed=rng),
        nn.BatchNorm2d(width), nn.ReLU(),
        nn.MaxPool2d(2),  # (N, width, 4, 4)
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False, seed=rng),
        nn.BatchNorm2d(2 * width), nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 2·width, 2, 2)
        nn.Flatten(),
        nn.Linear(2 * width * 2 * 2, n_classes, seed=rng),
    )
    return model.to(np.float32 if dtype is None else dtype)


def digits_cnn_torch(width: int = 16, n_classes: int = 10, *, seed=0, device=None) -> torch.nn.Sequential:
    """The same network in torch (same layers, same initial weights for the same seed), on ``device``
    (default :func:`dlbook.devices.best_device`)."""
    return nn.to_torch(digits_cnn(width, n_classes, seed=seed), device=resolve_device(device))


def train_digits_cnn(width: int = 16, epochs: int = 15, lr: float = 3e-3, batch_size: int = 32,
                     seed: int = 0) -> dict:
    """Train the NumPy network on the digits split with Adam; the run chapter 4 reports.

    Returns a dict: ``history`` (:class:`dlbook.training.History`), ``test_acc``, ``seconds``
    (wall-clock training time), ``params`` and ``buffers`` (the trained arrays, by torch name).
    """
    import time

    from ..data import load_digits_split
    from ..optim import Adam
    from ..training import evaluate, fit

    split = load_digits_split(flatten=False)
    X_train, X_test = split.X_train.astype(np.float32), split.X_test.astype(np.float32)
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    model = digits_cnn(width, seed=seed)
    loss = nn.CrossEntropyLoss()
    start = time.perf_counter()
    # Products of a few thousand numbers: a second BLAS thread only adds syncing, and it stalls
    # badly when other processes hold the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(model, loss, Adam(model, lr=lr), X_train, split.y_train, X_test, split.y_test,
                      epochs=epochs, batch_size=batch_size, seed=seed, desc="NumPy CNN")
    seconds = time.perf_counter() - start
    return {"history": history, "test_acc": evaluate(model, loss, X_test, split.y_test)[1], "seconds": seconds,
            "params": {k: v.copy() for k, v in model.named_parameters().items()},
            "buffers": {k: np.array(v) for k, v in model.named_buffers().items()}}


def train_digits_cnn_torch(width: int = 16, epochs: int = 20, lr: float = 3e-3, batch_size: int = 32,
                           seed: int = 0, device: str | None = None) -> dict:
    """Train the torch twin on the digits split (Adam, cosine learning-rate decay) on ``device``
    (default: the best available). Returns ``history``, ``test_acc``, ``seconds``, ``device``."""
    import time

    from ..data import load_digits_split
    from ..torch_training import evaluate_torch, fit_torch

    split = load_digits_split(flatten=False)
    device = resolve_device(device)
    model = digits_cnn_torch(width, seed=seed, device=device)
    threads = torch.get_num_threads()
    if device.type == "cpu":  # batches of 32 tiny images: extra CPU threads cost more in syncing than they gain
        torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        history = fit_torch(model, split.X_train.astype(np.float32), split.y_train, split.X_test.astype(np.float32),
                            split.y_test, epochs=epochs, batch_size=batch_size, lr=lr, cosine=True, seed=seed,
                            device=device, desc="torch CNN")
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    test_acc = evaluate_torch(model, split.X_test.astype(np.float32), split.y_test)[1]
    return {"history": history, "test_acc": test_acc, "seconds": seconds, "device": str(device)}
