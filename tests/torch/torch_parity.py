"""Helpers for checking a ``companion.torch`` layer against torch's built-in twin, in float64.

Both modules hold the same weights (``ours.load_state_dict(theirs.state_dict())``, strict), see
the same inputs and back-propagate the same random upstream gradient into every output.
"""

from __future__ import annotations

import numpy as np
import torch

from tests.parity import assert_close, random_array


def twins(ours_cls, theirs_cls, *args, seed: int = 0, randomize: bool = True, **kwargs):
    """Build torch's module and ours in float64; ours loads torch's state dict (strict).

    ``randomize`` first replaces every parameter of torch's module with standard normal values,
    so that biases initialised to zero (or ones) are random and non-zero.
    """
    torch.manual_seed(seed)
    theirs = theirs_cls(*args, **kwargs).double()
    if randomize:
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.randn_like(p) * 0.5)
    ours = ours_cls(*args, **kwargs).double()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def _tensors(output) -> list:
    """Every tensor in a (nested) tuple/list/dict output, in order; None is kept as None."""
    if isinstance(output, torch.Tensor) or output is None:
        return [output]
    if isinstance(output, dict):
        return [t for key in sorted(output) for t in _tensors(output[key])]
    return [t for item in output for t in _tensors(item)]


def _leaf(value):
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return torch.tensor(value, dtype=torch.float64, requires_grad=True)
    if isinstance(value, np.ndarray):
        return torch.tensor(value)
    if isinstance(value, torch.Tensor):
        return value.clone()
    return value


def check_parity(ours, theirs, *inputs, call=None, seed: int = 1, backward: bool = True):
    """Outputs, input gradients and parameter gradients of ``ours`` and ``theirs`` agree.

    inputs: float arrays become leaf tensors that need gradients; other arrays and values are
    passed as they are. ``call(module, *inputs)`` runs a module (default ``module(*inputs)``).
    Returns our outputs, for further checks.
    """
    call = call or (lambda module, *xs: module(*xs))
    ours_in, theirs_in = [_leaf(x) for x in inputs], [_leaf(x) for x in inputs]
    ours_out, theirs_out = _tensors(call(ours, *ours_in)), _tensors(call(theirs, *theirs_in))
    assert len(ours_out) == len(theirs_out)
    for i, (o, t) in enumerate(zip(ours_out, theirs_out)):
        assert (o is None) == (t is None), f"output {i}: {o} vs {t}"
        if o is not None:
            assert o.shape == t.shape, f"output {i}: shape {tuple(o.shape)} vs {tuple(t.shape)}"
            assert_close(o.detach().numpy(), t, f"output {i}")
    if not backward:
        return ours_out
    pairs = [(o, t) for o, t in zip(ours_out, theirs_out) if t is not None and t.requires_grad]
    grads = [torch.tensor(random_array(tuple(t.shape), seed + i)) for i, (_, t) in enumerate(pairs)]
    torch.autograd.backward([o for o, _ in pairs], grads)
    torch.autograd.backward([t for _, t in pairs], grads)
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert t.grad is not None and o.grad is not None, f"input {i} got no gradient"
            assert_close(o.grad.numpy(), t.grad, f"gradient of input {i}")
    if not isinstance(theirs, torch.nn.Module):
        return ours_out
    ours_params = dict(ours.named_parameters())
    theirs_params = dict(theirs.named_parameters())
    assert set(ours_params) == set(theirs_params), (sorted(ours_params), sorted(theirs_params))
    for name, p in theirs_params.items():
        expected = torch.zeros_like(p) if p.grad is None else p.grad
        got = torch.zeros_like(p) if ours_params[name].grad is None else ours_params[name].grad
        assert_close(got.numpy(), expected, f"gradient of {name}")
    return ours_out
