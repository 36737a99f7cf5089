"""Compare a layer with torch's built-in twin: outputs and every gradient, in float64.

The chapters use :func:`layer_parity` to show, in one table, that a from-scratch layer (a
``companion.numpy`` module, differentiated by its own ``backward``) or a ``companion.torch``
module (differentiated by autograd) computes what ``torch.nn`` computes. Both sides get the same
input and back-propagate the same *random* upstream gradient: a gradient of ones through a
normalisation or a softmax is zero and would prove nothing.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["layer_parity"]


def _first(output):
    """The main output of a layer: recurrent layers return ``(output, state)``."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _as_input(x: np.ndarray) -> torch.Tensor:
    """A float64 leaf that needs a gradient, or an integer tensor (indices) as it is."""
    if np.issubdtype(np.asarray(x).dtype, np.floating):
        return torch.tensor(x, dtype=torch.float64, requires_grad=True)
    return torch.as_tensor(np.asarray(x))


def _max_diff(a, b) -> float:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} against torch's {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def layer_parity(ours, reference: nn.Module, x: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Largest absolute differences between ``ours`` and ``reference`` on the input ``x``.

    Both layers must already hold the same weights (e.g. ``ours = Scratch.from_torch(ref)`` or
    ``ours.load_state_dict(ref.state_dict())``). The reference is moved to float64; ``x`` is fed
    to both, and the gradient g ~ N(0, 1) of the shape of the (main) output is back-propagated
    through both.

    Args:
        ours: a ``companion.numpy`` layer (``forward``/``backward``/``grads``) or a torch module.
        reference: the ``torch.nn`` layer to compare with.
        x: the input, a float array (its gradient is compared) or an integer array of indices.
        seed: seed of the random upstream gradient.

    Returns:
        ``{"output": ..., "grad input": ..., "grad <param>": ...}``: one entry per compared
        quantity (no "grad input" for integer inputs), each the largest ``|ours - torch|``.
    """
    reference = reference.double()
    reference.zero_grad(set_to_none=True)  # a fresh gradient, not one added to an earlier call's
    x_ref = _as_input(x)
    out_ref = _first(reference(x_ref))
    grad_out = np.random.default_rng(seed).standard_normal(tuple(out_ref.shape))  # like the output
    out_ref.backward(torch.tensor(grad_out, dtype=torch.float64))
    ref_grads = {name: p.grad for name, p in reference.named_parameters()}

    if isinstance(ours, nn.Module):  # a torch twin: differentiate it with autograd
        ours = ours.double()
        ours.zero_grad(set_to_none=True)
        x_ours = _as_input(x)
        out = _first(ours(x_ours))
        out.backward(torch.tensor(grad_out, dtype=torch.float64))
        grad_x = x_ours.grad
        our_grads = {name: p.grad for name, p in ours.named_parameters()}
    else:  # a scratch layer: its own backward pass
        ours.zero_grad()
        out = _first(ours.forward(np.asarray(x)))
        grad_x = _first(ours.backward(grad_out))
        our_grads = ours.grads

    if set(our_grads) != set(ref_grads):
        raise ValueError(f"parameter names differ: {sorted(our_grads)} against torch's "
                         f"{sorted(ref_grads)}")
    diffs = {"output": _max_diff(out, out_ref)}
    if x_ref.requires_grad:
        diffs["grad input"] = _max_diff(grad_x, x_ref.grad)
    for name, grad in ref_grads.items():
        expected = torch.zeros_like(dict(reference.named_parameters())[name]) if grad is None \
            else grad
        diffs[f"grad {name}"] = _max_diff(our_grads[name], expected)
    return diffs
