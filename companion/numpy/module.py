"""The contract every scratch layer follows.

A :class:`Module` keeps its parameters in ``params`` and their gradients in ``grads``, two dicts
keyed by the names torch's ``named_parameters()`` gives, with torch's shapes. ``forward`` caches
what the backward pass needs; ``backward(grad_output)`` returns the gradient with respect to each
input and *adds* the parameter gradients into ``grads``. Accumulation is deliberate (it is what
lets a layer be used twice in one graph) and explicit: call :meth:`zero_grad` before each step.
"""

from __future__ import annotations

import numpy as np


class Module:
    """Base class of the scratch layers: parameters, gradients, children and modes."""

    def __init__(self):
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._children: dict[str, Module] = {}
        self.training = True

    # -- registration -------------------------------------------------------------------------
    def add_param(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register a parameter (as float64) and a zero gradient of the same shape."""
        self._params[name] = np.array(value, dtype=np.float64)
        self._grads[name] = np.zeros_like(self._params[name])
        return self._params[name]

    def add_buffer(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register state that is saved and loaded but not trained (e.g. running statistics)."""
        self._buffers[name] = np.array(value)
        return self._buffers[name]

    def add_module(self, name: str, module: Module) -> Module:
        """Register a child layer; its parameters appear as ``f"{name}.{param}"``."""
        if not isinstance(module, Module):
            raise TypeError(f"module {name!r} must be a companion.numpy Module, "
                            f"got {type(module).__name__}")
        self._children[name] = module
        return module

    # -- views ---------------------------------------------------------------------------------
    def _collect(self, attribute: str) -> dict[str, np.ndarray]:
        found = dict(getattr(self, attribute))
        for child_name, child in self._children.items():
            for name, value in child._collect(attribute).items():
                found[f"{child_name}.{name}"] = value
        return found

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Parameters of this layer and its children, keyed by torch's names."""
        return self._collect("_params")

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Accumulated gradients, with the same keys and shapes as :attr:`params`."""
        return self._collect("_grads")

    @property
    def buffers(self) -> dict[str, np.ndarray]:
        """Non-trainable state (running statistics), keyed by torch's buffer names."""
        return self._collect("_buffers")

    def parameters(self) -> list[np.ndarray]:
        """The parameter arrays, in the order an optimiser expects."""
        return list(self.params.values())

    def gradients(self) -> list[np.ndarray]:
        """The gradient arrays, in the same order as :meth:`parameters`."""
        return list(self.grads.values())

    # -- behaviour -----------------------------------------------------------------------------
    def __call__(self, *inputs, **kwargs):
        return self.forward(*inputs, **kwargs)

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def zero_grad(self) -> None:
        """Reset every accumulated gradient to zero, in place."""
        for grad in self.grads.values():
            grad.fill(0.0)

    def train(self, mode: bool = True) -> Module:
        """Switch training mode on (dropout active, batch statistics used) or off."""
        self.training = bool(mode)
        for child in self._children.values():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (same as ``train(False)``)."""
        return self.train(False)

    # -- weights in and out --------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed as torch's ``state_dict()``."""
        state = {name: value.copy() for name, value in self.params.items()}
        state.update({name: value.copy() for name, value in self.buffers.items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Copy ``state`` into this layer after checking that names and shapes match exactly."""
        own = {**self.params, **self.buffers}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"state for {type(self).__name__} does not match: "
                             f"missing keys {missing}, unexpected keys {unexpected}")
        for name, target in own.items():
            value = np.asarray(state[name])
            if value.shape != target.shape:
                raise ValueError(f"state[{name!r}] must have shape {target.shape}, "
                                 f"got {value.shape}")
            target[...] = value

    @classmethod
    def from_torch(cls, module) -> Module:
        """Build the scratch twin of a torch module and copy its weights as float64.

        Torch is never imported here: ``module`` is only asked for its configuration (by the
        subclass's :meth:`_config_from_torch`) and its ``state_dict()``.
        """
        layer = cls(**cls._config_from_torch(module))
        state = {name: tensor.detach().cpu().numpy() for name, tensor in
                 module.state_dict().items()}
        layer.load_state_dict(state)
        layer.train(module.training)
        return layer

    @classmethod
    def _config_from_torch(cls, module) -> dict:
        """Constructor arguments that rebuild ``module``'s configuration (per subclass)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from a torch module")

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}={tuple(value.shape)}" for name, value in self._params.items())
        return f"{type(self).__name__}({shapes})"
