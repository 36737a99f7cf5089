"""The training loop in NumPy: shuffled mini-batches, one step, whole epochs, accuracy.

One step is the loop every chapter draws: forward pass, loss, backward pass, weight update.
:func:`train_step` does exactly that with a scratch model (a :class:`~companion.numpy.module.Module`
such as ``Sequential``), a scratch loss and an optimiser from :mod:`companion.numpy.optim`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from companion.core.checks import as_float_array, as_rng, positive_int


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
    order = as_rng(rng).permutation(n) if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def train_step(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray) -> float:
    """One turn of the training loop on one batch; returns the batch loss before the update.

    forward: ŷ = model(x); loss: J = loss_fn(ŷ, y); backward: dJ/dθ for every parameter θ;
    update: the optimiser moves θ against its gradient.

    Args:
        model: a scratch Module with ``forward``, ``backward``, ``zero_grad``, ``gradients``.
        loss_fn: a scratch loss (``forward(input, target)``, ``backward()``).
        optimizer: an optimiser built on ``model.parameters()``.
        x: inputs, shape (B, ...). y: targets, as ``loss_fn`` expects them.
    """
    model.zero_grad()
    output = model(x)                                   # forward pass
    loss = loss_fn(output, y)                           # calculate loss
    model.backward(loss_fn.backward())                  # backward pass: dJ/dθ into model.grads
    optimizer.step(model.gradients())                   # update weights
    return float(loss)


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose arg-max over classes equals the label. logits (N, C), y (N,)."""
    logits = as_float_array(logits, "logits", ndim=2)
    y = np.asarray(y)
    if y.shape != logits.shape[:1]:
        raise ValueError(f"y must have shape ({logits.shape[0]},) to match logits "
                         f"{logits.shape}, got {y.shape}")
    return float(np.mean(logits.argmax(axis=1) == y))


@dataclass
class History:
    """Per-epoch records of :func:`fit`: mean training loss, and metrics on the held-out set.

    ``step_loss`` holds the loss of every single step (before its update).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)


def fit(model, loss_fn, optimizer, x: np.ndarray, y: np.ndarray, epochs: int,
        batch_size: int = 32, rng=None, validation=None, scheduler=None,
        accuracy_metric: bool = True) -> History:
    """Train ``model`` for ``epochs`` shuffled passes over ``(x, y)``; return its :class:`History`.

    Args:
        x: inputs, shape (N, ...). y: targets, shape (N, ...).
        epochs: number of passes over the data.
        batch_size: examples per step.
        rng: seed or Generator of the shuffles.
        validation: ``(x_val, y_val)`` evaluated after each epoch (in eval mode), or None.
        scheduler: a scheduler from :mod:`companion.numpy.lr_scheduler`, stepped once per epoch.
        accuracy_metric: record the validation accuracy (classification) as well as its loss.

    Training stops early when the loss stops being finite (a diverged run); the history then
    ends with that epoch, whose mean loss is ``inf`` or ``nan``.
    """
    epochs = positive_int(epochs, "epochs", allow_zero=True)
    x = as_float_array(x, "x")
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and "
                         f"{len(y)}")
    rng = as_rng(rng)
    history = History()
    for _ in range(epochs):
        history.lr.append(optimizer.lr)
        model.train()
        losses = []
        for index in minibatches(len(x), batch_size, rng):
            with np.errstate(over="ignore", invalid="ignore"):
                losses.append(train_step(model, loss_fn, optimizer, x[index], y[index]))
            if not math.isfinite(losses[-1]):
                break
        history.step_loss.extend(losses)
        history.train_loss.append(float(np.mean(losses)))
        if validation is not None:
            model.eval()
            with np.errstate(over="ignore", invalid="ignore"):
                output = model(validation[0])
                history.val_loss.append(float(loss_fn(output, validation[1])))
            if accuracy_metric:
                history.val_accuracy.append(accuracy(np.nan_to_num(output), validation[1]))
            model.train()
        if scheduler is not None:
            scheduler.step()
        if not math.isfinite(history.train_loss[-1]):
            break
    return history
