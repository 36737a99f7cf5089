"""Learning curves: test accuracy against the number of labelled training examples, over seeds.

- :func:`balanced_subset` draws a random subset of the training set with every class equally
  represented; for one seed the subsets of growing size are nested.
- :func:`train_classifier` trains a classifier with Adam on random mini-batches for a fixed
  number of steps (through :func:`companion.torch.training.train_steps`), updating only the
  parameters that still learn, so a frozen body stays frozen.
- :func:`learning_curve` repeats "seed, build, draw a subset, train, test" for every size and
  seed and returns a :class:`LearningCurve`. Two curves run with the same sizes and seeds see
  the same subsets, so their per-seed differences are paired comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from companion.core.checks import positive_int, real_number
from companion.torch._inputs import as_tensor_input, module_input
from companion.torch.training import accuracy, seed_everything, train_steps

__all__ = ["balanced_subset", "train_classifier", "held_out_accuracy", "learning_curve",
           "LearningCurve"]


def _labels(labels, name: str = "labels") -> np.ndarray:
    array = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D array of integer class labels, got shape "
                         f"{array.shape} with dtype {array.dtype}")
    return array


def balanced_subset(labels, size: int, seed: int) -> np.ndarray:
    """Indices of ``size`` examples, the classes as equally represented as the data allow.

    Each class's examples are put in a random order drawn from ``numpy.random.default_rng(seed)``;
    the subset takes the first example of every class, then the second of every class, and so
    on (the classes of one round in a random order) until ``size`` are chosen. Every class then
    holds ``size // C`` or one more (while it has examples left), and for one seed the subset of
    size n is contained in the subset of every larger size.

    Args:
        labels: (N,) integer class labels.
        size: number of examples to choose, 1 to N.
        seed: int seed of the draw.

    Returns:
        (size,) int64 indices into ``labels``, ascending.
    """
    labels = _labels(labels)
    size = positive_int(size, "size")
    if size > len(labels):
        raise ValueError(f"size must be at most the number of examples, {len(labels)}, "
                         f"got {size}")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(labels))                                 # (N,)
    rank = np.empty(len(labels), dtype=np.int64)                            # place in its class
    for c in np.unique(labels):
        members = shuffled[labels[shuffled] == c]
        rank[members] = np.arange(len(members))
    tie = rng.random(len(labels))                                           # order in a round
    order = np.lexsort((tie, rank))                                         # by rank, then tie
    return np.sort(order[:size])


def _batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches of ``min(batch_size, n)`` from a fresh random permutation each epoch."""
    batch_size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=generator)                      # (n,)
        for start in range(0, n - batch_size + 1, batch_size):              # drops a short tail
            yield order[start:start + batch_size]


