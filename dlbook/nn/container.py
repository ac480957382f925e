"""Containers: ``Sequential`` (layers in order, gradients in reverse), ``ModuleList``; and ``Flatten``."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .module import Module


class Sequential(Module):
    """Apply layers one after another; ``backward`` runs them in reverse.

    Children are named "0", "1", ... as in torch, so parameters are "0.weight", "2.bias", ...;
    ``Sequential(OrderedDict(conv=..., act=...))`` names them, as in torch.
    The same layer may appear twice (its weights are then shared); slicing gives a
    ``Sequential`` of the same layer objects under the same names, as in torch.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict):
            named = list(layers[0].items())
        else:
            named = [(str(i), layer) for i, layer in enumerate(layers)]
        for name, layer in named:
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential expects dlbook.nn.Module layers, got {type(layer).__name__} as layer {name}")
            self.add_module(name, layer)

    def __getitem__(self, i):
        if isinstance(i, slice):  # torch keeps the names: model[1:] has "1.weight", not "0.weight"
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer: Module) -> "Sequential":
        self.add_module(str(len(self)), layer)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self:
            x = layer(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(list(self)):
            dy = layer.backward(dy)
        return dy


class ModuleList(Module):
    """A list of modules whose parameters register with the parent (``torch.nn.ModuleList``).

    It has no forward of its own: the parent loops over it, e.g. one layer per time step or
    a stack of blocks, and its ``backward`` loops over it in reverse.
    """

    def __init__(self, modules=()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList expects dlbook.nn.Module items, got {type(module).__name__}")
        self.add_module(str(len(self)), module)
        return self

    def __getitem__(self, i):
        modules = list(self._modules.values())
        return ModuleList(modules[i]) if isinstance(i, slice) else modules[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Flatten(Module):
    """Merge axes ``start_dim``..``end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default."""

    torch_args = ("start_dim", "end_dim")

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "array of any shape")
        if not all(-x.ndim <= d < x.ndim for d in (self.start_dim, self.end_dim)):
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) needs input with "
                             f"those axes, got shape {x.shape}")
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        if start > end:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) does not fit "
                             f"input of shape {x.shape}")
        self.save_for_backward(x.shape)
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self.saved_for_backward()
        if not isinstance(dy, np.ndarray) or dy.size != int(np.prod(shape)):
            raise ValueError(f"Flatten.backward expects dy with {int(np.prod(shape))} entries, got "
                             f"{getattr(dy, 'shape', type(dy).__name__)}")
        return dy.reshape(shape)
