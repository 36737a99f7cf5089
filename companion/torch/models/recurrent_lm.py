"""A character-level language model: Embedding -> LSTM -> LSTM -> Linear, and its tools.

- :class:`RecurrentLM` predicts, at every position of a token sequence, the next token (its
  recurrent layers may also be Elman RNNs or GRUs).
- :func:`train_language_model` trains it on random windows of a :class:`~companion.data.text.Corpus`
  and records the gradient norm of every step, before optional clipping.
- :func:`sequence_loss` evaluates a model over a long token array cut into chunks, in nats per
  token (divide by ln 2 for bits).
- :meth:`RecurrentLM.generate` samples text one token at a time, carrying the recurrent state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from companion.core.checks import as_index_array, as_rng, positive_int, real_number
from companion.torch._inputs import module_input
from companion.torch.embedding import Embedding
from companion.torch.linear import Linear
from companion.torch.losses import CrossEntropyLoss
from companion.torch.recurrent import LSTM
from companion.torch.training import History, train_steps

__all__ = ["RecurrentLM", "sequence_loss", "train_language_model"]

State = list  # one entry per layer: (h_n, c_n) for an LSTM, h_n (1, N, H) for an RNN or GRU


class RecurrentLM(nn.Module):
    """Next-token model: logits_t = W h^(K)_t + b, where h^(k) = LSTM_k(h^(k-1)) and
    h^(0)_t = Embedding(x_t).

    Args:
        vocab_size: V, the number of token ids.
        embedding_dim: E, the size of each token vector.
        hidden_size: H, the state size of every LSTM layer.
        num_layers: K, the number of stacked single-layer LSTMs (2 in the classic stack).
        rnn: factory ``rnn(input_size, hidden_size, batch_first=True)`` of a recurrent layer
            returning ``(output, state)``: the package's :class:`LSTM` (a Python loop over
            time) by default; ``torch.nn.LSTM`` computes the same function with a fused kernel,
            and ``RNN`` or ``GRU`` (the package's or torch's) give an Elman or gated model.

    Input: tokens (N, T) int64 and optionally the state returned by the previous call.
    Output: logits (N, T, V) and the new state, one entry per layer: the ``(h_n, c_n)`` pair
    (1, N, H) of an LSTM, ``h_n`` (1, N, H) of an RNN or GRU.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int,
                 num_layers: int = 2, rnn: Callable[..., nn.Module] = LSTM):
        super().__init__()
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        embedding_dim = positive_int(embedding_dim, "embedding_dim")
        hidden_size = positive_int(hidden_size, "hidden_size")
        num_layers = positive_int(num_layers, "num_layers")
        if not callable(rnn):
            raise TypeError(f"rnn must be a recurrent layer class, got {type(rnn).__name__}")
        self.embedding = Embedding(vocab_size, embedding_dim)
        self.recurrent = nn.ModuleList(
            rnn(embedding_dim if k == 0 else hidden_size, hidden_size, batch_first=True)
            for k in range(num_layers))
        self.output = Linear(hidden_size, vocab_size)

    def forward(self, tokens: torch.Tensor, state: State | None = None
                ) -> tuple[torch.Tensor, State]:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (N, T), got {tuple(tokens.shape)}")
        if state is not None and len(state) != len(self.recurrent):
            raise ValueError(f"state must hold one entry per layer ({len(self.recurrent)}),"
                             f" got {len(state)}")
        h = self.embedding(tokens)                                          # (N, T, E)
        new_state = []
        for k, layer in enumerate(self.recurrent):
            h, hc = layer(h, None if state is None else state[k])           # (N, T, H)
            new_state.append(hc)
        return self.output(h), new_state                                    # (N, T, V)

    @torch.no_grad()
    def generate(self, prompt, length: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> np.ndarray:
        """Sample ``length`` tokens after ``prompt`` (a 1-D sequence of ids, at least one).

        Each token is drawn from softmax(logits / temperature) of the last position, then fed
        back with the carried state. Returns the sampled ids as an int64 array (length,).
        """
        length = positive_int(length, "length")
        temperature = real_number(temperature, "temperature", low=0.0, low_inclusive=False)
        device = self.output.weight.device
        prompt = torch.as_tensor(np.asarray(prompt), dtype=torch.long, device=device)
        if prompt.dim() != 1 or prompt.numel() == 0:
            raise ValueError(f"prompt must be a non-empty 1-D sequence of ids, "
                             f"got shape {tuple(prompt.shape)}")
        was_training = self.training
        self.eval()
        logits, state = self(prompt[None])                                  # (1, L, V)
        sampled = []
        for _ in range(length):
            probs = torch.softmax(logits[0, -1] / temperature, dim=-1)      # (V,)
            token = torch.multinomial(probs.cpu(), 1, generator=generator).to(device)  # (1,)
            sampled.append(int(token))
            logits, state = self(token[None], state)                        # (1, 1, V)
        self.train(was_training)
        return np.array(sampled, dtype=np.int64)


@torch.no_grad()
def sequence_loss(model: nn.Module, ids, chunk: int = 256) -> tuple[float, int]:
    """Mean cross-entropy (nats per token) of next-token prediction over a long array of ids.

    ``ids`` (L,) is cut into ``(L - 1) // chunk`` rows of ``chunk`` inputs; row r predicts
    ids[r chunk + 1 .. (r + 1) chunk] from ids[r chunk .. (r + 1) chunk - 1], each row starting
    from a zero state. The predicted targets are exactly ids[1 : n + 1], n = rows * chunk.

    Returns ``(loss, n)``: the mean loss and the number of targets it averages.
    """
    chunk = positive_int(chunk, "chunk")
    device = next(module_input(model, "model").parameters()).device
    ids = torch.tensor(as_index_array(np.asarray(ids), "ids"), device=device)  # copies read-only ids
    rows = (len(ids) - 1) // chunk
    if rows < 1:
        raise ValueError(f"ids must hold more than chunk = {chunk} tokens, got {len(ids)}")
    n = rows * chunk
    inputs = ids[:n].view(rows, chunk)                                      # (R, chunk)
    targets = ids[1:n + 1].view(rows, chunk)
    was_training = model.training
    model.eval()
    logits, _ = model(inputs)                                               # (R, chunk, V)
    model.train(was_training)
    loss = CrossEntropyLoss()(logits.reshape(n, -1), targets.reshape(n))
    return float(loss), n


def train_language_model(model: nn.Module, corpus, optimizer: torch.optim.Optimizer, steps: int,
                         batch_size: int = 32, block_size: int = 64,
                         clip_norm: float | None = None, rng=None) -> tuple[History, np.ndarray]:
    """Train next-token prediction on random windows of ``corpus.train``; record gradient norms.

    Each step draws ``batch_size`` windows of ``block_size`` tokens with ``corpus.batch`` (from
    ``rng``), and minimises the mean cross-entropy of every position's next token with
    :func:`~companion.torch.training.train_steps`. Just before each optimiser step the total
    gradient norm ``||g|| = sqrt(sum_p ||grad p||^2)`` over all parameters is recorded, and, if
    ``clip_norm`` is given, the gradient is rescaled to ``g * min(1, clip_norm / ||g||)``: its
    direction is kept and its norm is at most ``clip_norm`` (Pascanu et al., 2013).

    Args:
        model: a model mapping tokens (N, T) to ``(logits (N, T, V), state)``, e.g.
            :class:`RecurrentLM`.
        corpus: a :class:`~companion.data.text.Corpus` (anything with its ``batch`` method).
        optimizer: the optimiser of ``model``'s parameters.
        steps: number of optimiser steps.
        batch_size: windows per step, B.
        block_size: window length T, the number of steps back-propagated through.
        clip_norm: the largest gradient norm allowed (None: no clipping).
        rng: None, an int seed or a ``numpy.random.Generator`` choosing the windows.

    Returns:
        ``(history, grad_norms)``: the loop's :class:`~companion.torch.training.History`
        (``step_loss`` holds every step's training loss) and a float64 array (steps,) of the
        gradient norms before clipping.
    """
    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    block_size = positive_int(block_size, "block_size")
    if clip_norm is not None:
        clip_norm = real_number(clip_norm, "clip_norm", low=0.0, low_inclusive=False)
    rng = as_rng(rng)
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    grad_norms = []

    def batches():
        while True:
            x, y = corpus.batch("train", batch_size, block_size, rng)       # (B, T) each
            yield torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)

    def compute_loss(model: nn.Module, batch) -> torch.Tensor:
        tokens, targets = batch
        logits, _ = model(tokens)                                           # (B, T, V)
        return CrossEntropyLoss()(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def measure_and_clip(optimizer, args, kwargs) -> None:                  # before each step
        grads = [p.grad for p in params if p.grad is not None]
        norm = nn.utils.get_total_norm(grads)                               # ||g||
        grad_norms.append(float(norm))
        if clip_norm is not None:
            nn.utils.clip_grads_with_norm_(params, clip_norm, norm)         # g * min(1, c/||g||)

    handle = optimizer.register_step_pre_hook(measure_and_clip)
    try:
        history = train_steps(model, batches(), compute_loss, optimizer, steps)
    finally:
        handle.remove()
    return history, np.array(grad_norms, dtype=np.float64)
