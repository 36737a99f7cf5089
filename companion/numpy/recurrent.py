"""Single-layer recurrent layers (Elman RNN, LSTM, GRU) with back-propagation through time.

All three share one skeleton. The input projection ``x_t W_ih^T + b_ih`` of every time step is
one matmul before the loop; the loop then does one matmul ``h_{t-1} W_hh^T`` per step for all
gates at once. Backward walks the steps in reverse, stores the gradient of every pre-activation,
and turns them into the weight gradients with one matmul each after the loop.

Parameters carry torch's names and layout: ``weight_ih_l0`` (G*H, I), ``weight_hh_l0`` (G*H, H),
``bias_ih_l0`` and ``bias_hh_l0`` (G*H,), with the G gate blocks stacked in torch's order
(LSTM: i, f, g, o; GRU: r, z, n), so weights copy to and from ``torch.nn`` without transposes.
"""

from __future__ import annotations

import numbers

import numpy as np

from companion.numpy._validation import (as_float_array, as_rng, check_size, positive_int,
                                         real_number)
from companion.numpy.module import Module


class _Recurrent(Module):
    """Shared skeleton: configuration, parameters, input layout, and the weight gradients."""

    _gate_count = 1  # G, the number of H-sized blocks stacked in the weights

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

    # -- layout ---------------------------------------------------------------------------------
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

    def _final_grad(self, grad, name: str, batched: bool, N: int) -> np.ndarray:
        """The upstream gradient of a final state as (N, H); zeros when it is None."""
        if grad is None:
            return np.zeros((N, self.hidden_size))
        return self._state(grad, name, N, batched).copy()

    # -- shared forward and backward steps ------------------------------------------------------
    def _input_projection(self, x: np.ndarray, fold_hidden_bias: bool) -> np.ndarray:
        """x_t W_ih^T + b_ih (+ b_hh) for every step at once: (T, N, I) -> (T, N, G*H)."""
        T, N, _ = x.shape
        proj = (x.reshape(T * N, -1) @ self._params["weight_ih_l0"].T)  # (T*N, G*H)
        proj = proj.reshape(T, N, -1)  # (T, N, G*H)
        if self.bias:
            proj += self._params["bias_ih_l0"]
            if fold_hidden_bias:
                proj += self._params["bias_hh_l0"]
        return proj

    def _check_backward_ready(self) -> dict:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def _accumulate(self, cache: dict, d_input_proj: np.ndarray,
                    d_hidden_proj: np.ndarray) -> np.ndarray:
        """Add the weight and bias gradients; return the gradient of the (T, N, I) input.

        ``d_input_proj`` and ``d_hidden_proj`` (T, N, G*H) are the gradients of the loss with
        respect to ``x_t W_ih^T + b_ih`` and ``h_{t-1} W_hh^T + b_hh``.
        """
        x, hs = cache["x"], cache["hs"]
        T, N, I = x.shape
        GH = d_input_proj.shape[-1]
        d_in = d_input_proj.reshape(T * N, GH)  # (T*N, G*H)
        d_hid = d_hidden_proj.reshape(T * N, GH)  # (T*N, G*H)
        self._grads["weight_ih_l0"] += d_in.T @ x.reshape(T * N, I)  # (G*H, I)
        self._grads["weight_hh_l0"] += d_hid.T @ hs[:-1].reshape(T * N, -1)  # (G*H, H)
        if self.bias:
            self._grads["bias_ih_l0"] += d_in.sum(axis=0)
            self._grads["bias_hh_l0"] += d_hid.sum(axis=0)
        return (d_in @ self._params["weight_ih_l0"]).reshape(T, N, I)  # (T, N, I)

    def _batch_major(self, array: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(array.transpose(1, 0, 2))  # (T, N, H) -> (N, T, H)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, bias={self.bias}, "
                f"batch_first={self.batch_first})")


