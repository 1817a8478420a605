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
from minigrad.nn import layers as _layers
from minigrad.nn.layers import *  # noqa: F401,F403  (every layer: the list is layers.__all__)
from minigrad.nn.containers import ModuleDict, ModuleList, Sequential
from minigrad.nn.module import Module, Parameter
from minigrad.nn import parallel  # DistributedDataParallel (after Module: it subclasses it)

__all__ = [
    "functional", "init", "utils", "parallel", "Module", "Parameter", "Sequential", "ModuleList",
    "ModuleDict", *_layers.__all__,
]
