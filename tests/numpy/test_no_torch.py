"""companion.numpy must work on a machine without torch: nothing in it may import torch."""

import pathlib
import re
import subprocess
import sys

import companion.numpy

PACKAGE_DIR = pathlib.Path(companion.numpy.__file__).parent

IMPORTS_WITHOUT_TORCH = """
import importlib, pkgutil, sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import companion.numpy
names = [info.name for info in pkgutil.walk_packages(companion.numpy.__path__, "companion.numpy.")]
for name in names:
    importlib.import_module(name)
assert "companion.numpy.linear" in names, names
print(len(names))
"""


def test_package_and_every_submodule_import_without_torch():
    result = subprocess.run([sys.executable, "-c", IMPORTS_WITHOUT_TORCH], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 8


TORCH_IMPORT = re.compile(r"^\s*(import\s+torch\b|from\s+torch\b)|import_module\(\s*['\"]torch"
                          r"|__import__\(\s*['\"]torch", re.MULTILINE)


def test_no_source_file_imports_torch():
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) >= 8
    offenders = [str(path) for path in files if TORCH_IMPORT.search(path.read_text())]
    assert offenders == []


def test_the_torch_import_pattern_can_fail():
    assert TORCH_IMPORT.search("x = 1\n    import torch.nn as nn\n")
    assert TORCH_IMPORT.search("from torch import nn")
    assert not TORCH_IMPORT.search('"""Torch is never imported here: torch.nn.Linear"""')
