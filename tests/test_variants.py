"""Each variant's own mechanism, checked against its paper's formula (what the protocol tests in
test_protocol.py cannot see):

- the adversarial losses of gans/losses.py against their formulas in NumPy;
- vanilla: minimax vs non-saturating gradients; conditional models: labels steer samples;
  AC-GAN's class head; latent interpolation and arithmetic; image grids; config options;
- WGAN: weight clipping keeps the critic in [-c, c]; the reference code's critic warm-up schedule;
- WGAN-GP: the penalty's gradient w.r.t. the critic weights (double backprop) against finite
  differences (MLP and conv critics) and against torch;
- InfoGAN: the info loss against its formula and its gradient w.r.t. the Q head (gradcheck);
  the code grids and the categorical-code accuracy;
- CycleGAN: cycle/identity terms on tiny examples, the image pool, the domains;
- VAE: the KL term against its closed form in numpy and a Monte-Carlo estimate; the ELBO.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad
import gans
from minigrad import nn
from minigrad.data import ArrayDataset, DataLoader
from gans import cyclegan, infogan, latent, losses, vae, wgan, wgan_gp
from gans.common import ImagePool, image_grid, mlp


def _loader(n=8, batch=4):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, n).astype(np.int64)
    return DataLoader(ArrayDataset(images, labels), batch_size=batch, shuffle=True, seed=0)


# ------------------------------------------------------------------- adversarial losses
def _sig(s):
    return 1 / (1 + np.exp(-s))


@pytest.mark.parametrize("kind", losses.LOSSES)
def test_adversarial_losses_match_their_formulas(kind):
    rng = np.random.default_rng(0)
    r, f = rng.normal(0, 2, (6, 1)), rng.normal(0, 2, (6, 1))
    want_d = {"minimax": -np.log(_sig(r)).mean() - np.log(1 - _sig(f)).mean(),
              "least_squares": 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(),
              "hinge": np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(),
              "wasserstein": f.mean() - r.mean()}
    want_d["non_saturating"] = want_d["minimax"]
    want_g = {"minimax": np.log(1 - _sig(f)).mean(), "non_saturating": -np.log(_sig(f)).mean(),
              "least_squares": 0.5 * ((f - 1) ** 2).mean(), "hinge": -f.mean(),
              "wasserstein": -f.mean()}
    rt, ft = minigrad.tensor(r), minigrad.tensor(f)
    assert losses.d_loss(kind, rt, ft).item() == pytest.approx(want_d[kind], rel=1e-12)
    assert losses.g_loss(kind, ft).item() == pytest.approx(want_g[kind], rel=1e-12)


def test_unknown_loss_names_the_choices():
    s = minigrad.zeros(2, 1)
    for call in (lambda: losses.d_loss("lsgan", s, s), lambda: losses.g_loss("x", s),
                 lambda: losses.check_loss("x", ("hinge",))):
        with pytest.raises(ValueError, match="hinge"):
            call()


# ------------------------------------------------------------- vanilla and conditional
def test_minimax_and_nonsaturating_losses():
    """With D sure a fake is fake (logit -10): log(1-D) is flat, -log D is steep."""
    logits = minigrad.tensor([[-10.0]], requires_grad=True)
    grads = {}
    for loss in ("minimax", "non_saturating"):
        g, = minigrad.grad(losses.g_loss(loss, logits), logits)
        grads[loss] = abs(g.item())
    assert grads["minimax"] < 1e-4 < 0.99 < grads["non_saturating"]


def test_conditional_sampling_uses_labels():
    minigrad.manual_seed(0)
    model = gans.get_model("cgan")()
    z = model.latent(2)
    z = minigrad.cat([z[:1], z[:1]])
    a = model.sample(2, labels=[3, 3], z=z).numpy()
    b = model.sample(2, labels=[3, 7], z=z).numpy()
    assert np.allclose(a[0], a[1])
    assert not np.allclose(b[0], b[1])


def test_latent_interpolation_and_arithmetic(device):
    """The latent walks of a model on any device (the codes are made on the host: sample moves
    them to the model's device, as it does the labels)."""
    minigrad.manual_seed(0)
    model = gans.get_model("dcgan")(gans.get_config("dcgan")(g_features=8, d_features=8),
                                    device=device)
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal(100), rng.standard_normal(100)
    path = latent.interpolate(model, z0, z1, steps=5)
    assert path.shape == (5, 1, 28, 28) and path.device == minigrad.device(device)
    ends = model.sample(2, z=minigrad.tensor(np.stack([z0, z1]).astype(np.float32))).numpy()
    assert np.allclose(path.numpy()[[0, -1]], ends, atol=1e-5)
    zs = [rng.standard_normal((3, 100)) for _ in range(3)]
    out = latent.vector_arithmetic(model, *zs)
    assert out.shape == (1, 1, 28, 28) and out.device == minigrad.device(device)
    assert np.allclose(latent.slerp(z0, z1, 0.0), z0) and np.allclose(latent.slerp(z0, z1, 1), z1)


def test_image_grid_layout():
    imgs = -np.ones((10, 1, 4, 4), np.float32)
    grid = image_grid(imgs, nrow=5, pad=1)
    assert grid.shape == (2 * 5 + 1, 5 * 5 + 1, 1)
    assert grid[1:5, 1:5].max() == 0.0 and grid[0, 0, 0] == 1.0


def test_cli_dry_run(tmp_path, capsys):
    from gans.__main__ import main

    main(["train", "--model", "vanilla", "--dataset", "random", "--dry-run", "--no-progress",
          "--out", str(tmp_path), "--lr", "1e-3", "--g-hidden", "32,64"])
    import json
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["lr"] == 1e-3 and cfg["g_hidden"] == [32, 64]


@pytest.mark.parametrize("fake_class_loss", [False, True])
def test_acgan_class_head_learns_from_real_images_or_both(fake_class_loss):
    """AC-GAN's D class loss: cross-entropy on real images only (default), or on real and fake
    (the paper's L_C); checked against the class loss computed by hand from D's logits."""
    from gans.acgan import ACGAN, Config
    from minigrad.nn import functional as F

    minigrad.manual_seed(0)
    model = ACGAN(Config(fake_class_loss=fake_class_loss))
    rng = np.random.default_rng(0)
    real = minigrad.tensor(rng.uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32))
    labels = minigrad.tensor(rng.integers(0, 10, 8))
    with minigrad.no_grad():
        real_cls_loss = F.cross_entropy(model.D(real)[1], labels).item()
    stats = model.train_step(real, labels)
    if fake_class_loss:  # plus the (positive) cross-entropy of the fakes' intended classes
        assert stats["loss_cls"] > real_cls_loss + 0.1
    else:
        assert float(stats["loss_cls"]) == pytest.approx(real_cls_loss, rel=1e-5)


