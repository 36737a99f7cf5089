"""Every number in a page's prose comes from the page's code, or is allow-listed with a reason.

The book promises that the numbers a reader sees were computed when the page was built. Results
and the configuration the text repeats (split sizes, widths, step counts, thresholds) are inserted
with ``{glue:text}``; a numeral typed into the prose by hand can drift from the code. This test
reads the prose of every page in ``_toc.yml`` and fails on each numeral that is neither glued nor
listed for that page in ``tests/prose_numbers.yml`` (a number and the reason it is a definition or
an exact constant, such as "10: the digits have ten classes").

What counts as prose, and what as a number:

- Skipped: the front matter, every fenced block except ``{exercise}`` and ``{solution}`` (whose
  bodies are prose, minus their ``:option:`` lines), so code cells, Mermaid, ``{math}`` and
  ``eval-rst`` blocks; display maths ``$$ ... $$`` and inline maths ``$...$``; every role
  (``{glue:text}`...```, ``{cite}`...```, ``{numref}`...```); inline code; link and image targets
  (the link text stays prose); bare URLs; HTML comments; MyST targets ``(label)=``.
- A number is a run of digits, with decimal points and thousands commas inside it, a product
  such as ``3x3`` or ``3×3`` as one number, and any Unicode superscript exponent (``10⁻³``) that
  follows. It is allow-listed as written: ``1,797``, ``0.5``, ``3×3``. A number joined to a word
  by a hyphen counts (the ``4`` of "a 4-gram" is a setting, not part of a name).
- Not numbers: digits inside a word or name (``float64``, ``GPT-2``, ``x1``, ``ReLU6``), digits
  followed by a letter (``2D``, ``1st``), the dimension names ``1-D``/``2-D``/``3-D``, the marker of
  an ordered-list item (``1.`` at the start of a line), and a four-digit year right after a
  capitalised word or "et al." (a paper's date: "Santurkar et al. 2018").
- Numbers spelled as words ("ten classes") are prose, not numerals, and are not checked.
- Indented (four-space) code blocks are read as prose, since list items are indented too: fence
  code with backticks instead, as the book does everywhere.

An allow-list entry that no longer matches anything on its page fails too, so the lists stay short.
Each page is its own test case, so a failure names the page, the line and the number.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import toc_pages

ROOT = Path(__file__).parent.parent
ALLOWED_FILE = Path(__file__).with_name("prose_numbers.yml")
PROSE_DIRECTIVES = {"exercise", "solution"}

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{([\w:-]+)\})?")
SUPERSCRIPT = "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"
NUMBER = re.compile(rf"\d+(?:[.,]\d+)*(?:[x×]\d+)*(?:[{SUPERSCRIPT}]+)?")
IN_PARAGRAPH = r"[^`\n]|\n(?!\s*\n)"  # any character but a backtick, within one paragraph
LINK = re.compile(r"(!?\[[^\]]*\])\([^)]*\)")  # the text in brackets stays prose
INLINE_SKIPS = [  # in this order
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: glue, cite, numref, ...
    re.compile(rf"(`+)(?:{IN_PARAGRAPH})+?\1"),  # inline code
    re.compile(rf"(?<!\\)\$(?:{IN_PARAGRAPH.replace('`', '$')})+(?<!\\)\$"),  # inline maths
    LINK,  # link and image targets
    re.compile(r"https?://\S+"),  # bare URLs
]
LIST_MARKER = re.compile(r"^\s*\d+\.\s")
YEAR_CONTEXT = re.compile(r"(et al\.|[A-Z][\w'’-]+),?\s*\(?$")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The prose of a MyST page as (line number, text) pairs; everything else blanked out."""
    text = re.sub(r"<!--.*?-->", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    lines = text.split("\n")
    out = []
    start = 0
    if lines and lines[0].strip() == "---":  # front matter
        start = next(i for i in range(1, len(lines)) if lines[i].strip() == "---") + 1
    stack: list[tuple[str, bool]] = []  # open fences: (closing marker, body is prose)
    in_display_maths = False
    for number, line in enumerate(lines[start:], start=start + 1):
        out.append((number, ""))  # blanked unless the line turns out to be prose
        fence = FENCE.match(line)
        if fence and stack and line.strip() == stack[-1][0]:
            stack.pop()
        elif fence and (not stack or stack[-1][1]):
            stack.append((fence.group(2), fence.group(4) in PROSE_DIRECTIVES))
        elif stack and (not stack[-1][1] or re.match(r"^\s*:[\w-]+:", line)):
            pass  # inside code, Mermaid, ...; or a directive's option line
        elif "$$" in line:  # a line that opens or closes display maths, or holds all of it
            in_display_maths ^= line.count("$$") % 2 == 1
        elif not in_display_maths and not re.match(r"^\s*\([\w-]+\)=\s*$", line):
            out[-1] = (number, line)
    # Inline maths, roles and code may run over a line break: blank them out in the joined text.
    joined = "\n".join(line for _, line in out)
    for pattern in INLINE_SKIPS:
        keep = (lambda m: m.group(1)) if pattern is LINK else (lambda m: " ")
        joined = pattern.sub(lambda m: keep(m) + "\n" * m.group().count("\n"), joined)
    lines = joined.split("\n")
    return [(number, LIST_MARKER.sub(" ", line)) for (number, _), line in zip(out, lines)]


def numbers_in(line: str) -> list[str]:
    """The numerals of one line of prose, after the rules of the module docstring."""
    found = []
    for match in NUMBER.finditer(line):
        before, after = line[: match.start()], line[match.end() :]
        if re.search(r"[A-Za-z_\d]-?$", before) and not before.endswith(" -"):
            continue  # inside a word or name: float64, GPT-2, x1
        if re.match(r"[A-Za-z]", after) or re.match(r"-D\b", after):
            continue  # 2D, 1st, 2-D
        token = match.group().rstrip(".,")
        if re.fullmatch(r"(19|20)\d\d", token) and YEAR_CONTEXT.search(before):
            continue  # a paper's year
        found.append(token)
    return found


def allowed() -> dict[str, dict[str, str]]:
    return yaml.safe_load(ALLOWED_FILE.read_text()) or {}


def page_key(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").as_posix()


@pytest.mark.parametrize("page", toc_pages(), ids=page_key)
def test_prose_numbers_are_glued_or_allow_listed(page):
    listed = {str(k): v for k, v in (allowed().get(page_key(page)) or {}).items()}
    unlisted, used = [], set()
    for number, line in prose_lines(page.read_text()):
        tokens = numbers_in(line)
        used.update(t for t in tokens if t in listed)
        missing = list(dict.fromkeys(t for t in tokens if t not in listed))
        if missing:
            unlisted.append(f"  line {number}: {', '.join(missing)}  in: {line.strip()}")
    stale = sorted(set(listed) - used)
    assert not unlisted, (
        f"{page_key(page)}: numbers typed into the prose; glue them from the code or allow-list "
        "them in tests/prose_numbers.yml with a reason:\n" + "\n".join(unlisted)
    )
    assert not stale, f"{page_key(page)}: allow-list entries no longer in the prose: {stale}"


def test_every_allow_list_entry_names_a_page_and_a_reason():
    pages = {page_key(p) for p in toc_pages()}
    for page, entries in allowed().items():
        assert page in pages, f"tests/prose_numbers.yml lists {page!r}, which is not in _toc.yml"
        for token, reason in (entries or {}).items():
            assert isinstance(reason, str) and len(reason.split()) >= 3, (
                f"{page}: allow-list entry {token!r} needs a reason of a few words"
            )


def test_the_scanner_finds_numbers_only_in_prose():
    page = """---
title: 3
---
# A page

Width 12 of `lr=0.5`, {glue:text}`n` glued, $x^2 + 3$, see [figure 7](http://x.org/4), GPT-2,
float64, 2-D, 3x3 kernel, a 4-gram, 10⁻³, (Olsson et al. 2022), in 1,797 images.
1. a list item
$$
y = 5
$$
```{code-cell} ipython3
n = 6
```
````{solution} label
:class: dropdown
An answer of 8.
```python
print(9)
```
````
```{mermaid}
A["11 steps"]
```
"""
    found = [t for _, line in prose_lines(page) for t in numbers_in(line)]
    assert found == ["12", "7", "3x3", "4", "10⁻³", "1,797", "8"]
