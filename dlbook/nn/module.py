"""The contract every NumPy layer in :mod:`dlbook.nn` keeps (version 2).

A layer mirrors its ``torch.nn`` twin: same class name, constructor arguments, parameter and
buffer names and layouts. What torch does with autograd, a layer does by hand:

* **Parameters** are :class:`Parameter` arrays (an ``ndarray`` with a ``.grad``, as a torch
  ``Parameter`` is a tensor with a ``.grad``). Children, parameters and buffers register by
  attribute assignment (``self.fc1 = nn.Linear(...)`` gives ``fc1.weight``), so a custom module
  is written as in torch. A parameter shared by two modules (tied weights) or a module used
  twice is one parameter: listed, counted and stepped once, its gradient summed over every use.
* **Forward and backward.** ``forward`` saves what the backward pass needs with
  :meth:`Module.save_for_backward`; ``backward(dy)`` returns dx and *adds* the parameter
  gradients into ``.grad``. A module may be called any number of times before ``backward``:
  each call's saved values are kept on a stack, and each ``backward`` consumes the most recent
  call's (last in, first out), which is the order in which backpropagation visits them. Inside
  :func:`no_grad` nothing is saved (inference, evaluation, finite differences).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Iterator, NamedTuple

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


# -- gradient mode ---------------------------------------------------------------------------
_grad_enabled = True


def is_grad_enabled() -> bool:
    """False inside :func:`no_grad`: forward passes then save nothing for backward."""
    return _grad_enabled


@contextlib.contextmanager
def no_grad():
    """``with nn.no_grad():`` (or as a decorator) runs forward passes that keep nothing for backward,
    as ``torch.no_grad()`` does: for evaluation and inference, which never call backward."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


# -- parameters ------------------------------------------------------------------------------
class Parameter(np.ndarray):
    """A learnable array: an ``ndarray`` with a ``grad`` (None until a backward pass adds one).

    ``Parameter(data)`` shares ``data``'s memory when it can, as ``torch.nn.Parameter`` does.
    Results of arithmetic on a parameter are plain arrays (as tensors computed from a parameter
    are not parameters); in-place updates (``p -= lr * g``) keep the parameter.
    """

    grad: np.ndarray | None = None

    def __new__(cls, data) -> "Parameter":
        array = np.asarray(data)
        if array.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Parameter expects float32 or float64 data, got {array.dtype}")
        return array.view(cls)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        if array is self:  # an in-place update: still this parameter
            return self
        out = array.view(np.ndarray) if isinstance(array, Parameter) else array
        return out[()] if return_scalar else out

    def __reduce__(self):  # pickled (e.g. by the result cache) as a plain array
        return np.asarray(self).copy().__reduce__()

    def __repr__(self) -> str:
        return "Parameter containing:\n" + repr(np.asarray(self))


