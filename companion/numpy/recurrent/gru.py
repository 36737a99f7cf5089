"""The gated recurrent unit layer, its step written as the equations."""

from __future__ import annotations

import numpy as np

from companion.core.functional import sigmoid
from companion.numpy.recurrent.stepping import HiddenStateRecurrent


class GRU(HiddenStateRecurrent):
    """Gated recurrent unit layer, as ``torch.nn.GRU`` with any number of layers and directions.

    With input projections x_t W_ih^T + b_ih = (x_r, x_z, x_n) and hidden projections
    h_{t-1} W_hh^T + b_hh = (h_r, h_z, h_n), in torch's order:

        r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z)
        n = tanh(x_n + r * h_n)          (the reset gate scales the whole hidden term, bias too)
        h_t = (1 - z) * n + z * h_{t-1}

    Args:
        input_size: I, features per time step.
        hidden_size: H, size of the hidden state.
        num_layers: L, layers stacked; layer k > 0 reads the outputs of layer k - 1.
        bias: whether to learn ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (3H,).
        batch_first: input and output are ``(N, T, *)`` instead of ``(T, N, *)``.
        dropout: probability of zeroing each input of layers 1 .. L - 1 in training.
        bidirectional: also run every layer backwards in time (D = 2 directions).
        rng: None, an int seed or a Generator for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.

    After ``forward``, :attr:`gates` holds the per-step activations for inspection and plots:
    ``"reset"`` (r), ``"update"`` (z) and ``"new"`` (n, the candidate state).
    """

    _gate_count = 3
    _gate_keys = {"reset": "r", "update": "z", "new": "n"}

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)

    def _cell(self, gi, gh, state):
        """One step of the GRU: gates r, z, candidate n, then the new state (N, H)."""
        (h_prev,) = state
        x_r, x_z, x_n = np.split(gi, 3, axis=-1)  # (N, 3H) -> 3 x (N, H)
        h_r, h_z, h_n = np.split(gh, 3, axis=-1)
        r = sigmoid(x_r + h_r)  # reset gate: how much of the old state the candidate sees
        z = sigmoid(x_z + h_z)  # update gate: how much of the old state to keep
        n = np.tanh(x_n + r * h_n)  # candidate state
        h = (1.0 - z) * n + z * h_prev
        return (h,), dict(r=r, z=z, n=n, h_n=h_n, h_prev=h_prev)

    def _cell_backward(self, d_state, saved):
        """The same step backwards: from dL/dh_t to the gradients of gi, gh and h_{t-1}."""
        (dh,) = d_state
        r, z, n, h_n, h_prev = (saved[k] for k in ("r", "z", "n", "h_n", "h_prev"))
        d_xn = dh * (1.0 - z) * (1.0 - n ** 2)  # through the tanh of n
        d_z = dh * (h_prev - n) * z * (1.0 - z)  # through the sigmoid of z
        d_r = d_xn * h_n * r * (1.0 - r)  # through the sigmoid of r
        d_gi = np.concatenate([d_r, d_z, d_xn], axis=-1)  # (N, 3H)
        d_gh = np.concatenate([d_r, d_z, d_xn * r], axis=-1)  # r scales h_n
        return d_gi, d_gh, (dh * z,)  # h_{t-1} also reaches h_t through z * h_{t-1}
