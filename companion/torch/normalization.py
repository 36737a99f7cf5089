"""Batch and layer normalisation from means and variances, mirroring ``torch.nn``'s layers."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from companion.core.checks import positive_int, real_number

from ._inputs import tensor_input

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(nn.Module):
    """Shared batch normalisation over every axis but the channel axis 1.

    y = (x - mu) / sqrt(var + eps) * gamma + beta, with per-channel mu and (biased) var taken over
    the batch in training and from the running estimates in evaluation. Each training step updates
    running = (1 - m) running + m batch statistic, with the *unbiased* variance
    var * n / (n - 1), n values per channel; ``momentum=None`` makes m = 1 / num_batches_tracked
    (a plain running average).
    Parameters ``weight`` gamma (C,) = 1 and ``bias`` beta (C,) = 0; buffers ``running_mean`` (C,)
    = 0, ``running_var`` (C,) = 1 and ``num_batches_tracked`` () = 0, torch's names and values.
    """

    _allowed_dims: tuple[int, ...] = ()
    _shape_hint = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None,
                 *, bias: bool = True):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.num_features = positive_int(num_features, "num_features")
        real_number(eps, "eps", low=0.0, low_inclusive=False)
        if momentum is not None:
            real_number(momentum, "momentum", 0.0, 1.0)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = nn.Parameter(torch.empty(num_features, **factory)) if affine else None
        self.bias = nn.Parameter(torch.empty(num_features, **factory)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer("num_batches_tracked",
                                 torch.tensor(0, dtype=torch.long, device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """gamma = 1, beta = 0 and fresh running statistics."""
        self.reset_running_stats()
        with torch.no_grad():
            if self.weight is not None:
                self.weight.fill_(1)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        if input.dim() not in self._allowed_dims or input.shape[1] != self.num_features:
            raise ValueError(f"input must have shape {self._shape_hint} with C = "
                             f"{self.num_features}, got {tuple(input.shape)}")
        axes = [0] + list(range(2, input.dim()))                   # all but the channel axis
        view = (1, -1) + (1,) * (input.dim() - 2)                  # (1, C, 1, ...) broadcasts
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            count = input.numel() // self.num_features             # n values per channel
            if count < 2:
                raise ValueError(f"training needs more than 1 value per channel, got input of "
                                 f"shape {tuple(input.shape)}")
            mean = input.mean(dim=axes)                             # (C,)
            var = ((input - mean.view(view)) ** 2).mean(dim=axes)  # (C,) biased
            if self.training and self.track_running_stats:
                self._update_running(mean.detach(), var.detach() * count / (count - 1))
        else:
            mean, var = self.running_mean, self.running_var
        out = (input - mean.view(view)) / torch.sqrt(var.view(view) + self.eps)
        if self.weight is not None:
            out = out * self.weight.view(view)
        if self.bias is not None:
            out = out + self.bias.view(view)
        return out

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        self.num_batches_tracked += 1
        m = 1.0 / self.num_batches_tracked.item() if self.momentum is None else self.momentum
        self.running_mean.mul_(1 - m).add_(m * mean)
        self.running_var.mul_(1 - m).add_(m * unbiased_var)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs per channel C; output: input's shape."""

    _allowed_dims = (2, 3)
    _shape_hint = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C; output has the input's shape."""

    _allowed_dims = (4,)
    _shape_hint = "(N, C, H, W)"


class LayerNorm(nn.Module):
    """Normalise each sample over its last dimensions: y = (x - mu) / sqrt(var + eps) gamma + beta.

    mu and the biased var are taken over the trailing ``normalized_shape`` dimensions of a sample.
    Parameters ``weight`` gamma = 1 and ``bias`` beta = 0, both of shape ``normalized_shape``.
    Input: ``(*, *normalized_shape)``. Output: the same shape.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        if not isinstance(normalized_shape, (tuple, list, torch.Size)):
            raise TypeError(f"normalized_shape must be an int or a tuple of ints, got "
                            f"{type(normalized_shape).__name__} {normalized_shape!r}")
        self.normalized_shape = tuple(positive_int(s, "normalized_shape") for s in normalized_shape)
        real_number(eps, "eps", low=0.0, low_inclusive=False)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.empty(self.normalized_shape, **factory))
            if bias:
                self.bias = nn.Parameter(torch.empty(self.normalized_shape, **factory))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """gamma = 1, beta = 0."""
        with torch.no_grad():
            if self.weight is not None:
                self.weight.fill_(1)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        k = len(self.normalized_shape)
        if tuple(input.shape[input.dim() - k:]) != self.normalized_shape or input.dim() < k:
            trailing = ", ".join(map(str, self.normalized_shape))
            raise ValueError(f"input must have shape (*, {trailing}), got {tuple(input.shape)}")
        axes = tuple(range(-k, 0))
        mean = input.mean(dim=axes, keepdim=True)                   # (*, 1, ..., 1)
        var = ((input - mean) ** 2).mean(dim=axes, keepdim=True)    # (*, 1, ..., 1) biased
        out = (input - mean) / torch.sqrt(var + self.eps)
        if self.weight is not None:
            out = out * self.weight
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
