"""Execute every chapter of the book and record its wall time and its kernel's peak memory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

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


def run_all(pages: list[Path], root: Path) -> dict[str, dict[str, float]]:
    """Time every page that is a notebook (pages without a kernel are prose only)."""
    results = {}
    for page in pages:
        if jupytext.read(page).metadata.get("kernelspec") is None:
            continue
        name = page.relative_to(root).with_suffix("").as_posix()
        results[name] = run_chapter(page)
        print(f"  {name}: {json.dumps(results[name])}", flush=True)
    return results
