"""The package's code as the book shows it: definitions only, folded, NumPy and PyTorch in tabs."""

import companion.numpy as cn
import companion.torch as ct
from companion.notebook import definition, show_source, source_tabs


def scaled(x, factor):
    """Multiply ``x`` by ``factor``."""

    if factor <= 0:
        raise ValueError(f"factor must be positive, got {factor}")
    check_finite(x)  # noqa: F821  (never called: only its source is read)
    return x * factor  # the idea


def test_definition_drops_docstrings_and_argument_checks():
    assert definition(scaled) == "def scaled(x, factor):\n    return x * factor  # the idea\n"


def checked(x, rate, scale, layers):
    x = tensor_input(x, "x")  # noqa: F821
    rate, scale = real_number(rate, "rate"), positive_int(scale, "scale")  # noqa: F821
    for n in layers:
        positive_int(n, "n")  # noqa: F821
    self.rate = real_number(rate, "rate")  # noqa: F821
    y = flag(x, "x")  # noqa: F821
    return x * rate


def test_definition_drops_arguments_checked_and_rebound_to_themselves():
    assert definition(checked) == ("def checked(x, rate, scale, layers):\n"
                                   '    self.rate = real_number(rate, "rate")  # noqa: F821\n'
                                   '    y = flag(x, "x")  # noqa: F821\n'
                                   "    return x * rate\n")


def test_definition_keeps_the_code_of_a_package_method():
    shown = definition(cn.Embedding.forward)
    assert shown.startswith("def forward(") and "return" in shown and '"""' not in shown


def test_show_source_is_folded_and_highlighted():
    shown = show_source(cn.Embedding.forward)
    html = shown._repr_html_()
    assert html.startswith("<details") and 'class="highlight"' in html
    assert "companion.numpy.embedding.Embedding.forward" in html
    # the PDF has no folding: there it is a Markdown code block of the same definition
    assert shown._repr_markdown_() == ("Source: `companion.numpy.embedding.Embedding.forward`"
                                       f"\n\n```python\n{definition(cn.Embedding.forward)}```")


def test_source_tabs_sync_numpy_and_pytorch():
    tabs = source_tabs(numpy=(cn.Embedding.forward, cn.Embedding.backward),
                       torch=ct.Embedding.forward)
    # in the PDF, both versions one after the other
    markdown = tabs._repr_markdown_()
    assert markdown.index("(NumPy)") < markdown.index("(PyTorch)")
    assert markdown.count("```python") == 2 and "def backward(" in markdown
    html = tabs._repr_html_()
    # a whole module is named by its own name
    assert "Source: `companion.torch.dropout` (PyTorch)" in source_tabs(cn.Dropout.forward,
                                                                       ct.dropout)._repr_markdown_()
    assert html.count('class="sd-tab-label" data-sync-group="implementation"') == 2
    assert 'data-sync-id="numpy"' in html and 'data-sync-id="torch"' in html
    assert html.count("<input") == 2 and html.count(" checked ") == 1
