r"""Receptive fields: which input pixels one output unit of a stack of layers can see.

Per spatial axis, walking through the layers (kernel $k$, stride $s$, padding before $p$,
dilation $d$, span $k_d = d(k-1)+1$), three numbers describe every unit of a feature map:

- size $r$: how many input pixels one unit sees, $r_\text{out} = r_\text{in} + (k_d - 1)\, j_\text{in}$;
- jump $j$: the input distance between neighbouring units, $j_\text{out} = j_\text{in}\, s$;
- start: the input coordinate of the centre of unit 0,
  $\text{start}_\text{out} = \text{start}_\text{in} + \left(\tfrac{k_d - 1}{2} - p\right) j_\text{in}$.

Unit $i$ is centred on input pixel $\text{start} + i\,j$ and sees $r$ pixels around it
(those outside the image are padding). Point-wise layers (ReLU, Dropout, BatchNorm) change
nothing. BatchNorm is point-wise only at inference (``eval()``): in training mode it
normalizes with the mean and variance of the whole batch, so every output then depends a
little on every input pixel. The receptive field describes the network at inference.
:func:`measured_receptive_field` checks the arithmetic the empirical way, by
back-propagating from one output unit and looking at which input pixels receive gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cnn_shapes import WindowGeometry, pair, resolve_padding

#: Layers that act on each pixel alone (BatchNorm: at inference): they leave the receptive field unchanged.
POINTWISE = frozenset({"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "BatchNorm2d", "Dropout",
                       "Dropout2d", "Identity"})
WINDOWED = frozenset({"Conv2d", "MaxPool2d", "AvgPool2d"})


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of every unit of one feature map, per axis (h, w); see the module docstring."""

    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[float, float]

    def bounds(self, row: int, col: int) -> tuple[tuple[float, float], tuple[float, float]]:
        """((top, bottom), (left, right)), inclusive input coordinates seen by unit (row, col), unclipped."""
        out = []
        for i, (size, jump, start) in enumerate(zip(self.size, self.jump, self.start)):
            centre = start + (row, col)[i] * jump
            out.append((centre - (size - 1) / 2, centre + (size - 1) / 2))
        return tuple(out)


def window_of(layer) -> WindowGeometry | None:
    """The window of a dlbook or torch Conv2d/MaxPool2d/AvgPool2d; None for a point-wise layer."""
    name = type(layer).__name__
    if name in POINTWISE:
        return None
    if name not in WINDOWED:
        raise TypeError(f"no receptive-field rule for {name}: expected one of {sorted(WINDOWED | POINTWISE)} "
                        "(a Linear or Flatten layer sees the whole input)")
    kernel = pair(layer.kernel_size, "kernel_size")
    stride = pair(layer.stride if layer.stride is not None else kernel, "stride")
    dilation = pair(getattr(layer, "dilation", 1), "dilation")
    return WindowGeometry(kernel, stride, resolve_padding(layer.padding, kernel, stride, dilation), dilation)


def receptive_fields(layers) -> list[ReceptiveField]:
    """Receptive field after each layer, with the input's own (size 1, jump 1, start 0) first.

    ``layers``: an iterable of dlbook or torch layers (a Sequential works), or of :class:`dlbook.cnn_shapes.WindowGeometry`.
    """
    size, jump, start = np.ones(2, int), np.ones(2, int), np.zeros(2)
    table = [ReceptiveField((1, 1), (1, 1), (0.0, 0.0))]
    for layer in layers:
        window = layer if isinstance(layer, WindowGeometry) else window_of(layer)
        if window is not None:
            span = np.array(window.dilation) * (np.array(window.kernel) - 1) + 1
            start = start + ((span - 1) / 2 - np.array(window.leading_padding)) * jump
            size = size + (span - 1) * jump
            jump = jump * np.array(window.stride)
        table.append(ReceptiveField(tuple(int(v) for v in size), tuple(int(v) for v in jump),
                                    tuple(float(v) for v in start)))
    return table


def gradient_footprint(model, x: np.ndarray, unit: tuple[int, int, int]) -> np.ndarray:
    """Input pixels that get non-zero gradient from one output unit of a dlbook model.

    x : (1, C, H, W); unit : (channel, row, col) of the output. Returns a bool (H, W) mask:
    True where $\\partial y_\\text{unit} / \\partial x$ is non-zero in any channel.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"gradient_footprint expects one image of shape (1, C, H, W), got {x.shape}")
    y = model.forward(x)
    dy = np.zeros_like(y)
    dy[(0,) + tuple(unit)] = 1.0
    dx = model.backward(dy)
    return np.any(dx[0] != 0, axis=0)


def measured_receptive_field(layers, input_hw: tuple[int, int], unit: tuple[int, int] | None = None) -> np.ndarray:
    """The footprint of one output unit, measured by backprop through a probe of the stack.

    Each windowed layer becomes a one-channel :class:`dlbook.nn.Conv2d` of the same geometry
    with all weights 1 (positive weights cannot cancel, and a max-pool would pass gradient to
    one pixel per window only, hiding the rest of what it can see); point-wise layers are
    dropped. ``unit`` (row, col) defaults to the centre of the output map. Returns the bool
    (H, W) mask of input pixels that receive gradient.
    """
    from .nn import Conv2d, Sequential, no_grad

    probes = []
    for layer in layers:
        window = layer if isinstance(layer, WindowGeometry) else window_of(layer)
        if window is None:
            continue
        conv = Conv2d(1, 1, window.kernel, window.stride, window.leading_padding, window.dilation, bias=False,
                      dtype=np.float64)
        conv.weight[...] = 1.0
        probes.append(conv)
    probe = Sequential(*probes)
    x = np.ones((1, 1) + tuple(input_hw))
    with no_grad():
        out_hw = probe.forward(x).shape[2:]
    unit = tuple(s // 2 for s in out_hw) if unit is None else tuple(unit)
    return gradient_footprint(probe, x, (0,) + unit)


def footprint_bounds(mask: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) inclusive bounding box of the True pixels of an (H, W) mask."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("the footprint is empty: no input pixel received gradient")
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))
