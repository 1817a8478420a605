"""minigrad.backend.counters: the to_host event is counted wherever a tensor's array reaches
the host, once per hand-over, on the CPU as well (nothing moves there, but the count is what a
GPU run would copy)."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad import backend
from minigrad import functional as F
from minigrad.backend import counters

from variant_batches import random_batch


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
    # 112: the BCE loss's gradient in its logits became one op (BCEWithLogitsGrad, was Sigmoid,
    # Sub and Mul); kernel calls went 86 -> 93: the sigmoid, the loss and a convolution's NCHW
    # output with its bias are registry kernels now (one launch each on a GPU), the running
    # statistics one call per BatchNorm (was two)
    # 97 on the CPU: the step's four transposed 4x4/2 products (G's layer and D's input
    # gradients) take the output-phase Winograd route there, three kernel calls each where
    # col2im was one (on a GPU they stay on col2im: kernels.winograd)
    assert c["op"] <= 106 and c["kernel"] <= 97, (c["op"], c["kernel"])


def test_a_gan_loss_is_two_ops_and_three_in_its_backward():
    """binary_cross_entropy_with_logits (mean): the fused elementwise loss and one Mean op
    (were Softplus, Mul, Sub, Sum, MulConst); backward: Mean's scale and broadcast, and
    gy * (sigmoid(z) - t) as one op, BCEWithLogitsGrad (were 6, then 5 with Sigmoid, Sub and
    Mul for that gradient)."""
    z = minigrad.randn(8, 1, requires_grad=True)
    with counters.count() as c:
        loss = minigrad.nn.functional.binary_cross_entropy_with_logits(z, minigrad.ones(8, 1))
    assert c["op"] == 2, c
    with counters.count() as c:
        loss.backward()
    assert c["op"] == 3 and c["kernel.bce_with_logits_grad"] == 1, c


def test_a_gan_loss_and_a_sigmoid_are_one_kernel_each():
    """On a GPU the loss (softplus(z) - z t), its gradient in z (gy (sigmoid(z) - t)) and a
    sigmoid are one fused kernel each (were 3, 10 and 8 CuPy launches): a registry call each
    here, and no array-library call on the emulated GPU."""
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda():
        z = minigrad.randn(8, 1, device="cuda", requires_grad=True)
        t, gy = minigrad.ones(8, 1, device="cuda"), minigrad.ones(8, 1, device="cuda")
        with counters.count() as c:
            loss = minigrad.nn.functional.binary_cross_entropy_with_logits(z, t,
                                                                          reduction="none")
            (g,) = minigrad.grad(loss, [z], gy)
            s = z.sigmoid()
    assert (c["launch.minigrad_bce_with_logits_fwd"], c["launch.minigrad_bce_with_logits_grad"],
            c["launch.minigrad_sigmoid_fwd"]) == (1, 1, 1), c
    assert c["launch"] == 3, c
    zz = z.data.view(np.ndarray)
    np.testing.assert_allclose(s.data.view(np.ndarray), 1 / (1 + np.exp(-zz)), rtol=1e-6)


def test_cross_entropy_is_one_kernel_and_its_gradient_another():
    """cross_entropy on class indices (AC-GAN's auxiliary loss): on a GPU the rows' losses are
    one kernel and their gradient one (were about ten launches each way), plus the mean."""
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda():
        z = minigrad.randn(8, 10, device="cuda", requires_grad=True)
        t = minigrad.tensor(np.arange(8) % 10, device="cuda")
        with counters.count() as c:
            loss = minigrad.nn.functional.cross_entropy(z, t)
            (g,) = minigrad.grad(loss, [z])
    assert (c["launch.minigrad_cross_entropy_fwd"], c["launch.minigrad_cross_entropy_grad"]) \
        == (1, 1), c
    assert c["launch"] <= 10, c  # the two, the mean's sums and divisions, the mask
    p = np.exp(z.data.view(np.ndarray))
    p /= p.sum(1, keepdims=True)
    p[np.arange(8), np.arange(8)] -= 1
    np.testing.assert_allclose(g.data.view(np.ndarray), p / 8, rtol=1e-5, atol=1e-7)


def test_batch_norm_running_statistics_are_one_kernel():
    """Training BatchNorm with running statistics: one kernel updates both (was one each)."""
    bn = minigrad.nn.BatchNorm2d(3)
    x = minigrad.randn(4, 3, 2, 2)
    with counters.count() as c:
        bn(x)
    assert c["kernel.batch_norm_running"] == 1 and c["kernel.running_average"] == 0, c
    xs = x.numpy().transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * xs.mean(1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * xs.var(1, ddof=1), rtol=1e-5)


def test_a_dcgan_step_on_the_emulated_gpu_launches_fewer_kernels():
    """One DCGAN-28 step (the benchmark's networks, batch 64) on the emulated GPU of
    benchmarks/cupy_launches.py: the kernels CuPy would launch, counted on the host (a model of
    the CUDA profiler's count: at the commit the H200 measured 276 it gives 265). 246 before
    this, 165, now 147: the batched products call cuBLAS's strided-batched GEMM directly (no
    pointer arrays, no copies of transposed operands), the sigmoid, the BCE loss and its gradient
    are one kernel each, a BatchNorm's running statistics one kernel, a convolution's NCHW
    output and its bias one kernel (nchw_from_rows; were a copy and an addition), and the
    columns in (c, i, j) order (kernels.conv_columns), where the weight's rows and the weight
    gradient's (OC, C, KH, KW) are views: 18 copies -> 4 (the rows of gy and x, _to_rows)."""
    from benchmarks.cupy_launches import emulated_cuda
    from benchmarks.suite import _batch, bench_config

    with emulated_cuda():
        minigrad.manual_seed(0)
        import gans

        model = gans.get_model("dcgan")(bench_config("dcgan"), device="cuda")
        images, labels = _batch("dcgan", 64)
        real = minigrad.tensor(images, device="cuda")
        model.train_step(real)
        with counters.count() as c:
            model.train_step(real)
    assert c["launch.cupy_mat_ptrs"] == 0 and c["launch.gemm_batched"] == 0, c
    assert c["launch.minigrad_batch_norm_running"] == 5
    assert c["launch.minigrad_running_average"] == 0
    assert c["launch.cupy_negative__float32_float32"] <= 1 and c["launch.cupy_exp"] == 0, c
    assert c["launch.cupy_copy__float32_float32"] <= 4, c["launch.cupy_copy__float32_float32"]
    assert c["launch"] <= 147 and c["to_host"] == 0, c["launch"]


def test_an_acgan_step_launches_no_more_kernels_than_pytorchs_profile():
    """One AC-GAN step (batch 64) on the emulated GPU: 208 launches with the fused cross-entropy
    (were 248 with log_softmax and nll_loss composed), 192 with the GPU's column order, 194
    with the fake labels drawn by the counter-based generator (a draw, the counter's advance, a
    scale and a cast where cuRAND's draw was one launch, which a capture refuses), 195 with
    the accuracy's argmax, which the emulated GPU did not count before; PyTorch's profile
    counted 214."""
    from benchmarks.cupy_launches import emulated_cuda
    from benchmarks.suite import _batch, bench_config

    with emulated_cuda():
        minigrad.manual_seed(0)
        import gans

        model = gans.get_model("acgan")(bench_config("acgan"), device="cuda")
        images, labels = _batch("acgan", 64)
        real, y = minigrad.tensor(images, device="cuda"), minigrad.tensor(labels, device="cuda")
        model.train_step(real, y)
        with counters.count() as c:
            model.train_step(real, y)
    assert c["launch.minigrad_cross_entropy_fwd"] >= 2, c  # D's on real and fake, G's
    assert c["launch.cupy_log"] == 0 and c["launch.cupy_isfinite"] == 0, c  # no log_softmax
    assert c["launch"] <= 195 and c["to_host"] == 0, c["launch"]


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
    # the power iteration's two products and two normalizations (raw arrays, through the
    # registry, so that a CUDA graph records them), the graph's three products
    assert c["op"] == 6 and c["kernel.matmul"] == 5 and c["kernel.l2_normalize"] == 2, c
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


def test_spectral_norm_on_the_emulated_gpu_launches_ten_kernels():
    """A spectral-normalised Linear's training forward on the emulated GPU: the power iteration
    is two matrix-vector products and two l2_normalize kernels (the norm and the division in
    one launch, where the array code took four), the buffers' two in-place copies, then sigma's
    two products, W's and the division: 10 launches (18 before). The iteration's u and v are
    the graph's constants as they are; in eval mode (no iteration) the buffers' arrays are
    copied instead, so that a later update of the buffers cannot reach a graph."""
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda():
        minigrad.manual_seed(0)
        m = minigrad.nn.utils.spectral_norm(minigrad.nn.Linear(6, 5, bias=False)).to("cuda")
        x = minigrad.randn(3, 6, device="cuda")
        with counters.count() as c:
            y = m(x)
        assert c["launch"] == 10 and c["launch.minigrad_l2_normalize"] == 2 and \
            c["launch.cupy_copy__float32_float32"] == 2, dict(c)
        m.eval()
        with counters.count() as c:
            y_eval = m(x)
        assert c["launch"] == 6 and c["launch.minigrad_l2_normalize"] == 0, dict(c)
        m(x).sum().backward()
        expected = m.weight_orig.grad.numpy().copy()
        m.weight_orig.grad = None
        m.train()
        m(x)  # moves the buffers in place
        y_eval.sum().backward()  # with the u and v it was computed with
        np.testing.assert_array_equal(m.weight_orig.grad.numpy(), expected)
        y.sum().backward()


def test_the_winograd_routes_are_the_cpus():
    """A 4x4 stride-2 convolution wide enough for the Winograd route takes it on the CPU, and on
    a GPU (here the emulated one) the im2col route, one kernel where the transforms' array code
    is tens of CuPy launches (kernels.winograd); both compute the same convolution."""
    from benchmarks.cupy_launches import emulated_cuda

    conv2d = minigrad.nn.functional.conv2d
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 32, 16, 16)).astype(np.float32)
    w = (rng.standard_normal((32, 32, 4, 4)) * 0.1).astype(np.float32)
    with counters.count() as cpu:
        y_cpu = conv2d(minigrad.tensor(x), minigrad.tensor(w), None, 2, 1).numpy()
    assert cpu["kernel.winograd_k4s2f4_input"] == 1 and cpu["kernel.im2col_hwc"] == 0, cpu
    with emulated_cuda():
        with counters.count() as gpu:
            y = conv2d(minigrad.tensor(x, device="cuda"), minigrad.tensor(w, device="cuda"),
                       None, 2, 1)
        y_gpu = np.asarray(y.data.view(np.ndarray))
    assert gpu["kernel.im2col_chw"] == 1 and gpu["launch"] <= 3, gpu  # im2col, GEMM, NCHW
    assert not any(k.startswith("kernel.winograd") for k in gpu), gpu
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("transposed", [False, True])
def test_a_thin_convolution_and_its_gradients_launch_nine_kernels(transposed):
    """The benchmark's conv2d 1->64 (and conv_transpose2d 64->1), forward, .sum() and backward
    on the emulated GPU: 9 launches (were 13 and 12). The weight's rows and the weight
    gradient are views in the GPU's column order, and the sum's broadcast gradient is made
    contiguous once for both products, not copied by each."""
    from benchmarks.cupy_launches import emulated_cuda

    rng = np.random.default_rng(0)
    shape, w_shape = ((64, 64, 14, 14), (64, 1, 4, 4)) if transposed else \
        ((64, 1, 28, 28), (64, 1, 4, 4))
    op = minigrad.nn.functional.conv_transpose2d if transposed else minigrad.nn.functional.conv2d
    with emulated_cuda():
        x = minigrad.tensor(rng.standard_normal(shape).astype(np.float32), device="cuda",
                            requires_grad=True)
        w = minigrad.tensor(rng.standard_normal(w_shape).astype(np.float32), device="cuda",
                            requires_grad=True)
        op(x, w, None, 2, 1).sum().backward()  # the kernels' first use
        x.grad = w.grad = None
        with counters.count() as c:
            op(x, w, None, 2, 1).sum().backward()
    assert c["launch"] <= 9, dict(c)
    assert c["launch.cupy_copy__float32_float32"] <= 1, dict(c)  # the broadcast gy, once


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_is_batch_norms_fused_op(affine):
    """InstanceNorm2d (CycleGAN's generator) runs BatchNorm's fused op on the (1, N*C, H, W)
    view, as torch does: one kernel forward and one for the input gradient, where the composed
    form was ~15 ops each way (a CycleGAN step: 2142 -> 1062 ops, 2722 -> 1402 emulated GPU
    launches; 1378 with the ones and zeros of the non-affine form made once per device)."""
    m = minigrad.nn.InstanceNorm2d(3, affine=affine)
    x = minigrad.randn(4, 3, 5, 5, requires_grad=True)
    with counters.count() as c:
        y = m(x)
    # the view, the op and the view back; with affine parameters their tiling too
    assert c["kernel.batch_norm_fwd"] == 1 and c["op"] == (5 if affine else 3), dict(c)
    with counters.count() as c:
        y.backward(minigrad.randn(4, 3, 5, 5))
    assert c["kernel.batch_norm_grad_input"] == 1 and c["op"] == (9 if affine else 3), dict(c)
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda():  # without affine parameters the ones and zeros are made once
        m, x = m.to("cuda"), minigrad.randn(4, 3, 5, 5, device="cuda")
        m(x)
        with counters.count() as c:
            m(x)
    assert c["launch"] == (3 if affine else 1) and c["uncapturable"] == 0, dict(c)  # tiles


