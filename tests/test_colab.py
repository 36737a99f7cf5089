"""A generated notebook run as on Colab: a Python with Colab's stack and without the package.

The virtual environment holds what Colab ships preinstalled (NumPy, SciPy, torch, Matplotlib,
scikit-learn, tqdm) and ipykernel to run a kernel, but not ``companion``; it is kept in
``_build/colab-venv`` and anything a previous run installed is removed first. The notebook of
`make notebooks` runs there end to end, in a folder outside the repository (as Colab's
``/content``), with its set-up cell pointed at a copy of this working tree through the documented
``COMPANION_SOURCE`` override.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from conftest import ROOT

VENV = ROOT / "_build" / "colab-venv"
COLAB_STACK = ["numpy", "scipy", "torch==2.13.0", "matplotlib", "scikit-learn", "tqdm", "ipykernel"]
PAGE = "book/backprop/backpropagation"  # a short page that glues numbers and asserts claims
NOTEBOOK = ROOT / "_build" / "notebooks" / f"{PAGE}.ipynb"


def installed(python) -> set[str]:
    """The names of the distributions installed in ``python``'s environment."""
    listed = subprocess.run([python, "-m", "pip", "list", "--format=freeze"],
                            capture_output=True, text=True, check=True).stdout.split()
    return {line.split("==")[0].lower() for line in listed}


@pytest.fixture(scope="module")
def colab_python():
    """The environment's Python, created once, holding exactly the Colab stack on each use."""
    python, base = VENV / "bin" / "python", VENV / "base.txt"
    if not base.exists():
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = subprocess.run([python, "-m", "pip", "install", "--quiet", "-c",
                              ROOT / "constraints.txt", *COLAB_STACK],
                             capture_output=True, text=True)
        if pip.returncode != 0:
            pytest.fail(f"could not build the Colab-like environment:\n{pip.stderr[-3000:]}")
        base.write_text("\n".join(sorted(installed(python))))
    return python


@pytest.fixture
def fresh(colab_python):
    """Remove what an earlier run installed, so the package is missing again."""
    base = {line.split("==")[0].lower() for line in (VENV / "base.txt").read_text().split()}
    extra = installed(colab_python) - base
    if extra:
        subprocess.run([colab_python, "-m", "pip", "uninstall", "--quiet", "-y", *extra],
                       check=True)
    assert not has_companion(colab_python)
    return colab_python


def has_companion(python) -> bool:
    probe = "import importlib.util; print(importlib.util.find_spec('companion') is not None)"
    return subprocess.run([python, "-c", probe], cwd=VENV, capture_output=True, text=True,
                          check=True).stdout.strip() == "True"  # cwd: not this checkout


def run_notebook(notebook, python, source, workdir):
    """Execute ``notebook`` in a kernel of ``python`` with COMPANION_SOURCE=``source``."""
    specs = workdir / "kernels"
    (specs / "colab").mkdir(parents=True)
    (specs / "colab" / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python",
        "env": {"COMPANION_SOURCE": str(source)}}))
    kernel = KernelManager(kernel_name="colab",
                           kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
    client = NotebookClient(notebook, km=kernel, timeout=600,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()


def working_tree_copy(destination):
    """The files pip needs to build the package, as they are in this working tree."""
    destination.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, destination)
    shutil.copytree(ROOT / "companion", destination / "companion",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return destination


def read_notebook():
    if not NOTEBOOK.exists():
        pytest.fail(f"{NOTEBOOK.relative_to(ROOT)} is missing: run `make notebooks` "
                    "(`make book` and `make test` do).")
    return nbformat.read(NOTEBOOK, as_version=4)


def test_generated_notebook_runs_where_the_package_is_missing(fresh, tmp_path):
    notebook = read_notebook()
    source = working_tree_copy(tmp_path / "clone")
    content = tmp_path / "content"
    content.mkdir()
    run_notebook(notebook, fresh, source, content)

    setup = notebook.cells[0]
    assert setup.metadata.tags == ["companion-setup"]
    printed = "".join(output.get("text", "") for output in setup.outputs)
    assert f"Installed the companion package from {source}" in printed
    assert has_companion(fresh), "the set-up cell should have installed the package"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "every cell ran"
    assert sum("assert " in cell.source for cell in code) >= 3, "the chapter's checks ran"
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert errors == []


def test_unreachable_source_stops_the_notebook_with_one_clear_line(fresh, tmp_path):
    notebook = read_notebook()
    missing = tmp_path / "no-such-clone"
    with pytest.raises(CellExecutionError) as failure:
        run_notebook(notebook, fresh, missing, tmp_path)

    assert failure.value.ename == "RuntimeError"
    message = failure.value.evalue
    assert message.startswith(f"Could not install the companion package from {missing} (")
    assert "\n" not in message and "set COMPANION_SOURCE" in message
    ran = [cell for cell in notebook.cells[1:] if cell.get("execution_count")]
    assert ran == [], "no cell may run after the set-up cell failed"
    assert not has_companion(fresh)
