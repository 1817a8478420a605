"""The device API: ``minigrad.device``/``Device``, ``device=`` on factories, ``Tensor.to``,
``Module.to``, optimizer state on its parameter's device, checkpoints loaded onto a device,
``minigrad.cuda``, mixed-device errors, ``manual_seed``, and what ``import minigrad`` costs.

Tests taking the ``device`` fixture run on "cpu" and, where CuPy sees a GPU, on "cuda" (skipped
otherwise, with the reason). Tests that only make sense with a GPU are marked ``needs_cuda``;
tests of how things fail *without* one skip where one is present.
"""
from __future__ import annotations


import numpy as np
import pytest

import minigrad
from minigrad import backend, nn, optim

from fresh_python import run_python

HAS_CUDA = minigrad.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device/CuPy: "
                                + (minigrad.cuda.unavailable_reason() or "unavailable"))
needs_no_cuda = pytest.mark.skipif(HAS_CUDA, reason="a CUDA device is present")


def _array_type(device):
    return np.ndarray if device == "cpu" else minigrad.device("cuda").xp.ndarray


# ====================================================================== Device objects
@pytest.mark.parametrize("spec, type_, index, text", [
    ("cpu", "cpu", None, "cpu"),
    ("cuda", "cuda", 0, "cuda:0"),
    ("cuda:0", "cuda", 0, "cuda:0"),
    ("cuda:1", "cuda", 1, "cuda:1"),
])
def test_device_parsing(spec, type_, index, text):
    d = minigrad.device(spec)
    assert (d.type, d.index, str(d)) == (type_, index, text)
    assert minigrad.device(d) == d and minigrad.Device(d) == d  # a Device copies


@pytest.mark.parametrize("bad", ["gpu", "tpu", "CUDA", "cuda:x", "cuda:-1", "cpu:a", ""])
def test_device_parsing_errors_are_clear(bad):
    with pytest.raises(ValueError, match="unknown device.*expected 'cpu', 'cuda'"):
        minigrad.device(bad)


def test_device_equality_and_hash():
    cpu, cuda0 = minigrad.device("cpu"), minigrad.device("cuda")
    assert cpu == "cpu" and cpu == minigrad.device("cpu")
    assert cuda0 == "cuda" == minigrad.device("cuda:0") and cuda0 == "cuda:0"
    assert cuda0 != "cuda:1" and cpu != "cuda" and cpu != cuda0
    assert hash(cuda0) == hash(minigrad.device("cuda:0"))
    assert len({cpu, minigrad.device("cpu"), cuda0, minigrad.device("cuda:0")}) == 2
    # comparing with something that is not a device is False, not an error
    assert cpu != 3 and cpu != None and cpu != "gpu"  # noqa: E711


def test_device_repr_like_torch():
    assert repr(minigrad.device("cpu")) == "device(type='cpu')"
    assert repr(minigrad.device("cuda")) == "device(type='cuda', index=0)"
    assert repr(minigrad.device("cuda:1")) == "device(type='cuda', index=1)"


def test_cpu_device_xp_is_numpy():
    assert minigrad.device("cpu").xp is np
    assert backend.get_array_module(np.zeros(2)) is np
    assert backend.device_of(np.zeros(2)) == "cpu"


# ========================================================================= minigrad.cuda
def test_cuda_namespace():
    assert isinstance(minigrad.cuda.is_available(), bool)
    assert minigrad.cuda.device_count() >= (1 if HAS_CUDA else 0)
    assert (minigrad.cuda.unavailable_reason() == "") == HAS_CUDA
    minigrad.cuda.synchronize()  # a no-op without CUDA
    assert minigrad.backend.cuda is minigrad.cuda


@needs_no_cuda
def test_cuda_unavailable_here():
    assert minigrad.cuda.is_available() is False and minigrad.cuda.device_count() == 0
    assert "CuPy" in minigrad.cuda.unavailable_reason()


@needs_no_cuda
@pytest.mark.parametrize("make", [
    lambda: minigrad.device("cuda").xp,
    lambda: minigrad.tensor([1.0, 2.0], device="cuda"),
    lambda: minigrad.zeros(2, device="cuda"),
    lambda: minigrad.randn(2, device="cuda"),
    lambda: minigrad.rand(2, device="cuda"),
    lambda: minigrad.randint(0, 5, (2,), device="cuda"),
    lambda: minigrad.arange(3, device="cuda"),
    lambda: minigrad.ones(2).to("cuda"),
    lambda: nn.Linear(2, 2).to("cuda"),
], ids=["xp", "tensor", "zeros", "randn", "rand", "randint", "arange", "Tensor.to",
        "Module.to"])