@pytest.mark.parametrize("name", sorted(__import__("gans").available()))
def test_every_variant_trains_on_the_emulated_gpu_without_a_host_copy(name):
    """Each variant's train_step and sample on the emulated GPU (benchmarks/cupy_launches.py:
    the GPU's code paths, on NumPy): finite numbers, and no array copied to the host inside a
    step, so none waits for the GPU (the GPU issue's first target, for every variant here
    where the profiler on a GPU has checked the DCGAN step); and nothing a CUDA graph capture
    refuses (a product through CuPy's cuBLAS wrappers, a cuRAND draw, a copy from the host),
    so ``--cuda-graph`` can record every variant's step."""
    import gans
    from benchmarks.cupy_launches import emulated_cuda

    with emulated_cuda():
        minigrad.manual_seed(0)
        model = gans.get_model(name)(gans.get_config(name)(batch_size=4), device="cuda")
        batch = random_batch(model, 4, np.random.default_rng(0), "cuda")
        model.train_step(*batch)
        with counters.count() as c:
            stats = model.train_step(*batch)
        assert c["to_host"] == 0, (name, dict(c))
        # nor read on the host any other way (a raw array's int(), bool(), .get(), ...)
        assert c["device_to_host"] == 0, (name, {k: v for k, v in c.items() if "host" in k})
        assert c["uncapturable"] == 0, (name, {k: v for k, v in c.items() if "uncap" in k})
        values = {k: float(v.data) for k, v in stats.items()}
        samples = model.sample(2)
    assert values and all(np.isfinite(v) for v in values.values()), values
    assert samples.shape == (2,) + batch[0].shape[1:]


