"""Execute chapters of the book, idle and beside busy co-tenants; record wall time and memory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from benchmarks.cotenants import cotenants

# ru_maxrss is the kernel's peak resident set size: kilobytes on Linux, bytes on macOS.
PEAK_RSS_CELL = """\
import resource, sys
_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(_peak / (1024 * 1024 if sys.platform == "darwin" else 1024))
"""


def run_chapter(page: Path) -> dict[str, float]:
    """Execute one MyST notebook in a fresh kernel; return seconds and peak RSS in MiB."""
    notebook = jupytext.read(page)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(page.parent)}})
    with client.setup_kernel():
        start = time.perf_counter()
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        seconds = time.perf_counter() - start
        probe = nbformat.v4.new_code_cell(PEAK_RSS_CELL)
        notebook.cells.append(probe)
        client.execute_cell(probe, len(notebook.cells) - 1)
    peak_mb = float(probe.outputs[0]["text"].strip())
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb, 1)}


def run_all(pages: list[Path], root: Path, busy: int = 0) -> dict[str, dict[str, float]]:
    """Time every page idle; with ``busy`` > 0, run it again beside that many co-tenants.

    The idle and busy runs of a page follow each other, so both meet the same machine.
    """
    results = {}
    for page in pages:
        name = page.relative_to(root).with_suffix("").as_posix()
        row = run_chapter(page)
        if busy:
            with cotenants(busy):
                row["busy_seconds"] = run_chapter(page)["seconds"]
            row["slowdown"] = round(row["busy_seconds"] / row["seconds"], 2)
        results[name] = row
        print(f"  {name}: {json.dumps(row)}", flush=True)
    return results
