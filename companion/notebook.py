"""Helpers the book's notebooks share."""

from __future__ import annotations

import inspect

import numpy as np

from companion.figures import use_book_style



def plain_outputs() -> None:
    """Outputs as a reader wants them: NumPy scalars as rounded numbers, not ``np.float64(...)``,
    and no ``<matplotlib.legend.Legend at 0x...>`` or ``Text(...)`` after a plotting cell.

    The book's pages call it by importing this module; outside IPython it does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell.display_trap, "plain_outputs", False):
        return
    from matplotlib.artist import Artist

    def scalar(value, printer, cycle):
        value = value.item()
        printer.text(f"{value:.6g}" if isinstance(value, float) else repr(value))

    plain = shell.display_formatter.formatters["text/plain"]
    for kind in {t for t in np.sctypeDict.values() if issubclass(t, (np.number, np.bool_))}:
        plain.for_type(kind, scalar)  # each concrete type: each defines its own __repr__
    shown = shell.display_trap.hook

    def hook(result):
        artists = result if isinstance(result, (list, tuple)) and result else [result]
        if not all(isinstance(a, Artist) for a in artists):  # a figure cell shows its figure only
            shown(result)

    shell.display_trap.hook = hook
    shell.display_trap.plain_outputs = True


use_book_style()  # every page imports this module, so every figure shares the book's style
plain_outputs()


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the prose (``{glue:text}`name```), as ``myst_nb.glue``.

    NumPy scalars are stored as plain Python numbers: NumPy 2 writes ``np.float64(0.5)`` for one,
    which would show in the text or fail to format under ``{glue:text}`name:.2f```.
    """
    from myst_nb import glue as myst_glue

    if isinstance(value, np.generic):
        value = value.item()
    myst_glue(name, value, display=display)


# argument checkers of companion.core.checks and companion.torch._inputs, hidden when shown
_CHECKERS = {"as_float_array", "as_index_array", "flag", "integer", "module_input",
             "positive_int", "real_number", "tensor_input"}


def definition(obj) -> str:
    """The source of a function, method or class as the book shows it: the definition only.

    Docstrings, argument checks that only raise (``if ...: raise``), calls to ``check_*``
    helpers and argument checks such as ``x = tensor_input(x, "x")`` (a name checked and
    rebound to itself) are left out: they are tested, but they hide the few lines that are the
    idea.
    """
    import ast
    import textwrap

    def checks_argument(value, target=None) -> bool:
        """``value`` is a checker called on ``target`` (or on anything, for a bare call)."""
        if isinstance(value, ast.Tuple):
            targets = target.elts if isinstance(target, ast.Tuple) else [None] * len(value.elts)
            return len(targets) == len(value.elts) and all(map(checks_argument, value.elts,
                                                                targets))
        if not (isinstance(value, ast.Call) and getattr(value.func, "id", None) in _CHECKERS
                and value.args):
            return False
        return target is None or (isinstance(target, ast.Name) and
                                  getattr(value.args[0], "id", None) == target.id)

    def is_check(node) -> bool:
        if isinstance(node, ast.Expr):
            return checks_argument(node.value)
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            return checks_argument(node.value, node.targets[0])
        return isinstance(node, ast.For) and not node.orelse and all(map(is_check, node.body))

    source = textwrap.dedent(inspect.getsource(obj))
    drop: set[int] = set()
    blank_after: set[int] = set()  # the line after a docstring, dropped if it is blank
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
                drop.update(range(first.lineno, first.end_lineno + 1))
                blank_after.add(first.end_lineno + 1)
        guard = (isinstance(node, ast.If) and not node.orelse
                 and all(isinstance(s, ast.Raise) for s in node.body))
        call = isinstance(node, ast.Expr) and getattr(node.value, "func", None)
        name = getattr(call, "id", None) or getattr(call, "attr", None) or ""
        if guard or name.startswith(("check_", "_check")) or is_check(node):
            drop.update(range(node.lineno, node.end_lineno + 1))
    lines = source.splitlines()
    drop.update(i for i in blank_after if i <= len(lines) and not lines[i - 1].strip())
    return "\n".join(line for i, line in enumerate(lines, 1) if i not in drop).strip() + "\n"


def _highlighted(objs) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(_code(objs), PythonLexer(), HtmlFormatter(cssclass="highlight"))


def _code(objs) -> str:
    return "\n\n".join(definition(obj) for obj in objs)


def _qualified(obj) -> str:
    """``package.module.Class.method``, or a module's own name."""
    if inspect.ismodule(obj):
        return obj.__name__
    return f"{obj.__module__}.{obj.__qualname__}"


def _names(objs) -> str:
    return ", ".join(f"<code>{_qualified(obj)}</code>" for obj in objs)


class Source:
    """Package source as a page shows it: a folded HTML block in the book and in Jupyter, and
    Markdown code blocks where HTML cannot go (the PDF of the book, which has no folding)."""

    def __init__(self, html: str, blocks: list[tuple[str, str]]):
        self.html, self.blocks = html, blocks  # blocks: (heading, code) pairs

    def _repr_html_(self) -> str:
        return self.html

    def _repr_markdown_(self) -> str:
        return "\n\n".join(f"{heading}\n\n```python\n{code}```" for heading, code in self.blocks)

    def __repr__(self) -> str:
        return "\n\n".join(f"# {heading}\n{code}" for heading, code in self.blocks)


def _heading(objs) -> str:
    return "Source: " + ", ".join(f"`{_qualified(obj)}`" for obj in objs)


def show_source(*objs) -> Source:
    """Show the definitions of ``objs`` (functions, methods, classes) in one folded block.

    The reader opens it to read the package's own code, so the text cannot drift from what is
    tested. In the book and in Jupyter alike it is a ``<details>`` element.
    """
    html = (f'<details class="source"><summary>Source: {_names(objs)}</summary>'
            f"{_highlighted(objs)}</details>")
    return Source(html, [(_heading(objs), _code(objs))])


def source_tabs(numpy, torch) -> Source:
    """The NumPy and PyTorch versions of one component in synchronised tabs, folded.

    ``numpy`` and ``torch`` are an object or a tuple of objects each. The tabs are
    sphinx-design's: choosing "PyTorch" on one page switches every such block, on every page,
    and the browser remembers the choice. Without sphinx-design's script (in Jupyter) both
    versions show, one after the other; so do they in the PDF.
    """
    from uuid import uuid4

    group, parts, blocks = f"sd-tab-set-{uuid4().hex}", [], []
    for label, key, objs in (("NumPy", "numpy", numpy), ("PyTorch", "torch", torch)):
        objs = objs if isinstance(objs, tuple) else (objs,)
        tab = f"{group}-{key}"
        parts.append(f'<input{" checked" if key == "numpy" else ""} id="{tab}" name="{group}" '
                     f'type="radio"><label class="sd-tab-label" data-sync-group="implementation" '
                     f'data-sync-id="{key}" for="{tab}">{label}</label>'
                     f'<div class="sd-tab-content">{_highlighted(objs)}</div>')
        blocks.append((f"{_heading(objs)} ({label})", _code(objs)))
    names = _names((numpy if isinstance(numpy, tuple) else (numpy,))[:1])
    html = (f'<details class="source"><summary>Source: {names}, NumPy and PyTorch</summary>'
            f'<div class="sd-tab-set">{"".join(parts)}</div></details>')
    return Source(html, blocks)
