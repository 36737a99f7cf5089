"""Count-based n-gram language models with add-k smoothing: the baselines a neural LM must beat.

An n-gram model predicts token x_t from the n - 1 tokens before it by counting, in a training
stream, how often each context c = x_{t-n+1..t-1} was followed by each token v:

    p(v | c) = (count(c, v) + k) / (count(c) + k V)

With k > 0 no token has probability zero, so the cross-entropy on new text stays finite.
n = 1 ignores the context (the unigram model); n = 2 is the bigram model. Contexts are stored
sparsely (only those seen), coded as base-V integers, so a 4-gram over ~100 symbols needs no
V^4 table.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_index_array, positive_int, real_number

__all__ = ["NGramModel"]


def _codes(ids: np.ndarray, width: int, V: int, stop: int) -> np.ndarray:
    """Base-V code of ids[t-width..t-1] for every t in [width, stop): an int64 array."""
    code = np.zeros(stop - width, dtype=np.int64)
    for j in range(width):
        code = code * V + ids[j:stop - width + j]  # window slides: ids[t - width + j]
    return code


class NGramModel:
    """p(x_t | x_{t-n+1..t-1}) from counts with add-k smoothing.

    Args:
        n: the order (1 = unigram, 2 = bigram, ...); the context holds n - 1 tokens.
        vocab_size: V; token ids lie in [0, V). V^n must fit in int64.
        k: the pseudo-count added to every (context, token) pair, k > 0.
    """

    def __init__(self, n: int, vocab_size: int, k: float = 1.0):
        self.n = positive_int(n, "n")
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        self.k = real_number(k, "k", low=0.0, low_inclusive=False)
        if self.vocab_size ** self.n >= 2 ** 62:
            raise ValueError(f"vocab_size ** n must stay below 2**62, got {vocab_size}**{n}")
        self._pairs = self._pair_counts = self._contexts = self._context_counts = None

    def fit(self, ids) -> NGramModel:
        """Count every (context, next token) in the 1-D stream ``ids`` (L,); returns self."""
        ids = as_index_array(ids, "ids", upper=self.vocab_size)
        if ids.ndim != 1 or len(ids) < self.n:
            raise ValueError(f"ids must be 1-D with at least n={self.n} tokens, got {ids.shape}")
        V, w = self.vocab_size, self.n - 1
        context = _codes(ids, w, V, len(ids))  # (L - w,)
        pair = context * V + ids[w:]  # (L - w,)
        self._pairs, self._pair_counts = np.unique(pair, return_counts=True)
        self._contexts, self._context_counts = np.unique(context, return_counts=True)
        return self

    @staticmethod
    def _lookup(keys: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
        """counts[keys == query] for each query, 0 where the key was never seen."""
        at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
        return np.where(keys[at] == query, counts[at], 0)

    def log_prob(self, ids, start: int | None = None) -> np.ndarray:
        """log p(ids[t] | ids[t-n+1..t-1]) for t = start .. L-1 (default start = n - 1), nats."""
        if self._pairs is None:
            raise RuntimeError("NGramModel.log_prob was called before fit")
        ids = as_index_array(ids, "ids", upper=self.vocab_size)
        V, w = self.vocab_size, self.n - 1
        start = w if start is None else int(start)
        if start < w or start >= len(ids):
            raise ValueError(f"start must lie in [{w}, {len(ids)}), got {start}")
        context = _codes(ids, w, V, len(ids))[start - w:]  # (L - start,)
        pair = context * V + ids[start:]
        joint = self._lookup(self._pairs, self._pair_counts, pair)
        total = self._lookup(self._contexts, self._context_counts, context)
        return np.log(joint + self.k) - np.log(total + self.k * V)

    def cross_entropy(self, ids, start: int | None = None) -> float:
        """Mean -log p over the scored positions (nats per token)."""
        return float(-np.mean(self.log_prob(ids, start)))

    @property
    def num_contexts(self) -> int:
        """Number of distinct (n-1)-token contexts seen by :meth:`fit`."""
        if self._contexts is None:
            raise RuntimeError("NGramModel.num_contexts was read before fit")
        return len(self._contexts)

    def __repr__(self) -> str:
        return f"NGramModel(n={self.n}, vocab_size={self.vocab_size}, k={self.k})"
