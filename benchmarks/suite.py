"""The benchmark cases: each builds a minigrad callable and its PyTorch twin doing the same work.

A case is ``(name, group, make)`` where ``make(device)`` returns ``(minigrad_fn, torch_fn)``;
each fn runs one forward+backward (ops) or one full training step (steps).
"""
from __future__ import annotations

import numpy as np

import minigrad
import gans
from minigrad.nn import functional as MF


def _np(*shape, seed=0, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float32)


def _pair(arrays, grad_flags, device):
    """The same arrays as minigrad and torch leaf tensors."""
    import torch

    mg = [minigrad.tensor(a, requires_grad=g, device=device) for a, g in zip(arrays, grad_flags)]
    th = [torch.tensor(a, requires_grad=g, device=device) for a, g in zip(arrays, grad_flags)]
    return mg, th


def _fwd_bwd(f_mg, f_th, mg, th):
    def run_mg():
        for t in mg:
            t.grad = None
        f_mg(*mg).sum().backward()

    def run_th():
        for t in th:
            t.grad = None
        f_th(*th).sum().backward()

    return run_mg, run_th


def op_cases():
    import torch
    import torch.nn.functional as TF

    def matmul(m, k, n):
        def make(dev):
            mg, th = _pair([_np(m, k), _np(k, n, seed=1)], [True, True], dev)
            return _fwd_bwd(lambda a, b: a @ b, lambda a, b: a @ b, mg, th)
        return make

    def conv(cin, cout, hw, transposed=False, n=64):
        """A 4x4/2 convolution (``transposed``: a transposed one) of an (n, cin, hw, hw) batch."""
        if transposed:
            w_shape, f_mg, f_th = (cin, cout, 4, 4), MF.conv_transpose2d, TF.conv_transpose2d
        else:
            w_shape, f_mg, f_th = (cout, cin, 4, 4), MF.conv2d, TF.conv2d

        def make(dev):
            mg, th = _pair([_np(n, cin, hw, hw), _np(*w_shape, seed=1) * 0.1], [True, True], dev)
            return _fwd_bwd(lambda x, w: f_mg(x, w, stride=2, padding=1),
                            lambda x, w: f_th(x, w, stride=2, padding=1), mg, th)
        return make

    def batchnorm(dev):
        mg, th = _pair([_np(64, 128, 7, 7), np.ones(128, np.float32), np.zeros(128, np.float32)],
                       [True, True, True], dev)
        return _fwd_bwd(lambda x, w, b: MF.batch_norm(x, None, None, w, b, training=True),
                        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), mg, th)

    def act_chain(dev):
        mg, th = _pair([_np(100, 1024)], [True], dev)
        return _fwd_bwd(lambda x: MF.leaky_relu(x, 0.2).tanh().sigmoid(),
                        lambda x: TF.leaky_relu(x, 0.2).tanh().sigmoid(), mg, th)

    def bce_logits(dev):
        mg, th = _pair([_np(100, 1, lo=-5, hi=5), (_np(100, 1, seed=2) > 0).astype(np.float32)],
                       [True, False], dev)
        return _fwd_bwd(lambda z, t: MF.binary_cross_entropy_with_logits(z, t),
                        lambda z, t: TF.binary_cross_entropy_with_logits(z, t), mg, th)

    def chain(a, b):
        y = a
        for _ in range(10):
            y = y * b + a
        return y

    def overhead(dev):
        """20 chained elementwise ops on 1-element tensors, and backward: the cost of dispatch
        alone."""
        mg, th = _pair([_np(1), _np(1, seed=1)], [True, True], dev)
        return _fwd_bwd(chain, chain, mg, th)

    def overhead_forward(dev):
        """The same 20 ops, graph recorded, no backward."""
        mg, th = _pair([_np(1), _np(1, seed=1)], [True, True], dev)
        return (lambda: chain(*mg)), (lambda: chain(*th))

    return [
        ("matmul 100x784 @ 784x1024", "op", matmul(100, 784, 1024)),
        ("matmul 100x1024 @ 1024x512", "op", matmul(100, 1024, 512)),
        ("matmul 64x6272 @ 6272x1", "op", matmul(64, 6272, 1)),
        ("conv2d 1->64, 28x28, 4x4/2", "op", conv(1, 64, 28)),
        ("conv2d 64->128, 14x14, 4x4/2", "op", conv(64, 128, 14)),
        ("conv_transpose2d 128->64, 7x7, 4x4/2", "op", conv(128, 64, 7, transposed=True)),
        ("conv_transpose2d 64->1, 14x14, 4x4/2", "op", conv(64, 1, 14, transposed=True)),
        ("batch_norm (64,128,7,7)", "op", batchnorm),
        ("leaky_relu>tanh>sigmoid (100,1024)", "op", act_chain),
        ("bce_with_logits (100,1)", "op", bce_logits),
        ("overhead: 20 ops on 1-element tensors", "overhead", overhead),
        ("overhead: the same 20 ops, forward only", "overhead", overhead_forward),
    ]


