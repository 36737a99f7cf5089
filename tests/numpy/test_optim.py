"""Optimiser trajectories against torch.optim in float64, option by option."""

import itertools

import numpy as np
import pytest
import torch

from companion.numpy import optim

SHAPES = [(3, 4), (5,), (2, 1, 3)]
STEPS = 30


def gradient(theta: np.ndarray, index: int) -> np.ndarray:
    """Gradient of a non-quadratic bowl: (theta - c) * a + 0.1 * theta^3, different per array."""
    rng = np.random.default_rng(100 + index)
    centre = rng.standard_normal(theta.shape)
    curvature = rng.uniform(0.5, 3.0, theta.shape)
    return curvature * (theta - centre) + 0.1 * theta ** 3


def compare_trajectories(name: str, **kwargs) -> None:
    """Run ours and torch's optimiser from the same start; parameters agree after every step."""
    start = [np.random.default_rng(i).standard_normal(shape) for i, shape in enumerate(SHAPES)]
    ours = [p.copy() for p in start]
    theirs = [torch.tensor(p, requires_grad=True) for p in start]
    our_opt = getattr(optim, name)(ours, **kwargs)
    torch_opt = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(STEPS):
        our_opt.step([gradient(p, i) for i, p in enumerate(ours)])
        for i, p in enumerate(theirs):
            p.grad = torch.tensor(gradient(p.detach().numpy(), i))
        torch_opt.step()
        for i, (a, b) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name}{kwargs}: params[{i}] after step {step + 1}")
    assert not np.allclose(ours[0], start[0])  # the parameters really moved


SGD_CASES = [dict(lr=0.05, momentum=m, dampening=d, weight_decay=w, nesterov=n)
             for m, d, w, n in itertools.product([0.0, 0.9], [0.0, 0.3], [0.0, 0.05], [False, True])
             if not (n and (m == 0 or d != 0))]


@pytest.mark.parametrize("kwargs", SGD_CASES)
def test_sgd_matches_torch(kwargs):
    compare_trajectories("SGD", **kwargs)


@pytest.mark.parametrize("momentum, centered, weight_decay",
                         list(itertools.product([0.0, 0.8], [False, True], [0.0, 0.05])))
def test_rmsprop_matches_torch(momentum, centered, weight_decay):
    compare_trajectories("RMSprop", lr=0.01, alpha=0.9, momentum=momentum, centered=centered,
                         weight_decay=weight_decay)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("amsgrad, weight_decay",
                         list(itertools.product([False, True], [0.0, 0.1])))
def test_adam_and_adamw_match_torch(name, amsgrad, weight_decay):
    compare_trajectories(name, lr=0.05, betas=(0.8, 0.95), eps=1e-6, amsgrad=amsgrad,
                         weight_decay=weight_decay)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.002, momentum=0.5, weight_decay=0.1, nesterov=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1))])
def test_maximize_matches_torch(name, kwargs):
    compare_trajectories(name, maximize=True, **kwargs)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW"])
def test_defaults_match_torch(name):
    compare_trajectories(name)


def test_lr_can_change_between_steps():
    ours = [np.ones(3)]
    opt = optim.SGD(ours, lr=0.1)
    opt.step([np.ones(3)])
    opt.lr = 0.01
    opt.step([np.ones(3)])
    np.testing.assert_allclose(ours[0], 1 - 0.1 - 0.01)


def test_updates_happen_in_place():
    param = np.zeros(4)
    optim.Adam([param], lr=0.1).step([np.ones(4)])
    np.testing.assert_allclose(param, -0.1)


@pytest.mark.parametrize("make, error, message", [
    (lambda p: optim.SGD(p, lr=-0.1), ValueError, r"lr must lie in \[0.0, inf\]"),
    (lambda p: optim.SGD(p, momentum=0.0, nesterov=True), ValueError, "nesterov=True needs"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening = 0"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError, r"betas\[1\] must lie in"),
    (lambda p: optim.AdamW(p, betas=(-0.1, 0.9)), ValueError, r"betas\[0\] must lie in"),
    (lambda p: optim.Adam(p, betas=0.9), ValueError, "betas must be a pair"),
    (lambda p: optim.RMSprop(p, eps=-1.0), ValueError, "eps must lie in"),
    (lambda p: optim.RMSprop(p, weight_decay=-1.0), ValueError, "weight_decay must lie in"),
    (lambda p: optim.SGD([[1.0, 2.0]]), TypeError, r"params\[0\] must be a float numpy array"),
    (lambda p: optim.SGD({"w": p[0]}), TypeError, "got a dict"),
    (lambda p: optim.SGD([]), ValueError, "at least one array"),
    (lambda p: optim.Adam(p, maximize="yes"), TypeError, "maximize must be True or False"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make([np.zeros(3)])


def test_bad_gradients():
    opt = optim.SGD([np.zeros(3), np.zeros((2, 2))], lr=0.1)
    with pytest.raises(ValueError, match=r"one array per parameter \(2\), got 1"):
        opt.step([np.zeros(3)])
    with pytest.raises(ValueError, match=r"grads\[1\] must have the shape of params\[1\] \(2, 2\)"):
        opt.step([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="lr must lie in"):
        opt.lr = -1.0
