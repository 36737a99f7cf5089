"""Fill-in-the-blank (cloze) data for masked language modelling, and a count baseline.

BERT (Devlin et al. 2019) learns by repairing corrupted text. :func:`mask_tokens` makes the
corruption: in each sequence it chooses a fixed share of positions (15 %) to be predicted, and
of those it replaces 80 % by a ``[MASK]`` id, 10 % by a random token, and leaves 10 % as they
were, so the model cannot tell from the input alone which visible tokens it will be asked
about. The labels hold the original token at every chosen position and :data:`IGNORE_INDEX`
elsewhere.

:class:`NeighbourCountModel` is the baseline a masked language model must beat: it predicts a
hidden token from the tokens on either side of it by counting triples (left, centre, right)
in a training stream, backing off to one neighbour and then to the most frequent token when a
neighbour is itself hidden or the pair was never seen.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_index_array, as_rng, positive_int, real_number

__all__ = ["IGNORE_INDEX", "mask_tokens", "NeighbourCountModel"]

IGNORE_INDEX = -100  # a label that no loss or accuracy counts (torch's default ignore_index)


def mask_tokens(ids, mask_id: int, vocab_size: int, rng=None, mask_prob: float = 0.15,
                replace_probs: tuple[float, float, float] = (0.8, 0.1, 0.1)):
    """Corrupt token ids the BERT way; return the model's inputs and the labels to predict.

    In each row, k = max(1, round(mask_prob * T)) positions are chosen uniformly without
    replacement. Each chosen position independently becomes ``mask_id`` with probability
    ``replace_probs[0]``, a token drawn uniformly from [0, vocab_size) with probability
    ``replace_probs[1]`` (it may happen to equal the original), and stays unchanged otherwise.

    Args:
        ids: (B, T) or (T,) int token ids in [0, vocab_size).
        mask_id: the id of the mask token; usually ``vocab_size`` (one past the real tokens).
        vocab_size: V, the number of real tokens (random replacements come from these).
        rng: None, a seed or a ``numpy.random.Generator``.
        mask_prob: share of positions per row to predict, in (0, 1].
        replace_probs: probabilities of (mask, random, keep); they must sum to 1.

    Returns:
        inputs: int64 array shaped like ``ids``, the corrupted sequence.
        labels: int64 array shaped like ``ids``: the original id where a position was chosen,
        :data:`IGNORE_INDEX` elsewhere.
    """
    vocab_size = positive_int(vocab_size, "vocab_size")
    ids = as_index_array(ids, "ids", upper=vocab_size)
    if ids.ndim not in (1, 2) or ids.shape[-1] == 0:
        raise ValueError(f"ids must have shape (B, T) or (T,) with T >= 1, got {ids.shape}")
    mask_id = int(positive_int(mask_id, "mask_id", allow_zero=True))
    mask_prob = real_number(mask_prob, "mask_prob", 0.0, 1.0, low_inclusive=False)
    probs = np.asarray(replace_probs, dtype=np.float64)
    if probs.shape != (3,) or (probs < 0).any() or abs(probs.sum() - 1.0) > 1e-9:
        raise ValueError(f"replace_probs must be three non-negative numbers summing to 1, "
                         f"got {replace_probs!r}")
    rng = as_rng(rng)
    rows = ids.reshape(-1, ids.shape[-1])  # (B, T)
    B, T = rows.shape
    k = max(1, int(round(mask_prob * T)))
    chosen_cols = np.argsort(rng.random((B, T)), axis=1)[:, :k]  # (B, k) distinct per row
    chosen = np.zeros((B, T), dtype=bool)
    chosen[np.arange(B)[:, None], chosen_cols] = True
    action = rng.random((B, T))  # one draw per position decides mask / random / keep
    to_mask = chosen & (action < probs[0])
    to_random = chosen & (action >= probs[0]) & (action < probs[0] + probs[1])
    inputs = rows.copy()
    inputs[to_mask] = mask_id
    inputs[to_random] = rng.integers(0, vocab_size, size=int(to_random.sum()))
    labels = np.where(chosen, rows, IGNORE_INDEX)  # (B, T)
    return inputs.reshape(ids.shape), labels.reshape(ids.shape)


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
