"""Automatic differentiation from scratch: a scalar engine (:class:`Value`) to read, and an
array engine (:class:`Tensor`) to train networks with.
"""

from companion.numpy.autograd.tensor import (Tensor, concatenate, cross_entropy, stack,
                                             unbroadcast)
from companion.numpy.autograd.value import (MLP, Layer, Neuron, Value, to_mermaid,
                                            topological_order, trace)

__all__ = ["MLP", "Layer", "Neuron", "Tensor", "Value", "concatenate", "cross_entropy", "stack",
           "to_mermaid", "topological_order", "trace", "unbroadcast"]
