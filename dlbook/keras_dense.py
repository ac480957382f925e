"""Keras' ``Dense`` layer written in plain PyTorch, one argument at a time (chapter 8).

Keras builds a fully connected layer from one call with ten arguments; PyTorch spreads
the same ideas over ``nn.Linear``, ``nn.init``, the loss and the optimizer step.
:class:`Dense` takes Keras' arguments and handles each with the torch code that does the
same thing:

====================  ================================================================
Keras                 PyTorch
====================  ================================================================
units                 ``out_features`` of ``nn.Linear``
activation            a function applied after the affine map (``torch.relu``, ...)
use_bias              ``nn.Linear(..., bias=use_bias)``
kernel_initializer    ``nn.init.xavier_uniform_(weight)`` (Keras' default)
bias_initializer      ``nn.init.zeros_(bias)`` (torch's default is U(±1/√fan_in))
kernel_regularizer    a penalty added to the loss, e.g. ``l2 * weight.square().sum()``
bias_regularizer      the same on the bias
activity_regularizer  a penalty on the layer's output, divided by the batch size
kernel_constraint     a projection after each optimizer step (``MaxNorm``, ``NonNeg``)
bias_constraint       the same on the bias
====================  ================================================================

Layouts: Keras stores ``kernel`` as (in, units) and computes ``x @ kernel``; torch
stores ``weight`` as (units, in) and computes ``x @ weight.T``. Both act on the **last**
axis of an input of any rank: (N, 4, 5) gives (N, 4, units); nothing is flattened.
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn

ACTIVATIONS = {"linear": None, "relu": torch.relu, "sigmoid": torch.sigmoid,
               "tanh": torch.tanh, "softmax": lambda x: torch.softmax(x, dim=-1)}


# -- initializers: fill a tensor in place, from a seeded generator ---------------------
class Zeros:
    def __call__(self, w, generator=None):
        nn.init.zeros_(w)


class Ones:
    def __call__(self, w, generator=None):
        nn.init.ones_(w)


class RandomNormal:
    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean, self.stddev = mean, _positive("stddev", stddev)

    def __call__(self, w, generator=None):
        nn.init.normal_(w, self.mean, self.stddev, generator=generator)


class TruncatedNormal(RandomNormal):
    """N(mean, stddev²) redrawn outside mean ± 2·stddev, as Keras' ``TruncatedNormal``.
    torch's ``trunc_normal_`` takes absolute cut points: pass them explicitly."""

    def __call__(self, w, generator=None):
        a, b = self.mean - 2 * self.stddev, self.mean + 2 * self.stddev
        nn.init.trunc_normal_(w, self.mean, self.stddev, a, b, generator=generator)


class GlorotUniform:
    """U(±√(6 / (fan_in + fan_out))): Keras' default kernel initializer."""

    def __call__(self, w, generator=None):
        nn.init.xavier_uniform_(w, generator=generator)


INITIALIZERS = {"zeros": Zeros, "ones": Ones, "random_normal": RandomNormal,
                "truncated_normal": TruncatedNormal, "glorot_uniform": GlorotUniform}


# -- regularizers: a penalty the loss adds ---------------------------------------------
class L1L2:
    """``l1 · Σ|w| + l2 · Σ w²`` (Keras' formulas: no factor 1/2)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        if not (l1 >= 0 and l2 >= 0):
            raise ValueError(f"l1 and l2 must be >= 0, got {l1} and {l2}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.l1 * x.abs().sum() + self.l2 * x.square().sum()


class L1(L1L2):
    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)


class L2(L1L2):
    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)


# -- constraints: a projection after each optimizer step, in Keras' (in, units) layout
class MaxNorm:
    """Scale each slice along ``axis`` down to norm ``max_value`` (longer ones only).
    For a kernel (in, units) and axis 0: each unit's incoming weight vector."""

    def __init__(self, max_value: float = 2.0, axis: int = 0):
        self.max_value, self.axis = _positive("max_value", max_value), axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = w.square().sum(dim=self.axis, keepdim=True).sqrt()
        return w * (norms.clamp(0, self.max_value) / (1e-7 + norms))  # Keras' epsilon


