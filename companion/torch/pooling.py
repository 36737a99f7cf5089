"""Max and average pooling over windows taken with unfold, mirroring ``torch.nn``'s pooling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from companion.core.checks import pair
from companion.core.shapes import ceil_margin, check_pool_padding, output_size_2d

from .conv import check_image

__all__ = ["MaxPool2d", "AvgPool2d"]


class _Pool2d(nn.Module):
    """Shared geometry: sizes, padding (with the extra right margin of ceil_mode) and unfolding."""

    dilation = (1, 1)

    def _init_geometry(self, kernel_size, stride, padding, ceil_mode):
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding", allow_zero=True)
        check_pool_padding(self.padding, self.kernel_size)
        self.ceil_mode = bool(ceil_mode)

    def _geometry(self, x: torch.Tensor):
        """Output size and the (left, right, top, bottom) padding that makes every window fit."""
        h, w = x.shape[-2:]
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (self.kernel_size, self.stride, self.padding,
                                                  self.dilation)
        h_out, w_out = output_size_2d(x.shape, self.kernel_size, self.stride, self.padding,
                                      self.dilation, self.ceil_mode, name="input")
        extra_h = ceil_margin(h, h_out, kh, sh, ph, dh)
        extra_w = ceil_margin(w, w_out, kw, sw, pw, dw)
        return h_out, w_out, (pw, pw + extra_w, ph, ph + extra_h)

    def _windows(self, x: torch.Tensor, pads, value: float) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, kH kW, L): every pooling window as a column."""
        n, c = x.shape[:2]
        x = F.pad(x, pads, value=value)                                   # (N, C, H_p, W_p)
        cols = F.unfold(x, self.kernel_size, dilation=self.dilation, stride=self.stride)
        return cols.view(n, c, self.kernel_size[0] * self.kernel_size[1],
                         cols.shape[-1])                                  # (N, C, kH kW, L)


class MaxPool2d(_Pool2d):
    """Largest value of each (dilated) window: out[n, c, i, j] = max_{p, q} x_pad[n, c,
    s_h i + d_h p, s_w j + d_w q], where the padding is -inf (it never wins).

    The gradient flows only to the arg-max of each window. With ``return_indices`` the second
    result holds each arg-max as a flat index into the input's H * W plane, as torch's does.
    Input: (N, C, H, W) or (C, H, W). Output: (N, C, H_out, W_out) or (C, H_out, W_out).
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self._init_geometry(kernel_size, stride, padding, ceil_mode)
        self.dilation = pair(dilation, "dilation")
        self.return_indices = return_indices

    def forward(self, input: torch.Tensor):
        batched = check_image(input, None)
        x = input if batched else input.unsqueeze(0)                      # (N, C, H, W)
        h_out, w_out, pads = self._geometry(x)
        cols = self._windows(x, pads, float("-inf"))                      # (N, C, kH kW, L)
        out, arg = cols.max(dim=2)                                        # (N, C, L)
        out = out.view(*x.shape[:2], h_out, w_out)                        # (N, C, H_out, W_out)
        if not self.return_indices:
            return out if batched else out.squeeze(0)
        indices = self._flat_indices(arg, x.shape[-1], h_out, w_out)
        if not batched:
            out, indices = out.squeeze(0), indices.squeeze(0)
        return out, indices

    def _flat_indices(self, arg: torch.Tensor, width: int, h_out: int, w_out: int):
        """Window-local arg-max (N, C, L) -> row * W + column in the unpadded input."""
        kw = self.kernel_size[1]
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        i = torch.arange(h_out, device=arg.device).repeat_interleave(w_out)   # (L,) window row
        j = torch.arange(w_out, device=arg.device).repeat(h_out)              # (L,) window column
        row = i * sh - ph + (arg // kw) * dh                                  # (N, C, L)
        col = j * sw - pw + (arg % kw) * dw
        return (row * width + col).view(*arg.shape[:2], h_out, w_out)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool2d):
    """Mean of each window: out[n, c, i, j] = sum_{p, q} x_pad[n, c, s_h i + p, s_w j + q] / D.

    D is kH kW (less any part of the window beyond the padding, with ``ceil_mode``) when
    ``count_include_pad``, else the number of real input pixels in the window, or
    ``divisor_override`` when given. Input: (N, C, H, W) or (C, H, W).
    Output: (N, C, H_out, W_out) or (C, H_out, W_out).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        self._init_geometry(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        if divisor_override is not None and (isinstance(divisor_override, bool)
                                             or not isinstance(divisor_override, int)
                                             or divisor_override == 0):
            raise ValueError(f"divisor_override must be a non-zero int or None, "
                             f"got {divisor_override!r}")
        self.divisor_override = divisor_override

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        batched = check_image(input, None)
        x = input if batched else input.unsqueeze(0)                      # (N, C, H, W)
        h_out, w_out, pads = self._geometry(x)
        total = self._windows(x, pads, 0.0).sum(dim=2)                    # (N, C, L)
        if self.divisor_override is not None:
            divisor = self.divisor_override
        else:
            (pw, _, ph, _), (h, w) = pads, x.shape[-2:]
            inside = torch.zeros(1, 1, h + 2 * ph, w + 2 * pw, dtype=x.dtype, device=x.device)
            if self.count_include_pad:                                    # input and padding
                inside += 1
            else:                                                         # input only
                inside[..., ph:ph + h, pw:pw + w] = 1
            extra = (0, pads[1] - pw, 0, pads[3] - ph)                    # ceil_mode margin
            divisor = self._windows(F.pad(inside, extra), (0, 0, 0, 0), 0.0).sum(dim=2)  # (1, 1, L)
        out = (total / divisor).view(*x.shape[:2], h_out, w_out)          # (N, C, H_out, W_out)
        return out if batched else out.squeeze(0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
