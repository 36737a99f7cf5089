"""Learning-rate schedules: step decay, cosine annealing and linear warm-up.

Each schedule is a pure function of the epoch (``*_schedule``, handy for plotting a whole
schedule as an array) and a scheduler class that writes it into ``optimizer.lr``, as
``torch.optim.lr_scheduler`` does: building the scheduler sets the epoch-0 rate, each
:meth:`~LRScheduler.step` advances one epoch, :meth:`~LRScheduler.get_last_lr` returns
``[lr]``. Torch computes most schedules recursively from the current rate; we use the closed
forms, which give the same sequence (to rounding) as long as nothing else changes ``lr``.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import positive_int, real_number


def step_schedule(base_lr: float, epochs, step_size: int, gamma: float = 0.1):
    """lr(t) = base_lr * gamma ** floor(t / step_size), for an epoch t or an array of them."""
    epochs = np.asarray(epochs)
    return base_lr * gamma ** (epochs // step_size)


def cosine_schedule(base_lr: float, epochs, T_max: int, eta_min: float = 0.0):
    """lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2.

    Past T_max the cosine keeps going (back up to base_lr at 2 * T_max), exactly as torch's.
    """
    epochs = np.asarray(epochs, dtype=np.float64)
    return eta_min + (base_lr - eta_min) * (1 + np.cos(np.pi * epochs / T_max)) / 2


def linear_warmup_schedule(base_lr: float, epochs, warmup_steps: int,
                           start_factor: float = 1.0 / 3):
    """lr(t) = base_lr * (f + (1 - f) * min(t, warmup_steps) / warmup_steps), f = start_factor."""
    epochs = np.minimum(np.asarray(epochs, dtype=np.float64), warmup_steps)
    return base_lr * (start_factor + (1 - start_factor) * epochs / warmup_steps)


class LRScheduler:
    """Base class: remembers the optimiser's initial lr and sets lr(epoch) on each step."""

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"optimizer must have an lr attribute (a companion.numpy.optim "
                            f"optimiser), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = -1
        self.step()

    def lr_at(self, epoch: int) -> float:
        """The learning rate of epoch ``epoch`` (0 is the rate set at construction)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and write its learning rate into ``optimizer.lr``."""
        self.last_epoch += 1
        self.optimizer.lr = float(self.lr_at(self.last_epoch))

    def get_last_lr(self) -> list[float]:
        """``[lr]`` set by the last step, a one-element list like torch's (one param group)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (torch's StepLR)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = real_number(gamma, "gamma", low=0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return step_schedule(self.base_lr, epoch, self.step_size, self.gamma)


class CosineAnnealingLR(LRScheduler):
    """Anneal from the initial lr to ``eta_min`` along half a cosine over ``T_max`` epochs."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        self.T_max = positive_int(T_max, "T_max")
        self.eta_min = real_number(eta_min, "eta_min", low=0.0)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return cosine_schedule(self.base_lr, epoch, self.T_max, self.eta_min)


class LinearWarmup(LRScheduler):
    """Ramp the lr linearly from ``start_factor * lr`` to ``lr`` over ``warmup_steps`` epochs.

    The same sequence as torch's ``LinearLR(optimizer, start_factor, end_factor=1.0,
    total_iters=warmup_steps)``; after the warm-up the rate stays at the initial lr.
    """

    def __init__(self, optimizer, warmup_steps: int = 5, start_factor: float = 1.0 / 3):
        self.warmup_steps = positive_int(warmup_steps, "warmup_steps")
        self.start_factor = real_number(start_factor, "start_factor", 0.0, 1.0,
                                        low_inclusive=False)
        super().__init__(optimizer)

    def lr_at(self, epoch):
        return linear_warmup_schedule(self.base_lr, epoch, self.warmup_steps, self.start_factor)
