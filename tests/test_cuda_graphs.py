"""CUDA graphs (minigrad/graphs.py, minigrad/backend/graphs.py) and what capture relies on.

Without a GPU: the GEMM plan that the captured matrix products hand to cuBLAS, checked by
running it as column-major strided-batched GEMMs written in NumPy; the clear errors and the
eager fallback. With a GPU: captured products, random draws and whole DCGAN steps replayed
against their eager twins.
"""
from __future__ import annotations

import contextlib
import copy
import importlib

import numpy as np
import pytest

import minigrad
from minigrad import graphs
from minigrad.kernels import cupy_gpu

from variant_batches import random_batch, random_dataset, small_config

_backend_cuda = importlib.import_module("minigrad.backend.cuda")
cp = _backend_cuda.cupy
needs_cuda = pytest.mark.skipif(not minigrad.cuda.is_available(), reason="no CUDA device/CuPy: "
                                + (minigrad.cuda.unavailable_reason() or "unavailable"))
#: Where a capture test runs: on the emulated GPU (benchmarks/cupy_launches.py: CuPy stood in
#: for by NumPy; a capture keeps each launch as a step that a replay runs again on the memory
#: as it is then, so a replay must equal the eager step bit for bit), and on a real one.
WHERE = ["emulated", pytest.param("cuda", marks=[pytest.mark.gpu, needs_cuda])]


def _on(where):
    if where == "emulated":
        from benchmarks.cupy_launches import emulated_cuda

        return emulated_cuda()
    return contextlib.nullcontext()


def _assert_close(got, expected, where, err_msg=""):
    """Bit for bit on the emulated GPU (the same NumPy ops in both runs), to float32 rounding
    on a real one."""
    if where == "emulated":
        np.testing.assert_array_equal(got, expected, err_msg=err_msg)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=err_msg)


# ======================================================= the GEMM plan, run on the host
def _column_major_gemm(plan, a, b):
    """What cublas<t>gemmStridedBatched computes with ``plan`` on the memory of a and b:
    C_i = op(B_i) op(A_i) in column-major order, op(X) = X or X^T, matrix i at offset
    i * stride, element (r, c) at r + c * ld."""
    isz = a.itemsize

    def operand(x, trans, rows, cols, ld, stride):
        # the stored column-major matrix: (rows, cols) unless transposed (then (cols, rows))
        r, c = (cols, rows) if trans else (rows, cols)
        view = np.lib.stride_tricks.as_strided(x, shape=(plan["batch"], r, c),
                                               strides=(stride * isz, isz, ld * isz))
        return view.transpose(0, 2, 1) if trans else view

    m, n, k = plan["m"], plan["n"], plan["k"]
    opb = operand(b, plan["transb"], m, k, plan["ldb"], plan["stride_b"])  # (batch, m, k)
    opa = operand(a, plan["transa"], k, n, plan["lda"], plan["stride_a"])  # (batch, k, n)
    c = opb @ opa                                                           # (batch, m, n)
    # column-major (m, n) with ldc = m is row-major (n, m): the product C^T^T
    return np.ascontiguousarray(c.transpose(0, 2, 1)).reshape(plan["out_shape"])


def _layouts(rng):
    f = np.float32
    a = rng.standard_normal((5, 3)).astype(f)
    b = rng.standard_normal((3, 4)).astype(f)
    yield a, b                                                # C-contiguous
    yield np.asfortranarray(a), b                             # a transposed in memory
    yield rng.standard_normal((3, 5)).astype(f).T, rng.standard_normal((4, 3)).astype(f).T
    yield rng.standard_normal((2, 5, 3)).astype(f), rng.standard_normal((2, 3, 4)).astype(f)
    yield rng.standard_normal((5, 3)).astype(f), rng.standard_normal((6, 3, 4)).astype(f)  # bcast
    # a transposed matrix for every item: the thin transposed conv's W.reshape(C, -1).T (the
    # GPU's column order)
    yield rng.standard_normal((3, 5)).astype(f).T, rng.standard_normal((6, 3, 4)).astype(f)
    u = rng.standard_normal((6, 3, 4)).astype(f)
    yield rng.standard_normal((6, 5, 4)).astype(f), u.transpose(0, 2, 1)  # batched .mT
    yield rng.standard_normal((2, 3, 5, 3)).astype(f), rng.standard_normal((3, 4)).astype(f)
    yield rng.standard_normal((1, 3)).astype(f), rng.standard_normal((3, 1)).astype(f)
    yield rng.standard_normal((4, 1)).astype(f), rng.standard_normal((1, 6)).astype(f)  # k = 1