def test_pooling_and_padding_copy_nothing_from_the_host_after_their_first_call():
    """Pooling's window tables, masks and divisors and padding's gather index are computed on
    the host from shapes alone; on a GPU each is copied to the device once
    (backend.device_constant) rather than on every call: a copy is a wait, and a CUDA graph
    capture refuses it. The values are the CPU's."""
    from benchmarks.cupy_launches import emulated_cuda
    from minigrad.nn import functional as F

    def input(device):
        return minigrad.tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 9))
                               .astype(np.float32), device=device, requires_grad=True)

    def run(x):
        ys = [F.max_pool2d(x, 3, 2), F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False),
              F.adaptive_avg_pool2d(x, 4), F.adaptive_max_pool2d(x, 4), F.avg_pool2d(x, 2),
              F.max_pool2d(x, 3, 3, ceil_mode=True), F.pad(x, (2, 2, 1, 1), mode="reflect"),
              F.pad(x, (1, 3, 0, 2), mode="replicate")]
        sum(y.sum() for y in ys).backward()
        return [y.numpy() for y in ys] + [x.grad.numpy()]

    expected = run(input("cpu"))
    with emulated_cuda():
        run(input("cuda"))
        x = input("cuda")
        with counters.count() as c:
            got = run(x)
    assert c["uncapturable.host_to_device"] == 0 and c["to_host"] == len(got), dict(c)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    table = np.arange(6).reshape(2, 3)
    with emulated_cuda() as cp:
        like = cp.zeros(1)
        first = minigrad.backend.device_constant(table, like)
        assert minigrad.backend.device_constant(table.copy(), like) is first
        assert minigrad.backend.device_constant(table + 1, like) is not first
        np.testing.assert_array_equal(cp.asnumpy(first), table)
    assert minigrad.backend.device_constant(table, np.zeros(1)) is table