def test_paper_defaults():
    c = wgan.Config()
    assert (c.lr, c.clip, c.d_steps) == (5e-5, 0.01, 5)
    c = wgan_gp.Config()
    assert (c.gp_lambda, c.d_steps, c.lr, c.betas) == (10.0, 5, 1e-4, (0.0, 0.9))
    c = infogan.Config()
    assert (c.latent_dim, c.n_categories, c.n_continuous, c.lambda_cat, c.lambda_cont) == \
        (62, 10, 2, 1.0, 0.1)
    c = cyclegan.Config()
    assert (c.lambda_cyc, c.lambda_id, c.pool_size, c.lr, c.betas) == \
        (10.0, 0.5, 50, 2e-4, (0.5, 0.999))


# --------------------------------------------------------------------------------- WGAN
def test_wgan_weight_clipping_keeps_critic_in_box():
    model = wgan.WGAN(wgan.Config(g_features=8, d_features=8, lr=0.05))  # big steps
    c = model.config.clip
    x = minigrad.tensor(np.random.default_rng(1).uniform(-1, 1, (4, 1, 28, 28)), dtype="float32")
    before = [p.data.copy() for p in model.D.parameters()]
    stats = model.train_step(x, update_g=True)
    assert math.isclose(stats["w_dist"], -stats["loss_d"])
    params = list(model.D.parameters())
    assert all(np.abs(p.data).max() <= c for p in params)
    # the step pushed weights against the box (RMSprop steps of ~lr >> c), so clipping acted
    assert any(np.isclose(np.abs(p.data), c).any() for p in params)
    assert any(not np.array_equal(a, p.data) for a, p in zip(before, params))
    # only the critic is clipped
    assert max(np.abs(p.data).max() for p in model.G.parameters()) > c


