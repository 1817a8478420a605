"""``Module`` and ``Parameter``, with PyTorch's semantics (the containers ``Sequential``,
``ModuleList`` and ``ModuleDict`` are in :mod:`minigrad.nn.containers`, re-exported here).

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
from collections import OrderedDict
from typing import Callable, Iterator

import numpy as np

from minigrad import backend
from minigrad.autograd.function import mark_modified
from minigrad.nn.parameter import Parameter, _rebuild_parameter  # noqa: F401 (old pickles)
from minigrad.nn.registry import RemovableHandle, _Registry, _rebuild_registry  # noqa: F401
from minigrad.tensor import Tensor


_IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


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
        elif "_parameters" in d and name in d["_parameters"]:  # before Module, as in torch
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__!r} as parameter {name!r} "
                                "(minigrad.nn.Parameter or None expected)")
            self._parameters[name] = None
        elif isinstance(value, Module):
            self._check_name(name, "module")
            if name not in d["_modules"]:
                self._forget(name)
            self.add_module(name, value)
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
        """Set training mode (``self.training``) on this module, then call each child's
        ``train(mode)`` (as PyTorch, so a child that overrides ``train`` is honoured)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.__dict__["training"] = mode
        for m in self.children():
            m.train(mode)
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
        mark_modified([t for t, _ in todo])  # a graph recorded before this cannot backward
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


# The containers live in minigrad/nn/containers.py (they subclass Module); re-exported here so
# ``from minigrad.nn.module import Sequential`` keeps working.
from minigrad.nn.containers import ModuleDict, ModuleList, Sequential  # noqa: E402

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "RemovableHandle"]
