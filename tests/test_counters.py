"""minigrad.backend.counters: the to_host event is counted wherever a tensor's array reaches
the host, once per hand-over, on the CPU as well (nothing moves there, but the count is what a
GPU run would copy)."""
from __future__ import annotations

import numpy as np

import minigrad
from minigrad import backend
from minigrad import functional as F
from minigrad.backend import counters


def test_each_way_to_the_host_counts_once():
    t = minigrad.tensor([1.5])
    ways = [t.item, t.numpy, t.tolist, lambda: float(t), lambda: int(t), lambda: bool(t),
            lambda: np.asarray(t), lambda: backend.to_host(t.data)]
    for way in ways:
        with counters.count() as c:
            way()
        assert c["to_host"] == 1, way


def test_device_ops_count_nothing_and_counts_nest():
    a = minigrad.randn(4, 3, requires_grad=True)
    with counters.count() as outer:
        loss = (a * a).sum()
        loss.backward()
        stats = {"loss": loss.detach(), "norm": a.grad.detach().pow(2).sum().sqrt()}
        assert outer["to_host"] == 0
        with counters.count() as inner:
            values = minigrad.stack(list(stats.values())).numpy()
        assert inner["to_host"] == 1 and values.shape == (2,)
        stats["loss"].item()
    assert outer["to_host"] == 2 and inner["to_host"] == 1
    counters.add("to_host")  # outside any count(): recorded nowhere, no error
    assert outer["to_host"] == 2


def test_ops_and_kernel_calls_are_counted():
    """op: every Function run, forward or inside a backward; kernel: every call into the
    kernel registry, by name too."""
    x = minigrad.randn(8, 3, requires_grad=True)
    with counters.count() as c:
        y = F.leaky_relu(x * 2.0, 0.2).sum()  # MulConst, LeakyReLU, Sum
    assert c["op"] == 3 and c["kernel"] == c["kernel.leaky_relu_fwd"] == 1
    with counters.count() as c:
        y.backward()
    assert c["op"] >= 2 and c["kernel.leaky_relu_bwd"] == 1  # the backward's ops are ops too
    with counters.count() as c:
        minigrad.kernels.get("matmul")  # asking is calling (callers call what get returns)
    assert c["kernel"] == c["kernel.matmul"] == 1


def test_an_optimizer_step_is_one_kernel_per_parameter_group():
    """Multi-tensor Adam/RMSprop: one kernel call updates every parameter of a group (the GPU
    issue's "one multi-tensor kernel per parameter group"), however many parameters."""
    from gans.common import mlp

    net = mlp((5, 7, 6, 1))
    for name in ("Adam", "RMSprop"):
        opt = getattr(minigrad.optim, name)(net.parameters(), lr=1e-3)
        net(minigrad.randn(4, 5)).sum().backward()
        with counters.count() as c:
            opt.step()
        assert len(list(net.parameters())) == 6
        assert c["kernel"] == 1 and c[f"kernel.{name.lower()}_update_multi"] == 1, c
    two = minigrad.optim.Adam([{"params": list(net.parameters())[:2]},
                               {"params": list(net.parameters())[2:], "lr": 1e-4}])
    with counters.count() as c:
        two.step()
    assert c["kernel.adam_update_multi"] == 2


def test_a_dcgan_step_counts_its_batch_norm_and_conv_kernels():
    """One DCGAN-28 step on the CPU: what the GPU benchmark reports beside the profiler's count
    (benchmarks/gpu_kernels.py host_counts), here as checks: one BatchNorm forward kernel per
    BatchNorm call, no device-to-host copy, two optimizer kernels (D's, G's)."""
    import gans

    model = gans.get_model("dcgan")(gans.get_config("dcgan")(g_features=4, d_features=4,
                                                            batch_size=8))
    real = minigrad.tensor(np.random.default_rng(0).uniform(-1, 1, (8, 1, 28, 28))
                           .astype(np.float32))
    model.train_step(real)
    with counters.count() as c:
        model.train_step(real)
    # G: 2 BatchNorms, one batch of fakes (reused by G's step); D: 1 BatchNorm, run on the
    # real batch, on the fakes in D's step and on them again in G's step
    assert c["kernel.batch_norm_fwd"] == 2 + 3
    assert c["kernel.adam_update_multi"] == 2 and c["to_host"] == 0
    assert c["op"] > c["kernel"] > 0
    # ops per step (benchmarks/gpu_kernels.py --device cpu; docs/gpu.md): 156 before BatchNorm
    # took (N, C, *) itself, its bias gradient reused the input gradient's sum, a full or
    # leading-axes sum's backward lost its reshape, mean became one op, the BCE loss one op and
    # Linear's weight gradient one op (no Transpose)
    assert c["op"] <= 112 and c["kernel"] <= 86, (c["op"], c["kernel"])


def test_a_gan_loss_is_two_ops_and_five_in_its_backward():
    """binary_cross_entropy_with_logits (mean): the fused elementwise loss and one Mean op
    (were Softplus, Mul, Sub, Sum, MulConst); backward: Mean's scale and broadcast, and
    gy * (sigmoid(z) - t) (were 6)."""
    z = minigrad.randn(8, 1, requires_grad=True)
    with counters.count() as c:
        loss = minigrad.nn.functional.binary_cross_entropy_with_logits(z, minigrad.ones(8, 1))
    assert c["op"] == 2, c
    with counters.count() as c:
        loss.backward()
    assert c["op"] == 5, c


def test_batch_norm_is_one_op_and_three_in_its_backward():
    """Training-mode BatchNorm on (N, C, H, W): one op forward (no reshape to (N, C, L) and
    back), and its backward three ops (input, weight, bias gradient) with one kernel between
    them: the weight and bias gradients reuse the sums the input gradient's kernel took."""
    x = minigrad.randn(4, 3, 5, 5, requires_grad=True)
    w, b = minigrad.ones(3, requires_grad=True), minigrad.zeros(3, requires_grad=True)
    with counters.count() as c:
        y = minigrad.nn.functional.batch_norm(x, None, None, w, b, training=True)
    assert (c["op"], c["kernel"], c["kernel.batch_norm_fwd"]) == (1, 1, 1), c
    with counters.count() as c:
        y.backward(minigrad.randn(4, 3, 5, 5))
    assert (c["op"], c["kernel"], c["kernel.batch_norm_grad_input"]) == (3, 1, 1), c


def test_spectral_norm_ops():
    """A spectral-normalised Linear: sigma = u^T W v with u and v as a row and a column (no
    reshapes around 1-D products), and W / sigma's gradient in sigma from the output (2 ops,
    not 4), its weight gradient one op (LinearGradWeight): 6 ops forward, 11 backward (were 12
    and 19). An SNGAN-32 step: 457 ops (was 728)."""
    import gans

    m = minigrad.nn.utils.spectral_norm(minigrad.nn.Linear(5, 4))
    x = minigrad.randn(2, 5)
    with counters.count() as c:
        y = m(x).sum()
    assert c["op"] == 6 and c["kernel"] == 3, c
    with counters.count() as c:
        y.backward()
    assert c["op"] == 11 and c["kernel"] == 3, c
    model = gans.get_model("sngan")(gans.get_config("sngan")(
        g_features=4, d_features=4, batch_size=8, img_size=32, channels=3))
    real = minigrad.tensor(np.random.default_rng(0).uniform(-1, 1, (8, 3, 32, 32))
                           .astype(np.float32))
    model.train_step(real)
    with counters.count() as c:
        model.train_step(real)
    assert c["op"] <= 457 and c["to_host"] == 0, c["op"]