class NonNeg:
    """Set negative weights to zero."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w * (w >= 0)


class Dense(nn.Module):
    """``keras.layers.Dense`` as a torch module: ``activation(x @ weight.T + bias)``.

    in_features: the size of the input's last axis (Keras infers it at the first call);
    the other arguments are Keras', with Keras' defaults. Initializers may be names or
    objects; ``seed`` makes them reproducible. Regularizers add to
    :func:`regularization_loss`; constraints act in :func:`apply_constraints`.
    """

    def __init__(self, in_features: int, units: int, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, *, seed: int = 0, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("units", units)):
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if activation not in ACTIVATIONS and activation is not None:
            raise ValueError(f"activation must be None or one of "
                             f"{sorted(ACTIVATIONS)}, got {activation!r}")
        self.in_features, self.units = in_features, units
        self.activation = ACTIVATIONS.get(activation)  # units: torch's out_features
        self.weight = nn.Parameter(torch.empty(units, in_features, dtype=dtype))
        self.bias = nn.Parameter(torch.empty(units, dtype=dtype)) if use_bias else None
        generator = torch.Generator().manual_seed(seed)
        _initializer(kernel_initializer)(self.weight.data, generator)
        if self.bias is not None:
            _initializer(bias_initializer)(self.bias.data, generator)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.activity_regularizer = activity_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.activity_penalty = None  # set by each forward with an activity_regularizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Dense expects an input whose last axis has size "
                             f"{self.in_features}, got shape {tuple(x.shape)}")
        out = nn.functional.linear(x, self.weight, self.bias)  # on the last axis only
        if self.activation is not None:
            out = self.activation(out)
        if self.activity_regularizer is not None:
            batch = out.shape[0] if out.ndim > 0 else 1
            self.activity_penalty = self.activity_regularizer(out) / batch
        return out

    def penalty(self) -> torch.Tensor:
        """This layer's share of the loss: kernel, bias and activity penalties (the
        activity one from the last forward)."""
        total = self.weight.new_zeros(())
        if self.kernel_regularizer is not None:
            total = total + self.kernel_regularizer(self.weight)
        if self.bias_regularizer is not None and self.bias is not None:
            total = total + self.bias_regularizer(self.bias)
        if self.activity_penalty is not None:
            total = total + self.activity_penalty
        return total

    @torch.no_grad()
    def constrain(self) -> None:
        """Project the weights onto the constraints (Keras: after every update)."""
        if self.kernel_constraint is not None:
            self.weight.copy_(self.kernel_constraint(self.weight.T).T)  # Keras' layout
        if self.bias_constraint is not None and self.bias is not None:
            self.bias.copy_(self.bias_constraint(self.bias))

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, units={self.units}, bias={bias}"


def regularization_loss(model: nn.Module) -> torch.Tensor:
    """The sum of every :class:`Dense` penalty in ``model`` (what Keras adds to the
    loss)."""
    penalties = [m.penalty() for m in model.modules() if isinstance(m, Dense)]
    if not penalties:
        raise ValueError("regularization_loss found no dlbook.keras_dense.Dense layer "
                         "in the model")
    return torch.stack(penalties).sum()


def with_regularization(loss_fn, model: nn.Module):
    """A loss that adds :func:`regularization_loss` to ``loss_fn(output, target)``."""
    def loss(output, target):
        return loss_fn(output, target) + regularization_loss(model)
    return loss


def apply_constraints(model: nn.Module) -> None:
    """Project every :class:`Dense` onto its constraints; pass it to
    ``fit(after_step=...)``."""
    for module in model.modules():
        if isinstance(module, Dense):
            module.constrain()


# -- the real Keras, for the checks --------------------------------------------------
def import_keras():
    """Keras 3 on its torch backend (the ``book`` and ``test`` extras install it)."""
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        if keras.backend.backend() != "torch":
            raise RuntimeError(f"keras was imported with the "
                               f"{keras.backend.backend()!r} backend; dlbook compares "
                               f"with Keras on the 'torch' backend: set "
                               f"KERAS_BACKEND=torch before importing keras")
        return keras
    os.environ["KERAS_BACKEND"] = "torch"
    try:
        import keras
    except ImportError as error:
        raise ImportError("the comparison with Keras needs keras 3: "
                          "pip install 'dlbook[book]' (or keras)") from error
    return keras


def to_keras(dense: Dense):
    """A ``keras.layers.Dense`` with the same arguments and weights (kernel = weight.T).

    Compare at float32 precision (relative 1e-5): Keras 3's type promotion maps 64-bit
    results to 32-bit (as JAX does), so its products compute in float32 even here."""
    keras = import_keras()
    names = {v: k for k, v in ACTIVATIONS.items() if v is not None}
    layer = keras.layers.Dense(
        dense.units, activation=names.get(dense.activation),
        use_bias=dense.bias is not None,
        kernel_regularizer=_keras_regularizer(keras, dense.kernel_regularizer),
        bias_regularizer=_keras_regularizer(keras, dense.bias_regularizer),
        activity_regularizer=_keras_regularizer(keras, dense.activity_regularizer),
        kernel_constraint=_keras_constraint(keras, dense.kernel_constraint),
        bias_constraint=_keras_constraint(keras, dense.bias_constraint),
        dtype=str(dense.weight.dtype).removeprefix("torch."))
    layer.build((None, dense.in_features))
    layer.kernel.assign(dense.weight.detach().cpu().T.numpy())
    if dense.bias is not None:
        layer.bias.assign(dense.bias.detach().cpu().numpy())
    return layer


def _keras_regularizer(keras, regularizer):
    if regularizer is None:
        return None
    if not isinstance(regularizer, L1L2):
        raise TypeError(f"to_keras knows L1, L2 and L1L2 regularizers, "
                        f"got {regularizer!r}")
    return keras.regularizers.L1L2(l1=regularizer.l1, l2=regularizer.l2)


def _keras_constraint(keras, constraint):
    if constraint is None:
        return None
    if isinstance(constraint, MaxNorm):
        return keras.constraints.MaxNorm(constraint.max_value, axis=constraint.axis)
    if isinstance(constraint, NonNeg):
        return keras.constraints.NonNeg()
    raise TypeError(f"to_keras knows MaxNorm and NonNeg constraints, "
                    f"got {constraint!r}")


def _initializer(spec):
    if isinstance(spec, str):
        if spec not in INITIALIZERS:
            raise ValueError(f"unknown initializer {spec!r}; expected one of "
                             f"{sorted(INITIALIZERS)} or an initializer object")
        return INITIALIZERS[spec]()
    if not callable(spec):
        raise TypeError(f"an initializer is a name or a callable(tensor, generator), "
                        f"got {spec!r}")
    return spec


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)
