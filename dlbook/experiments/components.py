"""Chapter 3's experiments: a look inside a network (each layer's output, each weight's gradient),
and overfitting of a wide MLP on 100 handwritten digits, with and without weight decay and dropout."""

from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..data import load_digits_split
from ..models.mlp import mlp
from ..train import History, fit


def layer_outputs(model: nn.Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The output of every child of ``model`` for input x (N, ...), in order; the last is the
    model's output. The children keep their caches, so ``model.backward`` may follow."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"layer_outputs expects a dlbook.nn.Sequential, got {type(model).__name__}")
    outputs = []
    for layer in model:
        x = layer(x)
        outputs.append(x)
    return outputs


def weight_gradient_norms(model: nn.Sequential, loss_fn: nn.Module, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """‖dL/dW‖ of every ``Linear`` weight in order (first layer first), after one forward and
    backward pass of ``loss_fn(model(x), target)``; the model's gradients are zeroed first."""
    model.zero_grad()
    loss_fn(model(x), target)
    model.backward(loss_fn.backward())
    return np.array([np.linalg.norm(layer.weight.grad) for layer in model if isinstance(layer, nn.Linear)])


def small_digits(n_train: int = 100, seed: int = 0):
    """(X_train, y_train, X_val, y_val): ``n_train`` training digits (stratified, (n, 64)) and
    the 450 digits of the standard test split for validation."""
    from sklearn.model_selection import train_test_split

    split = load_digits_split(seed=seed)
    X, _, y, _ = train_test_split(split.X_train, split.y_train, train_size=n_train, stratify=split.y_train,
                                  random_state=seed)
    return X, y, split.X_test, split.y_test


def weight_norm_of_weights(model: nn.Module) -> float:
    """‖W‖ over the weight matrices only (biases excluded)."""
    return nn.weight_norm(model, include=lambda name: name.endswith("weight"))


def train_small_digits(weight_decay: float = 0.0, dropout: float = 0.0,
                       n_train: int = 100, hidden: int = 256, epochs: int = 150,
                       lr: float = 0.05, seed: int = 0, init="default") -> History:
    """Train ``[64, hidden, hidden, 10]`` ReLU MLP (float64) with SGD (momentum 0.9,
    batches of 25).

    ``init`` is passed to :func:`dlbook.models.mlp.mlp`
    (e.g. ``("trunc_normal", 0.05)``). Returns the per-epoch :class:`History`, with
    ``tracked["weight_norm"]`` = ‖W‖ of the weights.
    """
    X, y, X_val, y_val = small_digits(n_train, seed)
    model = mlp([64, hidden, hidden, 10], "relu", init=init, dropout=dropout,
                dtype=np.float64, seed=seed)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                          weight_decay=weight_decay)
    return fit(model, nn.CrossEntropyLoss(), optimizer, X, y, X_val, y_val,
               epochs=epochs, batch_size=25, seed=seed,
               track={"weight_norm": weight_norm_of_weights},
               desc=f"weight_decay={weight_decay}, dropout={dropout}, init={init}")
