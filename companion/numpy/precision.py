"""Low-precision number formats from bit operations: rounding float32 to bfloat16.

A float32 number is 32 bits: 1 sign bit, 8 exponent bits and 23 fraction bits. bfloat16 keeps
the sign and the same 8 exponent bits (so the same range, up to about 3.4e38) but only the top
7 fraction bits: its spacing near 1 is 2**-7 instead of 2**-23. Rounding float32 to bfloat16 is
therefore a question of dropping the low 16 bits of the float32 pattern, rounding to nearest
with ties going to the neighbour whose last kept bit is even, which is what hardware and
``torch.Tensor.to(torch.bfloat16)`` do.
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array

__all__ = ["round_to_bfloat16", "BFLOAT16_EPS"]

BFLOAT16_EPS = 2.0 ** -7  # distance from 1 to the next bfloat16 number


def round_to_bfloat16(x) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 value (ties to even), returned as float32.

    With u the float32 bit pattern read as an unsigned 32-bit integer, the rounded pattern is
    ``(u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000``: adding just under half of the dropped
    range, plus one when the last kept bit is odd, carries into the kept bits exactly when the
    value lies above the midpoint (or on it, next to an odd neighbour). A carry out of the
    fraction raises the exponent, which is the correct rounding up to the next binade (and to
    infinity past the largest bfloat16). NaNs stay NaNs.

    Args:
        x: array-like of any shape (*); converted to float32 first.

    Returns:
        float32 array of shape (*) whose values are all exactly representable in bfloat16.
    """
    x = as_float_array(x, "x").astype(np.float32)
    bits = x.view(np.uint32).astype(np.uint64)  # (*), room for the carry
    lsb = (bits >> 16) & 1  # last bit that bfloat16 keeps
    rounded = ((bits + 0x7FFF + lsb) & 0xFFFF0000).astype(np.uint32)
    out = rounded.view(np.float32)
    return np.where(np.isnan(x), x, out)
