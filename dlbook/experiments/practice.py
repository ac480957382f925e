"""Chapter 8's experiments: the notes' Keras walkthrough, trained in PyTorch by :func:`dlbook.train.fit`.

* Data: scikit-learn's digits with string labels (:data:`DIGIT_NAMES`), as a picture folder would
  give them (:func:`digits_with_names`); :func:`prepare` splits them (stratified) into training,
  validation and test sets, flattens or keeps the images, and turns the names into class indices
  with scikit-learn's ``LabelBinarizer`` (the notes' one-hot step; its classes are sorted).
* Models: :func:`practice_mlp` (the notes' Dense 512 → Dense 256 → Dense classes, Keras'
  initialization: Glorot uniform weights, zero biases, or a truncated normal cut at ±2 stddev),
  :func:`practice_cnn` (two conv blocks with optional BatchNorm and dropout) and
  :class:`DigitRowLSTM` (a digit read row by row, one row per time step).
* Training: :func:`train_mlp`, :func:`train_cnn`, :func:`train_lstm` each build the model from a
  seed, train it with :func:`dlbook.train.fit` on :func:`dlbook.devices.best_device` (on the CPU
  with one thread: these models are small, a second thread only waits, and the cores are shared)
  and return plain data for :func:`dlbook.cache.cached_call`: the :class:`~dlbook.train.History`,
  the test accuracy, the state dict as NumPy arrays and the model's config.
* :func:`train_val_gap`: the overfitting measure the page compares (validation minus training loss
  of the last epochs); :func:`epochs_to_reach`: how fast a curve gets below a level.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import torch

from ..devices import resolve_device
from ..train import History, fit

#: the string labels the page writes as folder names, digit d -> DIGIT_NAMES[d]
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


# -- data ---------------------------------------------------------------------------------------
def digits_with_names() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as pictures with names: images (N, 8, 8) float64 in [0, 1]
    (the 0..16 pixel values divided by 16) and labels (N,) str ("zero", ..., "nine")."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images / 16.0, np.array(DIGIT_NAMES)[digits.target]


def prepare(images, labels, *, val_size: float = 0.2, test_size: float = 0.2,
            train_size: int | None = None, flatten: bool = True, seed: int = 0) -> dict:
    """Split pictures with string labels for training, stratified by label.

    images (N, H, W) in [0, 1]; labels (N,) str. ``test_size`` and ``val_size`` are fractions
    of N; ``train_size`` keeps only that many of the remaining training pictures (stratified),
    for a set small enough to overfit. ``flatten=True`` gives X of shape (N, H·W) float32 (the
    notes' ``image.flatten()``), otherwise (N, 1, H, W). Labels become class indices through
    ``sklearn.preprocessing.LabelBinarizer`` fitted on the training labels: ``y`` is the argmax
    of its one-hot rows, i.e. the position of the name in the sorted ``classes``.
    Returns a dict: X_train, y_train, X_val, y_val, X_test, y_test, classes (list of str).
    """
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer

    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"prepare: expected images (N, H, W) and labels (N,), got {images.shape} "
                         f"and {labels.shape}")
    if not (0 < test_size < 1 and 0 < val_size < 1 - test_size):
        raise ValueError(f"prepare: need 0 < test_size < 1 and 0 < val_size < 1 - test_size, got "
                         f"{test_size} and {val_size}")
    X = images.reshape(len(images), -1) if flatten else images[:, None]
    X = X.astype(np.float32)
    X_rest, X_test, l_rest, l_test = train_test_split(X, labels, test_size=test_size,
                                                      random_state=seed, stratify=labels)
    X_train, X_val, l_train, l_val = train_test_split(
        X_rest, l_rest, test_size=val_size / (1 - test_size), random_state=seed, stratify=l_rest)
    if train_size is not None:
        if not 0 < train_size < len(X_train):
            raise ValueError(f"prepare: train_size must be in (0, {len(X_train)}), got {train_size}")
        X_train, _, l_train, _ = train_test_split(X_train, l_train, train_size=train_size,
                                                  random_state=seed, stratify=l_train)
    binarizer = LabelBinarizer().fit(l_train)
    index = {name: i for i, name in enumerate(binarizer.classes_)}
    out = dict(classes=[str(c) for c in binarizer.classes_])
    for part, Xp, lp in (("train", X_train, l_train), ("val", X_val, l_val), ("test", X_test, l_test)):
        one_hot = binarizer.transform(lp)
        y = one_hot.argmax(axis=1).astype(np.int64)
        if not np.array_equal(y, [index[name] for name in lp]):  # more than 2 classes: one 1 a row
            raise ValueError("prepare needs at least 3 classes (LabelBinarizer gives 2 classes one column)")
        out[f"X_{part}"], out[f"y_{part}"] = Xp, y
    return out


# -- models -------------------------------------------------------------------------------------
ACTIVATIONS = {"sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


def keras_init_(model: torch.nn.Module, stddev: float | None = None) -> torch.nn.Module:
    """Give every Linear/Conv2d Keras' default initialization: Glorot uniform weights and zero
    biases; with ``stddev``, weights from Keras' ``TruncatedNormal(0, stddev)`` instead (a normal
    cut at ±2 stddev). In place; returns the model. Draws from torch's global generator."""
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv2d)):
            with torch.no_grad():
                if stddev is None:
                    torch.nn.init.xavier_uniform_(module.weight)
                else:
                    torch.nn.init.trunc_normal_(module.weight, std=stddev, a=-2 * stddev, b=2 * stddev)
                if module.bias is not None:
                    module.bias.zero_()
    return model