def test_wgan_critic_schedule():
    m = wgan.WGAN(wgan.Config(g_features=4, d_features=4))
    assert m.d_steps_per_g() == 5
    m.config.warmup_critic = True
    for step, want in [(0, 100), (24, 100), (25, 5), (499, 5), (500, 100), (501, 5)]:
        m.step = step
        assert m.d_steps_per_g() == want, step


# ----------------------------------------------------------------------------- WGAN-GP
def _f64(module):
    return module.double()


def _penalty_inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    real = minigrad.tensor(rng.standard_normal(shape), dtype="float64")
    fake = minigrad.tensor(rng.standard_normal(shape), dtype="float64")
    eps = rng.uniform(0, 1, shape[0])
    return real, fake, eps


def test_gradient_penalty_value_and_input_gradient_mlp():
    critic = _f64(mlp((6, 5, 4, 1)))
    real, fake, eps = _penalty_inputs((3, 6))
    gp = wgan_gp.gradient_penalty(critic, real, fake, eps)
    # the same value with the gradient taken by central differences in x_hat
    x_hat = eps[:, None] * real.numpy() + (1 - eps[:, None]) * fake.numpy()
    h = 1e-6

    def d(x):
        with minigrad.no_grad():
            return critic(minigrad.tensor(x, dtype="float64")).numpy()[:, 0]

    g = np.stack([(d(x_hat + h * e) - d(x_hat - h * e)) / (2 * h) for e in np.eye(6)], axis=1)
    want = np.mean((np.linalg.norm(g, axis=1) - 1) ** 2)
    assert gp.item() == pytest.approx(want, rel=1e-6)


