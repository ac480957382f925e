"""``Sequential`` (layers applied in order, gradients in reverse order) and ``Flatten``."""

from __future__ import annotations

import numpy as np

from .module import Module


class Sequential(Module):
    """Apply layers one after another; ``backward`` runs them in reverse.

    Children are named "0", "1", ... as in torch, so parameters are "0.weight", "2.bias", ...
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential expects dlbook.nn.Module layers, got {type(layer).__name__} at position {i}")
            self._modules[str(i)] = layer

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self:
            x = layer(x)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(list(self)):
            dy = layer.backward(dy)
        return dy

    def to_torch_module(self):
        from .bridge import to_torch
        import torch

        return torch.nn.Sequential(*[to_torch(layer) for layer in self])

    @classmethod
    def from_torch_module(cls, module) -> "Sequential":
        from .bridge import from_torch

        return cls(*[from_torch(child) for child in module])


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
        self._cache = x.shape
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape = self._need_cache()
        if not isinstance(dy, np.ndarray) or dy.size != int(np.prod(shape)):
            raise ValueError(f"Flatten.backward expects dy with {int(np.prod(shape))} entries, got "
                             f"{getattr(dy, 'shape', type(dy).__name__)}")
        return dy.reshape(shape)
