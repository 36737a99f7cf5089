"""Feed wrong types, ranks, sizes and out-of-range values to the public API, and judge the error.

Every public layer of ``companion.numpy`` and ``companion.torch`` starts from a valid call taken
from PyTorch's own samples (``module_db``); every public function or other class starts from a
valid call listed in :data:`VALID`. One argument at a time is then replaced by a bad value. A probe
passes when the package raises ``ValueError``/``TypeError`` whose message names the argument, or
when it accepts a value that ``torch.nn`` accepts too. It fails when the package crashes with any
other error (an ``IndexError`` inside NumPy, an ``AttributeError`` inside torch), raises without
naming the argument, or accepts a value of the wrong type.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import warnings

import numpy as np
import torch

import companion.data as cdata
from companion.data import episodes, masking
import companion.numpy as cnp
import companion.numpy.transformer as cnp_transformer
import companion.torch as ctorch
from companion.numpy import ngram, training as np_training
from companion.torch.models import bert, gpt, mlp, seq2seq, transformer
from companion.torch.nas import space, strategies
from tests.conformance.classify import module_samples, to_numpy, twin_module_infos

WRONG_TYPES = {"a string": "bad", "None": None, "a list of strings": ["a", "b"]}


@dataclasses.dataclass
class Probe:
    target: str  # e.g. "companion.numpy.LSTM.forward"
    argument: str
    bad: str  # what was fed
    ok: bool
    detail: str = ""


def names_argument(error: Exception, argument: str) -> bool:
    return isinstance(error, (ValueError, TypeError)) and re.search(
        rf"\b{re.escape(argument)}\b", str(error)) is not None


def _accepts(call) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception:  # noqa: BLE001 - any refusal
        return False
    return True


def judge(target, argument, bad, call, reference=None, others=()) -> Probe:
    """Run ``call``; ``reference`` (torch.nn's own behaviour) says whether acceptance is fine.

    A clear refusal that names another argument of the same call (``others``, e.g. ``dim`` for
    a 0-d input to Softmax) is fine too: the two arguments do not fit together.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as error:  # noqa: BLE001 - every exception is judged
        ok = names_argument(error, argument) or any(names_argument(error, name)
                                                    for name in others)
        return Probe(target, argument, bad, ok, "" if ok else f"{type(error).__name__}: {error}")
    if reference is None:
        return Probe(target, argument, bad, bad not in WRONG_TYPES,
                     "accepted a value of the wrong type" if bad in WRONG_TYPES else "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference()
    except Exception:  # noqa: BLE001 - torch refuses, so we must have refused too
        return Probe(target, argument, bad, False, "accepted what torch.nn refuses")
    return Probe(target, argument, bad, True)


def _bad_tensors(x, half: str) -> dict:
    """Wrong rank, size and (for indices) range variants of a valid input ``x`` (a tensor)."""
    variants = {}
    if x.dim() >= 1:
        variants["one more axis"] = x.unsqueeze(0).unsqueeze(0)
        variants["0-d"] = x.reshape(-1)[0].detach().clone() if x.numel() else torch.tensor(1.0)
        grown = list(x.shape)
        grown[-1] += 1
        variants["last axis one longer"] = torch.zeros(grown, dtype=x.dtype)
    if not x.is_floating_point() and x.numel():
        variants["index far out of range"] = torch.full_like(x, 10_000)
        variants["negative index"] = torch.full_like(x, -7)
    if x.is_floating_point():
        variants["integer dtype"] = torch.zeros(x.shape, dtype=torch.int64)
    return {k: (to_numpy(v) if half == "numpy" else v) for k, v in variants.items()}


def layer_probes() -> list[Probe]:
    """Bad constructor arguments and bad forward inputs for every twin layer."""
    probes = []
    for info in twin_module_infos():
        name = info.module_cls.__name__
        training, sample = module_samples(info)[0]
        args, kwargs = sample.constructor_input.args, sample.constructor_input.kwargs
        f_args = list(sample.forward_input.args)
        if "input" in sample.forward_input.kwargs:
            f_args.insert(0, sample.forward_input.kwargs["input"])
        for half, package in (("numpy", cnp), ("torch", ctorch)):
            cls = getattr(package, name)
            convert = to_numpy if half == "numpy" else (lambda v: v)
            target = f"companion.{half}.{name}"
            # constructor: each named parameter with a value of the wrong type
            params = [p for p in inspect.signature(cls.__init__).parameters.values()
                      if p.name not in ("self", "device", "dtype", "rng")
                      and not p.name.startswith("_")  # torch's private arguments
                      and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            bound = inspect.signature(info.module_cls.__init__).bind_partial(None, *args, **kwargs)
            given = {k: v for k, v in bound.arguments.items() if k != "self"}
            for p in params:
                if p.name not in inspect.signature(info.module_cls.__init__).parameters:
                    continue
                for label, value in WRONG_TYPES.items():
                    if value is None and p.default is None:
                        continue
                    trial = {**{k: convert(v) for k, v in given.items()}, p.name: value}
                    reference_trial = {**given, p.name: value}
                    probes.append(judge(f"{target}()", p.name, label,
                                        lambda c=cls, t=trial: c(**t),
                                        lambda t=reference_trial: info.module_cls(**t)))
            # forward: each positional input made bad in turn
            forward_names = [p.name for p in inspect.signature(cls.forward).parameters.values()
                             if p.name != "self"]
            try:
                twin = cls(*convert(args), **{k: convert(v) for k, v in kwargs.items()})
            except (ValueError, TypeError):
                continue  # this configuration is refused clearly (see the conformance suite)
            if half == "torch":
                twin = twin.double()
            others = {p.name for p in params} | set(forward_names)
            reference = info.module_cls(*args, **kwargs).double()
            inputs = [convert(a) for a in f_args]
            if name.endswith("Loss"):
                forward_names = ["input", "target"]
            for k, x in enumerate(f_args):
                if not isinstance(x, torch.Tensor) or k >= len(forward_names):
                    continue
                argument = forward_names[k]
                bad_values = {**WRONG_TYPES, **_bad_tensors(x, half)}
                reference_bad = {**WRONG_TYPES, **_bad_tensors(x, "torch")}
                if half == "numpy":  # integers are converted to float64, by design
                    bad_values.pop("integer dtype", None)
                for label, value in bad_values.items():
                    trial = inputs[:k] + [value] + inputs[k + 1:]
                    reference_trial = f_args[:k] + [reference_bad[label]] + f_args[k + 1:]
                    call = ((lambda t=twin, a=trial: t.forward(*a)) if half == "numpy"
                            else (lambda t=twin, a=trial: t(*a)))
                    probes.append(judge(f"{target}.forward", argument, label, call,
                                        lambda r=reference, a=reference_trial: r(*a), others))
    return probes


# valid calls of the public functions and the other classes: (callable, args, kwargs)
VALID = {
    "companion.numpy.im2col": (cnp.im2col, (np.zeros((1, 2, 5, 5)), (3, 3)), {}),
    "companion.numpy.col2im": (cnp.col2im, (np.zeros((1, 2, 3, 3, 3, 3)), (1, 2, 5, 5), (3, 3)),
                               {}),
    "companion.numpy.causal_mask": (cnp.causal_mask, (4,), {}),
    "companion.numpy.scaled_dot_product_attention": (
        cnp.scaled_dot_product_attention, (np.zeros((2, 3, 4)),) * 3, {}),
    "companion.numpy.SGD": (cnp.SGD, ([np.zeros(3)],), {"lr": 0.1}),
    "companion.numpy.RMSprop": (cnp.RMSprop, ([np.zeros(3)],), {}),
    "companion.numpy.Adam": (cnp.Adam, ([np.zeros(3)],), {}),
    "companion.numpy.AdamW": (cnp.AdamW, ([np.zeros(3)],), {}),
    "companion.numpy.StepLR": (cnp.StepLR, (cnp.SGD([np.zeros(3)], lr=0.1), 3), {}),
    "companion.numpy.CosineAnnealingLR": (cnp.CosineAnnealingLR,
                                          (cnp.SGD([np.zeros(3)], lr=0.1), 10), {}),
    "companion.numpy.LinearWarmup": (cnp.LinearWarmup, (cnp.SGD([np.zeros(3)], lr=0.1),), {}),
    "companion.numpy.Dropout": (cnp.Dropout, (), {}),
    "companion.numpy.Flatten": (cnp.Flatten, (), {}),
    "companion.torch.scaled_dot_product_attention": (
        ctorch.scaled_dot_product_attention, (torch.zeros(2, 3, 4),) * 3, {}),
    "companion.torch.Dropout": (ctorch.Dropout, (), {}),
    "companion.torch.Flatten": (ctorch.Flatten, (), {}),
    "companion.data.xor": (cdata.xor, (), {}),
    "companion.data.two_moons": (cdata.two_moons, (), {}),
    "companion.data.spirals": (cdata.spirals, (), {}),
    "companion.data.gaussian_ring": (cdata.gaussian_ring, (), {}),
    "companion.data.linearly_separable": (cdata.linearly_separable, (), {}),
    "companion.data.regression_1d": (cdata.regression_1d, (), {}),
    "companion.data.copy_task": (cdata.copy_task, (), {}),
    "companion.data.reverse_task": (cdata.reverse_task, (), {}),
    "companion.data.addition_task": (cdata.addition_task, (), {}),
    "companion.data.split_indices": (cdata.split_indices, (np.arange(30) % 3,), {}),
    "companion.data.load_digits": (cdata.load_digits, (), {}),
    "companion.data.sample_episode": (episodes.sample_episode, (np.arange(40) % 4, [0, 1], 2, 3), {}),
    "companion.data.mask_tokens": (masking.mask_tokens, (np.arange(20) % 5, 5, 6), {}),
    "companion.numpy.transformer.SelfAttention": (cnp_transformer.SelfAttention, (8, 2), {}),
    "companion.numpy.transformer.FeedForward": (cnp_transformer.FeedForward, (8, 16), {}),
    "companion.numpy.transformer.TransformerBlock": (cnp_transformer.TransformerBlock, (8, 2), {}),
    "companion.numpy.transformer.GPT": (cnp_transformer.GPT, (11, 6),
                                        {"n_layer": 1, "n_head": 2, "n_embd": 8}),
    "companion.numpy.transformer.sinusoidal_positional_encoding": (
        cnp_transformer.sinusoidal_positional_encoding, (5, 8), {}),
    "companion.torch.models.bert.MaskedLMConfig": (bert.MaskedLMConfig, (11,), {}),
    "companion.torch.models.seq2seq.AdditiveAttention": (seq2seq.AdditiveAttention, (4, 6, 5), {}),
    "companion.torch.models.seq2seq.Seq2Seq": (seq2seq.Seq2Seq, (7, 4, 5), {}),
    "companion.torch.models.seq2seq.sequence_lengths": (
        seq2seq.sequence_lengths, (torch.tensor([[3, 4, 0], [5, 0, 0]]),), {}),
    "companion.torch.models.mlp.mlp": (mlp.mlp, (4, [5, 6], 3), {}),
    "companion.torch.models.mlp.DeepMLP": (mlp.DeepMLP, (4, 5, 3, 2), {}),
    "companion.torch.models.mlp.count_parameters": (mlp.count_parameters, (torch.nn.Linear(2, 3),),
                                                    {}),
    "companion.numpy.training.accuracy": (np_training.accuracy, (np.zeros((4, 3)), np.zeros(4, int)),
                                          {}),
    "companion.torch.accuracy": (ctorch.accuracy, (torch.zeros(4, 3), torch.zeros(4).long()), {}),
    "companion.numpy.ngram.NGramModel": (ngram.NGramModel, (3, 5), {}),
    "companion.numpy.ngram.KneserNeyModel": (ngram.KneserNeyModel, (3, 5), {}),
    "companion.torch.models.gpt.GPTConfig": (gpt.GPTConfig, (), {"vocab_size": 11}),
    "companion.torch.models.transformer.SelfAttention": (transformer.SelfAttention, (8, 2), {}),
    "companion.torch.models.transformer.FeedForward": (transformer.FeedForward, (8, 16), {}),
    "companion.torch.models.transformer.TransformerBlock": (transformer.TransformerBlock, (8, 2),
                                                            {}),
    "companion.torch.models.transformer.TransformerLM": (transformer.TransformerLM,
                                                         (11, 11, 6, 1, 2, 8, 0.0, True, True), {}),
    "companion.torch.models.transformer.sinusoidal_positional_encoding": (
        transformer.sinusoidal_positional_encoding, (5, 8), {}),
    "companion.torch.nas.space.edges": (space.edges, (4,), {}),
    "companion.torch.nas.space.all_genotypes": (space.all_genotypes, (3,), {}),
    "companion.torch.nas.space.canonical": (space.canonical, (("skip", "conv3x3", "none"),), {}),
    "companion.torch.nas.space.parse_genotype": (space.parse_genotype, ("skip|conv3x3|none",), {}),
    "companion.torch.nas.space.make_op": (space.make_op, ("conv3x3", 4), {}),
    "companion.torch.nas.space.Cell": (space.Cell, (("skip", "conv3x3", "none"), 4), {}),
    "companion.torch.nas.strategies.random_genotype": (
        strategies.random_genotype, (3, ("skip", "none")), {"rng": 0}),
    "companion.torch.nas.strategies.mutate": (
        strategies.mutate, (("skip", "none", "skip"), ("skip", "none")), {"rng": 0}),
}


def function_probes() -> list[Probe]:
    """Each argument of each call in :data:`VALID` replaced by a value of the wrong type."""
    probes = []
    for target, (fn, args, kwargs) in VALID.items():
        signature = inspect.signature(fn)
        bound = signature.bind(*args, **kwargs)
        for p in signature.parameters.values():
            if p.name in ("self", "rng", "seed", "device") or p.kind in (p.VAR_POSITIONAL,
                                                                          p.VAR_KEYWORD):
                continue
            for label, value in WRONG_TYPES.items():
                if value is None and (p.default is None or p.name not in bound.arguments
                                      and p.default is inspect.Parameter.empty):
                    continue
                if value is None and p.default is None:
                    continue
                trial = {**bound.arguments, p.name: value}
                probes.append(judge(target, p.name, label, lambda f=fn, t=trial: f(**t)))
    return probes


def all_probes() -> list[Probe]:
    torch.manual_seed(0)
    return layer_probes() + function_probes()


if __name__ == "__main__":
    import collections
    found = all_probes()
    failed = [p for p in found if not p.ok]
    print(f"{len(found)} probes, {len(failed)} fail")
    by_target = collections.Counter(p.target for p in failed)
    for target, n in by_target.most_common():
        print(f"{n:4d} {target}")
    for p in failed[:400]:
        print(f"- {p.target} {p.argument} <- {p.bad}: {p.detail[:150]}")
