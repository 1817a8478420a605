"""CUDA graphs: record a training step's GPU work once, replay it with one launch per step.

The API of ``torch.cuda.graphs`` (``CUDAGraph``, ``graph``) and, for a whole GAN step,
:class:`GraphedStep` (what ``fit(cuda_graph=True)`` and ``python -m gans train --cuda-graph``
use, in the spirit of ``make_graphed_callables`` and tinygrad's TinyJit)::

    import minigrad.graphs as graphs

    g = graphs.CUDAGraph()
    with graphs.graph(g):               # recorded, not run
        loss = step(static_x)           # static_x: a tensor refilled before each replay
    static_x.data[...] = batch.data
    g.replay()                          # loss.data holds this batch's loss

What capture requires and how minigrad meets it: :mod:`minigrad.backend.graphs` and
docs/gpu.md.
"""
from __future__ import annotations

import contextlib

from minigrad.backend.graphs import CUDAGraph, capturing, on_replay
from minigrad.backend import graphs as _mechanism  # the mechanism; this module is the API

__all__ = ["CUDAGraph", "graph", "capturing", "on_replay", "GraphedStep"]


@contextlib.contextmanager
def graph(g: CUDAGraph):
    """Record the GPU work of the block into ``g``; ``g.replay()`` runs it. Needs a CUDA GPU
    (a RuntimeError says so otherwise)."""
    from minigrad.kernels import cupy_gpu

    with _mechanism.graph(g, prepare=(cupy_gpu.prepare_capture,)):
        yield g


def _copy(value):
    """A tensor's copy (new memory, no graph); anything else as it is."""
    from minigrad.tensor import Tensor

    if isinstance(value, Tensor):
        return Tensor._wrap(value.data.copy(), False, None)
    return value


class GraphedStep:
    """A model's ``train_step`` recorded once and replayed (``fit(cuda_graph=True)``).

    The first ``warmup`` calls run eagerly (they make the optimizer state and compile the
    kernels); the next call copies its batch into static tensors and records the step; every
    call then copies its batch in and replays. Each ``update_g`` (and each batch shape, e.g. a
    short last batch) gets its own graph, recorded at its second call: its first runs eagerly,
    so that what that kind of step makes on first use exists before the capture (G's optimizer
    state, when the first steps update D alone, as WGAN's do; the constants of a new shape).
    Where a step cannot be captured (no GPU, a model whose ``capture_refusal`` says why, or
    the capture fails), ``fallback`` holds the reason, ``say`` is told it in one line, and
    every call runs eagerly.
    """

    def __init__(self, model, warmup: int = 2, say=print):
        self.model, self.warmup, self.say = model, warmup, say
        # (update_g, shapes) -> (graph, static inputs, static outputs, (parameter, .grad) pairs)
        self.graphs = {}
        self.seen = set()  # the (update_g, shapes) keys that have run eagerly once
        self.fallback = None
        self.fallback_traceback = None
        self.eager_calls = 0
        refusal = getattr(model, "capture_refusal", None)
        if model.device.type != "cuda":
            self._fall_back(f"capture needs a CUDA device (the model is on {model.device})")
        elif refusal:
            self._fall_back(refusal)

    def reset(self) -> None:
        """Forget the recorded graphs: the next call of each shape records its step again. For
        after a change the recorded launches do not see, such as new learning rates (the
        trainer's lr schedule calls it; a replay after an lr change raises instead)."""
        self.graphs.clear()

    def _fall_back(self, reason):
        self.fallback = reason
        self.say(f"--cuda-graph: {reason}; training eagerly")

    def __call__(self, *batch, update_g=True):
        key = (update_g,) + tuple(tuple(t.shape) for t in batch)
        if self.fallback is not None or self.eager_calls < self.warmup or key not in self.seen:
            self.eager_calls += 1
            self.seen.add(key)
            return self.model.train_step(*batch, update_g=update_g)
        entry = self.graphs.get(key)
        if entry is None:
            entry = self._capture(batch, update_g)
            if entry is None:
                return self.model.train_step(*batch, update_g=update_g)
            self.graphs[key] = entry
        g, static_in, static_out, grads = entry
        for s, t in zip(static_in, batch):
            s.data[...] = t.data
        g.replay()
        for p, grad in grads:  # .grad as the step left it (another graph's, if it ran last)
            p.grad = grad
        # the replay overwrites its outputs: hand out copies the caller may keep
        return {k: _copy(v) for k, v in static_out.items()}

    def _capture(self, batch, update_g):
        static_in = [_copy(t) for t in batch]
        g = CUDAGraph()
        try:
            for opt in self.model.optims.values():
                opt._prepare_capture()
            with graph(g):
                static_out = self.model.train_step(*static_in, update_g=update_g)
        except Exception as e:  # anything that cannot be recorded: say why, train eagerly
            import traceback

            for net in self.model.nets.values():  # the capture's gradients are never computed
                for p in net.parameters():
                    p.grad = None
            self.fallback_traceback = traceback.format_exc()
            where = next((f"{frame.filename.split('/')[-1]}:{frame.lineno}" for frame in
                          reversed(traceback.extract_tb(e.__traceback__))
                          if "/minigrad/" in frame.filename or "/gans/" in frame.filename), "")
            self._fall_back(f"the step could not be captured ({type(e).__name__}: {e}"
                            + (f", at {where}" if where else "") + ")")
            return None
        # the gradients the recorded step leaves in .grad, which its replays overwrite in place
        grads = [(p, p.grad) for net in self.model.nets.values() for p in net.parameters()]
        return g, static_in, static_out, grads
