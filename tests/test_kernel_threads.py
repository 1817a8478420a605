"""The CPU kernels' thread pool (minigrad/kernels/threads.py): a split changes no bit of any
result, covers its range exactly once, and reports a chunk's error."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from minigrad.kernels import threads

numba_cpu = pytest.importorskip("minigrad.kernels.numba_cpu")
from minigrad.kernels import numba_winograd, reference_winograd  # noqa: E402


@pytest.fixture
def split_everything(monkeypatch):
    """Every call split, whatever its size; the thread count restored afterwards."""
    monkeypatch.setattr(threads, "MIN_WORK", 0)
    previous = threads.get_num_threads()
    yield
    threads.set_num_threads(previous)


def test_run_covers_the_range_once_in_contiguous_chunks(split_everything):
    seen, lock = [], threading.Lock()

    def kernel(tag, lo, hi):
        with lock:
            seen.append((tag, lo, hi, threading.current_thread().name))

    for n, t in [(10, 3), (2, 4), (1, 2), (7, 1)]:
        seen.clear()
        threads.set_num_threads(t)
        threads.run(kernel, n, "k", work=n)
        chunks = sorted((lo, hi) for _, lo, hi, _ in seen)
        assert chunks[0][0] == 0 and chunks[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))  # no gap, no overlap
        assert len(chunks) == min(t, n) and all(hi > lo for lo, hi in chunks)
        if min(t, n) > 1:  # the calling thread took one chunk, the pool the rest
            names = {name for *_, name in seen}
            assert threading.current_thread().name in names and len(names) > 1


def test_small_work_stays_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(threads, "MIN_WORK", 100)
    previous = threads.set_num_threads(4)
    try:
        calls = []
        threads.run(lambda lo, hi: calls.append((lo, hi)), 8, work=99)
        assert calls == [(0, 8)]
    finally:
        threads.set_num_threads(previous)


def test_an_error_in_a_pool_chunk_reaches_the_caller(split_everything):
    threads.set_num_threads(2)

    def kernel(lo, hi):
        if lo > 0:
            raise IndexError("chunk failed")

    with pytest.raises(IndexError, match="chunk failed"):
        threads.run(kernel, 4, work=4)


def test_a_forked_child_gets_a_new_pool(split_everything, monkeypatch):
    threads.set_num_threads(2)
    threads.run(lambda lo, hi: None, 2, work=2)
    first = threads._pool
    monkeypatch.setattr(threads, "_pool_pid", -1)  # as if this process were a fork of another
    threads.run(lambda lo, hi: None, 2, work=2)
    assert threads._pool is not first


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_names_a_bad_count(bad):
    with pytest.raises(ValueError, match="whole number >= 1"):
        threads.set_num_threads(bad)


@pytest.mark.parametrize("value, message", [("two", "not a whole number"), ("0", "at least 1")])
def test_a_bad_thread_variable_is_named(monkeypatch, value, message):
    monkeypatch.setenv("MINIGRAD_NUM_THREADS", value)
    with pytest.raises(ValueError, match=f"MINIGRAD_NUM_THREADS.*{message}"):
        threads._from_env()


def test_the_thread_variables_are_read_in_order(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.delenv("MINIGRAD_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads._from_env() == 3
    monkeypatch.setenv("MINIGRAD_NUM_THREADS", "5")
    assert threads._from_env() == 5


def _kernel_cases(rng):
    """(name, call) for every split kernel, on shapes whose split leaves uneven chunks."""
    x = rng.standard_normal((5, 6, 9, 8)).astype(np.float32)
    x_few = rng.standard_normal((5, 2, 9, 8)).astype(np.float32)  # col2im's scatter form
    geom = (3, 3, (2, 1), (1, 2), (1, 1))
    cols = numba_cpu.im2col_hwc(x, *geom)
    cols_few = numba_cpu.im2col_hwc(x_few, *geom)
    x44 = rng.standard_normal((3, 5, 10, 10)).astype(np.float32)
    w44 = rng.standard_normal((7, 5, 4, 4)).astype(np.float32)
    m9 = rng.standard_normal((9, 7, 3 * 3 * 3)).astype(np.float32)
    m16 = rng.standard_normal((16, 7, 5 * 5 * 4)).astype(np.float32)
    m36 = rng.standard_normal((36, 7, 5 * 3 * 2)).astype(np.float32)
    gu = rng.standard_normal((9, 7, 4 * 5)).astype(np.float32)
    # the transposed 4x4/2 route: x (3, 5, 5, 5) -> (3, 7, 10, 10), padding 1
    wt = rng.standard_normal((5, 7, 4, 4)).astype(np.float32)
    _, _, (th, tw) = reference_winograd._k4s2t_tiling((1, 1), (10, 10))
    mt = rng.standard_normal((36, 7, 3 * th * tw)).astype(np.float32)
    m25 = rng.standard_normal((25, 7, 3 * 2 * 2)).astype(np.float32)   # (3, 7, 5, 5) by F(4x4)
    gu25 = rng.standard_normal((25, 7, 4 * 5)).astype(np.float32)
    m100 = rng.standard_normal((100, 7, 3 * 2 * 2)).astype(np.float32)  # (3, 7, 10, 10)
    return [
        ("im2col_hwc", lambda: numba_cpu.im2col_hwc(x, *geom)),
        ("unfold_hwc", lambda: numba_cpu.unfold_hwc(x, *geom)),
        ("fold_hwc", lambda: numba_cpu.fold_hwc(numba_cpu.unfold_hwc(x, *geom), x.shape, *geom)),
        ("col2im_hwc gather", lambda: numba_cpu.col2im_hwc(cols, x.shape, *geom)),
        ("col2im_hwc scatter", lambda: numba_cpu.col2im_hwc(cols_few, x_few.shape, *geom)),
        ("winograd_f2x3_input", lambda: numba_winograd.winograd_f2x3_input(x, (1, 1))),
        ("winograd_f2x3_output", lambda: numba_winograd.winograd_f2x3_output(m16, (5, 7, 9, 8))),
        ("winograd_f4x3_input", lambda: numba_winograd.winograd_f4x3_input(x, (1, 1))),
        ("winograd_f4x3_output", lambda: numba_winograd.winograd_f4x3_output(m36, (5, 7, 9, 8))),
        ("winograd_f4x3_weight", lambda: numba_winograd.winograd_f4x3_weight(w44[:, :, :3, :3])),
        ("winograd_f4x3_grad_output",
         lambda: numba_winograd.winograd_f4x3_grad_output(x44[:, :, :9, :7])),
        ("winograd_f4x3_grad_weight", lambda: numba_winograd.winograd_f4x3_grad_weight(m36)),
        ("winograd_k4s2_input", lambda: numba_winograd.winograd_k4s2_input(x44, (1, 1))),
        ("winograd_k4s2_weight", lambda: numba_winograd.winograd_k4s2_weight(w44)),
        ("winograd_f2x3_weight", lambda: numba_winograd.winograd_f2x3_weight(w44[:, :, :3, :3])),
        ("winograd_k4s2_output", lambda: numba_winograd.winograd_k4s2_output(m9, (3, 7, 5, 5))),
        ("winograd_k4s2_grad_weight", lambda: numba_winograd.winograd_k4s2_grad_weight(gu)),
        ("winograd_k4s2_grad_output",
         lambda: numba_winograd.winograd_k4s2_grad_output(x44[:, :, :9, :7])),
        ("winograd_k4s2f4_input", lambda: numba_winograd.winograd_k4s2f4_input(x44, (1, 1))),
        ("winograd_k4s2f4_weight", lambda: numba_winograd.winograd_k4s2f4_weight(w44)),
        ("winograd_k4s2f4_output",
         lambda: numba_winograd.winograd_k4s2f4_output(m25, (3, 7, 5, 5))),
        ("winograd_k4s2f4_grad_weight", lambda: numba_winograd.winograd_k4s2f4_grad_weight(gu25)),
        ("winograd_k4s2f4_grad_output",
         lambda: numba_winograd.winograd_k4s2f4_grad_output(x44[:, :, :9, :7])),
        ("winograd_k4s2tf4_weight", lambda: numba_winograd.winograd_k4s2tf4_weight(wt, (1, 1))),
        ("winograd_k4s2tf4_input",
         lambda: numba_winograd.winograd_k4s2tf4_input(x44[:, :, :5, :5], (1, 1), (10, 10))),
        ("winograd_k4s2tf4_output",
         lambda: numba_winograd.winograd_k4s2tf4_output(m100, (3, 7, 10, 10))),
        ("winograd_k4s2t_weight", lambda: numba_winograd.winograd_k4s2t_weight(wt, (1, 1))),
        ("winograd_k4s2t_input",
         lambda: numba_winograd.winograd_k4s2t_input(x44[:, :, :5, :5], (1, 1), (10, 10))),
        ("winograd_k4s2t_output",
         lambda: numba_winograd.winograd_k4s2t_output(mt, (3, 7, 10, 10), (1, 1))),
    ]


@pytest.mark.parametrize("t", [2, 3, 8])
def test_split_kernels_are_bitwise_equal_to_one_thread(split_everything, monkeypatch, t):
    rng = np.random.default_rng(0)
    splits = []
    run = threads.run
    monkeypatch.setattr(threads, "run", lambda k, n, *a, work: (splits.append(n), run(k, n, *a,
                                                                                      work=work)))
    for name, call in _kernel_cases(rng):
        threads.set_num_threads(1)
        one = call()
        threads.set_num_threads(t)
        splits.clear()
        many = call()
        assert splits and splits[0] > 1, f"{name} did not go through the split kernel"
        assert many.shape == one.shape and np.array_equal(many, one), name


# ------------------------------------------------------ batched products (kernels/cpu_blas.py)
from minigrad.kernels import cpu_blas  # noqa: E402


def _blas_count():
    found = cpu_blas._blas_thread_count()
    if found is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS exporting openblas_set_num_threads")
    return found


@pytest.mark.parametrize("t", [2, 3])
def test_split_batched_products_are_bitwise_numpy_matmul(split_everything, monkeypatch, t):
    """A batch of products split over the kernel threads equals NumPy's ``a @ b`` bitwise (each
    item is the same GEMM call): batched and shared operands, transposed views, a batch that
    does not divide evenly, float64; OpenBLAS's own thread count is the same after as before."""
    _, get_blas_threads = _blas_count()
    rng = np.random.default_rng(3)
    splits = []
    run = threads.run
    monkeypatch.setattr(threads, "run", lambda k, n, *a, work: (splits.append(n), run(k, n, *a,
                                                                                      work=work)))
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    u = f32(12, 7, 20)
    cases = [(f32(12, 5, 7), f32(12, 7, 9)),             # both batched
             (f32(5, 7), u),                             # a shared weight (the thin forward)
             (f32(12, 9, 20), u.transpose(0, 2, 1)),     # a transposed view (the thin gW)
             (f32(13, 5, 7), f32(7, 3)),                 # a shared right operand, 13 items
             (rng.standard_normal((9, 4, 6)), rng.standard_normal((9, 6, 5)))]  # float64
    threads.set_num_threads(t)
    before = get_blas_threads()
    for a, b in cases:
        splits.clear()
        got = cpu_blas.matmul(a, b)
        assert splits == [len(got)], (a.shape, b.shape)
        expected = a @ b
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    assert get_blas_threads() == before


