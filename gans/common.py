"""Building blocks shared by several variants: the MLP block, the image-history pool (CycleGAN)
and image grids, and the two helpers that let one network class serve both frameworks
(:func:`on`, :func:`package`). The protocol every variant follows is in :mod:`gans.protocol`,
the losses in :mod:`gans.losses`, the penalties in :mod:`gans.penalties`."""
from __future__ import annotations

import functools
import importlib
import types
from pathlib import Path

import numpy as np

import minigrad
from minigrad import nn


# ------------------------------------------------------------- one network, two frameworks
# A variant's networks are written once, on minigrad's ``nn``; the PyTorch twins
# (benchmarks/twins.py) build the very same classes on ``torch.nn``, as the toy GANs'
# builders take ``lib=``. A network class derives from :class:`Network` and builds its layers
# from its class attribute ``lib``; otherwise it is an ordinary module (``super().__init__()``
# first), and :func:`on` rebases its body on another library's Module.
def package(lib):
    """The top-level package of the module library ``lib``: ``minigrad`` for ``minigrad.nn``,
    ``torch`` for ``torch.nn``; both have ``cat``, ``full_like``, ``rand``, ``tensor``, ``Tensor``
    and ``autograd.grad`` with the same signatures."""
    return importlib.import_module(lib.__name__.partition(".")[0])


@functools.cache
def on(lib, cls):
    """The network class ``cls`` (written on minigrad's ``nn``, see above) as a ``lib.Module``:
    ``on(torch.nn, Generator)`` is the PyTorch twin's generator, with the same code, layers,
    parameter names and forward; ``on(cls.lib, cls)`` is ``cls`` itself.

    The body's methods are copied with their ``__class__`` cell (what zero-argument ``super()``
    reads) pointing at the new class, as the compiler does for a class statement, so that
    ``super().__init__()`` in ``cls`` initialises ``lib.Module`` in the copy."""
    if lib is cls.lib:
        return cls
    cell = types.CellType()  # filled with the new class by type() (``__classcell__``)
    body = {k: _with_class_cell(v, cell) for k, v in vars(cls).items()
            if k not in ("__dict__", "__weakref__")}
    return type(cls.__name__, (lib.Module,), {**body, "lib": lib, "__classcell__": cell})


def _with_class_cell(fn, cell):
    """The function ``fn`` with ``cell`` as its ``__class__`` cell; anything else (a function
    that does not use ``super()`` or ``__class__``, a non-function) unchanged. (A property,
    classmethod or staticmethod calling ``super()`` would need the same; no network has one.)"""
    if not isinstance(fn, types.FunctionType) or "__class__" not in fn.__code__.co_freevars:
        return fn
    code = fn.__code__
    closure = tuple(cell if name == "__class__" else old
                    for name, old in zip(code.co_freevars, fn.__closure__))
    copy = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, closure)
    copy.__kwdefaults__, copy.__qualname__ = fn.__kwdefaults__, fn.__qualname__
    copy.__dict__.update(fn.__dict__)
    copy.__annotations__ = fn.__annotations__
    return copy


class Network(nn.Module):
    """The base of a network class written once for both frameworks (see above): ``lib``, the
    module library its layers come from, is minigrad's ``nn`` here and ``torch.nn`` in
    ``on(torch.nn, cls)``."""

    lib = nn


# ------------------------------------------------------------------------------ helpers
def mlp(sizes, act=None, dropout=0.0, out_act=None, batch_norm=False, lib=nn):
    """Linear layers of the given sizes with ``act()`` (default LeakyReLU(0.2)) and Dropout
    between them; with ``batch_norm``, a BatchNorm1d after every hidden Linear (before ``act``).
    ``lib``: the module library that builds it (minigrad's ``nn``, or ``torch.nn``)."""
    act = act or (lambda: lib.LeakyReLU(0.2))
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(lib.Linear(a, b))
        if i < len(sizes) - 2:
            if batch_norm:
                layers.append(lib.BatchNorm1d(b))
            layers.append(act())
            if dropout:
                layers.append(lib.Dropout(dropout))
    if out_act is not None:
        layers.append(out_act)
    return lib.Sequential(*layers)


class ImagePool:
    """A history of generated images (Shrivastava et al. 2017, used by CycleGAN).

    D is updated with a mix of fresh fakes and older ones, which damps oscillation. Each new image
    enters the pool; with probability 1/2 the one returned is a random older image instead.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        self.size = size
        self.images: list[np.ndarray] = []
        self.rng = np.random.default_rng(seed)

    def query(self, batch: minigrad.Tensor) -> minigrad.Tensor:
        if self.size == 0:
            return batch.detach()
        out = []
        for img in batch.detach().data:
            if len(self.images) < self.size:
                self.images.append(img.copy())
                out.append(img)
            elif self.rng.random() < 0.5:
                i = self.rng.integers(self.size)
                out.append(self.images[i])
                self.images[i] = img.copy()
            else:
                out.append(img)
        xp = batch.xp
        return minigrad.Tensor(xp.stack(out))


# ------------------------------------------------------------------------------ pictures
def image_grid(images: np.ndarray, nrow: int = 8, pad: int = 2) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (H', W', C) float array in [0, 1]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[:, None]
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    grid = np.ones((nrows * (h + pad) + pad, ncol * (w + pad) + pad, c), dtype=np.float32)
    for i, img in enumerate(images):
        r, col = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        grid[y:y + h, x:x + w] = np.clip((img.transpose(1, 2, 0) + 1) / 2, 0, 1)
    return grid


def pyplot():
    """matplotlib's pyplot on the Agg backend (figures go to files, no display needed),
    imported on first use, so that importing gans does not load matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_image_grid(images, path, nrow: int = 8) -> Path:
    """Write images (N, C, H, W) in [-1, 1] (Tensor or array) as one PNG grid."""
    plt = pyplot()
    if isinstance(images, minigrad.Tensor):
        images = images.numpy()
    grid = image_grid(images, nrow)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if grid.shape[2] == 1:
        plt.imsave(path, grid[:, :, 0], cmap="gray", vmin=0, vmax=1)
    else:
        plt.imsave(path, grid)
    return path
