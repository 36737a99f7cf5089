"""What both halves stand on: argument checks, window arithmetic and stable NumPy maths.

``companion.numpy``, ``companion.data`` and ``companion.torch`` all import from here, and nothing
here imports them (or torch), so neither half depends on the other:

- :mod:`companion.core.checks`: argument checks whose errors name the argument, what was
  expected and what came (``positive_int``, ``pair``, ``as_float_array``, ...).
- :mod:`companion.core.shapes`: output sizes of convolution and pooling windows.
- :mod:`companion.core.functional`: numerically stable sigmoid, log-sum-exp, softmax and
  log-softmax on NumPy arrays, and the softmax's backward.
- :mod:`companion.core.training`: the ``History`` every training loop returns, and early
  stopping, shared by ``fit`` in both halves.
"""
