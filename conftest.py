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

from toc import ROOT, notebook_pages, toc_pages  # noqa: F401  (tests import ROOT, toc_pages)

# pytest-xdist workers share the machine's CPUs: companion.runtime's thread policy divides the
# CPU budget among them, in each worker and in the kernels its nbval runs start (they inherit it).
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    os.environ.setdefault("COMPANION_WORKERS", os.environ["PYTEST_XDIST_WORKER_COUNT"])


class MystNotebook(nbval.plugin.IPyNbFile):
    """nbval's notebook collector, reading a MyST Markdown page through jupytext."""

    def collect(self):
        notebook = jupytext.read(self.path)
        with mock.patch.object(nbval.plugin.nbformat, "read", return_value=notebook):
            yield from super().collect()


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".md" and file_path in notebook_pages():
        return MystNotebook.from_parent(parent, path=file_path)
    return None
