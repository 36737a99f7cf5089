"""Author–year labels in the bibliography, and hover previews of glossary terms.

The text cites author–year (``bibtex_reference_style: author_year``: "Kingma and Ba [2015]"), so
the bibliography labels its entries the same way ("Kingma and Ba 2015") and lists them by author
and year: ``bibtex_default_style: authoryear`` in ``_config.yml`` selects the pybtex style
registered here.

Every ``{term}`` link gets its glossary definition as its title, so hovering over it shows the
definition: built into the page, it needs no script and works offline. Citations get the same
from sphinxcontrib-bibtex (the full reference).

Loaded by Jupyter Book as a Sphinx extension (``sphinx.local_extensions`` in ``_config.yml``).
"""

from __future__ import annotations

from collections import Counter

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx import addnodes


def _surname(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year(entry) -> str:
    """``Rumelhart et al. 1986``, ``Kingma and Ba 2015``, ``Bishop 2006``: as the text cites."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people]
    if len(names) > 2:
        who = f"{names[0]} et al."
    elif names:
        who = " and ".join(names)
    else:
        who = Text.from_latex(entry.fields.get("title", entry.key)).render_as("text")
    return f"{who} {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year(entry) for entry in sorted_entries]
        repeated, seen = Counter(labels), Counter()
        for label in labels:  # two works by the same authors in one year: 2015a, 2015b
            if repeated[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def _collect_definitions(app, doctree) -> None:
    """Remember each glossary term's definition, by the id its links point to."""
    env = app.env
    if not hasattr(env, "glossary_definitions"):
        env.glossary_definitions = {}
    for glossary in doctree.findall(addnodes.glossary):
        for item in glossary.findall(nodes.definition_list_item):
            text = " ".join(d.astext() for d in item.findall(nodes.definition))
            text = " ".join(text.split())
            for term in item.findall(nodes.term):
                for term_id in term["ids"]:
                    env.glossary_definitions[term_id] = text


def _add_titles(app, doctree, docname) -> None:
    """Give every link to a glossary term the term's definition as its hover text."""
    definitions = getattr(app.env, "glossary_definitions", {})
    for ref in doctree.findall(nodes.reference):
        anchor = ref.get("refuri", "").partition("#")[2] or ref.get("refid", "")
        if anchor.startswith("term-") and anchor in definitions:
            ref["reftitle"] = definitions[anchor]


def setup(app):
    app.connect("doctree-read", _collect_definitions)
    app.connect("doctree-resolved", _add_titles)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