def test_cuda_requests_without_cuda_fail_clearly(make):
    with pytest.raises(RuntimeError, match=r"device 'cuda' requested but .*CuPy"):
        make()


# ===================================================== tensors on a device (cpu and cuda)
def test_factories_place_tensors_on_the_device(device):
    made = [minigrad.tensor([[1.0, 2.0]], device=device), minigrad.zeros(2, 3, device=device),
            minigrad.ones(2, device=device), minigrad.full((2,), 7.0, device=device),
            minigrad.randn(3, device=device), minigrad.rand(3, device=device),
            minigrad.randint(0, 4, (5,), device=device), minigrad.arange(4, device=device),
            minigrad.eye(2, device=device), minigrad.linspace(0, 1, 3, device=device),
            minigrad.Tensor(np.ones(2), device=device)]
    for t in made:
        assert t.device == device and isinstance(t.data, _array_type(device)), t
        assert t.xp is minigrad.device(device).xp
    ints = minigrad.randint(0, 4, (100,), device=device)
    assert ints.dtype == np.int64 and 0 <= int(ints.numpy().min()) and ints.numpy().max() < 4
    like = minigrad.zeros_like(made[1])
    assert like.device == device and like.shape == (2, 3)


def test_to_moves_and_keeps_values(device):
    x = minigrad.tensor([[1.0, -2.0], [3.0, 0.5]])
    y = x.to(device)
    assert y.device == device and isinstance(y.data, _array_type(device))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    back = y.to("cpu")
    assert back.device == "cpu" and type(back.numpy()) is np.ndarray
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert y.to(minigrad.device(device)).device == device  # a Device works as well as a str
    assert x.to("cpu") is x  # already there: no copy
    z = y.to(device, dtype=np.float64)
    assert z.device == device and z.dtype == np.float64
    assert y.to("float64").dtype == np.float64 and y.to(np.float64).device == device


def test_to_of_a_leaf_gives_a_leaf_that_collects_its_grad(device):
    w = minigrad.randn(3, requires_grad=True).to(device)
    assert w.is_leaf and w.requires_grad
    (w * w).sum().backward()
    assert w.grad.device == device
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.numpy(), rtol=1e-6)


def test_to_of_a_result_is_differentiable_both_ways_and_twice(device):
    """A result moved to another device stays in the graph: the gradient comes back to the
    device it left, and a second derivative crosses back too (torch's ``to`` is
    differentiable). The values are those of the same computation on one device."""
    def f(x, there):
        y = (x * x).to(there)          # x^2 on ``there``
        return ((y * y).sum().to(x.device), y)   # sum x^4, back on x's device

    for home, there in (("cpu", device), (device, "cpu")):
        x = minigrad.tensor([0.5, -1.5, 2.0], dtype=np.float64, device=home, requires_grad=True)
        out, y = f(x, there)
        assert y.device == there and not y.is_leaf and out.device == home
        (g,) = minigrad.autograd.grad(out, x, create_graph=True)
        assert g.device == home
        np.testing.assert_allclose(g.numpy(), 4 * x.numpy() ** 3)
        g.sum().backward()
        assert x.grad.device == home
        np.testing.assert_allclose(x.grad.numpy(), 12 * x.numpy() ** 2)
    # a cast and a move together: both differentiable, the gradient back in x's dtype
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    z = x.to(device, dtype=np.float64)
    assert z.dtype == np.float64 and z.device == device and not z.is_leaf
    (z * z).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    with minigrad.no_grad():  # nothing recorded: a plain copy
        moved = (x * 2).to(device)
    assert moved.device == device and not moved.requires_grad


def test_ops_keep_the_device_and_item_and_numpy_come_to_the_host(device):
    x = minigrad.tensor([[0.5, -1.0], [2.0, 0.25]], device=device, requires_grad=True)
    y = (x.tanh() @ x).relu().sum()
    y.backward()
    assert y.device == device and x.grad.device == device
    assert isinstance(y.item(), float) and type(x.grad.numpy()) is np.ndarray
    xc = minigrad.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    (xc.tanh() @ xc).relu().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xc.grad.numpy(), rtol=1e-6)


