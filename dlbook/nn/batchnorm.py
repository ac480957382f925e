r"""Batch normalization: ``BatchNorm1d`` and ``BatchNorm2d`` share one implementation.

Both normalize each channel (axis 1) over every other axis: the batch for (N, C), batch and
length for (N, C, L), batch and both image axes for (N, C, H, W). That single rule is why
the two torch classes are one class here with different accepted ranks.
"""

from __future__ import annotations

import numpy as np

from .module import Module, as_dtype


class _BatchNorm(Module):
    r"""$y = \gamma \, (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta$ per channel.

    Training: $\mu, \sigma^2$ are the batch's (biased variance); the running estimates move by
    ``momentum`` toward them (the running variance uses the unbiased $n/(n-1)$ estimate, as torch
    does; ``momentum=None`` gives the cumulative average). Eval: the running estimates are used.

    params: ``weight`` $\gamma$ (C,) = 1, ``bias`` $\beta$ (C,) = 0 (when ``affine``).
    buffers: ``running_mean`` (C,) = 0, ``running_var`` (C,) = 1, ``num_batches_tracked`` ()
    (when ``track_running_stats``).
    """

    torch_args = ("num_features", "eps", "momentum", "affine", "track_running_stats")
    input_ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, dtype=None) -> None:
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
        if affine:
            self.add_param("weight", np.ones(num_features, dtype))
            self.add_param("bias", np.zeros(num_features, dtype))
        if track_running_stats:
            self.buffers["running_mean"] = np.zeros(num_features, dtype)
            self.buffers["running_var"] = np.ones(num_features, dtype)
            self.buffers["num_batches_tracked"] = np.zeros((), np.int64)

    @property
    def dtype(self):
        return self.buffers["running_mean"].dtype if not self.affine and self.track_running_stats else super().dtype

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
        if use_batch:
            if n < 2:
                raise ValueError(f"{type(self).__name__} needs more than 1 value per channel in training, "
                                 f"got input of shape {x.shape}")
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            if self.training and self.track_running_stats:
                self._update_running(mean, var, n)
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        xhat = (x - self._per_channel(mean, x.ndim)) * self._per_channel(inv_std, x.ndim)
        self._cache = (xhat, inv_std, use_batch, axes, n)
        if not self.affine:
            return xhat
        return xhat * self._per_channel(self.params["weight"], x.ndim) + self._per_channel(self.params["bias"], x.ndim)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, n: int) -> None:
        b = self.buffers
        b["num_batches_tracked"] += 1
        m = 1.0 / float(b["num_batches_tracked"]) if self.momentum is None else self.momentum
        b["running_mean"] *= 1 - m
        b["running_mean"] += m * mean
        b["running_var"] *= 1 - m
        b["running_var"] += m * var * (n / (n - 1))  # unbiased, like torch

    def backward(self, dy: np.ndarray) -> np.ndarray:
        r"""dx of x's shape. With batch statistics the mean and variance depend on
        x too:

        $dx = \frac{1}{\sigma}
        \left(g - \overline{g} - \hat{x}\,\overline{g \hat{x}}\right)$,
        $g = \gamma\, dy$, bars = means over the normalized axes.
        """
        xhat, inv_std, use_batch, axes, n = self._need_cache()
        self._check_grad_output(dy, xhat.shape)
        if self.affine:
            self.grads["weight"] += np.sum(dy * xhat, axis=axes)
            self.grads["bias"] += np.sum(dy, axis=axes)
            g = dy * self._per_channel(self.params["weight"], dy.ndim)
        else:
            g = dy
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
