"""What every recurrent layer shares: parameters, layouts, the loop over time, and its backward.

A recurrent layer is a *cell* applied at every time step. The cell sees two projections,

    gi = x_t W_ih^T + b_ih    and    gh = h_{t-1} W_hh^T + b_hh    (each (N, G H)),

and the previous state, and returns the next state. :class:`Recurrent` owns everything around the
cell: the input projections of all steps in one matmul before the loop, the recurrent matmul inside
it, back-propagation through time, and the weight gradients as one matmul each after the loop.
Subclasses (:class:`~companion.numpy.recurrent.RNN`, ``LSTM``, ``GRU``) write only the cell's
equations (``_cell``) and their derivatives (``_cell_backward``).

Layers stack (``num_layers``): layer k > 0 reads the outputs of layer k - 1, through dropout in
training. A bidirectional layer runs a second cell backwards in time and concatenates the two
outputs. Parameters carry torch's names and layout: for layer k (and ``_reverse`` for the backward
direction) ``weight_ih_l{k}`` (G H, I_k), ``weight_hh_l{k}`` (G H, H), ``bias_ih_l{k}`` and
``bias_hh_l{k}`` (G H,), the G gate blocks stacked in torch's order, so weights copy to and from
``torch.nn`` without transposes. I_0 = I, and I_k = D H after it (D = 2 if bidirectional, else 1).
"""

from __future__ import annotations

import numpy as np

from companion.core.checks import as_float_array, as_rng, check_size, positive_int, real_number
from companion.numpy.module import Module