def _batch(name, n, seed=0, channels=1, size=28):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (n, channels, size, size)).astype(np.float32)
    return images, rng.integers(0, 10, n).astype(np.int64)


def bench_config(name, **config):
    """The config a benchmark times for model ``name``: its defaults, except that the vanilla
    GAN keeps the lecture's MLPs (its default is a narrower pair, chosen for a five-minute run),
    so "MLP GAN step" stays the same networks."""
    from gans.vanilla import LECTURE_MLPS

    return gans.get_config(name)(**{**(LECTURE_MLPS if name == "vanilla" else {}), **config})


def step_case(name, batch=None, **config):
    """A full training step (D step + G step) of a gans model and of its torch twin."""
    def make(dev):
        import torch

        from benchmarks.twins import Twin

        minigrad.manual_seed(0)
        cfg = bench_config(name, **config)
        model = gans.get_model(name)(cfg, device=dev)
        n = batch or cfg.batch_size
        images, labels = _batch(name, n, channels=getattr(cfg, "channels", 1),
                                size=getattr(cfg, "img_size", 28))
        twin = Twin(model, seed=0)  # on the model's device
        real_mg = minigrad.tensor(images, device=dev)
        labels_mg = minigrad.tensor(labels, device=dev)
        real_th = torch.from_numpy(images).to(twin.device)  # both batches copied once, up front
        labels_th = torch.from_numpy(labels).to(twin.device)
        return (lambda: model.train_step(real_mg, labels_mg, update_g=True),
                lambda: twin.train_step(real_th, labels_th, update_g=True))
    return make


