"""Layers with PyTorch's argument names, defaults, weight layouts and default initialisation.

Every parameter exists from construction (explicit sizes, no lazy shapes), so optimizers and
``state_dict`` see the whole model at once, and state dicts load into the same PyTorch model.

Default init (PyTorch's): weights ``kaiming_uniform_(a=sqrt(5))`` = U(-1/sqrt(fan_in),
1/sqrt(fan_in)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

Bad inputs fail early with the layer and both shapes in the message, e.g.
``ValueError: Conv2d(1, 64, kernel_size=(4, 4), ...) expects 1 input channels, got input of
shape (64, 3, 64, 64) (weight shape (64, 1, 4, 4))``.
"""
from minigrad.nn.layers.activation import (CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish,
                                           Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish,
                                           PReLU, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softplus,
                                           Softsign, Tanh)
from minigrad.nn.layers.attention import MultiheadAttention
from minigrad.nn.layers.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from minigrad.nn.layers.dropout import Dropout, Dropout2d
from minigrad.nn.layers.linear import Identity, Linear
from minigrad.nn.layers.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss,
                                     L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from minigrad.nn.layers.normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d,
                                              LayerNorm, SyncBatchNorm)
from minigrad.nn.layers.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                                        AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d,
                                        MaxPool2d)
from minigrad.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from minigrad.nn.layers.shape import Flatten, ReflectionPad2d, Unflatten, Upsample, ZeroPad2d
from minigrad.nn.layers.sparse import Embedding
from minigrad.nn.layers.transformer import (Transformer, TransformerDecoder,
                                            TransformerDecoderLayer, TransformerEncoder,
                                            TransformerEncoderLayer)

__all__ = [
    "Identity", "Linear", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d",
    "SyncBatchNorm", "InstanceNorm2d", "LayerNorm", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d", "Dropout", "Dropout2d", "Embedding", "Upsample",
    "ReflectionPad2d", "ZeroPad2d", "Flatten", "Unflatten", "ReLU", "LeakyReLU", "Tanh",
    "Sigmoid", "Softplus", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "BCELoss",
    "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
    # torch's other activations, GroupNorm and the robust regression losses
    "GELU", "ELU", "SELU", "CELU", "SiLU", "Mish", "Hardtanh", "ReLU6", "Hardsigmoid",
    "Hardswish", "LogSigmoid", "Softsign", "GLU", "PReLU", "GroupNorm", "SmoothL1Loss",
    "HuberLoss", "Conv1d", "ConvTranspose1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d",
    # recurrent layers
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    # attention
    "MultiheadAttention",
    # transformer layers
    "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerDecoder", "Transformer",
]
