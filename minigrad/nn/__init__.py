"""``minigrad.nn``: Module, Parameter, containers, layers, losses, ``functional`` and ``init``,
with PyTorch's names and semantics::

    import minigrad.nn as nn
    import minigrad.nn.functional as F

    D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128),
                      nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    nn.init.normal_(D[0].weight, 0.0, 0.02)     # in place, from minigrad's generator
    loss = F.binary_cross_entropy_with_logits(D(x), minigrad.ones(len(x), 1))
"""
from minigrad.nn import functional, init, utils
from minigrad.nn.layers import (AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BCELoss,
                                BCEWithLogitsLoss, BatchNorm1d, BatchNorm2d, Conv2d,
                                ConvTranspose2d, CrossEntropyLoss, Dropout, Dropout2d, Embedding,
                                Flatten, Identity, InstanceNorm2d, L1Loss, LayerNorm, LeakyReLU,
                                Linear, LogSoftmax, MaxPool2d, MSELoss, NLLLoss, ReflectionPad2d,
                                ReLU, Sigmoid, Softmax, Softplus, SyncBatchNorm, Tanh, Unflatten,
                                Upsample, ZeroPad2d)
from minigrad.nn.layers import (CELU, ELU, GELU, GLU, SELU, GroupNorm, Hardsigmoid,
                                Hardswish, Hardtanh, HuberLoss, LogSigmoid, Mish, PReLU, ReLU6,
                                SiLU, SmoothL1Loss, Softsign, Conv1d, ConvTranspose1d, MaxPool1d,
                                AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d)
from minigrad.nn.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from minigrad.nn.layers import MultiheadAttention
from minigrad.nn.containers import ModuleDict, ModuleList, Sequential
from minigrad.nn.module import Module, Parameter
from minigrad.nn import parallel  # DistributedDataParallel (after Module: it subclasses it)

__all__ = [
    "functional", "init", "utils", "parallel", "Module", "Parameter", "Sequential", "ModuleList",
    "ModuleDict",
    "Identity", "Linear", "Conv2d", "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d",
    "SyncBatchNorm", "InstanceNorm2d", "LayerNorm", "MaxPool2d", "AvgPool2d",
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Dropout", "Dropout2d", "Embedding",
    "Upsample",
    "ReflectionPad2d", "ZeroPad2d", "Flatten", "Unflatten", "ReLU", "LeakyReLU", "Tanh",
    "Sigmoid", "Softplus", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "BCELoss",
    "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
    "GELU", "ELU", "SELU", "CELU", "SiLU", "Mish", "Hardtanh", "ReLU6", "Hardsigmoid",
    "Hardswish", "LogSigmoid", "Softsign", "GLU", "PReLU", "GroupNorm", "SmoothL1Loss",
    "HuberLoss", "Conv1d", "ConvTranspose1d", "MaxPool1d", "AvgPool1d", "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    "MultiheadAttention",
]