def accumulate_grad(param: Parameter, grad: np.ndarray) -> None:
    """``param.grad += grad`` (the first contribution creates ``.grad``): every use of a
    parameter adds its share, as torch's gradient accumulation does."""
    if grad.shape != param.shape:
        raise ValueError(f"gradient of shape {grad.shape} for a parameter of shape {param.shape}")
    if param.grad is None:
        param.grad = np.array(grad, dtype=param.dtype, copy=True)
    else:
        param.grad += grad


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns, as torch does."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _as_numpy(value) -> np.ndarray:
    """A NumPy array from an array or a torch tensor (state dicts are interchangeable)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


class Module:
    """Base class: parameters, buffers, child modules, train/eval mode, saved values for backward."""

    #: Constructor arguments read off a torch twin by :func:`dlbook.nn.from_torch`.
    torch_args: tuple[str, ...] = ()

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_saved", [])
        object.__setattr__(self, "training", True)

    # -- registration by attribute assignment ---------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} of "
                                f"{type(self).__name__}: expected a dlbook.nn.Parameter or None")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r}: "
                                f"expected a dlbook.nn.Module or None")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r}: expected an ndarray")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: OrderedDict) -> None:
        """Drop ``name`` from the stores other than ``keep``: a name re-assigned in its own store
        keeps its place (``dec.weight = enc.weight`` leaves "weight" before "bias"), as in torch."""
        for store in (self._parameters, self._buffers, self._modules):
            if store is not keep:
                store.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str):
        for store in ("_parameters", "_buffers", "_modules"):
            values = self.__dict__.get(store)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (None registers an absent one, as ``bias=False`` does)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter expects a dlbook.nn.Parameter or None, got {type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: np.ndarray | None) -> None:
        """Add state that is saved and moved with the module but not learned (running statistics)."""
        if tensor is not None and not isinstance(tensor, np.ndarray):
            raise TypeError(f"register_buffer expects an ndarray or None, got {type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module expects a dlbook.nn.Module, got {type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    # -- calling ---------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def save_for_backward(self, *values) -> None:
        """Keep what this call's backward pass needs (nothing inside :func:`no_grad`)."""
        if _grad_enabled:
            self._saved.append(values[0] if len(values) == 1 else values)

    def saved_for_backward(self):
        """What the most recent unconsumed forward call saved; consumed by this backward call."""
        if not self._saved:
            raise RuntimeError(f"{type(self).__name__}.backward called with nothing saved: every backward "
                               f"consumes one earlier forward call (last in, first out), and forward "
                               f"passes inside dlbook.nn.no_grad() save nothing")
        return self._saved.pop()

    @property
    def saved_count(self) -> int:
        """How many forward calls are waiting for their backward."""
        return len(self._saved)

    def clear_saved(self) -> "Module":
        """Drop every saved forward call of this module and its children (e.g. after an aborted step)."""
        for module in self.modules():
            module._saved.clear()
        return self

    # -- printing --------------------------------------------------------------------------
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

    # -- traversal -------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """(name, module) for this module and every descendant; a module reached twice is listed once."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def get_submodule(self, target: str) -> "Module":
        """The descendant at a dotted path ("" is the module itself), as in torch."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator["Module"]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse
                   else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs with torch's names ("0.weight", "fc1.bias"); a shared parameter once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, np.ndarray]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def parameter_count(self) -> int:
        """Number of learnable numbers; a shared parameter counts once (torch:
        ``sum(p.numel() for p in model.parameters())``)."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients: ``.grad = None`` (torch's default) or zeros."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    # -- state dicts -------------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> "OrderedDict[str, np.ndarray]":
        """Every parameter and buffer by torch name (the arrays themselves, not copies), like
        torch's: a module reached by two paths appears under both names."""
        return OrderedDict(self._state_names(prefix))

    def _state_names(self, prefix: str):
        """Each module's parameters, then its buffers, then its children's (torch's order)."""
        for name, value in list(self._parameters.items()) + list(self._buffers.items()):
            if value is not None:
                yield (f"{prefix}.{name}" if prefix else name), value
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_names(f"{prefix}.{name}" if prefix else name)

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or torch tensors) into the parameters and buffers by name, shapes checked.

        With ``strict`` every key must match, as in torch. Returns (missing_keys, unexpected_keys).
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"Error(s) in loading state_dict for {type(self).__name__}: missing keys "
                           f"{missing}, unexpected keys {unexpected}")
        for name, value in state_dict.items():
            if name not in own:
                continue
            value = _as_numpy(value)
            if value.shape != own[name].shape:
                raise ValueError(f"{name}: expected shape {own[name].shape}, got {value.shape}")
            own[name][...] = value
        return IncompatibleKeys(missing, unexpected)

    # -- modes and dtype ---------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    @property
    def dtype(self) -> np.dtype | None:
        """The dtype of the parameters (else of the floating buffers; None for neither)."""
        for p in self.parameters():
            return p.dtype
        for b in self.buffers():
            if np.issubdtype(b.dtype, np.floating):
                return b.dtype
        return None

    def to(self, dtype) -> "Module":
        """Cast parameters (with their gradients) and floating buffers, like ``module.to(dtype)``.

        A parameter shared by several modules stays shared. NumPy cannot change an array's dtype in
        place, so cast parameters are new arrays: build optimizers after ``.to()`` (torch gives the
        same advice for moving a model to the GPU).
        """
        dtype = as_dtype(dtype)
        cast: dict[int, Parameter] = {}
        originals = []  # keep the old arrays alive so that their ids are not reused
        for module in self.modules():
            for name, p in module._parameters.items():
                if p is None or p.dtype == dtype:
                    continue
                if id(p) not in cast:
                    originals.append(p)
                    p.replaced_by_to = True  # an optimizer still holding it refuses to step it
                    new = Parameter(p.astype(dtype))
                    new.grad = None if p.grad is None else p.grad.astype(dtype)
                    cast[id(p)] = new
                module._parameters[name] = cast[id(p)]
            for name, b in module._buffers.items():
                if b is not None and np.issubdtype(b.dtype, np.floating):
                    module._buffers[name] = b.astype(dtype)
        return self

    # -- input checks shared by the layers -----------------------------------------------------
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

    def _check_grad_output(self, dy, shape) -> np.ndarray:
        if not isinstance(dy, np.ndarray) or dy.shape != tuple(shape):
            got = getattr(dy, "shape", type(dy).__name__)
            raise ValueError(f"{type(self).__name__}.backward expects dy of shape {tuple(shape)} (the output "
                             f"of the forward call it matches: the most recent one), got {got}")
        return dy
