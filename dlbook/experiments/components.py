"""Chapter 3's experiments: a look inside a network (each layer's output, each weight's gradient),
and a wide MLP on 100 handwritten digits: overfitting with and without weight decay and dropout,
the initial scale, the learning rate, and the one evaluation on the test set."""

from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..data import Split, load_digits_split
from ..models.mlp import mlp
from ..train import History, evaluate, fit


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


def small_digits(n_train: int = 100, seed: int = 0, val_size: float = 0.25) -> Split:
    """The overfitting data: ``n_train`` training digits, a validation set, the test set.

    All three come from :func:`dlbook.data.load_digits_split` with this ``seed``: the
    training digits are a stratified draw of ``n_train`` from its training part; the
    validation set (``val_size`` of all 1,797 digits: 449 for 0.25) is carved out of that
    training part too; the test set is the standard 25% (450 digits), left alone until the
    end. X: (n, 64) in [0, 1]; y: int64.
    """
    from sklearn.model_selection import train_test_split

    if not 0 < val_size:
        raise ValueError(f"small_digits needs a validation set, got val_size={val_size}")
    split = load_digits_split(seed=seed, val_size=val_size)
    if not 10 <= n_train <= len(split.X_train):
        raise ValueError(f"n_train must be in [10, {len(split.X_train)}] (at least one "
                         f"digit per class), got {n_train}")
    if n_train == len(split.X_train):
        X, y = split.X_train, split.y_train
    else:
        X, _, y, _ = train_test_split(split.X_train, split.y_train, train_size=n_train,
                                      stratify=split.y_train, random_state=seed)
    return Split(X, split.X_val, split.X_test, y, split.y_val, split.y_test)


def weight_norm_of_weights(model: nn.Module) -> float:
    """‖W‖ over the weight matrices only (biases excluded)."""
    return nn.weight_norm(model, include=lambda name: name.endswith("weight"))


def dead_relu_shares(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """For each ReLU layer of ``model`` (in order), the share of its units that output 0
    for every row of x: "dead" units, which pass no gradient back (a ReLU's slope is 0
    there). Computed in eval mode, saving nothing for backward; modes are restored."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with nn.no_grad():
            outputs = layer_outputs(model, x)
    finally:
        for module, mode in modes:
            module.training = mode
    shares = [float(np.mean(np.all(y == 0, axis=0)))
              for layer, y in zip(model, outputs) if isinstance(layer, nn.ReLU)]
    if not shares:
        raise ValueError("dead_relu_shares needs a model with ReLU layers")
    return np.array(shares)


def _fit_small_digits(data: Split, weight_decay: float, dropout: float, hidden: int,
                      epochs: int, lr: float, seed: int, init,
                      lr_decay_every: int | None, lr_decay: float):
    """(model, History) of one run on ``data``'s training and validation sets."""
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    model = mlp([64, hidden, hidden, 10], "relu", init=init, dropout=dropout,
                dtype=np.float64, seed=seed)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                          weight_decay=weight_decay)
    scheduler = None
    if lr_decay_every is not None:  # lr times lr_decay every lr_decay_every epochs
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=lr_decay_every,
                                              gamma=lr_decay)
    track = {"weight_norm": weight_norm_of_weights,
             "dead_last_layer": lambda m: dead_relu_shares(m, data.X_train)[-1]}
    # products of a few thousand numbers: a second BLAS thread only adds syncing
    with threadpool_limits(limits=1, user_api="blas"):
        history = fit(model, nn.CrossEntropyLoss(), optimizer, data.X_train,
                      data.y_train, data.X_val, data.y_val, epochs=epochs,
                      batch_size=25, seed=seed, scheduler=scheduler, track=track,
                      desc=f"lr={lr}, weight_decay={weight_decay}, "
                           f"dropout={dropout}, init={init}")
    return model, history


def train_small_digits(weight_decay: float = 0.0, dropout: float = 0.0,
                       n_train: int = 100, hidden: int = 256, epochs: int = 150,
                       lr: float = 0.05, seed: int = 0, init="default",
                       lr_decay_every: int | None = None,
                       lr_decay: float = 0.1) -> History:
    """Train a ``[64, hidden, hidden, 10]`` ReLU MLP (float64) on :func:`small_digits`
    with SGD (momentum 0.9, batches of 25); the validation set is evaluated after every
    epoch, the test set never.

    ``init`` goes to :func:`dlbook.models.mlp.mlp` (e.g. ``("trunc_normal", 0.05)``);
    ``lr_decay_every`` (epochs) multiplies the learning rate by ``lr_decay`` that often
    (:class:`dlbook.optim.lr_scheduler.StepLR`). Returns the per-epoch
    :class:`History`; ``tracked["weight_norm"]`` is ‖W‖ of the weights and
    ``tracked["dead_last_layer"]`` the share of the last hidden layer's ReLUs that are 0
    on every training digit (:func:`dead_relu_shares`): at 1 the output no longer
    depends on the input.
    """
    data = small_digits(n_train, seed)
    return _fit_small_digits(data, weight_decay, dropout, hidden, epochs, lr, seed,
                             init, lr_decay_every, lr_decay)[1]


def train_and_test_small_digits(weight_decay: float = 0.0, dropout: float = 0.0,
                                n_train: int = 100, hidden: int = 256,
                                epochs: int = 150, lr: float = 0.05, seed: int = 0,
                                init="default", lr_decay_every: int | None = None,
                                lr_decay: float = 0.1) -> dict:
    """The run of :func:`train_small_digits` with these settings (the same seeds, so the
    same weights), then the one look at the test set.

    Returns ``history`` (as train_small_digits gives it), ``test_loss``, ``test_acc``,
    ``n_test`` and ``state_dict`` (copies of the trained arrays, by torch name).
    """
    data = small_digits(n_train, seed)
    model, history = _fit_small_digits(data, weight_decay, dropout, hidden, epochs, lr,
                                       seed, init, lr_decay_every, lr_decay)
    test_loss, test_acc = evaluate(model, nn.CrossEntropyLoss(), data.X_test, data.y_test)
    return {"history": history, "test_loss": test_loss, "test_acc": test_acc,
            "n_test": len(data.X_test),
            "state_dict": {k: np.array(v) for k, v in model.state_dict().items()}}
