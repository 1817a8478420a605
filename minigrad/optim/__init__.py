"""Optimizers with torch.optim's names, defaults, state names and state-dict format.

    opt = optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad(); loss.backward(); opt.step()
"""
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.sgd import SGD
from minigrad.optim.adam import Adam
from minigrad.optim.rmsprop import RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop"]
