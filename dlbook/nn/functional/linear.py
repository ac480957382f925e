r"""The affine map $y = x W^\top + b$ of ``torch.nn.functional.linear``, and its gradients."""

from __future__ import annotations

import numpy as np


def linear(x: np.ndarray, weight: np.ndarray,
           bias: np.ndarray | None = None) -> np.ndarray:
    """x (..., in) with weight (out, in) and bias (out,) or None -> (..., out)."""
    y = x @ weight.T
    return y if bias is None else y + bias


def linear_backward(dy: np.ndarray, x: np.ndarray, weight: np.ndarray,
                    has_bias: bool = True):
    """dy (..., out) -> (dx, dweight, dbias).

    dx (..., in) = dy W; dweight (out, in) = dyᵀ x and dbias (out,) = Σ dy, both
    summed over every leading axis (samples, time steps); dbias is None without a bias.
    """
    x2, dy2 = x.reshape(-1, weight.shape[1]), dy.reshape(-1, weight.shape[0])
    return dy @ weight, dy2.T @ x2, (dy2.sum(axis=0) if has_bias else None)
