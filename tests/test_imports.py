"""The package's floors: companion.core under everything, and the torch and data halves never
reaching into companion.numpy (the twins stand side by side on the core, not on each other)."""

import subprocess
import sys

import pytest

# Import every submodule of one package in a fresh interpreter and print what it pulled in.
IMPORTED_BY = """
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
names = [info.name for info in pkgutil.walk_packages(package.__path__, sys.argv[1] + ".")]
for name in names:
    importlib.import_module(name)
print(len(names))
print(" ".join(sorted(sys.modules)))
"""


def imported_by(package: str) -> tuple[int, set[str]]:
    """(number of submodules of ``package``, every module loaded by importing them all)."""
    result = subprocess.run([sys.executable, "-c", IMPORTED_BY, package], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    count, modules = result.stdout.strip().split("\n")
    return int(count), set(modules.split())


def of(package: str, modules: set[str]) -> set[str]:
    return {name for name in modules if name == package or name.startswith(package + ".")}


@pytest.mark.parametrize("package, at_least", [("companion.torch", 20), ("companion.data", 4)])
def test_torch_and_data_never_import_companion_numpy(package, at_least):
    count, modules = imported_by(package)
    assert count >= at_least
    assert of("companion.core", modules), "the core is what both halves stand on"
    assert of("companion.numpy", modules) == set()


def test_the_core_imports_neither_half_nor_torch():
    count, modules = imported_by("companion.core")
    assert count >= 3
    assert of("companion.numpy", modules) | of("companion.torch", modules) == set()
    assert of("companion.data", modules) | of("torch", modules) == set()


def test_the_check_sees_an_import_of_companion_numpy():
    _, modules = imported_by("companion.numpy")
    assert "companion.numpy.linear" in of("companion.numpy", modules)
