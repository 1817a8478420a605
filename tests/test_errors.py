"""The messages a learner meets for the common mistakes: each says what went wrong and what to do."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.nn import functional as F


# ----------------------------------------------------------------- backward twice
def test_backward_twice_says_why_and_what_to_do():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert "second time" in msg and "freed" in msg
    assert "retain_graph=True" in msg and "detach()" in msg and "recompute" in msg


def test_backward_twice_the_gan_way():
    """D step backward through G's graph, then the G step reuses the same fake batch."""
    minigrad.manual_seed(0)
    G, D = nn.Linear(2, 3), nn.Linear(3, 1)
    fake = G(minigrad.randn(4, 2))
    D(fake).mean().backward()  # forgot fake.detach(): this frees G's graph
    with pytest.raises(RuntimeError, match="fake batch"):
        (-D(fake).mean()).backward()
    # the fix the message names works
    fake = G(minigrad.randn(4, 2))
    D(fake.detach()).mean().backward()
    (-D(fake).mean()).backward()


# (mixing devices: tests/test_devices.py, test_an_op_on_two_devices_names_both)


# ------------------------------------------------ probabilities fed to a logits loss
def test_bce_with_logits_warns_on_sigmoid_output():
    minigrad.manual_seed(0)
    D = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())  # the classic mistake
    x, ones = minigrad.randn(4, 3), minigrad.ones(4, 1)
    with pytest.warns(UserWarning, match="expects logits") as record:
        F.binary_cross_entropy_with_logits(D(x), ones)
    msg = str(record[0].message)
    assert "Remove the final Sigmoid" in msg and "binary_cross_entropy" in msg
    assert record[0].filename == __file__  # points at the caller's line, not into minigrad
    # through the module form and a reshape too
    with pytest.warns(UserWarning, match="expects logits"):
        nn.BCEWithLogitsLoss()(D(x).view(-1), minigrad.ones(4))


def test_bce_with_logits_does_not_warn_on_logits_even_in_0_1():
    minigrad.manual_seed(0)
    D = nn.Linear(3, 1)
    logits = D(minigrad.randn(4, 3))
    logits = logits.sigmoid() * 0 + logits.clamp(0, 1)  # values in [0, 1], but made by Add
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.binary_cross_entropy_with_logits(logits, minigrad.ones(4, 1))
        F.binary_cross_entropy_with_logits(minigrad.rand(4, 1), minigrad.ones(4, 1))  # no graph
        # a sigmoid feeding something else first is not "the output of a sigmoid"
        F.binary_cross_entropy_with_logits(D(minigrad.randn(4, 3)).sigmoid() * 4 - 2,
                                           minigrad.ones(4, 1))


def test_bce_with_logits_warning_compares_op_classes_not_names():
    class Sigmoid(minigrad.Function):  # a user's op that only shares the name
        """y = x; gx = gy"""

        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            return gy

    z = minigrad.randn(4, 1, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.binary_cross_entropy_with_logits(Sigmoid.apply(z), minigrad.ones(4, 1))
    with pytest.warns(UserWarning, match="expects logits"):  # the real one, through a cast
        F.binary_cross_entropy_with_logits(z.double().sigmoid().float(), minigrad.ones(4, 1))


# ------------------------------------------------------ layer shape errors
def test_linear_shape_error_names_layer_and_both_shapes():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError) as info:
        layer(minigrad.randn(2, 1024))
    msg = str(info.value)
    assert "Linear(in_features=784, out_features=10" in msg
    assert "784" in msg and "(2, 1024)" in msg and "(10, 784)" in msg


def test_conv2d_shape_error_names_layer_and_both_shapes():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError) as info:
        conv(minigrad.randn(2, 1, 28, 28))
    msg = str(info.value)
    assert "Conv2d(3, 8" in msg and "3 input channels" in msg and "(2, 1, 28, 28)" in msg
    assert "(8, 3, 3, 3)" in msg


# ----------------------------------------- generator output vs discriminator input
def _vanilla(**kw):
    import gans

    cfg = gans.get_config("vanilla")(g_hidden=(16,), d_hidden=(16,), **kw)
    return gans.get_model("vanilla")(cfg)


def _loader(size=28, n=8):
    from minigrad.data import ArrayDataset, DataLoader

    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (n, 1, size, size)).astype(np.float32)
    return DataLoader(ArrayDataset(images, np.zeros(n, np.int64)), batch_size=4)


def test_generator_output_must_match_the_data(tmp_path):
    from gans.trainer import fit

    model = _vanilla(img_size=32)  # G and D built for 32x32, data are 28x28
    with pytest.raises(ValueError) as info:
        fit(model, _loader(28), out_dir=tmp_path, dry_run=True, progress=False)
    msg = str(info.value)
    assert "generator makes images of shape (1, 32, 32)" in msg
    assert "data are (1, 28, 28)" in msg and "img_size" in msg
    assert model.d_step == 0  # failed before any training


def test_discriminator_must_take_the_generator_output(tmp_path):
    from gans.trainer import check_shapes
    from gans.vanilla import Discriminator

    model = _vanilla(img_size=32)
    model.D = model.nets["D"] = Discriminator(model.config.__class__(img_size=28,
                                                                     d_hidden=(16,)))
    real = minigrad.rand(4, 1, 32, 32)
    with pytest.raises(ValueError) as info:
        check_shapes(model, real)
    msg = str(info.value)
    assert "discriminator cannot take the generator's output" in msg
    assert "(2, 1, 32, 32)" in msg  # G's side
    assert "784" in msg and "(2, 1024)" in msg  # D's side, from the Linear layer's message
    assert "Linear" in msg


def test_shape_check_changes_nothing():
    """check_shapes uses private noise and eval mode: RNG, BN statistics and modes untouched."""
    import gans
    from gans.trainer import check_shapes

    minigrad.manual_seed(5)
    model = gans.get_model("dcgan")(gans.get_config("dcgan")(g_features=4, d_features=4))
    before = {k: v.copy() for k, v in model.G.state_dict().items()}
    real = minigrad.rand(4, 1, 28, 28)
    state = minigrad.backend.get_rng_state()
    check_shapes(model, real)
    assert model.G.training and model.D.training
    for k, v in model.G.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v), np.asarray(before[k]))
    after = minigrad.backend.get_rng_state()
    assert str(after) == str(state)


def test_conditional_discriminator_gets_labels():
    import gans
    from gans.trainer import check_shapes

    model = gans.get_model("cgan")()
    check_shapes(model, minigrad.rand(4, 1, 28, 28))  # D(x, labels): no error


# ----------------------------------------------------- forgetting zero_grad
def test_gradients_accumulate_until_zero_grad():
    """Not an error, so there is no message: backward *adds* into .grad (the docs demo this)."""
    w = nn.Parameter(np.array([1.0, 2.0], dtype=np.float32))
    opt = minigrad.optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    (w * 3).sum().backward()  # forgot opt.zero_grad(): the gradient doubles
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 6.0])
    opt.zero_grad()
    (w * 3).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])
