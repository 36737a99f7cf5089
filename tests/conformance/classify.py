"""PyTorch's own test specifications, run against both halves of the package and classified.

For every module of ``torch.testing._internal.common_modules.module_db`` that has a twin of the
same name in ``companion.numpy`` and in ``companion.torch``, every sample input torch's own tests
use (in training mode, and in evaluation mode too where the ModuleInfo says the two differ) is
run through ``torch.nn`` and through each twin, in float64, with torch's weights (drawn afresh
from N(0, 0.5^2), so no bias is zero) copied into the twin. Outputs, buffers after the forward
pass (running statistics), input gradients and parameter gradients under a random upstream
gradient are compared with :mod:`companion.parity`. A loss is differentiated with respect to
its input only: the target is a constant, as in training.

The optimisers of ``companion.numpy.optim`` run every keyword variant of
``common_optimizers.optim_db`` for 20 steps beside ``torch.optim``; the schedulers run 50
epochs beside ``torch.optim.lr_scheduler``.

Each sample gets one verdict:

* MATCH: every compared quantity agrees (rtol 1e-7, atol 1e-10).
* REFUSED CLEARLY: the twin raised ``ValueError``/``TypeError`` whose message names one of the
  arguments or values the sample used (an unsupported feature, said so).
* CRASHED OPAQUELY: any other exception, e.g. an ``IndexError`` deep inside NumPy.
* SILENTLY WRONG: it ran, and some number, shape or parameter name differs.
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
import json
import re
import warnings
from pathlib import Path

import numpy as np
import torch

import companion.numpy as cnp
import companion.numpy.lr_scheduler as cnp_schedulers
import companion.numpy.optim as cnp_optim
import companion.torch as ctorch
from companion.parity import RTOL, ATOL, Report, Scratch, Torch

MATCH, REFUSED, CRASHED, SILENT = ("MATCH", "REFUSED CLEARLY", "CRASHED OPAQUELY",
                                   "SILENTLY WRONG")
VERDICTS = (MATCH, REFUSED, CRASHED, SILENT)
HALVES = {"numpy": cnp, "torch": ctorch}
GRAD_OUTPUTS = {"MultiheadAttention": 1}  # the twins back-propagate the attention output only
STEPS, EPOCHS = 20, 50


@dataclasses.dataclass
class Case:
    """One sample of one specification, run against one half of the package."""

    kind: str  # "module", "optimizer" or "scheduler"
    name: str  # the class name, e.g. "LSTM"
    half: str  # "numpy" or "torch"
    desc: str  # the sample: constructor arguments, input shapes, mode
    verdict: str
    detail: str = ""


# -- helpers ----------------------------------------------------------------------------------

def to_numpy(value):
    """Tensors (inside tuples too) as NumPy arrays; float ones as float64 copies."""
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(item) for item in value)
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().numpy().copy()
        return array.astype(np.float64) if array.dtype.kind == "f" else array
    return value


def describe(value) -> str:
    """A short text for a sample's argument: tensors by shape and dtype."""
    if isinstance(value, torch.Tensor):
        kind = "" if value.dtype == torch.float64 else f" {str(value.dtype)[6:]}"
        return f"T{tuple(value.shape)}{kind}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(item) for item in value) + ")"
    return repr(value)


def named_things(*sources) -> set[str]:
    """Argument names and string values a clear refusal may name."""
    names = {"input", "target"}
    for source in sources:
        if isinstance(source, dict):
            names |= set(source)
            names |= {value for value in source.values() if isinstance(value, str)}
        elif callable(source):
            try:
                names |= set(inspect.signature(source).parameters) - {"self", "args", "kwargs"}
            except (TypeError, ValueError):
                pass
    return names


def classify_error(error: Exception, names: set[str]) -> tuple[str, str]:
    """REFUSED CLEARLY if a ValueError/TypeError names an argument or value, else CRASHED."""
    message = f"{type(error).__name__}: {error}"
    if isinstance(error, (ValueError, TypeError)) and any(
            re.search(rf"\b{re.escape(name)}\b", str(error)) for name in names):
        return REFUSED, message
    return CRASHED, message


