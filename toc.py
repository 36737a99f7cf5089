"""The book's pages in reading order, read once from ``_toc.yml``.

Both the test suite (``conftest.py``, which runs every page under nbval) and the benchmarks
(``python -m benchmarks``) need this list. It lives here, beside ``_toc.yml`` and
``conftest.py`` at the repository root, because it belongs to neither: the companion package
is installed without the book, and ``benchmarks`` should not import the test configuration.
Both find it on ``sys.path``: pytest puts the root there for the root ``conftest.py``, and
``python -m benchmarks`` runs from the root.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jupytext
import yaml

ROOT = Path(__file__).parent


@functools.cache
def toc_pages() -> tuple[Path, ...]:
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
    return tuple(ROOT / f"{page}.md" for page in found)


@functools.cache
def notebook_pages() -> tuple[Path, ...]:
    """The pages that are notebooks, to execute (the others are prose only: no kernelspec)."""
    return tuple(page for page in toc_pages()
                 if jupytext.read(page).metadata.get("kernelspec") is not None)
