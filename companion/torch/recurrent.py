"""Elman RNN, LSTM and GRU unrolled over time with matmuls, mirroring ``torch.nn``'s layers.

Every layer keeps torch's parameter names and layout: for layer k (and ``_reverse`` for the
backward direction) ``weight_ih_l{k}`` (G H, H_in), ``weight_hh_l{k}`` (G H, H), ``bias_ih_l{k}``
and ``bias_hh_l{k}`` (G H,), with G gates stacked in torch's order (LSTM: i, f, g, o; GRU: r, z, n),
all drawn from U(-1/sqrt(H), 1/sqrt(H)). The input projections of all time steps are one matmul;
only the recurrent matmul runs inside the loop over time.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.core.checks import positive_int, real_number

from ._inputs import flag, tensor_input
from .activations import relu, sigmoid, tanh
from .dropout import dropout

__all__ = ["RNN", "LSTM", "GRU"]


class _RecurrentBase(nn.Module):
    """Parameters, shape handling and the loop over layers, directions and time steps."""

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, proj_size: int = 0):
        super().__init__()
        self.input_size = positive_int(input_size, "input_size")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        self.proj_size = positive_int(proj_size, "proj_size", allow_zero=True)
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size must be smaller than hidden_size = {hidden_size}, "
                             f"got {proj_size}")
        h_size = proj_size or hidden_size                                  # features of h_t
        self.num_layers = positive_int(num_layers, "num_layers")
        self.dropout = real_number(dropout, "dropout", 0.0, 1.0)
        self.bias, self.batch_first = flag(bias, "bias"), flag(batch_first, "batch_first")
        self.bidirectional = flag(bidirectional, "bidirectional")
        self.num_directions = 2 if bidirectional else 1
        factory = {"device": device, "dtype": dtype}
        gate_rows = self.num_gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else h_size * self.num_directions
            for suffix in self._suffixes()[layer * self.num_directions:][:self.num_directions]:
                w_ih = torch.empty(gate_rows, layer_input, **factory)      # (G H, H_in)
                w_hh = torch.empty(gate_rows, h_size, **factory)           # (G H, H) or (G H, P)
                self.register_parameter(f"weight_ih{suffix}", nn.Parameter(w_ih))
                self.register_parameter(f"weight_hh{suffix}", nn.Parameter(w_hh))
                if bias:
                    self.register_parameter(f"bias_ih{suffix}",
                                            nn.Parameter(torch.empty(gate_rows, **factory)))
                    self.register_parameter(f"bias_hh{suffix}",
                                            nn.Parameter(torch.empty(gate_rows, **factory)))
                if proj_size:                                              # (P, H)
                    self.register_parameter(f"weight_hr{suffix}", nn.Parameter(
                        torch.empty(proj_size, hidden_size, **factory)))
        self.reset_parameters()

    def _suffixes(self) -> list[str]:
        """'_l0', '_l0_reverse', '_l1', ...: one per (layer, direction), in h_n's order."""
        directions = ["", "_reverse"][:self.num_directions]
        return [f"_l{layer}{d}" for layer in range(self.num_layers) for d in directions]

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)

    def _cell(self, gi: torch.Tensor, h: torch.Tensor, c, w_hh: torch.Tensor, b_hh):
        """One time step: gi = x_t W_ih^T + b_ih (N, G H) and h (N, H) -> (h', c', gates)."""
        raise NotImplementedError

    def _check_state(self, state: torch.Tensor, batch: int | None, name: str,
                     size: int) -> torch.Tensor:
        expected = (self.num_layers * self.num_directions,) + (() if batch is None else (batch,)) \
            + (size,)
        if tuple(state.shape) != expected:
            raise ValueError(f"{name} must have shape (num_layers * num_directions, N, H) = "
                             f"{expected}, got {tuple(state.shape)}")
        return state if batch is not None else state.unsqueeze(1)   # (D num_layers, N, H)

    def _run(self, input: torch.Tensor, h0, c0, record_gates: bool = False):
        """Shared forward. Returns output, h_n, c_n (or None) and the gates (or None)."""
        tensor_input(input, "input")
        for name, state in (("h_0", h0), ("c_0", c0)):
            if state is not None:
                tensor_input(state, name)
        if input.dim() not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(f"input must have shape (L, N, H_in) ((N, L, H_in) if batch_first) "
                             f"or (L, H_in) with H_in = {self.input_size}, "
                             f"got {tuple(input.shape)}")
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)                 # (L, N, H_in) or (N, L, H_in)
        if batched and self.batch_first:
            x = x.transpose(0, 1)                                    # (L, N, H_in)
        length, batch = x.shape[:2]
        K, given = self.num_layers * self.num_directions, batch if batched else None
        h_size = self.proj_size or self.hidden_size                  # P with a projection
        h0 = (x.new_zeros(K, batch, h_size) if h0 is None
              else self._check_state(h0, given, "h_0", h_size))
        if self.num_gates == 4:
            c0 = (x.new_zeros(K, batch, self.hidden_size) if c0 is None
                  else self._check_state(c0, given, "c_0", self.hidden_size))
        h_n, c_n, gates = [], [], []
        suffixes = self._suffixes()
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                out, h, c, g = self._run_direction(x, h0[index], None if c0 is None else c0[index],
                                                   suffixes[index], reverse=direction == 1,
                                                   record_gates=record_gates)
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
                gates.append(g)
            x = torch.cat(outputs, dim=-1)                           # (L, N, D H)
            if layer < self.num_layers - 1:
                x = dropout(x, self.dropout, self.training)
        output = x.transpose(0, 1) if batched and self.batch_first else x   # (N, L, D H)
        h_n = torch.stack(h_n)                                       # (D num_layers, N, H)
        c_n = torch.stack(c_n) if self.num_gates == 4 else None
        if not batched:
            output = output.squeeze(1)                               # (L, D H)
            h_n = h_n.squeeze(1)                                     # (D num_layers, H)
            c_n = None if c_n is None else c_n.squeeze(1)
        if record_gates:
            gates = self._stack_gates(gates, batched)
        return output, h_n, c_n, gates

    def _stack_gates(self, gates: list, batched: bool) -> dict[str, torch.Tensor]:
        """Per (layer, direction) lists of (N, H) gates -> {name: (D num_layers, L, N, H)}."""
        stacked = {}
        for name in gates[0]:
            value = torch.stack([torch.stack(g[name]) for g in gates])   # (D num_layers, L, N, H)
            if not batched:
                value = value.squeeze(2)                                 # (D num_layers, L, H)
            elif self.batch_first:
                value = value.transpose(1, 2)                            # (D num_layers, N, L, H)
            stacked[name] = value
        return stacked

    def _run_direction(self, x: torch.Tensor, h, c, suffix: str, reverse: bool,
                       record_gates: bool):
        """Run one direction of one layer over x (L, N, H_in); outputs (L, N, H) in time order."""
        w_ih, w_hh = getattr(self, f"weight_ih{suffix}"), getattr(self, f"weight_hh{suffix}")
        b_ih = getattr(self, f"bias_ih{suffix}") if self.bias else None
        b_hh = getattr(self, f"bias_hh{suffix}") if self.bias else None
        w_hr = getattr(self, f"weight_hr{suffix}") if self.proj_size else None   # (P, H)
        gi_all = x @ w_ih.T                                          # (L, N, H_in) @ (H_in, G H)
        if b_ih is not None:
            gi_all = gi_all + b_ih                                   # (L, N, G H)
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outputs, recorded = [], {}
        for t in steps:
            h, c, gates = self._cell(gi_all[t], h, c, w_hh, b_hh)   # (N, H) each
            if w_hr is not None:
                h = h @ w_hr.T                                       # LSTM's projection: (N, P)
            outputs.append(h)
            if record_gates:
                for name, value in gates.items():
                    recorded.setdefault(name, []).append(value)
        if reverse:
            outputs.reverse()
            for values in recorded.values():
                values.reverse()
        return torch.stack(outputs), h, c, recorded                  # (L, N, H)

    def _hidden_projection(self, h: torch.Tensor, w_hh: torch.Tensor, b_hh) -> torch.Tensor:
        gh = h @ w_hh.T                                              # (N, H) @ (H, G H) -> (N, G H)
        return gh if b_hh is None else gh + b_hh

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
                f"bidirectional={self.bidirectional}, proj_size={self.proj_size}")