def test_gemm_plan_computes_the_product():
    rng = np.random.default_rng(0)
    for a, b in _layouts(rng):
        plan = cupy_gpu.gemm_plan(a.shape, a.strides, b.shape, b.strides, a.itemsize)
        assert plan is not None, (a.shape, a.strides, b.shape, b.strides)
        got = _column_major_gemm(plan, a, b)
        np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{a.shape} {a.strides} @ {b.shape} {b.strides}")


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3, 4)), ((5, 3), (3,)), ((3,), (3,)),
                                              ((2, 5, 3), (3,)), ((3,), (2, 3, 4))])
def test_captured_products_take_vectors_as_numpy_does(a_shape, b_shape):
    """Inside a capture a product is one cuBLAS GEMM of matrices; a 1-D operand (spectral
    norm's power iteration) goes in as a one-row or one-column matrix and comes out as
    np.matmul's result, shape and all."""
    from minigrad.kernels import cupy_blas

    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    seen = []

    def product(x, y):
        seen.append((x.shape, y.shape))
        assert x.ndim >= 2 and y.ndim >= 2
        return x @ y
    got = cupy_blas.with_vectors_as_matrices(a, b, product)
    expected = np.matmul(a, b)
    assert len(seen) == 1 and np.shape(got) == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gemm_plan_declines_layouts_one_call_cannot_take():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 8)).astype(np.float32)
    sliced = x[:, ::2]  # a stride of two elements along a row
    plan = cupy_gpu.gemm_plan(sliced.shape, sliced.strides, (4, 3), (12, 4), 4)
    assert plan is None
    part = rng.standard_normal((3, 1, 5, 4)).astype(np.float32)  # batch (3, 1) vs (3, 2)
    other = rng.standard_normal((1, 2, 4, 2)).astype(np.float32)
    assert cupy_gpu.gemm_plan(part.shape, part.strides, other.shape, other.strides, 4) is None
    with pytest.raises(ValueError, match="not aligned"):
        cupy_gpu.gemm_plan((2, 3), (12, 4), (4, 2), (8, 4), 4)


# ============================================================= without a GPU: clear errors
@pytest.mark.skipif(minigrad.cuda.is_available(), reason="a CUDA device is present")
def test_without_a_gpu_capture_says_why_and_steps_run_eagerly():
    with pytest.raises(RuntimeError, match="CUDA graphs need a CUDA GPU"):
        with graphs.graph(graphs.CUDAGraph()):
            pass
    assert graphs.capturing() is None
    with pytest.raises(RuntimeError, match="inside minigrad.graphs.graph"):
        graphs.on_replay(lambda: None)
    with pytest.raises(RuntimeError, match="nothing was captured"):
        graphs.CUDAGraph().replay()

    from gans.dcgan import DCGAN, Config

    said = []
    cfg = Config(batch_size=4)
    minigrad.manual_seed(0)
    model = DCGAN(cfg)
    twin = copy.deepcopy(model)
    step = graphs.GraphedStep(model, say=said.append)
    assert said == ["--cuda-graph: capture needs a CUDA device (the model is on cpu); "
                    "training eagerly"]
    x = minigrad.tensor(np.random.default_rng(0).uniform(-1, 1, (4, 1, 28, 28)), dtype="float32")
    minigrad.manual_seed(1)
    got = step(x, update_g=True)
    minigrad.manual_seed(1)
    expected = twin.train_step(x, update_g=True)
    assert {k: float(v) for k, v in got.items()} == {k: float(v) for k, v in expected.items()}


@pytest.mark.parametrize("pool_size", [50, 0])
def test_a_model_that_decides_on_the_host_each_step_is_not_recorded(pool_size):
    """CycleGAN's image pool chooses on the host, per image and step, which fakes D sees; a
    replay would repeat one step's choices, so GraphedStep says why and trains eagerly (on the
    emulated GPU, where the device check passes). Without a pool nothing stops the capture."""
    import gans
    from benchmarks.cupy_launches import emulated_cuda

    said = []
    with emulated_cuda():
        model = gans.get_model("cyclegan")(gans.get_config("cyclegan")(pool_size=pool_size),
                                           device="cuda")
        step = graphs.GraphedStep(model, say=said.append)
    if pool_size:
        assert step.fallback is not None and "image pool (--pool-size 50)" in step.fallback
        assert said == [f"--cuda-graph: {step.fallback}; training eagerly"]
    else:
        assert step.fallback is None and said == []


