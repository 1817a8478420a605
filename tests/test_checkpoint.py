"""minigrad.utils.io checkpoints: round trips without pickle, atomic writes, clear errors, and an
exact resume of training (model + optimizer + RNG)."""
from __future__ import annotations

import math
import os
import zipfile

import numpy as np
import pytest

import minigrad
from minigrad import backend, optim
from minigrad.utils import io

try:  # the resume test uses nn.Linear when the nn package provides it
    from minigrad.nn import Linear
except ImportError:
    Linear = None


def _nested():
    return {
        "model": {"fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
                  "fc.bias": minigrad.tensor([0.5, -1.0]),
                  "bn.num_batches": np.array(7, dtype=np.int64)},
        "optim": {"state": {0: {"step": 3, "exp_avg": np.ones((2, 3), np.float32)}},
                  "param_groups": [{"lr": 2e-4, "betas": (0.5, 0.999), "amsgrad": False,
                                    "name": None, "params": [0, 1]}]},
        "epoch": 4, "loss": 0.125, "nan": float("nan"), "inf": -math.inf, "tag": "wgan-gp ✓",
        "shape": (3, (4, 5)), "empty": {}, "nothing": [], "halves": np.float16(1.5),
        "flags": np.array([True, False]), "labels": np.array(["a", "bc"]),
        "rng": backend.rng().bit_generator.state,  # 128-bit ints
        (1, "tuple-key"): [1, 2.0, True],
    }


