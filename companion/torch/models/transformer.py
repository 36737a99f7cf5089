"""The transformer block from torch primitives: self-attention, feed-forward, norms, residuals.

A block maps a sequence ``x`` of shape (B, T, C) to another of the same shape. It has two
sub-layers, multi-head self-attention and a position-wise feed-forward network, each wrapped in
a residual connection and a layer normalisation. Where the normalisation sits gives two forms:

* **pre-LN** (GPT-2 and most models since): ``x = x + Attn(LN1(x)); x = x + FFN(LN2(x))``;
  the residual stream is never normalised, so gradients reach early layers through identity
  paths (Xiong et al. 2020).
* **post-LN** (Vaswani et al. 2017): ``x = LN1(x + Attn(x)); x = LN2(x + FFN(x))``.

:func:`sinusoidal_positional_encoding` builds the fixed position signal of Vaswani et al.;
learned position embeddings (an ``Embedding`` over positions) are the alternative used by
:mod:`companion.torch.models.gpt`. Parameter names here are mirrored by
:mod:`companion.numpy.transformer`, so weights copy across unchanged.

:class:`TransformerLM` is the body the GPT and the masked language model share: it maps token ids
to per-position scores over the vocabulary,

    h_0 = tok_emb[idx] + pos_emb[0..T-1]                     (B, T, C)
    h_l = Block_l(h_{l-1}),  l = 1..n_layer  (pre-LN)         (B, T, C)
    logits = head(LN_f(h_L))                                  (B, T, V)

with causal blocks for a GPT (position t sees 0..t) and bidirectional ones for a masked LM.
Initialisation follows GPT-2 (Radford et al. 2019): weights from N(0, 0.02), zero biases, unit
norm gains, and the two projections that write into the residual stream scaled by
1 / sqrt(2 n_layer), so the loss at initialisation is close to ln V.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.core.checks import flag, positive_int, real_number
from companion.torch.activations import GELU
from companion.torch.attention import masked_softmax
from companion.torch.dropout import Dropout, dropout
from companion.torch.embedding import Embedding
from companion.torch.linear import Linear
from companion.torch.normalization import LayerNorm

__all__ = ["sinusoidal_positional_encoding", "SelfAttention", "FeedForward", "TransformerBlock",
           "check_sizes", "TransformerLM"]


def sinusoidal_positional_encoding(length: int, dim: int, base: float = 10000.0,
                                   dtype=torch.float32, device=None) -> torch.Tensor:
    """PE[t, 2i] = sin(t / base^(2i/dim)), PE[t, 2i+1] = cos(t / base^(2i/dim)).

    Each pair of columns (2i, 2i+1) is a point turning on a circle at angular frequency
    w_i = base^(-2i/dim), so PE[t + k] is PE[t] rotated pair by pair by the angles k w_i: a
    fixed offset acts as a linear map that does not depend on t.

    Args:
        length: T, the number of positions 0 .. T-1.
        dim: C, the encoding size; must be even.
        base: the wavelength scale (10000 in Vaswani et al. 2017).

    Returns:
        (T, C) tensor.
    """
    length = positive_int(length, "length")
    dim = positive_int(dim, "dim")
    base = real_number(base, "base", low=0.0, low_inclusive=False)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    if dim % 2:
        raise ValueError(f"dim must be even (sine/cosine pairs), got {dim}")
    position = torch.arange(length, dtype=torch.float64, device=device)[:, None]  # (T, 1)
    freq = base ** (-torch.arange(0, dim, 2, dtype=torch.float64, device=device) / dim)  # (C/2,)
    angle = position * freq  # (T, 1) * (C/2,) -> (T, C/2)
    pe = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1)  # (T, C/2, 2)
    return pe.reshape(length, dim).to(dtype)  # (T, C/2, 2) -> (T, C), interleaved sin/cos


class SelfAttention(nn.Module):
    """Multi-head self-attention: concat_h softmax(Q_h K_h^T / sqrt(hs) + M) V_h, then W_o.

    [Q, K, V] = x W_qkv^T + b_qkv splits into ``n_head`` heads of hs = C / n_head features.
    Parameters: ``qkv.weight`` (3C, C), ``qkv.bias`` (3C,), ``proj.weight`` (C, C),
    ``proj.bias`` (C,).

    Args:
        n_embd: C, the feature size.
        n_head: number of heads; must divide C.
        dropout: dropout on the attention weights and on the output (training only).
        causal: if True position t attends only to positions <= t (a decoder).

    Input: x (B, T, C), optional ``key_padding_mask`` (B, T) bool, True where a key is padding.
    Output: (B, T, C). After a forward pass ``last_weights`` holds the (B, nh, T, T) weights.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, causal: bool = True):
        super().__init__()
        self.n_embd = positive_int(n_embd, "n_embd")
        self.n_head = positive_int(n_head, "n_head")
        if n_embd % n_head:
            raise ValueError(f"n_embd must be divisible by n_head, got n_embd={n_embd} and "
                             f"n_head={n_head}")
        self.dropout = real_number(dropout, "dropout", 0.0, 1.0)
        self.causal = flag(causal, "causal")
        self.qkv = Linear(n_embd, 3 * n_embd)
        self.proj = Linear(n_embd, n_embd)
        self.resid_dropout = Dropout(self.dropout)
        self.last_weights = None

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None):
        if x.dim() != 3 or x.shape[-1] != self.n_embd:
            raise ValueError(f"x must have shape (B, T, {self.n_embd}), got {tuple(x.shape)}")
        B, T, C = x.shape
        nh, hs = self.n_head, C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=-1)  # (B, T, 3C) -> 3 x (B, T, C)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, T, C) -> (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # (B, nh, T, hs) @ (B, nh, hs, T)
        if self.causal:
            causal_mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # (T, T)
            scores = scores.masked_fill(~causal_mask, float("-inf"))  # (B, nh, T, T)
        if key_padding_mask is not None:
            if key_padding_mask.shape != (B, T) or key_padding_mask.dtype != torch.bool:
                raise ValueError(f"key_padding_mask must be a bool tensor of shape ({B}, {T}), "
                                 f"got {key_padding_mask.dtype} {tuple(key_padding_mask.shape)}")
            padding = key_padding_mask[:, None, None, :]  # (B, T) -> (B, 1, 1, T)
            scores = scores.masked_fill(padding, float("-inf"))  # (B, nh, T, T)
        weights = masked_softmax(scores)  # (B, nh, T, T); an all-blocked row gives zeros
        self.last_weights = weights.detach()
        weights = dropout(weights, self.dropout, self.training)
        out = weights @ v  # (B, nh, T, T) @ (B, nh, T, hs) -> (B, nh, T, hs)
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, nh, T, hs) -> (B, T, nh, hs) -> (B, T, C)
        return self.resid_dropout(self.proj(out))  # (B, T, C)