def _two_traced_steps(name, capture):
    """Two steps of variant ``name`` (batch 4) on the emulated GPU after two eager ones, each
    traced (kernel, launches, host values); ``capture``: through the code's capture paths."""
    import gans
    from benchmarks.cupy_launches import emulated_capture, emulated_cuda, trace_launches

    extra = {"pool_size": 0} if name == "cyclegan" else {}
    traces = []
    with emulated_cuda():
        minigrad.manual_seed(0)
        model = gans.get_model(name)(gans.get_config(name)(batch_size=4, **extra), device="cuda")
        batch = random_batch(model, 4, np.random.default_rng(0), "cuda")
        for _ in range(2):
            model.train_step(*batch)
        for opt in model.optims.values():
            opt._prepare_capture()
        for _ in range(2):
            with (emulated_capture() if capture else contextlib.nullcontext()) as g, \
                    trace_launches() as trace:
                model.train_step(*batch)
            for hook in getattr(g, "_hooks", ()):  # what a replay runs on the host first
                hook()
            traces.append(trace)
    return traces


@pytest.mark.parametrize("name", sorted(__import__("gans").available()))
def test_a_recorded_step_of_every_variant_holds_no_value_that_changes_per_step(name):
    """A CUDA graph replays its launches with the values the host gave them when it was
    recorded. Two steps through the capture paths on the emulated GPU launch the same kernels
    with the same host values (scalars, shapes), so a replay computes what an eager step
    would; a value the host changes per step (Adam's step count, had it not been kept on the
    device under capture) would differ here."""
    first, second = _two_traced_steps(name, capture=True)
    assert len(first) == len(second) and len(first) > 50
    changed = [(i, a[0]) for i, (a, b) in enumerate(zip(first, second)) if a != b]
    assert changed == [], changed[:5]


def test_the_trace_sees_a_value_the_host_changes_per_step():
    """The same two eager steps differ exactly at Adam's updates: their step counts come from
    the host there (the check above can fail)."""
    first, second = _two_traced_steps("dcgan", capture=False)
    changed = [a[0] for a, b in zip(first, second) if a != b]
    assert changed == ["minigrad_adam_update_multi"] * 2, changed


# ================================================================================ on a GPU
@needs_cuda
def test_captured_products_match_cupy():
    rng = np.random.default_rng(2)
    vectors = [(rng.standard_normal((3, 5)).astype(np.float32).T,  # spectral norm's W^T u
                rng.standard_normal(3).astype(np.float32)),
               (rng.standard_normal(4).astype(np.float32),
                rng.standard_normal((4, 6)).astype(np.float32))]
    pairs = [(cp.asarray(a), cp.asarray(b)) for a, b in [*_layouts(rng), *vectors]]
    g = graphs.CUDAGraph()
    with graphs.graph(g):
        outs = [minigrad.kernels.get("matmul", cp)(a, b) for a, b in pairs]
    g.replay()
    minigrad.cuda.synchronize()
    for (a, b), out in zip(pairs, outs):
        np.testing.assert_allclose(cp.asnumpy(out), cp.asnumpy(a @ b), rtol=1e-5, atol=1e-5)
    for a, _ in pairs:  # replays read the inputs as they are now
        a *= 2
    g.replay()
    minigrad.cuda.synchronize()
    for (a, b), out in zip(pairs, outs):
        np.testing.assert_allclose(cp.asnumpy(out), cp.asnumpy(a @ b), rtol=1e-5, atol=1e-5)


@needs_cuda
def test_replayed_draws_continue_the_generator():
    """A captured draw replays as fresh draws: the counter lives on the device."""
    minigrad.manual_seed(7)
    eager = [minigrad.randn(1000, device="cuda").numpy() for _ in range(4)]
    minigrad.manual_seed(7)
    np.testing.assert_array_equal(minigrad.randn(1000, device="cuda").numpy(), eager[0])
    g = graphs.CUDAGraph()
    with graphs.graph(g):
        out = minigrad.randn(1000, device="cuda")
    for expected in eager[1:]:
        g.replay()
        np.testing.assert_array_equal(out.numpy(), expected)


def _dcgan_pair(batch):
    from gans.dcgan import DCGAN, Config

    minigrad.manual_seed(0)
    eager = DCGAN(Config(batch_size=batch), device="cuda")
    graphed = copy.deepcopy(eager)
    return eager, graphed


