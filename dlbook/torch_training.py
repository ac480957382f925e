"""A small torch training loop: the twin of :func:`dlbook.training.fit` for ``torch.nn`` models.

Same contract and the same :class:`dlbook.training.History`: shuffled minibatches, one
optimizer step each, evaluation in eval mode after every epoch. The data sets of this book
are small, so they are moved to the device once; shuffling uses a seeded CPU generator,
so the order of the batches does not depend on the device.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .devices import resolve_device
from .training import History


def _tensor(a, device, dtype=None) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), device=device, dtype=dtype)


@torch.no_grad()
def evaluate_torch(model: torch.nn.Module, X, y, *, batch_size: int = 1024, device=None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on X (N, ...) and integer labels y (N,), in eval mode."""
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    X, y = _tensor(X, device, dtype), _tensor(y, device, torch.int64)
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    for start in range(0, len(X), batch_size):
        out = model(X[start:start + batch_size])
        target = y[start:start + batch_size]
        total += float(torch.nn.functional.cross_entropy(out, target, reduction="sum"))
        correct += int((out.argmax(dim=1) == target).sum())
    model.train(was_training)
    return total / len(X), correct / len(X)


def fit_torch(model: torch.nn.Module, X_train, y_train, X_val=None, y_val=None, *, epochs: int = 10,
              batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 0.0, optimizer: str = "adam",
              cosine: bool = False, seed: int = 0, device=None, desc: str | None = None, progress: bool | None = None) -> History:
    """Train a classifier with cross-entropy; return its per-epoch :class:`~dlbook.training.History`.

    X_*: (N, ...) arrays; y_*: (N,) integer labels. ``optimizer`` is "adam" or "sgd"
    (momentum 0.9). ``cosine`` lowers the learning rate along a half cosine to 0 over the
    epochs (so the last epochs settle instead of bouncing between minima).
    The model is moved to ``device`` (default: the best one available).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if len(X_train) != len(y_train):
        raise ValueError(f"X_train and y_train must have the same length, got {len(X_train)} and {len(y_train)}")
    device = resolve_device(device)
    torch.manual_seed(seed)
    model = model.to(device)
    dtype = next(model.parameters()).dtype
    X, y = _tensor(X_train, device, dtype), _tensor(y_train, device, torch.int64)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if cosine else None
    order_rng = torch.Generator().manual_seed(seed)
    history = History()
    bar = tqdm(range(epochs), desc=desc, disable=None if progress is None else not progress)
    for _ in bar:
        model.train()
        for idx in torch.randperm(len(X), generator=order_rng).split(batch_size):
            idx = idx.to(device)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
        if schedule is not None:
            schedule.step()
        loss, acc = evaluate_torch(model, X, y)
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        if X_val is not None:
            loss, acc = evaluate_torch(model, X_val, y_val)
            history.val_loss.append(loss)
            history.val_acc.append(acc)
        bar.set_postfix(train_loss=f"{history.train_loss[-1]:.4f}",
                        **({"val_acc": f"{history.val_acc[-1]:.4f}"} if history.val_acc else {}))
    return history
