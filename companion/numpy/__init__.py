"""From-scratch NumPy deep learning: layers, losses, optimisers and autograd.

Nothing in this package imports torch; names, parameter layouts and defaults follow torch, so
weights copy across without transposes.
"""

from companion.numpy.module import Module
