"""Scaled dot-product and multi-head attention from matmuls and a masked softmax.

Mirrors ``torch.nn.functional.scaled_dot_product_attention`` and ``torch.nn.MultiheadAttention``.
A query whose keys are all masked gets zero attention weights (and output ``out_proj.bias`` in
multi-head attention), as torch's scaled_dot_product_attention does; torch's MultiheadAttention
returns ``nan`` for such rows when ``need_weights=True``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from companion.core.checks import positive_int, real_number

from ._inputs import flag, tensor_input
from .dropout import dropout
from .linear import Linear

__all__ = ["scaled_dot_product_attention", "MultiheadAttention", "masked_softmax"]


def masked_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis where -inf marks a blocked key; an all-blocked row gives zeros.

    scores: (*, L, S). Returns weights (*, L, S), each row summing to 1 (or 0 if all blocked).
    A row holding ``nan`` or ``+inf`` is ``nan`` throughout, as in torch: it never turns finite.
    """
    tensor_input(scores, "scores")
    if scores.shape[-1] == 0:                                              # no keys at all
        return scores.clone()
    row_max = scores.amax(dim=-1, keepdim=True).detach()                   # (*, L, 1)
    row_max = torch.where(row_max == float("-inf"), torch.zeros_like(row_max), row_max)
    e = torch.exp(scores - row_max)                                        # blocked -> 0
    total = e.sum(dim=-1, keepdim=True)                                    # (*, L, 1)
    return e / torch.where(total == 0, torch.ones_like(total), total)   # 0: all blocked


def _as_additive(mask: torch.Tensor | None, blocked_when: bool, dtype, name: str):
    """A boolean mask (True = ``blocked_when``) or a float mask -> a float mask to add to scores."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        blocked = mask if blocked_when else ~mask
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(
            blocked, float("-inf"))
    if not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool or floating-point tensor, got dtype {mask.dtype}")
    return mask.to(dtype)


def _project(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x W^T + b for x (*, in), W (out, in), b (out,): (*, in) @ (in, out) -> (*, out)."""
    out = x @ weight.T
    return out if bias is None else out + bias


def _attend(q, k, v, additive_mask, dropout_p: float, scale: float, training: bool = True):
    """weights = masked_softmax(q k^T scale + mask), then dropout; returns (weights v, weights).

    q (*, L, E), k (*, S, E), v (*, S, E_v), additive_mask broadcastable to (*, L, S).
    """
    scores = (q @ k.transpose(-2, -1)) * scale                             # (*, L, S)
    if additive_mask is not None:
        scores = scores + additive_mask
    weights = dropout(masked_softmax(scores), dropout_p, training)         # (*, L, S)
    return weights @ v, weights                                            # (*, L, E_v)


