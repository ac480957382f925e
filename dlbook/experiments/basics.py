r"""Chapter 1's experiments: a linear classifier $S = XW^\top + b$ on the digits, and a baseline.

The classifier is one :class:`dlbook.nn.Linear` (weight (C, D), bias (C,), as in torch),
started from small random weights, trained with a loss layer and SGD by
:func:`dlbook.train.fit`. The L2 penalty $\tfrac{\lambda}{2}\lVert W\rVert_F^2$ goes through the
optimizer's ``weight_decay`` on the weight only (the bias is left alone), using a parameter
group per tensor, as one would in torch.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..optim import SGD
from ..train import History, evaluate, fit

LOSSES = {"softmax": nn.CrossEntropyLoss, "svm": nn.MultiMarginLoss}


def linear_classifier(n_features: int, n_classes: int, *, init_std: float = 0.01, seed=0) -> nn.Linear:
    """float64 scores of shape (N, n_classes) for inputs (N, n_features): weights N(0, init_std²), bias 0."""
    if n_features < 1 or n_classes < 2:
        raise ValueError(f"need n_features >= 1 and n_classes >= 2, got {n_features}, {n_classes}")
    rng = np.random.default_rng(seed)
    model = nn.Linear(n_features, n_classes, dtype=np.float64, seed=rng)
    nn.init.normal_(model.weight, 0.0, init_std, generator=rng)
    nn.init.zeros_(model.bias)
    return model


def train_linear_classifier(model: nn.Linear, X: np.ndarray, y: np.ndarray, *, loss: str = "softmax",
                            weight_decay: float = 0.0, epochs: int = 50, lr: float = 0.1, batch_size: int = 64,
                            X_val=None, y_val=None, seed: int = 0, progress: bool | None = None) -> History:
    """Minibatch SGD on the mean ``loss`` ("softmax" cross-entropy or "svm" hinge), L2 on the weight only."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    optimizer = SGD([{"params": [model.weight], "weight_decay": weight_decay},
                     {"params": [model.bias], "weight_decay": 0.0}], lr=lr)
    return fit(model, LOSSES[loss](), optimizer, X, y, X_val, y_val, epochs=epochs, batch_size=batch_size,
               seed=seed, desc=f"linear/{loss}", progress=progress)


def train_on_digits(features: str = "pixels", loss: str = "softmax", epochs: int = 60, lr: float = 0.5,
                    weight_decay: float = 1e-3, batch_size: int = 64, seed: int = 0) -> dict:
    """Train :func:`linear_classifier` on a feature set of the digits split; a plain dict for caching.

    Returns ``weight``, ``bias``, ``history`` (:class:`dlbook.train.History`, the test split
    serving as validation), ``test_acc`` and ``n_features``.
    """
    from ..data import load_digits_split
    from ..features import featurize

    split = load_digits_split(seed=seed)
    X_train, X_test = featurize(features, split.X_train), featurize(features, split.X_test)
    model = linear_classifier(X_train.shape[1], split.n_classes, seed=seed)
    history = train_linear_classifier(model, X_train, split.y_train, loss=loss, weight_decay=weight_decay,
                                      epochs=epochs, lr=lr, batch_size=batch_size, X_val=X_test,
                                      y_val=split.y_test, seed=seed)
    return {"weight": np.array(model.weight), "bias": np.array(model.bias), "history": history,
            "test_acc": evaluate(model, LOSSES[loss](), X_test, split.y_test)[1], "n_features": X_train.shape[1]}


def nearest_class_mean_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray) -> np.ndarray:
    """A baseline: assign each test row to the class whose mean training row is closest (Euclidean)."""
    if X_train.ndim != 2 or X_test.ndim != 2 or X_train.shape[1] != X_test.shape[1]:
        raise ValueError(f"expected X_train (N, D) and X_test (M, D), got {X_train.shape} and {X_test.shape}")
    if len(y_train) != len(X_train):
        raise ValueError(f"expected one label per training row, got {len(y_train)} labels "
                         f"for {len(X_train)} rows")
    classes = np.unique(y_train)
    means = np.stack([X_train[y_train == k].mean(axis=0) for k in classes])
    distances = ((X_test[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)  # (M, K)
    return classes[np.argmin(distances, axis=1)]