def test_the_emulated_gpu_flags_what_a_capture_refuses():
    """The emulated GPU counts the calls a CUDA graph capture would refuse (event
    ``uncapturable``): products through CuPy's cuBLAS wrappers (``@``, ``vdot``), draws from
    ``cupy.random`` and copies of host data; the registry's matmul, which calls cuBLAS itself
    inside a capture, and minigrad's own draws are not among them."""
    from benchmarks.cupy_launches import emulated_cuda
    from minigrad import kernels

    with emulated_cuda() as cp:
        a = minigrad.randn(3, 3, device="cuda").data
        with counters.count() as c:
            kernels.get("matmul", cp)(a, a)
            kernels.get("matmul", cp)(a, a[0])
            minigrad.randint(0, 5, (4,), device="cuda")
            minigrad.rand(4, device="cuda")
        assert c["uncapturable"] == 0, dict(c)
        with counters.count() as c:
            a @ a
            cp.vdot(a[0], a[1])
            cp.random.uniform(size=3)
            cp.asarray(np.ones(2))
        assert (c["uncapturable.cublas"], c["uncapturable.curand"],
                c["uncapturable.host_to_device"]) == (2, 1, 1), dict(c)



def test_the_emulated_gpu_counts_every_read_of_device_values_on_the_host():
    """On a GPU each of these makes the host wait for the device (CuPy copies the value over):
    the emulated GPU counts each one (event ``device_to_host``), whoever calls it, so a stray
    ``int()`` on a raw array in a step shows where minigrad's own ``to_host`` counter cannot
    see it; an element is a 0-d device array (CuPy's), read nowhere until converted."""
    import operator

    from benchmarks.cupy_launches import DeviceArray, emulated_cuda

    with emulated_cuda():
        a = minigrad.randn(3, device="cuda").data
        i = minigrad.arange(3, device="cuda").data
        with counters.count() as c:
            element = a[0]
        assert type(element) is DeviceArray and element.shape == () and not c["device_to_host"]
        ways = {"get": a.get, "item": a[1:2].item, "tolist": a.tolist, "int": lambda: int(a[0]),
                "float": lambda: float(a[0]), "complex": lambda: complex(a[0]),
                "bool": lambda: bool(a[0]), "index": lambda: operator.index(i[1])}
        for how, way in ways.items():
            with counters.count() as c:
                way()
            assert (c["device_to_host"], c["device_to_host." + how]) == (1, 1), (how, dict(c))


