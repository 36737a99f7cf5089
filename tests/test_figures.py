"""The book's figure style: every page imports companion.notebook, which applies it."""

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402

import companion.notebook  # noqa: E402,F401  (applies the style, as on every page)
from companion.figures import COLUMN_INCHES, STYLE  # noqa: E402

COLUMN_PX = 720  # the text column at desktop width (tests/test_browser.py measures it)


def test_default_figure_fits_the_column_with_legible_text():
    fig, ax = plt.subplots()
    ax.set_xlabel("x")
    width_px = fig.get_size_inches()[0] * fig.dpi
    text_px = matplotlib.rcParams["xtick.labelsize"] * fig.dpi / 72
    plt.close(fig)
    assert width_px <= COLUMN_PX, width_px
    assert text_px >= 11, f"tick labels {text_px:.1f} px tall at their natural size"


def test_importing_the_notebook_helpers_applies_the_style():
    assert tuple(matplotlib.rcParams["figure.figsize"]) == STYLE["figure.figsize"]
    assert STYLE["figure.figsize"][0] == COLUMN_INCHES
    assert matplotlib.rcParams["figure.autolayout"]