class RNN(_Recurrent):
    """Elman recurrent layer: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    ``act`` is tanh or relu (``nonlinearity``), h_0 defaults to zeros. Mirrors ``torch.nn.RNN``
    with one layer.

    Args:
        input_size: I, features per time step.
        hidden_size: H, size of the hidden state.
        num_layers: must be 1.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias: whether to learn ``bias_ih_l0`` and ``bias_hh_l0`` (H,).
        batch_first: input and output are ``(N, T, *)`` instead of ``(T, N, *)``.
        dropout, bidirectional: accepted for torch's signature; must be 0 and False.
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

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """An Elman layer has no gates; the hidden states are the layer's output."""
        return {}

    def forward(self, input, hx=None):
        """Run the layer over a sequence.

        Args:
            input: (T, N, I), or (N, T, I) if ``batch_first``, or unbatched (T, I).
            hx: optional h_0 (1, N, H) (or (1, H) unbatched); zeros if None.

        Returns:
            ``(output, h_n)``: every h_t, (T, N, H) / (N, T, H) / (T, H), and the last, (1, N, H).
        """
        x, batched = self._time_major_input(input)
        T, N, _ = x.shape
        hs = np.empty((T + 1, N, self.hidden_size))  # h_0 .. h_T
        hs[0] = 0.0 if hx is None else self._state(hx, "hx", N, batched)
        proj = self._input_projection(x, fold_hidden_bias=True)  # (T, N, H)
        w_hh_t = self._params["weight_hh_l0"].T  # (H, H)
        for t in range(T):
            a = hs[t + 1]
            np.matmul(hs[t], w_hh_t, out=a)  # (N, H)
            a += proj[t]
            if self.nonlinearity == "tanh":
                np.tanh(a, out=a)
            else:
                np.maximum(a, 0.0, out=a)
        self._cache = dict(x=x, hs=hs, batched=batched, has_hx=hx is not None)
        h_n = hs[-1].reshape(self._state_shape(N, batched)).copy()
        return self._user_layout(hs[1:], batched), h_n

    def backward(self, grad_output, grad_h_n=None):
        """Back-propagate through time; add parameter gradients into ``grads``.

        Args:
            grad_output: gradient of the loss w.r.t. ``output``, same shape.
            grad_h_n: optional gradient w.r.t. ``h_n`` (1, N, H).

        Returns:
            ``grad_input`` (the input's shape), or ``(grad_input, grad_hx)`` if forward got hx.
        """
        cache = self._check_backward_ready()
        x, hs, batched = cache["x"], cache["hs"], cache["batched"]
        T, N, _ = x.shape
        g_out = self._time_major_grad(grad_output, "grad_output", batched, T, N)
        dh = self._final_grad(grad_h_n, "grad_h_n", batched, N)  # (N, H)
        w_hh = self._params["weight_hh_l0"]  # (H, H)
        d_pre = np.empty((T, N, self.hidden_size))  # gradient of each pre-activation
        for t in range(T - 1, -1, -1):
            dh += g_out[t]
            h = hs[t + 1]
            if self.nonlinearity == "tanh":
                np.multiply(dh, 1.0 - h * h, out=d_pre[t])
            else:
                np.multiply(dh, h > 0.0, out=d_pre[t])
            dh = d_pre[t] @ w_hh  # (N, H)
        grad_x = self._user_layout(self._accumulate(cache, d_pre, d_pre), batched)
        if not cache["has_hx"]:
            return grad_x
        return grad_x, dh.reshape(self._state_shape(N, batched))