def test_batched_products_left_to_numpy_where_a_split_does_not_fit(split_everything,
                                                                   monkeypatch):
    """One thread, 3 items on 2 threads, items over SPLIT_MAX_FLOPS, mixed dtypes, an outer
    product, 2-d products and a mismatched batch go to the reference (which raises NumPy's
    error for the last)."""
    _blas_count()
    rng = np.random.default_rng(4)
    splits = []
    run = threads.run
    monkeypatch.setattr(threads, "run", lambda k, n, *a, work: (splits.append(n), run(k, n, *a,
                                                                                      work=work)))
    a3, b3 = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 5, 2))
    threads.set_num_threads(1)
    np.testing.assert_array_equal(cpu_blas.matmul(np.tile(a3, (2, 1, 1)), np.tile(b3, (2, 1, 1))),
                                  np.tile(a3, (2, 1, 1)) @ np.tile(b3, (2, 1, 1)))
    threads.set_num_threads(2)
    cases = [(a3, b3), (a3.astype(np.float32), b3), (a3[:, :, :1], b3[:, :1, :]),
             (a3[0], b3[0])]
    for a, b in cases:
        np.testing.assert_array_equal(cpu_blas.matmul(a, b), a @ b)
    a4, b4 = np.tile(a3, (2, 1, 1)), np.tile(b3, (2, 1, 1))  # 2 * 4 * 5 * 2 = 80 flops an item
    monkeypatch.setattr(cpu_blas, "SPLIT_MAX_FLOPS", 79)
    np.testing.assert_array_equal(cpu_blas.matmul(a4, b4), a4 @ b4)
    assert not splits
    monkeypatch.setattr(cpu_blas, "SPLIT_MAX_FLOPS", 80)
    np.testing.assert_array_equal(cpu_blas.matmul(a4, b4), a4 @ b4)
    assert splits == [6]
    with pytest.raises(ValueError):
        cpu_blas.matmul(rng.standard_normal((4, 3, 5)), rng.standard_normal((2, 5, 2)))


def test_batched_products_from_several_threads_restore_openblas_count(split_everything):
    """Splits started from several Python threads at once each read the OpenBLAS thread count
    they restore; afterwards the count is what it was, and every product is still a @ b."""
    _, get_blas_threads = _blas_count()
    threads.set_num_threads(2)
    before = get_blas_threads()
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((8, 6, 5)), rng.standard_normal((8, 5, 7))
    expected, wrong = a @ b, []

    def work():
        for _ in range(200):
            if not np.array_equal(cpu_blas.matmul(a, b), expected):
                wrong.append(1)

    callers = [threading.Thread(target=work) for _ in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert not wrong and get_blas_threads() == before
