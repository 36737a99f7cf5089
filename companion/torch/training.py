"""The training loops the chapters share: ``fit`` over epochs, ``train_steps`` over steps.

:func:`fit` has the signature of :func:`companion.numpy.training.fit` and both return the same
:class:`~companion.core.training.History`. Loaders yield ``(inputs, targets)`` pairs (tensors,
or tuples/dicts of tensors for ``inputs``); ``loss_fn(outputs, targets)`` returns the batch mean,
and every metric ``metric(outputs, targets)`` returns a batch mean as a float. Epoch values are
averages weighted by batch size, so they equal the value over the whole data set.

:func:`train_steps` is the loop of models trained for a number of steps on batches drawn one at a
time (the language models, prototypical networks, the NAS benchmark, data-parallel training):
gradient clipping, a schedule stepped every step, an evaluation every ``k`` steps.
:func:`adamw` and :func:`warmup_cosine` are the recipe the transformer language models train
with: AdamW decaying matrices only, a linear warm-up then a cosine down to a tenth.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from companion.core.checks import flag, function_dict, pairs, positive_int, real_number
from companion.core.training import BestWeights, EarlyStopping, History, RunningMean

from ._inputs import module_input, tensor_input
from .device import default_device, to_device

__all__ = ["seed_everything", "accuracy", "evaluate", "fit", "train_steps", "History",
           "EarlyStopping", "adamw", "warmup_cosine"]

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    With ``deterministic`` also ask cuDNN for deterministic kernels and no autotuning (cheap
    flags that do not slow the CPU); DataLoader shuffling follows torch's seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    flag(deterministic, "deterministic")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic and torch.backends.cudnn.is_available():  # no cuDNN, nothing to pin
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions.

    logits (N, C) (or (N, C, d1, ...)) with class-index targets (N,) (or (N, d1, ...)): the
    prediction is the arg-max over C. Binary logits with targets of the same shape (*): the
    prediction is logit > 0 and the target counts as positive when > 0.5.
    """
    logits = tensor_input(logits, "logits")
    targets = tensor_input(targets, "targets", floating=False)
    if logits.dim() == targets.dim() + 1 and \
            targets.shape == logits.shape[:1] + logits.shape[2:]:
        correct = logits.argmax(dim=1) == targets
    elif logits.shape == targets.shape:
        correct = (logits > 0) == (targets > 0.5)
    else:
        raise ValueError(f"accuracy needs logits (N, C) with targets (N,), or binary logits and "
                         f"targets of one shape; got {tuple(logits.shape)} and "
                         f"{tuple(targets.shape)}")
    return correct.double().mean().item()


def _batch_size(targets) -> int:
    return len(targets) if isinstance(targets, torch.Tensor) and targets.dim() > 0 else 1


def _metric_values(metrics: Mapping[str, Metric], outputs, targets) -> dict[str, float]:
    return {name: float(metric(outputs, targets)) for name, metric in metrics.items()}


def _resolve(metrics, device):
    metrics = {"accuracy": accuracy} if metrics is None else function_dict(metrics, "metrics")
    return metrics, default_device() if device is None else torch.device(device)


