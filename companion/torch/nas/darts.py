"""DARTS (Liu et al., 2019): differentiable architecture search on the cell space.

The discrete choice on each edge is relaxed to a softmax-weighted mixture of every operation,

    mixed_{i,j}(x) = sum_o softmax(alpha_{i,j})_o  op_o(x),

so the architecture parameters alpha (one row of len(ops) logits per edge) get gradients like
any weight. Search alternates two first-order steps: the network weights w descend the training
loss, the alphas descend the validation loss (the first-order approximation drops the second-order
term through w*(alpha)). At the end each edge keeps its operation of largest alpha.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from companion.numpy._validation import positive_int
from companion.torch.nas.space import OPS, CellNetwork, edges, make_op
from companion.torch.training import seed_everything

__all__ = ["MixedOp", "MixedCell", "DartsResult", "darts_search"]


class MixedOp(nn.Module):
    """sum_o weights[o] op_o(x) over every candidate operation of one edge.

    Input: x (N, C, H, W) and weights (len(ops),) summing to one. Output: (N, C, H, W).
    """

    def __init__(self, channels: int, ops=OPS):
        super().__init__()
        self.op_names = tuple(ops)
        self.ops = nn.ModuleList(make_op(name, channels) for name in self.op_names)

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
        self.op_names = tuple(ops)
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


def darts_search(data, channels: int = 8, steps: int = 100, batch_size: int = 256,
                 lr: float = 0.03, arch_lr: float = 3e-3, arch_weight_decay: float = 1e-3,
                 seed: int = 0, n_nodes: int = 4, ops=OPS, device=None) -> DartsResult:
    """First-order DARTS: alternate an Adam step on the weights (a training batch) and an Adam
    step on alpha (a validation batch), ``steps`` times.

    Args:
        data: ``{"train": (x, y), "val": (x, y)}`` tensors, images (N, 1, H, W).
        batch_size: images per batch, drawn at random from each split every step.
    """
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
        w_opt.zero_grad()
        F.cross_entropy(model(xt[batch].to(device)), yt[batch].to(device)).backward()
        w_opt.step()
        batch = torch.randint(len(xv), (batch_size,), generator=generator)
        a_opt.zero_grad()
        F.cross_entropy(model(xv[batch].to(device)), yv[batch].to(device)).backward()
        a_opt.step()
        result.history.append(F.softmax(cell.alpha.detach(), dim=-1).cpu().numpy())
    result.genotype = cell.genotype()
    result.weights = result.history[-1]
    return result
