"""The PDF of `make pdf` (``_build/latex/book.pdf``), read back as a reader's PDF viewer shows it.

`make test` builds it after the HTML book, from the same execution cache. Its text (``pdftotext``,
from Debian's poppler-utils) must contain every page's title, once in the table of contents and
once as the heading; every Mermaid diagram of the pages must be drawn into it as a PDF image.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata

import pytest

from conftest import ROOT, toc_pages

PDF = ROOT / "_build" / "latex" / "book.pdf"


def squeeze(text: str) -> str:
    """Text with ligatures split, quotes straightened, and no whitespace or hyphens, so that
    a title broken over lines (or hyphenated) by LaTeX still matches its source."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"[\s\-\u2010\u2011]+", "", text)


def title(page) -> str:
    heading = re.search(r"^# (.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    return heading.group(1).replace("`", "")


@pytest.fixture(scope="module")
def pdf_text() -> str:
    if not PDF.exists():
        pytest.fail(f"{PDF.relative_to(ROOT)} is missing: run `make pdf` (`make test` does).")
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: install Debian's poppler-utils (.ci/run does).")
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(PDF), "-"], capture_output=True,
                          text=True, check=True)
    return squeeze(done.stdout)


@pytest.mark.parametrize("page", toc_pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_page_title_is_in_the_pdf_twice(pdf_text, page):
    found = pdf_text.count(squeeze(title(page)))
    assert found >= 2, f"{title(page)!r} is in the PDF's text {found} times, not in both the " \
                       "contents and a heading"


def test_every_mermaid_diagram_is_drawn_into_the_pdf():
    diagrams = sum(page.read_text(encoding="utf-8").count("```{mermaid}") for page in toc_pages())
    tex = PDF.with_suffix(".tex").read_text(encoding="utf-8")
    drawn = re.findall(r"\\sphinxincludegraphics\{(mermaid-[0-9a-f]+\.pdf)\}", tex)
    assert len(drawn) == diagrams > 0
    for name in drawn:
        assert (PDF.parent / name).read_bytes().startswith(b"%PDF"), name
