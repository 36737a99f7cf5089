"""The notebooks a reader launches or downloads: every link in the built pages, and publishing.

Reads the book that `make book` built (``_build/html``) and the notebooks of `make notebooks`
(``_build/notebooks``). Every Binder, Colab and ``.ipynb`` download link must be well formed and
lead to a file that exists: Binder to the page's MyST source in the repository, Colab to the
page's generated notebook (never to a ``.md``), the download menu to that same notebook.
"""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import jupytext
import pytest
import yaml

from conftest import ROOT, toc_pages

HTML = ROOT / "_build" / "html"
NOTEBOOKS = ROOT / "_build" / "notebooks"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
ORG, REPO = urlsplit(CONFIG["repository"]["url"]).path.strip("/").split("/")
PAGES = [page.relative_to(ROOT).with_suffix("").as_posix() for page in toc_pages()]
BUTTONS = {"Launch on Binder": "binder", "Launch on Colab": "colab",
           "Download notebook file": "download"}


class _Buttons(html.parser.HTMLParser):
    """Collects the href of each launch and download button, by the button's title."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, list[str]] = {kind: [] for kind in BUTTONS.values()}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("title") in BUTTONS:
            self.found[BUTTONS[attrs["title"]]].append(attrs["href"])


def is_notebook(page: str) -> bool:
    return "kernelspec" in jupytext.read(ROOT / f"{page}.md").metadata


@pytest.mark.parametrize("page", PAGES)
def test_launch_and_download_links_lead_to_built_files(page):
    built = HTML / f"{page}.html"
    if not built.exists():
        pytest.fail(f"{built.relative_to(ROOT)} is missing: run `make book` (`make test` does).")
    parser = _Buttons()
    parser.feed(built.read_text())
    links = parser.found
    if not is_notebook(page):
        assert links == {kind: [] for kind in BUTTONS.values()}, "a plain page offers no notebook"
        return
    assert all(len(urls) == 1 for urls in links.values()), links

    binder = urlsplit(links["binder"][0])
    assert (binder.scheme, binder.netloc) == ("https", "mybinder.org")
    assert binder.path == f"/v2/gh/{ORG}/{REPO}/{CONFIG['repository']['branch']}"
    target = parse_qs(binder.query)["urlpath"][0]
    assert target == f"lab/tree/{page}.md" and (ROOT / f"{page}.md").is_file()

    colab = urlsplit(links["colab"][0])
    assert (colab.scheme, colab.netloc, colab.query) == ("https", "colab.research.google.com", "")
    assert colab.path == f"/github/{ORG}/{REPO}/blob/notebooks/{page}.ipynb", \
        "Colab must get the page's generated .ipynb: it cannot read the .md"
    notebook = NOTEBOOKS / f"{page}.ipynb"
    assert notebook.is_file(), f"Colab would open {notebook.relative_to(ROOT)}, which was not built"
    setup = json.loads(notebook.read_text())["cells"][0]
    assert setup["metadata"]["tags"] == ["companion-setup"]
    assert f"git+{CONFIG['repository']['url']}@" in "".join(setup["source"])

    download = urlsplit(urljoin(built.as_uri(), links["download"][0]))
    assert download.scheme == "file" and Path(download.path).is_relative_to(HTML)
    assert Path(download.path).read_bytes() == notebook.read_bytes(), \
        "the download menu must offer the notebook with the set-up cell"


def test_publish_commits_the_notebooks_to_their_branch(tmp_path):
    """`make publish-notebooks` in a clone whose remote is a local bare repository."""
    clone, remote = tmp_path / "clone", tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    shutil.copy(ROOT / "_ext" / "notebooks.py", clone / "_ext")  # the code under test, as it is

    def run(*command):
        return subprocess.run(command, cwd=clone, capture_output=True, text=True)

    run("git", "remote", "add", "pub", str(remote))
    publish = [sys.executable, "_ext/notebooks.py", "publish", "--remote", "pub"]
    refused = run(*publish)
    assert refused.returncode != 0 and "Push" in refused.stderr, refused.stderr
    pushed = run("git", "push", "--quiet", "pub", f"HEAD:{CONFIG['repository']['branch']}")
    assert pushed.returncode == 0, pushed.stderr
    (clone / f"{PAGES[1]}.md").write_text("changed\n")
    refused = run(*publish)
    assert refused.returncode != 0 and "Commit your changes first" in refused.stderr, refused.stderr
    run("git", "checkout", "--quiet", "--", f"{PAGES[1]}.md")

    published = run(*publish)
    assert published.returncode == 0, published.stderr
    files = subprocess.run(["git", "--git-dir", str(remote), "ls-tree", "-r", "--name-only",
                            "notebooks"], capture_output=True, text=True, check=True).stdout.split()
    written = clone / "_build" / "notebooks"
    assert files and sorted(files) == sorted(p.relative_to(written).as_posix()
                                             for p in written.rglob("*.ipynb"))
    first = json.loads(subprocess.run(["git", "--git-dir", str(remote), "show",
                                       f"notebooks:{files[0]}"], capture_output=True, text=True,
                                      check=True).stdout)
    head = run("git", "rev-parse", "HEAD").stdout.strip()
    assert f"@{head}" in "".join(first["cells"][0]["source"]), "installs from the published commit"
