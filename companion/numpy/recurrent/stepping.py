"""What every recurrent layer shares: parameters, layouts, the loop over time, and its backward.

A recurrent layer is a *cell* applied at every time step. The cell sees two projections,

    gi = x_t W_ih^T + b_ih    and    gh = h_{t-1} W_hh^T + b_hh    (each (N, G H)),

and the previous state, and returns the next state. :class:`Recurrent` owns everything around the
cell: the input projections of all steps in one matmul before the loop, the recurrent matmul inside
it, back-propagation through time, and the weight gradients as one matmul each after the loop.
Subclasses (:class:`~companion.numpy.recurrent.RNN`, ``LSTM``, ``GRU``) write only the cell's
equations (``_cell``) and their derivatives (``_cell_backward``).

Parameters carry torch's names and layout: ``weight_ih_l0`` (G H, I), ``weight_hh_l0`` (G H, H),
``bias_ih_l0`` and ``bias_hh_l0`` (G H,), the G gate blocks stacked in torch's order, so weights
copy to and from ``torch.nn`` without transposes.
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

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                 bidirectional, rng):
        super().__init__()
        self.input_size = positive_int(input_size, "input_size")
        self.hidden_size = positive_int(hidden_size, "hidden_size")
        num_layers = positive_int(num_layers, "num_layers")
        name = type(self).__name__
        if num_layers != 1:
            raise ValueError(f"num_layers must be 1 (the scratch {name} has a single layer; "
                             f"stack layers yourself), got {num_layers}")
        if real_number(dropout, "dropout", 0.0, 1.0) != 0.0:
            raise ValueError(f"dropout must be 0 (it only acts between stacked layers, and the "
                             f"scratch {name} has one), got {dropout}")
        for flag, value in (("bias", bias), ("batch_first", batch_first),
                            ("bidirectional", bidirectional)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{flag} must be True or False, got {type(value).__name__} "
                                f"{value!r}")
        if bidirectional:
            raise ValueError(f"bidirectional must be False (the scratch {name} runs forward in "
                             f"time only), got True")
        self.num_layers = 1
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = 0.0
        self.bidirectional = False

        # torch's default: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))
        rng = as_rng(rng)
        H, I, G = self.hidden_size, self.input_size, self._gate_count
        bound = 1.0 / np.sqrt(H)
        self.add_param("weight_ih_l0", rng.uniform(-bound, bound, (G * H, I)))
        self.add_param("weight_hh_l0", rng.uniform(-bound, bound, (G * H, H)))
        if self.bias:
            self.add_param("bias_ih_l0", rng.uniform(-bound, bound, G * H))
            self.add_param("bias_hh_l0", rng.uniform(-bound, bound, G * H))
        self._cache = None

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return dict(input_size=module.input_size, hidden_size=module.hidden_size,
                    num_layers=module.num_layers, bias=module.bias,
                    batch_first=module.batch_first, dropout=module.dropout,
                    bidirectional=module.bidirectional)

    # -- the cell: written by each subclass ------------------------------------------------------
    def _cell(self, gi: np.ndarray, gh: np.ndarray, state: tuple) -> tuple[tuple, dict]:
        """One step: projections gi, gh (N, G H) and the state -> (next state, saved for backward)."""
        raise NotImplementedError

    def _cell_backward(self, d_state: tuple, saved: dict) -> tuple:
        """Gradients of one step: d_state (of the next state) -> (d_gi, d_gh, d_previous_state).

        ``d_previous_state`` holds only the direct paths; the driver adds h_{t-1}'s path through
        ``gh`` (``d_gh W_hh``).
        """
        raise NotImplementedError

    # -- the loop over time and its backward -----------------------------------------------------
    def _weights(self, suffix: str = "_l0"):
        p = self._params
        return (p[f"weight_ih{suffix}"], p[f"weight_hh{suffix}"], p.get(f"bias_ih{suffix}"),
                p.get(f"bias_hh{suffix}"))

    def _unroll(self, x: np.ndarray, state: tuple, suffix: str = "_l0"):
        """Run the cell over x (T, N, I) from ``state``; return outputs (T, N, H), state, tape."""
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        T, N, I = x.shape
        gi = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, -1)  # (T, N, G H): all steps at once
        if b_ih is not None:
            gi += b_ih
        outputs = np.empty((T, N, self.hidden_size))  # h_1 .. h_T
        h_prev = np.empty((T, N, self.hidden_size))  # h_0 .. h_{T-1}, for W_hh's gradient
        saved = []
        for t in range(T):
            h_prev[t] = state[0]
            gh = state[0] @ w_hh.T  # (N, H) @ (H, G H)
            if b_hh is not None:
                gh = gh + b_hh
            state, step = self._cell(gi[t], gh, state)
            saved.append(step)
            outputs[t] = state[0]
        return outputs, state, dict(x=x, h_prev=h_prev, saved=saved)

    def _unroll_backward(self, grad_outputs: np.ndarray, d_state: tuple, tape: dict,
                         suffix: str = "_l0"):
        """Back-propagate through time; add weight gradients; return d_x (T, N, I), d_state_0."""
        w_ih, w_hh, b_ih, _ = self._weights(suffix)
        x, h_prev = tape["x"], tape["h_prev"]
        T, N, I = x.shape
        GH = w_hh.shape[0]
        d_gi = np.empty((T, N, GH))  # gradient of x_t W_ih^T + b_ih
        d_gh = np.empty((T, N, GH))  # gradient of h_{t-1} W_hh^T + b_hh
        for t in range(T - 1, -1, -1):
            d_state = (d_state[0] + grad_outputs[t],) + d_state[1:]  # h_t is also an output
            d_gi[t], d_gh[t], d_state = self._cell_backward(d_state, tape["saved"][t])
            d_state = (d_state[0] + d_gh[t] @ w_hh,) + d_state[1:]  # (N, G H) @ (G H, H)
        # the weights are shared by every step: their gradients sum over t, one matmul each
        d_gi, d_gh = d_gi.reshape(T * N, GH), d_gh.reshape(T * N, GH)
        self._grads[f"weight_ih{suffix}"] += d_gi.T @ x.reshape(T * N, I)  # (G H, I)
        self._grads[f"weight_hh{suffix}"] += d_gh.T @ h_prev.reshape(T * N, -1)  # (G H, H)
        if b_ih is not None:
            self._grads[f"bias_ih{suffix}"] += d_gi.sum(axis=0)
            self._grads[f"bias_hh{suffix}"] += d_gh.sum(axis=0)
        return (d_gi @ w_ih).reshape(T, N, I), d_state

    # -- forward and backward in the caller's layout ----------------------------------------------
    def _forward(self, input, states: tuple):
        """Shared forward: (output, final states), each state (1, N, H) or (1, H) unbatched."""
        x, batched = self._time_major_input(input)
        T, N, _ = x.shape
        state = tuple(np.zeros((N, self.hidden_size)) if value is None
                      else self._state(value, name, N, batched)
                      for name, value in zip(self._state_names, states))
        outputs, final, tape = self._unroll(x, state)
        self._cache = dict(tape=tape, batched=batched, has_hx=states[0] is not None)
        shape = self._state_shape(N, batched)
        return self._user_layout(outputs, batched), tuple(s.reshape(shape).copy() for s in final)

    def _backward(self, grad_output, grad_finals: tuple):
        """Shared backward: grad_input and the initial states' gradients (None without hx)."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        tape, batched = self._cache["tape"], self._cache["batched"]
        T, N, _ = tape["x"].shape
        grad = self._time_major_grad(grad_output, "grad_output", batched, T, N)
        d_final = tuple(np.zeros((N, self.hidden_size)) if value is None
                        else self._state(value, f"grad_{name[0]}_n", N, batched).copy()
                        for name, value in zip(self._state_names, grad_finals))
        grad_x, d_state = self._unroll_backward(grad, d_final, tape)
        grad_x = self._user_layout(grad_x, batched)
        if not self._cache["has_hx"]:
            return grad_x, None
        shape = self._state_shape(N, batched)
        return grad_x, tuple(np.reshape(d, shape) for d in d_state)

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """Per-step gate activations of the last forward, each (N, T, H) (N = 1 unbatched)."""
        if self._cache is None:
            return {}
        saved = self._cache["tape"]["saved"]
        return {name: np.stack([step[key] for step in saved], axis=1)  # (N, T, H)
                for name, key in self._gate_keys.items()}

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
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"input must hold at least one time step and one sequence, "
                             f"got shape {np.shape(input)}")
        return x, batched

    def _state_shape(self, batch: int, batched: bool) -> tuple[int, ...]:
        return (1, batch, self.hidden_size) if batched else (1, self.hidden_size)

    def _state(self, value, name: str, batch: int, batched: bool) -> np.ndarray:
        """An initial state (1, N, H) (or (1, H) unbatched) as an (N, H) array."""
        shape = self._state_shape(batch, batched)
        state = as_float_array(value, name)
        if state.shape != shape:
            layout = "(num_layers=1, N, H)" if batched else "(num_layers=1, H) for unbatched input"
            raise ValueError(f"{name} must have shape {shape} {layout}, got {state.shape}")
        return state.reshape(batch, self.hidden_size)

    def _user_layout(self, array: np.ndarray, batched: bool) -> np.ndarray:
        """A (T, N, X) array in the caller's layout, as a fresh contiguous copy."""
        if not batched:
            return array[:, 0].copy()  # (T, X)
        if self.batch_first:
            return np.ascontiguousarray(array.transpose(1, 0, 2))  # (N, T, X)
        return array.copy()  # (T, N, X)

    def _time_major_grad(self, grad, name: str, batched: bool, T: int, N: int) -> np.ndarray:
        """The upstream gradient of the output as (T, N, H)."""
        H = self.hidden_size
        shape = (T, N, H) if not self.batch_first else (N, T, H)
        shape = shape if batched else (T, H)
        grad = as_float_array(grad, name)
        if grad.shape != shape:
            raise ValueError(f"{name} must have the output's shape {shape}, got {grad.shape}")
        if not batched:
            return grad[:, None, :]  # (T, 1, H)
        return grad.transpose(1, 0, 2) if self.batch_first else grad  # (T, N, H)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, bias={self.bias}, "
                f"batch_first={self.batch_first})")
