r"""Chapter 1's experiments: a linear classifier $S = XW^\top + b$ on the digits.

The classifier is one :class:`dlbook.nn.Linear` (weight (C, D), bias (C,), as in torch),
started from small random weights, trained with a loss layer and SGD by
:func:`dlbook.train.fit`. The L2 penalty $\tfrac{\lambda}{2}\lVert W\rVert_F^2$ goes
through the optimizer's ``weight_decay`` on the weight only (the bias is left alone),
using a parameter group per tensor, as one would in torch.

The digits follow the book's one convention (:func:`dlbook.data.load_digits_split` with
a validation set): the training set fits the weights, the validation set chooses the
hyper-parameters (:func:`sweep_digits`), the test set is read once, at the end.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from .. import nn
from ..optim import SGD
from ..train import History, evaluate, fit

LOSSES = {"softmax": nn.CrossEntropyLoss, "svm": nn.MultiMarginLoss}
CURVES = ("train_loss", "train_acc", "val_loss", "val_acc")


def linear_classifier(n_features: int, n_classes: int, *, init_std: float = 0.01,
                      seed=0) -> nn.Linear:
    """float64 scores (N, n_classes) for inputs (N, n_features).

    Weights drawn from N(0, init_std²), bias 0.
    """
    if n_features < 1 or n_classes < 2:
        raise ValueError(f"need n_features >= 1 and n_classes >= 2, "
                         f"got {n_features}, {n_classes}")
    rng = np.random.default_rng(seed)
    model = nn.Linear(n_features, n_classes, dtype=np.float64, seed=rng)
    nn.init.normal_(model.weight, 0.0, init_std, generator=rng)
    nn.init.zeros_(model.bias)
    return model


def train_linear_classifier(model: nn.Linear, X: np.ndarray, y: np.ndarray, *,
                            loss: str = "softmax", weight_decay: float = 0.0,
                            epochs: int = 50, lr: float = 0.1, batch_size: int = 64,
                            X_val=None, y_val=None, seed: int = 0,
                            progress: bool | None = None) -> History:
    """Minibatch SGD on mean ``loss`` ("softmax" or "svm"), L2 on the weight only."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    # two parameter groups: weight decay on W, none on b
    optimizer = SGD([{"params": [model.weight], "weight_decay": weight_decay},
                     {"params": [model.bias], "weight_decay": 0.0}], lr=lr)
    return fit(model, LOSSES[loss](), optimizer, X, y, X_val, y_val,
               epochs=epochs, batch_size=batch_size, seed=seed,
               desc=f"linear/{loss}", progress=progress)


def _digits(features: str, seed: int, val_size: float):
    """The digits split with ``val_size`` > 0 and its three feature matrices."""
    from ..data import load_digits_split
    from ..features import featurize

    if not val_size > 0:
        raise ValueError(f"val_size must be > 0: the validation set chooses the "
                         f"hyper-parameters, got {val_size}")
    split = load_digits_split(seed=seed, val_size=val_size)
    X = {part: featurize(features, getattr(split, f"X_{part}"))
         for part in ("train", "val", "test")}
    return split, X


def train_on_digits(features: str = "pixels", loss: str = "softmax", epochs: int = 60,
                    lr: float = 0.5, weight_decay: float = 1e-3, batch_size: int = 64,
                    seed: int = 0, val_size: float = 0.2) -> dict:
    """Train :func:`linear_classifier` on one feature set of the digits; a plain dict.

    Fits on the training set, records per-epoch curves on the validation set
    (``val_size`` of all digits, carved out of the training part). Returns ``weight``,
    ``bias``, ``history`` (:class:`dlbook.train.History`), ``val_acc``, ``n_features``
    and ``test_acc``: the test-set accuracy, for the one report at the end of a page
    (choose nothing by it).
    """
    split, X = _digits(features, seed, val_size)
    model = linear_classifier(X["train"].shape[1], split.n_classes, seed=seed)
    history = train_linear_classifier(
        model, X["train"], split.y_train, loss=loss, weight_decay=weight_decay,
        epochs=epochs, lr=lr, batch_size=batch_size, X_val=X["val"], y_val=split.y_val,
        seed=seed)
    return {"weight": np.array(model.weight), "bias": np.array(model.bias),
            "history": history, "val_acc": history.val_acc[-1],
            "test_acc": evaluate(model, LOSSES[loss](), X["test"], split.y_test)[1],
            "n_features": X["train"].shape[1]}


def sweep_digits(lrs, weight_decays, *, features: str = "pixels", loss: str = "softmax",
                 epochs: int = 100, batch_size: int = 64, seed: int = 0,
                 val_size: float = 0.2) -> dict:
    """Curves for every (learning rate, weight decay) pair; the test set is not read.

    Returns ``lrs`` and ``weight_decays`` as arrays, and ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc`` of shape (len(lrs), len(weight_decays), epochs): entry
    [i, j, e] is measured after epoch e + 1 of the run with ``lrs[i]`` and
    ``weight_decays[j]``. Every run starts from the same weights and sees the same
    batches (``seed``), so a run of E epochs with the same settings ends where entry
    [i, j, E - 1] was measured.
    """
    split, X = _digits(features, seed, val_size)
    shape = (len(lrs), len(weight_decays), epochs)
    out = {"lrs": np.asarray(lrs, dtype=float),
           "weight_decays": np.asarray(weight_decays, dtype=float),
           **{key: np.empty(shape) for key in CURVES}}
    grid = list(np.ndindex(len(lrs), len(weight_decays)))
    for i, j in tqdm(grid, desc="linear/sweep", disable=None):
        model = linear_classifier(X["train"].shape[1], split.n_classes, seed=seed)
        history = train_linear_classifier(
            model, X["train"], split.y_train, loss=loss, weight_decay=weight_decays[j],
            epochs=epochs, lr=lrs[i], batch_size=batch_size, X_val=X["val"],
            y_val=split.y_val, seed=seed, progress=False)
        for key in CURVES:
            out[key][i, j] = getattr(history, key)
    return out


def nearest_class_mean_predict(X_train: np.ndarray, y_train: np.ndarray,
                               X_test: np.ndarray) -> np.ndarray:
    """A baseline: each test row gets the class whose mean training row is closest."""
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"expected X_train (N, D) and X_test (M, D), "
                         f"got {X_train.shape} and {X_test.shape}")
    if len(y_train) != len(X_train):
        raise ValueError(f"expected one label per training row, got {len(y_train)} "
                         f"labels for {len(X_train)} rows")
    classes = np.unique(y_train)
    means = np.stack([X_train[y_train == k].mean(axis=0) for k in classes])
    distances = ((X_test[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)  # (M, K)
    return classes[np.argmin(distances, axis=1)]
