"""Helpers for checking a scratch NumPy layer against its torch twin, in float64.

The upstream gradient is always random: the gradient of ``sum()`` through softmax or a
normalisation is zero and would prove nothing.
"""

from __future__ import annotations

import numpy as np
import torch

RTOL = 1e-7
ATOL = 1e-10


def random_array(shape, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """A float64 array of standard normal values, reproducible from ``seed``."""
    return scale * np.random.default_rng(seed).standard_normal(shape)


def to_torch(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A float64 torch tensor holding a copy of ``array``."""
    return torch.tensor(np.asarray(array), dtype=torch.float64, requires_grad=requires_grad)


def assert_close(ours, theirs, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    """``assert_allclose`` that accepts torch tensors and says what was compared."""
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().cpu().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def assert_param_grads_match(ours, theirs: torch.nn.Module, rtol: float = RTOL,
                             atol: float = ATOL) -> None:
    """Every parameter gradient of the scratch layer equals torch's, name by name."""
    torch_grads = {name: p.grad for name, p in theirs.named_parameters()}
    assert set(ours.grads) == set(torch_grads), (sorted(ours.grads), sorted(torch_grads))
    for name, grad in torch_grads.items():
        expected = np.zeros(ours.grads[name].shape) if grad is None else grad
        assert_close(ours.grads[name], expected, f"gradient of {name}", rtol, atol)


def check_layer(ours, theirs: torch.nn.Module, x: np.ndarray, seed: int = 1,
                rtol: float = RTOL, atol: float = ATOL) -> None:
    """Forward, input gradient and every parameter gradient of a one-input layer agree."""
    theirs = theirs.double()
    x_t = to_torch(x, requires_grad=True)
    out_t = theirs(x_t)
    out = ours.forward(x)
    assert_close(out, out_t, "forward output", rtol, atol)
    grad_out = random_array(out.shape, seed)
    out_t.backward(to_torch(grad_out))
    ours.zero_grad()
    grad_x = ours.backward(grad_out)
    assert_close(grad_x, x_t.grad, "gradient of the input", rtol, atol)
    assert_param_grads_match(ours, theirs, rtol, atol)
