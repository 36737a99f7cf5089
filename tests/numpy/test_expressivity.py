"""Hand-set networks: merged linear chains, XOR from two ReLUs, the sawtooth, piece counting."""

import numpy as np
import pytest

from companion.numpy.activations import ReLU
from companion.numpy.expressivity import (count_linear_pieces, merge_linear, sawtooth_network,
                                           xor_network)
from companion.numpy.container import Sequential
from companion.numpy.linear import Linear


def test_merged_chain_equals_the_chain():
    rng = np.random.default_rng(0)
    layers = [Linear(5, 7, rng=rng), Linear(7, 3, rng=rng), Linear(3, 4, rng=rng)]
    x = rng.standard_normal((6, 5))
    merged = merge_linear(*layers)
    np.testing.assert_allclose(merged(x), Sequential(*layers)(x), rtol=1e-12, atol=1e-12)
    assert merged.params["weight"].shape == (4, 5)


def test_merge_handles_layers_without_bias():
    rng = np.random.default_rng(1)
    layers = [Linear(3, 2, bias=False, rng=rng), Linear(2, 2, rng=rng)]
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(merge_linear(*layers)(x), Sequential(*layers)(x), atol=1e-12)


def test_merge_rejects_mismatched_sizes_and_other_layers():
    with pytest.raises(ValueError, match="in_features = 4"):
        merge_linear(Linear(2, 3), Linear(4, 1))
    with pytest.raises(TypeError, match="Linear"):
        merge_linear(Linear(2, 3), ReLU())


def test_xor_network_is_exact():
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(xor_network()(corners)[:, 0], [0.0, 1.0, 1.0, 0.0])


@pytest.mark.parametrize("depth", [1, 2, 3, 5, 7])
def test_sawtooth_has_two_to_the_depth_pieces(depth):
    net = sawtooth_network(depth)
    assert count_linear_pieces(net, 0.0, 1.0) == 2 ** depth
    x = np.linspace(0.0, 1.0, 2 ** depth + 1)[:, None]  # the corners of the zig-zag
    expected = np.arange(2 ** depth + 1) % 2  # 0, 1, 0, 1, ...
    np.testing.assert_allclose(net(x)[:, 0], expected, atol=1e-12)
    assert sum(p.size for p in net.parameters()) == 4 + 6 * (depth - 1) + 3


def test_count_linear_pieces_on_known_functions():
    assert count_linear_pieces(lambda x: 3.0 * x + 1.0, -1.0, 1.0) == 1
    assert count_linear_pieces(np.abs, -1.0, 1.0) == 2
    # kinks at irrational points fall inside cells and must not add pieces
    kinked = lambda x: np.abs(x - np.sqrt(0.02)) + 2 * np.abs(x + np.pi / 10)
    assert count_linear_pieces(kinked, -1.0, 1.0, points=1001) == 3


def test_shallow_relu_network_has_at_most_width_plus_one_pieces():
    rng = np.random.default_rng(3)
    for width in (1, 4, 12):
        net = Sequential(Linear(1, width, rng=rng), ReLU(), Linear(width, 1, rng=rng))
        assert count_linear_pieces(net, -3.0, 3.0) <= width + 1
