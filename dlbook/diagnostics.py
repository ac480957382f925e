"""Look inside a network: each layer's output and each weight's gradient, for chapter 3's experiments."""

from __future__ import annotations

import numpy as np

from . import nn


def layer_outputs(model: nn.Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The output of every child of ``model`` for input x (N, ...), in order; the last is the
    model's output. The children keep their caches, so ``model.backward`` may follow."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"layer_outputs expects a dlbook.nn.Sequential, got {type(model).__name__}")
    outputs = []
    for layer in model:
        x = layer(x)
        outputs.append(x)
    return outputs


def weight_gradient_norms(model: nn.Sequential, loss_fn: nn.Module, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """‖dL/dW‖ of every ``Linear`` weight in order (first layer first), after one forward and
    backward pass of ``loss_fn(model(x), target)``; the model's gradients are zeroed first."""
    model.zero_grad()
    loss_fn(model(x), target)
    model.backward(loss_fn.backward())
    return np.array([np.linalg.norm(layer.grads["weight"]) for layer in model if isinstance(layer, nn.Linear)])