def test_the_emulated_gpu_refuses_numpy_conversions_in_the_product_code():
    """CuPy refuses ``numpy.asarray(device_array)`` (and ``array``, ``ascontiguousarray``...)
    with a TypeError, where NumPy takes the emulator's arrays (a subclass) silently: minigrad's
    and gans' calls raise CuPy's error on the emulated GPU; the emulator's, NumPy's and a
    test's do not, and the converters are NumPy's again afterwards."""
    from benchmarks.cupy_launches import emulated_cuda

    original = np.asarray
    with emulated_cuda():
        a = minigrad.randn(3, device="cuda").data
        product = {"__name__": "minigrad.ops.example", "np": np, "a": a}
        for call in ("np.asarray(a)", "np.array([a, a])", "np.ascontiguousarray(a)"):
            with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
                exec(call, product)
        exec("np.asarray(a.get())", product)   # the explicit copy is fine
        np.asarray(a)                          # here: a test's own call
        assert np.pad(a, 1).shape == (5,)      # NumPy's functions inside, as CuPy dispatches
    assert np.asarray is original

def test_dropout_is_one_op_and_one_kernel_with_the_masks_floats():
    """F.dropout: one op and one kernel each way (dropout_apply, the mask and the product in one
    pass; on the emulated GPU the draw's two kernels and that one, where the mask and the
    product were two), the same floats as x * mask from the same draws."""
    from benchmarks.cupy_launches import emulated_cuda
    from minigrad.kernels import reference as ref

    x = minigrad.randn(6, 7, requires_grad=True)
    minigrad.manual_seed(5)
    with counters.count() as c:
        y = minigrad.nn.functional.dropout(x, 0.3)
    assert c["op"] == 1 and c["kernel.dropout_apply"] == 1, dict(c)
    minigrad.manual_seed(5)
    u = minigrad.rand(6, 7).numpy()
    np.testing.assert_array_equal(y.numpy(), x.numpy() * ref.dropout_mask(u, 0.3, 1 / 0.7))
    with counters.count() as c:
        y.backward(minigrad.ones(6, 7))
    assert c["op"] == 1 and c["kernel.dropout_apply"] == 1, dict(c)
    np.testing.assert_array_equal(x.grad.numpy(), ref.dropout_mask(u, 0.3, 1 / 0.7))
    with emulated_cuda():
        xg = minigrad.randn(6, 7, device="cuda", requires_grad=True)
        with counters.count() as c:
            minigrad.nn.functional.dropout(xg, 0.3)
    assert c["launch"] == 3 and c["launch.minigrad_dropout_apply"] == 1, dict(c)