def _dcgan64(nn, channels=3, nz=100, f=64):
    """Radford et al.'s 64x64 DCGAN, in ``nn`` (minigrad.nn or torch.nn: the same names).

    G: z (nz, 1, 1) -> ConvT 4x4/1 -> (8f, 4, 4) -> ConvT 4x4/2 -> (4f, 8, 8) -> (2f, 16, 16)
       -> (f, 32, 32) -> ConvT -> (C, 64, 64), BatchNorm + ReLU between, Tanh out;
    D: the mirror, Conv 4x4/2 with BatchNorm (not on the first layer) + LeakyReLU(0.2), then
       Conv 4x4/1 -> one logit."""
    g = [nn.ConvTranspose2d(nz, 8 * f, 4, 1, 0, bias=False), nn.BatchNorm2d(8 * f), nn.ReLU()]
    for a, b in ((8 * f, 4 * f), (4 * f, 2 * f), (2 * f, f)):
        g += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]
    g += [nn.ConvTranspose2d(f, channels, 4, 2, 1, bias=False), nn.Tanh()]
    d = [nn.Conv2d(channels, f, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
    for a, b in ((f, 2 * f), (2 * f, 4 * f), (4 * f, 8 * f)):
        d += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
    d += [nn.Conv2d(8 * f, 1, 4, 1, 0, bias=False), nn.Flatten()]
    return nn.Sequential(*g), nn.Sequential(*d)


def dcgan64_case(batch=64):
    """One DCGAN-64 training step (D on real and fake, then G, non-saturating BCE, Adam(2e-4,
    (0.5, 0.999))) in minigrad and in torch, from the same weights and data."""
    def make(dev):
        import torch

        from benchmarks.twins import copy_weights
        from minigrad import nn as mnn, optim
        from gans.losses import bce_fake, bce_real

        minigrad.manual_seed(0)
        G, D = _dcgan64(mnn)
        G.to(dev)
        D.to(dev)
        tG, tD = _dcgan64(torch.nn)
        for mine, theirs in ((G, tG), (D, tD)):
            copy_weights(mine, theirs)
            theirs.to(dev)
        opts = [optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D)]
        topts = [torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (tG, tD)]
        real = _np(batch, 3, 64, 64, seed=1)
        z = _np(batch, 100, 1, 1, seed=2)
        real_mg, z_mg = minigrad.tensor(real, device=dev), minigrad.tensor(z, device=dev)
        real_th, z_th = torch.from_numpy(real).to(dev), torch.from_numpy(z).to(dev)

        def step_mg():
            fake = G(z_mg)
            loss_d = bce_real(D(real_mg)) + bce_fake(D(fake.detach()))
            opts[1].zero_grad()
            loss_d.backward()
            opts[1].step()
            loss_g = bce_real(D(fake))
            opts[0].zero_grad()
            loss_g.backward()  # D's .grad too, as the twins do not freeze either: same work
            opts[0].step()

        def step_th():
            bce = torch.nn.functional.binary_cross_entropy_with_logits
            fake = tG(z_th)
            r, f = tD(real_th), tD(fake.detach())
            loss_d = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
            topts[1].zero_grad()
            loss_d.backward()
            topts[1].step()
            f = tD(fake)
            loss_g = bce(f, torch.ones_like(f))
            topts[0].zero_grad()
            loss_g.backward()
            topts[0].step()
        return step_mg, step_th
    return make


def step_cases(batch=None):
    """The training-step cases, each at its model's usual batch (MLP GAN 100, the rest 64) or
    all at ``batch``."""
    def b(usual):
        return batch or usual

    return [
        (f"MLP GAN step (batch {b(100)})", "step", step_case("vanilla", batch=b(100))),
        # the networks the first command trains (gans.vanilla.Config(): a quarter as wide)
        (f"MLP GAN step, the example's narrow MLPs (batch {b(100)})", "step",
         step_case("vanilla", batch=b(100), g_hidden=(64, 128, 256), d_hidden=(256, 128, 64))),
        (f"DCGAN-28 step (batch {b(64)})", "step", step_case("dcgan", batch=b(64))),
        (f"DCGAN-64 step (batch {b(64)}, 3x64x64)", "step", dcgan64_case(b(64))),
        (f"conditional GAN step (batch {b(64)})", "step", step_case("cgan", batch=b(64))),
        (f"AC-GAN step (batch {b(64)})", "step", step_case("acgan", batch=b(64))),
        (f"WGAN-GP step, MLP critic (batch {b(64)})", "step",
         step_case("wgan_gp", batch=b(64), critic="mlp")),
        (f"WGAN-GP step, conv critic (batch {b(64)})", "step",
         step_case("wgan_gp", batch=b(64), critic="conv")),
        # colour, 3x32x32 (CIFAR-10's shape; issue 26)
        (f"DCGAN step, 3x32x32 (batch {b(64)})", "step",
         step_case("dcgan", batch=b(64), img_size=32, channels=3)),
        (f"SNGAN step, standard CNN, 3x32x32 (batch {b(64)})", "step",
         step_case("sngan", batch=b(64), img_size=32, channels=3)),
        (f"WGAN-GP step, conv critic, 3x32x32 (batch {b(64)})", "step",
         step_case("wgan_gp", batch=b(64), critic="conv", img_size=32, channels=3)),
    ]
