"""2-D convolution from scratch: im2col turns it into one matrix product.

Each output pixel of a convolution is the dot product of the kernel with one receptive field of
the input. :func:`im2col` lays every receptive field out as a column, so the whole layer becomes
a single matrix product with the flattened kernel. :func:`col2im` is its adjoint: it sends the
gradient of each column back to the pixels the column was read from, summing where receptive
fields overlap. Pooling layers reuse both.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from companion.core.checks import as_float_array, as_grad_output, as_rng, check_size, pair
from companion.core.checks import positive_int, real_number
from companion.core.shapes import Pair, output_size_2d
from companion.numpy.module import Module

def im2col(x: np.ndarray, kernel_size: Pair, stride: Pair = (1, 1), padding: Pair = (0, 0),
           dilation: Pair = (1, 1), pad_value: float = 0.0) -> np.ndarray:
    """Every receptive field of ``x`` as a column, without copying the windows.

    cols[n, c, i, j, h, w] = x_padded[n, c, h * sH + i * dH, w * sW + j * dW]

    Args:
        x: images, shape (N, C, H, W).
        kernel_size, stride, padding, dilation: (height, width) pairs.
        pad_value: value of the border that padding adds (0 for convolution, -inf for max pooling).

    Returns:
        A read-only view of shape (N, C, kH, kW, H_out, W_out). Reshaped (with a copy) to
        (N, C * kH * kW, H_out * W_out) it is torch's ``nn.functional.unfold``.
    """
    x = as_float_array(x, "x", ndim=4, shape_hint="(N, C, H, W)")
    kernel_size, stride, padding, dilation = window_config(kernel_size, stride, padding, dilation)
    pad_value = real_number(pad_value, "pad_value")
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    output_size_2d(x.shape, kernel_size, stride, padding, dilation)
    if ph or pw:
        n, c, h, w = x.shape
        padded = np.full((n, c, h + 2 * ph, w + 2 * pw), pad_value)  # (N, C, H + 2pH, W + 2pW)
        padded[:, :, ph:ph + h, pw:pw + w] = x
        x = padded
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # extent of the dilated kernel
    windows = sliding_window_view(x, spans, axis=(2, 3))  # (N, C, H', W', spanH, spanW)
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # (N, C, H_out, W_out, kH, kW)
    return windows.transpose(0, 1, 4, 5, 2, 3)  # (N, C, kH, kW, H_out, W_out)


def col2im(cols: np.ndarray, x_shape: tuple[int, int, int, int], kernel_size: Pair,
           stride: Pair = (1, 1), padding: Pair = (0, 0), dilation: Pair = (1, 1)) -> np.ndarray:
    """Adjoint of :func:`im2col`: add each column entry back onto the pixel it was read from.

    x[n, c, h * sH + i * dH - pH, w * sW + j * dW - pW] += cols[n, c, i, j, h, w]

    summed over overlapping receptive fields; entries that were read from the padding are dropped.
    The loop runs over the kH * kW kernel offsets only, each adding a whole strided slice.

    Args:
        cols: column gradients, shape (N, C, kH, kW, H_out, W_out).
        x_shape: the shape (N, C, H, W) of the images the columns were taken from.
        kernel_size, stride, padding, dilation: the (height, width) pairs given to im2col.

    Returns:
        The image gradient, shape (N, C, H, W).
    """
    kernel_size, stride, padding, dilation = window_config(kernel_size, stride, padding, dilation)
    if not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4:
        raise ValueError(f"x_shape must be a shape (N, C, H, W), got {x_shape!r}")
    n, c, h, w = (positive_int(size, "x_shape", allow_zero=True) for size in x_shape)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    h_out, w_out = output_size_2d(x_shape, kernel_size, stride, padding, dilation, name="x_shape")
    cols = as_float_array(cols, "cols")
    if cols.shape != (n, c, kh, kw, h_out, w_out):
        raise ValueError(f"cols must have shape (N, C, kH, kW, H_out, W_out) = "
                         f"{(n, c, kh, kw, h_out, w_out)}, got {cols.shape}")
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw))  # (N, C, H + 2pH, W + 2pW)
    for i in range(kh):
        for j in range(kw):
            # the pixels that kernel offset (i, j) read, one per output position
            rows = slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw)
            padded[:, :, rows, columns] += cols[:, :, i, j]  # (N, C, H_out, W_out)
    return padded[:, :, ph:ph + h, pw:pw + w]


def window_config(kernel_size, stride, padding, dilation) -> tuple[Pair, Pair, Pair, Pair]:
    """Check and normalise the (height, width) pairs shared by convolution and pooling."""
    return (pair(kernel_size, "kernel_size"), pair(stride, "stride"),
            pair(padding, "padding", allow_zero=True), pair(dilation, "dilation"))


class Conv2d(Module):
    """2-D cross-correlation of NCHW images with a bank of learned kernels.

    y[n, o, h, w] = bias[o] + sum_{c, i, j} weight[o, c, i, j]
                              * x_padded[n, c, h * sH + i * dH, w * sW + j * dW]

    computed as one matrix product: weight as (C_out, C_in kH kW) times im2col(x) as
    (N, C_in kH kW, H_out W_out). Weight and bias start from torch's default
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in kH kW.

    Args:
        in_channels: C_in, channels of the input.
        out_channels: C_out, channels of the output (the number of kernels).
        kernel_size, stride, dilation: an int or an (height, width) pair.
        padding: an int or an (height, width) pair (may be 0), or ``"valid"`` (no padding) or
            ``"same"`` (stride 1; total d (k - 1) per axis, the odd pixel at the bottom/right,
            so the output keeps the input's size), as torch.
        bias: whether to add a learned bias per output channel.
        rng: None, an int seed or a numpy Generator for the initial weights.

    Parameters:
        weight: (C_out, C_in, kH, kW).
        bias: (C_out,), present only when ``bias`` is true.

    Input (N, C_in, H, W) or unbatched (C_in, H, W); output (N, C_out, H_out, W_out) or
    (C_out, H_out, W_out) with H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1, likewise W_out.
    Unsupported torch options (``groups`` > 1, ``padding_mode`` other than zeros) are refused by
    :meth:`from_torch`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, rng=None):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size, self.stride, self.padding, self.dilation = window_config(
            kernel_size, stride, 0 if isinstance(padding, str) else padding, dilation)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"padding must be 'valid', 'same', an int or a pair of ints, "
                                 f"got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"padding='same' needs stride 1, got stride={stride}")
            self.padding = padding
        rng = as_rng(rng)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(self.in_channels * kh * kw)
        self.weight = self.add_param("weight", rng.uniform(
            -bound, bound, (self.out_channels, self.in_channels, kh, kw)))
        self.bias = (self.add_param("bias", rng.uniform(-bound, bound, self.out_channels))
                     if bias else None)
        self._cols = None
        self._x_shape = None
        self._out_shape = None

    def _pads(self) -> tuple[Pair, Pair]:
        """((top, bottom), (left, right)) zeros added around the image."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":  # total d (k - 1) per axis, the odd pixel on the far side
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            return tuple((t // 2, t - t // 2) for t in totals)
        (ph, pw) = self.padding
        return (ph, ph), (pw, pw)

    def forward(self, input: np.ndarray) -> np.ndarray:
        """Convolve (N, C_in, H, W) or unbatched (C_in, H, W) ``input``; caches the columns."""
        x = as_float_array(input, "input", ndim=(3, 4),
                           shape_hint="(N, C_in, H, W) or unbatched (C_in, H, W)")
        check_size(x, -3, self.in_channels, "input", "C_in")
        self._batched = x.ndim == 4
        x = x if self._batched else x[None]  # (N, C_in, H, W)
        self._x_shape = x.shape
        (top, bottom), (left, right) = self._pads()
        if self.padding == "same":  # stride 1: the output keeps H and W
            h_out, w_out = x.shape[-2:]
        else:
            h_out, w_out = output_size_2d(x.shape, self.kernel_size, self.stride, (top, left),
                                          self.dilation, name="input")
        if top or bottom or left or right:
            x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))  # (N, C_in, H_p, W_p)
        n = x.shape[0]
        cols = im2col(x, self.kernel_size, self.stride, (0, 0), self.dilation)
        kh, kw = self.kernel_size
        cols = cols.reshape(n, self.in_channels * kh * kw, h_out * w_out)  # (N, C_in kH kW, L)
        weight = self.weight.reshape(self.out_channels, -1)  # (C_out, C_in kH kW)
        out = weight @ cols  # (N, C_out, L)
        if self.bias is not None:
            out += self.bias[:, None]
        self._cols, self._padded_shape = cols, x.shape
        self._out_shape = (n, self.out_channels, h_out, w_out)[0 if self._batched else 1:]
        return out.reshape(self._out_shape)  # (N, C_out, H_out, W_out) or (C_out, H_out, W_out)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Gradient for the input (its shape); adds dL/dweight and dL/dbias into ``grads``."""
        grad_output = as_grad_output(grad_output, self._out_shape, "Conv2d")
        grad_output = grad_output if self._batched else grad_output[None]  # (N, C_out, H', W')
        n, c_out, h_out, w_out = grad_output.shape
        grad = grad_output.reshape(n, c_out, h_out * w_out)  # (N, C_out, L)
        per_image = grad @ self._cols.transpose(0, 2, 1)  # (N, C_out, C_in kH kW)
        self._grads["weight"] += per_image.sum(axis=0).reshape(self.weight.shape)
        if self.bias is not None:
            self._grads["bias"] += grad.sum(axis=(0, 2))
        weight = self.weight.reshape(c_out, -1)  # (C_out, C_in kH kW)
        grad_cols = weight.T @ grad  # (N, C_in kH kW, L)
        kh, kw = self.kernel_size
        grad_cols = grad_cols.reshape(n, self.in_channels, kh, kw, h_out, w_out)
        grad_x = col2im(grad_cols, self._padded_shape, self.kernel_size, self.stride, (0, 0),
                        self.dilation)  # (N, C_in, H_p, W_p)
        (top, _), (left, _) = self._pads()
        h, w = self._x_shape[-2:]
        grad_x = grad_x[:, :, top:top + h, left:left + w]  # drop the padding's gradient
        return grad_x if self._batched else grad_x[0]

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        if module.groups != 1:
            raise ValueError(f"Conv2d supports groups = 1 only, got groups = {module.groups}")
        if module.padding_mode != "zeros":
            raise ValueError(f"Conv2d supports padding_mode = 'zeros' only, "
                             f"got {module.padding_mode!r}")
        padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
        return dict(in_channels=module.in_channels, out_channels=module.out_channels,
                    kernel_size=tuple(module.kernel_size), stride=tuple(module.stride),
                    padding=padding, dilation=tuple(module.dilation),
                    bias=module.bias is not None)

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"bias={self.bias is not None})")
