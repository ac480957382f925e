"""``Dropout``: zero each activation with probability p during training ("inverted" dropout)."""

from __future__ import annotations

import numpy as np

from .module import Module, as_generator


class Dropout(Module):
    r"""In training, $y = x \odot m / (1-p)$ with $m_i \sim \text{Bernoulli}(1-p)$; in eval, $y = x$.

    Dividing by the keep probability $1-p$ at training time keeps $E[y] = x$, so the network
    needs no rescaling at test time (torch does the same). Any input shape.

    Parameters
    ----------
    p : float in [0, 1], the probability of zeroing an entry.
    seed : None, int or numpy Generator, for the masks.
    """

    torch_args = ("p",)

    def __init__(self, p: float = 0.5, inplace: bool = False, *, seed=None) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout probability must be in [0, 1], got {p}")
        self.p, self.inplace = float(p), inplace
        self.rng = as_generator(seed)
        self._last_mask = None

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """x: any shape. ``mask`` (bool, x's shape; True = keep) replaces the random
        draw, e.g. to replay the mask of a torch run; it is ignored in eval mode."""
        self._check_input(x, None, "array of any shape")
        if not self.training or self.p == 0:
            self.save_for_backward(None, x.dtype.type(1), x.shape)
            return x
        if mask is None:
            mask = self.rng.random(x.shape) >= self.p
        elif np.shape(mask) != x.shape or np.asarray(mask).dtype != bool:
            raise ValueError(f"Dropout mask must be a bool array of shape {x.shape}, "
                             f"got {np.asarray(mask).dtype} {np.shape(mask)}")
        # p = 1 drops everything
        scale = x.dtype.type(0 if self.p == 1 else 1 / (1 - self.p))
        self.save_for_backward(mask, scale, x.shape)
        self._last_mask = mask
        return x * mask * scale

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """The same mask and scale as the forward pass: dx = dy ⊙ m / (1-p)."""
        mask, scale, shape = self.saved_for_backward()
        self._check_grad_output(dy, shape)
        return dy if mask is None else dy * mask * scale

    @property
    def mask(self) -> np.ndarray | None:
        """The keep-mask of the last training-mode forward pass (None before any)."""
        return self._last_mask
