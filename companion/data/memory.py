"""A long-range memory task: name the first symbol of a sequence once the sequence has ended.

Each row holds ``T`` time steps. A sequence of length ``L`` occupies the last ``L`` steps; the
steps before it are blanks (token 0), so every sequence ends at the last step, where a model
reads its answer. Tokens ``1..K`` are symbols drawn uniformly at random; the target is the first
symbol, ``tokens[T - L] - 1`` in ``0..K-1``. Everything after the first symbol is a distractor,
so a model has to carry one symbol across ``L - 1`` steps: the gap that recurrent layers find
hard when gradients vanish.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_rng, positive_int

__all__ = ["BLANK", "first_symbol_task"]

BLANK = 0


def first_symbol_task(n: int = 1000, length: int = 40, symbols: int = 4, min_length: int = 2,
                      rng=None, fixed_length: int | None = None):
    """Sequences whose target is their first symbol, left-padded with blanks to ``length``.

    Args:
        n: number of sequences N.
        length: number of time steps T of every row.
        symbols: number of distinct symbols K (tokens 1..K; 0 is the blank).
        min_length: shortest sequence; lengths are uniform in ``[min_length, length]``.
        rng: ``None``, an int seed or a ``numpy.random.Generator``.
        fixed_length: if given, every sequence has this length (for tests at one gap).

    Returns:
        tokens: int64 ``(N, T)``, blanks then the sequence; targets: int64 ``(N,)`` in
        ``0..K-1``; lengths: int64 ``(N,)``, the number of non-blank steps of each row.
    """
    n = positive_int(n, "n")
    length = positive_int(length, "length")
    symbols = positive_int(symbols, "symbols")
    min_length = positive_int(min_length, "min_length")
    if min_length > length:
        raise ValueError(f"min_length must be at most length ({length}), got {min_length}")
    rng = as_rng(rng)
    if fixed_length is not None:
        fixed_length = positive_int(fixed_length, "fixed_length")
        if fixed_length > length:
            raise ValueError(f"fixed_length must be at most length ({length}), "
                             f"got {fixed_length}")
        lengths = np.full(n, fixed_length, dtype=np.int64)
    else:
        lengths = rng.integers(min_length, length + 1, n).astype(np.int64)  # (N,)
    tokens = rng.integers(1, symbols + 1, (n, length)).astype(np.int64)  # (N, T)
    start = length - lengths  # (N,) position of the first symbol
    tokens[np.arange(length)[None, :] < start[:, None]] = BLANK
    targets = tokens[np.arange(n), start] - 1  # (N,)
    return tokens, targets, lengths
