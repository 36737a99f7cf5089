"""The thread policy: budgets read from fake cgroup trees and affinity masks, and the decision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from companion.runtime import (THREADS_VARIABLE, WORKERS_VARIABLE, cgroup_cpu_quota, cpu_budget,
                               decide)

V2 = "0::/user.slice/session.scope\n"
V1 = "4:memory:/job\n3:cpu,cpuacct:/job\n0::/\n"


def cgroup_v2(root: Path, cpu_max: str, parent_cpu_max: str | None = None) -> Path:
    own = root / "user.slice" / "session.scope"
    own.mkdir(parents=True)
    (own / "cpu.max").write_text(cpu_max + "\n")
    if parent_cpu_max is not None:
        (root / "user.slice" / "cpu.max").write_text(parent_cpu_max + "\n")
    return root


def cgroup_v1(root: Path, quota_us: int, period_us: int = 100_000) -> Path:
    own = root / "cpu,cpuacct" / "job"
    own.mkdir(parents=True)
    (own / "cpu.cfs_quota_us").write_text(f"{quota_us}\n")
    (own / "cpu.cfs_period_us").write_text(f"{period_us}\n")
    return root


@pytest.mark.parametrize("cpu_max, cpus", [("50000 100000", 0.5), ("100000 100000", 1.0),
                                           ("max 100000", None)])
def test_cgroup_v2_quota(tmp_path, cpu_max, cpus):
    assert cgroup_cpu_quota(cgroup_v2(tmp_path, cpu_max), V2) == cpus


def test_cgroup_v2_quota_of_a_parent_applies(tmp_path):
    root = cgroup_v2(tmp_path, "max 100000", parent_cpu_max="150000 100000")
    assert cgroup_cpu_quota(root, V2) == 1.5


def test_cgroup_v2_path_missing_from_the_mount_reads_the_mount_root(tmp_path):
    # a container without its own cgroup namespace sees its host path, but has its cgroup mounted
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert cgroup_cpu_quota(tmp_path, "0::/docker/4f2a\n") == 0.5


@pytest.mark.parametrize("quota_us, cpus", [(50_000, 0.5), (100_000, 1.0), (-1, None)])
def test_cgroup_v1_quota(tmp_path, quota_us, cpus):
    assert cgroup_cpu_quota(cgroup_v1(tmp_path, quota_us), V1) == cpus


def test_no_cgroup_files_means_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path, V1) is None
    assert cgroup_cpu_quota(tmp_path, V2) is None


def test_budget_is_the_affinity_mask_capped_by_the_quota():
    assert cpu_budget(None, {0, 1, 2, 3}) == 4
    assert cpu_budget(None, {3}) == 1  # affinity of one core
    assert cpu_budget(0.5, {0, 1}) == 0.5
    assert cpu_budget(6.0, {0, 1}) == 2
    with pytest.raises(ValueError, match="affinity"):
        cpu_budget(None, set())


@pytest.mark.parametrize("budget, threads", [(0.5, 1), (1, 1), (2, 1), (3, 1), (4, 2), (6, 3),
                                             (8, 4), (64, 4)])
def test_decision_is_half_the_budget_between_one_and_four(budget, threads):
    decision = decide(budget, {})
    assert (decision.intra_op, decision.inter_op, decision.blas) == (threads, 1, threads)


def test_workers_share_the_budget():
    assert decide(16, {WORKERS_VARIABLE: "4"}).intra_op == 2
    assert decide(16, {WORKERS_VARIABLE: "16"}).intra_op == 1


def test_override_wins_over_the_budget():
    decision = decide(0.5, {THREADS_VARIABLE: " 3 ", WORKERS_VARIABLE: "8"})
    assert (decision.intra_op, decision.inter_op, decision.blas) == (3, 1, 3)


@pytest.mark.parametrize("variable", [THREADS_VARIABLE, WORKERS_VARIABLE])
@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_bad_values_name_the_variable(variable, value):
    message = f"{variable} must be a positive whole number, got '{value}'"
    with pytest.raises(ValueError, match=message):
        decide(2, {variable: value})


def run_fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh interpreter with ``env`` added; it prints one JSON object."""
    environ = {k: v for k, v in os.environ.items()
               if k not in (THREADS_VARIABLE, WORKERS_VARIABLE) and not k.endswith("_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", code], env={**environ, **env},
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


REPORT = """
import json, os, sys, torch
from threadpoolctl import threadpool_info
print(json.dumps({"intra": torch.get_num_threads(), "inter": torch.get_num_interop_threads(),
                  "blas": sorted({p["num_threads"] for p in threadpool_info()}),
                  "omp": os.environ["OMP_NUM_THREADS"]}))
"""


@pytest.mark.parametrize("imports", ["import torch, numpy, companion",  # torch first, as pages do
                                     "import numpy, companion.torch"])  # torch loaded by companion
def test_importing_the_package_applies_the_policy(imports):
    report = run_fresh(imports + REPORT, **{THREADS_VARIABLE: "2"})
    assert report == {"intra": 2, "inter": 1, "blas": [2], "omp": "2"}


def test_an_inter_op_pool_set_already_is_kept():
    # torch allows one call, before parallel work: a second one raises, and the import must not
    code = "import torch\ntorch.set_num_interop_threads(3)\nimport companion" + REPORT
    assert run_fresh(code, **{THREADS_VARIABLE: "1"}) == {"intra": 1, "inter": 3, "blas": [1],
                                                          "omp": "1"}


def test_policy_leaves_torch_unimported():
    code = ("import json, sys, numpy, companion.numpy, companion.runtime as r\n"
            "print(json.dumps({'torch': 'torch' in sys.modules, 'blas': r.apply().blas}))")
    assert run_fresh(code, **{THREADS_VARIABLE: "3"}) == {"torch": False, "blas": 3}


def test_policy_works_where_torch_is_blocked():
    code = ("import json, sys\nsys.modules['torch'] = None  # `import torch` raises ImportError\n"
            "import companion.runtime as r\nprint(json.dumps({'blas': r.apply().blas}))")
    assert run_fresh(code, **{THREADS_VARIABLE: "2"}) == {"blas": 2}


def test_bad_override_fails_the_import_with_the_variable_named():
    result = subprocess.run([sys.executable, "-c", "import companion"], capture_output=True,
                            text=True, env={**os.environ, THREADS_VARIABLE: "many"})
    assert result.returncode != 0
    assert f"{THREADS_VARIABLE} must be a positive whole number, got 'many'" in result.stderr
