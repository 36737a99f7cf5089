"""Companion package of the executable deep-learning course.

``companion.numpy`` holds from-scratch NumPy implementations (it never imports torch),
``companion.torch`` the same components written from PyTorch primitives, and
``companion.data`` the offline data sets every chapter uses.

Importing it applies the thread policy of :mod:`companion.runtime` to this process.
"""

from companion import runtime as _runtime

__version__ = "0.1.0"

_runtime.apply()