# ========================================================================= Module.to
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.bn = nn.BatchNorm1d(3)
        self.register_buffer("scratch", minigrad.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x))


def test_module_to_moves_parameters_buffers_and_grads_in_place(device):
    net = _Net()
    params = list(net.parameters())
    net(minigrad.randn(5, 4)).sum().backward()
    assert net.to(device) is net
    assert list(net.parameters()) == params  # same Parameter objects: optimizers keep working
    for name, t in list(net.named_parameters()) + list(net.named_buffers()):
        assert t.device == device, name
    assert net.scratch.device == device  # non-persistent buffers too
    assert net.bn.num_batches_tracked.device == device
    assert all(p.grad.device == device for p in net.parameters())
    out = net(minigrad.randn(5, 4, device=device))  # BatchNorm updates its stats on the device
    assert out.device == device and net.bn.running_mean.device == device
    net.to("cpu")
    assert all(t.device == "cpu" for t in list(net.parameters()) + list(net.buffers()))


def test_module_to_dtype_only_casts_floats():
    net = _Net().to(dtype=np.float64)
    assert net.fc.weight.dtype == np.float64 and net.bn.running_var.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64


# ===================================================== optimizer state follows the parameter
@pytest.mark.parametrize("make", [
    lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    lambda ps: optim.RMSprop(ps, lr=1e-2, momentum=0.9, centered=True),
    lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9),
], ids=["adam", "rmsprop", "sgd"])
def test_optimizer_state_lives_on_the_parameters_device(device, make):
    minigrad.manual_seed(0)
    net = nn.Linear(3, 2).to(device)
    opt = make(net.parameters())
    for _ in range(2):
        opt.zero_grad()
        net(minigrad.randn(4, 3, device=device)).pow(2).mean().backward()
        opt.step()
    for state in opt.state.values():
        arrays = [v for v in state.values() if hasattr(v, "shape")]
        assert arrays and all(isinstance(a, _array_type(device)) for a in arrays)
    # a state dict is host NumPy; loading it puts the state back on the parameter's device
    sd = opt.state_dict()
    for state in sd["state"].values():
        assert all(type(v) is np.ndarray for v in state.values() if hasattr(v, "shape"))
    opt2 = make(net.parameters())
    opt2.load_state_dict(sd)
    for state in opt2.state.values():
        assert all(isinstance(v, _array_type(device)) for v in state.values()
                   if hasattr(v, "shape"))


def test_optimizer_on_device_matches_cpu(device):
    """The same Adam steps on the device and on the CPU (the fused kernels agree)."""
    def run(dev):
        minigrad.manual_seed(0)
        net = nn.Linear(3, 2)
        x = minigrad.randn(8, 3)
        net.to(dev)
        opt = optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-3)
        for _ in range(5):
            opt.zero_grad()
            net(x.to(dev)).pow(2).mean().backward()
            opt.step()
        return net.weight.numpy()
    np.testing.assert_allclose(run(device), run("cpu"), rtol=1e-5, atol=1e-6)


# ======================================================================= checkpoints
def test_checkpoint_loads_onto_any_device(tmp_path, device):
    net = _Net()
    net(minigrad.randn(5, 4))  # running stats away from their init
    path = tmp_path / "net.npz"
    minigrad.save(net.state_dict(), path)
    sd = minigrad.load(path, device=device)
    assert all(isinstance(v, _array_type(device)) for v in sd.values())
    target = _Net().to(device)
    target.load_state_dict(sd)
    for k, v in net.state_dict().items():  # state_dict() values are host NumPy copies
        np.testing.assert_array_equal(target.state_dict()[k], v)
    assert all(t.device == device for t in list(target.parameters()) + list(target.buffers()))
    host = minigrad.load(path)  # no device: NumPy arrays, loadable into a model anywhere
    assert all(type(v) is np.ndarray for v in host.values())
    _Net().to(device).load_state_dict(host)


# ======================================================================= mixed devices
@pytest.mark.parametrize("op, name", [
    (lambda a, b: a + b, "Add"),
    (lambda a, b: a * b, "Mul"),
    (lambda a, b: a @ b.reshape(2, 1), "MatMul"),
    (lambda a, b: minigrad.cat([a, b]), "Concat"),
    (lambda a, b: minigrad.where(a > 0, a, b), "Where"),
], ids=["add", "mul", "matmul", "cat", "where"])
def test_an_op_on_two_devices_names_both(fake_cuda_tensor, op, name):
    """The error names the op, both devices and the fix."""
    a = minigrad.tensor([1.0, 2.0], requires_grad=True)
    b = fake_cuda_tensor([3.0, 4.0])
    assert b.device == "cuda:0"
    with pytest.raises(RuntimeError) as info:
        op(a, b)
    msg = str(info.value)
    assert msg.startswith(name + ":"), msg
    assert "same device" in msg and "cpu" in msg and "cuda:0" in msg and ".to(device)" in msg, msg


