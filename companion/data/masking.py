"""Fill-in-the-blank (cloze) data for masked language modelling: BERT's corruption rule.

BERT (Devlin et al. 2019) learns by repairing corrupted text. :func:`mask_tokens` makes the
corruption: in each sequence it chooses a fixed share of positions (15 %) to be predicted, and
of those it replaces 80 % by a ``[MASK]`` id, 10 % by a random token, and leaves 10 % as they
were, so the model cannot tell from the input alone which visible tokens it will be asked
about. The labels hold the original token at every chosen position and :data:`IGNORE_INDEX`
elsewhere.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import (as_float_array, as_index_array, as_rng, positive_int,
                                   real_number)

__all__ = ["IGNORE_INDEX", "mask_tokens"]

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
    probs = as_float_array(replace_probs, "replace_probs")
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
