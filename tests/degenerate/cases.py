"""Degenerate inputs for every layer and loss, run like PyTorch's own samples.

Each case is a constructor call and a forward call of a ``torch.nn`` class; the conformance
classifier (:mod:`tests.conformance.classify`) runs it through ``torch.nn`` and through the twins of
``companion.numpy`` and ``companion.torch`` and returns MATCH, REFUSED CLEARLY, CRASHED OPAQUELY
or SILENTLY WRONG. NaN positions must agree exactly (NaN equals NaN), infinities too.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from tests.conformance.classify import run_module_sample

NAN, INF = float("nan"), float("inf")


def tensor(shape, seed=0, scale=1.0, special=None, dtype=torch.float64):
    """A random tensor; ``special`` writes NaN/inf values into its first elements."""
    values = scale * np.random.default_rng(seed).standard_normal(shape)
    flat = values.reshape(-1)
    for k, value in enumerate(special or ()):
        if k < flat.size:
            flat[k * 7 % flat.size] = value
    return torch.tensor(values, dtype=dtype, requires_grad=dtype.is_floating_point)


def indices(shape, high, seed=0, fill=None):
    values = np.random.default_rng(seed).integers(0, high, shape)
    if fill is not None:
        values[...] = fill
    return torch.tensor(values)


def case(cls, args=(), kwargs=None, inputs=(), forward_kwargs=None, training=True):
    sample = SimpleNamespace(
        constructor_input=SimpleNamespace(args=tuple(args), kwargs=kwargs or {}),
        forward_input=SimpleNamespace(args=tuple(inputs), kwargs=forward_kwargs or {}))
    return SimpleNamespace(info=SimpleNamespace(module_cls=cls), sample=sample, training=training)


def verdicts(c) -> dict[str, tuple[str, str]]:
    """{half: (verdict, detail)} for one case."""
    return {half: run_module_sample(half, c.info, c.sample, c.training)
            for half in ("numpy", "torch")}


SPECIALS = {"nan": [NAN], "inf": [INF, -INF], "nan and inf": [NAN, INF, -INF]}


def value_cases():
    """(name, case) with NaN, +-inf and +-1e4 entries in the float input of every layer."""
    nn = torch.nn
    layers = [  # (name, class, constructor args, input shape, kwargs)
        ("Linear", nn.Linear, (4, 3), (2, 4), {}),
        ("Conv2d", nn.Conv2d, (2, 3, 3), (2, 2, 5, 5), {"padding": 1}),
        ("MaxPool2d", nn.MaxPool2d, (2,), (2, 2, 4, 4), {}),
        ("AvgPool2d", nn.AvgPool2d, (2,), (2, 2, 4, 4), {}),
        ("RNN", nn.RNN, (3, 4), (5, 2, 3), {}),
        ("LSTM", nn.LSTM, (3, 4), (5, 2, 3), {}),
        ("GRU", nn.GRU, (3, 4), (5, 2, 3), {}),
        ("BatchNorm1d", nn.BatchNorm1d, (3,), (4, 3), {}),
        ("BatchNorm2d", nn.BatchNorm2d, (2,), (2, 2, 3, 3), {}),
        ("LayerNorm", nn.LayerNorm, (4,), (3, 4), {}),
        ("ReLU", nn.ReLU, (), (3, 4), {}),
        ("Sigmoid", nn.Sigmoid, (), (3, 4), {}),
        ("Tanh", nn.Tanh, (), (3, 4), {}),
        ("GELU", nn.GELU, (), (3, 4), {}),
        ("Softmax", nn.Softmax, (1,), (3, 4), {}),
        ("LogSoftmax", nn.LogSoftmax, (1,), (3, 4), {}),
        ("Flatten", nn.Flatten, (), (2, 3, 2), {}),
        ("Dropout", nn.Dropout, (0.0,), (3, 4), {}),
        ("MultiheadAttention", nn.MultiheadAttention, (4, 2), (3, 2, 4), {}),
    ]
    for name, cls, args, shape, kwargs in layers:
        for label, special in [*SPECIALS.items(), ("1e4", None)]:
            x = tensor(shape, special=special, scale=1e4 if special is None else 1.0)
            inputs = (x, x, x) if name == "MultiheadAttention" else (x,)
            for training in (True, False):
                yield f"{name} {label} {'train' if training else 'eval'}", case(
                    cls, args, kwargs, inputs, training=training)
    losses = [
        ("MSELoss", nn.MSELoss, (3, 4), lambda: tensor((3, 4), 1)),
        ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss, (3, 4),
         lambda: torch.tensor(np.random.default_rng(1).random((3, 4)))),
        ("CrossEntropyLoss", nn.CrossEntropyLoss, (3, 4), lambda: indices((3,), 4)),
        ("NLLLoss", nn.NLLLoss, (3, 4), lambda: indices((3,), 4)),
    ]
    for name, cls, shape, target in losses:
        for label, special in [*SPECIALS.items(), ("1e4", None)]:
            x = tensor(shape, special=special, scale=1e4 if special is None else 1.0)
            for reduction in ("mean", "sum", "none"):
                yield f"{name} {label} {reduction}", case(cls, (), {"reduction": reduction},
                                                         (x, target()))


def shape_cases():
    """Empty batches, size-1 axes and 0-d inputs, wherever torch accepts them."""
    nn = torch.nn
    shapes = [
        ("Linear", nn.Linear, (4, 3), [(0, 4), (1, 4), (4,), (1, 1, 4)]),
        ("Conv2d", nn.Conv2d, (2, 3, 1), [(0, 2, 3, 3), (1, 2, 1, 1), (2, 1, 1)]),
        ("MaxPool2d", nn.MaxPool2d, (1,), [(0, 2, 3, 3), (1, 1, 1, 1)]),
        ("AvgPool2d", nn.AvgPool2d, (1,), [(0, 2, 3, 3), (1, 1, 1, 1)]),
        ("RNN", nn.RNN, (3, 4), [(1, 1, 3), (1, 3), (4, 0, 3)]),
        ("LSTM", nn.LSTM, (3, 4), [(1, 1, 3), (1, 3), (4, 0, 3)]),
        ("GRU", nn.GRU, (3, 4), [(1, 1, 3), (1, 3), (4, 0, 3)]),
        ("BatchNorm1d", nn.BatchNorm1d, (3,), [(0, 3), (2, 3, 1)]),
        ("LayerNorm", nn.LayerNorm, (1,), [(0, 1), (1, 1), (1,)]),
        ("ReLU", nn.ReLU, (), [(), (0, 3), (1,)]),
        ("Sigmoid", nn.Sigmoid, (), [(), (0, 3)]),
        ("Tanh", nn.Tanh, (), [(), (0, 3)]),
        ("GELU", nn.GELU, (), [(), (0, 3)]),
        ("Softmax", nn.Softmax, (0,), [(), (1,), (0, 3)]),
        ("LogSoftmax", nn.LogSoftmax, (-1,), [(), (1,), (3, 0)]),
        ("Flatten", nn.Flatten, (), [(0, 2, 3), (1, 1)]),
        ("MultiheadAttention", nn.MultiheadAttention, (4, 2), [(1, 1, 4), (0, 1, 4), (1, 0, 4)]),
    ]
    for name, cls, args, input_shapes in shapes:
        for shape in input_shapes:
            x = tensor(shape)
            inputs = (x, x, x) if name == "MultiheadAttention" else (x,)
            yield f"{name} {shape}", case(cls, args, {}, inputs)
    for name, cls in (("MSELoss", nn.MSELoss), ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss)):
        for shape in [(), (0,), (0, 3), (1, 1)]:
            for reduction in ("mean", "sum", "none"):
                target = torch.tensor(np.random.default_rng(1).random(shape))
                yield f"{name} {shape} {reduction}", case(cls, (), {"reduction": reduction},
                                                          (tensor(shape), target))
    for name, cls in (("CrossEntropyLoss", nn.CrossEntropyLoss), ("NLLLoss", nn.NLLLoss)):
        for shape, target in [((0, 3), indices((0,), 3)), ((3,), indices((), 3)),
                              ((1, 1), indices((1,), 1)), ((2, 3, 0), indices((2, 0), 3))]:
            for reduction in ("mean", "sum", "none"):
                yield f"{name} {shape} {reduction}", case(cls, (), {"reduction": reduction},
                                                          (tensor(shape), target))


def ignored_cases():
    """Losses where every target is ignored: torch's loss (nan for a mean) and zero gradients."""
    nn = torch.nn
    for name, cls in (("CrossEntropyLoss", nn.CrossEntropyLoss), ("NLLLoss", nn.NLLLoss)):
        for extra in ({}, {"weight": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)},
                      {"label_smoothing": 0.1}):
            if name == "NLLLoss" and "label_smoothing" in extra:
                continue
            for reduction in ("mean", "sum", "none"):
                kwargs = {"ignore_index": 1, "reduction": reduction, **extra}
                yield f"{name} all ignored {extra} {reduction}", case(
                    cls, (), kwargs, (tensor((4, 3)), indices((4,), 3, fill=1)))
                yield f"{name} all ignored 2d {extra} {reduction}", case(
                    cls, (), kwargs, (tensor((2, 3, 2)), indices((2, 2), 3, fill=1)))
