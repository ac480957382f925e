r"""A linear classifier $f(x) = Wx + b$ trained by minibatch gradient descent, in NumPy.

Parameters are named and laid out like ``torch.nn.Linear``: ``weight`` (C, D), ``bias`` (C,),
so the same model in torch is ``nn.Linear(D, C)`` with copied weights.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from .data import minibatches
from .nn import functional as F

LOSSES = {
    "softmax": (F.cross_entropy, F.cross_entropy_backward),
    "svm": (F.multi_margin_loss, F.multi_margin_loss_backward),
}


class LinearClassifier:
    r"""C-class linear scores ``X @ weight.T + bias`` with a softmax or multiclass-hinge loss.

    ``weight_decay`` λ adds $\tfrac{\lambda}{2}\lVert W\rVert_F^2$ to the loss (not on the bias).
    """

    def __init__(self, n_features: int, n_classes: int, loss: str = "softmax", weight_decay: float = 0.0,
                 seed: int = 0, init_std: float = 0.01):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        if n_features < 1 or n_classes < 2:
            raise ValueError(f"need n_features >= 1 and n_classes >= 2, got {n_features}, {n_classes}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        rng = np.random.default_rng(seed)
        self.weight = init_std * rng.standard_normal((n_classes, n_features))
        self.bias = np.zeros(n_classes)
        self.loss_name = loss
        self.weight_decay = weight_decay

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] != self.weight.shape[1]:
            raise ValueError(f"expected X of shape (N, {self.weight.shape[1]}), "
                             f"got {getattr(X, 'shape', type(X).__name__)}")
        return X

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Class scores, shape (N, C): row i is $W x_i + b$."""
        return self._check_X(X) @ self.weight.T + self.bias

    def loss_and_grads(self, X: np.ndarray,
                       y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean data loss plus the L2 penalty, and its gradients.

        Returns ``(loss, {"weight": (C, D) array, "bias": (C,) array})``.
        """
        loss_fn, loss_backward = LOSSES[self.loss_name]
        scores = self.scores(X)  # (N, C)
        loss = loss_fn(scores, y) + 0.5 * self.weight_decay * np.sum(self.weight ** 2)
        dscores = loss_backward(scores, y)  # dL/dS, (N, C)
        # chain rule through S = X W^T + b
        grads = {"weight": dscores.T @ X + self.weight_decay * self.weight,
                 "bias": dscores.sum(axis=0)}
        return float(loss), grads

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.scores(X), axis=1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == y))

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 50, lr: float = 0.1,
            batch_size: int = 64, X_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None, seed: int = 0,
            progress: bool = True) -> dict[str, np.ndarray]:
        """Minibatch gradient descent.

        Returns per-epoch arrays ``train_loss``, ``train_acc``, and ``val_loss``,
        ``val_acc`` when ``X_val`` is given.
        """
        if epochs < 1 or lr <= 0:
            raise ValueError(f"need epochs >= 1 and lr > 0, got {epochs}, {lr}")
        rng = np.random.default_rng(seed)
        history: dict[str, list[float]] = {"train_loss": [], "train_acc": []}
        if X_val is not None:
            history.update(val_loss=[], val_acc=[])
        bar = tqdm(range(epochs), desc=f"linear/{self.loss_name}",
                   disable=None if progress else True, leave=False)
        for _ in bar:
            for xb, yb in minibatches(X, y, batch_size, rng):
                _, grads = self.loss_and_grads(xb, yb)
                self.weight -= lr * grads["weight"]
                self.bias -= lr * grads["bias"]
            history["train_loss"].append(self.loss_and_grads(X, y)[0])
            history["train_acc"].append(self.accuracy(X, y))
            if X_val is not None:
                history["val_loss"].append(self.loss_and_grads(X_val, y_val)[0])
                history["val_acc"].append(self.accuracy(X_val, y_val))
        return {k: np.array(v) for k, v in history.items()}


def train_on_digits(features: str = "pixels", loss: str = "softmax", epochs: int = 60, lr: float = 0.5,
                    weight_decay: float = 1e-3, batch_size: int = 64, seed: int = 0) -> dict:
    """Train a :class:`LinearClassifier` on a feature set of the digits split; a plain dict for caching.

    Returns ``weight``, ``bias``, ``history`` (per-epoch train/val loss and accuracy, the test split
    serving as validation), ``test_acc`` and ``n_features``.
    """
    from .data import load_digits_split
    from .features import featurize

    split = load_digits_split(seed=seed)
    X_train, X_test = featurize(features, split.X_train), featurize(features, split.X_test)
    model = LinearClassifier(X_train.shape[1], split.n_classes, loss=loss, weight_decay=weight_decay, seed=seed)
    history = model.fit(X_train, split.y_train, epochs=epochs, lr=lr, batch_size=batch_size,
                        X_val=X_test, y_val=split.y_test, seed=seed)
    return {"weight": model.weight, "bias": model.bias, "history": history,
            "test_acc": model.accuracy(X_test, split.y_test), "n_features": X_train.shape[1]}


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
