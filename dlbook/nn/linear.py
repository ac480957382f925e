r"""``Linear``: the affine map $y = x W^\top + b$, laid out like ``torch.nn.Linear``."""

from __future__ import annotations

import math

import numpy as np

from .module import Module, as_dtype, as_generator


class Linear(Module):
    r"""Fully connected layer $y = x W^\top + b$.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input row and each output row.
    bias : bool
        Whether to add the learnable offset ``bias``.
    dtype : float32 (default, as torch) or float64.
    seed : None, int or numpy Generator, for the initial weights.

    ``params["weight"]`` has shape (out_features, in_features), ``params["bias"]`` (out_features,).
    Both start as torch's do: uniform on $[-1/\sqrt{\text{in}}, 1/\sqrt{\text{in}}]$
    (``kaiming_uniform_`` with ``a=sqrt(5)`` works out to exactly this bound).
    Input (N, in_features) or (in_features,); output (N, out_features) or (out_features,).
    """

    torch_args = ("in_features", "out_features", "bias")

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype=None, seed=None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {value!r}")
        self.in_features, self.out_features, self.bias = int(in_features), int(out_features), bool(bias)
        rng, dtype = as_generator(seed), as_dtype(dtype)
        bound = 1.0 / math.sqrt(in_features)
        self.add_param("weight", rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype))
        if bias:
            self.add_param("bias", rng.uniform(-bound, bound, out_features).astype(dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, in_features) or (in_features,)
        -> (N, out_features) or (out_features,)."""
        self._check_input(x, (1, 2), f"(N, {self.in_features})")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects input of shape (N, {self.in_features}), "
                             f"got {x.shape}")
        self._cache = x
        y = x @ self.params["weight"].T
        return y + self.params["bias"] if self.bias else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: like the output -> dx like the input;
        adds dW = dyᵀx and db = Σ dy to ``grads``."""
        x = self._need_cache()
        self._check_grad_output(dy, x.shape[:-1] + (self.out_features,))
        x2, dy2 = x.reshape(-1, self.in_features), dy.reshape(-1, self.out_features)
        self.grads["weight"] += dy2.T @ x2
        if self.bias:
            self.grads["bias"] += dy2.sum(axis=0)
        return dy @ self.params["weight"]
