"""From-scratch NumPy deep learning: layers, losses, optimisers, schedules and autograd.

Nothing in this package imports torch. Class names, constructor signatures, parameter names and
layouts follow torch, so weights copy across without transposes (``Layer.from_torch(module)``).
"""

from companion.numpy.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from companion.numpy.attention import (
    MultiheadAttention,
    causal_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from companion.numpy.container import Sequential
from companion.numpy.conv import Conv2d, col2im, im2col
from companion.numpy.dropout import Dropout
from companion.numpy.embedding import Embedding
from companion.numpy.linear import Flatten, Linear
from companion.numpy.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from companion.numpy.lr_scheduler import CosineAnnealingLR, LinearWarmup, StepLR
from companion.numpy.module import Module
from companion.numpy.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from companion.numpy.optim import SGD, Adam, AdamW, RMSprop
from companion.numpy.pooling import AvgPool2d, MaxPool2d
from companion.numpy.recurrent import GRU, LSTM, RNN

__all__ = [
    "Module", "Sequential",
    "Linear", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d", "RNN", "LSTM", "GRU", "Embedding",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "MultiheadAttention",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
    "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
    "SGD", "RMSprop", "Adam", "AdamW", "StepLR", "CosineAnnealingLR", "LinearWarmup",
    "im2col", "col2im", "scaled_dot_product_attention", "scaled_dot_product_attention_backward",
    "causal_mask",
]
