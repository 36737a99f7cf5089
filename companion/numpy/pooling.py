"""2-D max and average pooling from scratch, on the receptive fields that im2col lays out.

Both layers take the windows of :func:`~companion.numpy.conv.im2col` and reduce each one to a
number. Average pooling spreads each output's gradient over its window with
:func:`~companion.numpy.conv.col2im`; max pooling sends it to the window's maximum only."""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, as_grad_output, positive_int
from companion.core.shapes import Pair, check_pool_padding, output_size_2d
from companion.numpy.conv import col2im, im2col, window_config
from companion.numpy.module import Module


def _no_ceil_mode(ceil_mode: bool) -> None:
    if ceil_mode:
        raise ValueError("ceil_mode=True is not supported: windows that run past the padded "
                         "input are not implemented, got ceil_mode=True")


class MaxPool2d(Module):
    """Largest value of each (dilated) window of every channel.

    y[n, c, h, w] = max_{i, j} x_padded[n, c, h * sH + i * dH, w * sW + j * dW]

    with padding of -inf, so the border never wins. The gradient goes to the position of the
    maximum, the first one in row-major window order when several tie, as in torch.

    Args:
        kernel_size: an int or an (height, width) pair.
        stride: an int or a pair; None (the default) means kernel_size.
        padding, dilation: an int or a pair; padding is at most half of the kernel.
        return_indices, ceil_mode: accepted for torch's signature; only False is supported.

    Input (N, C, H, W); output (N, C, H_out, W_out) with
    H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1, and likewise W_out.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        _no_ceil_mode(ceil_mode)
        if return_indices:
            raise ValueError("return_indices=True is not supported, got return_indices=True")
        stride = kernel_size if stride is None else stride
        self.kernel_size, self.stride, self.padding, self.dilation = window_config(
            kernel_size, stride, padding, dilation)
        check_pool_padding(self.padding, self.kernel_size)
        self._argmax = None
        self._x_shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Max-pool ``x`` (N, C, H, W) into (N, C, H_out, W_out); caches where each max was."""
        x = as_float_array(x, "x", ndim=4, shape_hint="(N, C, H, W)")
        n, c = x.shape[:2]
        h_out, w_out = output_size_2d(x.shape, self.kernel_size, self.stride, self.padding,
                                      self.dilation)
        cols = im2col(x, self.kernel_size, self.stride, self.padding, self.dilation,
                      pad_value=-np.inf)  # (N, C, kH, kW, H_out, W_out)
        kernel = self.kernel_size[0] * self.kernel_size[1]
        # one row per kernel offset: the max over a window becomes elementwise work on long
        # rows, far cheaper in NumPy than one short reduction per window
        windows = cols.transpose(2, 3, 0, 1, 4, 5).reshape(kernel, -1)  # (kH kW, N C H_out W_out)
        out = windows.max(axis=0)  # (N C H_out W_out,); a NaN in a window wins, as in torch
        hit = (windows == out) | np.isnan(windows)  # (kH kW, N C H_out W_out): holds the max
        winner = np.zeros(out.shape, dtype=np.intp)
        for offset in reversed(range(kernel)):  # the first offset that holds the max, on ties
            np.copyto(winner, offset, where=hit[offset])
        self._argmax, self._x_shape = winner, x.shape
        return out.reshape(n, c, h_out, w_out)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Gradient for the input (N, C, H, W): each output's gradient lands on its maximum.

        A scatter-add into the padded input, so a pixel that wins several overlapping windows
        collects all their gradients.
        """
        expected = None
        if self._x_shape is not None:
            expected = self._x_shape[:2] + output_size_2d(
                self._x_shape, self.kernel_size, self.stride, self.padding, self.dilation)
        grad_output = as_grad_output(grad_output, expected, type(self).__name__)
        n, c, h, w = self._x_shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (self.kernel_size, self.stride, self.padding,
                                                  self.dilation)
        padded_h, padded_w = h + 2 * ph, w + 2 * pw
        h_out, w_out = grad_output.shape[2:]
        winner = self._argmax.reshape(n * c, h_out, w_out)  # (N C, H_out, W_out)
        rows = np.arange(h_out)[:, None] * sh + (winner // kw) * dh  # in the padded input
        columns = np.arange(w_out) * sw + (winner % kw) * dw
        image = np.arange(n * c)[:, None, None]  # (N C, 1, 1)
        flat = (image * padded_h + rows) * padded_w + columns  # (N C, H_out, W_out)
        grad = np.bincount(flat.ravel(), weights=grad_output.ravel(),
                           minlength=n * c * padded_h * padded_w)
        grad = grad.reshape(n, c, padded_h, padded_w)  # (N, C, H + 2pH, W + 2pW)
        return grad[:, :, ph:ph + h, pw:pw + w]

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return dict(kernel_size=module.kernel_size, stride=module.stride, padding=module.padding,
                    dilation=module.dilation, return_indices=module.return_indices,
                    ceil_mode=module.ceil_mode)

    def __repr__(self) -> str:
        return (f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation})")


class AvgPool2d(Module):
    """Mean of each window of every channel.

    y[n, c, h, w] = (1 / D) sum_{i, j} x_padded[n, c, h * sH + i, w * sW + j]

    with zero padding and divisor D = kH kW when ``count_include_pad`` (torch's default), the
    number of real (non-padding) pixels in the window otherwise, or ``divisor_override``.

    Args:
        kernel_size: an int or an (height, width) pair.
        stride: an int or a pair; None (the default) means kernel_size.
        padding: an int or a pair, at most half of the kernel.
        ceil_mode: accepted for torch's signature; only False is supported.
        count_include_pad: whether padding zeros count in the divisor.
        divisor_override: a positive int to divide every window sum by, or None.

    Input (N, C, H, W); output (N, C, H_out, W_out) with
    H_out = floor((H + 2 pH - kH) / sH) + 1, and likewise W_out.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__()
        _no_ceil_mode(ceil_mode)
        stride = kernel_size if stride is None else stride
        self.kernel_size, self.stride, self.padding, self.dilation = window_config(
            kernel_size, stride, padding, 1)
        check_pool_padding(self.padding, self.kernel_size)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = (None if divisor_override is None
                                 else positive_int(divisor_override, "divisor_override"))
        self._divisor = None
        self._x_shape = None

    def _window_divisor(self, x_shape: tuple[int, ...], out_size: Pair) -> np.ndarray | float:
        """D, a number or an (H_out, W_out) array of real pixels per window."""
        if self.divisor_override is not None:
            return float(self.divisor_override)
        kh, kw = self.kernel_size
        if self.count_include_pad or self.padding == (0, 0):
            return float(kh * kw)
        ones = np.ones((1, 1) + tuple(x_shape[2:]))  # (1, 1, H, W)
        windows = im2col(ones, self.kernel_size, self.stride, self.padding, self.dilation)
        return windows.sum(axis=(0, 1, 2, 3))  # (H_out, W_out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Average-pool ``x`` (N, C, H, W) into (N, C, H_out, W_out)."""
        x = as_float_array(x, "x", ndim=4, shape_hint="(N, C, H, W)")
        out_size = output_size_2d(x.shape, self.kernel_size, self.stride, self.padding,
                                  self.dilation)
        cols = im2col(x, self.kernel_size, self.stride, self.padding, self.dilation)
        self._divisor = self._window_divisor(x.shape, out_size)
        self._x_shape = x.shape
        return cols.sum(axis=(2, 3)) / self._divisor  # (N, C, H_out, W_out)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Gradient for the input (N, C, H, W): each output's gradient spread over its window."""
        expected = None
        if self._x_shape is not None:
            expected = self._x_shape[:2] + output_size_2d(
                self._x_shape, self.kernel_size, self.stride, self.padding, self.dilation)
        grad_output = as_grad_output(grad_output, expected, type(self).__name__)
        n, c, h_out, w_out = grad_output.shape
        kh, kw = self.kernel_size
        share = (grad_output / self._divisor)[:, :, None, None]  # (N, C, 1, 1, H_out, W_out)
        grad_cols = np.broadcast_to(share, (n, c, kh, kw, h_out, w_out))
        return col2im(grad_cols, self._x_shape, self.kernel_size, self.stride, self.padding,
                      self.dilation)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return dict(kernel_size=module.kernel_size, stride=module.stride, padding=module.padding,
                    ceil_mode=module.ceil_mode, count_include_pad=module.count_include_pad,
                    divisor_override=module.divisor_override)

    def __repr__(self) -> str:
        return (f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, count_include_pad={self.count_include_pad})")
