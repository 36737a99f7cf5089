"""DARTS (Liu et al., 2019): differentiable architecture search on the cell space.

The discrete choice on each edge is relaxed to a softmax-weighted mixture of every operation,

    mixed_{i,j}(x) = sum_o softmax(alpha_{i,j})_o  op_o(x),

so the architecture parameters alpha (one row of len(ops) logits per edge) get gradients like
any weight. Search alternates two steps: the network weights w descend the training loss, the
alphas descend the validation loss. The first-order approximation differentiates
L_val(w, alpha) at the current w; the second-order one differentiates through one unrolled
weight step, L_val(w - xi grad_w L_train(w, alpha), alpha) (see :func:`unrolled_alpha_grad`).
At the end each edge keeps its operation of largest alpha.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from companion.core.checks import positive_int, real_number
from companion.torch._inputs import module_input
from companion.torch.nas.space import OPS, CellNetwork, edges, make_op
from companion.torch.training import seed_everything

__all__ = ["MixedOp", "MixedCell", "DartsResult", "unrolled_alpha_grad", "darts_search"]


def _check_batch(batch, name: str) -> None:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2
            and all(isinstance(t, torch.Tensor) for t in batch)):
        raise TypeError(f"{name} must be an (x, y) pair of tensors, got {type(batch).__name__}")


def _op_names(ops) -> tuple:
    if not isinstance(ops, (tuple, list)):
        raise TypeError(f"ops must be a tuple of operation names, got {type(ops).__name__}")
    return tuple(ops)


class MixedOp(nn.Module):
    """sum_o weights[o] op_o(x) over every candidate operation of one edge.

    Input: x (N, C, H, W) and weights (len(ops),) summing to one. Output: (N, C, H, W).
    """

    def __init__(self, channels: int, ops=OPS):
        super().__init__()
        self.op_names = _op_names(ops)
        channels = positive_int(channels, "channels")
        try:
            self.ops = nn.ModuleList(make_op(name, channels) for name in self.op_names)
        except ValueError as error:  # an unknown name
            raise ValueError(f"ops holds an unknown operation: {error}") from error

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class MixedCell(nn.Module):
    """The relaxed cell: x_j = sum_{i<j} MixedOp_{i,j}(x_i, softmax(alpha_{i,j})).

    ``alpha`` (E, len(ops)) is a parameter of its own, kept apart from the weights by
    :meth:`weights` and :meth:`arch_parameters`. Input and output: (N, C, H, W).
    """

    def __init__(self, channels: int, n_nodes: int = 4, ops=OPS):
        super().__init__()
        self.n_nodes = positive_int(n_nodes, "n_nodes")
        self.op_names = _op_names(ops)
        self.edge_list = edges(self.n_nodes)
        self.mixed = nn.ModuleList(MixedOp(channels, ops) for _ in self.edge_list)
        self.alpha = nn.Parameter(1e-3 * torch.randn(len(self.edge_list), len(self.op_names)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = F.softmax(self.alpha, dim=-1)                            # (E, ops)
        nodes, k = [x], 0
        for j in range(1, self.n_nodes):
            total = 0
            for i in range(j):
                total = total + self.mixed[k](nodes[i], weights[k])
                k += 1
            nodes.append(total)
        return nodes[-1]

    def genotype(self) -> tuple[str, ...]:
        """The discrete cell: on each edge the operation of largest alpha."""
        return tuple(self.op_names[k] for k in self.alpha.argmax(dim=-1).tolist())


@dataclass
class DartsResult:
    """The derived genotype, the final softmax weights (E, ops) and the alpha trajectory."""

    genotype: tuple
    weights: np.ndarray
    history: list = field(default_factory=list)     # softmax(alpha) (E, ops) after each step


def unrolled_alpha_grad(model: nn.Module, alpha: nn.Parameter, train, val, xi: float,
                        radius: float = 0.01) -> torch.Tensor:
    """The second-order DARTS gradient of the validation loss with respect to alpha.

    With one virtual weight step w' = w - xi grad_w L_train(w, alpha), the chain rule gives

        d/d alpha L_val(w', alpha) = grad_alpha L_val(w', alpha) - xi H v,
        H = grad^2_{alpha,w} L_train(w, alpha),    v = grad_w' L_val(w', alpha),

    and the Hessian-vector product H v is replaced by a central difference (Liu et al., 2019):

        (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps),
        w+- = w +- eps v,    eps = radius / ||v||.

    With ReLUs the loss is only piecewise twice differentiable: when a ReLU input changes sign
    between w- and w+ the difference is no longer a derivative, so a smaller ``radius`` than the
    paper's 0.01 may be needed for accuracy on a small network (the unit tests use 1e-4).

    Cost: four forward-backward passes (one on the validation batch, three on the training
    batch) against one for the first-order gradient. The model's weights are restored on return
    and no ``.grad`` is touched.

    Args:
        model: maps images (N, C_in, H, W) to logits (N, classes); every parameter other than
            ``alpha`` is a weight w.
        alpha: the architecture parameter (E, len(ops)), one of the model's parameters.
        train, val: ``(x, y)`` batches, images (N, C_in, H, W) and labels (N,).
        xi: the virtual step's learning rate; ``xi = 0`` gives the first-order gradient.
        radius: the norm of the finite-difference perturbation eps * grad_w' L_val.

    Returns:
        The gradient, shaped like ``alpha``.
    """
    model = module_input(model, "model")
    xi = real_number(xi, "xi", low=0.0)
    radius = real_number(radius, "radius", low=0.0, low_inclusive=False)
    _check_batch(train, "train")
    _check_batch(val, "val")
    weights = [p for p in model.parameters() if p is not alpha]
    if len(weights) == len(list(model.parameters())):
        raise ValueError("alpha must be one of the model's parameters")
    (xt, yt), (xv, yv) = train, val
    saved = [w.detach().clone() for w in weights]

    def set_weights(shift):                        # w <- saved + shift, tensor by tensor
        with torch.no_grad():
            for w, w0, d in zip(weights, saved, shift):
                w.copy_(w0 + d)

    try:
        g_train = torch.autograd.grad(F.cross_entropy(model(xt), yt), weights)
        set_weights([-xi * g for g in g_train])                            # w' (virtual step)
        *g_val, d_alpha = torch.autograd.grad(F.cross_entropy(model(xv), yv), weights + [alpha])
        norm = torch.sqrt(sum((g * g).sum() for g in g_val))
        if xi == 0 or norm == 0:
            return d_alpha
        eps = radius / norm
        h = []
        for sign in (1.0, -1.0):                                           # w+ then w-
            set_weights([sign * eps * g for g in g_val])
            h.append(torch.autograd.grad(F.cross_entropy(model(xt), yt), alpha)[0])
        return d_alpha - xi * (h[0] - h[1]) / (2 * eps)
    finally:
        set_weights([0.0] * len(saved))                                    # restore w


def darts_search(data, channels: int = 8, steps: int = 100, batch_size: int = 256,
                 lr: float = 0.03, arch_lr: float = 3e-3, arch_weight_decay: float = 1e-3,
                 seed: int = 0, n_nodes: int = 4, ops=OPS, device=None, order: int = 1,
                 xi: float | None = None) -> DartsResult:
    """DARTS: alternate an Adam step on the weights (a training batch) and an Adam step on
    alpha (a validation batch), ``steps`` times.

    Args:
        data: ``{"train": (x, y), "val": (x, y)}`` tensors, images (N, 1, H, W).
        batch_size: images per batch, drawn at random from each split every step.
        order: 1 differentiates the validation loss at the current weights; 2 through one
            unrolled weight step (:func:`unrolled_alpha_grad`, on the step's training batch).
        xi: the unrolled step's learning rate for ``order=2`` (default ``lr``, as the paper
            sets it to the weights' learning rate).
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    steps, batch_size = positive_int(steps, "steps"), positive_int(batch_size, "batch_size")
    lr = real_number(lr, "lr", low=0.0, low_inclusive=False)
    arch_lr = real_number(arch_lr, "arch_lr", low=0.0, low_inclusive=False)
    xi = real_number(lr if xi is None else xi, "xi", low=0.0)
    seed_everything(seed)
    device = torch.device("cpu") if device is None else torch.device(device)
    cell = MixedCell(channels, n_nodes, ops)
    model = CellNetwork(cell, channels).to(device)
    weights = [p for name, p in model.named_parameters() if name != "cell.alpha"]
    w_opt = torch.optim.Adam(weights, lr=lr)
    a_opt = torch.optim.Adam([cell.alpha], lr=arch_lr, betas=(0.5, 0.999),
                             weight_decay=arch_weight_decay)
    (xt, yt), (xv, yv) = data["train"], data["val"]
    generator = torch.Generator().manual_seed(seed)
    result = DartsResult(genotype=(), weights=np.empty(0))
    for _ in range(steps):
        batch = torch.randint(len(xt), (batch_size,), generator=generator)
        train = (xt[batch].to(device), yt[batch].to(device))
        w_opt.zero_grad()
        F.cross_entropy(model(train[0]), train[1]).backward()
        w_opt.step()
        batch = torch.randint(len(xv), (batch_size,), generator=generator)
        val = (xv[batch].to(device), yv[batch].to(device))
        a_opt.zero_grad()
        if order == 1:
            F.cross_entropy(model(val[0]), val[1]).backward()
        else:
            cell.alpha.grad = unrolled_alpha_grad(model, cell.alpha, train, val, xi)
        a_opt.step()
        result.history.append(F.softmax(cell.alpha.detach(), dim=-1).cpu().numpy())
    result.genotype = cell.genotype()
    result.weights = result.history[-1]
    return result
