"""The course's components written from PyTorch primitives, mirroring ``companion.numpy``.

Each layer has torch's constructor signature and parameter names, so
``ours.load_state_dict(builtin.state_dict())`` works strictly; none wraps the built-in module it
mirrors. ``training`` holds the small fit loop the chapters share, ``device`` picks the GPU when
there is one.
"""

from companion import runtime as _runtime
from companion.torch.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from companion.torch.attention import MultiheadAttention, scaled_dot_product_attention
from companion.torch.conv import Conv2d
from companion.torch.device import default_device, to_device
from companion.torch.dropout import Dropout
from companion.torch.embedding import Embedding
from companion.torch.linear import Flatten, Linear
from companion.torch.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from companion.torch.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from companion.torch.pooling import AvgPool2d, MaxPool2d
from companion.torch.recurrent import GRU, LSTM, RNN
from companion.torch.training import EarlyStopping, History, accuracy, evaluate, fit, seed_everything

__all__ = [
    "Linear", "Flatten", "Conv2d", "MaxPool2d", "AvgPool2d", "RNN", "LSTM", "GRU", "Embedding",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "MultiheadAttention",
    "scaled_dot_product_attention",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
    "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
    "default_device", "to_device", "seed_everything", "fit", "evaluate", "accuracy", "History",
    "EarlyStopping",
]

_runtime.apply()  # torch is loaded now: give it the policy's thread pools