def practice_mlp(in_features: int = 64, hidden=(512, 256), classes: int = 10, *,
                 activation: str = "sigmoid", dropout: float = 0.0,
                 stddev: float | None = None, seed: int = 0) -> torch.nn.Sequential:
    """The notes' network: Linear(in, 512) → activation → Linear(512, 256) →
    activation → Linear(256, classes), with Dropout(dropout) after each hidden
    activation when dropout > 0. It returns logits: the softmax is inside the loss
    (``torch.nn.CrossEntropyLoss``). Keras' initialization (:func:`keras_init_`),
    seeded by ``seed``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"practice_mlp: activation must be one of "
                         f"{sorted(ACTIVATIONS)}, got {activation!r}")
    if not 0 <= dropout < 1:
        raise ValueError(f"practice_mlp: dropout must be in [0, 1), got {dropout}")
    torch.manual_seed(seed)
    layers, width = [], in_features
    for h in hidden:
        layers += [torch.nn.Linear(width, h), ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    layers.append(torch.nn.Linear(width, classes))
    return keras_init_(torch.nn.Sequential(*layers), stddev)


def practice_cnn(classes: int = 10, *, channels=(32, 64), batchnorm: bool = False,
                 conv_dropout: float = 0.0, dense_dropout: float = 0.0,
                 hidden: int = 128, seed: int = 0) -> torch.nn.Sequential:
    """A small CNN for (N, 1, 8, 8) pictures, the notes' CNN in torch. Two blocks of
    Conv2d 3×3 (padding 1) → BatchNorm2d (if batchnorm) → ReLU → MaxPool2d(2) →
    Dropout(conv_dropout) (if > 0); then Flatten → Linear(·, hidden) → ReLU →
    Dropout(dense_dropout) (if > 0) → Linear(hidden, classes). With BatchNorm the
    convolutions have no bias (BatchNorm's shift takes its place). Keras'
    initialization, seeded."""
    for name, p in (("conv_dropout", conv_dropout), ("dense_dropout", dense_dropout)):
        if not 0 <= p < 1:
            raise ValueError(f"practice_cnn: {name} must be in [0, 1), got {p}")
    torch.manual_seed(seed)
    layers, c_in, size = [], 1, 8
    for c in channels:
        layers.append(torch.nn.Conv2d(c_in, c, 3, padding=1, bias=not batchnorm))
        if batchnorm:
            layers.append(torch.nn.BatchNorm2d(c))
        layers += [torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
        if conv_dropout > 0:
            layers.append(torch.nn.Dropout(conv_dropout))
        c_in, size = c, size // 2
    layers += [torch.nn.Flatten(), torch.nn.Linear(c_in * size * size, hidden),
               torch.nn.ReLU()]
    if dense_dropout > 0:
        layers.append(torch.nn.Dropout(dense_dropout))
    layers.append(torch.nn.Linear(hidden, classes))
    return keras_init_(torch.nn.Sequential(*layers))


class DigitRowLSTM(torch.nn.Module):
    """Reads a picture (N, 1, H, W) or (N, H, W) row by row: each of the H rows is one
    time step of W features. An LSTM(input_size=W, hidden_size, num_layers,
    batch_first=True), then a Linear on the last step's hidden state gives the class
    scores (N, classes).

    ``config`` holds the constructor's arguments: ``DigitRowLSTM(**model.config)``
    builds the same architecture (what Keras' ``model.get_config()`` describes).
    """

    def __init__(self, input_size: int = 8, hidden_size: int = 64, num_layers: int = 1,
                 classes: int = 10) -> None:
        super().__init__()
        self.config = dict(input_size=input_size, hidden_size=hidden_size,
                           num_layers=num_layers, classes=classes)
        self.lstm = torch.nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.classifier = torch.nn.Linear(hidden_size, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            x = x[:, 0]  # (N, 1, H, W) -> (N, H, W): H steps of W features
        width = self.config["input_size"]
        if x.ndim != 3 or x.shape[-1] != width:
            raise ValueError(f"DigitRowLSTM expects (N, H, {width}) or "
                             f"(N, 1, H, {width}) inputs, got {tuple(x.shape)}")
        output, _ = self.lstm(x)  # (N, H, hidden): one step per row
        return self.classifier(output[:, -1])


# -- training -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _one_thread(device: torch.device):
    """torch with one thread on the CPU for the duration (restored afterwards)."""
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(model: torch.nn.Module, data: dict, *, optimizer: str, lr: float, epochs: int,
           batch_size: int, seed: int, device, progress, desc: str) -> dict:
    device = resolve_device(device)
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    with _one_thread(device):
        model = model.to(device)
        opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        start = time.perf_counter()
        history = fit(model, loss_fn, opt, data["X_train"], data["y_train"], data["X_val"], data["y_val"],
                      epochs=epochs, batch_size=batch_size, seed=seed, device=device, desc=desc,
                      progress=progress)
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            scores = model(torch.as_tensor(data["X_test"], device=device))
        test_acc = float((scores.argmax(1).cpu().numpy() == data["y_test"]).mean())
    return dict(history=history, test_acc=test_acc, seconds=seconds, device=str(device),
                state_dict={k: v.detach().cpu().numpy() for k, v in model.state_dict().items()},
                sizes={part: len(data[f"X_{part}"]) for part in ("train", "val", "test")})


def train_mlp(images, labels, *, lr: float = 0.01, epochs: int = 30, batch_size: int = 32,
              optimizer: str = "sgd", activation: str = "sigmoid", dropout: float = 0.0,
              stddev: float | None = None, hidden=(512, 256), train_size: int | None = None,
              seed: int = 0, device=None, progress: bool | None = None) -> dict:
    """Train :func:`practice_mlp` on :func:`prepare`'s split of (images, labels) (``seed`` fixes the
    split, the initialization and the batch order) with ``optimizer`` ("sgd" or "adam") at ``lr``
    and ``torch.nn.CrossEntropyLoss``, through :func:`dlbook.train.fit`. Returns a dict: history
    (train/val loss and accuracy per epoch), test_acc, state_dict (NumPy), config, sizes,
    device, seconds."""
    data = prepare(images, labels, train_size=train_size, seed=seed)
    config = dict(in_features=data["X_train"].shape[1], hidden=tuple(hidden), classes=len(data["classes"]),
                  activation=activation, dropout=dropout, stddev=stddev)
    model = practice_mlp(**config, seed=seed)
    result = _train(model, data, optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
                    seed=seed, device=device, progress=progress, desc=f"mlp lr={lr:g}")
    return dict(result, config=config)


def train_cnn(images, labels, *, batchnorm: bool = False, conv_dropout: float = 0.0,
              dense_dropout: float = 0.0, lr: float = 0.01, epochs: int = 10, batch_size: int = 32,
              optimizer: str = "sgd", train_size: int | None = None, seed: int = 0, device=None,
              progress: bool | None = None) -> dict:
    """Train :func:`practice_cnn` on (N, 1, 8, 8) pictures, as :func:`train_mlp` does."""
    data = prepare(images, labels, train_size=train_size, flatten=False, seed=seed)
    config = dict(classes=len(data["classes"]), batchnorm=batchnorm, conv_dropout=conv_dropout,
                  dense_dropout=dense_dropout)
    model = practice_cnn(**config, seed=seed)
    result = _train(model, data, optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size,
                    seed=seed, device=device, progress=progress,
                    desc=f"cnn{' bn' if batchnorm else ''}")
    return dict(result, config=config)


def train_lstm(images, labels, *, hidden_size: int = 64, num_layers: int = 1, rows: str = "in order",
               lr: float = 0.003, epochs: int = 15, batch_size: int = 32, seed: int = 0, device=None,
               progress: bool | None = None) -> dict:
    """Train :class:`DigitRowLSTM` (Adam at ``lr``) on pictures read row by row.

    rows: "in order" (top to bottom) or "last only" (each picture reduced to its last row, one time
    step: the baseline that shows how much the LSTM gains from the rows before). Returns what
    :func:`train_mlp` returns; ``config`` is the model's ``config``.
    """
    if rows not in ("in order", "last only"):
        raise ValueError(f"train_lstm: rows must be 'in order' or 'last only', got {rows!r}")
    data = prepare(images, labels, flatten=False, seed=seed)
    if rows == "last only":
        data = {k: (v[:, :, -1:] if k.startswith("X_") else v) for k, v in data.items()}
    torch.manual_seed(seed)
    model = DigitRowLSTM(data["X_train"].shape[-1], hidden_size, num_layers, len(data["classes"]))
    result = _train(model, data, optimizer="adam", lr=lr, epochs=epochs, batch_size=batch_size,
                    seed=seed, device=device, progress=progress, desc=f"lstm {rows}")
    return dict(result, config=dict(model.config))


# -- measures -----------------------------------------------------------------------------------
def train_val_gap(history: History, last: int = 5) -> float:
    """Overfitting, measured: the mean of (validation loss − training loss) over the last ``last``
    epochs (a mean over several epochs, so that one noisy epoch does not decide)."""
    if not history.val_loss:
        raise ValueError("train_val_gap needs a history with validation losses")
    last = min(last, len(history.val_loss))
    return float(np.mean(np.subtract(history.val_loss[-last:], history.train_loss[-last:])))


def epochs_to_reach(curve, level: float) -> int | None:
    """The first epoch (1-based) at which ``curve`` is at or below ``level``; None if never."""
    below = np.flatnonzero(np.asarray(curve) <= level)
    return int(below[0]) + 1 if below.size else None
