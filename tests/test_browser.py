"""Open every built page in headless Chromium, with the network cut off, as a reader would.

The book is served from ``_build/html`` on a loopback port; every request to any other host is
blocked and recorded. Each page must load with no missing resource, render every equation with
MathJax and every Mermaid diagram as an SVG, show its figures, each with a caption and alt text
that describes it, and list every chapter in the navigation. Each page is then read at desktop width (1280 px) and phone width (390 px): nothing
(code, output, table, display equation) may be wider than its column unless it scrolls, no table
may be left as raw ``|---|`` text, no ``np.float64(`` or ``<matplotlib.`` repr may show, and at
desktop width every Mermaid diagram's text must be at least 10 px tall. Screenshots land in
``_build/screenshots/{desktop,phone,dark}/`` for a person to look at.
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
WIDTHS = {"desktop": 1280, "phone": 390}
MIN_DIAGRAM_TEXT_PX = 10

# Measured in the page: boxes wider than they may be, raw tables and reprs in the prose and
# outputs, and the height of the smallest text of every Mermaid diagram as drawn.
MEASURE = """(() => {
  const main = document.querySelector('main');
  const column = main.querySelector('article').getBoundingClientRect().right + 1;
  const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const name = e => (e.closest('section[id]') || main).id + ': ' + e.tagName.toLowerCase() +
      '.' + [...e.classList].join('.') + ' ' + e.textContent.trim().slice(0, 60);
  const boxes = [...main.querySelectorAll(
      '.cell_input pre, .cell_output pre, .cell_output .output, table, div.math, ' +
      'mjx-container[display="true"], pre.mermaid')];
  const clipped = boxes.filter(e => e.offsetParent !== null)
      .filter(e => (e.scrollWidth > e.clientWidth + 1 && !scrolls(e))
                   || e.getBoundingClientRect().right > column && !scrolls(e.parentElement))
      .map(name);
  const unwrapped = [...main.querySelectorAll('.cell_output pre')]  // text output wraps
      .filter(e => e.offsetParent !== null && !e.closest('details.source, pre.mermaid'))
      .filter(e => e.scrollWidth > e.clientWidth + 1).map(name);
  const text = main.cloneNode(true);
  text.querySelectorAll('.cell_input, pre.mermaid, script, style').forEach(e => e.remove());
  document.body.appendChild(text);
  const shown = text.innerText;
  text.remove();
  const diagrams = [...main.querySelectorAll('pre.mermaid > svg')]
    .filter(svg => svg.getBoundingClientRect().width > 0 && svg.viewBox.baseVal.width > 0)
    .map(svg => {
      const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      const sizes = [...svg.querySelectorAll('.nodeLabel, .edgeLabel, text')]
          .filter(t => t.textContent.trim())
          .map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
      return Math.min(...sizes); });
  const page_width = document.documentElement.scrollWidth - window.innerWidth;
  return {clipped, unwrapped, diagrams, page_width,
          raw_tables: (shown.match(/^.*\\|\\s*:?-{3,}.*$/gm) || []),
          reprs: (shown.match(/np\\.(float|int)\\d*\\(|<matplotlib\\.[^>]*>/g) || [])};
})()"""


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
    shot = f"{page_path.replace('/', '__')}.png"
    (SHOTS / "desktop").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "desktop" / shot), full_page=True)

    assert problems == [], "\n".join(problems)

    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0)"
                           ".map(i => i.src)")
    assert broken == [], f"figures that did not render: {broken}"
    uncaptioned = page.evaluate("""[...document.querySelectorAll('.cell_output img')]
        .filter(i => !(i.closest('figure')?.querySelector('figcaption')?.textContent.trim())
                     || !i.alt.trim() || /^[0-9a-f]{16,}/.test(i.alt))
        .map(i => (i.closest('section[id]') || {}).id + ': ' + (i.alt || i.src.split('/').pop()))""")
    assert uncaptioned == [], f"figures without a caption or without alt text: {uncaptioned}"

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

    faults = []
    for width_name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)  # let the layout settle at the new width
        found = page.evaluate(MEASURE)
        faults += [f"{width_name}: wider than its column, not scrolling: {c}"
                   for c in found["clipped"]]
        faults += [f"{width_name}: output runs past the column: {u}" for u in found["unwrapped"]]
        if found["page_width"] > 1:
            faults.append(f"{width_name}: the page scrolls sideways by {found['page_width']} px")
        faults += [f"{width_name}: table left as raw text: {t!r}" for t in found["raw_tables"]]
        faults += [f"{width_name}: repr shown: {r!r}" for r in found["reprs"]]
        if width_name == "desktop":
            faults += [f"Mermaid diagram {i}'s text is {px:.1f} px (< {MIN_DIAGRAM_TEXT_PX})"
                       for i, px in enumerate(found["diagrams"]) if px < MIN_DIAGRAM_TEXT_PX]
    (SHOTS / "phone").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone" / shot))
    assert faults == [], "\n".join(faults)

    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})
    page.emulate_media(color_scheme="dark")
    page.reload(wait_until="load")
    wait_for_renderers(page)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    (SHOTS / "dark").mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dark" / shot))
    page.close()
