"""Loss functions written from torch primitives, mirroring ``torch.nn``'s losses.

Cross-entropy goes through log-softmax (log-sum-exp) and the logistic loss through a stable
log-sigmoid, so logits of +-1e4 give finite losses and gradients.
"""

from __future__ import annotations

import torch
from torch import nn

from companion.core.checks import real_number

from ._inputs import tensor_input
from .activations import log_sigmoid, log_softmax

__all__ = ["MSELoss", "NLLLoss", "CrossEntropyLoss", "BCEWithLogitsLoss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str, size_average, reduce) -> str:
    if size_average is not None or reduce is not None:
        raise ValueError("size_average and reduce are deprecated in torch and not supported; "
                         f"use reduction, got size_average={size_average!r}, reduce={reduce!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_same_shape(input: torch.Tensor, target: torch.Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(f"target must have the shape of input {tuple(input.shape)}, "
                         f"got {tuple(target.shape)}")


class MSELoss(nn.Module):
    """Mean squared error: l_n = (x_n - y_n)^2, averaged (or summed) over all elements.

    Args of ``forward``: input (*) and target (*) of the same shape.
    Returns: a scalar, or (*) for ``reduction="none"``.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction, size_average, reduce)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        tensor_input(target, "target", floating=False)
        _check_same_shape(input, target)
        return _reduce((input - target) ** 2, self.reduction)


def _kept_mean(values: torch.Tensor, scale: torch.Tensor, keep: torch.Tensor,
               total: torch.Tensor) -> torch.Tensor:
    """sum_n scale_n values_n / total over the kept entries n; ignored ones get no gradient.

    torch's kernels skip ignored targets: when every target is ignored the mean is 0 / 0 = nan
    and the gradient zero. Dividing a masked sum instead would send 0 * inf = nan back, so the
    division acts on the (constant) weights, and the nan is added as a constant.
    """
    factor = torch.where(keep, scale / total, torch.zeros_like(scale))   # (N, d1, ...)
    mean = (factor * values).sum()
    return mean if keep.any() else mean + float("nan")


def _nll(log_probs: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None,
         ignore_index: int, reduction: str) -> torch.Tensor:
    """Weighted negative log-likelihood of class indices.

    l_n = -w_{y_n} log p_{n, y_n} (0 where y_n = ignore_index); the mean divides by sum_n w_{y_n}.
    log_probs: (N, C) or (N, C, d1, ...); target: (N,) or (N, d1, ...) of int64.
    """
    if target.dtype in (torch.float16, torch.float32, torch.float64, torch.bfloat16):
        raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
    n_classes = log_probs.shape[1]
    keep = target != ignore_index                                          # (N, d1, ...)
    safe_target = torch.where(keep, target, torch.zeros_like(target))
    if keep.any() and (safe_target[keep].min() < 0 or safe_target[keep].max() >= n_classes):
        raise ValueError(f"target must hold class indices in [0, {n_classes}) or ignore_index="
                         f"{ignore_index}, got values in "
                         f"[{int(target.min())}, {int(target.max())}]")
    picked = log_probs.gather(1, safe_target.unsqueeze(1)).squeeze(1)      # (N, d1, ...)
    w = torch.ones(n_classes, dtype=log_probs.dtype, device=log_probs.device) if weight is None \
        else weight.to(log_probs.dtype)
    w_target = w[safe_target] * keep                                       # (N, d1, ...)
    if reduction == "mean":
        return _kept_mean(-picked, w_target, keep, w_target.sum())
    return _reduce(-w_target * picked, reduction)


def _class_input(input: torch.Tensor, target: torch.Tensor, probabilities: bool):
    """Add a batch axis to unbatched (C,) input, and check the target's shape."""
    if input.dim() == 0:
        raise ValueError("input must have shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
    if input.dim() == 1:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    expected = tuple(input.shape) if probabilities else (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        kind = "class probabilities" if probabilities else "class indices"
        raise ValueError(f"target of {kind} must have shape {expected} for input of shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")
    return input, target


class NLLLoss(nn.Module):
    """Negative log-likelihood: l_n = -w_{y_n} x_{n, y_n}, for log-probabilities x.

    The mean is sum_n l_n / sum_n w_{y_n}; targets equal to ``ignore_index`` contribute nothing.
    Args of ``forward``: input (N, C) or (C,) or (N, C, d1, ...) of log-probabilities, target
    (N,) or () or (N, d1, ...) of class indices. Returns a scalar, or the target's shape for "none".
    """

    def __init__(self, weight: torch.Tensor | None = None, size_average=None,
                 ignore_index: int = -100, reduce=None, reduction: str = "mean"):
        super().__init__()
        self.reduction = _check_reduction(reduction, size_average, reduce)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        tensor_input(target, "target", floating=False)
        unbatched = input.dim() == 1
        input, target = _class_input(input, target, probabilities=False)
        loss = _nll(input, target, self.weight, self.ignore_index, self.reduction)
        return loss.squeeze(0) if unbatched and self.reduction == "none" else loss


class CrossEntropyLoss(nn.Module):
    """Cross-entropy of logits: log-softmax then negative log-likelihood, with label smoothing.

    With p = log_softmax(x) over classes, C classes, smoothing eps and class weights w:

    - class-index targets: l_n = (1 - eps) (-w_{y_n} p_{n,y_n}) + (eps / C) (-sum_c w_c p_{n,c});
      the mean divides by sum_n w_{y_n} over targets that are not ``ignore_index``;
    - probability targets: l_n = -sum_c w_c ((1 - eps) y_{n,c} + eps / C) p_{n,c}; the mean
      divides by N.

    Args of ``forward``: input (N, C), (C,) or (N, C, d1, ...) of logits; target of class indices
    (N,), () or (N, d1, ...), or of class probabilities with the input's shape.
    Returns a scalar, or one loss per sample for ``reduction="none"``.
    """

    def __init__(self, weight: torch.Tensor | None = None, size_average=None,
                 ignore_index: int = -100, reduce=None, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__()
        self.reduction = _check_reduction(reduction, size_average, reduce)
        self.label_smoothing = real_number(label_smoothing, "label_smoothing", 0.0, 1.0)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        tensor_input(target, "target", floating=False)
        probabilities = target.is_floating_point()
        unbatched = input.dim() == 1
        input, target = _class_input(input, target, probabilities)
        n_classes = input.shape[1]
        log_probs = log_softmax(input, dim=1)                                # (N, C, d1, ...)
        w = torch.ones(n_classes, dtype=input.dtype, device=input.device) if self.weight is None \
            else self.weight.to(input.dtype)
        w_shape = (1, n_classes) + (1,) * (input.dim() - 2)                  # broadcast over N, d
        eps = self.label_smoothing
        if probabilities:
            soft = (1 - eps) * target + eps / n_classes                      # (N, C, d1, ...)
            loss = _reduce(-(w.view(w_shape) * soft * log_probs).sum(1), self.reduction)
        else:
            loss = _nll(log_probs, target, self.weight, self.ignore_index, self.reduction)
            if eps > 0:
                keep = target != self.ignore_index                           # (N, d1, ...)
                smooth = -(w.view(w_shape) * log_probs).sum(1)               # (N, d1, ...)
                if self.reduction == "mean":
                    safe_target = torch.where(keep, target, torch.zeros_like(target))
                    smooth = _kept_mean(smooth, keep.to(smooth.dtype), keep,
                                        (w[safe_target] * keep).sum())
                else:
                    smooth = _reduce(smooth * keep, self.reduction)
                loss = (1 - eps) * loss + (eps / n_classes) * smooth
        return loss.squeeze(0) if unbatched and self.reduction == "none" else loss


class BCEWithLogitsLoss(nn.Module):
    """Binary cross-entropy of logits, through a stable log-sigmoid.

    l_n = -w_n [p y_n log sigma(x_n) + (1 - y_n) log sigma(-x_n)], with log sigma(-x) =
    log sigma(x) - x, ``pos_weight`` p (broadcast over the last, class axis) and ``weight`` w.
    Args of ``forward``: input (*) of logits and target (*) of probabilities in [0, 1].
    Returns a scalar, or (*) for ``reduction="none"``.
    """

    def __init__(self, weight: torch.Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: torch.Tensor | None = None):
        super().__init__()
        self.reduction = _check_reduction(reduction, size_average, reduce)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        tensor_input(input, "input")
        tensor_input(target, "target")
        _check_same_shape(input, target)
        log_p = log_sigmoid(input)                                           # log sigma(x)
        positive = target * log_p if self.pos_weight is None else self.pos_weight * target * log_p
        loss = -(positive + (1 - target) * (log_p - input))
        if self.weight is not None:
            loss = self.weight * loss
        return _reduce(loss, self.reduction)
