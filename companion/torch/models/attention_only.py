"""An attention-only transformer and the repeated-random-token task that teaches it to copy.

Elhage et al. (2021) study transformers with the feed-forward layers removed: token and position
embeddings, ``n_layer`` residual attention layers, and an unembedding,

    h_0 = tok_emb[idx] + pos_emb[0..T-1]                          (B, T, C)
    h_l = h_{l-1} + Attn_l(LN_l(h_{l-1})),  l = 1..n_layer         (B, T, C)
    logits = head(LN_f(h_L))                                       (B, T, V)

with causal multi-head attention (:class:`companion.torch.models.transformer.SelfAttention`).
Every path from an input token to a logit goes through attention alone, so what the model does
can be read from its attention weights. With two layers it can form an *induction head*
(Olsson et al. 2022): a head in layer 1 whose keys carry the *previous* token of each position,
written there by a previous-token head of layer 0, so that the query "my token is A" finds the
position after an earlier A and copies the token found there. One layer cannot: its keys know
only their own token and position.

:func:`periodic_random_tokens` makes the data: random strings repeated, with a period that
changes from sequence to sequence, so that no fixed positional offset finds the earlier copy
and only a content-based lookup of the kind above can predict the repeats.
:func:`train_attention_only` trains a model on it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from companion.core.checks import as_rng, positive_int
from companion.torch.activations import log_softmax
from companion.torch.embedding import Embedding
from companion.torch.linear import Linear
from companion.torch.models.transformer import SelfAttention
from companion.torch.normalization import LayerNorm
from companion.torch.training import adamw, train_steps, warmup_cosine

__all__ = ["AttentionOnlyTransformer", "periodic_random_tokens", "train_attention_only"]


class AttentionOnlyTransformer(nn.Module):
    """Embeddings, ``n_layer`` pre-LN causal attention layers with residuals, a linear head.

    Args:
        vocab_size: V, the number of token ids.
        block_size: the longest sequence (number of learned positions).
        n_layer: number of attention layers. n_head: heads per layer (must divide n_embd).
        n_embd: C, the width of the residual stream.

    Parameters: ``tok_emb.weight`` (V, C), ``pos_emb.weight`` (block_size, C),
    ``layers.{l}.ln`` and ``layers.{l}.attn`` (:class:`SelfAttention`), ``ln_f``,
    ``head.weight`` (V, C). ``forward(idx)`` maps (B, T) ids to (B, T, V) logits; afterwards
    :meth:`attention_weights` returns the weights of every layer.
    """

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 2, n_head: int = 4,
                 n_embd: int = 64):
        super().__init__()
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        self.block_size = positive_int(block_size, "block_size")
        n_layer = positive_int(n_layer, "n_layer")
        n_embd = positive_int(n_embd, "n_embd")
        self.tok_emb = Embedding(vocab_size, n_embd)
        self.pos_emb = Embedding(block_size, n_embd)
        self.layers = nn.ModuleList(
            nn.ModuleDict({"ln": LayerNorm(n_embd), "attn": SelfAttention(n_embd, n_head)})
            for _ in range(n_layer))
        self.ln_f = LayerNorm(n_embd)
        self.head = Linear(n_embd, vocab_size, bias=False)
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name.endswith("bias"):
                    param.zero_()
                elif "ln" not in name:
                    param.normal_(0.0, 0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.dim() != 2 or idx.is_floating_point():
            raise ValueError(f"idx must be an integer tensor (B, T), got {idx.dtype} "
                             f"{tuple(idx.shape)}")
        T = idx.shape[1]
        if T > self.block_size:
            raise ValueError(f"idx has T={T} positions but block_size is {self.block_size}")
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))  # (B, T, C)
        for layer in self.layers:
            x = x + layer["attn"](layer["ln"](x))  # (B, T, C)
        return self.head(self.ln_f(x))  # (B, T, C) -> (B, T, V)

    def attention_weights(self) -> torch.Tensor:
        """Weights of the last forward pass: (n_layer, B, n_head, T, T)."""
        weights = [layer["attn"].last_weights for layer in self.layers]
        if any(w is None for w in weights):
            raise RuntimeError("attention_weights needs a forward pass first")
        return torch.stack(weights)

    @torch.no_grad()
    def token_losses(self, idx: torch.Tensor) -> torch.Tensor:
        """-log p(idx[:, t] | idx[:, :t]) for t = 1..T-1, in nats: (B, T) -> (B, T-1)."""
        logp = log_softmax(self(idx[:, :-1]), dim=-1)  # (B, T-1, V)
        return -logp.gather(-1, idx[:, 1:, None]).squeeze(-1)  # (B, T-1)


def periodic_random_tokens(n: int, length: int, vocab_size: int, min_period: int,
                           max_period: int, rng=None):
    """Sequences that repeat a random string: x[t] = s[t mod P], P drawn per sequence.

    For each of the ``n`` sequences a period P is drawn uniformly from
    [min_period, max_period] and a string s of P tokens uniformly from [0, vocab_size); the
    sequence repeats s until it is ``length`` tokens long. The first P tokens are unpredictable
    (the best loss there is ln V); every later token equals the one P positions back.

    Returns:
        tokens (n, length) int64 and periods (n,) int64.
    """
    n, length = positive_int(n, "n"), positive_int(length, "length")
    vocab_size = positive_int(vocab_size, "vocab_size")
    min_period, max_period = positive_int(min_period, "min_period"), positive_int(max_period,
                                                                                  "max_period")
    if not min_period <= max_period < length:
        raise ValueError(f"need min_period <= max_period < length, got {min_period}, "
                         f"{max_period} and {length}")
    rng = as_rng(rng)
    periods = rng.integers(min_period, max_period + 1, size=n)  # (n,)
    strings = rng.integers(0, vocab_size, size=(n, max_period))  # (n, max_period)
    t = np.arange(length)  # (length,)
    tokens = np.take_along_axis(strings, t[None, :] % periods[:, None], axis=1)  # (n, length)
    return tokens.astype(np.int64), periods.astype(np.int64)


def train_attention_only(model: AttentionOnlyTransformer, steps: int = 400, batch_size: int = 32,
                         length: int | None = None, min_period: int = 6,
                         max_period: int = 16, lr: float = 3e-3, seed: int = 0):
    """Train ``model`` on :func:`periodic_random_tokens` batches with AdamW, next-token loss.

    Every step draws a fresh batch (seeded by ``seed``), so the model never sees a string twice
    across steps and can only learn to copy within a sequence. Warm-up for a tenth of the steps,
    cosine decay, gradients clipped to norm 1, weight decay 0.01 on matrices.

    Returns:
        The :class:`~companion.core.training.History` of
        :func:`companion.torch.training.train_steps`; the model is left in eval mode.
    """
    length = model.block_size if length is None else positive_int(length, "length")
    steps = positive_int(steps, "steps")
    rng = as_rng(seed)

    def batches():
        while True:
            tokens, _ = periodic_random_tokens(batch_size, length, model.vocab_size, min_period,
                                               max_period, rng)
            yield torch.from_numpy(tokens)

    def loss(model, idx):  # mean next-token cross-entropy over all positions
        logp = log_softmax(model(idx[:, :-1]), dim=-1)  # (B, T-1, V)
        return -logp.gather(-1, idx[:, 1:, None]).mean()

    optimizer = adamw(model, lr, 0.01)
    history = train_steps(model, batches(), loss, optimizer, steps,
                          warmup_cosine(optimizer, steps, max(1, steps // 10)), clip_norm=1.0)
    model.eval()
    return history
