"""Read what attention heads do: collect their weights and score them against a job.

A head *has a job* when, over many inputs, its weight concentrates on one predictable key for
each query: the previous position (a previous-token head), the most recent space (a head that
tracks where the current word began), or the position right after an earlier occurrence of the
current token (an induction head; Olsson et al. 2022). Each job is written as a target key
position per query, ``targets`` (B, T) with -1 where the query has no target, and a head's score
is its mean weight on the target,

    score(l, h) = mean over (b, t) with targets[b, t] >= 0 of  w[l, b, h, t, targets[b, t]],

between 0 and 1. :func:`chance_score` gives the score of a head that spreads its weight evenly
over the keys a causal query may see, 1 / (t + 1), the level to compare with.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from companion.core.checks import positive_int
from companion.torch._inputs import as_tensor_input, module_input, tensor_input
from companion.torch.models.transformer import SelfAttention

__all__ = ["attention_maps", "head_scores", "chance_score", "offset_targets",
           "previous_match_targets", "induction_targets"]


@torch.no_grad()
def attention_maps(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """Run ``model`` on idx (B, T) and return every head's weights: (L, B, H, T, T).

    L counts the :class:`SelfAttention` layers of ``model`` in the order ``model.modules()``
    lists them (the order of the layers for the book's models).
    """
    tensor_input(idx, "idx", floating=False)
    layers = [m for m in module_input(model, "model").modules() if isinstance(m, SelfAttention)]
    if not layers:
        raise ValueError(f"model must contain SelfAttention layers, {type(model).__name__} "
                         "has none")
    was_training = model.training
    model.eval()
    model(idx)
    model.train(was_training)
    return torch.stack([m.last_weights for m in layers])  # (L, B, H, T, T)


def _check_targets(targets, T: int) -> torch.Tensor:
    targets = as_tensor_input(targets, "targets", "integer ids")
    if targets.dim() != 2 or targets.shape[1] != T or targets.is_floating_point():
        raise ValueError(f"targets must be integer (B, {T}), got {targets.dtype} "
                         f"{tuple(targets.shape)}")
    positions = torch.arange(T)  # (T,)
    if ((targets > positions) | (targets < -1)).any():
        raise ValueError("targets must lie in [-1, t] for query t (a causal head sees keys "
                         "0..t; -1 marks a query without a target)")
    return targets


def head_scores(weights: torch.Tensor, targets) -> torch.Tensor:
    """Mean weight each head puts on the target key: (L, B, H, T, T), (B, T) -> (L, H).

    Queries whose target is -1 are left out; at least one query must have a target.
    """
    tensor_input(weights, "weights")
    if weights.dim() != 5 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"weights must have shape (L, B, H, T, T), got {tuple(weights.shape)}")
    L, B, H, T, _ = weights.shape
    targets = _check_targets(targets, T)
    if targets.shape[0] != B:
        raise ValueError(f"targets must have B={B} rows, got {targets.shape[0]}")
    valid = targets >= 0  # (B, T)
    if not valid.any():
        raise ValueError("targets marks no query (all -1)")
    index = targets.clamp(min=0)[None, :, None, :, None].expand(L, B, H, T, 1)  # (L, B, H, T, 1)
    on_target = weights.gather(-1, index).squeeze(-1)  # (L, B, H, T)
    picked = on_target.permute(0, 2, 1, 3)[:, :, valid]  # (L, H, n_valid)
    return picked.mean(dim=-1)  # (L, H)


def chance_score(targets) -> float:
    """The score of a head with uniform causal weights, 1 / (t + 1), over the same queries."""
    targets = as_tensor_input(targets, "targets", "integer ids")
    if targets.dim() == 0:
        raise ValueError("targets must be integer (B, T), got a scalar")
    T = targets.shape[-1]
    targets = _check_targets(targets, T)
    uniform = 1.0 / torch.arange(1, T + 1, dtype=torch.float64)  # (T,)
    valid = targets >= 0  # (B, T)
    return float(uniform.expand_as(targets)[valid].mean())


def offset_targets(batch: int, length: int, offset: int = 1) -> torch.Tensor:
    """Target t - offset for every query t >= offset (the previous token for offset 1): (B, T)."""
    batch, length = positive_int(batch, "batch"), positive_int(length, "length")
    offset = positive_int(offset, "offset")
    t = torch.arange(length)  # (T,)
    return torch.where(t >= offset, t - offset, -1).expand(batch, length).clone()


def previous_match_targets(idx, token_ids) -> torch.Tensor:
    """Target: the latest position j < t whose token is in ``token_ids`` (e.g. the last space).

    Args:
        idx: (B, T) token ids. token_ids: the tokens to look for.

    Returns:
        (B, T) int64, -1 where no earlier position holds one of them.
    """
    idx = as_tensor_input(idx, "idx", "integer ids")
    if idx.dim() != 2:
        raise ValueError(f"idx must have shape (B, T), got {tuple(idx.shape)}")
    if isinstance(token_ids, str) or not isinstance(token_ids, Iterable):
        raise TypeError(f"token_ids must be a collection of ids, got {type(token_ids).__name__}")
    hit = torch.isin(idx, as_tensor_input(list(token_ids), "token_ids", "integer ids"))  # (B, T)
    B, T = idx.shape
    marked = torch.where(hit, torch.arange(T), -1)  # (B, T): own position where a hit
    latest = torch.cummax(marked, dim=1).values  # (B, T): latest hit at or before t
    return torch.cat([torch.full((B, 1), -1), latest[:, :-1]], dim=1)  # strictly before t


def induction_targets(periods, length: int) -> torch.Tensor:
    """For x[t] = s[t mod P]: target t - P + 1 (the token after the earlier copy), for t >= P.

    Args:
        periods: (B,) the period P of each sequence. length: T.

    Returns:
        (B, T) int64, -1 for the first P positions, which have no earlier copy.
    """
    periods = as_tensor_input(np.asarray(periods), "periods", "integer ids").long()
    if periods.dim() != 1 or (periods < 1).any():
        raise ValueError(f"periods must be (B,) positive integers, got {periods.tolist()}")
    t = torch.arange(positive_int(length, "length"))[None, :]  # (1, T)
    P = periods[:, None]  # (B, 1)
    return torch.where(t >= P, t - P + 1, -1)  # (B, T)
