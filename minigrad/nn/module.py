"""``Module`` and ``Parameter``, with PyTorch's semantics; ``Sequential``, ``ModuleList``,
``ModuleDict``.

A Module owns three ordered registries, filled by ``__setattr__``::

    _parameters  name -> Parameter (or None)     trained by optimizers, saved in state_dict
    _buffers     name -> Tensor (or None)        state that is not trained (BatchNorm's running
                                                 statistics), saved unless non-persistent
    _modules     name -> Module (or None)        children; their entries get dotted names

Forward pre-hooks (``register_forward_pre_hook``) run before ``forward`` on every call, in
registration order; ``nn.utils.spectral_norm`` is one.

Iteration order is registration order (dicts, never sets), so ``parameters()`` and
``state_dict()`` are deterministic and line up with a PyTorch model built the same way.

Speed: attribute access (``self.weight`` in every forward) is hot. PyTorch finds parameters
through ``__getattr__``, which Python only calls after a failed normal lookup. Here each
registry is a small dict subclass that mirrors its entries into the instance ``__dict__``, so
``self.weight`` is a plain dict hit; ``__getattr__`` remains as the fallback for anything that
is only in a registry.
"""
from __future__ import annotations

import collections
import weakref
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: a leaf that requires grad by default.

    Assigning one as a Module attribute registers it. ``Parameter(t)`` shares ``t``'s array.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        if isinstance(data, Tensor):
            if data._ctx is not None:
                raise ValueError("Parameter(): expected a leaf tensor; got the result of an "
                                 f"op ({type(data._ctx).__name__}): pass t.detach()")
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.data, self.requires_grad, self.grad))


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(data, requires_grad)
    p.grad = grad
    return p


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


_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


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


def _addindent(text, n):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _as_numpy(value):
    """A state-dict value (numpy array, minigrad Tensor, torch tensor, number) as an ndarray."""
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
        return value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    if hasattr(value, "get") and callable(value.get) and hasattr(value, "device"):  # cupy
        return value.get()
    return np.asarray(value)