def _assert_same(a, b, where="obj"):
    if isinstance(a, minigrad.Tensor):  # Tensors come back as arrays
        a = a.numpy()
    if isinstance(a, (np.ndarray, np.generic)):
        assert type(b) is type(a), where
        assert b.dtype == a.dtype and b.shape == a.shape, where
        np.testing.assert_array_equal(b, a, err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(b) is type(a) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert type(b) is type(a) and b == a, where


def test_round_trip_nested(tmp_path):
    obj = _nested()
    path = tmp_path / "ckpt.npz"
    io.save(obj, path)
    back = io.load(path)
    _assert_same(obj, back)
    assert isinstance(back["model"]["fc.bias"], np.ndarray)
    assert list(back["optim"]["state"]) == [0]  # integer keys survive
    # The path is used as given: no ".npz" appended.
    io.save([1, 2], tmp_path / "plain")
    assert io.load(tmp_path / "plain") == [1, 2] and not (tmp_path / "plain.npz").exists()


@pytest.mark.parametrize("obj", [np.zeros(3), 5, None, "s", [], (1,)])
def test_round_trip_top_level_leaves(obj, tmp_path):
    io.save(obj, tmp_path / "x.npz")
    _assert_same(obj, io.load(tmp_path / "x.npz"))


def test_no_pickle(tmp_path):
    path = tmp_path / "ckpt.npz"
    io.save(_nested(), path)
    with np.load(path, allow_pickle=False) as npz:  # plain numpy reads every entry
        for key in npz.files:
            assert npz[key].dtype != object
    with zipfile.ZipFile(path) as z:
        assert all(name.endswith(".npy") for name in z.namelist())


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"type object at obj\['a'\]\[1\]"):
        io.save({"a": [1, object()]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dtype object"):
        io.save({"a": np.array([1, "x", None], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="key"):
        io.save({frozenset(): 1}, tmp_path / "x.npz")

    class HasState:
        def state_dict(self):
            return {}
    with pytest.raises(TypeError, match="state_dict"):
        io.save({"model": HasState()}, tmp_path / "x.npz")
    assert not list(tmp_path.iterdir())  # nothing written, not even a temp file


def test_load_moves_arrays_to_device(tmp_path, device):
    io.save({"w": np.ones((2, 2), np.float32), "n": 3}, tmp_path / "x.npz")
    back = io.load(tmp_path / "x.npz", device=device)
    assert backend.device_of(back["w"]) == minigrad.device(device) and back["n"] == 3
    t = minigrad.tensor(back["w"])
    assert t.device == minigrad.device(device)


def test_atomic_write_survives_crash(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    io.save({"version": 1, "w": np.zeros(4)}, path)
    before = path.read_bytes()

    real_savez = np.savez

    def crashing_savez(f, **arrays):  # write part of the file, then die
        real_savez(f, **arrays)
        f.truncate(10)
        raise KeyboardInterrupt("simulated crash mid-write")

    monkeypatch.setattr(io.np, "savez", crashing_savez)
    with pytest.raises(KeyboardInterrupt):
        io.save({"version": 2, "w": np.ones(4)}, path)
    monkeypatch.undo()

    assert path.read_bytes() == before  # the old checkpoint is intact ...
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # ... and no temp file is left
    assert io.load(path)["version"] == 1

    def crashing_replace(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(io.os, "replace", crashing_replace)
    with pytest.raises(OSError, match="disk full"):
        io.save({"version": 3}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_file_permissions_like_open(tmp_path):
    io.save({"a": 1}, tmp_path / "x.npz")
    (tmp_path / "ref").write_bytes(b"")
    assert (os.stat(tmp_path / "x.npz").st_mode & 0o777) == (os.stat(tmp_path / "ref").st_mode
                                                              & 0o777)


def test_missing_file_error_names_path(tmp_path):
    path = tmp_path / "nope" / "ckpt.npz"
    with pytest.raises(FileNotFoundError, match="nope"):
        io.load(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip", "npy", "structure"])
def test_corrupt_file_error_names_path(tmp_path, damage):
    path = tmp_path / "ckpt.npz"
    io.save({"w": np.arange(1000, dtype=np.float32), "step": 3}, path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not a zip file at all" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flip":  # a flipped byte inside the array data: caught by the zip CRC
        i = data.index(np.arange(1000, dtype=np.float32)[500:502].tobytes())
        path.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif damage == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif damage == "structure":
        np.savez(path, __minigrad__=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(io.CheckpointError, match="ckpt.npz"):
        io.load(path)


def test_foreign_npz_loads_as_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2), b=np.arange(3))
    back = io.load(tmp_path / "plain.npz")
    assert sorted(back) == ["a", "b"]
    np.testing.assert_array_equal(back["b"], np.arange(3))


# ------------------------------------------------------------------------------- resume
class _LeafMLP:
    """Fallback model made of leaf tensors, with the state_dict interface of nn.Module."""

    def __init__(self):
        self.w1 = minigrad.tensor(minigrad.randn(6, 16).data * 0.4, requires_grad=True)
        self.b1 = minigrad.zeros(16, requires_grad=True)
        self.w2 = minigrad.tensor(minigrad.randn(16, 2).data * 0.25, requires_grad=True)
        self.b2 = minigrad.zeros(2, requires_grad=True)

    def parameters(self):
        return [self.w1, self.b1, self.w2, self.b2]

    def __call__(self, x):
        return (x @ self.w1 + self.b1).tanh() @ self.w2 + self.b2

    def state_dict(self):
        return {k: getattr(self, k).data.copy() for k in ("w1", "b1", "w2", "b2")}

    def load_state_dict(self, sd):
        for k, v in sd.items():
            getattr(self, k).data[...] = v


class _LinearMLP:
    """The same model from nn.Linear layers (used when minigrad.nn provides Linear)."""

    def __init__(self):
        self.fc1, self.fc2 = Linear(6, 16), Linear(16, 2)

    def parameters(self):
        return list(self.fc1.parameters()) + list(self.fc2.parameters())

    def __call__(self, x):
        return self.fc2(self.fc1(x).tanh())

    def state_dict(self):
        return {"fc1": self.fc1.state_dict(), "fc2": self.fc2.state_dict()}

    def load_state_dict(self, sd):
        self.fc1.load_state_dict(sd["fc1"])
        self.fc2.load_state_dict(sd["fc2"])


def _make(model_cls):
    model = model_cls()
    opt = optim.Adam(model.parameters(), lr=1e-2, betas=(0.5, 0.999), amsgrad=True)
    return model, opt


def _train(model, opt, steps):
    """Steps on fresh random minibatches from minigrad's generator (so its state matters)."""
    losses = []
    for _ in range(steps):
        x = minigrad.randn(8, 6)
        y = (x[:, :2] * 2.0).tanh()
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _get_rng_state():
    getter = getattr(backend, "get_rng_state", None)
    return getter() if getter is not None else backend.rng().bit_generator.state


def _set_rng_state(state):
    setter = getattr(backend, "set_rng_state", None)
    if setter is not None:
        setter(state)
    else:
        backend.rng().bit_generator.state = state


@pytest.mark.parametrize("model_cls", [
    _LeafMLP,
    pytest.param(_LinearMLP, marks=pytest.mark.skipif(Linear is None,
                                                      reason="minigrad.nn.Linear not available")),
], ids=["leaves", "nn.Linear"])
def test_resume_is_bit_exact(model_cls, tmp_path):
    """Train 10 steps, checkpoint, train 10 more; new objects + checkpoint repeat those 10 exactly."""
    minigrad.manual_seed(1)
    model, opt = _make(model_cls)
    _train(model, opt, 10)
    path = tmp_path / "ckpt.npz"
    io.save({"model": model.state_dict(), "optim": opt.state_dict(), "rng": _get_rng_state(),
             "step": 10}, path)
    expected = _train(model, opt, 10)
    final = [p.data.copy() for p in model.parameters()]

    minigrad.manual_seed(999)  # different init and generator state: all must come from the file
    model2, opt2 = _make(model_cls)
    ckpt = io.load(path)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optim"])
    _set_rng_state(ckpt["rng"])
    assert ckpt["step"] == 10
    got = _train(model2, opt2, 10)
    assert got == expected  # bit for bit
    for a, b in zip(model2.parameters(), final):
        np.testing.assert_array_equal(a.data, b)
