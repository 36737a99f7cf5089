"""`make bench`: time every chapter and every scratch component; write _build/bench/results.json.

Usage: python -m benchmarks [--only chapters|layers] [--busy N] [--pages PAGE ...] [--snapshot]

--busy N runs each chapter twice, idle and beside N CPU-bound co-tenant processes that the bench
starts and stops, and reports the slowdown. --pages times only those chapters (``book/``-relative
names such as ``transformers/few-shot``). --snapshot also writes benchmarks/results.json, the
committed figures the appendix shows: only from a complete run (`make bench-snapshot`).

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
from companion import runtime
from toc import ROOT, notebook_pages

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
        "thread_policy": runtime.apply().reason,
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def print_table(results: dict) -> None:
    info = results["machine"]
    print(f"\nMachine: {info['cpus']} CPUs, {info['processor']}, Python {info['python']}, "
          f"numpy {info['numpy']}, torch {info['torch']} ({info['torch_threads']} threads), "
          f"{info['date']}")
    rows = results.get("chapters", {})
    if rows:
        busy = results["busy"]
        print(f"\n{'chapter':<48}{'seconds':>10}{'peak MiB':>10}"
              + (f"{f'busy ({busy})':>10}{'slowdown':>10}" if busy else ""))
        for name, row in rows.items():
            print(f"{name:<48}{row['seconds']:>10.1f}{row['peak_rss_mb']:>10.0f}"
                  + (f"{row['busy_seconds']:>10.1f}{row['slowdown']:>10.2f}" if busy else ""))
        idle = sum(row["seconds"] for row in rows.values())
        print(f"{'total':<48}{idle:>10.1f}" + (
            f"{'':>10}{sum(row['busy_seconds'] for row in rows.values()):>10.1f}" if busy else ""))
    if results.get("layers"):
        print(f"\n{'component (forward+backward, float64)':<48}{'numpy ms':>10}{'torch ms':>10}"
              f"{'ratio':>8}")
        for name, row in results["layers"].items():
            print(f"{name:<48}{1e3 * row['numpy_s']:>10.2f}{1e3 * row['torch_s']:>10.2f}"
                  f"{row['ratio']:>8.2f}")


def pages_named(names: list[str] | None) -> list[Path]:
    """The notebook pages to time: all of them, or those named (``book/``-relative, no suffix)."""
    if not names:
        return list(notebook_pages())
    known = {page.relative_to(ROOT / "book").with_suffix("").as_posix(): page
             for page in notebook_pages()}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"--pages: no notebook page {', '.join(unknown)}; "
                         f"choose from {', '.join(known)}")
    return [known[name] for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["chapters", "layers"])
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="also run each chapter beside N CPU-bound co-tenants")
    parser.add_argument("--pages", nargs="+", metavar="PAGE",
                        help="time only these chapters, e.g. transformers/few-shot")
    parser.add_argument("--snapshot", action="store_true",
                        help="also write benchmarks/results.json (complete runs only)")
    args = parser.parse_args()
    if args.busy < 0:
        parser.error(f"--busy must be a number of co-tenants, 0 or more, got {args.busy}")
    if args.snapshot and (args.only or args.pages):
        parser.error("--snapshot needs a complete run: drop --only and --pages")
    only = "chapters" if args.pages else args.only
    results = {"machine": machine(), "busy": args.busy, "chapters": {}, "layers": {}}
    if only in (None, "chapters"):
        print("Executing chapters" + (f", idle then beside {args.busy} co-tenants:"
                                      if args.busy else ":"))
        results["chapters"] = chapters.run_all(pages_named(args.pages), ROOT, args.busy)
    if only in (None, "layers"):
        print("Timing scratch components against torch:")
        results["layers"] = layers.run_all()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2)
    OUT.write_text(text)
    written = [OUT]
    if args.snapshot:
        SNAPSHOT.write_text(text)
        written.append(SNAPSHOT)
    print_table(results)
    print("\nWritten to " + " and ".join(str(path.relative_to(ROOT)) for path in written))


if __name__ == "__main__":
    main()
