"""Loss functions: MSELoss, CrossEntropyLoss, NLLLoss and BCEWithLogitsLoss.

``forward(input, target)`` returns the loss (a float for ``reduction="mean"`` or ``"sum"``, an
array of per-element losses for ``"none"``); ``backward(grad_output=1.0)`` returns dL/d input,
where ``grad_output`` is dL/d loss (a scalar, or an array shaped like the unreduced loss).
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, real_number
from companion.core.checks import as_grad_output
from companion.core.functional import log_softmax, sigmoid
from companion.numpy.module import Module

_REDUCTIONS = ("mean", "sum", "none")


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), which never overflows."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


class _Loss(Module):
    """Shared reduction logic: per-element losses l_i, reduced to sum_i l_i / denominator."""

    def __init__(self, reduction: str):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of 'mean', 'sum', 'none', got {reduction!r}")
        self.reduction = reduction
        self._loss_shape = None
        self._denominator = 1.0

    def _reduce(self, losses: np.ndarray, denominator: float):
        """Store what backward needs and reduce the per-element ``losses``."""
        self._loss_shape = losses.shape
        self._denominator = float(denominator)
        if self.reduction == "none":
            return losses
        total = np.sum(losses)
        if self.reduction == "sum":
            return np.float64(total)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 is nan, as in torch
            return np.float64(total / self._denominator)

    def _upstream(self, grad_output) -> np.ndarray:
        """dL/d l_i for every per-element loss, shape of the unreduced loss."""
        name = type(self).__name__
        if self.reduction == "none":
            return as_grad_output(grad_output, self._loss_shape, name)
        if self._loss_shape is None:
            raise RuntimeError(f"{name}.backward was called before forward")
        grad = as_float_array(grad_output, "grad_output")
        if grad.ndim:
            raise ValueError(f"grad_output must be a scalar for reduction={self.reduction!r}, "
                             f"got shape {grad.shape}")
        if self.reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                grad = grad / self._denominator
        return np.full(self._loss_shape, float(grad))

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"reduction": module.reduction}


def _check_same_shape(input: np.ndarray, target: np.ndarray) -> None:
    if input.shape != target.shape:
        raise ValueError(f"target must have the shape of input {input.shape}, "
                         f"got {target.shape}")


def _optional_weight(value, name: str) -> np.ndarray | None:
    return None if value is None else as_float_array(value, name)


def _torch_buffer(module, name: str) -> np.ndarray | None:
    value = getattr(module, name, None)
    return None if value is None else value.detach().cpu().numpy()


class MSELoss(_Loss):
    """Mean squared error, l_i = (x_i - y_i)^2; dl_i/dx_i = 2 (x_i - y_i).

    Args:
        reduction: ``"mean"`` (divide the sum by the number of elements), ``"sum"`` or ``"none"``.
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__(reduction)
        self._diff = None

    def forward(self, input: np.ndarray, target: np.ndarray):
        """input: prediction, any shape (*). target: same shape. Returns the loss."""
        input = as_float_array(input, "input")
        target = as_float_array(target, "target")
        _check_same_shape(input, target)
        self._diff = input - target
        return self._reduce(self._diff ** 2, self._diff.size)

    def backward(self, grad_output=1.0) -> np.ndarray:
        """grad_output: dL/d loss. Returns dL/d input, shape (*)."""
        return self._upstream(grad_output) * 2.0 * self._diff


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, l_i = -w_i [p_i y_i log s(x_i) + (1 - y_i) log(1 - s(x_i))].

    With s the sigmoid, log s(x) = -softplus(-x) and log(1 - s(x)) = -softplus(x), so
    l_i = w_i [p_i y_i softplus(-x_i) + (1 - y_i) softplus(x_i)], finite for any logit, and
    dl_i/dx_i = w_i [(1 - y_i) s(x_i) - p_i y_i s(-x_i)].

    Args:
        weight: rescaling w of each element, broadcastable to the input shape, or None.
        reduction: ``"mean"`` (over all elements), ``"sum"`` or ``"none"``.
        pos_weight: weight p of the positive term, broadcastable to the input (often (C,)), or None.
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        for name, value in (("weight", weight), ("pos_weight", pos_weight)):
            value = _optional_weight(value, name)
            if value is not None:
                self.add_buffer(name, value.astype(np.float64))
        self._cache = None

    def _broadcast(self, name: str, shape: tuple) -> np.ndarray | float:
        if name not in self._buffers:
            return 1.0
        value = self._buffers[name]
        try:
            if np.broadcast_shapes(value.shape, shape) == shape:
                return value
        except ValueError:
            pass
        raise ValueError(f"{name} of shape {value.shape} must broadcast to the input shape "
                         f"{shape}")

    def forward(self, input: np.ndarray, target: np.ndarray):
        """input: logits, any shape (*). target: probabilities in [0, 1], same shape."""
        input = as_float_array(input, "input")
        target = as_float_array(target, "target")
        _check_same_shape(input, target)
        weight = self._broadcast("weight", input.shape)
        pos_weight = self._broadcast("pos_weight", input.shape)
        self._cache = (input, target, weight, pos_weight)
        # softplus(x) = x + softplus(-x) turns the loss into torch's form, which also gives
        # torch's value at x = -inf (nan, from -inf + inf) rather than a different inf
        losses = weight * ((1.0 - target) * input
                           + ((pos_weight - 1.0) * target + 1.0) * _softplus(-input))
        return self._reduce(losses, input.size)

    def backward(self, grad_output=1.0) -> np.ndarray:
        """grad_output: dL/d loss. Returns dL/d input (the logits), shape (*)."""
        upstream = self._upstream(grad_output)
        x, y, weight, pos_weight = self._cache
        local = weight * ((1.0 - y) * sigmoid(x) - pos_weight * y * sigmoid(-x))
        return upstream * local

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"reduction": module.reduction, "weight": _torch_buffer(module, "weight"),
                "pos_weight": _torch_buffer(module, "pos_weight")}


