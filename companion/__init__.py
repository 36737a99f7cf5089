"""Companion package of the executable deep-learning course.

``companion.numpy`` holds from-scratch NumPy implementations (it never imports torch),
``companion.torch`` the same components written from PyTorch primitives, and
``companion.data`` the offline data sets every chapter uses.
"""

__version__ = "0.1.0"
