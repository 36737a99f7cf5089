"""Embedding against torch in float64: lookups, repeated indices and the padding row."""

import numpy as np
import pytest
import torch

from companion.numpy.embedding import Embedding
from companion.parity import check_parity, check_rejects, random_array


@pytest.mark.parametrize("index", [np.array([[0, 3, 3], [9, 3, 1]]), np.array([4]),
                                   np.array(2), np.array([[[1, 1, 1, 1]]])])
@pytest.mark.parametrize("padding_idx", [None, 3, -1])
def test_parity_with_torch(index, padding_idx):
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(10, 4, padding_idx=padding_idx)
    ours = Embedding.from_torch(theirs)
    check_parity(ours, theirs, index)  # integer indices: no input gradient, on either side


def test_repeated_indices_accumulate():
    layer = Embedding(5, 2, rng=0)
    layer.forward(np.array([1, 1, 1, 4]))
    upstream = random_array((4, 2), seed=2)
    layer.backward(upstream)
    np.testing.assert_allclose(layer.grads["weight"][1], upstream[:3].sum(axis=0))
    np.testing.assert_allclose(layer.grads["weight"][4], upstream[3])
    assert not layer.grads["weight"][[0, 2, 3]].any()


def test_init_is_standard_normal_with_zero_padding_row():
    layer = Embedding(300, 200, padding_idx=-2, rng=1)
    weight = layer.params["weight"]
    assert layer.padding_idx == 298 and not weight[298].any()
    assert abs(weight.mean()) < 0.01 and abs(weight.std() - 1.0) < 0.01


def test_padding_row_receives_no_gradient():
    layer = Embedding(4, 3, padding_idx=0, rng=2)
    layer.forward(np.array([0, 0, 2]))
    layer.backward(random_array((3, 3), seed=1))
    assert not layer.grads["weight"][0].any() and layer.grads["weight"][2].any()


@pytest.mark.parametrize("index", [np.array([0, 5]), np.array([-1])])
def test_an_index_out_of_range_is_refused_like_torch(index):
    theirs = torch.nn.Embedding(5, 2)
    check_rejects(Embedding.from_torch(theirs), theirs, index)


def test_bad_inputs_and_arguments():
    layer = Embedding(5, 2)
    with pytest.raises(ValueError, match="input must be smaller than 5, got maximum 5"):
        layer.forward(np.array([0, 5]))
    with pytest.raises(ValueError, match="input must be non-negative, got minimum -1"):
        layer.forward(np.array([-1]))
    with pytest.raises(TypeError, match="input must hold integer indices, got dtype float64"):
        layer.forward(np.array([1.0]))
    with pytest.raises(RuntimeError, match="Embedding.backward was called before forward"):
        layer.backward(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="num_embeddings must be positive, got -5"):
        Embedding(-5, 2)
    with pytest.raises(ValueError, match="embedding_dim must be positive, got 0"):
        Embedding(5, 0)
    with pytest.raises(ValueError, match=r"padding_idx must lie in \[-5, 4\], got 5"):
        Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="supports neither max_norm"):
        Embedding.from_torch(torch.nn.Embedding(5, 2, max_norm=1.0))