class RNN(_RecurrentBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    Input: (L, N, H_in) ((N, L, H_in) if ``batch_first``) or unbatched (L, H_in); optional
    h_0 (D num_layers, N, H), zeros by default, with D = 2 if ``bidirectional`` else 1.
    Returns ``(output, h_n)``: output (L, N, D H) ((N, L, D H) if ``batch_first``) holds the last
    layer's h_t for every t; h_n (D num_layers, N, H) the final state of every layer and direction.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def _cell(self, gi, h, c, w_hh, b_hh):
        pre = gi + self._hidden_projection(h, w_hh, b_hh)            # (N, H)
        return (tanh(pre) if self.nonlinearity == "tanh" else relu(pre)), None, {}

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None):
        output, h_n, _, _ = self._run(input, hx, None)
        return output, h_n


class LSTM(_RecurrentBase):
    """Long short-term memory; gates in torch's order i, f, g, o.

    [i, f, g, o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh  (each (N, H)),
    i, f, o = sigmoid(.), g = tanh(.),  c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).
    Input: (L, N, H_in) ((N, L, H_in) if ``batch_first``) or (L, H_in); optional
    hx = (h_0, c_0), each (D num_layers, N, H), zeros by default.
    Returns ``(output, (h_n, c_n))`` as torch does: output (L, N, D H) ((N, L, D H) if
    ``batch_first``), h_n and c_n (D num_layers, N, H). With ``return_gates=True`` a third item
    maps "input", "forget", "cell", "output" to the gate activations i, f, g, o of every layer and
    direction, each (D num_layers, L, N, H) ((D num_layers, N, L, H) if ``batch_first``).
    ``proj_size`` P > 0 projects every h_t to P features, h_t = (o * tanh(c_t)) W_hr^T with
    ``weight_hr_l{k}`` (P, H); h_0, h_n and the output then have P (D P) features, c_t keeps H.
    """

    num_gates = 4

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, proj_size)

    def _cell(self, gi, h, c, w_hh, b_hh):
        gates = gi + self._hidden_projection(h, w_hh, b_hh)          # (N, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)                          # (N, H) each
        i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        c = f * c + i * g
        h = o * tanh(c)
        return h, c, {"input": i, "forget": f, "cell": g, "output": o}

    def forward(self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None,
                return_gates: bool = False):
        h0, c0 = (None, None) if hx is None else hx
        output, h_n, c_n, gates = self._run(input, h0, c0, record_gates=return_gates)
        if return_gates:
            return output, (h_n, c_n), gates
        return output, (h_n, c_n)


class GRU(_RecurrentBase):
    """Gated recurrent unit; gates in torch's order r, z, n.

    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz),
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}.
    Input: (L, N, H_in) ((N, L, H_in) if ``batch_first``) or (L, H_in); optional
    h_0 (D num_layers, N, H). Returns ``(output, h_n)`` with the shapes of :class:`RNN`.
    """

    num_gates = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):                           # no proj_size: LSTM only
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)

    def _cell(self, gi, h, c, w_hh, b_hh):
        gh = self._hidden_projection(h, w_hh, b_hh)                  # (N, 3H)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)                          # (N, H) each
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
        n = tanh(i_n + r * h_n)
        return (1 - z) * n + z * h, None, {"reset": r, "update": z, "new": n}

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None):
        output, h_n, _, _ = self._run(input, hx, None)
        return output, h_n
