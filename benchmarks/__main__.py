"""`make bench`: time every chapter and every scratch component; write _build/bench/results.json.

Usage: python -m benchmarks [--only chapters|layers]

These are benchmarks, not tests: they print figures and check nothing, so a busy machine can
never make the test suite flaky. The targets they are read against are in the README.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch

from benchmarks import chapters, layers
from conftest import ROOT, toc_pages

OUT = ROOT / "_build" / "bench" / "results.json"
SNAPSHOT = ROOT / "benchmarks" / "results.json"  # committed; the book's appendix shows it


def machine() -> dict:
    from threadpoolctl import threadpool_info

    blas = [f"{p['internal_api']} {p['version']} ({p['num_threads']} threads)"
            for p in threadpool_info()]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas": blas,
    }


def print_table(results: dict) -> None:
    info = results["machine"]
    print(f"\nMachine: {info['cpus']} CPUs, {info['processor']}, Python {info['python']}, "
          f"numpy {info['numpy']}, torch {info['torch']} ({info['torch_threads']} threads), "
          f"{info['date']}")
    if results.get("chapters"):
        print(f"\n{'chapter':<48}{'seconds':>10}{'peak MiB':>10}")
        for name, row in results["chapters"].items():
            print(f"{name:<48}{row['seconds']:>10.1f}{row['peak_rss_mb']:>10.0f}")
        total = sum(row["seconds"] for row in results["chapters"].values())
        print(f"{'whole book':<48}{total:>10.1f}")
    if results.get("layers"):
        print(f"\n{'component (forward+backward, float64)':<48}{'numpy ms':>10}{'torch ms':>10}"
              f"{'ratio':>8}")
        for name, row in results["layers"].items():
            print(f"{name:<48}{1e3 * row['numpy_s']:>10.2f}{1e3 * row['torch_s']:>10.2f}"
                  f"{row['ratio']:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["chapters", "layers"])
    args = parser.parse_args()
    results = {"machine": machine(), "chapters": {}, "layers": {}}
    if args.only in (None, "chapters"):
        print("Executing every chapter:")
        results["chapters"] = chapters.run_all(toc_pages(), ROOT)
    if args.only in (None, "layers"):
        print("Timing scratch components against torch:")
        results["layers"] = layers.run_all()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2)
    OUT.write_text(text)
    if args.only is None:
        SNAPSHOT.write_text(text)
    print_table(results)
    print(f"\nWritten to {OUT.relative_to(ROOT)}" + ("" if args.only else f" and {SNAPSHOT.relative_to(ROOT)}"))


if __name__ == "__main__":
    main()
