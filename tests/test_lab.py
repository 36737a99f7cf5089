"""`make lab` as a reader uses it: a chapter opens as a notebook in JupyterLab and runs.

Starts `make lab` on a free loopback port with a token (its Jupyter settings and runtime files in
a temporary folder, so the user's own configuration plays no part; autosave off there), opens a
chapter's URL in headless Chromium, checks that JupyterLab shows a notebook and not a text
editor, runs the first code cells from the keyboard and reads their output. Saving through the
server must write MyST Markdown back. The server is stopped through its process handle.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import jupytext
import pytest

from conftest import ROOT
from test_browser import CHROMIUM_ARGS, SHOTS, find_chromium

PAGE = "book/neurons/first-network"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(base: str, token: str, path: str, body: dict | None = None, method: str = "GET"):
    request = urllib.request.Request(
        f"{base}/{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("jupyter")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    # Running cells edits the page; no autosave, so the test never writes into book/.
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    log = (home / "lab.log").open("w")
    # JupyterLab keeps a checkpoint of each file it opens: keep the test's out of book/.
    lab_args = f"--no-browser --port-retries=0 --FileCheckpoints.checkpoint_dir={home / 'saved'}"
    server = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}", f"LAB_ARGS={lab_args}"],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # a group of its own, for the last resort
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            api(base, token, "api/status")
            break
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None or time.monotonic() > deadline:
                if server.poll() is None:
                    os.killpg(server.pid, signal.SIGKILL)
                pytest.fail(f"`make lab` did not serve {base}:\n{(home / 'lab.log').read_text()}")
            time.sleep(1)
    yield base, token
    server.send_signal(signal.SIGTERM)  # make hands it on to JupyterLab, which stops its kernels
    try:
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)  # make and JupyterLab, if SIGTERM failed
    with pytest.raises(urllib.error.URLError):
        api(base, token, "api/status")
    assert not list((ROOT / "book").rglob(".ipynb_checkpoints")), "the test wrote into book/"


def test_a_chapter_opens_as_a_notebook_and_runs(lab):
    from playwright.sync_api import sync_playwright

    base, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        page.goto(f"{base}/lab/tree/{PAGE}.md?token={token}")
        notebook = page.locator(".jp-MainAreaWidget.jp-NotebookPanel")
        text_editor = page.locator(".jp-MainAreaWidget .jp-FileEditor")
        notebook.or_(text_editor).first.wait_for(timeout=180_000)
        assert text_editor.count() == 0, "the page opened as Markdown text, not as a notebook"
        assert notebook.count() == 1

        def cell_numbered(n: int):  # by execution count: JupyterLab renders only visible cells
            return notebook.locator(".jp-CodeCell", has=page.locator(".jp-InputPrompt",
                                                                     has_text=f"[{n}]:"))

        # Cells run with no kernel yet are skipped silently: wait for it as a reader would.
        kernel_idle = re.compile(r"Python 3.*\| Idle")  # the status bar, once a kernel is up
        page.locator("#jp-main-statusbar").get_by_text(kernel_idle).wait_for(timeout=300_000)
        notebook.locator(".jp-CodeCell .jp-InputPrompt").first.click()  # select, command mode
        page.keyboard.press("Shift+Enter")  # run the cell and move on to the next one
        page.keyboard.press("Shift+Enter")
        first_output = cell_numbered(1).locator(".jp-OutputArea-output")
        try:
            first_output.first.wait_for(timeout=300_000)
            cell_numbered(2).wait_for(timeout=300_000)
        finally:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "lab__first-network.png"))

        assert "'train':" in first_output.first.inner_text()
        assert notebook.locator(".jp-OutputArea-output[data-mime-type="
                                "'application/vnd.jupyter.stderr']").count() == 0
        assert notebook.locator(".jp-RenderedText[data-mime-type="
                                "'application/vnd.jupyter.error']").count() == 0
        browser.close()


def test_saving_a_page_writes_myst_markdown(lab):
    base, token = lab
    model = api(base, token, f"api/contents/{PAGE}.md?type=notebook")
    assert model["type"] == "notebook" and model["content"]["cells"]
    copy = "_build/lab-check/first-network.md"
    (ROOT / copy).parent.mkdir(parents=True, exist_ok=True)
    api(base, token, f"api/contents/{copy}",
        {"type": "notebook", "format": "json", "content": model["content"]}, method="PUT")
    saved = (ROOT / copy).read_text()
    assert saved.startswith("---\njupytext:") and "```{code-cell} ipython3" in saved
    original = jupytext.read(ROOT / f"{PAGE}.md")
    assert [c.source for c in jupytext.reads(saved, fmt="md:myst").cells] == \
        [c.source for c in original.cells]


def test_binder_sets_the_same_default_viewer():
    """postBuild gives Binder's environment the viewer `make lab` gives .venv (same command)."""
    makefile, post_build = (ROOT / "Makefile").read_text(), (ROOT / "postBuild").read_text()
    settings = "etc/jupyter/labconfig/default_setting_overrides.json"
    assert f"LAB_SETTINGS := $(VENV)/{settings}" in makefile
    assert f"print(sys.prefix)')/{settings}\" set-default-viewer" in post_build
    doctypes = [next(line.split("set-default-viewer")[1].split() for line in text.splitlines()
                     if "set-default-viewer" in line) for text in (makefile, post_build)]
    assert doctypes == [["markdown", "myst"]] * 2
