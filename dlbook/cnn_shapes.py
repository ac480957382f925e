r"""Output sizes and parameter counts of convolution and pooling layers.

The one formula every CNN shape follows, per spatial axis:

$$H_\text{out} = \left\lfloor \frac{H + p_\text{before} + p_\text{after} - d\,(k-1) - 1}{s} \right\rfloor + 1$$

($k$ kernel size, $s$ stride, $p$ zero padding, $d$ dilation; $d\,(k-1)+1$ is the span a
dilated kernel covers). With $d = 1$ and symmetric padding it is the familiar
$\lfloor (H + 2p - k)/s \rfloor + 1$.

Pooling's ``ceil_mode`` (torch) rounds up instead, so a last, partial window may hang over
the end of the padded input; torch then drops a last window that would start in the trailing
padding, at or past the input's end: $(H_\text{out}-1)\,s \ge H + p_\text{before}$.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass


def _positive(name: str, value, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def pair(value, name: str = "value") -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; a pair is checked and returned as a tuple of ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding=0, dilation: int = 1, *,
                     ceil_mode: bool = False) -> int:
    """Output length along one axis; ``padding`` is an int (both sides) or a (before, after) pair.

    ``ceil_mode`` (pooling only, as in torch) rounds up, then drops a last window that would
    start at or past ``size + before``.
    Raises ValueError when the (dilated) kernel does not fit into the padded input (with
    ``ceil_mode``: when no window would be left).
    """
    size = _positive("size", size)
    k, s, d = (_positive(n, v) for n, v in (("kernel_size", kernel_size), ("stride", stride),
                                               ("dilation", dilation)))
    before, after = pair(padding, "padding")
    if before < 0 or after < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    span = d * (k - 1) + 1
    padded = size + before + after
    if not ceil_mode:
        if span > padded:
            raise ValueError(f"kernel spanning {span} pixels (kernel_size={k}, dilation={d}) does not fit "
                             f"an input of size {size} padded to {padded}")
        return (padded - span) // s + 1
    out = -((span - padded) // s) + 1          # ceil((padded - span) / s) + 1
    if (out - 1) * s >= size + before:          # torch: the last window must start inside the input
        out -= 1                                # (or its leading padding)
    if out < 1:
        raise ValueError(f"kernel spanning {span} pixels (kernel_size={k}, dilation={d}, stride={s}) does not "
                         f"fit an input of size {size} padded to {padded}, even with ceil_mode")
    return out


def conv2d_output_shape(input_shape: tuple[int, ...], out_channels: int, kernel_size, stride=1,
                        padding=0, dilation=1) -> tuple[int, ...]:
    """(N, C, H, W) or (C, H, W) -> the same rank with ``out_channels`` and the new H, W.

    ``padding`` may be an int, an (h, w) pair, or "valid"/"same" (stride 1) as in torch.
    """
    if len(input_shape) not in (3, 4):
        raise ValueError(f"input_shape must be (N, C, H, W) or (C, H, W), got {input_shape!r}")
    out_channels = _positive("out_channels", out_channels)
    (kh, kw), (sh, sw), (dh, dw) = pair(kernel_size, "kernel_size"), pair(stride, "stride"), pair(dilation, "dilation")
    (pt, pb), (pl, pr) = resolve_padding(padding, (kh, kw), (sh, sw), (dh, dw))
    h, w = input_shape[-2:]
    return tuple(input_shape[:-3]) + (out_channels, conv_output_size(h, kh, sh, (pt, pb), dh),
                                      conv_output_size(w, kw, sw, (pl, pr), dw))


def resolve_padding(padding, kernel_size, stride, dilation) -> tuple[tuple[int, int], tuple[int, int]]:
    """torch's padding argument as ((top, bottom), (left, right)).

    "same" pads a total of $d(k-1)$ per axis, the smaller half first (torch's rule); it
    needs stride 1, as in torch.
    """
    (kh, kw), (sh, sw), (dh, dw) = pair(kernel_size, "kernel_size"), pair(stride, "stride"), pair(dilation, "dilation")
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        if (sh, sw) != (1, 1):
            raise ValueError(f"padding='same' needs stride 1 (as in torch), got stride={stride!r}")
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return (th // 2, th - th // 2), (tw // 2, tw - tw // 2)
    if isinstance(padding, str):
        raise ValueError(f"padding must be an int, a pair of ints, 'valid' or 'same', got {padding!r}")
    ph, pw = pair(padding, "padding")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    return (ph, ph), (pw, pw)


def conv2d_param_count(in_channels: int, out_channels: int, kernel_size, groups: int = 1,
                       bias: bool = True) -> int:
    r"""Weights and biases of a Conv2d: $C_\text{out} \cdot (C_\text{in}/g) \cdot k_h k_w$ (+ $C_\text{out}$).

    Independent of the image size: every position reuses the same kernels (parameter sharing).
    """
    in_channels, out_channels, groups = (_positive(n, v) for n, v in (
        ("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)))
    kh, kw = (_positive("kernel_size", k) for k in pair(kernel_size, "kernel_size"))
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"in_channels={in_channels} and out_channels={out_channels} must be divisible "
                         f"by groups={groups}")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


def linear_param_count(in_features: int, out_features: int, bias: bool = True) -> int:
    """Weights and biases of a fully connected layer: in * out (+ out)."""
    in_features, out_features = _positive("in_features", in_features), _positive("out_features", out_features)
    return in_features * out_features + (out_features if bias else 0)


@dataclass(frozen=True)
class WindowGeometry:
    """Where the windows of a convolution or pooling layer sit, per axis (h, w): kernel (kh, kw),
    stride (sh, sw), padding ((top, bottom), (left, right)), dilation (dh, dw). One type for
    im2col, the layers, and receptive fields."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]
    dilation: tuple[int, int] = (1, 1)

    @property
    def leading_padding(self) -> tuple[int, int]:
        """(top, left): where the first window starts, which is what receptive fields need."""
        return self.padding[0][0], self.padding[1][0]

    def output_hw(self, h: int, w: int) -> tuple[int, int]:
        """(H_out, W_out) for an (H, W) input (see :func:`dlbook.cnn_shapes.conv_output_size`)."""
        return (conv_output_size(h, self.kernel[0], self.stride[0], self.padding[0], self.dilation[0]),
                conv_output_size(w, self.kernel[1], self.stride[1], self.padding[1], self.dilation[1]))
