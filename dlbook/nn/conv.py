r"""``Conv2d``: a learnable bank of small kernels slid over an image, laid out like ``torch.nn.Conv2d``."""

from __future__ import annotations


import numpy as np

from ..cnn_shapes import pair, resolve_padding
from .functional.conv import conv2d_backward, conv2d_forward
from .init import default_uniform_
from .module import Module, Parameter, accumulate_grad, as_dtype, as_generator


class Conv2d(Module):
    r"""2-D convolution over (N, C_in, H, W) images.

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and C_out (the number of kernels = the output's depth).
    kernel_size, stride, dilation : int or (h, w) pair
    padding : int, (h, w) pair, "valid" or "same" (stride 1)
    groups : int
        Split channels into independent groups; each kernel sees C_in / groups channels.
    bias : bool
    padding_mode : only "zeros" (torch's default) is implemented.
    dtype : float32 (default) or float64.  seed : None, int or numpy Generator.

    ``weight`` has shape (C_out, C_in/groups, kh, kw): every kernel spans all the
    input channels of its group. ``bias`` has shape (C_out,) (None without). Both start uniform on
    $\pm 1/\sqrt{\text{fan\_in}}$, fan_in = C_in/groups · kh · kw, as torch's do.
    Input (N, C_in, H, W) or unbatched (C_in, H, W); output (N, C_out, H_out, W_out) or
    (C_out, H_out, W_out); see :func:`dlbook.cnn_shapes.conv_output_size`.
    """

    torch_args = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                  "groups", "bias", "padding_mode")

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", *,
                 dtype=None, seed=None) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv2d: {name} must be a positive int, got {value!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels={in_channels} and out_channels={out_channels} must both "
                             f"be divisible by groups={groups}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: only padding_mode='zeros' is implemented, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size, self.stride = pair(kernel_size, "kernel_size"), pair(stride, "stride")
        self.dilation = pair(dilation, "dilation")
        if min(self.kernel_size + self.stride + self.dilation) < 1:
            raise ValueError(f"Conv2d: kernel_size, stride and dilation must be >= 1, got "
                             f"{kernel_size!r}, {stride!r}, {dilation!r}")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding")
        resolve_padding(self.padding, self.kernel_size, self.stride, self.dilation)  # validates
        self.padding_mode = padding_mode
        rng, dtype = as_generator(seed), as_dtype(dtype)
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(default_uniform_(np.empty(shape, dtype), fan_in, rng))
        self.register_parameter("bias", Parameter(default_uniform_(np.empty(out_channels, dtype), fan_in, rng))
                                if bias else None)

    def torch_config(self) -> dict:
        config = {arg: getattr(self, arg) for arg in self.torch_args if arg != "bias"}
        return {**config, "bias": self.bias is not None}

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C_in, H, W) -> (N, C_out, H_out, W_out); or unbatched (C_in, H, W) -> (C_out, H_out, W_out)."""
        self._check_input(x, (3, 4), f"(N, {self.in_channels}, H, W) or ({self.in_channels}, H, W)")
        if x.shape[-3] != self.in_channels:
            raise ValueError(f"Conv2d expects input of shape (N, {self.in_channels}, H, W) or "
                             f"({self.in_channels}, H, W), got {x.shape}")
        unbatched = x.ndim == 3
        y, cache = conv2d_forward(x[None] if unbatched else x, self.weight, self.bias, self.stride,
                                  self.padding, self.dilation, self.groups)
        self.save_for_backward(cache, unbatched)
        return y[0] if unbatched else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy: like the output -> dx like the input; adds to ``weight.grad`` and ``bias.grad``."""
        cache, unbatched = self.saved_for_backward()
        dx, dweight, dbias = conv2d_backward(dy[None] if unbatched and isinstance(dy, np.ndarray) else dy, cache)
        accumulate_grad(self.weight, dweight)
        if self.bias is not None:
            accumulate_grad(self.bias, dbias)
        return dx[0] if unbatched else dx
