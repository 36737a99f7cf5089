"""2-D max and average pooling from scratch, on the receptive fields that im2col lays out.

Both layers take the windows of :func:`~companion.numpy.conv.im2col` and reduce each one to a
number. Average pooling spreads each output's gradient over its window with
:func:`~companion.numpy.conv.col2im`; max pooling sends it to the window's maximum only. With
``ceil_mode`` the last window along an axis may run past the padded input; the input is then
extended on the bottom and right by :func:`~companion.core.shapes.ceil_margin` pixels that never
win a maximum and never count in an average."""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, as_grad_output, positive_int
from companion.core.shapes import Pair, ceil_margin, check_pool_padding, output_size_2d
from companion.numpy.conv import col2im, im2col, window_config
from companion.numpy.module import Module


class _Pool2d(Module):
    """What both poolings share: checked window pairs, output sizes and the ceil_mode margin."""

    def __init__(self, kernel_size, stride, padding, dilation, ceil_mode: bool):
        super().__init__()
        stride = kernel_size if stride is None else stride
        self.kernel_size, self.stride, self.padding, self.dilation = window_config(
            kernel_size, stride, padding, dilation)
        check_pool_padding(self.padding, self.kernel_size)
        self.ceil_mode = bool(ceil_mode)
        self._x_shape = None
        self._unbatched = False

    def _as_batch(self, input) -> np.ndarray:
        """``input`` (N, C, H, W), or unbatched (C, H, W) given a batch of one; remembers which."""
        x = as_float_array(input, "input", ndim=(3, 4),
                           shape_hint="(N, C, H, W) or unbatched (C, H, W)")
        self._unbatched = x.ndim == 3
        return x[None] if self._unbatched else x  # (N, C, H, W)

    def _unbatch(self, array: np.ndarray) -> np.ndarray:
        """An (N, C, H, W) result in the layout of the last input."""
        return array[0] if self._unbatched else array

    def _geometry(self, x_shape: tuple[int, ...]) -> tuple[Pair, Pair]:
        """(H_out, W_out) and the (bottom, right) margin ceil_mode's last windows read."""
        out = output_size_2d(x_shape, self.kernel_size, self.stride, self.padding, self.dilation,
                             self.ceil_mode, name="input")
        margin = tuple(ceil_margin(*args) for args in zip(x_shape[2:], out, self.kernel_size,
                                                          self.stride, self.padding,
                                                          self.dilation))
        return out, margin

    def _windows(self, x: np.ndarray, pad_value: float) -> np.ndarray:
        """Every window of ``x`` (N, C, H, W) as (N, C, kH, kW, H_out, W_out)."""
        _, (mh, mw) = self._geometry(x.shape)
        if mh or mw:
            n, c, h, w = x.shape
            extended = np.full((n, c, h + mh, w + mw), pad_value)  # (N, C, H + mH, W + mW)
            extended[:, :, :h, :w] = x
            x = extended
        return im2col(x, self.kernel_size, self.stride, self.padding, self.dilation,
                      pad_value=pad_value)

    def _grad_output(self, grad_output) -> np.ndarray:
        """``grad_output`` checked against the output of the last forward, as (N, C, H', W')."""
        expected = None
        if self._x_shape is not None:
            expected = self._x_shape[:2] + self._geometry(self._x_shape)[0]
            expected = expected[1:] if self._unbatched else expected
        grad = as_grad_output(grad_output, expected, type(self).__name__)
        return grad[None] if self._unbatched else grad


