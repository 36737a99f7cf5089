"""Rounding float32 to bfloat16 by bit operations, against torch's conversion."""

import numpy as np
import torch

from companion.numpy.precision import BFLOAT16_EPS, round_to_bfloat16


def test_matches_torch_over_many_magnitudes():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(50000) * 10.0 ** rng.integers(-40, 38, 50000)).astype(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.39e38,
                         1e-45, -1e-40], dtype=np.float32)
    x = np.concatenate([x, specials])
    ours = round_to_bfloat16(x)
    theirs = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(round_to_bfloat16(np.float32(np.nan)))


def test_ties_go_to_even_and_spacing_is_eps():
    assert round_to_bfloat16(1 + 2 ** -8) == 1.0  # halfway, 1.0 is even
    assert round_to_bfloat16(1 + 3 * 2 ** -8) == 1 + 2 * 2 ** -7  # halfway, rounds up to even
    assert round_to_bfloat16(1 + BFLOAT16_EPS) == 1 + BFLOAT16_EPS
    assert round_to_bfloat16(1 + 0.4 * BFLOAT16_EPS) == 1.0
