"""Run every chapter of the book under nbval.

Chapters are MyST Markdown notebooks (jupytext), but nbval reads only ``.ipynb``. For each page
listed in ``_toc.yml`` this collector converts the page with jupytext into ``_build/nbval/`` and
hands the result to nbval, so ``pytest`` executes every chapter cell by cell and a failing cell
fails the suite with that cell and its traceback shown. Assert cells in the chapters carry the
checks (``--nbval-lax``: outputs are not compared, MyST notebooks store none).
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import yaml
from nbval.plugin import IPyNbFile

ROOT = Path(__file__).parent
NBVAL_DIR = ROOT / "_build" / "nbval"


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


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".md" or file_path not in toc_pages():
        return None
    notebook = jupytext.read(file_path)
    if notebook.metadata.get("kernelspec") is None:
        return None  # a plain Markdown page: nothing to execute
    target = NBVAL_DIR / file_path.relative_to(ROOT).with_suffix(".ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(notebook, target)
    return IPyNbFile.from_parent(parent, path=target)