class Recurrent(Module):
    """Shared skeleton of the scratch RNN, LSTM and GRU.

    Class attributes set by each subclass: ``_gate_count`` (G, the H-sized blocks in the weights),
    ``_state_names`` (``("hx",)``, or ``("h_0", "c_0")`` for the LSTM) and ``_gate_keys`` (public
    gate name -> key of the value the cell saves for backward).
    """

    _gate_count = 1
    _state_names = ("hx",)
    _gate_keys: dict[str, str] = {}
    proj_size = 0  # the LSTM's optional projection of h_t to P < H features

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                 bidirectional, rng):
        super().__init__()
        self.input_size = positive_int(input_size, "input_size")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        self.num_layers = positive_int(num_layers, "num_layers")
        self.dropout = real_number(dropout, "dropout", 0.0, 1.0)
        for flag, value in (("bias", bias), ("batch_first", batch_first),
                            ("bidirectional", bidirectional)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False, got {type(value).__name__} "
                                f"{value!r}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1

        # torch's default: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), drawn in torch's order
        self.rng = as_rng(rng)  # also draws the dropout masks between layers
        H, G, P = self.hidden_size, self._gate_count, self._h_size
        bound = 1.0 / np.sqrt(H)
        for k, suffix in enumerate(self._suffixes()):
            layer_input = self.input_size if k < self.num_directions else P * self.num_directions
            self.add_param(f"weight_ih{suffix}",
                           self.rng.uniform(-bound, bound, (G * H, layer_input)))
            self.add_param(f"weight_hh{suffix}", self.rng.uniform(-bound, bound, (G * H, P)))
            if self.bias:
                self.add_param(f"bias_ih{suffix}", self.rng.uniform(-bound, bound, G * H))
                self.add_param(f"bias_hh{suffix}", self.rng.uniform(-bound, bound, G * H))
            if self.proj_size:
                self.add_param(f"weight_hr{suffix}", self.rng.uniform(-bound, bound, (P, H)))
        self._cache = None

    @property
    def _h_size(self) -> int:
        """Size of h_t: P with a projection (LSTM's proj_size), else H."""
        return self.proj_size or self.hidden_size

    @property
    def _state_sizes(self) -> tuple[int, ...]:
        """Size of each state in ``_state_names``: h_t's, and the LSTM's cell c_t (H)."""
        return (self._h_size,) + (self.hidden_size,) * (len(self._state_names) - 1)

    def _suffixes(self) -> list[str]:
        """'_l0', '_l0_reverse', '_l1', ...: one per (layer, direction), in h_n's order."""
        directions = ("", "_reverse")[:self.num_directions]
        return [f"_l{layer}{d}" for layer in range(self.num_layers) for d in directions]

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return dict(input_size=module.input_size, hidden_size=module.hidden_size,
                    num_layers=module.num_layers, bias=module.bias,
                    batch_first=module.batch_first, dropout=module.dropout,
                    bidirectional=module.bidirectional)

    # -- the cell: written by each subclass ------------------------------------------------------
    def _cell(self, gi: np.ndarray, gh: np.ndarray, state: tuple) -> tuple[tuple, dict]:
        """One step: projections gi, gh (N, G H) and the state -> (next state, saved values)."""
        raise NotImplementedError

    def _cell_backward(self, d_state: tuple, saved: dict) -> tuple:
        """Gradients of one step: d_state (of the next state) -> (d_gi, d_gh, d_previous_state).

        ``d_previous_state`` holds only the direct paths; the driver adds h_{t-1}'s path through
        ``gh`` (``d_gh W_hh``).
        """
        raise NotImplementedError

    # -- the loop over time and its backward -----------------------------------------------------
    def _weights(self, suffix: str):
        p = self._params
        return (p[f"weight_ih{suffix}"], p[f"weight_hh{suffix}"], p.get(f"bias_ih{suffix}"),
                p.get(f"bias_hh{suffix}"))

    def _unroll(self, x: np.ndarray, state: tuple, suffix: str):
        """Run the cell over x (T, N, I) from ``state``; return outputs (T, N, H), state, tape."""
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        w_hr = self._params.get(f"weight_hr{suffix}")  # (P, H), the LSTM's projection
        T, N, I = x.shape
        gi = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, len(w_ih))  # (T, N, G H): all steps
        if b_ih is not None:
            gi += b_ih
        outputs = np.empty((T, N, self._h_size))  # h_1 .. h_T
        h_prev = np.empty((T, N, self._h_size))  # h_0 .. h_{T-1}, for W_hh's gradient
        saved = []
        for t in range(T):
            h_prev[t] = state[0]
            gh = state[0] @ w_hh.T  # (N, H) @ (H, G H)
            if b_hh is not None:
                gh = gh + b_hh
            state, step = self._cell(gi[t], gh, state)
            if w_hr is not None:  # proj_size: h_t = (o * tanh(c_t)) W_hr^T, (N, H) -> (N, P)
                step["h_cell"] = state[0]
                state = (state[0] @ w_hr.T,) + state[1:]
            saved.append(step)
            outputs[t] = state[0]
        return outputs, state, dict(x=x, h_prev=h_prev, saved=saved)

    def _unroll_backward(self, grad_outputs: np.ndarray, d_state: tuple, tape: dict, suffix: str):
        """Back-propagate through time; add weight gradients; return d_x (T, N, I), d_state_0."""
        w_ih, w_hh, b_ih, _ = self._weights(suffix)
        w_hr = self._params.get(f"weight_hr{suffix}")  # (P, H), the LSTM's projection
        x, h_prev = tape["x"], tape["h_prev"]
        T, N, I = x.shape
        GH = w_hh.shape[0]
        d_gi = np.empty((T, N, GH))  # gradient of x_t W_ih^T + b_ih
        d_gh = np.empty((T, N, GH))  # gradient of h_{t-1} W_hh^T + b_hh
        for t in range(T - 1, -1, -1):
            d_state = (d_state[0] + grad_outputs[t],) + d_state[1:]  # h_t is also an output
            if w_hr is not None:  # back through the projection: (N, P) -> (N, H)
                self._grads[f"weight_hr{suffix}"] += d_state[0].T @ tape["saved"][t]["h_cell"]
                d_state = (d_state[0] @ w_hr,) + d_state[1:]
            d_gi[t], d_gh[t], d_state = self._cell_backward(d_state, tape["saved"][t])
            d_state = (d_state[0] + d_gh[t] @ w_hh,) + d_state[1:]  # (N, G H) @ (G H, H)
        # the weights are shared by every step: their gradients sum over t, one matmul each
        d_gi, d_gh = d_gi.reshape(T * N, GH), d_gh.reshape(T * N, GH)
        self._grads[f"weight_ih{suffix}"] += d_gi.T @ x.reshape(T * N, I)  # (G H, I)
        self._grads[f"weight_hh{suffix}"] += d_gh.T @ h_prev.reshape(T * N, w_hh.shape[1])
        if b_ih is not None:
            self._grads[f"bias_ih{suffix}"] += d_gi.sum(axis=0)
            self._grads[f"bias_hh{suffix}"] += d_gh.sum(axis=0)
        return (d_gi @ w_ih).reshape(T, N, I), d_state

    # -- the stack of layers and directions, in the caller's layout -----------------------------
    def _forward(self, input, states: tuple):
        """Shared forward: (output, final states), each state (K, N, H) or (K, H) unbatched.

        K = num_layers * D indexes (layer, direction) as in torch: k = layer * D + direction.
        """
        x, batched = self._time_major_input(input)
        T, N, _ = x.shape
        K, D = self.num_layers * self.num_directions, self.num_directions
        initial = [np.zeros((K, N, size)) if value is None
                   else self._state(value, name, N, batched, size)
                   for name, value, size in zip(self._state_names, states, self._state_sizes)]
        tapes, masks, finals = [], [], []
        for layer in range(self.num_layers):
            mask = None
            if layer > 0 and self.training and self.dropout > 0:  # dropout between layers
                keep = self.rng.random(x.shape) >= self.dropout
                mask = keep / (1.0 - self.dropout) if self.dropout < 1 else np.zeros(x.shape)
                x = x * mask
            masks.append(mask)
            outputs = []
            for direction in range(D):
                k = layer * D + direction
                x_dir = x[::-1] if direction else x  # the reverse direction reads time backwards
                out, final, tape = self._unroll(x_dir, tuple(s[k] for s in initial),
                                                self._suffixes()[k])
                outputs.append(out[::-1] if direction else out)
                tapes.append(tape)
                finals.append(final)
            x = np.concatenate(outputs, axis=-1)  # (T, N, D H)
        self._cache = dict(tapes=tapes, masks=masks, batched=batched, shape=(T, N),
                           has_hx=states[0] is not None)
        final_states = tuple(np.stack([f[s] for f in finals]).reshape(  # (K, N, H)
            self._state_shape(N, batched, size)) for s, size in enumerate(self._state_sizes))
        return self._user_layout(x, batched), final_states

    def _backward(self, grad_output, grad_finals: tuple):
        """Shared backward: grad_input and the initial states' gradients (None without hx)."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        tapes, masks, batched = self._cache["tapes"], self._cache["masks"], self._cache["batched"]
        T, N = self._cache["shape"]
        D, H = self.num_directions, self._h_size
        grad = self._time_major_grad(grad_output, "grad_output", batched, T, N)  # (T, N, D H)
        d_final = [np.zeros((len(tapes), N, size)) if value is None
                   else self._state(value, f"grad_{name[0]}_n", N, batched, size)
                   for name, value, size in zip(self._state_names, grad_finals,
                                                self._state_sizes)]
        d_initial = [np.empty((len(tapes), N, size)) for size in self._state_sizes]
        for layer in range(self.num_layers - 1, -1, -1):
            grad_x = 0.0
            for direction in range(D):
                k = layer * D + direction
                g = grad[..., direction * H:(direction + 1) * H]  # (T, N, H)
                d_x, d_state = self._unroll_backward(g[::-1] if direction else g,
                                                     tuple(d[k] for d in d_final), tapes[k],
                                                     self._suffixes()[k])
                grad_x = grad_x + (d_x[::-1] if direction else d_x)
                for d_init, d in zip(d_initial, d_state):
                    d_init[k] = d
            grad = grad_x if masks[layer] is None else grad_x * masks[layer]
        grad_x = self._user_layout(grad, batched)
        if not self._cache["has_hx"]:
            return grad_x, None
        return grad_x, tuple(d.reshape(self._state_shape(N, batched, size))
                             for d, size in zip(d_initial, self._state_sizes))

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """Per-step gate activations of the last forward, each (N, T, H) (N = 1 unbatched).

        A stacked or bidirectional layer gives (K, N, T, H), K = num_layers * D as in h_n.
        """
        if self._cache is None:
            return {}
        found = {}
        for name, key in self._gate_keys.items():
            per_cell = []
            for k, tape in enumerate(self._cache["tapes"]):
                steps = tape["saved"][::-1] if k % self.num_directions else tape["saved"]
                per_cell.append(np.stack([step[key] for step in steps], axis=1))  # (N, T, H)
            found[name] = per_cell[0] if len(per_cell) == 1 else np.stack(per_cell)
        return found

    # -- layouts ---------------------------------------------------------------------------------
    def _time_major_input(self, input) -> tuple[np.ndarray, bool]:
        """The input as (T, N, I) and whether it had a batch axis."""
        x = as_float_array(input, "input", ndim=(2, 3),
                           shape_hint="(N, T, I) or (T, I)" if self.batch_first
                           else "(T, N, I) or (T, I)")
        check_size(x, -1, self.input_size, "input", "input_size")
        batched = x.ndim == 3
        if not batched:
            x = x[:, None, :]  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # (N, T, I) -> (T, N, I)
        if x.shape[0] == 0:  # an empty batch is fine, as in torch; no time at all is not
            raise ValueError(f"input must hold at least one time step, got shape "
                             f"{np.shape(input)}")
        return x, batched

    def _state_shape(self, batch: int, batched: bool, size: int) -> tuple[int, ...]:
        K = self.num_layers * self.num_directions
        return (K, batch, size) if batched else (K, size)

    def _state(self, value, name: str, batch: int, batched: bool, size: int) -> np.ndarray:
        """A state (K, N, H) (or (K, H) unbatched) as a (K, N, H) array."""
        shape = self._state_shape(batch, batched, size)
        state = as_float_array(value, name)
        if state.shape != shape:
            layout = ("(num_layers * num_directions, N, H)" if batched
                      else "(num_layers * num_directions, H) for unbatched input")
            raise ValueError(f"{name} must have shape {shape} {layout}, got {state.shape}")
        return state.reshape(shape[0], batch, size)

    def _user_layout(self, array: np.ndarray, batched: bool) -> np.ndarray:
        """A (T, N, X) array in the caller's layout, as a fresh contiguous copy."""
        if not batched:
            return array[:, 0].copy()  # (T, X)
        if self.batch_first:
            return np.ascontiguousarray(array.transpose(1, 0, 2))  # (N, T, X)
        return array.copy()  # (T, N, X)

    def _time_major_grad(self, grad, name: str, batched: bool, T: int, N: int) -> np.ndarray:
        """The upstream gradient of the output as (T, N, D H)."""
        H = self._h_size * self.num_directions
        shape = (T, N, H) if not self.batch_first else (N, T, H)
        shape = shape if batched else (T, H)
        grad = as_float_array(grad, name)
        if grad.shape != shape:
            raise ValueError(f"{name} must have the output's shape {shape}, got {grad.shape}")
        if not batched:
            return grad[:, None, :]  # (T, 1, D H)
        return grad.transpose(1, 0, 2) if self.batch_first else grad  # (T, N, D H)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, "
                f"num_layers={self.num_layers}, bias={self.bias}, batch_first={self.batch_first}, "
                f"dropout={self.dropout}, bidirectional={self.bidirectional})")


class HiddenStateRecurrent(Recurrent):
    """A recurrent layer whose state is h alone (RNN, GRU): forward and backward over ``(hx,)``."""

    def forward(self, input, hx=None):
        """Run the layer over a sequence.

        Args:
            input: (T, N, I), or (N, T, I) if ``batch_first``, or unbatched (T, I).
            hx: optional h_0 (L D, N, H) (or (L D, H) unbatched); zeros if None.

        Returns:
            ``(output, h_n)``: the last layer's h_t for every t, (T, N, D H) / (N, T, D H) /
            (T, D H), and every layer's and direction's final state, (L D, N, H).
        """
        output, (h_n,) = self._forward(input, (hx,))
        return output, h_n

    def backward(self, grad_output, grad_h_n=None):
        """Back-propagate through time; add parameter gradients into ``grads``.

        Args:
            grad_output: gradient of the loss w.r.t. ``output``, same shape.
            grad_h_n: optional gradient w.r.t. ``h_n`` (L D, N, H).

        Returns:
            ``grad_input`` (the input's shape), or ``(grad_input, grad_hx)`` if forward got hx.
        """
        grad_input, grad_states = self._backward(grad_output, (grad_h_n,))
        return grad_input if grad_states is None else (grad_input, grad_states[0])
