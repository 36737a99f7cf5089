"""A character-level language model: Embedding -> LSTM -> LSTM -> Linear, and its tools.

- :class:`RecurrentLM` predicts, at every position of a token sequence, the next token.
- :func:`sequence_loss` evaluates a model over a long token array cut into chunks, in nats per
  token (divide by ln 2 for bits).
- :meth:`RecurrentLM.generate` samples text one token at a time, carrying the recurrent state.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from companion.core.checks import positive_int, real_number
from companion.torch.embedding import Embedding
from companion.torch.linear import Linear
from companion.torch.losses import CrossEntropyLoss
from companion.torch.recurrent import LSTM

__all__ = ["RecurrentLM", "sequence_loss"]

State = list[tuple[torch.Tensor, torch.Tensor]]


class RecurrentLM(nn.Module):
    """Next-token model: logits_t = W h^(K)_t + b, where h^(k) = LSTM_k(h^(k-1)) and
    h^(0)_t = Embedding(x_t).

    Args:
        vocab_size: V, the number of token ids.
        embedding_dim: E, the size of each token vector.
        hidden_size: H, the state size of every LSTM layer.
        num_layers: K, the number of stacked single-layer LSTMs (2 in the classic stack).
        rnn: factory ``rnn(input_size, hidden_size, batch_first=True)`` of an LSTM-like layer
            returning ``(output, (h_n, c_n))``: the package's :class:`LSTM` (a Python loop over
            time) by default; ``torch.nn.LSTM`` computes the same function with a fused kernel.

    Input: tokens (N, T) int64 and optionally the state returned by the previous call.
    Output: logits (N, T, V) and the new state, one ``(h_n, c_n)`` pair (1, N, H) per layer.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int,
                 num_layers: int = 2, rnn: Callable[..., nn.Module] = LSTM):
        super().__init__()
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        embedding_dim = positive_int(embedding_dim, "embedding_dim")
        hidden_size = positive_int(hidden_size, "hidden_size")
        num_layers = positive_int(num_layers, "num_layers")
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
            raise ValueError(f"state must hold one (h, c) pair per layer ({len(self.recurrent)}),"
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
    device = next(model.parameters()).device
    ids = torch.as_tensor(np.array(ids, dtype=np.int64), device=device)
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