# -- modules ----------------------------------------------------------------------------------

def twin_module_infos() -> list:
    """The ModuleInfos of torch.nn classes with a twin in both halves, in module_db's order."""
    from torch.testing._internal.common_modules import module_db
    both = set(cnp.__all__) & set(ctorch.__all__)
    return [info for info in module_db if info.module_cls.__name__ in both]


def module_samples(info) -> list[tuple[bool, object]]:
    """(training, sample) pairs: training mode, and evaluation too where the two differ."""
    pairs = []
    for training in ((True, False) if info.train_and_eval_differ else (True,)):
        torch.manual_seed(0)  # the samples' random tensors
        for sample in info.module_inputs_func(info, device="cpu", dtype=torch.float64,
                                              requires_grad=True, training=training):
            pairs.append((training, sample))
    return pairs


def _reference(info, sample, training: bool) -> torch.nn.Module:
    args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
    torch.manual_seed(0)
    module = info.module_cls(*args, **kwargs).double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return module.train(training)


def run_module_sample(half: str, info, sample, training: bool) -> tuple[str, str]:
    """The verdict of one sample of one module against one half."""
    name = info.module_cls.__name__
    cls = getattr(HALVES[half], name)
    args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
    f_args, f_kwargs = sample.forward_input.args, sample.forward_input.kwargs
    names = named_things(kwargs, f_kwargs, cls.__init__, cls.forward)
    convert = to_numpy if half == "numpy" else (lambda v: v)
    reference = _reference(info, sample, training)
    try:
        twin = cls(*convert(args), **{k: convert(v) for k, v in kwargs.items()})
    except Exception as error:  # noqa: BLE001 - every exception is classified
        return classify_error(error, names)
    state = reference.state_dict()
    try:
        if half == "numpy":
            twin.load_state_dict({k: to_numpy(v) for k, v in state.items()})
        else:
            twin.double().load_state_dict(state)
    except Exception as error:  # noqa: BLE001
        return CRASHED, f"weights do not copy: {type(error).__name__}: {error}"
    twin.train(training)

    if "input" in f_kwargs:  # passed by name: check the name, then differentiate it as the rest
        if "input" not in inspect.signature(cls.forward).parameters:
            return REFUSED, f"{name}.forward has no argument named input"
        f_args = (f_kwargs["input"], *f_args)
        f_kwargs = {k: v for k, v in f_kwargs.items() if k != "input"}
    inputs = to_numpy(tuple(f_args))
    constants = {k: to_numpy(v) for k, v in f_kwargs.items()}
    if name.endswith("Loss"):  # the target is a constant: differentiate the input only
        inputs, constants = inputs[:1], {"target": inputs[1], **constants}
    ours = Scratch(twin) if half == "numpy" else Torch(twin)
    theirs = Torch(reference)
    try:
        out = ours.forward(inputs, constants)
    except Exception as error:  # noqa: BLE001
        return classify_error(error, names)
    out_t = theirs.forward(inputs, constants)
    report = Report()
    try:
        if len(out) != len(out_t):
            return SILENT, f"{len(out)} outputs, torch {len(out_t)}"
        for k, (a, b) in enumerate(zip(out, out_t)):
            report.add(f"output {k}", a, b, RTOL, ATOL)
        buffers = twin.buffers if half == "numpy" else dict(twin.named_buffers())
        for key, value in reference.named_buffers():
            report.add(f"buffer {key}", buffers[key], value, RTOL, ATOL)
    except AssertionError as error:  # a shape or kind differs
        return SILENT, str(error)

    rng = np.random.default_rng(1)
    last = GRAD_OUTPUTS.get(name, len(out_t))
    upstream = {k: rng.standard_normal(tuple(t.shape)) for k, t in enumerate(out_t[:last])
                if isinstance(t, torch.Tensor) and t.requires_grad}
    try:
        grads = ours.backward(out, upstream)
    except Exception as error:  # noqa: BLE001
        return classify_error(error, names)
    grads_t = theirs.backward(out_t, upstream)
    try:
        if len(grads) != len(grads_t):
            return SILENT, f"{len(grads)} input gradients, torch {len(grads_t)}"
        for k, (a, b) in enumerate(zip(grads, grads_t)):
            report.add(f"grad input {k}", a, b, RTOL, ATOL)
        params, params_t = ours.param_grads(), theirs.param_grads()
        if set(params) != set(params_t):
            return SILENT, f"parameters {sorted(params)}, torch {sorted(params_t)}"
        for key in params_t:
            report.add(f"grad {key}", params[key], params_t[key], RTOL, ATOL)
    except AssertionError as error:
        return SILENT, str(error)
    if report.failed:
        return SILENT, repr(report)
    return MATCH, ""


