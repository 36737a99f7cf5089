"""One figure style for the whole book: sized to the text column, legible, sharp on any screen.

Every page imports ``companion.notebook``, which calls :func:`use_book_style`, so a new page gets
the style without doing anything. The figures are drawn for the book's text column (about 700 CSS
pixels wide at desktop width): a figure of the default width appears at its natural size, with
axis text of about 12 pixels, instead of being shrunk to fit. Inline figures are PNGs at twice
the pixel density ("retina"), crisp on high-resolution screens and when zoomed.

The layout is matplotlib's automatic tight layout (``figure.autolayout``): the pages already call
``plt.tight_layout()``, and a figure with a colorbar cannot switch from constrained to tight
layout, so the one layout engine the whole book can share is the tight one.
"""

from __future__ import annotations

import matplotlib as mpl

COLUMN_INCHES = 7.0  # the text column at 96 CSS pixels per inch: 672 px
DPI = 96  # one figure inch is one CSS inch on the page

STYLE = {
    "figure.figsize": (COLUMN_INCHES, COLUMN_INCHES * 0.6),
    "figure.dpi": DPI,
    "figure.autolayout": True,
    "savefig.dpi": 2 * DPI,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.framealpha": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "image.cmap": "viridis",
}


def use_book_style() -> None:
    """Apply :data:`STYLE` and, in a notebook, draw inline figures at twice the pixel density."""
    import matplotlib.pyplot  # noqa: F401  (selects the inline backend first: STYLE stays)

    mpl.rcParams.update(STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing is drawn inline
        return
    if get_ipython() is not None:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
