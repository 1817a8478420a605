"""Checkpoints without pickle: ``save(obj, path)`` and ``load(path, device=None)``.

What can be saved: nested dicts, lists and tuples whose leaves are NumPy (or CuPy) arrays,
minigrad Tensors, NumPy scalars and Python scalars (``int``, ``float``, ``bool``, ``str``,
``None``). Dict keys may be ``str``, ``int``, ``float``, ``bool``, ``None`` or tuples of those:
an optimizer state dict keeps its integer keys. That covers ``module.state_dict()``,
``optimizer.state_dict()``, training counters and an RNG state::

    minigrad.save({"model": G.state_dict(), "opt": opt.state_dict(), "epoch": 3}, "ckpt.npz")
    ckpt = minigrad.load("ckpt.npz")                  # arrays come back as numpy arrays
    ckpt = minigrad.load("ckpt.npz", device="cuda")   # ... or moved to the GPU

File format: an ordinary ``.npz`` (a zip of ``.npy`` files) that ``numpy.load(path,
allow_pickle=False)`` reads. Every array is stored under a key ``a0``, ``a1``, ...; the key
``__minigrad__`` holds a UTF-8 JSON document (as a uint8 array) describing the nested structure,
with the scalars inline and ``{"a": "a3"}`` where an array goes. An array (or Tensor) met twice is
stored once and loads as one object, as ``torch.load`` keeps a tensor saved under two names
shared (views of one array are stored apart). Nothing is pickled, so loading a file cannot
execute code.

Tensors are stored as their data and come back as **arrays**, not Tensors: a state dict is data,
and ``Module.load_state_dict`` / ``Optimizer.load_state_dict`` copy arrays into the live
parameters and buffers (this mirrors ``torch.load`` returning plain tensors, with no autograd
history). Wrap with ``minigrad.tensor(a)`` if a Tensor is wanted.

Writes are atomic: the file is written to a temporary file in the same directory, flushed and
fsync'ed, then renamed over ``path`` with :func:`os.replace`. A crash mid-write leaves the old
checkpoint (or no file) and never a truncated one.
"""
from __future__ import annotations

import errno
import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor

__all__ = ["save", "load", "CheckpointError"]

_STRUCT_KEY = "__minigrad__"
_FORMAT = "minigrad-checkpoint"
_VERSION = 1


class CheckpointError(ValueError):
    """A file that exists but is not a readable minigrad checkpoint (corrupt, truncated, foreign)."""


# --------------------------------------------------------------------------- encoding

def _where(path: list) -> str:
    return "obj" + "".join(f"[{k!r}]" for k in path)


def _encode(obj, arrays: dict, path: list, seen: dict):
    """The JSON description of ``obj``; arrays are moved into ``arrays`` under fresh keys, one
    key per array object (``seen``: id -> key), so an array stored twice loads as one object.

    Every node is a one-key dict whose key says what it is::

        {"v": 1.5}    a Python scalar: None, bool, int, float (nan/inf allowed), str
        {"a": "a0"}   an array;   {"n": "a0"}  a NumPy scalar (stored as a 0-d array)
        {"l": [...]}  a list;     {"t": [...]} a tuple
        {"d": [[key, value], ...]}  a dict, keys encoded like values, insertion order kept
    """
    if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
        key = f"a{len(arrays)}"
        arrays[key] = _check_array(np.asarray(obj), path)
        return {"n": key}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        if type(obj) not in (type(None), bool, int, float, str):
            # subclasses (e.g. IntEnum) would come back as the base type: say so instead
            obj = (bool if isinstance(obj, bool) else int if isinstance(obj, int)
                   else float if isinstance(obj, float) else str)(obj)
        return {"v": obj}
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, backend.array_types()):
        if id(obj) not in seen:  # obj lives as long as the structure being saved
            seen[id(obj)] = key = f"a{len(arrays)}"
            arrays[key] = _check_array(backend.to_device(obj, "cpu"), path)
        return {"a": seen[id(obj)]}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            items.append([_encode_key(k, path), _encode(v, arrays, path + [k], seen)])
        return {"d": items}
    if isinstance(obj, list):
        return {"l": [_encode(v, arrays, path + [i], seen) for i, v in enumerate(obj)]}
    if isinstance(obj, tuple):
        return {"t": [_encode(v, arrays, path + [i], seen) for i, v in enumerate(obj)]}
    hint = ""
    if hasattr(obj, "state_dict"):
        hint = "; save its .state_dict() instead"
    raise TypeError(f"minigrad.save: cannot save an object of type {type(obj).__name__} at "
                    f"{_where(path)} (only dicts, lists, tuples, arrays, Tensors and Python "
                    f"scalars can be stored without pickle){hint}")


