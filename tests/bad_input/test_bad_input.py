"""Wrong types, ranks, sizes and out-of-range values across the public API (see ``walker.py``).

Every probe must end in a ``ValueError``/``TypeError`` that names the argument (or another
argument of the same call it does not fit with), or in acceptance where torch.nn accepts too;
never in an error from deep inside NumPy or torch.
"""

import functools

import companion.numpy as cnp
from tests.bad_input import walker


@functools.cache
def _probes() -> list:
    return walker.all_probes()  # one run (about a minute) for both tests below


def test_bad_arguments_are_refused_by_name():
    probes = _probes()
    failed = [f"{p.target}: {p.argument} <- {p.bad}: {p.detail}" for p in probes if not p.ok]
    assert not failed, f"{len(failed)} of {len(probes)} probes fail:\n" + "\n".join(failed)
    targets = {probe.target.split("(")[0].removesuffix(".forward") for probe in probes}
    layers = {name for name in cnp.__all__ if isinstance(getattr(cnp, name), type)
              and issubclass(getattr(cnp, name), cnp.Module) and name not in ("Module",
                                                                             "Sequential")}
    assert {f"companion.numpy.{name}" for name in layers} - targets == set()
    assert len(probes) > 1000


def test_every_public_callable_is_probed_or_excused():
    """Each public class and function is probed, or listed in NOT_PROBED with its reason."""
    public = walker.public_callables()
    probed = walker.probed_callables(_probes())
    listed = set(walker.NOT_PROBED)
    assert len(public) > 200
    assert sorted(public - probed - listed) == [], "neither probed nor listed in NOT_PROBED"
    assert sorted(listed - public) == [], "NOT_PROBED names no public callable"
    assert sorted(listed & probed) == [], "probed now: take it out of NOT_PROBED"
    assert all(reason.strip() for reason in walker.NOT_PROBED.values())


def test_the_walker_catches_an_opaque_crash(monkeypatch):
    def opaque(self, x):
        return x.shape[5]  # AttributeError or IndexError, naming nothing

    monkeypatch.setattr(cnp.Tanh, "forward", opaque)
    probes = [p for p in walker.layer_probes() if p.target == "companion.numpy.Tanh.forward"]
    assert probes and not any(p.ok for p in probes if p.bad == "a string")
