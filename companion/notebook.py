"""Helpers the book's notebooks share."""

from __future__ import annotations

import numpy as np

from companion.figures import use_book_style

use_book_style()  # every page imports this module, so every figure shares the book's style


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the prose (``{glue:text}`name```), as ``myst_nb.glue``.

    NumPy scalars are stored as plain Python numbers: NumPy 2 writes ``np.float64(0.5)`` for one,
    which would show in the text or fail to format under ``{glue:text}`name:.2f```.
    """
    from myst_nb import glue as myst_glue

    if isinstance(value, np.generic):
        value = value.item()
    myst_glue(name, value, display=display)
