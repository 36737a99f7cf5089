"""An encoder-decoder (sequence-to-sequence) model of recurrent layers, with or without attention.

The encoder reads the source tokens and summarises them; the decoder writes the target one token
at a time, each step reading the token it wrote last. What links the two is the *context*:

- without attention (Sutskever et al. 2014; Cho et al. 2014) the context is one fixed vector,
  the encoder's state after the last source token, the same at every decoding step;
- with additive attention (Bahdanau et al. 2015) every step computes its own context, a
  weighted average of all encoder states, the weights scored against the decoder's state.

Both variants hold the same embeddings, recurrent layers and output layer, so a difference in
accuracy comes from the attention or from the initialisation (compare over seeds). Tokens use :data:`companion.data.PAD` (id 0) for
padding; the decoder's start token is an extra id, ``vocab_size``, that no target contains.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from companion.core.checks import flag, integer, positive_int
from companion.torch.embedding import Embedding
from companion.torch.linear import Linear
from companion.torch._inputs import tensor_input
from companion.torch.recurrent import GRU

__all__ = ["AdditiveAttention", "Seq2Seq", "sequence_lengths"]


def sequence_lengths(tokens: torch.Tensor, pad: int = 0) -> torch.Tensor:
    """Number of tokens before the padding of each row: tokens (N, S) -> lengths (N,) int64.

    Rows must be right-padded (every ``pad`` after every real token) and hold at least one token.
    """
    tokens, pad = tensor_input(tokens, "tokens", floating=False), integer(pad, "pad")
    if tokens.dim() != 2:
        raise ValueError(f"tokens must have shape (N, S), got {tuple(tokens.shape)}")
    real = tokens != pad                                                    # (N, S)
    lengths = real.sum(dim=1)                                               # (N,)
    if (lengths == 0).any():
        raise ValueError("every row of tokens must hold at least one non-padding token")
    positions = torch.arange(tokens.shape[1], device=tokens.device)         # (S,)
    if not torch.equal(real, positions < lengths[:, None]):
        raise ValueError("tokens must be right-padded: no padding before a real token")
    return lengths


class AdditiveAttention(nn.Module):
    """Bahdanau's additive attention of one query over a set of keys.

    score_j = v^T tanh(W_q q + W_k k_j),  a = softmax(score) over the unmasked j,
    context = sum_j a_j k_j.

    Args:
        query_size: size of the query q (the decoder state).
        key_size: size of each key k_j (an encoder state); keys are also the values.
        attention_size: A, the size of the hidden layer that scores each pair.

    Parameters: ``query.weight`` (A, query_size), ``key.weight`` (A, key_size) and
    ``key.bias`` (A,), ``score.weight`` (1, A).
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.query = Linear(positive_int(query_size, "query_size"),
                            positive_int(attention_size, "attention_size"), bias=False)
        self.key = Linear(positive_int(key_size, "key_size"), attention_size)
        self.score = Linear(attention_size, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """W_k k_j + b for every key, computed once per source: keys (N, S, K) -> (N, S, A)."""
        return self.key(keys)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor,
                projected_keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` (N, Q) over ``keys`` (N, S, K) where ``mask`` (N, S) is True.

        Every row of ``mask`` must hold at least one True (a source of at least one token).
        Returns the context (N, K) and the weights (N, S), zero where the mask is False.
        """
        if projected_keys is None:
            projected_keys = self.project_keys(keys)                        # (N, S, A)
        hidden = torch.tanh(projected_keys + self.query(query)[:, None, :])       # (N, S, A)
        scores = self.score(hidden).squeeze(-1)                             # (N, S)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)                             # (N, S)
        context = (weights[:, :, None] * keys).sum(dim=1)                   # (N, K)
        return context, weights


class Seq2Seq(nn.Module):
    """Recurrent encoder-decoder over token sequences, optionally with additive attention.

    Encoder: e = Embedding(src), (h_1 .. h_S) = RNN(e); the latent code z = h_len, the state
    after the last real source token. Decoder, for t = 1 .. T, starting from s_0 = z and the
    start token y_0:

        c_t = z (no attention)  or  c_t = Attention(s_{t-1}, h_1 .. h_len)
        s_t = RNN([Embedding(y_{t-1}); c_t], s_{t-1})
        logits_t = Linear([s_t; c_t])

    Args:
        vocab_size: V, the number of token ids (padding included, as id ``pad``).
        embedding_dim: E, the size of the token vectors.
        hidden_size: H, the size of the encoder and decoder states.
        attention: add Bahdanau attention (True) or use the fixed context z (False).
        rnn: factory ``rnn(input_size, hidden_size, batch_first=True)`` of a torch-style
            recurrent layer returning ``(output, h_n)``; the package's :class:`GRU` by default,
            or ``torch.nn.GRU``, the fused layer that computes the same function.
        pad: the padding id.

    Input: src (N, S) right-padded token ids; for teacher forcing also tgt (N, T).
    Output: logits (N, T, V) and the attention weights (N, T, S) (None without attention).
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int,
                 attention: bool = True, rnn: Callable[..., nn.Module] = GRU, pad: int = 0):
        super().__init__()
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        embedding_dim = positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        if not callable(rnn):
            raise TypeError(f"rnn must be a layer class such as GRU, got {type(rnn).__name__}")
        self.pad, self.start = integer(pad, "pad"), self.vocab_size
        self.source_embedding = Embedding(vocab_size, embedding_dim, padding_idx=self.pad)
        self.encoder = rnn(embedding_dim, hidden_size, batch_first=True)
        self.target_embedding = Embedding(vocab_size + 1, embedding_dim)     # + the start token
        self.decoder = rnn(embedding_dim + hidden_size, hidden_size, batch_first=True)
        self.attention = (AdditiveAttention(hidden_size, hidden_size, hidden_size)
                          if flag(attention, "attention") else None)
        self.output = Linear(2 * hidden_size, vocab_size)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder states (N, S, H), the latent code z (N, H) and the source mask (N, S)."""
        lengths = sequence_lengths(src, self.pad)                            # (N,)
        states, _ = self.encoder(self.source_embedding(src))                 # (N, S, H)
        last = (lengths - 1)[:, None, None].expand(-1, 1, self.hidden_size)  # (N, 1, H)
        latent = states.gather(1, last).squeeze(1)                           # (N, H)
        mask = torch.arange(src.shape[1], device=src.device) < lengths[:, None]   # (N, S)
        return states, latent, mask

    def forward(self, src: torch.Tensor, tgt: torch.Tensor | None = None,
                max_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decode with teacher forcing (``tgt`` given: step t reads tgt[:, t - 1]) or greedily
        (``max_length`` steps, each reading the arg-max of the step before)."""
        if (tgt is None) == (max_length is None):
            raise ValueError("give either tgt (teacher forcing) or max_length (greedy decoding)")
        states, latent, mask = self.encode(src)
        if tgt is not None:
            start = torch.full_like(tgt[:, :1], self.start)
            read = self.target_embedding(torch.cat([start, tgt[:, :-1]], dim=1))  # (N, T, E)
            if self.attention is None:       # the context never changes: one call for all steps
                return self._fixed_context(read, latent), None
        steps = tgt.shape[1] if tgt is not None else positive_int(max_length, "max_length")
        keys = None if self.attention is None else self.attention.project_keys(states)
        state = latent[None]                                                 # (1, N, H)
        token = torch.full((src.shape[0],), self.start, dtype=torch.long, device=src.device)
        logits, weights = [], []
        for t in range(steps):
            if self.attention is None:
                context = latent                                             # (N, H)
            else:
                context, w = self.attention(state[0], states, mask, keys)    # (N, H), (N, S)
                weights.append(w)
            embedded = read[:, t] if tgt is not None else self.target_embedding(token)  # (N, E)
            step_input = torch.cat([embedded, context], dim=-1)              # (N, E + H)
            out, state = self.decoder(step_input[:, None, :], state)         # (N, 1, H)
            step_logits = self.output(torch.cat([out[:, 0], context], dim=-1))     # (N, V)
            logits.append(step_logits)
            token = step_logits.argmax(dim=-1)
        attention = torch.stack(weights, dim=1) if weights else None         # (N, T, S)
        return torch.stack(logits, dim=1), attention                         # (N, T, V)

    def _fixed_context(self, read: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoding with c_t = z: every step's input is known in advance, so the
        decoder runs over all T steps in one call. read (N, T, E), latent (N, H) -> (N, T, V)."""
        context = latent[:, None, :].expand(-1, read.shape[1], -1)           # (N, T, H)
        out, _ = self.decoder(torch.cat([read, context], dim=-1), latent[None])   # (N, T, H)
        return self.output(torch.cat([out, context], dim=-1))                # (N, T, V)
