"""A small training loop shared by the chapters: seeding, ``fit``, ``evaluate`` and ``accuracy``.

:func:`adamw` and :func:`warmup_cosine` are the recipe the transformer language models train
with: AdamW decaying matrices only, a linear warm-up then a cosine down to a tenth.

Loaders yield ``(inputs, targets)`` pairs (tensors, or tuples/dicts of tensors for ``inputs``);
``loss_fn(outputs, targets)`` returns the batch mean, and every metric ``metric(outputs, targets)``
returns a batch mean as a float. Epoch values are averages weighted by batch size, so they equal
the value over the whole data set.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from companion.core.checks import positive_int

from .device import default_device, to_device

__all__ = ["seed_everything", "accuracy", "evaluate", "fit", "History", "EarlyStopping", "adamw",
           "warmup_cosine"]

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    With ``deterministic`` also ask cuDNN for deterministic kernels and no autotuning (cheap
    flags that do not slow the CPU); DataLoader shuffling follows torch's seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions.

    logits (N, C) (or (N, C, d1, ...)) with class-index targets (N,) (or (N, d1, ...)): the
    prediction is the arg-max over C. Binary logits with targets of the same shape (*): the
    prediction is logit > 0 and the target counts as positive when > 0.5.
    """
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


@dataclass
class EarlyStopping:
    """Stop when the validation loss has not fallen by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best`` the model ends with the weights of its best epoch."""

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True


@dataclass
class History:
    """What :func:`fit` recorded, one entry per epoch.

    ``train_metrics``/``val_metrics`` map each metric name to its per-epoch values;
    ``best_epoch`` (0-based) has the lowest validation loss (training loss without a validation
    set); ``elapsed`` is the total wall time in seconds.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    train_metrics: dict[str, list[float]] = field(default_factory=dict)
    val_metrics: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    elapsed: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)
    steps: int = 0
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_loss)


class _Mean:
    """Running averages weighted by batch size."""

    def __init__(self):
        self.totals: dict[str, float] = {}
        self.count = 0

    def add(self, values: Mapping[str, float], n: int) -> None:
        for name, value in values.items():
            self.totals[name] = self.totals.get(name, 0.0) + value * n
        self.count += n

    def result(self) -> dict[str, float]:
        return {name: total / max(self.count, 1) for name, total in self.totals.items()}


def _batch_size(targets) -> int:
    return len(targets) if isinstance(targets, torch.Tensor) and targets.dim() > 0 else 1


def _metric_values(metrics: Mapping[str, Metric], outputs, targets) -> dict[str, float]:
    return {name: float(metric(outputs, targets)) for name, metric in metrics.items()}


def _resolve(metrics, device):
    metrics = {"accuracy": accuracy} if metrics is None else dict(metrics)
    return metrics, default_device() if device is None else torch.device(device)


def evaluate(model: nn.Module, loader, loss_fn: Callable | None = None,
             metrics: Mapping[str, Metric] | None = None, device=None) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode and without gradients.

    Returns ``{"loss": ..., name: ...}`` (no "loss" when ``loss_fn`` is None); ``metrics=None``
    means ``{"accuracy": accuracy}``, pass ``{}`` for none. The model's mode is restored after.
    """
    metrics, device = _resolve(metrics, device)
    was_training = model.training
    model.to(device).eval()
    mean = _Mean()
    with torch.no_grad():
        for inputs, targets in loader:
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
        scheduler=None, early_stopping: EarlyStopping | int | None = None, device=None,
        progress: bool = False, max_steps: int | None = None) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` and return its :class:`History`.

    Each step: outputs = model(inputs), loss = loss_fn(outputs, targets), backward, optimiser step.
    After each epoch the model is evaluated on ``val_loader`` (if given) and ``scheduler`` steps
    (with the validation loss for ``ReduceLROnPlateau``).

    Args:
        metrics: name -> metric(outputs, targets); None means ``{"accuracy": accuracy}``, pass
            ``{}`` for regression.
        early_stopping: an :class:`EarlyStopping` or a patience (int); needs ``val_loader``.
        device: where to train; None picks :func:`default_device`. The model is moved there.
        progress: show a tqdm bar over epochs (it disappears when done: ``leave=False``).
        max_steps: stop after this many optimiser steps in total (None: no limit).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(f"early_stopping must be None, an int patience or an EarlyStopping, "
                            f"got {type(early_stopping).__name__}")
        if val_loader is None:
            raise ValueError("early_stopping needs a val_loader to watch the validation loss")
    metrics, device = _resolve(metrics, device)
    model.to(device)
    history = History(train_metrics={name: [] for name in metrics},
                      val_metrics={name: [] for name in metrics} if val_loader is not None else {})
    best_loss, best_state, waited = float("inf"), None, 0
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc="epochs", leave=False, disable=not progress)
    for epoch in bar:
        epoch_start = time.perf_counter()
        model.train()
        mean = _Mean()
        for inputs, targets in train_loader:
            if max_steps is not None and history.steps >= max_steps:
                break
            inputs, targets = to_device(inputs, device), to_device(targets, device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            optimizer.step()
            history.steps += 1
            with torch.no_grad():
                values = {"loss": loss.item(), **_metric_values(metrics, outputs, targets)}
            mean.add(values, _batch_size(targets))
        train = mean.result()
        history.train_loss.append(train.get("loss", float("nan")))
        for name in metrics:
            history.train_metrics[name].append(train.get(name, float("nan")))
        watched = history.train_loss[-1]
        if val_loader is not None:
            val = evaluate(model, val_loader, loss_fn, metrics, device)
            history.val_loss.append(val["loss"])
            for name in metrics:
                history.val_metrics[name].append(val[name])
            watched = val["loss"]
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(watched)
            else:
                scheduler.step()
        history.epoch_seconds.append(time.perf_counter() - epoch_start)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.4f}",
                        **({"val_loss": f"{watched:.4f}"} if val_loader is not None else {}))
        min_delta = early_stopping.min_delta if early_stopping is not None else 0.0
        if watched < best_loss - min_delta:
            best_loss, waited, history.best_epoch = watched, 0, epoch
            if early_stopping is not None and early_stopping.restore_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
        if early_stopping is not None and waited >= early_stopping.patience:
            history.stopped_early = True
            break
        if max_steps is not None and history.steps >= max_steps:
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    history.elapsed = time.perf_counter() - start
    return history


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.99) decaying the matrices, not biases, norm gains or embeddings."""
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "emb" not in n]
    keep = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "emb" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": keep, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int,
                  warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Scale the learning rate by (s + 1) / warmup for s < warmup, then follow a cosine from
    1 down to 0.1 at step ``steps``; call ``.step()`` after each optimiser step."""
    positive_int(warmup, "warmup", allow_zero=True)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(1, steps - warmup), 1.0)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
