"""2-D convolution as unfold + matmul (im2col), mirroring ``torch.nn.Conv2d``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from companion.core.checks import pair, positive_int
from companion.core.shapes import output_size_2d

from ._inputs import tensor_input

__all__ = ["Conv2d"]

_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
              "circular": "circular"}


def check_image(input: torch.Tensor, channels: int | None, name: str = "input") -> bool:
    """Check an (N, C, H, W) or unbatched (C, H, W) image batch; return whether it is batched."""
    tensor_input(input, name)
    if input.dim() not in (3, 4):
        raise ValueError(f"{name} must have 3 or 4 dimensions (N, C, H, W), "
                         f"got shape {tuple(input.shape)}")
    if channels is not None and input.shape[-3] != channels:
        raise ValueError(f"{name} must have C = {channels} channels, "
                         f"got shape {tuple(input.shape)}")
    return input.dim() == 4


class Conv2d(nn.Module):
    """Cross-correlation of an image with learned kernels, computed as one matmul per group.

    out[n, o, i, j] = b[o] + sum_{c, p, q} W[o, c, p, q] x_pad[n, c, s_h i + d_h p, s_w j + d_w q]
    over the input channels c of o's group. Unfold turns the input into columns
    (N, C kH kW, L), L = H_out W_out, so the sum is W (C_out, C kH kW) @ columns.
    H_out = floor((H + pad_top + pad_bottom - d_h (kH - 1) - 1) / s_h) + 1, likewise W_out.

    Parameters: ``weight`` (C_out, C_in / groups, kH, kW) and ``bias`` (C_out,), both from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in / groups * kH * kW, as torch does.
    Input: (N, C_in, H, W) or (C_in, H, W).
    Output: (N, C_out, H_out, W_out) or (C_out, H_out, W_out).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.groups = positive_int(groups, "groups")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must be divisible by groups, got groups={groups}")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.dilation = pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"padding must be 'valid', 'same', an int or a pair, "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1, got stride={stride}")
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", allow_zero=True)
        if not isinstance(padding_mode, str) or padding_mode not in _PAD_MODES:
            raise ValueError(f"padding_mode must be one of {tuple(_PAD_MODES)}, "
                             f"got {padding_mode!r}")
        self.padding_mode = padding_mode
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / math.sqrt(fan_in)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def _pad_amounts(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom), the order ``F.pad`` takes for the last two axes."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":               # total d (k - 1), the odd pixel on the far side
            (dh, dw), (kh, kw) = self.dilation, self.kernel_size
            th, tw = dh * (kh - 1), dw * (kw - 1)
            return (tw // 2, tw - tw // 2, th // 2, th - th // 2)
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        batched = check_image(input, self.in_channels)
        x = input if batched else input.unsqueeze(0)                   # (N, C, H, W)
        if self.padding == "same":                                     # stride 1: sizes kept
            h_out, w_out = x.shape[-2:]
        else:
            padding = (0, 0) if self.padding == "valid" else self.padding
            h_out, w_out = output_size_2d(x.shape, self.kernel_size, self.stride, padding,
                                          self.dilation, name="input")
        pads = self._pad_amounts()
        if any(pads):
            x = F.pad(x, pads, mode=_PAD_MODES[self.padding_mode])      # (N, C, H_p, W_p)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel_size, self.stride, self.dilation
        n, c = x.shape[:2]
        g = self.groups
        cols = F.unfold(x, (kh, kw), dilation=(dh, dw), stride=(sh, sw))  # (N, C kH kW, L)
        cols = cols.view(n, g, c // g * kh * kw, h_out * w_out)           # (N, G, C/G kH kW, L)
        w = self.weight.view(g, self.out_channels // g, -1)               # (G, C_out/G, C/G kH kW)
        out = (w @ cols).view(n, self.out_channels, h_out, w_out)         # (N, C_out, H_out, W_out)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out if batched else out.squeeze(0)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}, "
                f"padding_mode={self.padding_mode!r}")