def _encode_key(key, path):
    if key is None or isinstance(key, (bool, int, float, str)):
        return {"v": key}
    if isinstance(key, tuple):
        return {"t": [_encode_key(k, path) for k in key]}
    raise TypeError(f"minigrad.save: dict key {key!r} of type {type(key).__name__} at "
                    f"{_where(path)} cannot be stored (use str, int, float, bool, None or tuples)")


def _check_array(a: np.ndarray, path) -> np.ndarray:
    if a.dtype.hasobject:
        raise TypeError(f"minigrad.save: the array at {_where(path)} has dtype object, which "
                        "needs pickle; convert it to a numeric or string dtype")
    return a


def _decode(node, arrays: dict, device):
    (tag, value), = node.items()
    if tag == "v":
        return value
    if tag == "a":
        if device is not None:  # moved once: a second visit finds it there (a no-op)
            arrays[value] = backend.to_device(arrays[value], device)
        return arrays[value]
    if tag == "n":
        return arrays[value][()]
    if tag == "l":
        return [_decode(v, arrays, device) for v in value]
    if tag == "t":
        return tuple(_decode(v, arrays, device) for v in value)
    if tag == "d":
        return {_decode(k, arrays, None): _decode(v, arrays, device) for k, v in value}
    raise ValueError(f"unknown node tag {tag!r}")


# --------------------------------------------------------------------------- save / load

def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (nested dicts/lists/tuples of arrays, Tensors and scalars) to ``path``.

    The file is written exactly at ``path`` (no ``.npz`` suffix is added) and atomically: a
    temporary file next to it is filled, fsync'ed and renamed over ``path``.

    Raises:
        TypeError: ``obj`` contains something that cannot be stored without pickle (the message
            says where, e.g. ``obj['model']['fc.weight']``).
        OSError: the file cannot be created (``FileNotFoundError`` for a missing folder,
            ``IsADirectoryError`` when ``path`` is a folder); the message names the folder.
    """
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    doc = {"format": _FORMAT, "version": _VERSION, "root": _encode(obj, arrays, [], {})}
    text = json.dumps(doc, allow_nan=True, separators=(",", ":"))
    arrays[_STRUCT_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"minigrad.save: {path!r} is a folder; give the "
                                              "path of a file to write")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                                   suffix=".tmp")
    except OSError as e:  # name the folder, not the temporary file (nobody asked for it)
        hint = "" if os.path.exists(directory) else \
            " (create it first: os.makedirs(folder, exist_ok=True))"
        raise type(e)(e.errno, f"minigrad.save: cannot write {path!r}: the folder "
                               f"{directory!r}: {e.strerror}{hint}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; give it the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike, device=None) -> Any:
    """Read an object written by :func:`save`.

    Args:
        path: the file.
        device: ``None`` (default) returns NumPy arrays; ``"cpu"``/``"cuda"``/a ``Device`` moves
            every array there (``backend.to_device``). Tensors that were saved come back as arrays.

    A plain ``.npz`` written by ``numpy.savez`` (no minigrad structure) loads as a dict of arrays.

    Raises:
        FileNotFoundError: ``path`` does not exist (the message names it).
        CheckpointError: the file is corrupt, truncated or not a checkpoint (the message names it).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint file not found: {path!r}")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise CheckpointError(f"{path!r} holds a single .npy array, not a checkpoint")
        with npz:
            # Read everything now: the zip CRC check happens while reading.
            arrays = {k: npz[k] for k in npz.files}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path!r}: the file is corrupt, truncated "
                              f"or not a .npz file ({type(exc).__name__}: {exc})") from exc

    struct = arrays.pop(_STRUCT_KEY, None)
    if struct is None:  # a foreign .npz: its arrays by name
        return {k: (a if device is None else backend.to_device(a, device))
                for k, a in arrays.items()}
    try:
        doc = json.loads(struct.tobytes().decode("utf-8"))
        if doc.get("format") != _FORMAT:
            raise ValueError(f"unknown format {doc.get('format')!r}")
        if doc.get("version", 0) > _VERSION:
            raise ValueError(f"format version {doc['version']} is newer than this minigrad "
                             f"reads ({_VERSION})")
        return _decode(doc["root"], arrays, device)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path!r}: its structure record is "
                              f"invalid ({type(exc).__name__}: {exc})") from exc
