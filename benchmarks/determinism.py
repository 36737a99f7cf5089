"""Deterministic pages: execute each page twice, in fresh kernels, and compare every glued value.

The book promises that the numbers in its prose are computed when it is built, from fixed seeds.
A page that glues a different value on a second run (an unseeded draw, a timing, a dictionary
order) would show a reader numbers that the next build contradicts. This script runs the chosen
pages twice on one machine and compares the text of every value each page glues; values glued
from timings are expected to differ and are reported apart (their names hold ``seconds``,
``time``, ``speed`` or ``ms``).

Usage: python -m benchmarks.determinism [--pages PAGE ...]   (``book/``-relative names such as
``layers/recurrent``; all pages of ``_toc.yml`` by default). Writes
``_build/bench/determinism.json`` and exits with status 1 if a value other than a timing differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

from toc import ROOT, notebook_pages

OUT = ROOT / "_build" / "bench" / "determinism.json"
TIMING = re.compile(r"seconds|time|speed|(^|_)ms($|_)|_s$")


def glued_values(page: Path) -> dict[str, str]:
    """Execute ``page`` in a fresh kernel; return {glue name: its text/plain value}."""
    notebook = jupytext.read(page)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(page.parent)}}).execute()
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                data = output.get("data", {})
                values[name] = next((text for mime, text in sorted(data.items())
                                     if mime.endswith("text/plain")), repr(sorted(data)))
    return values


def compare_page(page: Path) -> dict:
    """Two runs of one page: the glued values that differ, timings apart."""
    start = time.perf_counter()
    first, second = glued_values(page), glued_values(page)
    differ = {name: [first.get(name), second.get(name)]
              for name in sorted(set(first) | set(second)) if first.get(name) != second.get(name)}
    timings = {name: pair for name, pair in differ.items() if TIMING.search(name)}
    return {"glued": len(first), "seconds": round(time.perf_counter() - start, 1),
            "differ": {k: v for k, v in differ.items() if k not in timings},
            "timings_differ": sorted(timings)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", nargs="+", help="book/-relative page names (default: all)")
    args = parser.parse_args(argv)
    pages = ([ROOT / "book" / f"{name}.md" for name in args.pages] if args.pages
             else list(notebook_pages()))
    results = {}
    for page in pages:
        name = page.relative_to(ROOT).with_suffix("").as_posix()
        results[name] = row = compare_page(page)
        verdict = "same" if not row["differ"] else f"DIFFERS: {', '.join(row['differ'])}"
        print(f"  {name}: {row['glued']} glued values, {verdict} ({row['seconds']} s)",
              flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))
    changed = {name: row["differ"] for name, row in results.items() if row["differ"]}
    print(f"{len(pages)} pages run twice; {len(changed)} glue different values"
          + "".join(f"\n{name}: {diff}" for name, diff in changed.items()))
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
