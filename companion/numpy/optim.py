"""Optimisers that update a list of parameter arrays in place: SGD, RMSprop, Adam and AdamW.

Each follows the update equations of its ``torch.optim`` namesake, step for step. An optimiser
is built on ``model.parameters()`` and stepped with ``model.gradients()`` (the same order);
resetting the gradients (``model.zero_grad()``) stays the model's job. ``lr`` is a plain
attribute, so a learning-rate schedule can change it between steps. ``maximize=True`` climbs the
objective instead: every optimiser then steps on -grad, as torch's do.
"""

from __future__ import annotations

import math

import numpy as np

from companion.core.checks import real_number


def flag(value, name: str) -> bool:
    """``value`` as a bool, refusing anything but True or False (a string would be truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


class Optimizer:
    """Base class: holds the parameters, the learning rate and the step count t."""

    def __init__(self, params, lr: float, maximize: bool = False):
        if isinstance(params, dict):
            raise TypeError("params must be a list of arrays such as model.parameters(), "
                            "got a dict (pass list(model.params.values()) or model.parameters())")
        if not isinstance(params, (list, tuple)) and not hasattr(params, "__next__"):
            raise TypeError(f"params must be a list of arrays such as model.parameters(), "
                            f"got {type(params).__name__}")
        self.params = list(params)
        if not self.params:
            raise ValueError("params must hold at least one array, got an empty list")
        for i, param in enumerate(self.params):
            if not isinstance(param, np.ndarray) or not np.issubdtype(param.dtype, np.floating):
                dtype = f" with dtype {param.dtype}" if hasattr(param, "dtype") else ""
                raise TypeError(f"params[{i}] must be a float numpy array (it is updated in "
                                f"place), got {type(param).__name__}{dtype}")
        self.lr = lr
        self.maximize = flag(maximize, "maximize")
        self.t = 0  # number of steps taken

    @property
    def lr(self) -> float:
        """The learning rate used by the next :meth:`step`."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = real_number(value, "lr", low=0.0)

    def _check_grads(self, grads) -> list[np.ndarray]:
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"grads must hold one array per parameter ({len(self.params)}), "
                             f"got {len(grads)}")
        checked = []
        for i, (grad, param) in enumerate(zip(grads, self.params)):
            grad = np.asarray(grad, dtype=np.float64)
            if grad.shape != param.shape:
                raise ValueError(f"grads[{i}] must have the shape of params[{i}] {param.shape}, "
                                 f"got {grad.shape}")
            checked.append(-grad if self.maximize else grad)
        return checked

    def step(self, grads) -> None:
        """Update every parameter in place from its gradient (same order as ``params``).

        With ``maximize`` the update uses -grad, so the parameters climb the objective.
        """
        grads = self._check_grads(grads)
        self.t += 1
        for i, (param, grad) in enumerate(zip(self.params, grads)):
            self._update(i, param, grad)

    def _update(self, i: int, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.

    g = grad + weight_decay * theta;  b = g at t = 1, else b = momentum * b + (1 - dampening) * g;
    g = g + momentum * b (Nesterov) or g = b (classical momentum);  theta = theta - lr * g.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, maximize)
        self.momentum = real_number(momentum, "momentum", low=0.0)
        self.dampening = real_number(dampening, "dampening")
        self.weight_decay = real_number(weight_decay, "weight_decay", low=0.0)
        self.nesterov = flag(nesterov, "nesterov")
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={momentum} and dampening={dampening}")
        self.buffers = [None] * len(self.params)  # momentum buffers b

    def _update(self, i, param, grad):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if self.momentum:
            if self.buffers[i] is None:
                self.buffers[i] = grad.copy()
            else:
                self.buffers[i] = self.momentum * self.buffers[i] + (1 - self.dampening) * grad
            grad = grad + self.momentum * self.buffers[i] if self.nesterov else self.buffers[i]
        param -= self.lr * grad


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of recent gradients.

    g = grad + weight_decay * theta;  v = alpha * v + (1 - alpha) * g^2;
    centered: m = alpha * m + (1 - alpha) * g and v~ = v - m^2, else v~ = v;
    momentum > 0: b = momentum * b + g / (sqrt(v~) + eps), theta -= lr * b;
    otherwise theta -= lr * g / (sqrt(v~) + eps).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr, maximize)
        self.alpha = real_number(alpha, "alpha", low=0.0)
        self.eps = real_number(eps, "eps", low=0.0)
        self.weight_decay = real_number(weight_decay, "weight_decay", low=0.0)
        self.momentum = real_number(momentum, "momentum", low=0.0)
        self.centered = flag(centered, "centered")
        self.square_avg = [np.zeros_like(p, dtype=np.float64) for p in self.params]
        self.grad_avg = [np.zeros_like(p, dtype=np.float64) for p in self.params]
        self.buffers = [np.zeros_like(p, dtype=np.float64) for p in self.params]

    def _update(self, i, param, grad):
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        square_avg = self.square_avg[i]
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * grad * grad
        if self.centered:
            self.grad_avg[i] += (1 - self.alpha) * (grad - self.grad_avg[i])
            denom = np.sqrt(square_avg - self.grad_avg[i] ** 2) + self.eps
        else:
            denom = np.sqrt(square_avg) + self.eps
        if self.momentum > 0:
            self.buffers[i] = self.momentum * self.buffers[i] + grad / denom
            param -= self.lr * self.buffers[i]
        else:
            param -= self.lr * grad / denom


class Adam(Optimizer):
    """Adaptive moments: a bias-corrected running mean of g over the root of that of g^2.

    g = grad + weight_decay * theta;  m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g^2;  amsgrad: v_max = max(v_max, v) replaces v below;
    theta -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    """

    decoupled = False  # AdamW decays the weights directly instead of through the gradient

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr, maximize)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (real_number(betas[0], "betas[0]", 0.0, 1.0, high_inclusive=False),
                      real_number(betas[1], "betas[1]", 0.0, 1.0, high_inclusive=False))
        self.eps = real_number(eps, "eps", low=0.0)
        self.weight_decay = real_number(weight_decay, "weight_decay", low=0.0)
        self.amsgrad = flag(amsgrad, "amsgrad")
        self.exp_avg = [np.zeros_like(p, dtype=np.float64) for p in self.params]
        self.exp_avg_sq = [np.zeros_like(p, dtype=np.float64) for p in self.params]
        self.max_exp_avg_sq = [np.zeros_like(p, dtype=np.float64) for p in self.params]

    def _update(self, i, param, grad):
        beta1, beta2 = self.betas
        if self.weight_decay and self.decoupled:
            param *= 1 - self.lr * self.weight_decay
        elif self.weight_decay:
            grad = grad + self.weight_decay * param
        exp_avg, exp_avg_sq = self.exp_avg[i], self.exp_avg_sq[i]
        exp_avg += (1 - beta1) * (grad - exp_avg)  # = beta1 * m + (1 - beta1) * g
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if self.amsgrad:
            np.maximum(self.max_exp_avg_sq[i], exp_avg_sq, out=self.max_exp_avg_sq[i])
            exp_avg_sq = self.max_exp_avg_sq[i]
        bias_correction1 = 1 - beta1 ** self.t
        bias_correction2 = 1 - beta2 ** self.t
        denom = np.sqrt(exp_avg_sq) / math.sqrt(bias_correction2) + self.eps
        param -= (self.lr / bias_correction1) * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: theta = theta * (1 - lr * weight_decay), then Adam.

    The decay no longer passes through the adaptive denominator, so every weight shrinks by the
    same factor (Loshchilov and Hutter, 2019).
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
