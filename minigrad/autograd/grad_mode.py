"""Grad mode: the one piece of global state in minigrad.

``no_grad()``, ``enable_grad()`` and ``set_grad_enabled(flag)`` work as context managers and as
decorators. The flag lives in a ``ContextVar`` so threads and async tasks each see their own value.
"""
from __future__ import annotations

import contextvars
import functools

_grad_enabled = contextvars.ContextVar("minigrad_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """True when new ops record the graph needed for backward."""
    return _grad_enabled.get()


class set_grad_enabled:
    """Turn graph recording on or off inside a ``with`` block or a decorated function.

    Used as a plain call (``set_grad_enabled(False)``) it also sets the mode until changed, like
    PyTorch.
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._token = _grad_enabled.set(self.mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _grad_enabled.reset(self._token)
        return False

    def __call__(self, fn):
        # Used as a decorator: undo the immediate effect of __init__, apply only inside fn.
        _grad_enabled.reset(self._token)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            token = _grad_enabled.set(self.mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _grad_enabled.reset(token)

        return wrapper


class _Mode:
    """Base of no_grad/enable_grad: the mode is set on entry (not on construction).

    Usable as ``with no_grad():``, ``@no_grad()`` and, as in torch, bare ``@no_grad``."""

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is None:
            return self
        if not callable(func):
            raise TypeError(f"{cls.__name__}() takes no arguments (or decorates a function)")
        return self(func)

    def __enter__(self):
        self._token = _grad_enabled.set(self.mode)
        return self

    def __exit__(self, *exc):
        _grad_enabled.reset(self._token)
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            token = _grad_enabled.set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _grad_enabled.reset(token)

        return wrapper


class no_grad(_Mode):
    """Ops inside record nothing: outputs have no ``_ctx`` and ``requires_grad=False``."""

    mode = False


class enable_grad(_Mode):
    """Turn recording back on inside a ``no_grad`` block."""

    mode = True
