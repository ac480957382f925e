"""Move layers between dlbook.nn and torch.nn with the same weights.

Both directions are generic: a dlbook layer carries its twin's name and constructor
arguments, and parameters/buffers share torch's names, so the copy is by name.
"""

from __future__ import annotations

import numpy as np
import torch

from .module import Module


def _torch_dtype(dtype: np.dtype | None) -> torch.dtype:
    return torch.float64 if dtype == np.float64 else torch.float32


def to_torch(layer: Module, device=None) -> torch.nn.Module:
    """The equivalent ``torch.nn`` module, holding copies of the layer's weights and buffers."""
    if not isinstance(layer, Module):
        raise TypeError(f"to_torch expects a dlbook.nn.Module, got {type(layer).__name__}")
    module = layer.to_torch_module() if hasattr(layer, "to_torch_module") else _build_twin(layer)
    dtype = _torch_dtype(layer.dtype)
    module = module.to(dtype=dtype)
    state = {name: torch.from_numpy(np.array(value)) for name, value in
             {**layer.named_parameters(), **layer.named_buffers()}.items()}
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise KeyError(f"weights of {type(layer).__name__} do not match its torch twin: "
                       f"missing {missing}, unexpected {unexpected}")
    for name, sub in layer.named_modules():  # each module's own mode (an eval Dropout in a training model)
        module.get_submodule(name).training = sub.training
    return module.to(device) if device is not None else module


def _build_twin(layer: Module) -> torch.nn.Module:
    twin = getattr(torch.nn, type(layer).__name__, None)
    if twin is None:
        raise TypeError(f"{type(layer).__name__} has no torch.nn twin of the same name")
    return twin(**layer.torch_config())


def from_torch(module: torch.nn.Module) -> Module:
    """The dlbook layer equivalent to a torch module, with its weights copied."""
    from . import __dict__ as namespace  # the layer classes exported by dlbook.nn

    name = type(module).__name__
    cls = namespace.get(name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"dlbook.nn has no twin for torch.nn.{name}")
    layer = cls.from_torch_module(module) if hasattr(cls, "from_torch_module") else cls(
        **{arg: _config_value(module, arg) for arg in cls.torch_args})
    params = next(module.parameters(), None)
    layer.to(np.float64 if params is not None and params.dtype == torch.float64 else np.float32)
    arrays = {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()
              if not k.endswith("num_batches_tracked")}
    own = layer.named_parameters()
    layer.load_state({k: v for k, v in arrays.items() if k in own},
                     {k: v for k, v in arrays.items() if k not in own})
    for sub_name, sub in layer.named_modules():
        sub.training = module.get_submodule(sub_name).training
    return layer


def _config_value(module: torch.nn.Module, arg: str):
    if arg == "bias":  # torch stores the flag as the presence of the parameter
        return getattr(module, "bias", None) is not None
    if arg == "affine":
        return getattr(module, "weight", None) is not None
    return getattr(module, arg)
