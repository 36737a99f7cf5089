"""Every docstring in the package renders cleanly in the book's API reference.

The API pages use Sphinx autodoc with napoleon, and the book build treats warnings as errors.
This test does the same conversion for each docstring and parses the result with docutils, so a
stray ``*`` in a shape or a ``|x|`` read as a substitution fails here, in a second, with the
object named, rather than in a full book build.
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil

import docutils.core
import pytest
from docutils.parsers.rst import Directive, directives, roles
from sphinx.ext.napoleon import Config
from sphinx.ext.napoleon.docstring import GoogleDocstring

import companion

SPHINX_ROLES = ["func", "class", "meth", "attr", "mod", "data", "obj", "exc", "ref", "doc",
                "cite", "py:func", "py:class", "py:meth", "py:attr", "py:mod", "py:obj"]
for role in SPHINX_ROLES:
    roles.register_generic_role(role, docutils.nodes.literal)


class SphinxDirective(Directive):
    """Stands in for the Sphinx directives napoleon emits (``.. attribute::`` and the like)."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = {"type": directives.unchanged, "value": directives.unchanged,
                   "no-index": directives.flag, "noindex": directives.flag}

    def run(self):
        node = docutils.nodes.container()
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


for directive in ("attribute", "method", "function", "data", "seealso", "versionadded"):
    directives.register_directive(directive, SphinxDirective)

NAPOLEON = Config(napoleon_google_docstring=True, napoleon_numpy_docstring=True)


def public_objects():
    """(qualified name, object) for every module, class, function and method we document."""
    modules = [companion] + [importlib.import_module(m.name) for m in
                             pkgutil.walk_packages(companion.__path__, "companion.")]
    for module in modules:
        yield module.__name__, module
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") and (inspect.isfunction(member)
                                                     or isinstance(member, property)):
                        yield f"{module.__name__}.{name}.{attr}", member


def rst_problems(docstring: str) -> str:
    """docutils' warnings and errors for the reST that napoleon makes of ``docstring``."""
    rst = "\n".join(GoogleDocstring(docstring, NAPOLEON).lines())
    stream = io.StringIO()
    docutils.core.publish_doctree(rst, settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": stream})
    return stream.getvalue()


@pytest.mark.parametrize("name,obj", list(public_objects()), ids=lambda v: v if isinstance(v, str) else "")
def test_docstring_is_valid_rst(name, obj):
    docstring = inspect.getdoc(obj)
    if docstring:
        assert rst_problems(docstring) == "", f"docstring of {name} is not valid reST"


def test_a_broken_docstring_is_caught():
    assert "emphasis" in rst_problems("Input of shape (N, *).")
    assert "substitution" in rst_problems("Computes |x| elementwise.")
    assert rst_problems("Input of shape ``(N, *)``.") == ""
