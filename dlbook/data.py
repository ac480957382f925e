"""Data that is available offline: scikit-learn's digits, scikit-image's sample images.

Nothing here downloads. Each loader validates its arguments and returns arrays in the
layouts the rest of dlbook uses: (N, features) or (N, C, H, W), float64 in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

#: skimage.data images shipped inside the scikit-image wheel (the others download on first use).
OFFLINE_IMAGES = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins",
                  "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry",
                  "logo", "microaneurysms", "moon", "page", "retina", "rocket", "text")


@dataclass(frozen=True)
class Split:
    """Training, validation and test sets: ``X_*`` of shape (N, 64) or (N, 1, 8, 8), ``y_*`` int64.

    The book's one convention: the training set fits the weights, the validation set chooses
    hyper-parameters, the test set is used once, at the end, for the number a page reports.
    """

    X_train: np.ndarray
    X_val: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def load_digits_split(test_size: float = 0.25, seed: int = 0, flatten: bool = True,
                      val_size: float = 0.0) -> Split:
    """scikit-learn's 1,797 handwritten 8×8 digits, pixels scaled to [0, 1], split stratified.

    ``test_size`` and ``val_size`` are fractions of all 1,797 digits; the test set does not depend
    on ``val_size`` (the validation set is carved out of the rest), so a page that adds a
    validation set keeps its test set. ``val_size=0`` gives empty validation arrays.
    ``flatten=True`` gives X of shape (N, 64); ``flatten=False`` gives (N, 1, 8, 8) images.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size}")
    if not 0 <= val_size < 1 - test_size:
        raise ValueError(f"val_size must be a fraction in [0, 1 - test_size) = [0, {1 - test_size:g}), "
                         f"got {val_size}")
    digits = load_digits()
    X = digits.images.astype(np.float64) / 16.0  # pixel values are 0..16
    X = X.reshape(len(X), 64) if flatten else X[:, None, :, :]
    y = digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y)
    if val_size == 0:
        return Split(X_rest, X_rest[:0], X_test, y_rest, y_rest[:0], y_test)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_size / (1 - test_size), random_state=seed, stratify=y_rest)
    return Split(X_train, X_val, X_test, y_train, y_val, y_test)


def load_image(name: str, gray: bool = False) -> np.ndarray:
    """A scikit-image sample image as float64 in [0, 1]: (H, W, 3) colour or (H, W) gray."""
    from skimage import color, data, util

    if name not in OFFLINE_IMAGES:
        raise ValueError(f"unknown or non-offline image {name!r}; expected one of {OFFLINE_IMAGES}")
    image = util.img_as_float64(getattr(data, name)())
    if image.ndim == 3 and image.shape[-1] == 4:
        image = color.rgba2rgb(image)
    if gray and image.ndim == 3:
        image = color.rgb2gray(image)
    return image


def minibatches(X: np.ndarray, y: np.ndarray, batch_size: int,
                rng: np.random.Generator | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (X_batch, y_batch) covering every sample once; shuffled when ``rng`` is given."""
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(len(X)) if rng is not None else np.arange(len(X))
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
