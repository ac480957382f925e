r"""``Linear``: the affine map $y = x W^\top + b$, laid out like ``torch.nn.Linear``."""

from __future__ import annotations

import numpy as np

from . import functional as F
from .init import default_uniform_
from .module import Module, Parameter, accumulate_grad, as_dtype, as_generator


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

    ``weight`` has shape (out_features, in_features), ``bias`` (out_features,) or None.
    Both start as torch's do: uniform on $[-1/\sqrt{\text{in}}, 1/\sqrt{\text{in}}]$
    (:func:`dlbook.nn.init.default_uniform_`).
    Input (..., in_features), any leading axes (a batch, time steps); output (..., out_features).
    """

    torch_args = ("in_features", "out_features", "bias")

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype=None, seed=None) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng, dtype = as_generator(seed), as_dtype(dtype)
        self.weight = Parameter(default_uniform_(np.empty((out_features, in_features), dtype), generator=rng))
        self.register_parameter("bias", Parameter(default_uniform_(np.empty(out_features, dtype), in_features, rng))
                                if bias else None)

    def torch_config(self) -> dict:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (..., in_features) -> (..., out_features), e.g. (N, in) or (N, T, in)."""
        self._check_input(x, None, f"(..., {self.in_features})")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expects input of shape "
                             f"(..., {self.in_features}), got {x.shape}")
        self.save_for_backward(x)
        return F.linear(x, self.weight, self.bias)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: like the output -> dx like the input;
        adds dW = dyᵀx to ``weight.grad`` and db = Σ dy to ``bias.grad``."""
        x = self.saved_for_backward()
        self._check_grad_output(dy, x.shape[:-1] + (self.out_features,))
        has_bias = self.bias is not None
        dx, dweight, dbias = F.linear_backward(dy, x, self.weight, has_bias)
        accumulate_grad(self.weight, dweight)
        if self.bias is not None:
            accumulate_grad(self.bias, dbias)
        return dx