@pytest.mark.parametrize("where", WHERE)
def test_replayed_dcgan_steps_match_eager_ones(where):
    """100 DCGAN steps (20 at batch 16 on the emulated GPU) replayed from a captured step
    against the same steps run eagerly, from one state and one seed: the same losses step for
    step, the same weights at the end, and the optimizer's step counts kept on the host
    (checkpoints save them)."""
    with _on(where):
        _replay_dcgan(where, *((64, 100) if where == "cuda" else (16, 20)))


def _replay_dcgan(where, batch, steps):
    eager, graphed = _dcgan_pair(batch)
    step = graphs.GraphedStep(graphed, warmup=2)
    rng = np.random.default_rng(3)
    data = [minigrad.tensor(rng.uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32),
                            device="cuda") for _ in range(8)]
    cupy_gpu.use_direct_cublas(True)  # the eager twin multiplies as the graph does
    try:
        losses = {}
        for name, fn in (("eager", eager.train_step), ("graphed", step)):
            minigrad.manual_seed(11)
            rows = []
            for i in range(steps):
                stats = fn(data[i % len(data)], update_g=True)
                rows.append([float(stats["loss_d"]), float(stats["loss_g"])])
            losses[name] = np.array(rows)
    finally:
        cupy_gpu.use_direct_cublas(False)
    assert step.fallback is None and len(step.graphs) == 1
    _assert_close(losses["graphed"], losses["eager"], where)
    _assert_same_state(eager, graphed, where)
    for role in ("G", "D"):
        assert [s["step"] for s in graphed.optims[role].state.values()] == \
            [steps] * len(graphed.optims[role].state)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", sorted(__import__("gans").available()))
def test_every_variants_step_is_recorded_and_replays_as_eager(name, where):
    """Each variant's step (small networks, batch 8; CycleGAN without its image pool, which
    refuses) recorded once and replayed for 4 steps after 2 eager ones, against the same 6
    steps run eagerly: no fallback, the same statistics step for step, the same weights and
    optimizer step counts at the end."""
    with _on(where):
        _replay_variant(name, where)


def _replay_variant(name, where):
    import gans

    # CycleGAN without its image pool; on the emulated GPU narrower networks where the
    # config has the knobs (the host computes every launch twice there)
    extra = {"pool_size": 0} if name == "cyclegan" else {}
    if where == "emulated":
        extra.update({"ngf": 8, "ndf": 8, "n_residual": 1} if name == "cyclegan" else
                     {"g_features": 16, "d_features": 16}
                     if hasattr(gans.get_config(name), "g_features") else {})
    minigrad.manual_seed(0)
    eager = gans.get_model(name)(gans.get_config(name)(batch_size=8, **extra), device="cuda")
    graphed = copy.deepcopy(eager)
    rng = np.random.default_rng(0)
    batches = [random_batch(eager, 8, rng, "cuda") for _ in range(3)]
    said = []
    step = graphs.GraphedStep(graphed, warmup=2, say=said.append)
    cupy_gpu.use_direct_cublas(True)  # the eager twin multiplies as the graph does
    try:
        stats = {}
        for who, fn in (("eager", eager.train_step), ("graphed", step)):
            minigrad.manual_seed(11)
            stats[who] = [{k: float(v) for k, v in fn(*batches[i % 3], update_g=True).items()}
                          for i in range(6)]
    finally:
        cupy_gpu.use_direct_cublas(False)
    assert step.fallback is None and said == [], (step.fallback, step.fallback_traceback)
    assert len(step.graphs) == 1
    for i, (a, b) in enumerate(zip(stats["eager"], stats["graphed"])):
        assert a.keys() == b.keys()
        for k in a:
            _assert_close(b[k], a[k], where, err_msg=f"{name} step {i}: {k}")
    _assert_same_state(eager, graphed, where)


def _assert_same_state(eager, graphed, where="cuda"):
    """The same weights (see _assert_close) and the same optimizer step counts."""
    for role in eager.nets:
        for (name, a), (_, b) in zip(eager.nets[role].named_parameters(),
                                     graphed.nets[role].named_parameters()):
            _assert_close(b.numpy(), a.numpy(), where, err_msg=f"{role}.{name}")
    for role in eager.optims:
        assert [s.get("step") for s in graphed.optims[role].state.values()] == \
            [s.get("step") for s in eager.optims[role].state.values()]