def evaluate(model: nn.Module, loader, loss_fn: Callable | None = None,
             metrics: Mapping[str, Metric] | None = None, device=None) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode and without gradients.

    Returns ``{"loss": ..., name: ...}`` (no "loss" when ``loss_fn`` is None); ``metrics=None``
    means ``{"accuracy": accuracy}``, pass ``{}`` for none. The model's mode is restored after.
    """
    model = module_input(model, "model")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be a loss (callable) or None, got {type(loss_fn).__name__}")
    metrics, device = _resolve(metrics, device)
    was_training = model.training
    model.to(device).eval()
    mean = RunningMean()
    with torch.no_grad():
        for inputs, targets in pairs(loader, "loader"):
            inputs, targets = to_device(inputs, device), to_device(targets, device)
            outputs = model(inputs)
            values = _metric_values(metrics, outputs, targets)
            if loss_fn is not None:
                values = {"loss": loss_fn(outputs, targets).item(), **values}
            mean.add(values, _batch_size(targets))
    model.train(was_training)
    return mean.result()


def fit(model: nn.Module, train_loader, loss_fn: Callable, optimizer: torch.optim.Optimizer,
        epochs: int, val_loader=None, metrics: Mapping[str, Metric] | None = None,
        scheduler=None, early_stopping: EarlyStopping | int | None = None,
        max_steps: int | None = None, progress: bool = False, device=None) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` and return its :class:`History`.

    Each step: outputs = model(inputs), loss = loss_fn(outputs, targets), backward, optimiser step.
    After each epoch the model is evaluated on ``val_loader`` (if given) and ``scheduler`` steps
    (with the validation loss for ``ReduceLROnPlateau``). Training stops early when the loss
    stops being finite (a diverged run): the history then ends with that epoch.

    Args:
        metrics: name -> metric(outputs, targets); None means ``{"accuracy": accuracy}``, pass
            ``{}`` for regression.
        early_stopping: an :class:`EarlyStopping` or a patience (int); needs ``val_loader``.
        max_steps: stop after this many optimiser steps in total (None: no limit).
        progress: show a tqdm bar over epochs (it disappears when done: ``leave=False``).
        device: where to train; None picks :func:`default_device`. The model is moved there.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    early_stopping = EarlyStopping.of(early_stopping, val_loader is not None)
    metrics, device = _resolve(metrics, device)
    model.to(device)
    history, best = History(), BestWeights(model, early_stopping)
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc="epochs", leave=False, disable=not progress):
        model.train()
        mean = RunningMean()
        for inputs, targets in train_loader:
            if max_steps is not None and history.steps >= max_steps:
                break
            inputs, targets = to_device(inputs, device), to_device(targets, device)
            history.lr.append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            optimizer.step()
            history.step_loss.append(loss.item())
            with torch.no_grad():
                values = {"loss": history.step_loss[-1],
                          **_metric_values(metrics, outputs, targets)}
            mean.add(values, _batch_size(targets))
            if not math.isfinite(history.step_loss[-1]):
                break
        val = None if val_loader is None else evaluate(model, val_loader, loss_fn, metrics, device)
        watched = history.evaluated(mean.result(), val)
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(watched)
            else:
                scheduler.step()
        if best.update(history, watched) or not math.isfinite(history.train_loss[-1]) or \
                (max_steps is not None and history.steps >= max_steps):
            break
    best.restore()
    history.seconds = time.perf_counter() - start
    return history


def train_steps(model: nn.Module, batches: Iterator, compute_loss: Callable,
                optimizer: torch.optim.Optimizer, steps: int, scheduler=None,
                clip_norm: float | None = None, evaluate: Callable | None = None,
                eval_every: int | None = None, max_seconds: float | None = None) -> History:
    """Take ``steps`` optimiser steps, one batch each, and return the :class:`History`.

    Each step draws ``batch = next(batches)``, computes ``compute_loss(model, batch)``, zeroes the
    gradients, back-propagates, clips the gradient norm to ``clip_norm`` (if given), steps the
    optimiser and then ``scheduler`` (if given). Every ``eval_every`` steps and after the last
    one, the period closes: its mean training loss (and metrics) are recorded, with
    ``evaluate(model)`` if given. The model is put in training mode first and left in it.

    Args:
        batches: an iterator of batches in whatever form ``compute_loss`` reads; one is drawn
            per step, so a random sampler is consumed in step order.
        compute_loss: ``compute_loss(model, batch)`` -> the scalar loss tensor, or
            ``(loss, {name: value})`` to record metrics of the batch (means per period).
        steps: number of optimiser steps.
        clip_norm: the largest gradient norm (None: no clipping).
        evaluate: ``evaluate(model)`` -> ``{"loss": ..., name: ...}`` on held-out data (either
            key optional), recorded as ``val_loss``/``val_metrics``.
        eval_every: steps per period (None: one period, closed after the last step).
        max_seconds: stop after the step that passes this much wall time (a machine-dependent
            run; None keeps it deterministic).
    """
    steps = positive_int(steps, "steps")
    eval_every = steps if eval_every is None else positive_int(eval_every, "eval_every")
    history, mean, best = History(), RunningMean(), BestWeights(model, None)
    start = time.perf_counter()
    model.train()
    for step in range(steps):
        out = compute_loss(model, next(batches))
        loss, values = out if isinstance(out, tuple) else (out, {})
        history.lr.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history.step_loss.append(loss.item())
        mean.add({"loss": history.step_loss[-1], **values}, 1)
        last = step == steps - 1 or (max_seconds is not None
                                     and time.perf_counter() - start > max_seconds)
        if (step + 1) % eval_every == 0 or last:
            val = None if evaluate is None else evaluate(model)
            best.update(history, history.evaluated(mean.result(), val))
            mean = RunningMean()
        if last:
            break
    history.seconds = time.perf_counter() - start
    return history


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.99) decaying the matrices, not biases, norm gains or embeddings."""
    module_input(model, "model")
    lr = real_number(lr, "lr", 0.0)
    weight_decay = real_number(weight_decay, "weight_decay", 0.0)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "emb" not in n]
    keep = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "emb" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": keep, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int,
                  warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Scale the learning rate by (s + 1) / warmup for s < warmup, then follow a cosine from
    1 down to 0.1 at step ``steps``; call ``.step()`` after each optimiser step."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    positive_int(steps, "steps", allow_zero=True)
    positive_int(warmup, "warmup", allow_zero=True)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(1, steps - warmup), 1.0)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
