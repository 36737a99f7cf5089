"""Normalisation layers: BatchNorm1d, BatchNorm2d and LayerNorm.

All three compute x_hat = (x - mean) / sqrt(var + eps) with the biased variance and
y = gamma * x_hat + beta; they differ in which axes the statistics run over. For statistics
computed from the input, the gradient through them is
dL/dx = (dL/dx_hat - mean(dL/dx_hat) - x_hat * mean(dL/dx_hat * x_hat)) / sqrt(var + eps),
with the means over the same axes as the statistics.
"""

from __future__ import annotations

import numbers

import numpy as np

from companion.core.checks import as_float_array, check_size, positive_int, real_number
from companion.core.checks import as_grad_output
from companion.numpy.module import Module


def _normalize_backward(grad_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray,
                        axes: tuple) -> np.ndarray:
    """dL/dx from dL/dx_hat when the mean and variance were taken from x over ``axes``."""
    mean_grad = np.mean(grad_hat, axis=axes, keepdims=True)
    mean_proj = np.mean(grad_hat * x_hat, axis=axes, keepdims=True)
    return inv_std * (grad_hat - mean_grad - x_hat * mean_proj)


class _BatchNorm(Module):
    """Batch normalisation over every axis except the channel axis 1."""

    _ranks: tuple = ()
    _layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, bias: bool = True):
        super().__init__()
        self.num_features = positive_int(num_features, "num_features")
        self.eps = real_number(eps, "eps", low=0.0, low_inclusive=False)
        self.momentum = None if momentum is None else real_number(momentum, "momentum", 0.0, 1.0)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        if self.affine:
            self.add_param("weight", np.ones(self.num_features))
            if bias:
                self.add_param("bias", np.zeros(self.num_features))
        if self.track_running_stats:
            self.add_buffer("running_mean", np.zeros(self.num_features))
            self.add_buffer("running_var", np.ones(self.num_features))
            self.add_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        self._cache = None

    def _update_running(self, mean: np.ndarray, var: np.ndarray, count: int) -> None:
        """Blend the batch statistics into the running ones (unbiased variance, as torch)."""
        self._buffers["num_batches_tracked"] += 1
        factor = (1.0 / float(self._buffers["num_batches_tracked"]) if self.momentum is None
                  else self.momentum)
        unbiased = var * count / (count - 1)
        self._buffers["running_mean"] *= 1.0 - factor
        self._buffers["running_mean"] += factor * mean
        self._buffers["running_var"] *= 1.0 - factor
        self._buffers["running_var"] += factor * unbiased

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: see the class docstring for the layout. Returns y, same shape."""
        x = as_float_array(input, "input", ndim=self._ranks, shape_hint=self._layout)
        check_size(x, 1, self.num_features, "input", "num_features (channels)")
        axes = (0,) + tuple(range(2, x.ndim))  # every axis but C
        shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector over x
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            count = x.size // self.num_features
            if count <= 1:
                raise ValueError(f"input must hold more than 1 value per channel to compute "
                                 f"batch statistics, got shape {x.shape}")
            mean = np.mean(x, axis=axes)
            var = np.var(x, axis=axes)
            if self.training and self.track_running_stats:
                self._update_running(mean, var, count)
        else:
            mean = self._buffers["running_mean"]
            var = self._buffers["running_var"]
        inv_std = 1.0 / np.sqrt(var + self.eps).reshape(shape)  # (1, C, 1, ...)
        x_hat = (x - mean.reshape(shape)) * inv_std
        self._cache = (x_hat, inv_std, axes, use_batch)
        if not self.affine:
            return x_hat
        y = self._params["weight"].reshape(shape) * x_hat
        return y + self._params["bias"].reshape(shape) if "bias" in self._params else y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, shape of y. Returns dL/dx; adds into dL/dweight and dL/dbias."""
        shape = None if self._cache is None else self._cache[0].shape
        grad = as_grad_output(grad_output, shape, type(self).__name__)
        x_hat, inv_std, axes, use_batch = self._cache
        grad_hat = grad
        if self.affine:
            self._grads["weight"] += np.sum(grad * x_hat, axis=axes)
            if "bias" in self._grads:
                self._grads["bias"] += np.sum(grad, axis=axes)
            grad_hat = grad * self._params["weight"].reshape(inv_std.shape)
        if not use_batch:  # fixed running statistics: a per-channel affine map
            return grad_hat * inv_std
        return _normalize_backward(grad_hat, x_hat, inv_std, axes)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"num_features": module.num_features, "eps": module.eps,
                "momentum": module.momentum, "affine": module.affine,
                "track_running_stats": module.track_running_stats,
                "bias": module.bias is not None or not module.affine}


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C.

    y = gamma * (x - mean) / sqrt(var + eps) + beta. In training (or when running statistics
    are not tracked) mean and var are the biased batch statistics over N (and L), and the
    buffers follow running = (1 - m) running + m batch (unbiased variance; m = momentum, or
    1 / num_batches_tracked when momentum is None). In eval the running statistics are used.

    Args:
        num_features: number of channels C.
        eps: added to the variance.
        momentum: m above, or None for a cumulative average.
        affine: learn ``weight`` (gamma, ones) and ``bias`` (beta, zeros), both (C,).
        track_running_stats: keep ``running_mean``, ``running_var`` (C,) and
            ``num_batches_tracked`` buffers.
        bias: with ``affine``, whether to learn ``bias`` too (keyword only, as torch).
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C; see :class:`BatchNorm1d`.

    Statistics run over N, H and W. Arguments as :class:`BatchNorm1d`.
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample.

    y = gamma * (x - mean) / sqrt(var + eps) + beta, mean and biased var over the last
    len(normalized_shape) axes.

    Args:
        normalized_shape: int or tuple, the trailing shape (e.g. (D,)) to normalise over.
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (ones) of shape ``normalized_shape``.
        bias: with ``elementwise_affine``, also learn ``bias`` (zeros) of that shape.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list)) or not normalized_shape:
            raise TypeError(f"normalized_shape must be an int or a non-empty tuple of ints, "
                            f"got {normalized_shape!r}")
        self.normalized_shape = tuple(positive_int(size, "normalized_shape")
                                      for size in normalized_shape)
        self.eps = real_number(eps, "eps", low=0.0, low_inclusive=False)
        self.elementwise_affine = bool(elementwise_affine)
        if self.elementwise_affine:
            self.add_param("weight", np.ones(self.normalized_shape))
            if bias:
                self.add_param("bias", np.zeros(self.normalized_shape))
        self._cache = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: ``(*, *normalized_shape)``, e.g. ``(N, T, D)``. Returns y, same shape."""
        x = as_float_array(input, "input")
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape or x.ndim < k:
            raise ValueError(f"input must end with normalized_shape {self.normalized_shape}, "
                             f"got shape {x.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = np.mean(x, axis=axes, keepdims=True)  # (*, 1, ..., 1)
        inv_std = 1.0 / np.sqrt(np.var(x, axis=axes, keepdims=True) + self.eps)
        x_hat = (x - mean) * inv_std
        self._cache = (x_hat, inv_std, axes)
        if "weight" in self._params:
            x_hat = x_hat * self._params["weight"]
        if "bias" in self._params:
            x_hat = x_hat + self._params["bias"]
        return x_hat

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, shape of y. Returns dL/dx; adds into dL/dweight and dL/dbias."""
        shape = None if self._cache is None else self._cache[0].shape
        grad = as_grad_output(grad_output, shape, "LayerNorm")
        x_hat, inv_std, axes = self._cache
        leading = tuple(range(grad.ndim - len(axes)))  # the sample axes (*)
        grad_hat = grad
        if "weight" in self._params:
            self._grads["weight"] += np.sum(grad * x_hat, axis=leading)
            grad_hat = grad * self._params["weight"]
        if "bias" in self._params:
            self._grads["bias"] += np.sum(grad, axis=leading)
        return _normalize_backward(grad_hat, x_hat, inv_std, axes)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"normalized_shape": tuple(module.normalized_shape), "eps": module.eps,
                "elementwise_affine": module.elementwise_affine,
                "bias": getattr(module, "bias", None) is not None}