@pytest.mark.parametrize("where", WHERE)
def test_two_captured_steps_share_adams_step_counts(where):
    """Steps with and without G's update are two graphs; both update D with Adam, whose bias
    corrections read the step count on the device. Replayed in turn (two D-only steps, then a
    full one, as with n_critic = 3) they must match the eager run: each graph counting in its
    own copy of D's steps left the other's replays out (the count stale by a third)."""
    batch, steps = 16, 30 if where == "cuda" else 12
    with _on(where):
        eager, graphed = _dcgan_pair(batch)
        step = graphs.GraphedStep(graphed, warmup=3)
        rng = np.random.default_rng(4)
        data = [minigrad.tensor(rng.uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32),
                                device="cuda") for _ in range(4)]
        cupy_gpu.use_direct_cublas(True)
        try:
            for fn in (eager.train_step, step):
                minigrad.manual_seed(12)
                for i in range(steps):
                    fn(data[i % len(data)], update_g=i % 3 == 2)
        finally:
            cupy_gpu.use_direct_cublas(False)
        assert step.fallback is None and len(step.graphs) == 2
        _assert_same_state(eager, graphed, where)


@pytest.mark.skipif(minigrad.cuda.is_available(), reason="a CUDA device is present")
def test_fit_with_cuda_graph_on_the_cpu_says_so_and_trains_as_eager(capsys):
    from gans.dcgan import DCGAN, Config
    from gans.trainer import fit
    from minigrad.data import ArrayDataset, DataLoader

    rng = np.random.default_rng(0)
    data = ArrayDataset(rng.uniform(-1, 1, (16, 1, 28, 28)).astype(np.float32),
                        np.zeros(16, np.int64))
    histories = []
    for graph in (False, True):
        minigrad.manual_seed(0)
        model = DCGAN(Config(batch_size=8))
        loader = DataLoader(data, batch_size=8, shuffle=True, drop_last=True, seed=0)
        histories.append(fit(model, loader, epochs=2, out_dir=None, progress=True,
                             cuda_graph=graph))
    assert "--cuda-graph: capture needs a CUDA device (the model is on cpu); training " \
           "eagerly" in capsys.readouterr().out
    assert histories[0] == histories[1] and len(histories[1]) == 4


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name, config", [
    ("dcgan", {}), ("dcgan", dict(lr_decay_start=1, lr_decay_epochs=3)),
    ("wgan_gp", dict(g_features=16, d_features=16)),
    ("cyclegan", dict(pool_size=0, ngf=4, ndf=4, n_residual=1))],
    ids=["dcgan", "dcgan-lr-decay", "wgan_gp", "cyclegan-short-batch"])
def test_fit_with_cuda_graph_on_a_gpu_replays_and_logs_every_step(name, config, where,
                                                                  monkeypatch):
    """The replayed fit logs what the eager one does, step for step (the gradient norms too,
    which the trainer reads from ``.grad`` after the step). With an lr decay, every epoch's new
    lr is recorded again (a replay of a stale graph would raise). WGAN-GP's first steps update
    D alone: each kind of step (and each batch shape: CycleGAN's loader keeps a short last
    batch here) runs eagerly once before it is recorded, so that G's optimizer state exists
    before G's step is recorded (it fell back to eager steps before), and after a replay of
    D's graph ``.grad`` is that graph's (it was the last recorded graph's, and the logged norm
    stale)."""
    import gans
    from gans.trainer import fit
    from minigrad.data import ArrayDataset, DataLoader

    batch = 4 if name == "cyclegan" else 16
    cfg = gans.get_config(name)(batch_size=batch, **config)
    n = 10 if name == "cyclegan" else 64  # CycleGAN: 2 batches of 4 and one of 2 per epoch
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32)
    data = ArrayDataset(images, images[::-1].copy()) if name == "cyclegan" else \
        ArrayDataset(images, np.zeros(n, np.int64))
    histories, said = [], []
    monkeypatch.setattr(graphs.GraphedStep, "_fall_back",
                        lambda self, reason: said.append(reason) or setattr(self, "fallback",
                                                                            reason))
    previous = cupy_gpu.use_direct_cublas(True)
    try:
        with _on(where):
            for graph in (False, True):
                minigrad.manual_seed(0)
                model = gans.get_model(name)(cfg, device="cuda")
                loader = DataLoader(data, batch_size=batch, shuffle=True,
                                    drop_last=name != "cyclegan", seed=0, device="cuda")
                histories.append(fit(model, loader, epochs=5, out_dir=None, progress=False,
                                     cuda_graph=graph, log_every=7))
    finally:
        cupy_gpu.use_direct_cublas(previous)
    eager, graphed = histories
    assert said == []  # no fallback
    assert [r["step"] for r in graphed] == list(range(1, 5 * len(loader) + 1))
    for a, b in zip(eager, graphed):
        assert a.keys() == b.keys()
        for k in a:
            _assert_close(b[k], a[k], where, err_msg=f"step {a['step']}: {k}")


