"""One parity harness: a layer or function of ours against its torch twin, in float64.

:func:`check_parity` feeds the same inputs to both sides and compares every output; it then
back-propagates the same *random* upstream gradient through both (the gradient of ``sum()``
through a softmax or a normalisation is zero and would prove nothing) and compares the gradient
of every float input and of every parameter, name by name. It returns a :class:`Report` of the
largest differences, which chapters print, and raises ``AssertionError`` showing that report when
a quantity is outside its tolerance (forward and gradients have separate ones).
:func:`check_rejects` checks that both sides refuse the same bad input.

``ours`` may be a ``companion.numpy`` module (:class:`Scratch`: ``forward``, ``backward`` and
``grads``), a torch module or function such as one of ``companion.torch`` (:class:`Torch`:
autograd), or a NumPy function with its hand-written gradient (:class:`Function`). ``theirs`` is
torch's module or function. Modules are wrapped automatically; wrap a side yourself to change how
it is called. Both halves keep torch's parameter names and layouts, so :func:`copy_weights` copies
torch's weights into ours by name, and :func:`twins` builds a pair holding the same random weights.

Inputs: positional float arrays are differentiated, also inside a tuple such as an LSTM's
``(h_0, c_0)``; integer and bool arrays (indices, masks) are passed as they are. ``kwargs`` are
constants for both sides (targets, masks, flags); arrays among them reach torch as tensors.
Ours runs first, so a torch reference may read what ours drew (a dropout mask).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["check_parity", "check_rejects", "Report", "Scratch", "Torch", "Function",
           "copy_weights", "twins", "random_array", "assert_close", "to_torch"]

RTOL, ATOL = 1e-7, 1e-10


def random_array(shape, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """A float64 array of normal values with standard deviation ``scale``, reproducible."""
    return np.asarray(scale * np.random.default_rng(seed).standard_normal(shape))


def to_torch(value, requires_grad: bool = False):
    """NumPy to torch, recursively through tuples: float arrays become float64 tensors (leaves
    that need a gradient when ``requires_grad``), other arrays keep their dtype."""
    if isinstance(value, (tuple, list)):
        return type(value)(to_torch(item, requires_grad) for item in value)
    if not isinstance(value, (np.ndarray, np.generic)):
        return value
    if np.issubdtype(value.dtype, np.floating):
        return torch.tensor(value, dtype=torch.float64, requires_grad=requires_grad)
    return torch.as_tensor(value)


def _numpy(value):
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


def _flat(value) -> list:
    """The leaves of nested tuples and lists, in order: ``(out, (h, c))`` -> ``[out, h, c]``."""
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _flat(item)]
    return [value]


def assert_close(ours, theirs, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    """``np.testing.assert_allclose`` that accepts torch tensors and names what it compares."""
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=rtol, atol=atol, err_msg=what)


class Report:
    """The largest ``|ours - torch|`` of each compared quantity, and whether it is in tolerance.

    ``report["grad weight"]`` is one difference, ``report.worst`` the largest; ``repr`` is a table.
    """

    def __init__(self):
        self.rows: dict[str, tuple[float, bool, float, float]] = {}

    def add(self, name: str, ours, theirs, rtol: float, atol: float) -> None:
        """Compare one quantity (same shape required; NaN equals NaN, as in assert_allclose)."""
        a, b = _numpy(ours), _numpy(theirs)
        if a is None or b is None:
            if a is not None or b is not None:
                raise AssertionError(f"{name}: ours is {type(a).__name__}, torch's is "
                                     f"{type(b).__name__}")
            return
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise AssertionError(f"{name}: ours has shape {a.shape}, torch's {b.shape}")
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        diff = np.nan_to_num(np.where(same, 0.0, np.abs(a - b)), nan=np.inf)
        ok = bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
        self.rows[name] = (float(diff.max()) if diff.size else 0.0, ok, rtol, atol)

    @property
    def diffs(self) -> dict[str, float]:
        return {name: row[0] for name, row in self.rows.items()}

    @property
    def worst(self) -> float:
        return max(self.diffs.values(), default=0.0)

    @property
    def failed(self) -> list[str]:
        return [name for name, row in self.rows.items() if not row[1]]

    def __getitem__(self, name: str) -> float:
        return self.rows[name][0]

    def __contains__(self, name: str) -> bool:
        return name in self.rows

    def __repr__(self) -> str:
        width = max([len(name) for name in self.rows] + [8])
        lines = [f"{'quantity':<{width}}  max |ours - torch|  tolerance"]
        for name, (diff, ok, rtol, atol) in self.rows.items():
            verdict = "ok" if ok else "FAILS"
            lines.append(f"{name:<{width}}  {diff:>18.1e}  {verdict} (rtol {rtol:.0e}, "
                         f"atol {atol:.0e})")
        return "\n".join(lines)

    def check(self) -> Report:
        """Raise ``AssertionError`` naming the quantities out of tolerance; else return self."""
        if self.failed:
            raise AssertionError(f"ours and torch differ in {', '.join(self.failed)}:\n{self!r}")
        return self


class Torch:
    """A torch module or function, differentiated by autograd (``torch.nn`` or ``companion.torch``).

    call: ``call(fn, *inputs, **kwargs)`` runs it; default ``fn(*inputs, **kwargs)``.
    """

    def __init__(self, fn, call=None):
        self.fn, self.call = fn, call or (lambda fn, *xs, **kw: fn(*xs, **kw))

    def forward(self, inputs: tuple, kwargs: dict) -> list:
        if isinstance(self.fn, nn.Module):
            self.fn.double().zero_grad(set_to_none=True)  # a fresh gradient, not an added one
        self.inputs = to_torch(inputs, requires_grad=True)
        constants = {name: to_torch(value) for name, value in kwargs.items()}
        return _flat(self.call(self.fn, *self.inputs, **constants))

    def backward(self, outputs: list, upstream: dict) -> list:
        """Input gradients (zeros where autograd left none) after back-propagating ``upstream``."""
        if upstream:
            torch.autograd.backward([outputs[i] for i in upstream],
                                    [torch.tensor(g) for g in upstream.values()])
        leaves = [x for x in _flat(self.inputs) if isinstance(x, torch.Tensor) and x.requires_grad]
        return [torch.zeros_like(x) if x.grad is None else x.grad for x in leaves]

    def param_grads(self) -> dict:
        if not isinstance(self.fn, nn.Module):
            return {}
        return {name: torch.zeros_like(p) if p.grad is None else p.grad
                for name, p in self.fn.named_parameters()}


class Scratch:
    """A ``companion.numpy`` module: ``forward``, then ``backward(*upstream)`` returns the input
    gradients (nested tuples are flattened, ``None`` means none) and fills ``grads``.

    call: ``call(module, *inputs, **kwargs)`` runs the forward pass (default ``module.forward``).
    backward: ``backward(module, *upstream)`` gives the input gradients (default
    ``module.backward``).
    """

    def __init__(self, module, call=None, backward=None):
        self.module = module
        self.call = call or (lambda m, *xs, **kw: m.forward(*xs, **kw))
        self.grad = backward or (lambda m, *upstream: m.backward(*upstream))

    def forward(self, inputs: tuple, kwargs: dict) -> list:
        self.module.zero_grad()
        return _flat(self.call(self.module, *inputs, **kwargs))

    def backward(self, outputs: list, upstream: dict) -> list:
        grads = _flat(self.grad(self.module, *upstream.values()))
        return [g for g in grads if g is not None]

    def param_grads(self) -> dict:
        return dict(self.module.grads)


class Function:
    """A NumPy function and, optionally, its hand-written gradient.

    grad: ``grad(upstream, inputs, output, **kwargs)`` returns the gradient of each float input,
    given the list of upstream gradients, the inputs and what ``fn`` returned.
    """

    def __init__(self, fn, grad=None):
        self.fn, self.grad = fn, grad

    def forward(self, inputs: tuple, kwargs: dict) -> list:
        self.inputs, self.kwargs = inputs, kwargs
        self.output = self.fn(*inputs, **kwargs)
        return _flat(self.output)

    def backward(self, outputs: list, upstream: dict) -> list:
        if self.grad is None:
            raise TypeError("this Function has no grad: pass grad=, or backward=False to "
                            "check_parity")
        return _flat(self.grad(list(upstream.values()), self.inputs, self.output, **self.kwargs))

    def param_grads(self) -> dict:
        return {}


def _side(side):
    if isinstance(side, (Torch, Scratch, Function)):
        return side
    is_scratch = not isinstance(side, nn.Module) and hasattr(side, "backward")
    return Scratch(side) if is_scratch else Torch(side)


def _names(kind: str, count: int) -> list[str]:
    return [kind] if count == 1 else [f"{kind} {i}" for i in range(count)]


def check_parity(ours, theirs, *inputs, kwargs: dict | None = None, backward: bool = True,
                 grad_outputs: int | None = None, seed: int = 1, rtol: float = RTOL,
                 atol: float = ATOL, grad_rtol: float = RTOL, grad_atol: float = ATOL) -> Report:
    """Outputs, input gradients and parameter gradients of ``ours`` and ``theirs`` agree.

    Args:
        ours, theirs: the two sides (see the module docstring); ours runs first.
        inputs: positional inputs, NumPy arrays (float ones are differentiated) or tuples of them.
        kwargs: constant keyword arguments for both sides.
        backward: compare gradients too (False: outputs only).
        grad_outputs: only the first ``grad_outputs`` outputs receive an upstream gradient
            (default: every float output torch can differentiate).
        seed: seed of the random upstream gradients, one N(0, 1) array per output.
        rtol, atol: tolerance of the outputs; grad_rtol, grad_atol: of every gradient.

    Returns:
        The :class:`Report`, rows "output", "grad input", "grad <parameter>" (numbered when there
        are several outputs or float inputs).

    Raises:
        AssertionError: a quantity is out of tolerance, shapes or parameter names differ, or the
            two sides return different numbers of outputs or input gradients.
    """
    ours, theirs, kwargs = _side(ours), _side(theirs), kwargs or {}
    out = ours.forward(inputs, kwargs)
    out_t = theirs.forward(inputs, kwargs)
    if len(out) != len(out_t):
        raise AssertionError(f"ours returned {len(out)} outputs, torch {len(out_t)}")
    report = Report()
    for name, a, b in zip(_names("output", len(out)), out, out_t):
        report.add(name, a, b, rtol, atol)
    if backward:
        rng = np.random.default_rng(seed)
        last = len(out_t) if grad_outputs is None else grad_outputs
        upstream = {i: rng.standard_normal(tuple(t.shape)) for i, t in enumerate(out_t[:last])
                    if isinstance(t, torch.Tensor) and t.requires_grad}
        grads, grads_t = ours.backward(out, upstream), theirs.backward(out_t, upstream)
        if len(grads) != len(grads_t):
            raise AssertionError(f"ours returned {len(grads)} input gradients, torch "
                                 f"{len(grads_t)}")
        for name, a, b in zip(_names("grad input", len(grads)), grads, grads_t):
            report.add(name, a, b, grad_rtol, grad_atol)
        params, params_t = ours.param_grads(), theirs.param_grads()
        if set(params) != set(params_t):
            raise AssertionError(f"parameter names differ: ours {sorted(params)}, torch's "
                                 f"{sorted(params_t)}")
        for name in params_t:
            report.add(f"grad {name}", params[name], params_t[name], grad_rtol, grad_atol)
    return report.check()


def check_rejects(ours, theirs, *inputs, kwargs: dict | None = None,
                  errors: tuple = (ValueError, TypeError)) -> tuple[Exception, Exception]:
    """Both sides refuse the same bad input: torch with any exception, ours with one of
    ``errors``. Returns (our error, torch's error) for further checks of the messages."""
    raised = []
    for side, who in ((ours, "ours"), (theirs, "torch")):
        try:
            _side(side).forward(inputs, kwargs or {})
        except Exception as error:  # noqa: BLE001 - any refusal counts; its type is checked below
            raised.append(error)
        else:
            raise AssertionError(f"{who} accepted an input that the other side may refuse")
    if not isinstance(raised[0], errors):
        raise AssertionError(f"ours raised {type(raised[0]).__name__} ({raised[0]}), expected "
                             f"one of {[e.__name__ for e in errors]}")
    return raised[0], raised[1]


def copy_weights(source: nn.Module, target) -> None:
    """Copy a torch module's parameters and buffers into ``target`` by name.

    ``target`` is a ``companion.numpy`` module (which stores them as float64) or a torch module
    (moved to float64); either refuses missing, unexpected or misshapen names.
    """
    if isinstance(target, nn.Module):
        target.double().load_state_dict(source.state_dict(), strict=True)
    else:
        target.load_state_dict({name: _numpy(value) for name, value in
                                source.state_dict().items()})


def twins(ours_cls, theirs_cls, *args, seed: int = 0, randomize: bool = True, **kwargs):
    """``(ours, theirs)`` built with the same arguments, holding torch's weights, in float64.

    randomize: first draw every torch parameter from N(0, 0.5^2), so that biases initialised to
    zero (or ones) are random and non-zero.
    """
    torch.manual_seed(seed)
    theirs = theirs_cls(*args, **kwargs).double()
    if randomize:
        with torch.no_grad():
            for p in theirs.parameters():
                p.copy_(torch.randn_like(p) * 0.5)
    ours = ours_cls(*args, **kwargs)
    copy_weights(theirs, ours)
    return ours, theirs
