"""The training loop in NumPy: shuffled mini-batches, one step, whole epochs, accuracy.

One step is the loop every chapter draws: forward pass, loss, backward pass, weight update.
:func:`train_step` does exactly that with a scratch model (a :class:`~companion.numpy.module.Module`
such as ``Sequential``), a scratch loss and an optimiser from :mod:`companion.numpy.optim`.
:func:`fit` repeats it over the batches of an :class:`ArrayLoader` for whole epochs; it has the
signature of :func:`companion.torch.training.fit` and returns the same
:class:`~companion.core.training.History`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import numpy as np
from tqdm import tqdm

from companion.core.checks import (as_float_array, as_rng, check_instance, flag, function_dict,
                                   pairs, positive_int)
from companion.core.training import BestWeights, EarlyStopping, History, RunningMean
from companion.numpy.module import Module
from companion.numpy.optim import Optimizer

__all__ = ["minibatches", "ArrayLoader", "train_step", "accuracy", "evaluate", "fit", "History",
           "EarlyStopping"]

Metric = Callable[[np.ndarray, np.ndarray], float]


def minibatches(n: int, batch_size: int, rng=None, shuffle: bool = True):
    """Yield index arrays that cover ``range(n)`` once, ``batch_size`` at a time.

    With ``shuffle`` the order is a fresh permutation drawn from ``rng``; the last batch may be
    smaller (nothing is dropped).

    Args:
        n: number of examples.
        batch_size: examples per batch; ``batch_size >= n`` gives one full batch.
        rng: None, an int seed or a ``numpy.random.Generator``.
        shuffle: draw a random order (True) or keep ``0, 1, ..., n - 1`` (False).

    Yields:
        int64 arrays (B,), B = batch_size except possibly the last.
    """
    n = positive_int(n, "n")
    batch_size = positive_int(batch_size, "batch_size")
    order = as_rng(rng).permutation(n) if flag(shuffle, "shuffle") else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


class ArrayLoader:
    """Mini-batches ``(x[index], y[index])`` of two arrays: the NumPy stand-in for a DataLoader.

    Every pass over it (every ``for`` loop) covers the examples once, in batches of
    :func:`minibatches`, in a fresh order drawn from ``rng`` when ``shuffle``.

    Args:
        x: inputs, shape (N, ...). y: targets, shape (N, ...).
        batch_size: examples per batch; None gives one batch of all N (e.g. for validation).
        shuffle: draw a new random order for every pass (True) or keep the order (False).
        rng: None, an int seed or a ``numpy.random.Generator``, drawn from pass after pass.
    """

    def __init__(self, x, y, batch_size: int | None = None, shuffle: bool = False, rng=None):
        self.x = as_float_array(x, "x")
        self.y = np.asarray(y)
        if self.x.ndim == 0 or self.y.ndim == 0:
            raise ValueError(f"x and y must hold one entry per example (N, ...), got shapes "
                             f"{self.x.shape} and {self.y.shape}")
        if len(self.x) != len(self.y):
            raise ValueError(f"x and y must hold the same number of examples, got {len(self.x)} "
                             f"and {len(self.y)}")
        self.batch_size = len(self.x) if batch_size is None else positive_int(batch_size,
                                                                               "batch_size")
        self.shuffle, self.rng = flag(shuffle, "shuffle"), as_rng(rng)

    def __iter__(self):
        for index in minibatches(len(self.x), self.batch_size, self.rng, self.shuffle):
            yield self.x[index], self.y[index]

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)


def train_step(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray):
    """One turn of the training loop on one batch.

    forward: ŷ = model(x); loss: J = loss_fn(ŷ, y); backward: dJ/dθ for every parameter θ;
    update: the optimiser moves θ against its gradient.

    Args:
        model: a scratch Module with ``forward``, ``backward``, ``zero_grad``, ``gradients``.
        loss_fn: a scratch loss (``forward(input, target)``, ``backward()``).
        optimizer: an optimiser built on ``model.parameters()``.
        x: inputs, shape (B, ...). y: targets, as ``loss_fn`` expects them.

    Returns:
        (loss, output): the batch loss before the update, as a float, and the model's output ŷ.
    """
    check_instance(model, Module, "model", "a companion.numpy Module")
    check_instance(loss_fn, Module, "loss_fn", "a companion.numpy loss such as MSELoss()")
    check_instance(optimizer, Optimizer, "optimizer", "a companion.numpy optimiser")
    as_float_array(x, "x")
    as_float_array(y, "y")
    model.zero_grad()
    output = model(x)                                   # forward pass
    loss = loss_fn(output, y)                           # calculate loss
    model.backward(loss_fn.backward())                  # backward pass: dJ/dθ into model.grads
    optimizer.step(model.gradients())                   # update weights
    return float(loss), output


def accuracy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of correct predictions.

    logits (N, C) (or (N, C, d1, ...)) with class-index targets (N,) (or (N, d1, ...)): the
    prediction is the arg-max over C. Binary logits with targets of the same shape (*): the
    prediction is logit > 0 and the target counts as positive when > 0.5.
    """
    logits, targets = as_float_array(logits, "logits"), np.asarray(targets)
    if logits.ndim == targets.ndim + 1 and \
            targets.shape == logits.shape[:1] + logits.shape[2:]:
        correct = logits.argmax(axis=1) == targets
    elif logits.shape == targets.shape:
        correct = (logits > 0) == (targets > 0.5)
    else:
        raise ValueError(f"accuracy needs logits (N, C) with targets (N,), or binary logits and "
                         f"targets of one shape; got {logits.shape} and {targets.shape}")
    return float(np.mean(correct))


