"""What a Module keeps its entries and hooks in: the ordered registries that mirror their entries
into the module's ``__dict__`` (so ``self.weight`` is a plain dict hit, see
:mod:`minigrad.nn.module`), and the handle that unregisters a forward pre-hook."""
from __future__ import annotations

import weakref


class _Registry(dict):
    """An ordered name -> value dict that mirrors every entry into its module's ``__dict__``
    (so attribute lookups skip ``__getattr__``) and keeps the mirror in sync on changes."""

    __slots__ = ("_owner",)

    def __init__(self, owner):
        super().__init__()
        self._owner = owner

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        owner = getattr(self, "_owner", None)  # unset while being unpickled
        if owner is not None:
            owner.__dict__[key] = value

    def __delitem__(self, key):
        super().__delitem__(key)
        owner = getattr(self, "_owner", None)
        if owner is not None:
            owner.__dict__.pop(key, None)

    def pop(self, key, *default):
        if key in self:
            value = super().__getitem__(key)
            self.__delitem__(key)
            return value
        return super().pop(key, *default)

    def update(self, *args, **kw):
        for k, v in dict(*args, **kw).items():
            self[k] = v

    def __reduce_ex__(self, protocol):
        return (_rebuild_registry, (self._owner, list(self.items())))

    def __copy__(self):
        raise TypeError("copying a module registry on its own is not supported: copy the Module")


def _rebuild_registry(owner, items):
    r = _Registry(owner)
    for k, v in items:
        r[k] = v
    return r


class RemovableHandle:
    """Returned by ``register_forward_pre_hook``: ``handle.remove()`` unregisters the hook (a
    second ``remove()`` does nothing); also a context manager that removes it on exit."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self.hooks_dict_ref = weakref.ref(hooks)
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        hooks = self.hooks_dict_ref()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


__all__ = ["RemovableHandle"]
