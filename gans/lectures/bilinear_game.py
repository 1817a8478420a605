"""Lecture 2, non-convergence (run by examples/bilinear_game.py).

**Non-convergence.** Simultaneous gradient descent-ascent on the bilinear game
min_x max_y f(x, y) = x y spirals *away* from the unique equilibrium (0, 0): the update is
z <- (I - eta A) z with A a 90-degree rotation, so |z| grows by sqrt(1 + eta^2) every step.
Extragradient and optimistic gradient descent look one step ahead and spiral in.
"""
from __future__ import annotations

import numpy as np

import minigrad


def bilinear(x, y):
    """f(x, y) = x y: x minimises, y maximises; the only equilibrium is (0, 0)."""
    return x * y


def game_gradients(x: float, y: float, f=bilinear) -> tuple[float, float]:
    """(df/dx, df/dy) at (x, y), by minigrad's reverse mode (``minigrad.grad``)."""
    xt = minigrad.tensor(x, dtype=minigrad.float64, requires_grad=True)
    yt = minigrad.tensor(y, dtype=minigrad.float64, requires_grad=True)
    gx, gy = minigrad.grad(f(xt, yt), [xt, yt])
    return gx.item(), gy.item()


GAME_METHODS = ("simultaneous", "alternating", "extragradient", "optimistic")


def play_bilinear(method: str = "simultaneous", steps: int = 300, lr: float = 0.1,
                  start=(1.0, 1.0), f=bilinear) -> np.ndarray:
    """Iterates of gradient descent (on x) / ascent (on y) on min_x max_y f(x, y).

    With g(z) = (df/dx, df/dy) and step eta:

    - ``simultaneous``   x <- x - eta df/dx(x, y),  y <- y + eta df/dy(x, y).  On f = x y this is
      z <- (I - eta A) z with A = [[0, 1], [-1, 0]]: |z| grows by sqrt(1 + eta^2) per step.
    - ``alternating``    y uses the *new* x. On x y it conserves x^2 + y^2 - eta x y: a closed
      orbit around (0, 0) that neither diverges nor converges.
    - ``extragradient``  take a look-ahead step to z', then step from z with the gradient at z'
      (Korpelevich 1976): z <- (I - eta A + eta^2 A^2) z, |z| shrinks by
      sqrt(1 - eta^2 + eta^4) < 1 per step.
    - ``optimistic``     z <- z - 2 eta g_t + eta g_{t-1} (Daskalakis et al. 2018): the
      gradient extrapolated from the last two, one gradient per step; converges for small eta.

    Returns the (steps + 1, 2) array of iterates (x_t, y_t), starting at ``start``.
    """
    if method not in GAME_METHODS:
        raise ValueError(f"method must be one of {GAME_METHODS}, got {method!r}")
    x, y = map(float, start)
    path = [(x, y)]
    prev = game_gradients(x, y, f)
    for _ in range(steps):
        if method == "simultaneous":
            gx, gy = game_gradients(x, y, f)
            x, y = x - lr * gx, y + lr * gy
        elif method == "alternating":
            gx, _ = game_gradients(x, y, f)
            x = x - lr * gx
            _, gy = game_gradients(x, y, f)
            y = y + lr * gy
        elif method == "extragradient":
            gx, gy = game_gradients(x, y, f)
            xh, yh = x - lr * gx, y + lr * gy  # look ahead ...
            gx, gy = game_gradients(xh, yh, f)
            x, y = x - lr * gx, y + lr * gy  # ... and step from where we were
        else:  # optimistic
            gx, gy = game_gradients(x, y, f)
            x, y = x - lr * (2 * gx - prev[0]), y + lr * (2 * gy - prev[1])
            prev = (gx, gy)
        path.append((x, y))
    return np.asarray(path)