def module_cases(infos=None) -> list[Case]:
    """Every sample of every module (or of ``infos``) against both halves."""
    cases = []
    for info in twin_module_infos() if infos is None else infos:
        for training, sample in module_samples(info):
            ci, fi = sample.constructor_input, sample.forward_input
            desc = (f"{info.module_cls.__name__}({', '.join(map(describe, ci.args))}"
                    f"{''.join(f', {k}={describe(v)}' for k, v in ci.kwargs.items())})"
                    f"({', '.join(map(describe, fi.args))}"
                    f"{''.join(f', {k}={describe(v)}' for k, v in fi.kwargs.items())})"
                    f"{'' if training else ' eval'}")
            for half in HALVES:
                verdict, detail = run_module_sample(half, info, sample, training)
                cases.append(Case("module", info.module_cls.__name__, half, desc, verdict,
                                  detail))
    return cases


# -- optimisers and schedulers ----------------------------------------------------------------

SHAPES = [(3, 4), (5,), (2, 1, 3)]


def _gradient(theta: np.ndarray, index: int) -> np.ndarray:
    """Gradient of a non-quadratic bowl, different for every array."""
    rng = np.random.default_rng(100 + index)
    centre, curvature = rng.standard_normal(theta.shape), rng.uniform(0.5, 3.0, theta.shape)
    return curvature * (theta - centre) + 0.1 * theta ** 3


def run_optimizer(name: str, kwargs: dict) -> tuple[str, str]:
    """The verdict of one keyword variant: parameters agree with torch's after every step."""
    start = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(SHAPES)]
    ours = [p.copy() for p in start]
    cls = getattr(cnp_optim, name)
    try:
        optimizer = cls(ours, **{k: to_numpy(v) for k, v in kwargs.items()})
    except Exception as error:  # noqa: BLE001
        return classify_error(error, named_things(kwargs, cls.__init__))
    theirs = [torch.tensor(p, requires_grad=True) for p in start]
    reference = getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(STEPS):
        try:
            optimizer.step([_gradient(p, i) for i, p in enumerate(ours)])
        except Exception as error:  # noqa: BLE001
            return classify_error(error, named_things(kwargs, cls.__init__))
        for i, p in enumerate(theirs):
            p.grad = torch.tensor(_gradient(p.detach().numpy(), i))
        reference.step()
        report = Report()
        for i, (a, b) in enumerate(zip(ours, theirs)):
            report.add(f"params[{i}] after step {step + 1}", a, b, 1e-10, 1e-12)
        if report.failed:
            return SILENT, repr(report)
    return MATCH, ""


def optimizer_cases() -> list[Case]:
    from torch.testing._internal.common_optimizers import optim_db
    cases = []
    for info in optim_db:
        name = info.optim_cls.__name__
        if not hasattr(cnp_optim, name):
            continue
        for variant in info.optim_inputs_func(device="cpu", dtype=torch.float64):
            verdict, detail = run_optimizer(name, variant.kwargs)
            desc = f"{name}({', '.join(f'{k}={describe(v)}' for k, v in variant.kwargs.items())})"
            cases.append(Case("optimizer", name, "numpy", desc, verdict, detail))
    return cases


