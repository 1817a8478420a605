"""Optimizers with torch.optim's names, defaults, state names and state-dict format.

    opt = optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad(); loss.backward(); opt.step()

Learning-rate schedulers are in :mod:`minigrad.optim.lr_scheduler`, as in torch::

    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    ...; opt.step(); sched.step()
"""
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.sgd import SGD
from minigrad.optim.adam import Adam
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "lr_scheduler"]
