"""Activation layers: ReLU, LeakyReLU, PReLU, Sigmoid, Tanh, Softmax, LogSoftmax (as in
``torch.nn``).

Parameter-free except PReLU's learned slope; any input shape (Softmax/LogSoftmax along ``dim``). The math lives in
:mod:`dlbook.nn.functional`; a layer only remembers what its backward pass needs.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .module import Module, Parameter, accumulate_grad, as_dtype


class _Elementwise(Module):
    """Shared plumbing: check the input, cache it (or the output), check dy's shape."""

    def _remember(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.save_for_backward(x, y)
        return y

    def _recall(self, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.saved_for_backward()
        self._check_grad_output(dy, y.shape)
        return x, y

    def _input(self, x) -> np.ndarray:
        return self._check_input(x, None, "array of any shape")


class ReLU(_Elementwise):
    """max(0, x). ``inplace`` is accepted for torch's signature; a NumPy layer never overwrites x."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        x = self._input(x)
        return self._remember(x, F.relu(x))

    def backward(self, dy):
        x, _ = self._recall(dy)
        return F.relu_backward(dy, x)


class LeakyReLU(_Elementwise):
    """x for x > 0, ``negative_slope * x`` otherwise."""

    torch_args = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = float(negative_slope), inplace

    def forward(self, x):
        x = self._input(x)
        return self._remember(x, F.leaky_relu(x, self.negative_slope))

    def backward(self, dy):
        x, _ = self._recall(dy)
        return F.leaky_relu_backward(dy, x, self.negative_slope)


class PReLU(Module):
    """x for x > 0, ``weight * x`` otherwise, the slope learned: one slope for every channel
    (``num_parameters=1``) or one per channel, the channels being axis 1 of the input (axis 0
    of a 1-D input), as ``torch.nn.PReLU``. ``weight``: (num_parameters,), filled with ``init``.
    SRGAN's generator uses it."""

    torch_args = ("num_parameters", "init")

    def __init__(self, num_parameters: int = 1, init: float = 0.25, *, dtype=None) -> None:
        super().__init__()
        if not isinstance(num_parameters, (int, np.integer)) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters, self.init = int(num_parameters), float(init)
        self.weight = Parameter(np.full(self.num_parameters, self.init, as_dtype(dtype)))

    def _slope(self, x: np.ndarray) -> np.ndarray:
        """The slope broadcast against x: (1, C, 1, ...) for one slope per channel."""
        if self.num_parameters == 1:
            return np.asarray(self.weight).reshape(())
        axis = 1 if x.ndim >= 2 else 0
        if x.ndim == 0 or x.shape[axis] != self.num_parameters:
            raise ValueError(f"PReLU with {self.num_parameters} slopes expects {self.num_parameters} "
                             f"channels on axis {axis} (N, C, ...), got shape {x.shape}")
        shape = [1] * x.ndim
        shape[axis] = self.num_parameters
        return np.asarray(self.weight).reshape(shape)

    def forward(self, x):
        x = self._check_input(x, None, "(N, C, ...)")
        slope = self._slope(x)
        self.save_for_backward(x)
        return np.where(x > 0, x, slope * x)

    def backward(self, dy):
        """dx = dy for x > 0, weight·dy otherwise; adds Σ x·dy over x ≤ 0 (per channel) to
        ``weight.grad``."""
        x = self.saved_for_backward()
        self._check_grad_output(dy, x.shape)
        slope, negative = self._slope(x), x <= 0
        per_entry = np.where(negative, x * dy, 0)
        if self.num_parameters == 1:
            accumulate_grad(self.weight, per_entry.sum().reshape(1))
        else:
            axis = 1 if x.ndim >= 2 else 0
            accumulate_grad(self.weight, per_entry.sum(axis=tuple(i for i in range(x.ndim) if i != axis)))
        return np.where(negative, slope * dy, dy).astype(dy.dtype, copy=False)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x)); its derivative never exceeds 1/4."""

    def forward(self, x):
        x = self._input(x)
        return self._remember(x, F.sigmoid(x))

    def backward(self, dy):
        _, y = self._recall(dy)
        return F.sigmoid_backward(dy, y)


class Tanh(_Elementwise):
    """tanh(x); its derivative 1 - tanh² is 1 at 0."""

    def forward(self, x):
        x = self._input(x)
        return self._remember(x, F.tanh(x))

    def backward(self, dy):
        _, y = self._recall(dy)
        return F.tanh_backward(dy, y)


class _AlongDim(_Elementwise):
    torch_args = ("dim",)

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        if not isinstance(dim, (int, np.integer)):
            # torch guesses a dim when given None (with a deprecation warning); we ask for it
            raise TypeError(f"{type(self).__name__} needs an explicit int dim (e.g. dim=1 for (N, C)), got {dim!r}")
        self.dim = int(dim)

    def _input(self, x) -> np.ndarray:
        x = super()._input(x)
        ndim = max(x.ndim, 1)  # a 0-d input is one entry along dim 0 (or -1), as in torch
        if not -ndim <= self.dim < ndim:
            need = self.dim + 1 if self.dim >= 0 else -self.dim
            raise ValueError(f"{type(self).__name__}(dim={self.dim}) needs input with at least {need} "
                             f"dimensions, got shape {x.shape}")
        return x

    def _along_dim(self, fn, *arrays):
        """fn(*arrays, axis=dim), treating 0-d arrays as 1-d."""
        shape = arrays[0].shape
        return fn(*(a.reshape(-1) if a.ndim == 0 else a for a in arrays), axis=self.dim).reshape(shape)


class Softmax(_AlongDim):
    """exp(x) / Σ exp(x) along ``dim``: non-negative entries that sum to 1."""

    def forward(self, x):
        x = self._input(x)
        return self._remember(x, self._along_dim(F.softmax, x))

    def backward(self, dy):
        _, y = self._recall(dy)
        return self._along_dim(F.softmax_backward, dy, y)


class LogSoftmax(_AlongDim):
    """x - logsumexp(x) along ``dim``, computed stably."""

    def forward(self, x):
        x = self._input(x)
        return self._remember(x, self._along_dim(F.log_softmax, x))

    def backward(self, dy):
        _, y = self._recall(dy)
        return self._along_dim(F.log_softmax_backward, dy, y)
