r"""Batch normalization: ``BatchNorm1d`` and ``BatchNorm2d`` share one implementation.

Both normalize each channel (axis 1) over every other axis: the batch for (N, C), batch and
length for (N, C, L), batch and both image axes for (N, C, H, W). That single rule is why
the two torch classes are one class here with different accepted ranks.
"""

from __future__ import annotations

import numpy as np

from .module import Module, Parameter, accumulate_grad, as_dtype


class _BatchNorm(Module):
    r"""$y = \gamma \, (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta$ per channel.

    Training: $\mu, \sigma^2$ are the batch's (biased variance); the running estimates move by
    ``momentum`` toward them (the running variance uses the unbiased $n/(n-1)$ estimate, as torch
    does; ``momentum=None`` gives the cumulative average). Eval: the running estimates are used.

    params: ``weight`` $\gamma$ (C,) = 1, ``bias`` $\beta$ (C,) = 0 (when ``affine``; ``bias=False``
    keeps $\gamma$ and drops $\beta$, as torch's keyword of that name does).
    buffers: ``running_mean`` (C,) = 0, ``running_var`` (C,) = 1, ``num_batches_tracked`` ()
    (when ``track_running_stats``).
    """

    torch_args = ("num_features", "eps", "momentum", "affine", "track_running_stats")
    input_ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, bias: bool = True,
                 dtype=None) -> None:
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}")
        if eps <= 0:
            raise ValueError(f"{type(self).__name__}: eps must be > 0, got {eps}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = as_dtype(dtype)
        self.register_parameter("weight", Parameter(np.ones(num_features, dtype)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_features, dtype)) if affine and bias else None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    @classmethod
    def from_torch_module(cls, module) -> "_BatchNorm":
        return cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                   bias=module.bias is not None)

    def torch_config(self) -> dict:
        config = {arg: getattr(self, arg) for arg in self.torch_args}
        return {**config, "bias": self.bias is not None} if self.affine else config

    def _per_channel(self, v: np.ndarray, ndim: int) -> np.ndarray:
        """(C,) -> (1, C, 1, ...) so that it broadcasts against the input."""
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C) or (N, C, L) for BatchNorm1d, (N, C, H, W) for BatchNorm2d; y: x's shape."""
        self._check_input(x, self.input_ranks, self.layout)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects {self.num_features} "
                             f"channels on axis 1, got input of shape {x.shape}")
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // self.num_features  # values per channel
        use_batch = self.training or not self.track_running_stats
        if x.size == 0:  # an empty batch: nothing to normalize, statistics untouched, but counted (as torch)
            if self.training and self.track_running_stats:
                self.num_batches_tracked += 1
            self.save_for_backward(None, None, use_batch, axes, n)
            return x.copy()
        if use_batch:
            if n < 2:
                raise ValueError(f"{type(self).__name__} needs more than 1 value per channel in training, "
                                 f"got input of shape {x.shape}")
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            if self.training and self.track_running_stats:
                self._update_running(mean, var, n)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = (x - self._per_channel(mean, x.ndim)) * self._per_channel(inv_std, x.ndim)
        self.save_for_backward(xhat, inv_std, use_batch, axes, n)
        y = xhat if self.weight is None else xhat * self._per_channel(self.weight, x.ndim)
        return y if self.bias is None else y + self._per_channel(self.bias, x.ndim)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, n: int) -> None:
        self.num_batches_tracked += 1
        m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mean
        self.running_var *= 1 - m
        self.running_var += m * var * (n / (n - 1))  # unbiased, like torch

    def backward(self, dy: np.ndarray) -> np.ndarray:
        r"""dx of x's shape. With batch statistics the mean and variance depend on
        x too:

        $dx = \frac{1}{\sigma}
        \left(g - \overline{g} - \hat{x}\,\overline{g \hat{x}}\right)$,
        $g = \gamma\, dy$, bars = means over the normalized axes.
        """
        xhat, inv_std, use_batch, axes, n = self.saved_for_backward()
        if xhat is None:  # the empty batch: zero gradients, as torch's
            for p in (self.weight, self.bias):
                if p is not None:
                    accumulate_grad(p, np.zeros_like(np.asarray(p)))
            return dy.copy()
        self._check_grad_output(dy, xhat.shape)
        if self.weight is not None:
            accumulate_grad(self.weight, np.sum(dy * xhat, axis=axes))
        if self.bias is not None:
            accumulate_grad(self.bias, np.sum(dy, axis=axes))
        g = dy if self.weight is None else dy * self._per_channel(self.weight, dy.ndim)
        inv_std = self._per_channel(inv_std, dy.ndim)
        if not use_batch:  # fixed running statistics: a per-channel affine map
            return g * inv_std
        g_mean = g.mean(axis=axes, keepdims=True)
        gx_mean = (g * xhat).mean(axis=axes, keepdims=True)
        return inv_std * (g - g_mean - xhat * gx_mean)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, like ``torch.nn.BatchNorm1d``."""

    input_ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images, per channel, like ``torch.nn.BatchNorm2d``."""

    input_ranks = (4,)
    layout = "(N, C, H, W)"
