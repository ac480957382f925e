"""Move modules between dlbook.nn and torch.nn with the same weights.

Both directions are generic: a dlbook layer carries its twin's class name and constructor
arguments, and parameters and buffers share torch's names, so the copy goes through
``state_dict``. Sharing survives the trip: a layer used twice becomes one torch module used
twice, and a parameter tied between two layers becomes one torch parameter.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

from .module import Module


#: custom dlbook modules (a model's blocks, outside dlbook.nn) and their torch twins, both
#: ways; filled by :func:`register_twin`
_TORCH_TWINS: dict[type, type] = {}
_DLBOOK_TWINS: dict[type, type] = {}


def register_twin(layer_cls: type, torch_cls: type) -> None:
    """Pair a custom dlbook module class with the torch class that mirrors it, so that
    :func:`to_torch` and :func:`from_torch` handle it. The two take the same constructor
    keywords (``layer_cls.torch_args``, stored as attributes of the same names) and build the
    same children and parameter names: the twin is ``torch_cls(**layer.torch_config())``, the
    way back ``layer_cls(**{arg: getattr(module, arg) for arg in layer_cls.torch_args})``,
    and the weights go through ``state_dict``."""
    if not (isinstance(layer_cls, type) and issubclass(layer_cls, Module)):
        raise TypeError(f"register_twin expects a dlbook.nn.Module subclass, got {layer_cls!r}")
    if not (isinstance(torch_cls, type) and issubclass(torch_cls, torch.nn.Module)):
        raise TypeError(f"register_twin expects a torch.nn.Module subclass, got {torch_cls!r}")
    _TORCH_TWINS[layer_cls] = torch_cls
    _DLBOOK_TWINS[torch_cls] = layer_cls


def _torch_dtype(dtype: np.dtype | None) -> torch.dtype:
    return torch.float64 if dtype == np.float64 else torch.float32


def to_torch(layer: Module, device=None) -> torch.nn.Module:
    """The equivalent ``torch.nn`` module, holding copies of the layer's weights and buffers.

    Works for every dlbook layer with a torch twin of the same name, and for containers of
    them. A custom module has no twin to build: write one in torch and pass it to
    :func:`dlbook.check.against_torch` as ``twin=``.
    """
    if not isinstance(layer, Module):
        raise TypeError(f"to_torch expects a dlbook.nn.Module, got {type(layer).__name__}")
    module = _build_twin(layer, {})
    module = module.to(dtype=_torch_dtype(layer.dtype))
    _tie_like(layer, module)
    load_into_torch(layer, module)
    return module.to(device) if device is not None else module


def load_into_torch(layer: Module, module: torch.nn.Module) -> None:
    """Copy the layer's state dict and each submodule's train/eval mode into a torch module."""
    state = {name: torch.from_numpy(np.array(value)) for name, value in layer.state_dict().items()}
    module.load_state_dict(state, strict=True)
    for name, sub in layer.named_modules():  # each module's own mode (an eval Dropout in a training model)
        module.get_submodule(name).training = sub.training


def _build_twin(layer: Module, memo: dict) -> torch.nn.Module:
    if id(layer) in memo:  # the same layer twice: the same torch module twice
        return memo[id(layer)]
    name = type(layer).__name__
    if name == "Sequential":  # by name: a slice's children keep theirs ("1", "2")
        twin = torch.nn.Sequential(OrderedDict((key, _build_twin(child, memo)) for key, child in layer._modules.items()))
    elif name == "ModuleList":
        twin = torch.nn.ModuleList([_build_twin(child, memo) for child in layer])
    elif type(layer) in _TORCH_TWINS:  # a registered custom module: its twin builds its children
        twin = _TORCH_TWINS[type(layer)](**layer.torch_config())
    else:
        cls = getattr(torch.nn, name, None)
        if cls is None or not type(layer).__module__.startswith("dlbook.nn"):
            raise TypeError(f"{name} has no torch.nn twin of the same name: write the module in torch and "
                            f"pass it as against_torch(..., twin=...), or pair the two classes with "
                            f"dlbook.nn.bridge.register_twin")
        config = {k: torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
                  for k, v in layer.torch_config().items()}  # e.g. a loss's class weights
        twin = cls(**config)
    memo[id(layer)] = twin
    return twin


def _tie_like(layer: Module, module: torch.nn.Module) -> None:
    """Make parameters that are one array in ``layer`` one parameter in ``module``."""
    first: dict[int, torch.nn.Parameter] = {}
    for path, sub in layer.named_modules(remove_duplicate=False):
        for attr, p in sub._parameters.items():
            if p is None:
                continue
            target = module.get_submodule(path)
            if id(p) in first and getattr(target, attr) is not first[id(p)]:
                setattr(target, attr, first[id(p)])
            first.setdefault(id(p), getattr(target, attr))


def from_torch(module: torch.nn.Module) -> Module:
    """The dlbook layer equivalent to a torch module, with its weights copied (sharing kept)."""
    layer = _build_from(module, {})
    # the dtype of the parameters, else of the floating buffers (BatchNorm with affine=False)
    floating = (t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point())
    first = next(floating, None)
    layer.to(np.float64 if first is not None and first.dtype == torch.float64 else np.float32)
    _tie_from(module, layer)
    layer.load_state_dict(module.state_dict(), strict=True)
    for sub_name, sub in layer.named_modules():
        sub.training = module.get_submodule(sub_name).training
    return layer


def _build_from(module: torch.nn.Module, memo: dict) -> Module:
    from . import __dict__ as namespace  # the layer classes exported by dlbook.nn

    if id(module) in memo:
        return memo[id(module)]
    name = type(module).__name__
    cls = _DLBOOK_TWINS.get(type(module)) or namespace.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"dlbook.nn has no twin for torch.nn.{name}")
    if name == "Sequential":
        layer = cls(OrderedDict((key, _build_from(child, memo)) for key, child in module._modules.items()))
    elif name == "ModuleList":
        layer = cls([_build_from(child, memo) for child in module])
    elif hasattr(cls, "from_torch_module"):
        layer = cls.from_torch_module(module)
    else:
        layer = cls(**{arg: _config_value(module, arg) for arg in cls.torch_args})
    memo[id(module)] = layer
    return layer


def _tie_from(module: torch.nn.Module, layer: Module) -> None:
    first: dict[int, object] = {}
    for path, sub in module.named_modules(remove_duplicate=False):
        for attr, p in sub._parameters.items():
            if p is None:
                continue
            target = layer.get_submodule(path)
            if id(p) in first:
                setattr(target, attr, first[id(p)])
            first.setdefault(id(p), getattr(target, attr))


def _config_value(module: torch.nn.Module, arg: str):
    if arg == "bias":  # a flag (recurrent layers) or the presence of the parameter (Linear, Conv2d)
        bias = getattr(module, "bias", None)
        return bias if isinstance(bias, bool) else bias is not None
    if arg == "affine":
        return getattr(module, "weight", None) is not None
    return getattr(module, arg)