def _metric_values(metrics: Mapping[str, Metric], output, targets) -> dict[str, float]:
    output = np.nan_to_num(output)                      # a diverged run still gets a score
    return {name: float(metric(output, targets)) for name, metric in metrics.items()}


def evaluate(model, loader, loss_fn=None, metrics: Mapping[str, Metric] | None = None
             ) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader``, in eval mode.

    Returns ``{"loss": ..., name: ...}`` (no "loss" when ``loss_fn`` is None), averaged over the
    examples; ``metrics=None`` means ``{"accuracy": accuracy}``, pass ``{}`` for none. The
    model's mode is restored after.
    """
    check_instance(model, Module, "model", "a companion.numpy Module")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be a loss (callable) or None, got {type(loss_fn).__name__}")
    metrics = {"accuracy": accuracy} if metrics is None else function_dict(metrics, "metrics")
    was_training = model.training
    model.eval()
    mean = RunningMean()
    for x, y in pairs(loader, "loader"):
        with np.errstate(over="ignore", invalid="ignore"):
            output = model(x)
            values = {} if loss_fn is None else {"loss": float(loss_fn(output, y))}
        mean.add({**values, **_metric_values(metrics, output, y)}, len(y))
    model.train(was_training)
    return mean.result()


def fit(model, train_loader, loss_fn, optimizer, epochs: int, val_loader=None,
        metrics: Mapping[str, Metric] | None = None, scheduler=None,
        early_stopping: EarlyStopping | int | None = None, max_steps: int | None = None,
        progress: bool = False) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; return its :class:`History`.

    Each batch ``(x, y)`` of the loader (e.g. an :class:`ArrayLoader`) is one :func:`train_step`.
    After each epoch the model is evaluated on ``val_loader`` (if given) and ``scheduler``
    (from :mod:`companion.numpy.lr_scheduler`) steps. Training stops early when the loss stops
    being finite (a diverged run): the history then ends with that epoch.

    Args:
        metrics: name -> metric(output, y); None means ``{"accuracy": accuracy}``, pass ``{}``
            for regression.
        early_stopping: an :class:`EarlyStopping` or a patience (int); needs ``val_loader``.
        max_steps: stop after this many optimiser steps in total (None: no limit).
        progress: show a tqdm bar over epochs (it disappears when done: ``leave=False``).
    """
    epochs = positive_int(epochs, "epochs", allow_zero=True)
    early_stopping = EarlyStopping.of(early_stopping, val_loader is not None)
    metrics = {"accuracy": accuracy} if metrics is None else function_dict(metrics, "metrics")
    history, best = History(), BestWeights(model, early_stopping)
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc="epochs", leave=False, disable=not progress):
        model.train()
        mean = RunningMean()
        for x, y in train_loader:
            if max_steps is not None and history.steps >= max_steps:
                break
            history.lr.append(optimizer.lr)
            with np.errstate(over="ignore", invalid="ignore"):
                loss, output = train_step(model, loss_fn, optimizer, x, y)
            history.step_loss.append(loss)
            mean.add({"loss": loss, **_metric_values(metrics, output, y)}, len(y))
            if not math.isfinite(loss):
                break
        val = None if val_loader is None else evaluate(model, val_loader, loss_fn, metrics)
        watched = history.evaluated(mean.result(), val)
        if scheduler is not None:
            scheduler.step()
        if best.update(history, watched) or not math.isfinite(history.train_loss[-1]) or \
                (max_steps is not None and history.steps >= max_steps):
            break
    best.restore()
    history.seconds = time.perf_counter() - start
    return history
