r"""Element-wise activations and their derivatives, in NumPy.

Each ``f`` has an ``f_backward(dy, ...)`` that returns $dy \odot f'(\cdot)$, given what the
derivative is cheapest to compute from: the input ``x`` (ReLU, LeakyReLU) or the output ``y``
(Sigmoid: $\sigma' = y(1-y)$, Tanh: $1-y^2$). Any shape; the dtype is kept.
"""

from __future__ import annotations

import numpy as np


def relu(x: np.ndarray) -> np.ndarray:
    r"""$\max(0, x)$."""
    return np.maximum(x, 0)


# Selections below are written as products with 0/1 masks rather than np.where: NumPy's
# masked selection is several times slower, and multiplying by exactly 0 or 1 changes no value.

def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dy where x > 0, else 0 (torch takes the derivative at 0 to be 0 too)."""
    return dy * (x > 0)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    r"""$x$ for $x > 0$, $\alpha x$ otherwise."""
    return np.maximum(x, 0) + np.asarray(negative_slope, dtype=x.dtype) * np.minimum(x, 0)


def leaky_relu_backward(dy: np.ndarray, x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """dy for x > 0, ``negative_slope * dy`` otherwise."""
    positive = (x > 0).astype(dy.dtype)
    return dy * (positive + np.asarray(negative_slope, dtype=dy.dtype) * (1 - positive))


def sigmoid(x: np.ndarray) -> np.ndarray:
    r"""$\sigma(x) = 1 / (1 + e^{-x})$, evaluated without overflow for large $|x|$.

    With $e = e^{-|x|} \le 1$: $\sigma = 1/(1+e)$ for $x \ge 0$
    and $e/(1+e)$ for $x < 0$.
    """
    e = np.exp(-np.abs(x))
    s = 1 / (1 + e)
    positive = (x >= 0).astype(x.dtype)
    # s where x >= 0, e * s = e / (1 + e) elsewhere
    return s * (positive + (1 - positive) * e)


def sigmoid_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""$dy \cdot \sigma(1-\sigma)$ from the output $y = \sigma(x)$; at most $dy/4$."""
    return dy * y * (1 - y)


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def tanh_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""$dy \cdot (1 - y^2)$ from the output $y = \tanh(x)$."""
    return dy * (1 - y * y)


def softmax_backward(dy: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Vector-Jacobian product of softmax from its output: $y \odot (dy - \langle dy, y\rangle)$."""
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax_backward(dy: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""From the output $y = \log\mathrm{softmax}(x)$: $dy - e^{y} \sum dy$."""
    return dy - np.exp(y) * np.sum(dy, axis=axis, keepdims=True)
