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


def relu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dy where x > 0, else 0 (torch takes the derivative at 0 to be 0 too)."""
    return np.where(x > 0, dy, 0).astype(dy.dtype, copy=False)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    r"""$x$ for $x > 0$, $\alpha x$ otherwise."""
    return np.where(x > 0, x, x * np.asarray(negative_slope, dtype=x.dtype))


def leaky_relu_backward(dy: np.ndarray, x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    return np.where(x > 0, dy, dy * np.asarray(negative_slope, dtype=dy.dtype))


def sigmoid(x: np.ndarray) -> np.ndarray:
    r"""$\sigma(x) = 1 / (1 + e^{-x})$, evaluated without overflow for large $|x|$.

    With $e = e^{-|x|} \le 1$: $\sigma = 1/(1+e)$ for $x \ge 0$ and $e/(1+e)$ for $x < 0$.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


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