def test_gradient_penalty_critic_gradient_matches_finite_differences_mlp():
    critic = _f64(mlp((6, 5, 4, 1)))
    real, fake, eps = _penalty_inputs((3, 6))
    params = list(critic.parameters())
    minigrad.gradcheck(lambda *ps: wgan_gp.gradient_penalty(critic, real, fake, eps), params,
                       eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("layer_norm", [False, True])
def test_gradient_penalty_critic_gradient_matches_finite_differences_conv(layer_norm):
    critic = _f64(wgan_gp.ConvCritic(channels=1, features=1, layer_norm=layer_norm))
    real, fake, eps = _penalty_inputs((2, 1, 28, 28))
    params = list(critic.parameters())
    minigrad.gradcheck(lambda *ps: wgan_gp.gradient_penalty(critic, real, fake, eps), params,
                       eps=1e-6, atol=1e-6, rtol=1e-4, mode="fast")
    # and in full on the first conv's kernel (16 weights: each element, not one direction)
    minigrad.gradcheck(lambda w: wgan_gp.gradient_penalty(critic, real, fake, eps), [params[0]],
                       eps=1e-6, atol=1e-6, rtol=1e-4)


def _torch_penalty(torch, critic_t, real, fake, eps):
    shape = (-1,) + (1,) * (real.ndim - 1)
    e = torch.tensor(eps).reshape(shape)
    x_hat = (e * torch.tensor(real) + (1 - e) * torch.tensor(fake)).requires_grad_(True)
    out = critic_t(x_hat)
    g, = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((g.reshape(len(g), -1).norm(dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_gradient_penalty_matches_torch(kind):
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    if kind == "mlp":
        critic = _f64(wgan_gp.mlp_critic(wgan_gp.Config(img_size=4, mlp_hidden=(7, 5))))
        critic_t = tnn.Sequential(tnn.Flatten(), tnn.Linear(16, 7), tnn.LeakyReLU(0.2),
                                  tnn.Linear(7, 5), tnn.LeakyReLU(0.2), tnn.Linear(5, 1))
        shape = (4, 1, 4, 4)
    else:
        critic = _f64(wgan_gp.ConvCritic(channels=1, features=2, layer_norm=True))
        critic_t = tnn.Sequential(tnn.Conv2d(1, 2, 4, 2, 1), tnn.LeakyReLU(0.2),
                                  tnn.Conv2d(2, 4, 4, 2, 1), tnn.LayerNorm([4, 7, 7]),
                                  tnn.LeakyReLU(0.2), tnn.Flatten(), tnn.Linear(4 * 49, 1))
        shape = (3, 1, 28, 28)
    critic_t = critic_t.double()
    params, params_t = list(critic.parameters()), list(critic_t.parameters())
    assert [p.shape for p in params] == [tuple(p.shape) for p in params_t]
    rng = np.random.default_rng(5)
    with torch.no_grad():
        for p, pt in zip(params, params_t):
            p.data[...] = rng.normal(0, 0.3, p.shape)  # LayerNorm's gamma/beta too
            pt.copy_(torch.tensor(p.data))
    real, fake, eps = _penalty_inputs(shape, seed=2)
    gp = wgan_gp.gradient_penalty(critic, real, fake, eps)
    gp.backward()
    gp_t = _torch_penalty(torch, critic_t, real.numpy(), fake.numpy(), eps)
    gp_t.backward()
    assert gp.item() == pytest.approx(gp_t.item(), rel=1e-10)
    for p, pt in zip(params, params_t):
        # A leaf the penalty does not reach gets None (LeakyReLU MLP biases: grad_x D depends on
        # them only through the piecewise-constant masks); torch gives zeros or None there.
        want = np.zeros(p.shape) if pt.grad is None else pt.grad.numpy()
        got = np.zeros(p.shape) if p.grad is None else p.grad.numpy()
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)
    assert params[0].grad is not None and np.abs(params[0].grad.numpy()).max() > 0


def test_gradient_penalty_leaves_critic_grads_alone_and_reaches_weights():
    critic = mlp((6, 4, 1))
    real, fake, _ = _penalty_inputs((5, 6))
    gp = wgan_gp.gradient_penalty(critic, real.float(), fake.float())
    assert all(p.grad is None for p in critic.parameters())  # grad(), not backward()
    gp.backward()
    weights = [p for p in critic.parameters() if p.ndim == 2]  # biases: see above
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in weights)


# ----------------------------------------------------------------------------- InfoGAN
def _q_inputs(cfg, n=5, seed=0):
    rng = np.random.default_rng(seed)
    c_cat = minigrad.tensor(rng.integers(0, cfg.n_categories, n))
    c_cont = minigrad.tensor(rng.uniform(-1, 1, (n, cfg.n_continuous)), dtype="float64")
    h = minigrad.tensor(rng.standard_normal((n, 6)), dtype="float64")
    return h, c_cat, c_cont


@pytest.mark.parametrize("learn_variance", [False, True])
def test_info_loss_value(learn_variance):
    cfg = infogan.Config(learn_variance=learn_variance)
    n_q = 12 + (2 if learn_variance else 0)
    rng = np.random.default_rng(3)
    q = rng.standard_normal((5, n_q))
    _, c_cat, c_cont = _q_inputs(cfg)
    total, ce, nll = infogan.info_loss(minigrad.tensor(q, dtype="float64"), c_cat, c_cont, cfg)
    logits, mean = q[:, :10], q[:, 10:12]
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    ce_np = -logp[np.arange(5), c_cat.numpy()].mean()
    var = np.exp(q[:, 12:14]) if learn_variance else np.ones((5, 2))
    nll_np = (0.5 * np.log(2 * np.pi * var) + (c_cont.numpy() - mean) ** 2 / (2 * var)).sum(1).mean()
    assert ce.item() == pytest.approx(ce_np, rel=1e-10)
    assert nll.item() == pytest.approx(nll_np, rel=1e-10)
    assert total.item() == pytest.approx(ce_np + 0.1 * nll_np, rel=1e-10)


@pytest.mark.parametrize("learn_variance", [False, True])
def test_info_loss_gradcheck_wrt_q_head(learn_variance):
    cfg = infogan.Config(learn_variance=learn_variance)
    n_q = cfg.n_categories + cfg.n_continuous * (2 if learn_variance else 1)
    head = nn.Sequential(nn.Linear(6, 4), nn.LeakyReLU(0.2), nn.Linear(4, n_q)).double()
    h, c_cat, c_cont = _q_inputs(cfg)
    minigrad.gradcheck(lambda *ps: infogan.info_loss(head(h), c_cat, c_cont, cfg)[0],
                       list(head.parameters()), atol=1e-6, rtol=1e-4)


def test_infogan_info_loss_reaches_generator_and_q():
    model = infogan.InfoGAN(infogan.Config(g_features=8, d_features=8, g_fc_features=16,
                                           fc_features=32, q_features=16))
    x = minigrad.tensor(np.random.default_rng(0).uniform(-1, 1, (4, 1, 28, 28)), dtype="float32")
    q_before = [p.data.copy() for p in model.D.q.parameters()]
    stats = model.train_step(x)
    want = float(stats["ce_cat"] + 0.1 * stats["nll_cont"])
    assert float(stats["loss_info"]) == pytest.approx(want, rel=1e-5)
    assert any(not np.array_equal(a, p.data) for a, p in zip(q_before, model.D.q.parameters()))


def test_infogan_latents_and_grids():
    model = infogan.InfoGAN(infogan.Config(g_features=8, d_features=8, g_fc_features=16,
                                           fc_features=32, q_features=16))
    z = model.latent(6).numpy()
    assert z.shape == (6, 62 + 10 + 2)
    assert np.allclose(z[:, 62:72].sum(1), 1) and np.all(np.abs(z[:, 72:]) <= 1)
    zs = infogan.code_latents(model, continuous_index=1, n=7).numpy()
    assert zs.shape == (70, 74)
    assert np.array_equal(zs[:, 62:72].argmax(1), np.repeat(np.arange(10), 7))  # rows = code
    assert np.allclose(zs[:7, 73], np.linspace(-2, 2, 7)) and np.all(zs[:, 72] == 0)
    assert np.all(zs[:, :62] == zs[:1, :62])                                   # one z
    fixed = model.sample_fixed()
    assert fixed.shape == (80, 1, 28, 28)  # 10 rows of 8: the trainer's grid width
    grid = infogan.code_grid(model, 0, n=5)
    assert grid.shape == (10 * 30 + 2, 5 * 30 + 2, 1) and 0 <= grid.min() <= grid.max() <= 1


def test_categorical_code_accuracy_mapping():
    class Stub(infogan.InfoGAN):
        def generate(self, z, labels=None):  # image value = the categorical code / 10
            code = z[:, 62:72].numpy().argmax(1).astype(np.float32)
            return minigrad.tensor(np.broadcast_to(code[:, None, None, None] / 10,
                                                   (len(code), 1, 28, 28)).copy())

    model = Stub(infogan.Config(g_features=4, d_features=4, g_fc_features=0, fc_features=8,
                                q_features=8))
    perm = np.array([3, 1, 4, 0, 5, 9, 2, 6, 8, 7])
    r = infogan.categorical_code_accuracy(
        model, lambda x: perm[np.rint(x[:, 0, 0, 0] * 10).astype(int)], n_per_code=20)
    assert r == {"accuracy": 1.0, "mapping": perm.tolist(), "distinct": 10}
    noisy = np.random.default_rng(0)
    r = infogan.categorical_code_accuracy(
        model, lambda x: np.where(noisy.random(len(x)) < 0.8,
                                  perm[np.rint(x[:, 0, 0, 0] * 10).astype(int)], 0),
        n_per_code=50)
    assert 0.7 < r["accuracy"] < 0.95 and r["mapping"] == perm.tolist()


# ---------------------------------------------------------------------------- CycleGAN
class _Map(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_cycle_and_identity_losses_on_tiny_example():
    rng = np.random.default_rng(0)
    x = minigrad.tensor(rng.uniform(-1, 1, (2, 1, 4, 4)), dtype="float64")
    y = minigrad.tensor(rng.uniform(-1, 1, (2, 1, 4, 4)), dtype="float64")
    ident = _Map(lambda t: t)
    neg = _Map(lambda t: -t)
    assert cyclegan.cycle_loss(ident, ident, x, y).item() == 0.0
    assert cyclegan.cycle_loss(neg, neg, x, y).item() == 0.0       # inverses of each other
    assert cyclegan.identity_loss(ident, ident, x, y).item() == 0.0
    double = _Map(lambda t: 2 * t)
    want = np.abs(x.numpy()).mean() + np.abs(y.numpy()).mean()      # F(G(x)) - x = x
    assert cyclegan.cycle_loss(double, ident, x, y).item() == pytest.approx(want)
    want_id = np.abs(y.numpy()).mean() + np.abs(-2 * x.numpy()).mean()  # G(y)-y = y, F(x)-x = -2x
    assert cyclegan.identity_loss(double, neg, x, y).item() == pytest.approx(want_id)


def test_cyclegan_networks_shapes_and_batches():
    model = cyclegan.CycleGAN(cyclegan.Config(ngf=4, ndf=4, n_residual=1))
    a = minigrad.randn(3, 1, 28, 28)
    assert model.G(a).shape == model.F(a).shape == (3, 1, 28, 28)
    assert model.D_X(a).shape == (3, 1, 6, 6)
    assert model.translate(a, "yx").shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="unpaired"):  # (images, labels) of the other GANs
        model.train_step(a, minigrad.tensor(np.arange(3)))


def test_cyclegan_identity_weight_zero_skips_identity_term():
    model = cyclegan.CycleGAN(cyclegan.Config(ngf=4, ndf=4, n_residual=1, lambda_id=0.0))
    stats = model.train_step(minigrad.rand(2, 1, 28, 28) * 2 - 1, minigrad.rand(2, 1, 28, 28))
    assert "loss_id" not in stats
    want = float(stats["loss_gan"] + 10 * stats["loss_cyc"])
    assert float(stats["loss_g"]) == pytest.approx(want, rel=1e-5)


def test_cyclegan_checkpoint_resumes_exactly(tmp_path):
    from minigrad.utils.io import load, save

    data = minigrad.tensor(np.random.default_rng(0).uniform(-1, 1, (8, 2, 28, 28)),
                           dtype="float32")
    x, y = data[:, :1], data[:, 1:]
    model = cyclegan.CycleGAN(cyclegan.Config(ngf=2, ndf=2, n_residual=1, pool_size=3))
    for i in range(3):  # fills the pools past their size
        model.train_step(x[2 * i:2 * i + 2], y[2 * i:2 * i + 2])
    save(model.state_dict(), tmp_path / "ck.npz")
    twin = cyclegan.CycleGAN(cyclegan.Config(ngf=2, ndf=2, n_residual=1, pool_size=3))
    twin.load_state_dict(load(tmp_path / "ck.npz"))
    assert len(twin.pool_x.images) == 3
    minigrad.manual_seed(7)
    a = model.train_step(x[6:], y[6:])
    minigrad.manual_seed(7)
    b = twin.train_step(x[6:], y[6:])
    assert a == b


def test_image_pool():
    pool = ImagePool(size=4, seed=0)
    batches = [minigrad.tensor(np.full((2, 1, 2, 2), float(i)), dtype="float32",
                               requires_grad=True) for i in range(20)]
    seen = set()
    for i, b in enumerate(batches):
        out = pool.query(b * 1)
        assert out.shape == b.shape and not out.requires_grad
        values = {float(v) for v in out.numpy()[:, 0, 0, 0]}
        if i < 2:  # filling up: the batch itself comes back
            assert values == {float(i)}
        assert values <= seen | {float(i)}  # new images or ones stored earlier
        seen |= {float(i)}
        assert len(pool.images) == min(4, 2 * (i + 1))
    older = [float(v) for b in batches[5:] for v in pool.query(b).numpy()[:, 0, 0, 0]]
    assert any(v < 5 for v in older) or len(set(older)) > 1  # history is returned sometimes
    empty = ImagePool(size=0)
    b = batches[3]
    assert np.array_equal(empty.query(b).numpy(), b.numpy())


def test_thicken_and_invert():
    img = -np.ones((1, 1, 5, 5), np.float32)
    img[0, 0, 2, 2] = 1.0  # one white pixel
    out = cyclegan.thicken_and_invert(img)[0, 0]
    cross = {(2, 2), (1, 2), (3, 2), (2, 1), (2, 3)}
    for i in range(5):
        for j in range(5):
            assert out[i, j] == (-1.0 if (i, j) in cross else 1.0)


def test_domains_are_disjoint_and_unpaired():
    x, y = cyclegan.domain_datasets("test")
    xi, yi = x.arrays[0], y.arrays[0]
    assert len(xi) == len(yi) == 5000
    assert xi.mean() < 0 < yi.mean()  # black background vs white background
    seen = {img.tobytes() for img in cyclegan.thicken_and_invert(xi)}
    assert not any(img.tobytes() in seen for img in yi)  # no MNIST image in both domains
    px, py = cyclegan.unpaired_dataset("test").arrays
    assert px.shape == py.shape == (5000, 1, 28, 28)
    assert np.array_equal(px, xi)
    # each x is matched with an unrelated y: their digits are independent
    y_labels = {img.tobytes(): lab for img, lab in zip(yi, y.arrays[1])}
    assert np.mean([y_labels[img.tobytes()] for img in py] == x.arrays[1]) < 0.2


# --------------------------------------------------------------------------------- VAE
def test_vae_kl_matches_closed_form_and_monte_carlo():
    model = vae.VAE(vae.Config(hidden=32, latent_dim=4))
    x = minigrad.tensor(np.random.default_rng(0).uniform(-1, 1, (6, 1, 28, 28)), dtype="float32")
    minigrad.manual_seed(3)
    recon, kl = vae.negative_elbo(model, x)
    with minigrad.no_grad():
        mu, logvar = model.encoder((x + 1) * 0.5)
    mu, lv = mu.numpy().astype(np.float64), logvar.numpy().astype(np.float64)
    closed = (-0.5 * (1 + lv - mu ** 2 - np.exp(lv)).sum(1)).mean()
    assert kl.item() == pytest.approx(closed, rel=1e-5)
    # Monte Carlo: KL = E_q[log q(z) - log p(z)]
    rng = np.random.default_rng(1)
    e = rng.standard_normal((20000,) + mu.shape)
    z = mu + np.exp(0.5 * lv) * e
    log_q = (-0.5 * (e ** 2 + lv + np.log(2 * np.pi))).sum(-1)
    log_p = (-0.5 * (z ** 2 + np.log(2 * np.pi))).sum(-1)
    assert (log_q - log_p).mean() == pytest.approx(closed, rel=0.05, abs=0.02)
    # and the reconstruction term is the summed BCE at z = mu + sigma * eps (same eps)
    minigrad.manual_seed(3)
    eps = minigrad.randn(*mu.shape).numpy().astype(np.float64)
    with minigrad.no_grad():
        logits = model.decoder(minigrad.tensor(mu + np.exp(0.5 * lv) * eps, dtype="float32"))
    t = (x.numpy().astype(np.float64) + 1) / 2
    lg = logits.numpy().astype(np.float64)
    bce = (np.logaddexp(0, lg) - lg * t).sum() / 6
    assert recon.item() == pytest.approx(bce, rel=1e-4)


def test_vae_elbo_sample_and_interpolate():
    from gans.latent import interpolate

    model = vae.VAE(vae.Config(hidden=32, latent_dim=4))
    data = ArrayDataset(np.random.default_rng(0).uniform(-1, 1, (30, 1, 28, 28))
                        .astype(np.float32), np.zeros(30, np.int64))
    r = vae.elbo(model, data, batch_size=7)
    assert r["n"] == 30 and math.isfinite(r["elbo"])
    assert float(r["elbo"]) == pytest.approx(float(-(r["recon"] + r["kl"])))
    assert vae.elbo(model, data, batch_size=7) == r  # seeded: deterministic
    s = model.sample(5)
    assert s.shape == (5, 1, 28, 28) and -1 <= s.numpy().min() <= s.numpy().max() <= 1
    walk = interpolate(model, np.zeros(4), np.ones(4), steps=3, spherical=False)
    assert walk.shape == (3, 1, 28, 28)
    stats = model.train_step(minigrad.tensor(data.arrays[0][:10]))
    assert set(stats) == {"loss", "recon", "kl"}
    assert float(stats["loss"]) == pytest.approx(float(stats["recon"] + stats["kl"]), rel=1e-6)


# ----------------------------------------------------------------------- SNGAN and R1
def test_sngan_discriminator_is_spectrally_normalised():
    """Every Conv2d and Linear of SNGAN's D computes with weight_orig / sigma: after enough
    power iterations its largest singular value is 1."""
    from gans.sngan import SNGAN, Config

    minigrad.manual_seed(0)
    model = SNGAN(Config(g_features=4, d_features=4, n_power_iterations=30))
    layers = [m for m in model.D.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 3 and not any(isinstance(m, nn.BatchNorm2d)
                                        for m in model.D.modules())
    model.D(minigrad.randn(2, 1, 28, 28))  # one training forward: 30 power-iteration steps
    for m in layers:
        w = m.weight.numpy().reshape(m.weight.shape[0], -1)
        assert np.linalg.svd(w, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)


def test_r1_penalty_enters_the_discriminator_loss():
    from gans.sngan import SNGAN, Config

    minigrad.manual_seed(0)
    real = minigrad.tensor(np.random.default_rng(0).uniform(-1, 1, (4, 1, 28, 28)),
                           dtype="float32")
    cfg = dict(g_features=4, d_features=4)
    model = SNGAN(Config(r1_gamma=10.0, **cfg))
    twin = SNGAN(Config(**cfg))
    twin.D.load_state_dict(model.D.state_dict())
    twin.G.load_state_dict(model.G.state_dict())
    minigrad.manual_seed(1)
    with_r1 = model.train_step(real, update_g=False)
    minigrad.manual_seed(1)
    without = twin.train_step(real, update_g=False)
    assert with_r1["r1"] > 0 and "r1" not in without
    assert float(with_r1["loss_d"]) == pytest.approx(
        float(without["loss_d"] + 5.0 * with_r1["r1"]), rel=1e-5)
    with pytest.raises(ValueError, match="without BatchNorm"):
        gans.get_model("dcgan")(gans.get_config("dcgan")(r1_gamma=1.0))