@needs_cuda
def test_a_real_cpu_cuda_mix_raises():
    a = minigrad.ones(2, requires_grad=True)
    b = minigrad.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"same device.*cpu.*cuda:0|same device.*cuda:0.*cpu"):
        a * b


# ======================================================================= manual_seed
def _draws(device):
    return [minigrad.randn(4, device=device).numpy(), minigrad.rand(3, device=device).numpy(),
            minigrad.randint(0, 100, (6,), device=device).numpy(),
            nn.functional.dropout(minigrad.ones(20, device=device), 0.5).numpy()]


def test_manual_seed_makes_draws_reproducible(device):
    minigrad.manual_seed(123)
    first = _draws(device)
    minigrad.manual_seed(123)
    again = _draws(device)
    minigrad.manual_seed(124)
    other = _draws(device)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, other))


def test_manual_seed_makes_initialisation_reproducible():
    minigrad.manual_seed(7)
    a = _Net().state_dict()
    minigrad.manual_seed(7)
    b = _Net().state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_rng_state_round_trip():
    minigrad.manual_seed(5)
    state = backend.get_rng_state()
    x = minigrad.randn(5).numpy()
    backend.set_rng_state(state)
    np.testing.assert_array_equal(minigrad.randn(5).numpy(), x)


# =================================================================== import is cheap
def test_import_minigrad_compiles_nothing():
    """``import minigrad`` imports neither numba nor any kernel back end (nothing compiled), and
    the first CPU conv in numpy mode still needs no numba."""
    code = ("import sys, minigrad\n"
            "print(sorted(m for m in ('numba', 'minigrad.kernels.numba_cpu',\n"
            "      'minigrad.kernels.cupy_gpu') if m in sys.modules))\n"
            "from minigrad import kernels\n"
            "kernels.set_kernels('numpy')\n"
            "x = minigrad.randn(1, 2, 6, 6)\n"
            "minigrad.nn.Conv2d(2, 3, 3)(x).sum().backward()\n"
            "print('numba' in sys.modules)\n")
    out = run_python(code)
    assert out.split("\n")[:2] == ["[]", "False"], out


# ======================================================= several GPUs: the current one
def test_cuda_means_the_current_gpu_and_set_device_chooses_it():
    """As torch's: 'cuda' is the current GPU (0 unless ``set_device`` chose another), taken
    when the Device is made; tensors and modules moved to 'cuda' land there. On two emulated
    GPUs, where an array call on another GPU than the current one raises (as in CuPy)."""
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda(devices=2):
        assert minigrad.cuda.current_device() == 0 and minigrad.device("cuda") == "cuda:0"
        on0 = minigrad.ones(2, device="cuda")
        minigrad.cuda.set_device(1)
        assert minigrad.cuda.current_device() == 1
        assert minigrad.device("cuda") == "cuda:1" and str(minigrad.device("cuda")) == "cuda:1"
        x = minigrad.randn(3, device="cuda", requires_grad=True)
        net = nn.Linear(3, 2).to("cuda")
        assert x.device == "cuda:1" and all(p.device == "cuda:1" for p in net.parameters())
        net(x).sum().backward()
        assert x.grad.device == "cuda:1"
        assert on0.device == "cuda:0" and on0.to("cuda").device == "cuda:1"
        with pytest.raises(ValueError, match=r"resides \(0\) is different from the current "
                                             r"device \(1\)"):
            on0.data + on0.data  # CuPy launches on the current GPU only
        minigrad.cuda.set_device("cuda:0")
        assert minigrad.device("cuda") == "cuda:0"
        with pytest.raises(ValueError, match=r"there are 2 GPU\(s\), indices 0 to 1"):
            minigrad.cuda.set_device(2)
        with pytest.raises(ValueError, match="not a GPU"):
            minigrad.cuda.set_device("cpu")
    if not minigrad.cuda.is_available():
        with pytest.raises(RuntimeError, match=r"set_device\(0\): CuPy"):
            minigrad.cuda.set_device(0)
