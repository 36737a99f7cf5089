"""The project's own wiring: the table of contents, Binder's environment and CI."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from conftest import toc_pages

ROOT = Path(__file__).parent.parent


def test_every_page_in_book_is_in_the_toc_and_back():
    listed = set(toc_pages())
    on_disk = {p for p in (ROOT / "book").rglob("*.md")
               if "_build" not in p.parts and ".ipynb_checkpoints" not in p.parts}  # JupyterLab's
    assert on_disk - listed == set(), "pages in book/ that _toc.yml does not list"
    assert listed - on_disk == set(), "_toc.yml entries with no file"


def test_binder_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = set(project["dependencies"]) | set(extras["book"]) | set(extras["lab"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    requirements = {line for line in pip_section if not line.startswith("-")}
    assert requirements == wanted
    assert "python=3.11" in env["dependencies"] and "pip" in env["dependencies"]


def test_binder_installs_the_package():
    post_build = (ROOT / "postBuild").read_text()
    assert "pip install" in post_build and "-e ." in post_build


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_api_reference_covers_every_public_module():
    import importlib
    import pkgutil

    for half in ("core", "numpy", "torch", "data"):
        package = importlib.import_module(f"companion.{half}")
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.rsplit(".", 1)[-1].startswith("_"):  # one page per module
                name = module.name.removeprefix("companion.").replace(".", "-")
                page = ROOT / "book" / "appendix" / "api" / f"{name}.md"
                assert page.exists() and f".. automodule:: {module.name}\n" in page.read_text(), \
                    f"{module.name} has no page book/appendix/api/{name}.md"
