"""Automatic differentiation from scratch: a scalar engine (:class:`Value`) to read, and an
array engine (:class:`Tensor`) to train networks with. Both record the same kind of graph
(:mod:`~companion.numpy.autograd.graph`) and follow the same gradient rule.
"""

from companion.numpy.autograd.broadcasting import unbroadcast
from companion.numpy.autograd.functional import concatenate, cross_entropy, stack
from companion.numpy.autograd.graph import to_mermaid, topological_order, trace
from companion.numpy.autograd.nn import MLP, Layer, Neuron
from companion.numpy.autograd.tensor import Tensor
from companion.numpy.autograd.value import Value

__all__ = ["MLP", "Layer", "Neuron", "Tensor", "Value", "concatenate", "cross_entropy", "stack",
           "to_mermaid", "topological_order", "trace", "unbroadcast"]