class _ClassLoss(_Loss):
    """Shared parts of NLLLoss and CrossEntropyLoss: class weights, ignore_index, layout."""

    def __init__(self, weight, ignore_index: int, reduction: str):
        super().__init__(reduction)
        weight = _optional_weight(weight, "weight")
        if weight is not None:
            if weight.ndim != 1:
                raise ValueError(f"weight must have 1 dimension (C,), got shape {weight.shape}")
            self.add_buffer("weight", weight.astype(np.float64))
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise TypeError(f"ignore_index must be an int, got {type(ignore_index).__name__}")
        self.ignore_index = int(ignore_index)
        self._class_axis = 0
        self._kept = None

    def _upstream(self, grad_output) -> np.ndarray:
        """dL/d l_i, and exactly 0 for ignored targets: when every target is ignored the mean
        is 0 / 0 = nan, as in torch, but the gradient stays zero instead of 0 * inf = nan."""
        with np.errstate(invalid="ignore"):
            return np.where(self._kept, super()._upstream(grad_output), 0.0)

    def _class_weight(self, classes: int) -> np.ndarray:
        weight = self._buffers.get("weight")
        if weight is None:
            return np.ones(classes)
        if weight.shape != (classes,):
            raise ValueError(f"weight must have one entry per class ({classes},), "
                             f"got shape {weight.shape}")
        return weight

    def _layout(self, input) -> np.ndarray:
        """Input (C,), (N, C) or (N, C, d_1, ...) as an array with the class axis last."""
        input = as_float_array(input, "input")
        if input.ndim == 0:
            raise ValueError("input must have shape (C,), (N, C) or (N, C, d1, ...), got a scalar")
        self._class_axis = 0 if input.ndim == 1 else 1
        return np.moveaxis(input, self._class_axis, -1)  # (N, d1, ..., C)

    def _indices(self, target, batch_shape: tuple, classes: int):
        """Class-index targets (N, d1, ...) and the mask of those not equal to ignore_index."""
        target = np.asarray(target)
        if not np.issubdtype(target.dtype, np.integer):
            raise TypeError(f"target must hold integer class indices, got dtype {target.dtype}")
        if target.shape != batch_shape:
            raise ValueError(f"target must have shape {batch_shape} (the input shape without "
                             f"the class axis), got {target.shape}")
        kept = target != self.ignore_index
        chosen = target[kept]
        if chosen.size and (chosen.min() < 0 or chosen.max() >= classes):
            raise ValueError(f"target must hold class indices in [0, {classes}) or "
                             f"ignore_index={self.ignore_index}, got values from {chosen.min()} "
                             f"to {chosen.max()}")
        self._kept = kept
        return np.where(kept, target, 0).astype(np.int64), kept

    def _restore(self, grad: np.ndarray) -> np.ndarray:
        return np.moveaxis(grad, -1, self._class_axis)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"weight": _torch_buffer(module, "weight"), "ignore_index": module.ignore_index,
                "reduction": module.reduction}


