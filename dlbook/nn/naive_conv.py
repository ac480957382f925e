"""The convolution written as plain loops: the definition, to read, not to run on real data.

It computes what :func:`dlbook.nn.functional.conv2d` computes (the tests hold them equal),
one output number at a time, so each line of the formula has a line of code.
"""

from __future__ import annotations

import numpy as np


def naive_conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride: int = 1, padding: int = 0) -> np.ndarray:
    """x (N, C, H, W), weight (F, C, kh, kw), bias (F,) -> y (N, F, H_out, W_out).

    Square stride and padding, no dilation or groups: the textbook case.
    """
    n, c, h, w = x.shape
    f, c_w, kh, kw = weight.shape
    if c_w != c:
        raise ValueError(f"weight of shape {weight.shape} expects {c_w} input "
                         f"channels, got input of shape {x.shape}")
    # zeros around each image
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (h + 2 * padding - kh) // stride + 1
    w_out = (w + 2 * padding - kw) // stride + 1
    y = np.zeros((n, f, h_out, w_out), dtype=x.dtype)
    for i in range(n):                      # every image
        for k in range(f):                  # every kernel -> one output channel
            for r in range(h_out):          # every output row
                for s in range(w_out):      # every output column
                    top, left = r * stride, s * stride
                    # (C, kh, kw): all input channels
                    window = xp[i, :, top:top + kh, left:left + kw]
                    y[i, k, r, s] = np.sum(window * weight[k])  # multiply and add up
                    if bias is not None:
                        y[i, k, r, s] += bias[k]
    return y
