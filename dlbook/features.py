"""Hand-made features for 8×8 digit images: what feature engineering looked like before CNNs.

Each function maps images of shape (N, 8, 8) (or flattened (N, 64)) to a feature matrix (N, F).
"""

from __future__ import annotations

import numpy as np


def _as_images(X: np.ndarray, side: int = 8) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2 and X.shape[1] == side * side:
        return X.reshape(len(X), side, side)
    if X.ndim == 3 and X.shape[1:] == (side, side):
        return X
    raise ValueError(f"expected images of shape (N, {side}, {side}) or (N, {side * side}), got {X.shape}")


def ink_profiles(X: np.ndarray) -> np.ndarray:
    """Mean ink of each row and each column: 16 numbers per 8×8 image, shape (N, 16)."""
    images = _as_images(X)
    return np.concatenate([images.mean(axis=2), images.mean(axis=1)], axis=1)


def gradient_histograms(X: np.ndarray, cell: int = 2, orientations: int = 9
                        ) -> np.ndarray:
    """Histograms of oriented gradients (HOG) in ``cell``×``cell``-pixel cells, (N, F).

    F = (8 // cell)² · orientations: 144 for the defaults. Edges and their directions
    are what a digit's shape is made of; the histogram tolerates small shifts in a cell.
    """
    from skimage.feature import hog

    images = _as_images(X)
    if not isinstance(cell, (int, np.integer)) or cell < 1 or 8 % cell:
        raise ValueError(f"cell must be a positive divisor of 8, got {cell!r}")
    if not isinstance(orientations, (int, np.integer)) or orientations < 1:
        raise ValueError(f"orientations must be a positive int, got {orientations!r}")
    return np.array([hog(image, orientations=orientations,
                         pixels_per_cell=(cell, cell), cells_per_block=(1, 1))
                     for image in images])


#: Named feature sets compared in chapter 1.
FEATURE_SETS = {
    "pixels": lambda X: _as_images(X).reshape(len(X), 64),
    "ink": ink_profiles,
    "hog": gradient_histograms,
    "pixels+hog": lambda X: np.hstack([_as_images(X).reshape(len(X), 64), gradient_histograms(X)]),
}


def featurize(name: str, X: np.ndarray) -> np.ndarray:
    """Apply the feature set ``name`` (a key of :data:`FEATURE_SETS`) to images X."""
    if name not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {name!r}; expected one of {sorted(FEATURE_SETS)}")
    return FEATURE_SETS[name](X)
