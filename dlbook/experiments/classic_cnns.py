"""Chapter 5's experiments: deep plain networks degrade (He et al. 2016).

The ResNet paper's figures 1 and 6: a 56-layer plain network has a *higher training
error* than a 20-layer one (it is harder to optimize; this is not overfitting), while
with shortcuts the deeper network trains at least as well.
:func:`degradation_experiment` repeats this, scaled down to the 8×8 digits: the
CIFAR-style networks of :func:`dlbook.models.cifar_resnet_torch` (6n+2 layers,
option-A shortcuts, BatchNorm, He initialization), plain and residual, at two depths,
each trained by :func:`dlbook.train.fit` with SGD and momentum for the same number of
steps.

A plain network and the residual one of the same depth have the same layers, the same
parameters and, for the same seed, the same initial weights: they differ only in the
additions of the shortcuts.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..data import load_digits_split
from ..devices import resolve_device
from ..models.resnet import cifar_resnet_torch
from ..train import fit

#: the settings the chapter runs (and the slow test checks): 8 and 38 layers (n = 1
#: and 6), ten epochs of SGD with momentum 0.9 from learning rate 0.05, cosine decay
DEGRADATION_SETTINGS = dict(depths=(8, 38), epochs=10, lr=0.05, batch_size=64,
                            momentum=0.9, weight_decay=1e-4, val_size=0.2)
#: the two kinds of network, in the order they are trained
KINDS = ("plain", "residual")


def _check(depths, epochs, lr, batch_size, momentum, weight_decay, max_train,
           seed) -> tuple[int, int]:
    who = "degradation_experiment"

    def positive_int(name, value):
        if (not isinstance(value, (int, np.integer)) or isinstance(value, bool)
                or value < 1):
            raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")

    try:
        shallow, deep = depths
    except (TypeError, ValueError):
        raise ValueError(f"{who}: depths must be two layer counts (shallow, deep), "
                         f"got {depths!r}") from None
    for d in (shallow, deep):
        positive_int("each depth", d)
        if d < 8 or (d - 2) % 6:
            raise ValueError(f"{who}: the CIFAR-style networks have 6n+2 layers (8, "
                             f"14, 20, 26, 32, ...), got depth {d}")
    if not shallow < deep:
        raise ValueError(f"{who}: depths must be (shallow, deep) with shallow < deep, "
                         f"got {depths!r}")
    positive_int("epochs", epochs)
    positive_int("batch_size", batch_size)
    if max_train is not None:
        positive_int("max_train", max_train)
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
            and seed >= 0):
        raise ValueError(f"{who}: seed must be a non-negative int, got {seed!r}")
    if not lr > 0:
        raise ValueError(f"{who}: lr must be positive, got {lr!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"{who}: momentum must be in [0, 1), got {momentum!r}")
    if not weight_decay >= 0:
        raise ValueError(f"{who}: weight_decay must be >= 0, got {weight_decay!r}")
    return int(shallow), int(deep)


def degradation_experiment(depths=(8, 38), epochs: int = 10, lr: float = 0.05,
                           batch_size: int = 64, momentum: float = 0.9,
                           weight_decay: float = 1e-4, val_size: float = 0.2,
                           seed: int = 0, max_train: int | None = None,
                           device=None) -> dict:
    """Train plain and residual networks of two depths on the digits; return the curves.

    depths: (shallow, deep) layer counts 6n+2. Each of the four networks
    (``cifar_resnet_torch(n, 10, 1, plain=..., seed=seed)``) is trained on the
    training split of :func:`dlbook.data.load_digits_split` (8×8 images; ``val_size``
    of the digits held out for validation; the test split is not used; ``max_train``
    keeps only the first that many training images) by :func:`dlbook.train.fit`: SGD
    with ``momentum`` and ``weight_decay``, the learning rate decayed from ``lr`` to 0
    by a cosine over ``epochs``, minibatches of ``batch_size`` in the order fixed by
    ``seed``. Runs on ``device`` (default :func:`dlbook.devices.best_device`).

    Returns a dict:

    * ``history[kind][depth]``: the :class:`dlbook.train.History` (kind ``"plain"`` or
      ``"residual"``), measured after each epoch, in eval mode, on the whole training
      and validation splits;
    * ``train_error[kind][depth]``: the training error per epoch, ``1 - train_acc``
      (the quantity of the paper's figures);
    * ``parameters[kind][depth]``: the parameter count (the same for both kinds);
    * ``n_train``, ``settings`` (the arguments), ``device`` and ``seconds``.

    On the CPU it is deterministic: the same arguments give the same curves.
    """
    shallow, deep = _check(depths, epochs, lr, batch_size, momentum, weight_decay,
                           max_train, seed)
    split = load_digits_split(flatten=False, val_size=val_size)
    X_train, y_train = split.X_train.astype(np.float32), split.y_train
    if max_train is not None:
        X_train, y_train = X_train[:max_train], y_train[:max_train]
    X_val = split.X_val.astype(np.float32) if len(split.X_val) else None
    y_val = split.y_val if len(split.X_val) else None
    device = resolve_device(device)
    settings = dict(depths=(shallow, deep), epochs=epochs, lr=lr,
                    batch_size=batch_size, momentum=momentum,
                    weight_decay=weight_decay, val_size=val_size, seed=seed,
                    max_train=max_train)
    result = {"history": {}, "train_error": {}, "parameters": {},
              "n_train": len(X_train), "settings": settings, "device": str(device)}
    threads = torch.get_num_threads()
    if device.type == "cpu":  # small images, small batches: a second thread only syncs
        torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        for kind in KINDS:
            for depth in (shallow, deep):
                model = cifar_resnet_torch((depth - 2) // 6, 10, 1,
                                           plain=kind == "plain", seed=seed,
                                           device=device)
                optimizer = torch.optim.SGD(model.parameters(), lr=lr,
                                            momentum=momentum,
                                            weight_decay=weight_decay)
                cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
                history = fit(model, torch.nn.CrossEntropyLoss(), optimizer, X_train,
                              y_train, X_val, y_val, epochs=epochs,
                              batch_size=batch_size, seed=seed, device=device,
                              scheduler=cosine, desc=f"{kind}-{depth}")
                result["history"].setdefault(kind, {})[depth] = history
                result["train_error"].setdefault(kind, {})[depth] = [
                    1.0 - acc for acc in history.train_acc]
                result["parameters"].setdefault(kind, {})[depth] = sum(
                    p.numel() for p in model.parameters())
    finally:
        torch.set_num_threads(threads)
    result["seconds"] = time.perf_counter() - start
    return result
