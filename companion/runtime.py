"""How many threads the numerical libraries use: one policy, decided once per process.

torch and OpenBLAS size their thread pools from the cores they can *see*, not from the CPU time
the process may really use. Under a cgroup quota (Binder, containers, CI), an affinity mask, or
beside busy neighbours, those threads then wait on each other: a parallel region ends only when
its slowest thread has been scheduled. The course's models are tiny (matrices of tens to a few
hundred rows): on two cores a second thread gained at most 1.75 times when the machine was
idle, and cost 17 to 50 times when it was busy (``python -m benchmarks.threads`` measures it;
the README gives the figures).

The policy, :func:`decide`:

- the *budget* is the CPUs this process may use: the affinity mask, capped by the cgroup CPU
  quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``), divided among the
  ``COMPANION_WORKERS`` processes of one run that share them (pytest-xdist sets it);
- torch's intra-op threads and the BLAS threads are half that budget, at least 1 and at most
  4: one thread up to three CPUs, which covers Binder, Colab and a 2-core laptop, and is what
  measurements on two cores chose. Larger budgets were not measured; half of them leaves room
  for the neighbours, and four caps threads whose share of a small product would cost less
  than waking them;
- torch's inter-op pool gets one thread: the course never runs two operators concurrently;
- ``COMPANION_THREADS=n`` overrides the decision with ``n`` threads.

:func:`apply` sets it. ``import companion`` calls it (so every page, test and ``python -m``
command gets it), touching torch only when torch is already imported (``companion.numpy`` stays
torch-free); ``import companion.torch`` calls it again to configure torch once it is loaded.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Threads", "cgroup_cpu_quota", "cpu_budget", "decide", "policy", "apply"]

THREADS_VARIABLE = "COMPANION_THREADS"
WORKERS_VARIABLE = "COMPANION_WORKERS"
MAX_THREADS = 4
# Read by OpenMP (torch's intra-op pool), OpenBLAS and MKL when they load, here or in a child.
LIBRARY_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Threads:
    """A decision: torch intra-op and inter-op threads, BLAS threads, and the budget behind it."""

    intra_op: int
    inter_op: int
    blas: int
    budget: float
    reason: str


def _positive_int(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {text!r}")
    return value


def _cgroup_dirs(mount: Path, path: str) -> list[Path]:
    """The cgroup's folder under ``mount`` and its ancestors: a quota anywhere above applies.

    Without its own cgroup namespace, a container sees its host path, which its mount lacks:
    the mount root, always among the ancestors, is then the container's own cgroup.
    """
    folder = mount / path.strip("/")
    return [folder, *[p for p in folder.parents if p.is_relative_to(mount)]]


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup"),
                     membership: str | None = None) -> float | None:
    """CPUs allowed by the cgroup CPU quota, or None when there is none.

    ``membership`` is the text of ``/proc/self/cgroup``; ``root`` is where cgroups are mounted.
    Version 2 reads ``cpu.max`` (``"50000 100000"`` is half a CPU, ``"max 100000"`` no limit);
    version 1 reads ``cpu.cfs_quota_us`` (-1 is no limit) over ``cpu.cfs_period_us``.
    """
    if membership is None:
        try:
            membership = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    quotas = []
    for line in membership.splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and not controllers:  # version 2: one unified tree
            for folder in _cgroup_dirs(root, path):
                fields = _read(folder / "cpu.max").split()
                if len(fields) == 2 and fields[0] != "max":
                    quotas.append(int(fields[0]) / int(fields[1]))
        elif "cpu" in controllers.split(","):  # version 1: a tree per controller
            mount = root / controllers if (root / controllers).is_dir() else root / "cpu"
            for folder in _cgroup_dirs(mount, path):
                quota, period = (_read(folder / f"cpu.cfs_{n}_us") for n in ("quota", "period"))
                if quota and period and int(quota) > 0:
                    quotas.append(int(quota) / int(period))
    return min(quotas, default=None)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def cpu_budget(quota: float | None, affinity: set[int]) -> float:
    """The CPUs this process may use: the cores in its affinity mask, capped by the quota."""
    if not affinity:
        raise ValueError("affinity must name at least one CPU, got an empty set")
    return min(float(len(affinity)), quota) if quota is not None else float(len(affinity))


def decide(budget: float, environ: Mapping[str, str] = os.environ) -> Threads:
    """The thread counts for a process with ``budget`` CPUs, given the run's environment."""
    override = environ.get(THREADS_VARIABLE, "").strip()
    if override:
        n = _positive_int(THREADS_VARIABLE, override)
        return Threads(n, 1, n, budget, f"{THREADS_VARIABLE}={n}")
    workers = _positive_int(WORKERS_VARIABLE, environ.get(WORKERS_VARIABLE, "1").strip() or "1")
    share = budget / workers
    n = max(1, min(MAX_THREADS, math.floor(share / 2)))
    shared = f" shared by {workers} workers" if workers > 1 else ""
    return Threads(n, 1, n, budget, f"half of {budget:g} CPUs{shared}, between 1 and {MAX_THREADS}")


def policy() -> Threads:
    """The decision for this process, from its real cgroup quota, affinity and environment."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return decide(cpu_budget(cgroup_cpu_quota(), affinity or set(range(os.cpu_count() or 1))))


_decision: Threads | None = None
_torch_configured = False


def apply() -> Threads:
    """Decide once per process and set every thread pool; configure torch once it is imported."""
    global _decision, _torch_configured
    if _decision is None:
        from threadpoolctl import threadpool_limits

        _decision = policy()
        for variable in LIBRARY_VARIABLES:  # libraries loaded later, and child processes
            os.environ[variable] = str(_decision.blas)
        threadpool_limits(_decision.blas)  # BLAS and OpenMP libraries already loaded
    torch = sys.modules.get("torch")  # None where an import of torch is blocked
    if not _torch_configured and torch is not None:
        torch.set_num_threads(_decision.intra_op)
        try:
            torch.set_num_interop_threads(_decision.inter_op)
        except RuntimeError:  # set once already, or parallel work has started: keep that pool
            pass
        _torch_configured = True
    return _decision
