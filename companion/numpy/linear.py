"""Affine layer and reshaping: Linear (y = x W^T + b) and Flatten."""

from __future__ import annotations

import math

import numpy as np

from companion.core.checks import as_float_array, as_grad_output, as_rng, check_size, integer
from companion.core.checks import positive_int
from companion.core.shapes import flattened_shape
from companion.numpy.module import Module


class Linear(Module):
    """Affine map of the last axis, y = x W^T + b.

    Parameters follow torch: ``weight`` (out_features, in_features) and ``bias`` (out_features,),
    both initialised from U(-1/sqrt(in_features), 1/sqrt(in_features)).
    Gradients: dL/dx = g W, dL/dW = sum over rows g^T x, dL/db = sum over rows g.

    Args:
        in_features: size D_in of the last input axis (0 is allowed, as in torch: y = b).
        out_features: size D_out of the last output axis (0 allowed).
        bias: whether to add the learnable bias b.
        rng: None, an int seed or a ``numpy.random.Generator`` for the initialisation.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", allow_zero=True)
        self.out_features = positive_int(out_features, "out_features", allow_zero=True)
        rng = as_rng(rng)
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        self.add_param("weight", rng.uniform(-bound, bound, (self.out_features, self.in_features)))
        if bias:
            self.add_param("bias", rng.uniform(-bound, bound, self.out_features))
        self._x = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: (*, D_in). Returns y: (*, D_out)."""
        x = as_float_array(input, "input")
        if x.ndim == 0:
            raise ValueError(f"input must have at least 1 dimension (*, {self.in_features}), "
                             f"got a scalar")
        check_size(x, -1, self.in_features, "input", "in_features")
        self._x = x
        y = x @ self._params["weight"].T  # (*, D_in) @ (D_in, D_out) -> (*, D_out)
        if "bias" in self._params:
            y = y + self._params["bias"]
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy (*, D_out). Returns dL/dx (*, D_in); adds into dL/dW and dL/db."""
        shape = None if self._x is None else self._x.shape[:-1] + (self.out_features,)
        grad = as_grad_output(grad_output, shape, "Linear")
        rows = grad.reshape(-1, self.out_features)  # (M, D_out), M = prod(*)
        x_rows = self._x.reshape(-1, self.in_features)  # (M, D_in)
        self._grads["weight"] += rows.T @ x_rows  # (D_out, M) @ (M, D_in) -> (D_out, D_in)
        if "bias" in self._grads:
            self._grads["bias"] += rows.sum(axis=0)
        return grad @ self._params["weight"]  # (*, D_out) @ (D_out, D_in) -> (*, D_in)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"in_features": module.in_features, "out_features": module.out_features,
                "bias": module.bias is not None}

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={'bias' in self._params})")


class Flatten(Module):
    """Merge the axes ``start_dim`` to ``end_dim`` (inclusive) into one; backward un-merges.

    Args:
        start_dim: first axis to merge (default 1, keeping the batch axis N).
        end_dim: last axis to merge (default -1).
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = integer(start_dim, "start_dim")
        self.end_dim = integer(end_dim, "end_dim")
        self._shape = None

    def forward(self, input: np.ndarray) -> np.ndarray:
        """input: (d_0, ..., d_{k-1}). Returns an array with axes start_dim..end_dim merged."""
        x = as_float_array(input, "input")
        self._shape = x.shape
        return x.reshape(flattened_shape(x.shape, self.start_dim, self.end_dim))

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """grad_output: dL/dy, the flattened shape. Returns dL/dx in the input's shape."""
        if self._shape is None:
            raise RuntimeError("Flatten.backward was called before forward")
        grad = as_float_array(grad_output, "grad_output")
        if grad.size != math.prod(self._shape):
            raise ValueError(f"grad_output must have {math.prod(self._shape)} elements to "
                             f"un-flatten into {self._shape}, got shape {grad.shape}")
        return grad.reshape(self._shape)

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        return {"start_dim": module.start_dim, "end_dim": module.end_dim}