def scaled_dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                                 attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> torch.Tensor:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(E) + M) V, with torch's arguments and meaning.

    Args:
        query: (N, ..., L, E). key: (N, ..., S, E). value: (N, ..., S, E_v).
        attn_mask: broadcastable to (N, ..., L, S); boolean True means the key *takes part*
            (torch's convention here), a float mask is added to the scores.
        dropout_p: dropout probability on the attention weights (always applied, as in torch).
        is_causal: query i attends to keys j <= i (top-left aligned); excludes ``attn_mask``.
        scale: replaces 1 / sqrt(E).
        enable_gqa: key/value may have fewer heads (axis -3) than query; each is shared by
            a block of consecutive query heads.
    Returns:
        (N, ..., L, E_v). A query with no admissible key gets zeros.
    """
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        tensor_input(tensor, name)
    if attn_mask is not None:
        tensor_input(attn_mask, "attn_mask", floating=False)
    flag(is_causal, "is_causal")
    flag(enable_gqa, "enable_gqa")
    if scale is not None:
        scale = real_number(scale, "scale")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError(f"query, key and value need at least 2 dimensions (..., L, E), got shapes "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"query (..., L, E) and key (..., S, E) must share E, and key and value "
                         f"(..., S, E_v) must share S; got shapes {tuple(query.shape)}, "
                         f"{tuple(key.shape)}, {tuple(value.shape)}")
    dropout_p = real_number(dropout_p, "dropout_p", 0.0, 1.0)
    length, source = query.shape[-2], key.shape[-2]
    if enable_gqa and key.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        if query.shape[-3] % key.shape[-3]:
            raise ValueError(f"with enable_gqa the query heads ({query.shape[-3]}) must be a "
                             f"multiple of the key heads ({key.shape[-3]})")
        repeat = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(repeat, dim=-3)                        # (N, H_q, S, E)
        value = value.repeat_interleave(repeat, dim=-3)                    # (N, H_q, S, E_v)
    if is_causal:
        if attn_mask is not None:
            raise ValueError("is_causal=True and attn_mask cannot be given together")
        attn_mask = torch.ones(length, source, dtype=torch.bool, device=query.device).tril()
    additive = _as_additive(attn_mask, blocked_when=False, dtype=query.dtype, name="attn_mask")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    return _attend(query, key, value, additive, dropout_p, scale)[0]


class MultiheadAttention(nn.Module):
    """Multi-head attention with torch's parameters, forward signature and results.

    head_h = softmax(Q_h K_h^T / sqrt(E / H) + M) V_h with Q = query W_q^T + b_q (likewise K, V),
    split into H heads of E / H features; output = concat_h(head_h) W_o^T + b_o.
    Parameters: ``in_proj_weight`` (3E, E) holding W_q, W_k, W_v stacked (or ``q_proj_weight``
    (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when kdim or vdim differs
    from E), ``in_proj_bias`` (3E,), ``out_proj.weight`` (E, E), ``out_proj.bias`` (E,), and with
    ``add_bias_kv`` ``bias_k``, ``bias_v`` (1, 1, E). Initialised as torch does: Xavier-uniform
    input projections, zero biases, Xavier-normal ``bias_k``/``bias_v``, ``out_proj`` as a Linear.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.embed_dim = positive_int(embed_dim, "embed_dim")
        self.num_heads = positive_int(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} "
                             f"and num_heads={num_heads}")
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else positive_int(kdim, "kdim")
        self.vdim = embed_dim if vdim is None else positive_int(vdim, "vdim")
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout = real_number(dropout, "dropout", 0.0, 1.0)
        self.batch_first, self.add_zero_attn = batch_first, add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim, **factory))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = nn.Parameter(torch.empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = nn.Parameter(torch.empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = nn.Parameter(torch.empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
            self.bias_v = nn.Parameter(torch.empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases, Xavier-normal bias_k and bias_v."""
        with torch.no_grad():
            weights = [self.in_proj_weight] if self._qkv_same_embed_dim else \
                [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
            for w in weights:                       # U(-a, a), a = sqrt(6 / (fan_in + fan_out))
                bound = math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
                w.uniform_(-bound, bound)
            if self.in_proj_bias is not None:
                self.in_proj_bias.zero_()
                self.out_proj.bias.zero_()
            for b in (self.bias_k, self.bias_v):    # (1, 1, E): fan_in = fan_out = E
                if b is not None:
                    b.normal_(0.0, math.sqrt(2.0 / (2 * self.embed_dim)))

    def _projection_weights(self):
        """W_q (E, E), W_k (E, kdim), W_v (E, vdim) and b_q, b_k, b_v (E,) or None."""
        if self._qkv_same_embed_dim:
            w_q, w_k, w_v = self.in_proj_weight.chunk(3)                   # (E, E) each
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        biases = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        return (w_q, w_k, w_v), biases

    def _check_inputs(self, query, key, value) -> bool:
        if query.dim() not in (2, 3) or key.dim() != query.dim() or value.dim() != query.dim():
            raise ValueError(f"query, key and value must all be 3-D (batched) or 2-D (unbatched), "
                             f"got shapes {tuple(query.shape)}, {tuple(key.shape)}, "
                             f"{tuple(value.shape)}")
        for name, x, size in (("query", query, self.embed_dim), ("key", key, self.kdim),
                              ("value", value, self.vdim)):
            if x.shape[-1] != size:
                raise ValueError(f"{name} must have {size} features in its last axis, "
                                 f"got shape {tuple(x.shape)}")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"key and value must have the same batch and sequence sizes, "
                             f"got shapes {tuple(key.shape)} and {tuple(value.shape)}")
        return query.dim() == 3

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: torch.Tensor | None = None, need_weights: bool = True,
                attn_mask: torch.Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        """Attend from every query position to the key/value positions.

        Args:
            query: (L, N, E) ((N, L, E) if ``batch_first``) or unbatched (L, E).
            key: (S, N, kdim) ((N, S, kdim) if ``batch_first``) or (S, kdim).
            value: (S, N, vdim) ((N, S, vdim) if ``batch_first``) or (S, vdim).
            key_padding_mask: (N, S) or (S,); boolean True means *ignore* that key, a float
                mask is added to the scores.
            attn_mask: (L, S) or (N H, L, S); boolean True means *not allowed*, float is added.
            need_weights: also return the attention weights (else ``None``).
            average_attn_weights: average the weights over the heads.
            is_causal: a hint that ``attn_mask`` is the causal mask; it must then be given.
        Returns:
            ``(attn_output, attn_weights)``: attn_output like query with E features;
            attn_weights (N, L, S) averaged, (N, H, L, S) per head, without N if unbatched.
        """
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            tensor_input(tensor, name)
        batched = self._check_inputs(query, key, value)
        if is_causal and attn_mask is None:
            raise ValueError("is_causal=True needs attn_mask (the causal mask) as well, "
                             "as in torch.nn.MultiheadAttention")
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        # from here on: query (L, N, E), key (S, N, kdim), value (S, N, vdim)
        length, batch, _ = query.shape
        heads, head_dim = self.num_heads, self.head_dim
        (w_q, w_k, w_v), (b_q, b_k, b_v) = self._projection_weights()
        q = _project(query, w_q, b_q)                                      # (L, N, E)
        k = _project(key, w_k, b_k)                                        # (S, N, E)
        v = _project(value, w_v, b_v)                                      # (S, N, E)
        mask = self._merged_mask(attn_mask, key_padding_mask, query.dtype, batch, length,
                                 key.shape[0])                             # (N, H, L, S) or None
        if self.bias_k is not None:                                        # one extra key
            k = torch.cat([k, self.bias_k.expand(1, batch, -1)])           # (S + 1, N, E)
            v = torch.cat([v, self.bias_v.expand(1, batch, -1)])
            mask = None if mask is None else F.pad(mask, (0, 1))
        q = q.view(length, batch, heads, head_dim).permute(1, 2, 0, 3)     # (N, H, L, E/H)
        k = k.view(k.shape[0], batch, heads, head_dim).permute(1, 2, 0, 3)  # (N, H, S, E/H)
        v = v.view(v.shape[0], batch, heads, head_dim).permute(1, 2, 0, 3)  # (N, H, S, E/H)
        if self.add_zero_attn:                                             # one all-zero key
            zeros = q.new_zeros(batch, heads, 1, head_dim)
            k, v = torch.cat([k, zeros], dim=2), torch.cat([v, zeros], dim=2)
            mask = None if mask is None else F.pad(mask, (0, 1))
        p = self.dropout if self.training else 0.0
        heads_out, weights = _attend(q, k, v, mask, p, 1 / math.sqrt(head_dim))  # (N, H, L, E/H)
        merged = heads_out.permute(2, 0, 1, 3).reshape(length, batch, self.embed_dim)  # (L, N, E)
        out = self.out_proj(merged)                                        # (L, N, E)
        if not batched:
            out = out.squeeze(1)                                           # (L, E)
        elif self.batch_first:
            out = out.transpose(0, 1)                                      # (N, L, E)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)                                  # (N, L, S)
        return out, (weights if batched else weights.squeeze(0))

    def _merged_mask(self, attn_mask, key_padding_mask, dtype, batch, length, source):
        """attn_mask and key_padding_mask (True = blocked) as one additive (N, H, L, S) mask."""
        merged = None
        attn = _as_additive(attn_mask, blocked_when=True, dtype=dtype, name="attn_mask")
        if attn is not None:
            if attn.shape == (length, source):
                attn = attn.view(1, 1, length, source)                     # (1, 1, L, S)
            elif attn.shape == (batch * self.num_heads, length, source):
                attn = attn.view(batch, self.num_heads, length, source)    # (N, H, L, S)
            else:
                raise ValueError(f"attn_mask must have shape (L, S) = {(length, source)} or "
                                 f"(N H, L, S) = {(batch * self.num_heads, length, source)}, "
                                 f"got {tuple(attn_mask.shape)}")
            merged = attn
        padding = _as_additive(key_padding_mask, blocked_when=True, dtype=dtype,
                               name="key_padding_mask")
        if padding is not None:
            if padding.shape != (batch, source):
                raise ValueError(f"key_padding_mask must have shape (N, S) = {(batch, source)}, "
                                 f"got {tuple(key_padding_mask.shape)}")
            padding = padding.view(batch, 1, 1, source)                    # (N, 1, 1, S)
            merged = padding if merged is None else merged + padding
        if merged is None:
            return None
        return merged.expand(batch, self.num_heads, length, source)

