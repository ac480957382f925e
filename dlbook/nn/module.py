"""The contract every NumPy layer in :mod:`dlbook.nn` keeps.

A layer mirrors its ``torch.nn`` twin: same class name, same constructor arguments,
``params`` named and shaped like the twin's ``named_parameters()``, ``buffers`` like its
``named_buffers()``. ``forward`` caches what ``backward`` needs; ``backward(dy)`` returns
``dx`` and *accumulates* into ``grads`` (as ``.grad`` does in torch).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def as_dtype(dtype) -> np.dtype:
    """Accept None (float32, torch's default), a NumPy float dtype or a torch float dtype."""
    if dtype is None:
        return np.dtype(np.float32)
    if not str(dtype).startswith("torch."):
        try:
            dtype = np.dtype(dtype)  # np.float64, "float64", np.dtype(...)
        except TypeError:
            raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    name = str(dtype).replace("torch.", "")
    if name in ("float32", "float64", "float", "double"):
        return np.dtype({"float": "float32", "double": "float64"}.get(name, name))
    raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")


def as_generator(seed) -> np.random.Generator:
    """A NumPy Generator from None, an int seed or an existing Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be None, an int or a numpy Generator, got {type(seed).__name__}")


class Module:
    """Base class: parameters, buffers, gradients, train/eval mode and child modules."""

    #: Constructor arguments read off a torch twin by :func:`dlbook.nn.from_torch`.
    torch_args: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}
        self.training = True
        self._modules: dict[str, Module] = {}
        self._cache = None

    # -- calling -------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.torch_config().items())

    def torch_config(self) -> dict:
        """Keyword arguments that build the torch twin (override when not plain attributes)."""
        return {arg: getattr(self, arg) for arg in self.torch_args}

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    # -- parameters ------------------------------------------------------------------
    def add_param(self, name: str, value: np.ndarray) -> None:
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def _named(self, attr: str) -> dict[str, np.ndarray]:
        out = {}
        for prefix, module in self.named_modules():
            for name, value in getattr(module, attr).items():
                out[f"{prefix}.{name}" if prefix else name] = value
        return out

    def named_parameters(self) -> dict[str, np.ndarray]:
        """``{"0.weight": array, ...}``: the same keys as torch's ``named_parameters()``."""
        return self._named("params")

    def named_grads(self) -> dict[str, np.ndarray]:
        return self._named("grads")

    def named_buffers(self) -> dict[str, np.ndarray]:
        return self._named("buffers")

    def zero_grad(self) -> None:
        for _, module in self.named_modules():
            for g in module.grads.values():
                g[...] = 0

    def parameter_count(self) -> int:
        return sum(p.size for p in self.named_parameters().values())

    # -- modes and dtype -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for _, module in self.named_modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    @property
    def dtype(self) -> np.dtype | None:
        """The dtype of the parameters (None for a layer without any)."""
        for p in self.named_parameters().values():
            return p.dtype
        return None

    def to(self, dtype) -> "Module":
        """Cast parameters, gradients and floating buffers in place, like ``module.to(dtype)``."""
        dtype = as_dtype(dtype)
        for _, module in self.named_modules():
            for store in (module.params, module.grads, module.buffers):
                for name, value in store.items():
                    if np.issubdtype(value.dtype, np.floating):
                        store[name] = value.astype(dtype)
        return self

    def load_state(self, params: dict, buffers: dict | None = None) -> "Module":
        """Copy arrays into the parameters (and buffers) by their torch names, shapes checked."""
        own = {**self.named_parameters(), **self.named_buffers()}
        given = {**params, **(buffers or {})}
        unknown = sorted(set(given) - set(own))
        if unknown:
            raise KeyError(f"{type(self).__name__} has no parameter or buffer {unknown}; expected names in {sorted(own)}")
        for name, value in given.items():
            value = np.asarray(value)
            if value.shape != own[name].shape:
                raise ValueError(f"{name}: expected shape {own[name].shape}, got {value.shape}")
            own[name][...] = value
        return self

    # -- input checks shared by the layers -------------------------------------------------
    def _check_input(self, x, ndim: tuple[int, ...] | int | None, what: str) -> np.ndarray:
        """Raise a clear error unless x is a float array of an allowed rank (and the params' dtype).

        ``ndim=None`` accepts any rank (element-wise layers).
        """
        name = type(self).__name__
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} expects a numpy.ndarray {what}, got {type(x).__name__}")
        ndims = (ndim,) if isinstance(ndim, int) else ndim
        if ndims is not None and x.ndim not in ndims:
            raise ValueError(f"{name} expects input of shape {what}, got shape {x.shape}")
        if x.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name} expects float32 or float64 input, got {x.dtype}")
        own = self.dtype
        if own is not None and x.dtype != own:
            raise TypeError(f"{name} has {own} parameters but got {x.dtype} input; cast one with .to() or .astype()")
        return x

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def _check_grad_output(self, dy, shape) -> np.ndarray:
        if not isinstance(dy, np.ndarray) or dy.shape != tuple(shape):
            got = getattr(dy, "shape", type(dy).__name__)
            raise ValueError(f"{type(self).__name__}.backward expects dy of shape {tuple(shape)}, got {got}")
        return dy