# (our class, torch's class, our keyword arguments, torch's)
SCHEDULERS = [
    ("StepLR", "StepLR", dict(step_size=3), dict(step_size=3)),
    ("StepLR", "StepLR", dict(step_size=10, gamma=0.5), dict(step_size=10, gamma=0.5)),
    ("CosineAnnealingLR", "CosineAnnealingLR", dict(T_max=10), dict(T_max=10)),
    ("CosineAnnealingLR", "CosineAnnealingLR", dict(T_max=50, eta_min=0.01),
     dict(T_max=50, eta_min=0.01)),
    ("LinearWarmup", "LinearLR", dict(warmup_steps=5), dict(start_factor=1 / 3, total_iters=5)),
    ("LinearWarmup", "LinearLR", dict(warmup_steps=20, start_factor=0.1),
     dict(start_factor=0.1, total_iters=20)),
]


def run_scheduler(ours_name, theirs_name, ours_kwargs, theirs_kwargs) -> tuple[str, str]:
    """The verdict of one schedule: the learning rate agrees with torch's for 50 epochs."""
    cls = getattr(cnp_schedulers, ours_name)
    optimizer = cnp_optim.SGD([np.zeros(2)], lr=0.1)
    try:
        schedule = cls(optimizer, **ours_kwargs)
    except Exception as error:  # noqa: BLE001
        return classify_error(error, named_things(ours_kwargs, cls.__init__))
    reference_optimizer = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    reference = getattr(torch.optim.lr_scheduler, theirs_name)(reference_optimizer,
                                                               **theirs_kwargs)
    ours, theirs = [optimizer.lr], [reference.get_last_lr()[0]]
    for _ in range(EPOCHS):
        optimizer.step([np.zeros(2)])
        reference_optimizer.step()
        schedule.step()
        reference.step()
        ours.append(optimizer.lr)
        theirs.append(reference.get_last_lr()[0])
    report = Report()
    report.add("lr per epoch", np.array(ours), np.array(theirs), 1e-12, 1e-15)
    return (SILENT, repr(report)) if report.failed else (MATCH, "")


def scheduler_cases() -> list[Case]:
    cases = []
    for ours_name, theirs_name, ours_kwargs, theirs_kwargs in SCHEDULERS:
        verdict, detail = run_scheduler(ours_name, theirs_name, ours_kwargs, theirs_kwargs)
        desc = f"{ours_name}({', '.join(f'{k}={v!r}' for k, v in ours_kwargs.items())})"
        cases.append(Case("scheduler", ours_name, "numpy", desc, verdict, detail))
    return cases


# -- the whole run ----------------------------------------------------------------------------

def classify_all() -> list[Case]:
    """Every case of every module, optimiser and scheduler, with its verdict."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notes about its own samples
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)  # torch's optimisers at full precision
        try:
            return module_cases() + optimizer_cases() + scheduler_cases()
        finally:
            torch.set_default_dtype(default)


def count(cases: list[Case]) -> dict:
    """{kind: {name: {half: {verdict: n}}}} with every verdict present (zero when absent)."""
    table: dict = {}
    for case in cases:
        row = table.setdefault(case.kind, {}).setdefault(case.name, {})
        row.setdefault(case.half, dict.fromkeys(VERDICTS, 0))[case.verdict] += 1
    return table


def write_json(cases: list[Case], path: Path) -> None:
    """The counts, and every case that is not a match, as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    others = [dataclasses.asdict(c) for c in cases if c.verdict != MATCH]
    path.write_text(json.dumps({"counts": count(cases), "not_matching": others}, indent=1))


def summary(cases: list[Case]) -> collections.Counter:
    return collections.Counter((case.half, case.verdict) for case in cases)


if __name__ == "__main__":
    import sys
    import time
    start = time.perf_counter()
    found = classify_all()
    write_json(found, Path(sys.argv[1] if len(sys.argv) > 1 else "_build/conformance.json"))
    print(f"{len(found)} cases in {time.perf_counter() - start:.1f} s: {dict(summary(found))}")
