"""What every training loop of the package records and shares, in NumPy and in torch alike.

``fit`` in :mod:`companion.numpy.training` and in :mod:`companion.torch.training`, and the
step-based :func:`companion.torch.training.train_steps`, all return a :class:`History`. A run
is cut into *periods*, each closed by an evaluation: an epoch in ``fit``, ``eval_every`` steps in
``train_steps``. Every step records its loss and learning rate; every evaluation records the
mean training loss and metrics of its period and the validation loss and metrics.
:class:`EarlyStopping` stops a run whose validation loss no longer falls.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["History", "EarlyStopping", "RunningMean", "BestWeights"]


@dataclass
class History:
    """What a training run recorded.

    Per optimiser step:

    - ``step_loss``: the loss of each step, computed before its update.
    - ``lr``: the learning rate each step used (the first parameter group's).

    Per evaluation (the end of each epoch in ``fit``; every ``eval_every`` steps and after the
    last in ``train_steps``):

    - ``eval_step``: the number of steps taken when it ran.
    - ``train_loss``: mean training loss of the period since the evaluation before (over its
      examples in ``fit``, over its steps in ``train_steps``).
    - ``train_metrics``: name -> the period's mean of each metric on the training batches.
    - ``val_loss``: the loss on the validation data (empty without validation data or loss).
    - ``val_metrics``: name -> each metric on the validation data.

    For the whole run:

    - ``best_epoch``: index of the evaluation with the lowest validation loss (the training
      loss without validation data), None before the first.
    - ``stopped_early``: whether :class:`EarlyStopping` ended the run.
    - ``seconds``: wall time in seconds.
    """

    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_metrics: dict[str, list[float]] = field(default_factory=dict)
    val_loss: list[float] = field(default_factory=list)
    val_metrics: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        """Number of optimiser steps taken."""
        return len(self.step_loss)

    @property
    def epochs(self) -> int:
        """Number of evaluations (epochs in ``fit``)."""
        return len(self.eval_step)

    def evaluated(self, train: Mapping[str, float], val: Mapping[str, float] | None) -> float:
        """Record one evaluation; returns the loss to watch (validation if given, else training).

        ``train`` and ``val`` map "loss" and metric names to the period's values.
        """
        self.eval_step.append(self.steps)
        self.train_loss.append(train.get("loss", float("nan")))
        for name, value in train.items():
            if name != "loss":
                self.train_metrics.setdefault(name, []).append(value)
        if val is None:
            return self.train_loss[-1]
        for name, value in val.items():
            if name != "loss":
                self.val_metrics.setdefault(name, []).append(value)
        if "loss" not in val:
            return self.train_loss[-1]
        self.val_loss.append(val["loss"])
        return self.val_loss[-1]


@dataclass
class EarlyStopping:
    """Stop when the validation loss has not fallen by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best`` the model ends with the weights of its best epoch."""

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True

    @classmethod
    def of(cls, early_stopping, has_validation: bool) -> EarlyStopping | None:
        """An :class:`EarlyStopping` from None, a patience (int) or an instance, checked."""
        if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
            early_stopping = cls(patience=early_stopping)
        if early_stopping is None:
            return None
        if not isinstance(early_stopping, cls):
            raise TypeError(f"early_stopping must be None, an int patience or an EarlyStopping, "
                            f"got {type(early_stopping).__name__}")
        if not has_validation:
            raise ValueError("early_stopping needs a val_loader to watch the validation loss")
        return early_stopping


class RunningMean:
    """Means of named values over a period, weighted by the number of examples behind each."""

    def __init__(self):
        self.totals: dict[str, float] = {}
        self.count = 0

    def add(self, values: Mapping[str, float], n: int) -> None:
        for name, value in values.items():
            self.totals[name] = self.totals.get(name, 0.0) + value * n
        self.count += n

    def result(self) -> dict[str, float]:
        return {name: total / max(self.count, 1) for name, total in self.totals.items()}


class BestWeights:
    """Follows the watched loss of each evaluation: records ``history.best_epoch``, keeps a copy
    of the best weights when early stopping restores them, and says when to stop."""

    def __init__(self, model, early_stopping: EarlyStopping | None):
        self.model, self.early_stopping = model, early_stopping
        self.best_loss, self.best_state, self.waited = math.inf, None, 0

    def update(self, history: History, watched: float) -> bool:
        """Take the latest evaluation into account; True when the run should stop."""
        stopping = self.early_stopping
        if watched < self.best_loss - (stopping.min_delta if stopping is not None else 0.0):
            self.best_loss, self.waited, history.best_epoch = watched, 0, history.epochs - 1
            if stopping is not None and stopping.restore_best:
                self.best_state = copy.deepcopy(self.model.state_dict())
        else:
            self.waited += 1
        history.stopped_early = stopping is not None and self.waited >= stopping.patience
        return history.stopped_early

    def restore(self) -> None:
        """Load the best weights back into the model, if they were kept."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
