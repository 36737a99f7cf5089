"""The long short-term memory layer, its step written as the equations."""

from __future__ import annotations

import numpy as np

from companion.core.checks import positive_int
from companion.core.functional import sigmoid
from companion.numpy.recurrent.stepping import Recurrent


class LSTM(Recurrent):
    """Long short-term memory layer, as ``torch.nn.LSTM`` with any number of layers and directions.

    With pre-activations a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh split into four blocks
    of size H in torch's order:

        i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    Args:
        input_size: I, features per time step.
        hidden_size: H, size of the hidden and cell states.
        num_layers: L, layers stacked; layer k > 0 reads the outputs of layer k - 1.
        bias: whether to learn ``bias_ih_l{k}`` and ``bias_hh_l{k}`` (4H,).
        batch_first: input and output are ``(N, T, *)`` instead of ``(T, N, *)``.
        dropout: probability of zeroing each input of layers 1 .. L - 1 in training.
        bidirectional: also run every layer backwards in time (D = 2 directions).
        proj_size: P; if positive, h_t = W_hr (o * tanh(c_t)) with ``weight_hr_l{k}`` (P, H),
            so h_t and the outputs have P < H features while c_t keeps H.
        rng: None, an int seed or a Generator for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.

    After ``forward``, :attr:`gates` holds the per-step activations for inspection and plots:
    ``"input"`` (i), ``"forget"`` (f), ``"candidate"`` (g, the proposed cell update),
    ``"output"`` (o) and ``"cell"`` (the cell state c_t after step t).
    """

    _gate_count = 4
    _state_names = ("h_0", "c_0")
    _gate_keys = {"input": "i", "forget": "f", "candidate": "g", "output": "o", "cell": "c"}

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, rng=None):
        self.proj_size = positive_int(proj_size, "proj_size", allow_zero=True)
        if self.proj_size >= positive_int(hidden_size, "hidden_size"):
            raise ValueError(f"proj_size must be smaller than hidden_size = {hidden_size}, "
                             f"got {proj_size}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {**super()._config_from_torch(module), "proj_size": module.proj_size}

    def _cell(self, gi, gh, state):
        """One step of the LSTM: gates i, f, g, o, then the cell and hidden states (N, H)."""
        h_prev, c_prev = state
        a_i, a_f, a_g, a_o = np.split(gi + gh, 4, axis=-1)  # (N, 4H) -> 4 x (N, H)
        i = sigmoid(a_i)  # input gate: how much new content to write
        f = sigmoid(a_f)  # forget gate: how much of the old memory to keep
        g = np.tanh(a_g)  # candidate content
        o = sigmoid(a_o)  # output gate: how much of the memory to show
        c = f * c_prev + i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), dict(i=i, f=f, g=g, o=o, c=c, c_prev=c_prev, tanh_c=tanh_c)

    def _cell_backward(self, d_state, saved):
        """The same step backwards: from dL/dh_t, dL/dc_t to dL/da_t and dL/dc_{t-1}."""
        dh, dc = d_state
        i, f, g, o, c_prev, tanh_c = (saved[k] for k in ("i", "f", "g", "o", "c_prev", "tanh_c"))
        dc = dc + dh * o * (1.0 - tanh_c ** 2)  # c_t reaches the loss directly and through h_t
        d_i, d_f, d_g, d_o = dc * g, dc * c_prev, dc * i, dh * tanh_c  # of each gate's value
        da = np.concatenate([d_i * i * (1.0 - i),  # through sigmoid: s (1 - s)
                             d_f * f * (1.0 - f),
                             d_g * (1.0 - g ** 2),  # through tanh: 1 - g^2
                             d_o * o * (1.0 - o)], axis=-1)  # (N, 4H)
        return da, da, (0.0, dc * f)  # c_{t-1} reaches c_t through f; h_{t-1} only through gh

    def forward(self, input, hx=None):
        """Run the layer over a sequence.

        Args:
            input: (T, N, I), or (N, T, I) if ``batch_first``, or unbatched (T, I).
            hx: optional tuple ``(h_0, c_0)``, each (L D, N, H) (or (L D, H)); zeros if None.

        Returns:
            ``(output, (h_n, c_n))``: the last layer's h_t for every t, (T, N, D H) / (N, T, D H)
            / (T, D H), and every layer's and direction's final states, each (L D, N, H).
        """
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"hx must be a tuple (h_0, c_0) for LSTM, got {type(hx).__name__}")
        output, (h_n, c_n) = self._forward(input, (None, None) if hx is None else tuple(hx))
        return output, (h_n, c_n)

    def backward(self, grad_output, grad_h_n=None, grad_c_n=None):
        """Back-propagate through time; add parameter gradients into ``grads``.

        Args:
            grad_output: gradient of the loss w.r.t. ``output``, same shape.
            grad_h_n, grad_c_n: optional gradients w.r.t. ``h_n`` and ``c_n``, each (L D, N, H).

        Returns:
            ``grad_input`` (the input's shape), or ``(grad_input, (grad_h_0, grad_c_0))`` if
            forward got hx.
        """
        grad_input, grad_states = self._backward(grad_output, (grad_h_n, grad_c_n))
        return grad_input if grad_states is None else (grad_input, grad_states)
