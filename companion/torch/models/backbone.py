"""The body shared by the GPT and the masked language model, and the recipe that trains both.

:class:`TransformerLM` maps token ids to per-position scores over the vocabulary:

    h_0 = tok_emb[idx] + pos_emb[0..T-1]                     (B, T, C)
    h_l = Block_l(h_{l-1}),  l = 1..n_layer  (pre-LN)         (B, T, C)
    logits = head(LN_f(h_L))                                  (B, T, V)

Its blocks are causal for a GPT (position t sees 0..t) and bidirectional for a masked LM.
Initialisation follows GPT-2 (Radford et al. 2019): weights from N(0, 0.02), zero biases, unit
norm gains, and the two projections that write into the residual stream scaled by
1 / sqrt(2 n_layer), so the loss at initialisation is close to ln V.

:func:`adamw` and :func:`warmup_cosine` are the optimiser and learning-rate schedule both models
train with: AdamW decaying matrices only, a linear warm-up then a cosine down to a tenth.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.core.checks import positive_int, real_number
from companion.torch.dropout import Dropout
from companion.torch.embedding import Embedding
from companion.torch.linear import Linear
from companion.torch.models.transformer import TransformerBlock
from companion.torch.normalization import LayerNorm

__all__ = ["check_sizes", "TransformerLM", "adamw", "warmup_cosine"]


def check_sizes(config) -> None:
    """Validate the fields a :class:`TransformerLM` needs on a config dataclass."""
    for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
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
    ``blocks.{l}.*`` (see :class:`companion.torch.models.transformer.TransformerBlock`),
    ``ln_f`` (C,), ``head.weight`` (V, C) and ``head.bias`` (V,) if ``head_bias``.
    """

    def __init__(self, n_tokens: int, n_outputs: int, block_size: int, n_layer: int,
                 n_head: int, n_embd: int, dropout: float, causal: bool, head_bias: bool):
        super().__init__()
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


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.99) decaying the matrices, not biases, norm gains or embeddings."""
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "emb" not in n]
    keep = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "emb" not in n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": keep, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99))


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int,
                  warmup: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Scale the learning rate by (s + 1) / warmup for s < warmup, then follow a cosine from
    1 down to 0.1 at step ``steps``; call ``.step()`` after each optimiser step."""
    positive_int(warmup, "warmup", allow_zero=True)

    def rate(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(1, steps - warmup), 1.0)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
