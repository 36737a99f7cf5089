"""Count-based n-gram language models (add-k and Kneser–Ney smoothing): the baselines a neural LM
must beat.

An n-gram model predicts token x_t from the n - 1 tokens before it by counting, in a training
stream, how often each context c = x_{t-n+1..t-1} was followed by each token v:

    p(v | c) = (count(c, v) + k) / (count(c) + k V)

With k > 0 no token has probability zero, so the cross-entropy on new text stays finite.
n = 1 ignores the context (the unigram model); n = 2 is the bigram model. Contexts are stored
sparsely (only those seen), coded as base-V integers, so a 4-gram over ~100 symbols needs no
V^4 table.

:class:`KneserNeyModel` is the standard strong baseline: interpolated Kneser–Ney smoothing
(Kneser & Ney 1995; the interpolated form of Chen & Goodman 1999). It subtracts a discount D from
every seen count, gives the freed mass to the next shorter context, and estimates the shorter
contexts from *continuation* counts (in how many different contexts a string was seen), not from
raw frequencies.

:class:`NeighbourCountModel` counts on both sides instead: it is the baseline a masked language
model must beat, predicting a hidden token from the tokens on either side of it by counting
triples (left, centre, right) in a training stream, backing off to one neighbour and then to the
most frequent token when a neighbour is itself hidden or the pair was never seen.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_index_array, positive_int, real_number

__all__ = ["NGramModel", "KneserNeyModel", "NeighbourCountModel"]


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


class KneserNeyModel:
    """p(x_t | x_{t-n+1..t-1}) by interpolated Kneser–Ney smoothing (Chen & Goodman 1999).

    Write h for a context of m - 1 tokens, h' for h without its first (oldest) token, and c(h v)
    for the number of times the m-gram h v occurs in the training stream. The highest order
    (m = n) uses raw counts, every lower order (m < n) continuation counts
    N1+(. h v) = the number of distinct tokens seen just before h v; call either a(h v), with
    a(h) = sum_v a(h v) and N(h) = the number of distinct v with a(h v) > 0. Then

        p_m(v | h) = max(a(h v) - D_m, 0) / a(h) + D_m N(h) / a(h) * p_{m-1}(v | h')
        p_m(v | h) = p_{m-1}(v | h')                      if a(h) = 0 (h never seen)
        p_0(v) = 1 / V                                    (so no token gets probability zero)

    The mass D_m N(h) / a(h) taken from the seen tokens is exactly what the shorter context
    receives, so each p_m sums to one over v. The discount of order m defaults to
    D_m = n1 / (n1 + 2 n2), with n1 and n2 the numbers of m-grams whose count a is exactly
    1 and 2 (Ney, Essen & Kneser 1994).

    Args:
        n: the order (1 = unigram, 2 = bigram, ...); the context holds n - 1 tokens.
        vocab_size: V; token ids lie in [0, V). V^n must fit in int64.
        discount: one D in (0, 1) for every order, or None to estimate D_m per order from the
            counts as above.
    """

    def __init__(self, n: int, vocab_size: int, discount: float | None = None):
        self.n = positive_int(n, "n")
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        if discount is not None:
            discount = real_number(discount, "discount", low=0.0, low_inclusive=False,
                                   high=1.0, high_inclusive=False)
        self.discount = discount
        if self.vocab_size ** self.n >= 2 ** 62:
            raise ValueError(f"vocab_size ** n must stay below 2**62, got {vocab_size}**{n}")
        self._orders = None
        self.discounts: list[float] | None = None

    def fit(self, ids) -> KneserNeyModel:
        """Count the m-grams of the 1-D stream ``ids`` (L,) for m = 1..n; returns self."""
        ids = as_index_array(ids, "ids", upper=self.vocab_size)
        if ids.ndim != 1 or len(ids) < self.n:
            raise ValueError(f"ids must be 1-D with at least n={self.n} tokens, got {ids.shape}")
        V = self.vocab_size
        grams, counts = np.unique(_codes(ids, self.n, V, len(ids) + 1),  # every n-gram (L-n+1,)
                                  return_counts=True)
        orders = [None] * (self.n + 1)
        discounts = [0.0] * (self.n + 1)
        for m in range(self.n, 0, -1):
            if m < self.n:  # continuation counts: distinct predecessors of each m-gram
                grams, counts = np.unique(grams % V ** m, return_counts=True)
            contexts, first = np.unique(grams // V, return_index=True)  # grams are sorted
            totals = np.add.reduceat(counts, first)  # a(h) for each context h
            distinct = np.diff(np.append(first, len(grams)))  # N(h)
            if self.discount is not None:
                D = self.discount
            else:
                n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
                D = n1 / (n1 + 2 * n2) if n1 > 0 else 0.5
            discounts[m] = float(D)
            orders[m] = (grams, counts, contexts, totals, distinct)
        self._orders, self.discounts = orders, discounts[1:]
        return self

    def log_prob(self, ids, start: int | None = None) -> np.ndarray:
        """log p(ids[t] | ids[t-n+1..t-1]) for t = start .. L-1 (default start = n - 1), nats."""
        if self._orders is None:
            raise RuntimeError("KneserNeyModel.log_prob was called before fit")
        ids = as_index_array(ids, "ids", upper=self.vocab_size)
        V, w = self.vocab_size, self.n - 1
        start = w if start is None else int(start)
        if start < w or start >= len(ids):
            raise ValueError(f"start must lie in [{w}, {len(ids)}), got {start}")
        target = ids[start:]  # (L - start,)
        p = np.full(len(target), 1.0 / V)  # p_0
        for m in range(1, self.n + 1):
            grams, counts, contexts, totals, distinct = self._orders[m]
            context = _codes(ids, m - 1, V, len(ids))[start - m + 1:]  # (L - start,)
            a_hv = NGramModel._lookup(grams, counts, context * V + target)
            a_h = NGramModel._lookup(contexts, totals, context)
            n_h = NGramModel._lookup(contexts, distinct, context)
            D = self.discounts[m - 1]
            seen = a_h > 0
            safe = np.where(seen, a_h, 1)
            p = np.where(seen, (np.maximum(a_hv - D, 0) + D * n_h * p) / safe, p)
        return np.log(p)

    def cross_entropy(self, ids, start: int | None = None) -> float:
        """Mean -log p over the scored positions (nats per token)."""
        return float(-np.mean(self.log_prob(ids, start)))

    def __repr__(self) -> str:
        return f"KneserNeyModel(n={self.n}, vocab_size={self.vocab_size}, discount={self.discount})"


class NeighbourCountModel:
    """Guess a hidden token from its two neighbours by counting: argmax_c count(l, c, r).

    Trained on a stream x, it counts every triple (x_{t-1}, x_t, x_{t+1}), every pair with one
    neighbour, and every single token. To fill position t of a (possibly corrupted) sequence it
    reads the neighbours l = x_{t-1} and r = x_{t+1}; a neighbour that lies outside the
    sequence, or equals an id >= V (a mask), is unknown. The guess is

        argmax_c count(l, c, r)   if both are known and (l, r) was seen around some token,
        argmax_c count(l, c)      else if l is known and was seen (``context`` allowing),
        argmax_c count(c, r)      else if r is known and was seen,
        argmax_c count(c)         otherwise.

    ``context`` restricts what the model may read: ``"both"``, ``"left"`` (a bigram model, the
    view of a left-to-right language model), ``"right"`` or ``"none"`` (the most frequent token).

    Args:
        vocab_size: V; token ids lie in [0, V). The dense triple table holds V^3 counts.
    """

    CONTEXTS = ("both", "left", "right", "none")

    def __init__(self, vocab_size: int):
        self.vocab_size = positive_int(vocab_size, "vocab_size")
        if self.vocab_size ** 3 > 2 ** 27:
            raise ValueError(f"vocab_size must be at most 512 (a V^3 table), got {vocab_size}")
        self._fitted = False

    def fit(self, ids) -> NeighbourCountModel:
        """Count triples, pairs and tokens of the 1-D stream ``ids`` (L,), L >= 3; returns self."""
        ids = as_index_array(ids, "ids", upper=self.vocab_size)
        if ids.ndim != 1 or len(ids) < 3:
            raise ValueError(f"ids must be 1-D with at least 3 tokens, got shape {ids.shape}")
        V = self.vocab_size
        code = (ids[:-2] * V + ids[1:-1]) * V + ids[2:]  # (L-2,) base-V code of each triple
        self.triples = np.bincount(code, minlength=V ** 3).reshape(V, V, V)  # [l, c, r]
        self.left_pairs = np.bincount(ids[:-1] * V + ids[1:], minlength=V * V).reshape(V, V)
        self.right_pairs = self.left_pairs  # count(c, r) is the same table read as [c, r]
        self.unigram = np.bincount(ids, minlength=V)  # (V,)
        self._best_pair = self.triples.argmax(axis=1)  # (V, V): best c for each (l, r)
        self._seen_pair = self.triples.sum(axis=1) > 0  # (V, V)
        self._best_after = self.left_pairs.argmax(axis=1)  # (V,): best c after l
        self._seen_after = self.left_pairs.sum(axis=1) > 0
        self._best_before = self.left_pairs.argmax(axis=0)  # (V,): best c before r
        self._seen_before = self.left_pairs.sum(axis=0) > 0
        self._fitted = True
        return self

    def predict(self, inputs, context: str = "both") -> np.ndarray:
        """The guess for every position of ``inputs`` (B, T) or (T,); ids >= V count as unknown.

        Returns an int64 array shaped like ``inputs``.
        """
        if not self._fitted:
            raise ValueError("call fit(ids) before predict")
        if context not in self.CONTEXTS:
            raise ValueError(f"context must be one of {self.CONTEXTS}, got {context!r}")
        inputs = as_index_array(inputs, "inputs")
        if inputs.ndim not in (1, 2):
            raise ValueError(f"inputs must have shape (B, T) or (T,), got {inputs.shape}")
        rows = inputs.reshape(-1, inputs.shape[-1])  # (B, T)
        V = self.vocab_size
        unknown = np.full((rows.shape[0], 1), V, dtype=np.int64)
        left = np.concatenate([unknown, rows[:, :-1]], axis=1)  # (B, T): x_{t-1}
        right = np.concatenate([rows[:, 1:], unknown], axis=1)  # (B, T): x_{t+1}
        use_left = context in ("both", "left")
        use_right = context in ("both", "right")
        l_ok = (left < V) & use_left
        r_ok = (right < V) & use_right
        lc, rc = np.minimum(left, V - 1), np.minimum(right, V - 1)  # safe indices
        guess = np.full(rows.shape, int(self.unigram.argmax()), dtype=np.int64)
        from_right = r_ok & self._seen_before[rc]
        guess = np.where(from_right, self._best_before[rc], guess)
        from_left = l_ok & self._seen_after[lc]
        guess = np.where(from_left, self._best_after[lc], guess)
        both = l_ok & r_ok & self._seen_pair[lc, rc]
        guess = np.where(both, self._best_pair[lc, rc], guess)
        return guess.reshape(inputs.shape)

    def __repr__(self) -> str:
        return f"NeighbourCountModel(vocab_size={self.vocab_size})"
