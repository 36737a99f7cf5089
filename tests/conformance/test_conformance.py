"""Both halves of the package on PyTorch's own test specifications (see ``classify.py``).

The suite fails on any sample that crashes opaquely or goes silently wrong; refusals that name
the unsupported argument are allowed, and counted. The counts per module are written to
``_build/conformance.json``; the appendix page shows them.
"""

from pathlib import Path

import numpy as np
import torch

import companion.numpy as cnp
from tests.conformance import classify
from tests.conformance.classify import CRASHED, MATCH, REFUSED, SILENT

ROOT = Path(__file__).resolve().parents[2]


def test_every_sample_matches_or_is_refused_clearly():
    cases = classify.classify_all()
    classify.write_json(cases, ROOT / "_build" / "conformance.json")
    bad = [f"{c.half}: {c.desc}: {c.verdict}\n{c.detail}" for c in cases
           if c.verdict in (CRASHED, SILENT)]
    assert not bad, f"{len(bad)} samples crash opaquely or go silently wrong:\n" + "\n".join(bad)
    kinds = {c.kind for c in cases}
    assert kinds == {"module", "optimizer", "scheduler"}
    assert sum(c.verdict == MATCH for c in cases) > 0.8 * len(cases)


def _tanh_verdicts(half="numpy"):
    info = next(i for i in classify.twin_module_infos() if i.module_cls.__name__ == "Tanh")
    return {classify.run_module_sample(half, info, sample, training)[0]
            for training, sample in classify.module_samples(info)}


def test_classifier_sees_a_silently_wrong_twin(monkeypatch):
    assert _tanh_verdicts() == {MATCH}
    forward = cnp.Tanh.forward
    monkeypatch.setattr(cnp.Tanh, "forward", lambda self, x: forward(self, x) * (1 + 1e-6))
    assert _tanh_verdicts() == {SILENT}


def test_classifier_sees_an_opaque_crash_and_a_clear_refusal(monkeypatch):
    def crash(self, x):
        return np.zeros(3)[np.asarray(x).shape[0] + 5]  # IndexError inside NumPy

    monkeypatch.setattr(cnp.Tanh, "forward", crash)
    assert _tanh_verdicts() == {CRASHED}

    def refuse(self, input):
        raise ValueError(f"input must not be used here, got shape {np.shape(input)}")

    monkeypatch.setattr(cnp.Tanh, "forward", refuse)
    assert _tanh_verdicts() == {REFUSED}
    assert classify.classify_error(ValueError("shapes do not fit"), {"input"})[0] == CRASHED
    assert classify.classify_error(KeyError("input"), {"input"})[0] == CRASHED


def test_classifier_sees_a_wrong_optimiser_and_schedule(monkeypatch):
    assert classify.run_optimizer("SGD", {"momentum": 0.9})[0] == MATCH
    step = cnp.SGD.step
    monkeypatch.setattr(cnp.SGD, "step", lambda self, grads: step(self, [1.01 * g for g in grads]))
    assert classify.run_optimizer("SGD", {"momentum": 0.9})[0] == SILENT
    assert classify.run_scheduler("StepLR", "StepLR", {"step_size": 3}, {"step_size": 4})[0] \
        == SILENT
    assert torch.get_default_dtype() == torch.float32
