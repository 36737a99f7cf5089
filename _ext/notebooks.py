"""The book's pages as Jupyter notebooks that run on their own: on Colab, or downloaded.

``make notebooks`` (``python _ext/notebooks.py write``) turns every page of ``_toc.yml`` that is a
notebook into ``_build/notebooks/<page>.ipynb`` with jupytext. Each starts with a tagged set-up
cell that installs the companion package when the kernel lacks it, from the repository at the
commit the book was built from; where the package is installed (``make lab``, Binder) that cell
does nothing. ``make publish-notebooks`` (``... publish``) commits them to the ``notebooks``
branch of the repository and pushes it: that is where the Colab buttons point.

Loaded by Jupyter Book as a Sphinx extension (``sphinx.local_extensions`` in ``_config.yml``), it
points each page's Colab button at the page's notebook on that branch and puts the same notebook
in the page's download menu. The repository's URL is read from ``_config.yml``, its one home.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "notebooks"
BRANCH = "notebooks"  # the branch of the repository that holds the published notebooks
SETUP_TAG = "companion-setup"

# The set-up cell. --no-deps keeps the runtime's own torch, NumPy, SciPy, scikit-learn, Matplotlib
# and tqdm (Colab ships them); myst-nb (its `glue` only) and what that imports are added.
SETUP_CELL = Template('''\
# Set-up: installs the companion package if this Python lacks it (Colab, a fresh environment).
# Where the book's environment is installed (`make lab`, Binder) this cell does nothing.
# It installs the package as of the commit this book was built from; to install it from
# elsewhere, e.g. a clone, set COMPANION_SOURCE first: %env COMPANION_SOURCE=/path/to/clone
import importlib, importlib.util, os, subprocess, sys


def _install_companion():
    source = os.environ.get("COMPANION_SOURCE", "git+$repository@$commit")
    for args in (["--no-deps", source, "$myst_nb"], ["docutils", "nbformat"]):
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args],
                             capture_output=True, text=True)
        if pip.returncode != 0:
            errors = [line for line in pip.stderr.splitlines() if line.startswith("ERROR")]
            reason = (errors or pip.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise RuntimeError(
                f"Could not install the companion package from {source} ({reason}). Check this "
                "runtime's internet access, or set COMPANION_SOURCE to a clone of the repository, "
                "then run this cell again; the rest of the notebook needs the package.") from None
    importlib.invalidate_caches()
    print(f"Installed the companion package from {source}")


if importlib.util.find_spec("companion") is None:
    _install_companion()''')


def book_config() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text())


def built_commit() -> str:
    """The commit the book is built from, or the configured branch outside a git checkout."""
    found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() if found.returncode == 0 else book_config()["repository"]["branch"]


def pinned(name: str) -> str:
    """``name==version`` as constraints.txt pins it."""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.lower().startswith(f"{name}=="):
            return line
    raise LookupError(f"constraints.txt pins no {name}")


def setup_cell_source(commit: str) -> str:
    repository = book_config()["repository"]["url"].rstrip("/")
    return SETUP_CELL.substitute(repository=repository, commit=commit, myst_nb=pinned("myst-nb"))


def write(out: Path = OUT) -> list[Path]:
    """Write one notebook per executable page of ``_toc.yml`` under ``out``; return their paths."""
    import jupytext
    import nbformat
    from sphinx_external_toc.parsing import parse_toc_yaml

    setup = nbformat.v4.new_code_cell(setup_cell_source(built_commit()), id=SETUP_TAG,
                                      metadata={"tags": [SETUP_TAG]})
    written = []
    for page in parse_toc_yaml(str(ROOT / "_toc.yml")):
        notebook = jupytext.read(ROOT / f"{page}.md")
        if "kernelspec" not in notebook.metadata:
            continue  # a plain Markdown page: nothing to run
        notebook.metadata.pop("jupytext", None)  # a plain .ipynb, paired with nothing
        notebook.cells.insert(0, setup)
        for number, cell in enumerate(notebook.cells[1:], 1):
            cell.id = f"cell-{number}"  # jupytext draws random ids: keep rebuilt files unchanged
        target = out / f"{page}.ipynb"
        text = jupytext.writes(notebook, fmt="ipynb")
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        written.append(target)
    for stale in set(out.rglob("*.ipynb")) - set(written):
        stale.unlink()
    return written


def git(*args: str, **env: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env})
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def publish(remote: str) -> None:
    """Commit freshly written notebooks to the ``notebooks`` branch and push it to ``remote``."""
    changed = git("status", "--porcelain", "--", "book", "companion", "_toc.yml", "pyproject.toml")
    if changed:
        raise SystemExit("Commit your changes first: the notebooks install the package as of the "
                         f"last commit, which differs from the working tree:\n{changed}")
    branch = book_config()["repository"]["branch"]
    head = git("rev-parse", "HEAD")
    if subprocess.run(["git", "merge-base", "--is-ancestor", head, f"{remote}/{branch}"],
                      cwd=ROOT).returncode != 0:
        raise SystemExit(f"Push {head[:12]} to {remote}/{branch} first: the notebooks install the "
                         "package from that commit.")
    write()
    with tempfile.TemporaryDirectory() as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git("--work-tree", str(OUT), "add", "--all", ".", **index)
        tree = git("write-tree", **index)
    parent = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}"],
                            cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = git("commit-tree", tree, *(["-p", parent] if parent else []),
                 "-m", f"Notebooks of the book at {head}")
    git("update-ref", f"refs/heads/{BRANCH}", commit)
    git("push", remote, f"refs/heads/{BRANCH}:refs/heads/{BRANCH}")
    print(f"Pushed the notebooks of {head[:12]} to {remote} {BRANCH}")


# The Sphinx side.

def point_colab_at_notebook(app, pagename, templatename, context, doctree):
    """Send the page's Colab button to its notebook on the ``notebooks`` branch."""
    if not context.get("ipynb_source"):  # sphinx-book-theme sets it for notebook pages
        return
    from sphinx.util import logging

    notebooks = Path(app.outdir).parent / "notebooks"
    if not (notebooks / f"{pagename}.ipynb").exists():
        logging.getLogger(__name__).warning(
            f"{pagename}: no notebook in {notebooks} for Colab; run `make notebooks`")
        return
    colab = app.config.html_theme_options["launch_buttons"]["colab_url"].rstrip("/")
    url = (f"{colab}/github/{context['github_user']}/{context['github_repo']}/blob/{BRANCH}/"
           f"{pagename}.ipynb")
    for group in context["header_buttons"]:
        for button in group.get("buttons", []) if group.get("label") == "launch-buttons" else []:
            if button["text"] == "Colab":
                button["url"] = url


def offer_notebooks_for_download(app, exception):
    """Replace the executed notebooks of the download menu by the ones with the set-up cell."""
    if exception is not None or app.builder.format != "html":
        return
    notebooks = Path(app.outdir).parent / "notebooks"
    for notebook in notebooks.rglob("*.ipynb"):
        offered = Path(app.outdir) / "_sources" / notebook.relative_to(notebooks)
        if offered.exists():
            shutil.copyfile(notebook, offered)


def setup(app):
    app.connect("html-page-context", point_colab_at_notebook, priority=600)  # after the theme's
    app.connect("build-finished", offer_notebooks_for_download)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("write", help=f"write the notebooks into {OUT.relative_to(ROOT)}")
    push = commands.add_parser("publish", help=f"commit them to the {BRANCH} branch and push it")
    push.add_argument("--remote", default="origin")
    arguments = parser.parse_args()
    if arguments.command == "write":
        print(f"Wrote {len(write())} notebooks into {OUT.relative_to(ROOT)}")
    else:
        publish(arguments.remote)