class MaxPool2d(_Pool2d):
    """Largest value of each (dilated) window of every channel.

    y[n, c, h, w] = max_{i, j} x_padded[n, c, h * sH + i * dH, w * sW + j * dW]

    with padding of -inf, so the border never wins. The gradient goes to the position of the
    maximum, the first one in row-major window order when several tie, as in torch.

    Args:
        kernel_size: an int or an (height, width) pair.
        stride: an int or a pair; None (the default) means kernel_size.
        padding, dilation: an int or a pair; padding is at most half of the kernel.
        return_indices: also return where each maximum was, as torch: its flat index
            h * W + w in the (unpadded) H x W plane of its channel, an int64 array shaped like
            the output.
        ceil_mode: round H_out and W_out up, keeping a last window that starts inside the input
            or its left padding.

    Input (N, C, H, W); output (N, C, H_out, W_out) with
    H_out = floor((H + 2 pH - dH (kH - 1) - 1) / sH) + 1 (ceil with ``ceil_mode``), likewise W_out.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, dilation, ceil_mode)
        if not isinstance(return_indices, (bool, np.bool_)):
            raise TypeError(f"return_indices must be True or False, got "
                            f"{type(return_indices).__name__} {return_indices!r}")
        self.return_indices = bool(return_indices)
        self._argmax = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """Max-pool (N, C, H, W) or (C, H, W) ``input`` to (N, C, H_out, W_out) or (C, ...)."""
        x = self._as_batch(input)
        cols = self._windows(x, -np.inf)  # (N, C, kH, kW, H_out, W_out)
        n, c, kh, kw, h_out, w_out = cols.shape
        # one row per kernel offset: the max over a window becomes elementwise work on long
        # rows, far cheaper in NumPy than one short reduction per window
        windows = cols.transpose(2, 3, 0, 1, 4, 5).reshape(kh * kw, -1)  # (kH kW, N C H_out W_out)
        out = windows.max(axis=0)  # (N C H_out W_out,); a NaN in a window wins, as in torch
        hit = (windows == out) | np.isnan(windows)  # (kH kW, N C H_out W_out): holds the max
        winner = np.zeros(out.shape, dtype=np.intp)
        for offset in reversed(range(kh * kw)):  # the first offset that holds the max, on ties
            np.copyto(winner, offset, where=hit[offset])
        self._argmax, self._x_shape = winner, x.shape
        out = self._unbatch(out.reshape(n, c, h_out, w_out))
        if not self.return_indices:
            return out
        rows, columns = self._winner_position(winner.reshape(n, c, h_out, w_out))
        return out, self._unbatch(rows * x.shape[3] + columns)  # flat index in the H x W plane

    def _winner_position(self, winner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column, in the unpadded input, of each window's maximum (kernel offset)."""
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (self.kernel_size, self.stride, self.padding,
                                                  self.dilation)
        h_out, w_out = winner.shape[-2:]
        rows = np.arange(h_out)[:, None] * sh + (winner // kw) * dh - ph
        columns = np.arange(w_out) * sw + (winner % kw) * dw - pw
        return rows, columns

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Gradient for the input (N, C, H, W): each output's gradient lands on its maximum.

        A scatter-add into the padded (and ceil_mode-extended) input, so a pixel that wins
        several overlapping windows collects all their gradients.
        """
        grad_output = self._grad_output(grad_output)
        n, c, h, w = self._x_shape
        ph, pw = self.padding
        _, (mh, mw) = self._geometry(self._x_shape)
        padded_h, padded_w = h + 2 * ph + mh, w + 2 * pw + mw
        h_out, w_out = grad_output.shape[2:]
        rows, columns = self._winner_position(self._argmax.reshape(n * c, h_out, w_out))
        rows, columns = rows + ph, columns + pw  # in the padded input, (N C, H_out, W_out)
        image = np.arange(n * c)[:, None, None]  # (N C, 1, 1)
        flat = (image * padded_h + rows) * padded_w + columns  # (N C, H_out, W_out)
        grad = np.bincount(flat.ravel(), weights=grad_output.ravel(),
                           minlength=n * c * padded_h * padded_w)
        grad = grad.reshape(n, c, padded_h, padded_w)  # (N, C, H + 2pH + mH, W + 2pW + mW)
        return self._unbatch(grad[:, :, ph:ph + h, pw:pw + w])

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return dict(kernel_size=module.kernel_size, stride=module.stride, padding=module.padding,
                    dilation=module.dilation, return_indices=module.return_indices,
                    ceil_mode=module.ceil_mode)

    def __repr__(self) -> str:
        return (f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode})")


class AvgPool2d(_Pool2d):
    """Mean of each window of every channel.

    y[n, c, h, w] = (1 / D) sum_{i, j} x_padded[n, c, h * sH + i, w * sW + j]

    with zero padding. The divisor D counts the window's pixels inside the padded input when
    ``count_include_pad`` (torch's default; kH kW except for ceil_mode's last windows), only its
    real (non-padding) pixels otherwise, or is ``divisor_override``.

    Args:
        kernel_size: an int or an (height, width) pair.
        stride: an int or a pair; None (the default) means kernel_size.
        padding: an int or a pair, at most half of the kernel.
        ceil_mode: round H_out and W_out up, as for MaxPool2d.
        count_include_pad: whether padding zeros count in the divisor.
        divisor_override: a positive int to divide every window sum by, or None.

    Input (N, C, H, W); output (N, C, H_out, W_out) with
    H_out = floor((H + 2 pH - kH) / sH) + 1 (ceil with ``ceil_mode``), and likewise W_out.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = (None if divisor_override is None
                                 else positive_int(divisor_override, "divisor_override"))
        self._divisor = None

    def _window_divisor(self, x_shape: tuple[int, ...]) -> np.ndarray | float:
        """D, a number or an (H_out, W_out) array: each window's pixels that count."""
        if self.divisor_override is not None:
            return float(self.divisor_override)
        (h, w), (ph, pw) = x_shape[2:], self.padding
        (h_out, w_out), (mh, mw) = self._geometry(x_shape)
        counted = np.zeros((1, 1, h + 2 * ph + mh, w + 2 * pw + mw))  # 1 where a pixel counts
        if self.count_include_pad:
            counted[:, :, :h + 2 * ph, :w + 2 * pw] = 1.0
        else:
            counted[:, :, ph:ph + h, pw:pw + w] = 1.0
        windows = im2col(counted, self.kernel_size, self.stride)  # (1, 1, kH, kW, H_out+, W_out+)
        return windows.sum(axis=(0, 1, 2, 3))[:h_out, :w_out]  # (H_out, W_out)

    def forward(self, input: np.ndarray) -> np.ndarray:
        """Average-pool (N, C, H, W) or (C, H, W) ``input`` to (N, C, H_out, W_out) or (C, ...)."""
        x = self._as_batch(input)
        cols = self._windows(x, 0.0)  # (N, C, kH, kW, H_out, W_out)
        self._divisor = self._window_divisor(x.shape)
        self._x_shape = x.shape
        return self._unbatch(cols.sum(axis=(2, 3)) / self._divisor)  # (N, C, H_out, W_out)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Gradient for the input (N, C, H, W): each output's gradient spread over its window."""
        grad_output = self._grad_output(grad_output)
        n, c, h_out, w_out = grad_output.shape
        kh, kw = self.kernel_size
        _, (mh, mw) = self._geometry(self._x_shape)
        h, w = self._x_shape[2:]
        share = (grad_output / self._divisor)[:, :, None, None]  # (N, C, 1, 1, H_out, W_out)
        grad_cols = np.broadcast_to(share, (n, c, kh, kw, h_out, w_out))
        grad = col2im(grad_cols, (n, c, h + mh, w + mw), self.kernel_size, self.stride,
                      self.padding, self.dilation)  # (N, C, H + mH, W + mW)
        return self._unbatch(grad[:, :, :h, :w])

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return dict(kernel_size=module.kernel_size, stride=module.stride, padding=module.padding,
                    ceil_mode=module.ceil_mode, count_include_pad=module.count_include_pad,
                    divisor_override=module.divisor_override)

    def __repr__(self) -> str:
        return (f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode}, "
                f"count_include_pad={self.count_include_pad})")