class FeedForward(nn.Module):
    """Position-wise feed-forward network: FFN(x) = W_2 GELU(W_1 x + b_1) + b_2 at every t.

    Parameters: ``fc1`` (hidden, C) and ``fc2`` (C, hidden) Linear layers.
    Input: (B, T, C). Output: (B, T, C).
    """

    def __init__(self, n_embd: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        n_embd, hidden = positive_int(n_embd, "n_embd"), positive_int(hidden, "hidden")
        dropout = real_number(dropout, "dropout", 0.0, 1.0)
        self.fc1 = Linear(n_embd, hidden)
        self.act = GELU()
        self.fc2 = Linear(hidden, n_embd)
        self.drop = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.act(self.fc1(x))))  # (B, T, C) -> (B, T, 4C) -> (B, T, C)


class TransformerBlock(nn.Module):
    """One transformer layer: self-attention and feed-forward, each with a residual and a norm.

    pre-LN (``norm_first=True``): x = x + Attn(LN1(x)); x = x + FFN(LN2(x)).
    post-LN (``norm_first=False``): x = LN1(x + Attn(x)); x = LN2(x + FFN(x)).
    Parameters: ``ln1``, ``attn`` (:class:`SelfAttention`), ``ln2``, ``mlp``
    (:class:`FeedForward`).

    Args:
        n_embd: C. n_head: heads. dropout: on attention weights and sub-layer outputs.
        norm_first: pre-LN if True, post-LN if False.
        causal: mask future positions (decoder) or not (encoder).
        mlp_ratio: the feed-forward hidden size is ``mlp_ratio * C``.

    Input: (B, T, C), optional ``key_padding_mask`` (B, T). Output: (B, T, C).
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, norm_first: bool = True,
                 causal: bool = True, mlp_ratio: int = 4):
        super().__init__()
        n_embd = positive_int(n_embd, "n_embd")
        self.norm_first = flag(norm_first, "norm_first")
        causal = flag(causal, "causal")
        self.ln1 = LayerNorm(n_embd)
        self.attn = SelfAttention(n_embd, n_head, dropout, causal)
        self.ln2 = LayerNorm(n_embd)
        self.mlp = FeedForward(n_embd, positive_int(mlp_ratio, "mlp_ratio") * n_embd, dropout)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None):
        if self.norm_first:
            x = x + self.attn(self.ln1(x), key_padding_mask)  # (B, T, C)
            return x + self.mlp(self.ln2(x))  # (B, T, C)
        x = self.ln1(x + self.attn(x, key_padding_mask))  # (B, T, C)
        return self.ln2(x + self.mlp(x))  # (B, T, C)


def check_sizes(config) -> None:
    """Validate the fields a :class:`TransformerLM` needs on a config dataclass."""
    fields = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "dropout")
    if not all(hasattr(config, name) for name in fields):
        raise TypeError(f"config must have the fields {', '.join(fields)}, got "
                        f"{type(config).__name__}")
    for name in fields[:-1]:
        positive_int(getattr(config, name), name)
    if config.n_embd % config.n_head:
        raise ValueError(f"n_embd must be divisible by n_head, got n_embd={config.n_embd} "
                         f"and n_head={config.n_head}")
    real_number(config.dropout, "dropout", 0.0, 1.0)


class TransformerLM(nn.Module):
    """Embeddings, a stack of pre-LN transformer blocks, a final norm and a linear head.

    Args:
        n_tokens: rows of the token embedding (the input vocabulary).
        n_outputs: V, the size of the head's output (the predicted vocabulary).
        block_size: the longest sequence (number of learned positions).
        n_layer, n_head, n_embd: depth, heads per block and width C of the residual stream.
        dropout: dropout probability (embeddings, attention weights, sub-layer outputs).
        causal: whether position t attends to positions 0..t only.
        head_bias: whether the head has a bias.

    Parameters: ``tok_emb.weight`` (n_tokens, C), ``pos_emb.weight`` (block_size, C),
    ``blocks.{l}.*`` (see :class:`TransformerBlock`),
    ``ln_f`` (C,), ``head.weight`` (V, C) and ``head.bias`` (V,) if ``head_bias``.
    """

    def __init__(self, n_tokens: int, n_outputs: int, block_size: int, n_layer: int,
                 n_head: int, n_embd: int, dropout: float, causal: bool, head_bias: bool):
        super().__init__()
        for value, name in ((n_tokens, "n_tokens"), (n_outputs, "n_outputs"),
                            (block_size, "block_size"), (n_layer, "n_layer"),
                            (n_head, "n_head"), (n_embd, "n_embd")):
            positive_int(value, name)
        dropout = real_number(dropout, "dropout", 0.0, 1.0)
        causal, head_bias = flag(causal, "causal"), flag(head_bias, "head_bias")
        self.block_size = block_size
        self.n_layer = n_layer
        self.tok_emb = Embedding(n_tokens, n_embd)
        self.pos_emb = Embedding(block_size, n_embd)
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(n_embd, n_head, dropout, norm_first=True, causal=causal)
            for _ in range(n_layer))
        self.ln_f = LayerNorm(n_embd)
        self.head = Linear(n_embd, n_outputs, bias=head_bias)
        self.reset_parameters()

    def init_std(self, name: str) -> float:
        """Standard deviation of the normal draw for the weight called ``name``."""
        if name.endswith(("attn.proj.weight", "mlp.fc2.weight")):
            return 0.02 / math.sqrt(2 * self.n_layer)  # residual writers
        return 0.02

    def reset_parameters(self) -> None:
        """Zero biases, unit norm gains, weights from N(0, init_std(name)^2)."""
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.endswith("bias"):
                    param.zero_()
                elif name.startswith("ln") or ".ln" in name:
                    param.fill_(1.0)
                else:
                    param.normal_(0.0, self.init_std(name))

    def num_parameters(self) -> int:
        """Number of distinct trainable numbers (a tied weight counts once)."""
        return sum(p.numel() for p in self.parameters())

    def logits(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) integer ids with T <= block_size -> (B, T, V) scores."""
        if idx.dim() != 2 or idx.is_floating_point():
            raise ValueError(f"idx must be an integer tensor (B, T), got {idx.dtype} "
                             f"{tuple(idx.shape)}")
        T = idx.shape[1]
        if T > self.block_size:
            raise ValueError(f"idx has T={T} positions but block_size is {self.block_size}")
        position = torch.arange(T, device=idx.device)  # (T,)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(position))  # (B, T, C) + (T, C)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return self.head(self.ln_f(x))  # (B, T, C) -> (B, T, V)
