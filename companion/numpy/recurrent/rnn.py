"""The Elman recurrent layer: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)."""

from __future__ import annotations

import numpy as np

from companion.numpy.recurrent.stepping import HiddenStateRecurrent


class RNN(HiddenStateRecurrent):
    """Elman recurrent layer: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    ``act`` is tanh or relu (``nonlinearity``), h_0 defaults to zeros. Mirrors ``torch.nn.RNN``
    with any number of layers and directions.

    Args:
        input_size: I, features per time step.
        hidden_size: H, size of the hidden state.
        num_layers: L, layers stacked; layer k > 0 reads the outputs of layer k - 1.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias: whether to learn ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (H,).
        batch_first: input and output are ``(N, T, *)`` instead of ``(T, N, *)``.
        dropout: probability of zeroing each input of layers 1 .. L - 1 in training.
        bidirectional: also run every layer backwards in time (D = 2 directions).
        rng: None, an int seed or a Generator for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.

    ``gates`` is an empty dict: an Elman layer has no gates.
    """

    _gate_count = 1

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {**super()._config_from_torch(module), "nonlinearity": module.nonlinearity}

    def _cell(self, gi, gh, state):
        """h_t = act(a_t) with a_t = gi + gh, all (N, H)."""
        a = gi + gh
        h = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0.0)
        return (h,), {"h": h}

    def _cell_backward(self, d_state, saved):
        """dL/da_t = dL/dh_t * act'(a_t): 1 - h_t^2 for tanh, [h_t > 0] for relu."""
        (dh,), h = d_state, saved["h"]
        da = dh * (1.0 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0.0)
        return da, da, (0.0,)  # h_{t-1} reaches h_t only through gh
