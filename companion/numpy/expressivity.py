"""What networks can express: hand-set weights that make a point exactly, and a way to measure it.

- :func:`merge_linear`: a chain of ``Linear`` layers with nothing between them is one ``Linear``.
- :func:`xor_network`: two ReLU units compute XOR, which no single threshold unit can.
- :func:`sawtooth_network`: ``depth`` layers of two ReLU units draw a zig-zag with ``2 ** depth``
  straight pieces; one hidden layer needs about that many units to do the same.
- :func:`count_linear_pieces`: counts the straight pieces of a 1-D piecewise-linear function.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from companion.core.checks import positive_int, real_number
from companion.numpy.activations import ReLU
from companion.numpy.container import Sequential
from companion.numpy.linear import Linear


def _set(layer: Linear, weight, bias) -> Linear:
    layer.load_state_dict({"weight": np.asarray(weight, dtype=np.float64),
                           "bias": np.asarray(bias, dtype=np.float64)})
    return layer


def merge_linear(*layers: Linear) -> Linear:
    """The single ``Linear`` equal to applying ``layers`` in order, with nothing between them.

    Layer k computes x W_k^T + b_k, so the chain computes x W^T + b with
    W = W_K ... W_2 W_1 and b = b_K + W_K (b_{K-1} + W_{K-1} (... + W_2 b_1)).

    Args:
        *layers: ``Linear`` layers whose sizes chain (out_features of one = in_features of next).

    Returns:
        A new ``Linear(layers[0].in_features, layers[-1].out_features)``.
    """
    if not layers:
        raise ValueError("merge_linear needs at least one Linear layer, got none")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Linear):
            raise TypeError(f"layers[{i}] must be a companion.numpy Linear, "
                            f"got {type(layer).__name__}")
    weight = np.eye(layers[0].in_features)  # (D, D)
    bias = np.zeros(layers[0].in_features)  # (D,)
    for i, layer in enumerate(layers):
        if layer.in_features != weight.shape[0]:
            raise ValueError(f"layers[{i}] has in_features = {layer.in_features}, but the layer "
                             f"before it gives {weight.shape[0]} outputs")
        w = layer.params["weight"]  # (D_out, D_in)
        b = layer.params.get("bias", np.zeros(layer.out_features))
        weight = w @ weight  # (D_out, D_in) @ (D_in, D) -> (D_out, D)
        bias = w @ bias + b  # (D_out,)
    merged = Linear(layers[0].in_features, layers[-1].out_features)
    return _set(merged, weight, bias)


def xor_network() -> Sequential:
    """Two hidden ReLU units that compute XOR of two bits exactly.

    h_1 = relu(x_1 + x_2) counts the ones, h_2 = relu(x_1 + x_2 - 1) fires only for (1, 1), and
    y = h_1 - 2 h_2 gives 0, 1, 1, 0 on (0, 0), (0, 1), (1, 0), (1, 1).

    Returns:
        ``Sequential(Linear(2, 2), ReLU(), Linear(2, 1))``: input (N, 2), output (N, 1).
    """
    hidden = _set(Linear(2, 2), [[1.0, 1.0], [1.0, 1.0]], [0.0, -1.0])
    output = _set(Linear(2, 1), [[1.0, -2.0]], [0.0])
    return Sequential(hidden, ReLU(), output)


def sawtooth_network(depth: int) -> Sequential:
    """``depth`` hidden layers of two ReLU units whose output on [0, 1] is a zig-zag.

    One layer computes the tent map t(x) = 2 relu(x) - 4 relu(x - 1/2), which is 2x on
    [0, 1/2] and 2 - 2x on [1/2, 1]. Composing it ``depth`` times gives ``2 ** (depth - 1)``
    teeth, that is ``2 ** depth`` straight pieces, from only ``2 * depth`` hidden units
    (Telgarsky's example).

    Args:
        depth: number of hidden layers, >= 1.

    Returns:
        A ``Sequential`` of ``depth`` (Linear, ReLU) pairs and a final ``Linear(2, 1)``;
        input (N, 1), output (N, 1).
    """
    depth = positive_int(depth, "depth")
    split = [0.0, -0.5]  # the two units' biases: kinks at 0 and 1/2
    mix = [[2.0, -4.0]]  # t = 2 h_1 - 4 h_2
    layers = [_set(Linear(1, 2), [[1.0], [1.0]], split), ReLU()]
    for _ in range(depth - 1):
        # next layer's units read t: weight [[1], [1]] @ mix folds the two steps into one matrix
        layers += [_set(Linear(2, 2), np.array([[1.0], [1.0]]) @ np.array(mix), split), ReLU()]
    layers.append(_set(Linear(2, 1), mix, [0.0]))
    return Sequential(*layers)


def count_linear_pieces(fn: Callable[[np.ndarray], np.ndarray], low: float, high: float,
                        points: int = 2**16 + 1, tol: float = 1e-6) -> int:
    """Number of straight pieces of a continuous piecewise-linear function on [low, high].

    The function is sampled at ``points`` equally spaced inputs and the slope of each cell is
    compared with its neighbour's; a run of cells with one slope is a piece. A cell with a kink
    strictly inside it has a slope between its neighbours' and forms a run of one cell, which is
    not counted, so every true piece must span at least two cells.

    Args:
        fn: maps inputs (M, 1) to outputs of M values (e.g. a network's ``forward``).
        low, high: the interval, low < high.
        points: number M of samples, >= 3.
        tol: slopes closer than ``tol * (1 + |slope|)`` count as equal.

    Returns:
        The number of pieces, >= 1.
    """
    low = real_number(low, "low")
    high = real_number(high, "high", low=low, low_inclusive=False)
    points = positive_int(points, "points")
    if points < 3:
        raise ValueError(f"points must be at least 3, got {points}")
    x = np.linspace(low, high, points)[:, None]  # (M, 1)
    y = np.asarray(fn(x), dtype=np.float64).reshape(-1)  # (M,)
    if y.shape != (points,):
        raise ValueError(f"fn must return {points} values for {points} inputs, got {y.size}")
    slopes = np.diff(y) / np.diff(x[:, 0])  # (M - 1,)
    same = np.abs(np.diff(slopes)) <= tol * (1.0 + np.abs(slopes[1:]))  # (M - 2,)
    # run boundaries: a new run starts wherever the slope changes
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    lengths = np.diff(np.append(starts, len(slopes)))
    return int(max(1, np.sum(lengths >= 2)))
