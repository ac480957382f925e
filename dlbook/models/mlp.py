"""Multilayer perceptrons for chapter 3: one builder for every depth, activation and init studied there."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import init as nninit

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}


def mlp(widths, activation: str = "relu", *, init="default", dropout: float = 0.0, batchnorm: bool = False,
        dtype=None, seed=0) -> nn.Sequential:
    """``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` per hidden layer, then a last ``Linear``.

    widths: ``[in, hidden..., out]``, e.g. ``[64, 256, 256, 10]``; input (N, in), output (N, out).
    init: ``"default"`` (torch.nn.Linear's, U(±1/√fan_in)), ``"xavier"`` (xavier_normal_, for
    tanh/sigmoid), ``"he"`` (kaiming_normal_ for ReLU), a float ``std`` for N(0, std²), or
    ``("trunc_normal", std)`` for N(0, std²) cut at ±2 std (Keras' ``TruncatedNormal``);
    the non-default inits set biases to 0. With ``batchnorm`` the hidden Linears have no bias.
    """
    widths = list(widths)
    if len(widths) < 2 or not all(isinstance(w, (int, np.integer)) and w > 0 for w in widths):
        raise ValueError(f"widths must be at least two positive ints [in, ..., out], got {widths}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    truncated = isinstance(init, (tuple, list)) and len(init) == 2 and init[0] == "trunc_normal"
    if truncated:
        init = ("trunc_normal", init[1])
    if not (init in ("default", "xavier", "he") or (isinstance(init, float) and init > 0)
            or (truncated and isinstance(init[1], (int, float)) and init[1] > 0)):
        raise ValueError(f"init must be 'default', 'xavier', 'he', a positive float std or "
                         f"('trunc_normal', std), got {init!r}")
    rng = np.random.default_rng(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        hidden = i < len(widths) - 2
        # BatchNorm subtracts each unit's mean, which would cancel a bias: leave it out
        linear = nn.Linear(fan_in, fan_out, bias=not (hidden and batchnorm), dtype=dtype, seed=rng)
        if init != "default":
            w = linear.weight
            if init == "xavier":
                nninit.xavier_normal_(w, generator=rng)
            elif init == "he":
                nninit.kaiming_normal_(w, nonlinearity="relu", generator=rng)
            elif truncated:
                std = float(init[1])
                nninit.trunc_normal_(w, 0.0, std, -2 * std, 2 * std, generator=rng)
            else:
                nninit.normal_(w, 0.0, init, generator=rng)
            if linear.bias is not None:
                nninit.zeros_(linear.bias)
        layers.append(linear)
        if hidden:
            if batchnorm:
                layers.append(nn.BatchNorm1d(fan_out, dtype=dtype))
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout, seed=rng))
    return nn.Sequential(*layers)