def train_classifier(model: nn.Module, x, y, steps: int, lr: float, batch_size: int = 32,
                     weight_decay: float = 0.0, seed: int = 0):
    """Train ``model`` on the cross-entropy with Adam for ``steps`` steps; return its History.

    Each step reads ``min(batch_size, N)`` examples; an epoch is a fresh random permutation
    (from ``torch.Generator().manual_seed(seed)``) cut into batches, the short tail dropped.
    Only parameters with ``requires_grad`` are handed to Adam. The model is left in training
    mode, so layers such as :class:`companion.torch.augment.RandomAffine` act during training.

    Args:
        model: maps x (N, ...) to logits (N, C).
        x: (N, ...) inputs, a tensor or array (converted to float32).
        y: (N,) int class labels.
        steps: number of optimiser steps. lr: Adam's learning rate.
        batch_size: examples per step. weight_decay: Adam's L2 penalty.
        seed: seed of the batch order.
    """
    module_input(model, "model")
    x, y = _as_inputs(x, y)
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("model has no parameter that requires a gradient: nothing to train")
    optimizer = torch.optim.Adam(parameters, lr=real_number(lr, "lr", 0.0, low_inclusive=False),
                                 weight_decay=real_number(weight_decay, "weight_decay", 0.0))
    batches = _batches(len(y), positive_int(batch_size, "batch_size"),
                       torch.Generator().manual_seed(seed))

    def compute_loss(model: nn.Module, index: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(model(x[index]), y[index])                   # x[index] (B, ...)

    return train_steps(model, batches, compute_loss, optimizer, positive_int(steps, "steps"))


def _as_inputs(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    x = as_tensor_input(x, "x", "a numeric array or tensor (N, ...)", dtype=torch.float32)
    y = torch.as_tensor(_labels(y, "y"), dtype=torch.int64)
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"x and y must hold the same number of examples (at least one), got "
                         f"x of shape {tuple(x.shape)} and y of shape {tuple(y.shape)}")
    return x, y


@torch.no_grad()
def held_out_accuracy(model: nn.Module, x, y) -> float:
    """Fraction of ``x`` (N, ...) that ``model`` classifies as ``y`` (N,), in eval mode."""
    module_input(model, "model")
    x, y = _as_inputs(x, y)
    was_training = model.training
    model.eval()
    result = accuracy(model(x), y)
    model.train(was_training)
    return result


@dataclass
class LearningCurve:
    """Test accuracies of one model recipe, ``accuracy[i, j]`` for size ``sizes[i]`` and seed
    ``seeds[j]``: an array (S, R)."""

    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    accuracy: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """(S,) mean accuracy over seeds."""
        return self.accuracy.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        """(S,) standard deviation over seeds (ddof = 1; zero for a single seed)."""
        if len(self.seeds) < 2:
            return np.zeros(len(self.sizes))
        return self.accuracy.std(axis=1, ddof=1)

    def at(self, size: int) -> np.ndarray:
        """(R,) accuracies of every seed at one training-set size."""
        return self.accuracy[self.sizes.index(size)]

    def plot(self, ax, label: str, **kwargs):
        """Mean test error (%) against size on a log axis, error bars one standard deviation."""
        return ax.errorbar(self.sizes, 100 * (1 - self.mean), yerr=100 * self.std, capsize=3,
                           marker="o", label=label, **kwargs)


def learning_curve(make_model: Callable[[], nn.Module], x_train, y_train, x_test, y_test,
                   sizes: Sequence[int], seeds: Sequence[int], *, steps: int, lr: float,
                   batch_size: int = 32, weight_decay: float = 0.0) -> LearningCurve:
    """Test accuracy of ``make_model()`` trained on ``n`` examples, for each n and seed.

    For every size n and seed s: ``seed_everything(s)``, ``model = make_model()``, the subset
    ``balanced_subset(y_train, n, s)``, then :func:`train_classifier` with ``seed=s`` and
    :func:`held_out_accuracy` on the whole test set. The subsets depend on the seed and the size
    only, so curves of different models with the same sizes and seeds train on the same data.

    Args:
        make_model: a no-argument factory returning a fresh classifier (N, ...) -> (N, C).
        x_train, y_train: (N, ...) inputs and (N,) labels to draw the subsets from.
        x_test, y_test: (M, ...) inputs and (M,) labels of the fixed test set.
        sizes: training-set sizes, ascending. seeds: int seeds, one run each.
        steps, lr, batch_size, weight_decay: the recipe of :func:`train_classifier`.
    """
    sizes = tuple(positive_int(n, "sizes entry") for n in sizes)
    seeds = tuple(int(s) for s in seeds)
    if not sizes or not seeds:
        raise ValueError(f"sizes and seeds must be non-empty, got {sizes} and {seeds}")
    if list(sizes) != sorted(set(sizes)):
        raise ValueError(f"sizes must be strictly increasing, got {sizes}")
    x_train, y_train = _as_inputs(x_train, y_train)
    x_test, y_test = _as_inputs(x_test, y_test)
    result = np.empty((len(sizes), len(seeds)))                             # (S, R)
    for i, n in enumerate(sizes):
        for j, seed in enumerate(seeds):
            seed_everything(seed)
            model = make_model()
            chosen = torch.as_tensor(balanced_subset(y_train.numpy(), n, seed))
            train_classifier(model, x_train[chosen], y_train[chosen], steps, lr, batch_size,
                             weight_decay, seed)
            result[i, j] = held_out_accuracy(model, x_test, y_test)
    return LearningCurve(sizes, seeds, result)
