"""A small decoder-only transformer language model (GPT) and a cheap way to train one.

The model reads token ids ``idx`` (B, T) and predicts, at every position t, a distribution over
the next token from tokens 0..t only: a :class:`companion.torch.models.transformer.TransformerLM`
with causal blocks (its docstring has the maths and the GPT-2 initialisation) and a head
without bias, ``head.weight`` (V, C), the same tensor as ``tok_emb.weight`` when
``tie_weights``.

:func:`train_tiny_gpt` trains one on a :class:`companion.data.Corpus` with AdamW in a fixed
number of steps (deterministic for a seed); :func:`evaluate_loss` scores a token stream and
:func:`stream_log_probs` gives the log-probability of each of its tokens;
:meth:`GPT.sequence_log_prob` gives log p(response | prompt), the quantity RLHF needs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from companion.core.checks import as_index_array, flag, positive_int, real_number
from companion.torch._inputs import module_input
from companion.torch.activations import log_softmax
from companion.torch.distributed import parallelize, shard
from companion.torch.models.transformer import TransformerLM, check_sizes
from companion.torch.training import adamw, train_steps, warmup_cosine

__all__ = ["GPTConfig", "GPT", "stream_log_probs", "evaluate_loss", "train_tiny_gpt"]


@dataclasses.dataclass
class GPTConfig:
    """Sizes of a :class:`GPT`.

    Attributes:
        vocab_size: V, the number of token ids.
        block_size: the longest context (number of learned positions).
        n_layer: number of transformer blocks.
        n_head: attention heads per block; must divide ``n_embd``.
        n_embd: C, the width of the residual stream.
        dropout: dropout probability (embeddings, attention weights, sub-layer outputs).
        tie_weights: share the output head's weight with the token embedding.
    """

    vocab_size: int
    block_size: int = 128
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    tie_weights: bool = False

    def __post_init__(self):
        check_sizes(self)
        flag(self.tie_weights, "tie_weights")


class GPT(TransformerLM):
    """Decoder-only transformer language model; see the module docstring for the maths.

    ``forward(idx, targets=None)`` -> ``(logits, loss)``: idx (B, T) int64 with T <= block_size,
    logits (B, T, V), loss the mean cross-entropy in nats against targets (B, T) (or None).
    """

    def __init__(self, config: GPTConfig):
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        super().__init__(config.vocab_size, config.vocab_size, config.block_size,
                         config.n_layer, config.n_head, config.n_embd, config.dropout,
                         causal=True, head_bias=False)
        self.config = config
        if config.tie_weights:
            self.head.weight = self.tok_emb.weight

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.logits(idx)  # (B, T, V)
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(f"targets must have shape {tuple(idx.shape)}, got "
                             f"{tuple(targets.shape)}")
        logp = log_softmax(logits, dim=-1)  # (B, T, V)
        picked = logp.gather(-1, targets[..., None]).squeeze(-1)  # (B, T, 1) -> (B, T)
        return logits, -picked.mean()

    def token_log_probs(self, idx: torch.Tensor) -> torch.Tensor:
        """log p(idx[:, t] | idx[:, :t]) for t = 1..T-1: (B, T) ids -> (B, T-1)."""
        logits, _ = self(idx[:, :-1])  # (B, T-1, V)
        logp = log_softmax(logits, dim=-1)  # (B, T-1, V)
        return logp.gather(-1, idx[:, 1:, None]).squeeze(-1)  # (B, T-1, 1) -> (B, T-1)

    def sequence_log_prob(self, idx: torch.Tensor, prompt_length: int = 1,
                          mask: torch.Tensor | None = None) -> torch.Tensor:
        """Sum of log p(x_t | x_<t) over the response positions t >= prompt_length.

        Args:
            idx: (B, T) prompt followed by response, T <= block_size + 1.
            prompt_length: P >= 1; tokens 0..P-1 are conditioned on, not scored.
            mask: optional (B, T) bool/float, 1 where a token counts (e.g. 0 after an end token).

        Returns:
            (B,) log-probabilities in nats (differentiable).
        """
        P = positive_int(prompt_length, "prompt_length")
        if P >= idx.shape[1]:
            raise ValueError(f"prompt_length must be smaller than T={idx.shape[1]}, got {P}")
        logp = self.token_log_probs(idx)[:, P - 1:]  # (B, T-P): targets idx[:, P:]
        if mask is not None:
            logp = logp * mask[:, P:].to(logp.dtype)  # (B, T-P)
        return logp.sum(dim=1)  # (B,)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator: torch.Generator | None = None):
        """Extend idx (B, T0) by sampling ``max_new_tokens`` tokens, one at a time.

        Each step crops the context to the last ``block_size`` tokens, divides the last logits
        by ``temperature`` (> 0), keeps the ``top_k`` largest if given, and samples from the
        softmax with ``generator``. Returns (B, T0 + max_new_tokens).
        """
        temperature = real_number(temperature, "temperature", low=0.0, low_inclusive=False)
        if top_k is not None:
            top_k = min(positive_int(top_k, "top_k"), self.config.vocab_size)
        for _ in range(positive_int(max_new_tokens, "max_new_tokens", allow_zero=True)):
            context = idx[:, -self.config.block_size:]  # (B, <= block_size)
            logits, _ = self(context)
            logits = logits[:, -1, :] / temperature  # (B, V)
            if top_k is not None:
                kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1)  # (B, V)
            nxt = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)  # (B, T + 1)
        return idx


@torch.no_grad()
def stream_log_probs(model: GPT, ids, block_size: int | None = None, batch_size: int = 64,
                     device=None) -> np.ndarray:
    """log p(ids[t + 1] | the window's tokens up to t), in the windows :func:`evaluate_loss` uses.

    ``ids`` (L,) is cut into n = (L - 1) // T non-overlapping windows of T = ``block_size``
    inputs; row i, column j of the result scores the target ids[i T + j + 1] given
    ids[i T .. i T + j], so column j holds the predictions made after seeing j + 1 tokens.

    Returns:
        (n, T) float64 array of log-probabilities in nats; ``.reshape(-1)`` scores ids[1 : n T + 1].
    """
    module_input(model, "model")
    block_size = (model.config.block_size if block_size is None
                  else positive_int(block_size, "block_size"))
    batch_size = positive_int(batch_size, "batch_size")
    ids = torch.from_numpy(as_index_array(np.array(ids), "ids"))  # a writable copy (L,)
    n = (len(ids) - 1) // block_size
    if n < 1:
        raise ValueError(f"ids must hold more than block_size={block_size} tokens, got {len(ids)}")
    x = ids[:n * block_size].view(n, block_size)  # (n, T)
    y = ids[1:n * block_size + 1].view(n, block_size)  # (n, T)
    device = next(model.parameters()).device if device is None else device
    was_training = model.training
    model.eval()
    rows = []
    for start in range(0, n, batch_size):
        logits, _ = model(x[start:start + batch_size].to(device))  # (b, T, V)
        logp = log_softmax(logits.double(), dim=-1)  # (b, T, V)
        target = y[start:start + batch_size, :, None].to(device)  # (b, T, 1)
        rows.append(logp.gather(-1, target).squeeze(-1).cpu().numpy())  # (b, T)
    model.train(was_training)
    return np.concatenate(rows)  # (n, T)


@torch.no_grad()
def evaluate_loss(model: GPT, ids, block_size: int | None = None, batch_size: int = 64,
                  device=None) -> float:
    """Mean next-token cross-entropy (nats) over a token stream, in non-overlapping windows.

    ``ids`` (L,) is cut into windows of ``block_size`` + 1 tokens (inputs and shifted targets);
    every target of every whole window is scored, each with the context available inside its
    window. Returns the mean over all scored tokens: ``-stream_log_probs(...).mean()``.
    """
    return float(-stream_log_probs(model, ids, block_size, batch_size, device).mean())


def train_tiny_gpt(corpus, config: GPTConfig | None = None, steps: int = 1400,
                   batch_size: int = 32, lr: float = 7e-3, weight_decay: float = 0.01,
                   warmup: int = 20, seed: int = 0, device=None, eval_every: int = 0,
                   max_seconds: float | None = None, strategy: str = "ddp"):
    """Train a character GPT on ``corpus`` (a :class:`companion.data.Corpus`) with AdamW.

    Batches come from ``corpus.batch("train", batch_size, block_size, rng)`` with a NumPy
    generator seeded by ``seed``; the model is initialised after ``torch.manual_seed(seed)``,
    so a run is reproducible on one machine. The learning rate warms up linearly for
    ``warmup`` steps, then follows a cosine down to lr / 10 at ``steps``. Gradients are
    clipped to norm 1. Inside a ``torch.distributed`` process group it trains data-parallel:
    every rank draws the same global batches and trains on its share of each (see
    :mod:`companion.torch.distributed`), following the single-process run up to rounding.

    Args:
        corpus: the text, with ``train``/``val`` id arrays and ``vocab_size``.
        config: model sizes (default: 2 layers, 4 heads, C = 64, block 32, the corpus's V).
        steps: optimiser steps. batch_size: windows per step (over all ranks). lr: peak
            learning rate.
        weight_decay: AdamW decay on matrices (not on biases, norms or embeddings).
        seed: seeds torch (initialisation) and the batch sampler.
        device: where to train (default: the CPU, since tiny models gain nothing from a GPU).
        eval_every: if > 0, record the validation loss every that many steps (and at the end).
        max_seconds: stop early once this much wall time has passed (makes the run
            machine-dependent; None keeps it deterministic). Must be None data-parallel.
        strategy: how ranks share the model in a process group, ``"ddp"`` or ``"fsdp"``
            (:func:`companion.torch.distributed.parallelize`; under FSDP the model returned
            stays sharded); unused in one process.

    Returns:
        (model, history): the trained model in eval mode, and the
        :class:`~companion.core.training.History` of :func:`companion.torch.training.train_steps`:
        ``step_loss`` of every step and, with ``eval_every``, ``val_loss`` (first 20,000
        validation characters) after the steps in ``eval_step``.
    """
    if config is None:
        config = GPTConfig(vocab_size=corpus.vocab_size, block_size=32)
    if config.vocab_size != corpus.vocab_size:
        raise ValueError(f"config.vocab_size must be the corpus's {corpus.vocab_size}, "
                         f"got {config.vocab_size}")
    steps = positive_int(steps, "steps")
    device = torch.device("cpu") if device is None else torch.device(device)
    torch.manual_seed(seed)
    model = GPT(config).to(device)
    trained, rank, world_size = parallelize(model, strategy)  # (model, 0, 1) in one process
    if world_size > 1 and max_seconds is not None:
        raise ValueError(f"max_seconds must be None when training data-parallel (the ranks "
                         f"would stop at different steps), got {max_seconds}")
    optimizer = adamw(model, lr, weight_decay)
    rng = np.random.default_rng(seed)

    def batches():  # this rank's share of random windows (x, y), each (B / world_size, T)
        while True:
            x, y = corpus.batch("train", batch_size, config.block_size, rng)
            yield tuple(torch.from_numpy(shard(ids, rank, world_size)).to(device)
                        for ids in (x, y))

    def validation(_):  # the GPT itself: DDP's wrapper lacks its methods
        return {"loss": evaluate_loss(model, corpus.val[:20_000], device=device)}

    history = train_steps(trained, batches(), lambda model, batch: model(*batch)[1], optimizer,
                          steps, warmup_cosine(optimizer, steps, warmup), clip_norm=1.0,
                          evaluate=validation if eval_every else None,
                          eval_every=eval_every or None, max_seconds=max_seconds)
    model.eval()
    return model, history