class LSTM(_Recurrent):
    """Long short-term memory layer, as ``torch.nn.LSTM`` with one layer.

    With pre-activations a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh split into four blocks
    of size H in torch's order:

        i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)

    Args:
        input_size: I, features per time step.
        hidden_size: H, size of the hidden and cell states.
        num_layers: must be 1.
        bias: whether to learn ``bias_ih_l0`` and ``bias_hh_l0`` (4H,).
        batch_first: input and output are ``(N, T, *)`` instead of ``(T, N, *)``.
        dropout, bidirectional, proj_size: accepted for torch's signature; must be 0, False, 0.
        rng: None, an int seed or a Generator for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.

    After ``forward``, :attr:`gates` holds the per-step activations for inspection and plots.
    """

    _gate_count = 4

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, rng=None):
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) \
                or proj_size != 0:
            raise ValueError(f"proj_size must be 0 (the scratch LSTM has no projection), "
                             f"got {proj_size!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {**super()._config_from_torch(module), "proj_size": module.proj_size}

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """Per-step activations of the last forward, each (N, T, H) (N = 1 for unbatched input).

        Keys: ``"input"`` (i), ``"forget"`` (f), ``"candidate"`` (g, the proposed cell update),
        ``"output"`` (o) and ``"cell"`` (the cell state c_t after step t).
        """
        if self._cache is None:
            return {}
        acts, cs, H = self._cache["acts"], self._cache["cs"], self.hidden_size
        names = ("input", "forget", "candidate", "output")
        found = {name: self._batch_major(acts[:, :, k * H:(k + 1) * H])
                 for k, name in enumerate(names)}
        found["cell"] = self._batch_major(cs[1:])
        return found

    def forward(self, input, hx=None):
        """Run the layer over a sequence.

        Args:
            input: (T, N, I), or (N, T, I) if ``batch_first``, or unbatched (T, I).
            hx: optional tuple ``(h_0, c_0)``, each (1, N, H) (or (1, H)); zeros if None.

        Returns:
            ``(output, (h_n, c_n))``: every h_t, (T, N, H) / (N, T, H) / (T, H), and the final
            hidden and cell states, each (1, N, H).
        """
        x, batched = self._time_major_input(input)
        T, N, _ = x.shape
        H = self.hidden_size
        hs = np.empty((T + 1, N, H))  # h_0 .. h_T
        cs = np.empty((T + 1, N, H))  # c_0 .. c_T
        if hx is None:
            hs[0] = cs[0] = 0.0
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx must be a tuple (h_0, c_0) for LSTM, "
                                f"got {type(hx).__name__}")
            hs[0] = self._state(hx[0], "h_0", N, batched)
            cs[0] = self._state(hx[1], "c_0", N, batched)
        acts = self._input_projection(x, fold_hidden_bias=True)  # (T, N, 4H), activated in place
        tanh_c = np.empty((T, N, H))
        w_hh_t = self._params["weight_hh_l0"].T  # (H, 4H)
        # sigmoid(a) = (1 + tanh(a / 2)) / 2 cannot overflow, and lets one tanh call activate
        # all four gates: scale halves the sigmoid blocks (1 for g), shift adds 1/2 back
        scale = np.repeat([0.5, 0.5, 1.0, 0.5], H)  # (4H,)
        shift = np.repeat([0.5, 0.5, 0.0, 0.5], H)  # (4H,)
        recurrent = np.empty((N, 4 * H))
        candidate_in = np.empty((N, H))
        for t in range(T):
            a = acts[t]  # (N, 4H)
            np.matmul(hs[t], w_hh_t, out=recurrent)  # (N, H) @ (H, 4H)
            a += recurrent
            a *= scale
            np.tanh(a, out=a)
            a *= scale
            a += shift
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            np.multiply(i, g, out=candidate_in)
            c += candidate_in  # c_t = f * c_{t-1} + i * g
            np.tanh(c, out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=hs[t + 1])
        self._cache = dict(x=x, hs=hs, cs=cs, acts=acts, tanh_c=tanh_c, batched=batched,
                           has_hx=hx is not None)
        shape = self._state_shape(N, batched)
        h_n, c_n = hs[-1].reshape(shape).copy(), cs[-1].reshape(shape).copy()
        return self._user_layout(hs[1:], batched), (h_n, c_n)

    def backward(self, grad_output, grad_h_n=None, grad_c_n=None):
        """Back-propagate through time; add parameter gradients into ``grads``.

        Args:
            grad_output: gradient of the loss w.r.t. ``output``, same shape.
            grad_h_n, grad_c_n: optional gradients w.r.t. ``h_n`` and ``c_n``, each (1, N, H).

        Returns:
            ``grad_input`` (the input's shape), or ``(grad_input, (grad_h_0, grad_c_0))`` if
            forward got hx.
        """
        cache = self._check_backward_ready()
        x, cs, acts, tanh_c, batched = (cache[k] for k in ("x", "cs", "acts", "tanh_c", "batched"))
        T, N, _ = x.shape
        H = self.hidden_size
        g_out = self._time_major_grad(grad_output, "grad_output", batched, T, N)
        dh = self._final_grad(grad_h_n, "grad_h_n", batched, N)  # (N, H)
        dc = self._final_grad(grad_c_n, "grad_c_n", batched, N)  # (N, H)
        w_hh = self._params["weight_hh_l0"]  # (4H, H)
        d_pre = np.empty((T, N, 4 * H))  # gradient of each pre-activation a_t
        slope = np.empty((N, 4 * H))  # derivative of each gate's activation
        square = np.empty((N, 4 * H))
        through_tanh = np.empty((N, H))
        for t in range(T - 1, -1, -1):
            dh += g_out[t]
            a, tc, d = acts[t], tanh_c[t], d_pre[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            np.multiply(tc, tc, out=through_tanh)
            np.subtract(1.0, through_tanh, out=through_tanh)
            through_tanh *= o
            through_tanh *= dh
            dc += through_tanh  # dc_t += dh_t * o * (1 - tanh(c_t)^2)
            # gradient of each activation: di = dc g, df = dc c_{t-1}, dg = dc i, do = dh tanh(c_t)
            np.multiply(dc, g, out=d[:, :H])
            np.multiply(dc, cs[t], out=d[:, H:2 * H])
            np.multiply(dc, i, out=d[:, 2 * H:3 * H])
            np.multiply(dh, tc, out=d[:, 3 * H:])
            # times s (1 - s) for the sigmoid gates and 1 - g^2 for g
            np.multiply(a, a, out=square)
            np.subtract(a, square, out=slope)
            np.subtract(1.0, square[:, 2 * H:3 * H], out=slope[:, 2 * H:3 * H])
            d *= slope
            dc *= f
            dh = d @ w_hh  # (N, 4H) @ (4H, H)
        grad_x = self._user_layout(self._accumulate(cache, d_pre, d_pre), batched)
        if not cache["has_hx"]:
            return grad_x
        shape = self._state_shape(N, batched)
        return grad_x, (dh.reshape(shape), dc.reshape(shape))


class GRU(_Recurrent):
    """Gated recurrent unit layer, as ``torch.nn.GRU`` with one layer.

    With input projections x_t W_ih^T + b_ih = (x_r, x_z, x_n) and hidden projections
    h_{t-1} W_hh^T + b_hh = (h_r, h_z, h_n), in torch's order:

        r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z)
        n = tanh(x_n + r * h_n)          (the reset gate scales the whole hidden term, bias too)
        h_t = (1 - z) * n + z * h_{t-1}

    Args:
        input_size: I, features per time step.
        hidden_size: H, size of the hidden state.
        num_layers: must be 1.
        bias: whether to learn ``bias_ih_l0`` and ``bias_hh_l0`` (3H,).
        batch_first: input and output are ``(N, T, *)`` instead of ``(T, N, *)``.
        dropout, bidirectional: accepted for torch's signature; must be 0 and False.
        rng: None, an int seed or a Generator for the U(-1/sqrt(H), 1/sqrt(H)) initialisation.

    After ``forward``, :attr:`gates` holds the per-step activations for inspection and plots.
    """

    _gate_count = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng)

    @property
    def gates(self) -> dict[str, np.ndarray]:
        """Per-step activations of the last forward, each (N, T, H) (N = 1 for unbatched input).

        Keys: ``"reset"`` (r), ``"update"`` (z) and ``"new"`` (n, the candidate state).
        """
        if self._cache is None:
            return {}
        acts, H = self._cache["acts"], self.hidden_size
        return {name: self._batch_major(acts[:, :, k * H:(k + 1) * H])
                for k, name in enumerate(("reset", "update", "new"))}

    def forward(self, input, hx=None):
        """Run the layer over a sequence.

        Args:
            input: (T, N, I), or (N, T, I) if ``batch_first``, or unbatched (T, I).
            hx: optional h_0 (1, N, H) (or (1, H) unbatched); zeros if None.

        Returns:
            ``(output, h_n)``: every h_t, (T, N, H) / (N, T, H) / (T, H), and the last, (1, N, H).
        """
        x, batched = self._time_major_input(input)
        T, N, _ = x.shape
        H = self.hidden_size
        hs = np.empty((T + 1, N, H))  # h_0 .. h_T
        hs[0] = 0.0 if hx is None else self._state(hx, "hx", N, batched)
        acts = self._input_projection(x, fold_hidden_bias=False)  # (T, N, 3H), activated in place
        hidden = np.empty((T, N, 3 * H))  # h_{t-1} W_hh^T + b_hh; its n block is needed by backward
        w_hh_t = self._params["weight_hh_l0"].T  # (H, 3H)
        for t in range(T):
            a, hp = acts[t], hidden[t]  # (N, 3H)
            np.matmul(hs[t], w_hh_t, out=hp)  # (N, H) @ (H, 3H)
            if self.bias:
                hp += self._params["bias_hh_l0"]
            rz = a[:, :2 * H]
            rz += hp[:, :2 * H]
            # sigmoid(a) = (1 + tanh(a / 2)) / 2: one tanh call, and it cannot overflow
            rz *= 0.5
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            h = hs[t + 1]
            np.multiply(r, hp[:, 2 * H:], out=h)  # h as scratch space for r * h_n
            n += h
            np.tanh(n, out=n)
            np.subtract(hs[t], n, out=h)
            h *= z
            h += n  # h_t = n + z * (h_{t-1} - n)
        self._cache = dict(x=x, hs=hs, acts=acts, hidden=hidden, batched=batched,
                           has_hx=hx is not None)
        h_n = hs[-1].reshape(self._state_shape(N, batched)).copy()
        return self._user_layout(hs[1:], batched), h_n

    def backward(self, grad_output, grad_h_n=None):
        """Back-propagate through time; add parameter gradients into ``grads``.

        Args:
            grad_output: gradient of the loss w.r.t. ``output``, same shape.
            grad_h_n: optional gradient w.r.t. ``h_n`` (1, N, H).

        Returns:
            ``grad_input`` (the input's shape), or ``(grad_input, grad_hx)`` if forward got hx.
        """
        cache = self._check_backward_ready()
        x, hs, acts, hidden, batched = (cache[k] for k in ("x", "hs", "acts", "hidden", "batched"))
        T, N, _ = x.shape
        H = self.hidden_size
        g_out = self._time_major_grad(grad_output, "grad_output", batched, T, N)
        dh = self._final_grad(grad_h_n, "grad_h_n", batched, N)  # (N, H)
        w_hh = self._params["weight_hh_l0"]  # (3H, H)
        d_in = np.empty((T, N, 3 * H))  # gradient of x_t W_ih^T + b_ih
        d_hid = np.empty((T, N, 3 * H))  # gradient of h_{t-1} W_hh^T + b_hh
        slope = np.empty((N, 2 * H))  # s (1 - s) of the r and z gates
        tanh_slope = np.empty((N, H))
        for t in range(T - 1, -1, -1):
            dh += g_out[t]
            a, di, dhp = acts[t], d_in[t], d_hid[t]
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            dn = di[:, 2 * H:]
            np.multiply(n, n, out=tanh_slope)
            np.subtract(1.0, tanh_slope, out=tanh_slope)
            np.subtract(1.0, z, out=dn)
            dn *= dh
            dn *= tanh_slope  # dn = dh (1 - z) (1 - n^2), through the tanh
            np.multiply(dn, hidden[t, :, 2 * H:], out=di[:, :H])  # dr = dn h_n
            np.subtract(hs[t], n, out=di[:, H:2 * H])
            di[:, H:2 * H] *= dh  # dz = dh (h_{t-1} - n)
            np.multiply(a[:, :2 * H], a[:, :2 * H], out=slope)
            np.subtract(a[:, :2 * H], slope, out=slope)
            di[:, :2 * H] *= slope  # through the sigmoids
            dhp[:, :2 * H] = di[:, :2 * H]
            np.multiply(dn, r, out=dhp[:, 2 * H:])
            dh *= z
            dh += dhp @ w_hh  # (N, 3H) @ (3H, H)
        grad_x = self._user_layout(self._accumulate(cache, d_in, d_hid), batched)
        if not cache["has_hx"]:
            return grad_x
        return grad_x, dh.reshape(self._state_shape(N, batched))
