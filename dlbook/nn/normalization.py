r"""``LocalResponseNorm``: AlexNet's normalization across neighbouring channels.

Batch normalization (:mod:`dlbook.nn.batchnorm`) took its place after 2015; it is here
so that AlexNet (chapter 5) can be built as the paper describes it. The arithmetic is
in :mod:`dlbook.nn.functional.normalization`.
"""

from __future__ import annotations

import numpy as np

from .functional.normalization import (check_lrn_args, local_response_norm_backward,
                                       local_response_norm_forward)
from .module import Module


class LocalResponseNorm(Module):
    r"""$y_c = x_c / \bigl(k + \frac{\alpha}{n} \sum_{c'} x_{c'}^2\bigr)^{\beta}$ over
    the ``size`` $= n$ channels around $c$, like ``torch.nn.LocalResponseNorm``.

    torch's arguments and formula: ``alpha`` is divided by ``size``. The AlexNet
    paper's $\alpha = 10^{-4}$ multiplies the plain sum, so the paper's layer is
    ``LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)``, here as in torch.
    Input (N, C, *) with at least one axis after C; output of the same shape.
    No parameters.
    """

    torch_args = ("size", "alpha", "beta", "k")

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75,
                 k: float = 1.0) -> None:
        super().__init__()
        check_lrn_args(size, alpha, beta, k)
        self.size, self.alpha, self.beta, self.k = int(size), alpha, beta, k

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, L), (N, C, H, W) or (N, C, D, H, W) -> y of the same shape."""
        self._check_input(x, None, "(N, C, *)")
        if x.ndim < 3:
            raise ValueError(f"LocalResponseNorm expects input of shape (N, C, *) with "
                             f"an axis after C, e.g. (N, C, H, W), got shape {x.shape}")
        y, cache = local_response_norm_forward(x, self.size, self.alpha, self.beta,
                                               self.k)
        self.save_for_backward(cache)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: like the output -> dx like the input."""
        return local_response_norm_backward(dy, self.saved_for_backward())
