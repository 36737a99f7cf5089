"""No code of the book (cells, and code blocks such as solutions) is wider than the text column,
so no reader has to scroll sideways.

The width is black's ``line-length`` in ``pyproject.toml``: ``make format`` formats every code
cell to it, and ``_static/book.css`` sets the code font so that this many characters fit the
column at desktop width. Black leaves long comments and strings as they are; they are wrapped by
hand. Each page is its own test case, so a failure names the page and its long lines.
"""

from __future__ import annotations

import re
import tomllib

import jupytext
import pytest

from toc import ROOT, toc_pages

WIDTH = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["black"]["line-length"]


FENCE = re.compile(r"(`{3,}|~{3,})\s*(\S*).*")


def code_lines(cell) -> list[str]:
    """The lines of a code cell, or of the code blocks (``python``, ``bash``, ...) inside a
    Markdown cell, such as an exercise's solution; not those of directives (``{mermaid}``)."""
    if cell.cell_type == "code":
        return cell.source.splitlines()
    lines, fences = [], []  # fences: the open fences, innermost last, with their info
    for line in cell.source.splitlines():
        match = FENCE.fullmatch(line.strip())
        if match and fences and match[1] == fences[-1][0] and not match[2]:
            fences.pop()
        elif match:
            fences.append((match[1], match[2]))
        elif fences and not fences[-1][1].startswith("{"):
            lines.append(line)
    return lines


def long_lines(page) -> list[str]:
    """``"cell N: (length) line"`` for every code line of ``page`` longer than :data:`WIDTH`."""
    cells = jupytext.read(page).cells
    return [f"cell {n}: ({len(line)}) {line}" for n, cell in enumerate(cells)
            for line in code_lines(cell) if len(line) > WIDTH]


def test_the_width_check_sees_a_long_line(tmp_path):
    page = tmp_path / "page.md"
    header = (ROOT / "book/neurons/first-network.md").read_text().split("\n---\n")[0]
    page.write_text(header + "\n---\n\n```{code-cell} ipython3\nshort = 1\n"
                    + "x = " + "1 + " * 30 + "1\n```\n")
    assert [line.split(":")[0] for line in long_lines(page)] == ["cell 0"]


def test_the_width_check_sees_a_long_line_in_a_solution(tmp_path):
    page = tmp_path / "page.md"
    header = (ROOT / "book/neurons/first-network.md").read_text().split("\n---\n")[0]
    long = "x = " + "1 + " * 30 + "1"
    page.write_text(header + "\n---\n\nText " + long + "\n\n````{solution} ex\n:class: dropdown\n"
                    + "```python\n" + long + "\n```\n````\n\n```{mermaid}\n" + long + "\n```\n")
    assert [line.split(":")[0] for line in long_lines(page)] == ["cell 0"]


@pytest.mark.parametrize("page", toc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_code_cells_fit_the_column(page):
    found = long_lines(page)
    assert not found, (f"{len(found)} code lines wider than {WIDTH} characters (run `make format`, "
                       "then wrap long comments and strings by hand):\n" + "\n".join(found))
