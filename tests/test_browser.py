"""Open every built page in headless Chromium, with the network cut off, as a reader would.

The book is served from ``_build/html`` on a loopback port; every request to any other host is
blocked and recorded. Each page must load with no missing resource, render every equation with
MathJax and every Mermaid diagram as an SVG, show its figures, and list every chapter in the
navigation. Screenshots land in ``_build/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest

from conftest import ROOT, toc_pages

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
PAGES = [page.relative_to(ROOT).with_suffix("").as_posix() for page in toc_pages()]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{")


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("No Chromium found: the browser check cannot run. Install Debian's `chromium` "
                "(.ci/run does this on a clean machine).")


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` first (`make test` does).")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_offline(browser, server: str, path: str):
    """Load ``path`` with every request off this server blocked; return page and problems."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []

    def route(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            problems.append(f"request left the machine: {route.request.url}")
            route.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda r: problems.append(f"failed to load: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.goto(f"{server}/{path}", wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, problems


def wait_for_renderers(page) -> None:
    """Let MathJax typeset and Mermaid draw before anything is checked."""
    page.wait_for_function("!window.MathJax || !MathJax.startup || !!MathJax.startup.promise")
    page.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    page.wait_for_function(
        "[...document.querySelectorAll('pre.mermaid')].every(e => e.querySelector('svg'))",
        timeout=20_000)


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_offline(browser, server, page_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page, problems = open_offline(browser, server, f"{page_path}.html")
    try:
        wait_for_renderers(page)
    except PlaywrightTimeout:
        pytest.fail("equations or diagrams never finished rendering; " + "; ".join(problems))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{page_path.replace('/', '__')}.png"), full_page=True)

    assert problems == [], "\n".join(problems)

    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                           ".map(i => i.src)")
    assert broken == [], f"figures that did not render: {broken}"

    math = page.evaluate("document.querySelectorAll('.math').length")
    typeset = page.evaluate("document.querySelectorAll('.math mjx-container').length")
    assert typeset == math, f"{math - typeset} of {math} equations were not typeset by MathJax"
    visible = page.evaluate("""(() => {  // the prose: code and program output may hold TeX-like text
        const main = document.querySelector('main').cloneNode(true);
        main.querySelectorAll('pre, code, .cell_output').forEach(e => e.remove());
        return main.innerText; })()""")
    assert not RAW_TEX.search(visible), f"raw TeX left on the page: {RAW_TEX.search(visible)}"

    diagrams = page.evaluate("""[...document.querySelectorAll('pre.mermaid')].map(e => ({
        svg: !!e.querySelector('svg'),
        labels: [...e.querySelectorAll('.nodeLabel')].map(n => n.textContent.trim())}))""")
    for diagram in diagrams:
        assert diagram["svg"] and diagram["labels"] and all(diagram["labels"]), diagram

    nav = set(page.evaluate("[...document.querySelectorAll('nav.bd-docs-nav a')]"
                            ".map(a => new URL(a.href).pathname)"))
    listed = {f"/{p}.html" for p in PAGES if p != PAGES[0]}
    assert listed <= nav, f"chapters missing from the navigation: {sorted(listed - nav)}"
    page.close()
