"""The containers: ``Sequential``, ``ModuleList`` and ``ModuleDict``, with PyTorch's semantics.

Each is a :class:`~minigrad.nn.module.Module` whose children are its entries, registered in
order under "0", "1", ... (or under their keys), so ``parameters()`` and ``state_dict()`` see
them exactly as PyTorch's containers do.
"""
from __future__ import annotations

from collections import OrderedDict

from minigrad.nn.module import Module


def _checked(modules, where):
    """``modules`` as a list, after checking that each is a Module (or None, as ``add_module``
    allows): a bad element raises TypeError naming its type before the container changes."""
    modules = list(modules)
    for i, m in enumerate(modules):
        if m is not None and not isinstance(m, Module):
            raise TypeError(f"{where}: element {i} is {type(m).__name__}, not a Module subclass")
    return modules


def _set_children(container, modules):
    """Make ``modules`` the container's children, registered as "0", "1", ... in order."""
    for key in list(container._modules):
        del container._modules[key]
    for i, m in enumerate(modules):
        container.add_module(str(i), m)


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Built from modules (named "0", "1", ...) or from one OrderedDict of name -> module.
    Supports indexing (a slice gives a Sequential), ``len``, iteration and ``append``. As in
    PyTorch, ``del`` and ``insert`` renumber the children "0", "1", ... (names are lost).
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (OrderedDict, dict)):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def _index(self, idx):
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} of "
                             f"length {n}")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[self._index(idx)]

    def __setitem__(self, idx, module):
        key = list(self._modules.keys())[self._index(idx)]
        self.add_module(key, module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        del mods[idx if isinstance(idx, slice) else self._index(idx)]
        _set_children(self, mods)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "Sequential":
        for m in _checked(modules, "Sequential.extend"):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        mods = list(self._modules.values())
        n = len(mods)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range")
        mods.insert(index, module)  # a negative index counts as list.insert's (and torch's)
        _set_children(self, _checked(mods, "Sequential.insert"))
        return self


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ... (no forward of its own)."""

    def __repr__(self):
        """torch's: a run of children with the same repr printed once, as ``(0-5): 6 x ...``."""
        from minigrad.nn.module import _addindent
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []  # [first index, last index, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_addindent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}", 2)
                 for a, b, r in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx):
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for ModuleList of length {n}")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(self._index(idx))]

    def __setitem__(self, idx, module):
        self.add_module(str(self._index(idx)), module)

    def __delitem__(self, idx):
        mods = list(self._modules.values())
        del mods[idx]
        _set_children(self, mods)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in _checked(modules, "ModuleList.extend"):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, module)
        _set_children(self, _checked(mods, "ModuleList.insert"))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it instead")


class ModuleDict(Module):
    """An ordered dict of named modules, registered as children under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        m = self._modules[key]
        del self._modules[key]
        return m

    def clear(self):
        for k in list(self._modules.keys()):
            del self._modules[k]

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward(): index it instead")


__all__ = ["Sequential", "ModuleList", "ModuleDict"]
