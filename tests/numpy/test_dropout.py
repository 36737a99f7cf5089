"""Dropout: mask statistics, train/eval behaviour and a backward pass that reuses the mask."""

import numpy as np
import pytest
import torch

from companion.numpy.dropout import Dropout
from companion.parity import check_parity, random_array, to_torch


def test_mask_statistics_and_scaling():
    p = 0.3
    layer = Dropout(p, rng=0)
    x = random_array((200, 500), seed=1) + 2.0
    out = layer.forward(x)
    kept = layer.mask
    n = kept.size
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)  # within 5 standard errors
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p))
    assert not out[~kept].any()
    np.testing.assert_allclose(out.mean(), x.mean(), rtol=0.02)  # inverted dropout keeps E[y] = x


def test_backward_matches_torch_for_the_same_mask():
    p = 0.4
    layer = Dropout(p, rng=3)
    # ours runs first and draws its mask; torch's dropout formula then applies that mask
    report = check_parity(layer, lambda x: x * to_torch(layer.mask) / (1 - p),
                          random_array((4, 7), seed=2))
    assert list(report.diffs) == ["output", "grad input"] and not layer.mask.all()


def test_eval_mode_is_identity_like_torch():
    theirs = torch.nn.Dropout(0.6).eval()
    layer = Dropout.from_torch(theirs)
    assert not layer.training and layer.p == 0.6
    x = random_array((3, 5), seed=1)
    np.testing.assert_array_equal(layer.forward(x), theirs(to_torch(x)).numpy())
    upstream = random_array((3, 5), seed=2)
    np.testing.assert_array_equal(layer.backward(upstream), upstream)


def test_train_and_eval_differ_and_seeds_reproduce():
    x = random_array((10, 10), seed=0)
    layer = Dropout(0.5, rng=7)
    train_out = layer.forward(x)
    assert not np.allclose(train_out, x)
    np.testing.assert_array_equal(train_out, Dropout(0.5, rng=7).forward(x))
    layer.eval()
    np.testing.assert_array_equal(layer.forward(x), x)
    layer.train()
    assert not np.allclose(layer.forward(x), x)


def test_p_zero_is_identity_in_training():
    x = random_array((5, 5), seed=0)
    np.testing.assert_array_equal(Dropout(0.0).forward(x), x)


def test_bad_arguments_and_inputs():
    for p in (1.0, -0.1, 2.0):
        with pytest.raises(ValueError, match=rf"p must lie in \[0.0, 1.0\), got {p}"):
            Dropout(p)
    with pytest.raises(TypeError, match="p must be a real number, got str 'half'"):
        Dropout("half")
    with pytest.raises(TypeError, match="input must be a numeric array"):
        Dropout().forward(["a"])
    with pytest.raises(RuntimeError, match="Dropout.backward was called before forward"):
        Dropout().backward(np.zeros(3))
    layer = Dropout()
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=(r"grad_output must have the shape of Dropout's output "
                                          r"\(2, 3\), got \(3,\)")):
        layer.backward(np.zeros(3))
