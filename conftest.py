"""Run every chapter of the book under nbval.

Chapters are MyST Markdown notebooks (jupytext), but nbval reads only ``.ipynb``. For each page
listed in ``_toc.yml`` this collector lets jupytext read the page and hands the notebook to nbval,
so ``pytest`` executes every chapter cell by cell, in the chapter's own folder as the book build
does, and a failing cell fails the suite with that cell and its traceback shown. Assert cells in
the chapters carry the checks (``--nbval-lax``: outputs are not compared; MyST stores none).
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import jupytext
import nbval.plugin
import yaml

ROOT = Path(__file__).parent

# Under pytest-xdist, give each worker (and the kernels it starts) its share of the cores. With
# every library's default of one thread per core, n workers run n x cores threads that wait on
# each other: the chapters then run about four times slower on two cores than with this split.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_variable, _threads)


def toc_pages() -> list[Path]:
    """Every page of ``_toc.yml``, as paths of the ``.md`` files, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [ROOT / f"{page}.md" for page in found]


class MystNotebook(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading a MyST Markdown page through jupytext."""

    def collect(self):
        notebook = jupytext.read(self.path)
        with mock.patch.object(nbval.plugin.nbformat, "read", return_value=notebook):
            yield from super().collect()


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".md" or file_path not in toc_pages():
        return None
    if jupytext.read(file_path).metadata.get("kernelspec") is None:
        return None  # a plain Markdown page: nothing to execute
    return MystNotebook.from_parent(parent, path=file_path)