class Module:
    """Base class of every layer and model (PyTorch's ``nn.Module`` semantics).

    Subclasses call ``super().__init__()`` first, assign Parameters, buffers (via
    ``register_buffer``) and sub-Modules as attributes, and define ``forward``::

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(2, 64)      # registered as child "fc1"
                self.fc2 = nn.Linear(64, 1)

            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))
    """

    training: bool
    _version = 1

    def __init__(self):
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = _Registry(self)
        d["_buffers"] = _Registry(self)
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = _Registry(self)
        d["_forward_pre_hooks"] = OrderedDict()

    # ------------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        hooks = self.__dict__.get("_forward_pre_hooks")  # absent in modules pickled before hooks
        if hooks:
            for hook in list(hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        return self.forward(*args, **kwargs)

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False) \
            -> RemovableHandle:
        """Run ``hook(module, args)`` before every ``forward`` (PyTorch's semantics).

        ``args`` is the tuple of positional inputs (keyword arguments go to ``forward``
        untouched). A hook returning None leaves the inputs as they are; a hook returning a value
        replaces them (a non-tuple is wrapped as a 1-tuple). Hooks run in registration order;
        ``prepend=True`` puts this one first. Returns a handle whose ``remove()`` unregisters it.
        """
        if not callable(hook):
            raise TypeError(f"register_forward_pre_hook: expected a callable, got "
                            f"{type(hook).__name__}")
        hooks = self.__dict__.get("_forward_pre_hooks")
        if hooks is None:
            hooks = self.__dict__["_forward_pre_hooks"] = OrderedDict()
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # ------------------------------------------------------------- registration
    def _check_name(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call "
                                 f"(call super().__init__() first in {type(self).__name__})")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got {name!r}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def _forget(self, name):
        """Remove ``name`` from every registry and from the plain attributes."""
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
        self._non_persistent_buffers_set.discard(name)
        self.__dict__.pop(name, None)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared but absent parameter such as ``bias=False``)."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute {name!r} already exists")
        if param is not None:
            if not isinstance(param, Parameter):
                raise TypeError(f"cannot assign {type(param).__name__!r} object to parameter "
                                f"{name!r} (minigrad.nn.Parameter or None required)")
            if param._ctx is not None:
                raise ValueError(
                    f"cannot assign non-leaf Tensor to parameter {name!r}: model parameters must "
                    "be created explicitly (wrap a computed tensor as Parameter(t.detach()))")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: a Tensor that is state but not a parameter (running statistics).

        Persistent buffers are part of ``state_dict()``; non-persistent ones are not.
        """
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__!r} object to buffer {name!r} "
                            "(minigrad Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module, reachable as the attribute ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_name(name, "parameter")
            if name not in d["_parameters"]:
                self._forget(name)
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self._check_name(name, "module")
            if name not in d["_modules"]:
                self._forget(name)
            self.add_module(name, value)
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__!r} as parameter {name!r} "
                                "(minigrad.nn.Parameter or None expected)")
            self._parameters[name] = None
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__!r} as child module {name!r} "
                                "(minigrad.nn.Module or None expected)")
            self._modules[name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__!r} as buffer {name!r} "
                                "(minigrad Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only reached when normal lookup fails; registries are mirrored into __dict__, so this
        # handles the rare entry that is only in a registry, and produces the error message.
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            r = d.get(reg)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __setstate__(self, state):
        self.__dict__.update(state)
        for reg in ("_parameters", "_buffers", "_modules"):
            r = state.get(reg)
            if isinstance(r, _Registry):
                r._owner = self
                self.__dict__.update(r)

    # ----------------------------------------------------------------- iteration
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, m in mods:
            for k, v in get_members(m):
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + k, v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in registration order; shared parameters once."""
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                   remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                   remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (``self.training``) on this module and all descendants."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode: BatchNorm uses running statistics, Dropout is the identity."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Switch ``requires_grad`` on every parameter (freeze D during the G step)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._wrap(p.xp.zeros_like(p.data), False, None)

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        """Call ``fn`` on every descendant (children first) and then on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ devices, dtypes
    def _apply_to_tensors(self, convert):
        for m in self.modules():
            for reg in (m._parameters, m._buffers):
                for t in reg.values():
                    if t is None:
                        continue
                    t.data = convert(t.data)
                    if t.grad is not None:
                        t.grad = Tensor._wrap(convert(t.grad.data), False, None)
        return self

    def to(self, device=None, dtype=None) -> "Module":
        """Move parameters and buffers to ``device`` and/or cast floating ones to ``dtype``, in
        place (the Parameter objects stay the same, so optimizers keep working).

        Accepts ``to('cuda')``, ``to(np.float64)``, ``to(device='cpu', dtype='float32')``.
        """
        if device is not None and not isinstance(device, backend.Device):
            try:
                device = backend.Device(device)
            except (ValueError, TypeError):
                device, dtype = None, device
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")

        def convert(a):
            if dtype is not None and a.dtype.kind == "f" and a.dtype != dtype:
                a = a.astype(dtype)
            if device is not None and backend.device_of(a) != device:
                a = backend.to_device(a, device)
            return a
        return self._apply_to_tensors(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    # ---------------------------------------------------------------- state dict
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict: dotted name -> numpy array (a copy) for every parameter and
        persistent buffer; ``keep_vars=True`` gives the Tensors themselves instead."""
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.numpy().copy()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.numpy().copy()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def _state_entries(self):
        """dotted name -> the Tensor the state dict entry would load into."""
        out = OrderedDict()
        for prefix, m in self.named_modules(remove_duplicate=False):
            pre = prefix + "." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[pre + name] = p
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers_set:
                    out[pre + name] = b
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` (numpy arrays, minigrad or torch tensors) into this
        module's parameters and buffers, in place.

        As in PyTorch: with ``strict=True`` missing and unexpected keys are errors; with
        ``strict=False`` they are returned; a shape mismatch is an error either way. Every
        problem is listed in one RuntimeError, and nothing is loaded when there is one.
        Returns ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"expected a dict-like state_dict, got {type(state_dict).__name__}")
        own = self._state_entries()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, todo = [], []
        for k, t in own.items():
            if k not in state_dict:
                continue
            value = _as_numpy(state_dict[k])
            if value.shape != t.shape:
                errors.append(f"size mismatch for {k}: copying a param with shape "
                              f"{tuple(value.shape)} from checkpoint, the shape in current "
                              f"model is {tuple(t.shape)}.")
                continue
            todo.append((t, value))
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for t, value in todo:
            xp = t.xp
            t.data[...] = xp.asarray(value) if xp is not np else value
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (override in layers)."""
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(m), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


# ============================================================================ containers
class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Built from modules (named "0", "1", ...) or from one OrderedDict of name -> module.
    Supports indexing (a slice gives a Sequential), ``len``, iteration and ``append``.
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
        if isinstance(idx, slice):
            for key in list(self._modules.keys())[idx]:
                del self._modules[key]
        else:
            del self._modules[list(self._modules.keys())[self._index(idx)]]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "Sequential":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        mods = list(self._modules.values())
        n = len(mods)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range")
        mods.insert(index % (n + 1) if index < 0 else index, module)
        for k in list(self._modules.keys()):
            del self._modules[k]
        for i, m in enumerate(mods):
            self.add_module(str(i), m)
        return self


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ... (no forward of its own)."""

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
        for k in list(self._modules.keys()):
            del self._modules[k]
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

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
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        mods = list(self._modules.values())
        mods.insert(index, module)
        for k in list(self._modules.keys()):
            del self._modules[k]
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

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


__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "RemovableHandle"]