class NLLLoss(_ClassLoss):
    """Negative log-likelihood of log-probabilities, l_i = -w_{y_i} x_{i, y_i}.

    Targets equal to ``ignore_index`` contribute nothing; ``"mean"`` divides the sum by
    sum_i w_{y_i} over the kept targets (their number when there are no weights).

    Args:
        weight: class weights w, shape (C,), or None for ones.
        ignore_index: target value that is skipped.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, ignore_index, reduction)
        self._cache = None

    def forward(self, input: np.ndarray, target: np.ndarray):
        """input: log-probabilities (C,), (N, C) or (N, C, d1, ...).

        target: class indices (N, d1, ...) (or () for a (C,) input). Returns the loss.
        """
        logp = self._layout(input)  # (N, d1, ..., C)
        classes = logp.shape[-1]
        index, kept = self._indices(target, logp.shape[:-1], classes)
        weight = self._class_weight(classes)[index] * kept  # (N, d1, ...)
        picked = np.take_along_axis(logp, index[..., None], axis=-1)[..., 0]
        self._cache = (logp.shape, index, weight)
        return self._reduce(-weight * picked, np.sum(weight))

    def backward(self, grad_output=1.0) -> np.ndarray:
        """grad_output: dL/d loss. Returns dL/d input, the input's shape."""
        upstream = self._upstream(grad_output)
        shape, index, weight = self._cache
        grad = np.zeros(shape)
        np.put_along_axis(grad, index[..., None], (-weight * upstream)[..., None], axis=-1)
        return self._restore(grad)


class CrossEntropyLoss(_ClassLoss):
    """Cross-entropy of logits against class indices or class probabilities.

    With log-probabilities log p = log_softmax(x) along the class axis and a target
    distribution q_i (a one-hot of y_i scaled by w_{y_i}, mixed with label smoothing e:
    q_ic = (1 - e) w_{y_i} [c = y_i] + e w_c / C), the loss is l_i = -sum_c q_ic log p_ic and
    dl_i/dx_ic = p_ic sum_c' q_ic' - q_ic. Log-sum-exp keeps logits of +-1e4 finite.
    ``"mean"`` divides by sum_i w_{y_i} over kept targets (as NLLLoss), or by the number of
    samples for probability targets.

    Args:
        weight: class weights w, shape (C,), or None for ones.
        ignore_index: class-index target value that is skipped.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: e in [0, 1].
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, ignore_index, reduction)
        self.label_smoothing = real_number(label_smoothing, "label_smoothing", 0.0, 1.0)
        self._cache = None

    def forward(self, input: np.ndarray, target: np.ndarray):
        """input: logits (C,), (N, C) or (N, C, d1, ...).

        target: class indices (N, d1, ...), or probabilities with the input's shape.
        """
        logits = self._layout(input)  # (N, d1, ..., C)
        classes = logits.shape[-1]
        weight = self._class_weight(classes)  # (C,)
        smoothing = self.label_smoothing
        target_array = np.asarray(target)
        if np.issubdtype(target_array.dtype, np.floating):
            probs = as_float_array(target_array, "target")
            if probs.shape != np.asarray(input).shape:
                raise ValueError(f"probability target must have the input's shape "
                                 f"{np.asarray(input).shape}, got {probs.shape}")
            probs = np.moveaxis(probs, self._class_axis, -1)  # (N, d1, ..., C)
            q = weight * ((1.0 - smoothing) * probs + smoothing / classes)
            denominator = q[..., 0].size
            self._kept = np.ones(q.shape[:-1], dtype=bool)
        else:
            index, kept = self._indices(target_array, logits.shape[:-1], classes)
            q = np.zeros(logits.shape)
            np.put_along_axis(q, index[..., None], (1.0 - smoothing) * weight[index][..., None],
                              axis=-1)
            q = (q + smoothing / classes * weight) * kept[..., None]
            denominator = np.sum(weight[index] * kept)
        logp = log_softmax(logits, axis=-1)
        self._cache = (np.exp(logp), q)
        with np.errstate(invalid="ignore"):  # 0 * log 0: a class q leaves out adds nothing
            terms = np.where(q == 0, 0.0, q * logp)  # even where its logit is -inf
        return self._reduce(-np.sum(terms, axis=-1), denominator)

    def backward(self, grad_output=1.0) -> np.ndarray:
        """grad_output: dL/d loss. Returns dL/d input (the logits), the input's shape."""
        upstream = self._upstream(grad_output)[..., None]
        probs, q = self._cache
        return self._restore(upstream * (probs * np.sum(q, axis=-1, keepdims=True) - q))

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {**super()._config_from_torch(module), "label_smoothing": module.label_smoothing}
