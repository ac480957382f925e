r"""Weight initializers with the distributions of ``torch.nn.init`` (in place, on NumPy arrays).

The fans of a weight follow torch's layouts: for (out, in) ``fan_in = in``, ``fan_out = out``;
for a conv weight (out, in, *kernel) both are multiplied by the kernel's size.

- Xavier/Glorot: $\mathrm{Var}(w) = \text{gain}^2 \cdot 2/(\text{fan\_in} + \text{fan\_out})$, keeps the
  variance of activations *and* of gradients roughly constant through linear/tanh layers.
- Kaiming/He: $\mathrm{Var}(w) = \text{gain}^2/\text{fan}$ with gain $\sqrt 2$ for ReLU, which zeroes
  half of its input and so halves the second moment.

Every function takes ``generator`` (None, an int seed or a NumPy Generator), as torch's take a
``torch.Generator``, and returns the array it filled.
"""

from __future__ import annotations

import math

import numpy as np

from .module import as_generator

_GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0),
          "selu": 3.0 / 4, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0}


def _check(tensor) -> np.ndarray:
    if not isinstance(tensor, np.ndarray) or not np.issubdtype(tensor.dtype, np.floating):
        raise TypeError(f"expected a float numpy.ndarray to fill, got "
                        f"{getattr(tensor, 'dtype', type(tensor).__name__)}")
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch's recommended gain: 1 for linear/sigmoid, 5/3 for tanh, √2 for ReLU,
    √(2 / (1 + slope²)) for LeakyReLU (slope ``param``, default 0.01)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {sorted(_GAINS) + ['leaky_relu']}")
    return _GAINS[nonlinearity]


def calculate_fan_in_and_fan_out(tensor: np.ndarray) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel); needs at least 2 axes."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: np.ndarray, values: np.ndarray) -> np.ndarray:
    tensor[...] = values
    return tensor


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None) -> np.ndarray:
    """U(a, b)."""
    return _fill(_check(tensor), as_generator(generator).uniform(a, b, tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> np.ndarray:
    """N(mean, std²)."""
    return _fill(_check(tensor), as_generator(generator).normal(mean, std, tensor.shape))


def zeros_(tensor) -> np.ndarray:
    return _fill(_check(tensor), 0)


def constant_(tensor, val: float) -> np.ndarray:
    return _fill(_check(tensor), val)


def default_uniform_(tensor, fan_in: int | None = None, generator=None) -> np.ndarray:
    r"""U(-b, b) with $b = 1/\sqrt{\text{fan\_in}}$: how torch starts a ``Linear``'s or ``Conv2d``'s
    weight *and* bias (its ``kaiming_uniform_(a=√5)`` works out to exactly this bound). ``fan_in``
    defaults to the weight's own; a bias (1-D) needs the fan_in of its weight."""
    if fan_in is None:
        fan_in, _ = calculate_fan_in_and_fan_out(_check(tensor))
    bound = 1.0 / math.sqrt(fan_in)
    return uniform_(tensor, -bound, bound, generator)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None) -> np.ndarray:
    r"""U(-a, a), $a = \text{gain}\sqrt{6/(\text{fan\_in}+\text{fan\_out})}$."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_check(tensor))
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None) -> np.ndarray:
    r"""N(0, std²),
    $\text{std} = \text{gain}\sqrt{2/(\text{fan\_in}+\text{fan\_out})}$."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_check(tensor))
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(_check(tensor))
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> np.ndarray:
    r"""U(-b, b), $b = \sqrt 3 \cdot \text{gain}/\sqrt{\text{fan}}$ (torch's defaults, including
    ``nonlinearity="leaky_relu"`` with ``a=0``, i.e. the ReLU gain √2)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> np.ndarray:
    r"""N(0, std²), $\text{std} = \text{gain}/\sqrt{\text{fan}}$."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> np.ndarray:
    r"""N(mean, std²) conditioned on $a \le w \le b$.

    As in torch, ``a`` and ``b`` are absolute cut-offs, *not* multiples of ``std``: with the
    defaults and std=0.02 the cut-offs at ±2 never bite. Sampled by inverting the CDF.
    """
    from scipy.special import ndtr, ndtri  # scipy comes with scikit-learn

    _check(tensor)
    if not a < b or std <= 0:
        raise ValueError(f"trunc_normal_ needs a < b and std > 0, got a={a}, b={b}, std={std}")
    lo, hi = ndtr((a - mean) / std), ndtr((b - mean) / std)
    u = as_generator(generator).uniform(lo, hi, tensor.shape)
    return _fill(tensor, np.clip(mean + std * ndtri(u), a, b))
