r"""Local response normalization (AlexNet's), forward and backward, as torch does it.

Each value is divided by a power of the energy of its neighbours across channels, at
the same position. With $n$ = ``size`` channels in the window $W(c)$,

$$y_c = \frac{x_c}{D_c^{\beta}}, \qquad
D_c = k + \frac{\alpha}{n} \sum_{c' \in W(c)} x_{c'}^2, \qquad
W(c) = \left[c - \lfloor n/2 \rfloor,\; c + \lfloor (n-1)/2 \rfloor\right],$$

channels outside $[0, C)$ counting as zeros. torch divides $\alpha$ by $n$; the
AlexNet paper (Krizhevsky et al. 2012, section 3.3) does not, so the paper's
$\alpha = 10^{-4}$ is torch's $\alpha = n \cdot 10^{-4}$.

Backward: $x_j$ enters its own $y_j$ and the $D_c$ of every channel whose window
holds $j$ (the same window mirrored: $\lfloor (n-1)/2 \rfloor$ before,
$\lfloor n/2 \rfloor$ after), so with $g = \partial L / \partial y$

$$\frac{\partial L}{\partial x_j} = \frac{g_j}{D_j^{\beta}}
- \frac{2 \alpha \beta}{n}\, x_j \sum_{c:\, j \in W(c)} g_c\, x_c\, D_c^{-\beta-1}.$$
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def channel_window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """``out[:, c] = a[:, c - before] + ... + a[:, c + after]`` (missing ones: 0)."""
    padding = [(0, 0)] * a.ndim
    padding[1] = (before, after)
    padded = np.pad(a, padding)
    channels = a.shape[1]
    out = np.zeros_like(a)
    for offset in range(before + after + 1):
        out += padded[:, offset:offset + channels]
    return out


@dataclass
class LRNCache:
    """What :func:`local_response_norm_backward` needs."""

    x: np.ndarray
    denominator: np.ndarray   # D, x's shape
    size: int
    alpha: float
    beta: float


def check_lrn_args(size, alpha, beta, k) -> None:
    """A ValueError naming the argument unless size is an int >= 1, the rest numbers."""
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
        raise ValueError(f"local_response_norm: size must be an int >= 1, got {size!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ValueError(f"local_response_norm: {name} must be a real number, "
                             f"got {value!r}")


def local_response_norm_forward(x: np.ndarray, size: int, alpha: float = 1e-4,
                                beta: float = 0.75, k: float = 1.0
                                ) -> tuple[np.ndarray, LRNCache]:
    """x (N, C, *), at least one axis after C -> y of x's shape, and the cache."""
    check_lrn_args(size, alpha, beta, k)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"local_response_norm expects a numpy.ndarray of shape "
                        f"(N, C, *), got {type(x).__name__}")
    if x.ndim < 3:
        raise ValueError(f"local_response_norm expects input of shape (N, C, L), "
                         f"(N, C, H, W) or (N, C, D, H, W), got shape {x.shape}")
    if x.dtype not in _FLOATS:
        raise TypeError(f"local_response_norm expects float32 or float64 input, "
                        f"got {x.dtype}")
    energy = channel_window_sum(x * x, size // 2, (size - 1) // 2)
    denominator = k + (alpha / size) * energy
    y = x * denominator ** -beta
    return y, LRNCache(x, denominator, size, alpha, beta)


def local_response_norm(x: np.ndarray, size: int, alpha: float = 1e-4,
                        beta: float = 0.75, k: float = 1.0) -> np.ndarray:
    """Forward pass only, as ``torch.nn.functional.local_response_norm``."""
    return local_response_norm_forward(x, size, alpha, beta, k)[0]


def local_response_norm_backward(dy: np.ndarray, cache: LRNCache) -> np.ndarray:
    """dy of x's shape -> dx (the formula in the module docstring)."""
    x, d, n = cache.x, cache.denominator, cache.size
    alpha, beta = cache.alpha, cache.beta
    if not isinstance(dy, np.ndarray) or dy.shape != x.shape:
        got = getattr(dy, "shape", type(dy).__name__)
        raise ValueError(f"local_response_norm_backward expects dy of shape {x.shape} "
                         f"(the output of the forward call it matches), got {got}")
    through_d = channel_window_sum(dy * x * d ** (-beta - 1), (n - 1) // 2, n // 2)
    return dy * d ** -beta - (2 * alpha * beta / n) * x * through_d