@pytest.mark.slow
@pytest.mark.parametrize("extra", [{}, {"ema": 0.9}, {"d_steps": 2}], ids=["plain", "ema", "k2"])
@pytest.mark.parametrize("name", sorted(__import__("gans").available()))
def test_every_variant_fits_alike_with_and_without_replay_on_the_emulated_gpu(name, extra,
                                                                             monkeypatch):
    """``fit(cuda_graph=True)`` of every variant (small networks, 12 steps, G's moving average
    or two D steps per G step) logs what the eager fit logs, bit for bit, with no fallback."""
    import gans
    from benchmarks.cupy_launches import emulated_cuda
    from gans.trainer import fit
    from minigrad.data import DataLoader

    said = []
    monkeypatch.setattr(graphs.GraphedStep, "_fall_back",
                        lambda self, reason: said.append(reason) or setattr(self, "fallback",
                                                                            reason))
    histories = []
    for graph in (False, True):
        with emulated_cuda():
            minigrad.manual_seed(0)
            model = gans.get_model(name)(small_config(name, batch_size=4, **extra),
                                         device="cuda")
            loader = DataLoader(random_dataset(model, 12), batch_size=4, shuffle=True,
                                drop_last=True, seed=0, device="cuda")
            histories.append(fit(model, loader, epochs=4, out_dir=None, progress=False,
                                 cuda_graph=graph, log_every=1))
    assert said == []
    assert histories[0] == histories[1]


@pytest.mark.parametrize("name", ["acgan", "wgan_gp"])
def test_the_train_command_records_resumes_and_samples_on_the_emulated_gpu(name, tmp_path,
                                                                           capsys):
    """``python -m gans train --device cuda --cuda-graph``, stopped and resumed, then
    ``sample``, run in-process on the emulated GPU: no fallback line (AC-GAN's capture failed
    there on its labels before the emulation kept the values computed in memory allocated
    inside a capture, as a real capture has no host-side index checks), and the files made."""
    import gans.__main__ as cli
    from benchmarks.cupy_launches import emulated_cuda

    out = tmp_path / name
    common = ["--model", name, "--dataset", "random", "--device", "cuda", "--cuda-graph",
              "--out", str(out), "--batch-size", "4"]
    with emulated_cuda():
        assert cli.main(["train", *common, "--max-steps", "4"]) == 0
        assert cli.main(["train", *common, "--max-steps", "7"]) == 0
        assert cli.main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "--device",
                         "cuda", "--n", "4", "--out", str(out / "s.npy")]) == 0
    printed = capsys.readouterr()
    printed = printed.out + printed.err
    assert "--cuda-graph" not in printed and "resumed from" in printed, printed
    assert np.load(out / "s.npy").shape[0] == 4


def test_gpu_modules_reach_cupy_through_the_backend_module():
    """``minigrad.backend.cuda`` the attribute is the namespace object (no ``cupy``): modules
    imported after minigrad.backend must take the module itself (a GPU run caught two that
    did not)."""
    from minigrad.kernels import cuda_random
    from minigrad.distributed import backends

    for module in (cuda_random, backends):
        assert hasattr(module._cuda, "cupy") and callable(module._cuda.cublas), module


@pytest.mark.skipif(minigrad.cuda.is_available(), reason="a CUDA device is present")
def test_train_command_takes_cuda_graph_and_says_why_not_on_the_cpu(tmp_path, capsys):
    from gans.__main__ import main

    main(["train", "--model", "dcgan", "--dataset", "random", "--dry-run", "--cuda-graph",
          "--log-every", "3", "--out", str(tmp_path / "run"), "--no-progress"])
    out = capsys.readouterr().out
    assert "--cuda-graph: capture needs a CUDA device (the model is on cpu); training eagerly" \
        in out
    assert (tmp_path / "run" / "metrics.csv").exists()
