"""Offline data sets for every chapter: nothing here touches the network.

- :mod:`companion.data.digits`: scikit-learn's bundled 8x8 digits with a fixed stratified
  60/20/20 split, as NumPy arrays or torch ``DataLoader`` objects.
- :mod:`companion.data.text`: a ~1 MB character corpus built from the docstrings of Python's
  standard library.
- :mod:`companion.data.synthetic`: small generated sets (XOR, moons, spirals, a ring of
  Gaussians, 1-D regression, copy/reverse/addition sequence tasks).

Importing this package imports neither torch nor scikit-learn; they load on first use.
"""

from companion.data.digits import SPLIT_SIZES, digits_loaders, load_digits, split_indices
from companion.data.synthetic import (
    PAD,
    REGRESSION_FUNCTIONS,
    SEQUENCE_VOCAB,
    addition_task,
    copy_task,
    decode_sequence,
    gaussian_ring,
    linearly_separable,
    regression_1d,
    reverse_task,
    spirals,
    two_moons,
    xor,
)
from companion.data.text import Corpus, build_stdlib_text, load_corpus

__all__ = [
    "PAD",
    "REGRESSION_FUNCTIONS",
    "SEQUENCE_VOCAB",
    "SPLIT_SIZES",
    "Corpus",
    "addition_task",
    "build_stdlib_text",
    "copy_task",
    "decode_sequence",
    "digits_loaders",
    "gaussian_ring",
    "linearly_separable",
    "load_corpus",
    "load_digits",
    "regression_1d",
    "reverse_task",
    "spirals",
    "split_indices",
    "two_moons",
    "xor",
]
