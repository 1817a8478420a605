"""Recurrent layers (nn/layers/recurrent.py) against torch with the same weights: outputs, final
states and the gradients w.r.t. the input, the initial state and every parameter; gradcheck and
gradgradcheck; state dicts both ways; dropout between layers; init; reprs; argument and input
errors."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
import minigrad.nn as nn

torch = pytest.importorskip("torch")

KINDS = ["RNN", "LSTM", "GRU"]
CELLS = ["RNNCell", "LSTMCell", "GRUCell"]
TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=1e-5, atol=1e-6)}
H_IN, H, L, N = 3, 4, 5, 2


def _pair(kind, dtype="float64", seed=0, **kw):
    """A torch module and a minigrad one holding the same (torch's) weights."""
    torch.manual_seed(seed)
    t = getattr(torch.nn, kind)(H_IN, H, **kw).to(getattr(torch, dtype))
    m = getattr(nn, kind)(H_IN, H, **kw).to(dtype)
    m.load_state_dict(t.state_dict())
    return t, m


def _leaves(shapes, dtype, seed):
    """The same random values as (torch leaves, minigrad leaves), all requiring grad."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return ([torch.tensor(a, requires_grad=True) for a in arrays],
            [minigrad.tensor(a, requires_grad=True) for a in arrays])


def _flat(out):
    """(output, h_n) or (output, (h_n, c_n)) or h or (h, c) as a flat list."""
    if not isinstance(out, (tuple, list)):
        return [out]
    return [u for o in out for u in _flat(o)]


def _check(t, m, inputs_t, inputs_m, dtype, seed=1):
    """Forward both, compare every output; backward a random projection of all the outputs and
    compare the gradients of the inputs and of every parameter (by name)."""
    out_t, out_m = _flat(t(*inputs_t)), _flat(m(*inputs_m))
    assert len(out_t) == len(out_m)
    rng = np.random.default_rng(seed)
    loss_t, loss_m = 0, 0
    for a, b in zip(out_t, out_m):
        assert tuple(a.shape) == b.shape and b.dtype == np.dtype(dtype)
        np.testing.assert_allclose(b.numpy(), a.detach().numpy(), **TOL[dtype])
        w = rng.standard_normal(b.shape).astype(dtype)
        loss_t = loss_t + (a * torch.from_numpy(w)).sum()
        loss_m = loss_m + (b * minigrad.tensor(w)).sum()
    loss_t.backward()
    loss_m.backward()
    leaves_t = [x for x in _flat(inputs_t) if x is not None]
    leaves_m = [x for x in _flat(inputs_m) if x is not None]
    for a, b in zip(leaves_t, leaves_m):
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), **TOL[dtype])
    params_t = dict(t.named_parameters())
    names = [name for name, _ in m.named_parameters()]
    assert names == list(params_t)
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), params_t[name].grad.numpy(),
                                   err_msg=name, **TOL[dtype])


CONFIGS = {
    "1-layer": dict(),
    "2-layers": dict(num_layers=2),
    "bidirectional": dict(bidirectional=True),
    "2-layers-bidirectional": dict(num_layers=2, bidirectional=True),
    "batch_first": dict(num_layers=2, batch_first=True),
    "batch_first-bidirectional": dict(batch_first=True, bidirectional=True),
    "no-bias": dict(bias=False),
    "no-bias-2-layers-bidirectional": dict(num_layers=2, bias=False, bidirectional=True),
}


def _state_shapes(kind, kw, batched=True):
    lead = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    shape = (lead, N, H) if batched else (lead, H)
    return [shape, shape] if kind == "LSTM" else [shape]


def _sequence_inputs(kind, kw, dtype, batched=True, with_state=True, seed=2):
    if not batched:
        x_shape = (L, H_IN)
    else:
        x_shape = (N, L, H_IN) if kw.get("batch_first") else (L, N, H_IN)
    shapes = [x_shape] + (_state_shapes(kind, kw, batched) if with_state else [])
    lt, lm = _leaves(shapes, dtype, seed)
    if not with_state:
        return lt, lm
    if kind == "LSTM":
        return [lt[0], tuple(lt[1:])], [lm[0], tuple(lm[1:])]
    return lt, lm


# =================================================================== parity with torch
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", KINDS)
def test_sequence_layers_match_torch_float64(kind, config):
    kw = CONFIGS[config]
    t, m = _pair(kind, **kw)
    _check(t, m, *_sequence_inputs(kind, kw, "float64"), "float64")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_matches_torch(kind, batch_first):
    kw = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    t, m = _pair(kind, **kw)
    inputs_t, inputs_m = _sequence_inputs(kind, kw, "float64", batched=False)
    _check(t, m, inputs_t, inputs_m, "float64")
    out, _ = m(*inputs_m)
    assert out.shape == (L, 2 * H)


@pytest.mark.parametrize("kind", KINDS)
def test_default_initial_state_is_zeros_as_in_torch(kind):
    kw = dict(num_layers=2, bidirectional=True)
    t, m = _pair(kind, **kw)
    _check(t, m, *_sequence_inputs(kind, kw, "float64", with_state=False), "float64")
    _check(t, m, *_sequence_inputs(kind, kw, "float64", batched=False, with_state=False),
           "float64")


@pytest.mark.parametrize("config", ["1-layer", "2-layers-bidirectional", "no-bias"])
def test_rnn_with_relu_matches_torch(config):
    kw = dict(CONFIGS[config], nonlinearity="relu")
    t, m = _pair("RNN", **kw)
    _check(t, m, *_sequence_inputs("RNN", kw, "float64"), "float64")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("config", ["2-layers-bidirectional", "batch_first"])
def test_sequence_layers_match_torch_float32(kind, config):
    kw = CONFIGS[config]
    t, m = _pair(kind, dtype="float32", **kw)
    _check(t, m, *_sequence_inputs(kind, kw, "float32"), "float32")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "no-state"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("kind, kw", [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")),
                                      ("LSTMCell", {}), ("GRUCell", {})],
                         ids=["RNNCell", "RNNCell-relu", "LSTMCell", "GRUCell"])
def test_cells_match_torch(kind, kw, bias, with_state, batched, dtype):
    t, m = _pair(kind, dtype=dtype, bias=bias, **kw)
    shapes = [(N, H_IN) if batched else (H_IN,)]
    if with_state:
        shapes += [(N, H) if batched else (H,)] * (2 if kind == "LSTMCell" else 1)
    lt, lm = _leaves(shapes, dtype, seed=3)
    if kind == "LSTMCell" and with_state:
        lt, lm = [lt[0], tuple(lt[1:])], [lm[0], tuple(lm[1:])]
    _check(t, m, lt, lm, dtype)


def test_lstm_gates_are_in_torchs_order():
    # Only the forget gate's bias is large: c' = c (almost) and h' = sigmoid(o) tanh(c). A layout
    # with the gates in another order would not keep the cell state.
    m = nn.LSTMCell(2, 1, bias=True).double()
    for p in m.parameters():
        p.data[...] = 0.0
    m.bias_ih.data[1] = 50.0  # f
    x, h, c = (minigrad.tensor(np.array(v, dtype=np.float64)) for v in ([[1.0, 2.0]], [[0.3]],
                                                                          [[0.7]]))
    h1, c1 = m(x, (h, c))
    np.testing.assert_allclose(c1.numpy(), [[0.7]], rtol=1e-12)
    np.testing.assert_allclose(h1.numpy(), [[0.5 * np.tanh(0.7)]], rtol=1e-12)


def test_gru_reset_gate_multiplies_the_hidden_projection_with_its_bias():
    # torch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)): with r = sigmoid(0) = 1/2 and
    # z = 1/2, only b_hn nonzero, h' = (1 - z) tanh(r b_hn) + z h.
    m = nn.GRUCell(1, 1).double()
    for p in m.parameters():
        p.data[...] = 0.0
    m.bias_hh.data[2] = 2.0
    h = minigrad.tensor([[0.4]], dtype="float64")
    out = m(minigrad.tensor([[1.0]], dtype="float64"), h)
    np.testing.assert_allclose(out.numpy(), [[0.5 * np.tanh(0.5 * 2.0) + 0.5 * 0.4]], rtol=1e-12)


# ======================================================= derivatives of every order
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_gradcheck_and_gradgradcheck(kind):
    minigrad.manual_seed(0)
    m = getattr(nn, kind)(2, 2, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(0)
    x = minigrad.tensor(rng.standard_normal((3, 1, 2)), requires_grad=True)
    states = [minigrad.tensor(rng.standard_normal((4, 1, 2)), requires_grad=True)
              for _ in range(2 if kind == "LSTM" else 1)]
    params = list(m.parameters())

    def fn(x, *rest):  # the parameters are perturbed in place through their Tensors
        out, hn = m(x, tuple(rest[:2]) if kind == "LSTM" else rest[0])
        return (out,) + tuple(_flat(hn))
    assert minigrad.gradcheck(fn, [x] + states + params)
    # second order: w.r.t. the inputs, and parameters of either layer and direction (all of
    # them, in random directions, would take 20 times as long)
    picked = [m.weight_hh_l0, m.weight_ih_l1, m.bias_hh_l1_reverse]
    assert minigrad.gradgradcheck(fn, [x] + states + picked, mode="fast")


def test_second_derivative_matches_torch():
    # d/dx of |d out/dx|^2, through an LSTM and a GRU, against torch's double backward.
    for kind in ("LSTM", "GRU"):
        t, m = _pair(kind, num_layers=2)
        (xt,), (xm,) = _leaves([(L, N, H_IN)], "float64", seed=4)
        gt, = torch.autograd.grad(t(xt)[0].tanh().sum(), xt, create_graph=True)
        gm, = minigrad.grad(m(xm)[0].tanh().sum(), xm, create_graph=True)
        (gt ** 2).sum().backward()
        (gm ** 2).sum().backward()
        np.testing.assert_allclose(gm.numpy(), gt.detach().numpy(), **TOL["float64"])
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **TOL["float64"])


# ================================================================ state dicts and init
@pytest.mark.parametrize("kind", KINDS + CELLS)
def test_state_dict_round_trips_with_torch(kind):
    kw = {} if kind in CELLS else dict(num_layers=2, bidirectional=True)
    torch.manual_seed(5)
    t = getattr(torch.nn, kind)(H_IN, H, **kw)
    m = getattr(nn, kind)(H_IN, H, **kw)
    sd_t, sd_m = t.state_dict(), m.state_dict()
    assert list(sd_m) == list(sd_t)
    assert all(sd_m[k].shape == tuple(sd_t[k].shape) and sd_m[k].dtype == np.float32
               for k in sd_t)
    m.load_state_dict(sd_t)  # torch -> minigrad
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, sd_t[k].numpy())
    minigrad.manual_seed(6)
    m2 = getattr(nn, kind)(H_IN, H, **kw)  # fresh weights, unlike torch's
    t.load_state_dict({k: torch.from_numpy(v) for k, v in m2.state_dict().items()})  # and back
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), m2.state_dict()[k])
    x = np.random.default_rng(7).standard_normal((L, N, H_IN) if kind not in CELLS
                                                 else (N, H_IN)).astype(np.float32)
    yt, ym = _flat(t(torch.from_numpy(x)))[0], _flat(m2(minigrad.tensor(x)))[0]
    np.testing.assert_allclose(ym.numpy(), yt.detach().numpy(), **TOL["float32"])


@pytest.mark.parametrize("kind", KINDS + CELLS)
def test_default_init_is_torchs_uniform_from_minigrads_generator(kind):
    kw = {} if kind in CELLS else dict(num_layers=2, bidirectional=True)
    hidden = 16
    minigrad.manual_seed(0)
    a = getattr(nn, kind)(5, hidden, **kw)
    minigrad.manual_seed(0)
    b = getattr(nn, kind)(5, hidden, **kw)
    bound = 1 / np.sqrt(hidden)  # for every parameter, the biases too, whatever the fan-in
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        assert p.dtype == np.float32
        v = p.numpy()
        assert np.abs(v).max() <= bound, name
        assert np.abs(v).max() > 0.8 * bound, name  # spread over the whole interval
        assert abs(v.mean()) < 0.3 * bound, name
    # and different seeds give different weights
    minigrad.manual_seed(1)
    c = getattr(nn, kind)(5, hidden, **kw)
    assert not np.array_equal(next(iter(c.parameters())).numpy(),
                              next(iter(a.parameters())).numpy())


@pytest.mark.parametrize("kind, kw", [
    ("RNN", {}), ("RNN", dict(nonlinearity="relu", num_layers=2)),
    ("LSTM", dict(num_layers=2, bias=False, batch_first=True, dropout=0.5, bidirectional=True)),
    ("GRU", dict(dropout=0.25, num_layers=3)), ("GRU", dict(bidirectional=True)),
    ("RNNCell", {}), ("RNNCell", dict(bias=False, nonlinearity="relu")),
    ("LSTMCell", dict(bias=False)), ("GRUCell", {}),
])
def test_repr_is_torchs(kind, kw):
    assert repr(getattr(nn, kind)(H_IN, H, **kw)) == repr(getattr(torch.nn, kind)(H_IN, H, **kw))


def test_exports():
    for name in KINDS + CELLS:
        assert name in nn.__all__ and name in nn.layers.__all__
        assert getattr(nn, name) is getattr(nn.layers, name)


def test_all_weights_lists_each_layer_and_direction_as_torch():
    t, m = _pair("LSTM", num_layers=2, bidirectional=True)
    names = {id(p): n for n, p in m.named_parameters()}
    torch_names = {id(p): n for n, p in t.named_parameters()}
    assert [[names[id(p)] for p in ws] for ws in m.all_weights] == \
        [[torch_names[id(p)] for p in ws] for ws in t.all_weights]


# ============================================================================ dropout
@pytest.mark.parametrize("kind", KINDS)
def test_dropout_between_layers_only_in_training(kind):
    kw = dict(num_layers=3, dropout=0.5, bidirectional=True)
    t, m = _pair(kind, **kw)
    t.eval()
    m.eval()
    x = np.random.default_rng(8).standard_normal((L, N, H_IN))
    want = _flat(t(torch.from_numpy(x)))
    for _ in range(2):  # deterministic in eval, and torch's eval output
        got = _flat(m(minigrad.tensor(x)))
        for a, b in zip(want, got):
            np.testing.assert_allclose(b.numpy(), a.detach().numpy(), **TOL["float64"])
    m.train()
    minigrad.manual_seed(0)
    y1 = m(minigrad.tensor(x))[0].numpy()
    y2 = m(minigrad.tensor(x))[0].numpy()
    assert not np.allclose(y1, y2)                    # a fresh mask each call
    assert not np.allclose(y1, want[0].detach().numpy())
    minigrad.manual_seed(0)
    np.testing.assert_array_equal(m(minigrad.tensor(x))[0].numpy(), y1)  # from minigrad's rng


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_one_zeroes_every_layers_input_but_the_first_as_torch(kind):
    # p = 1 is deterministic in both: layers 2 and 3 see zeros, the last layer's output is kept.
    kw = dict(num_layers=3, dropout=1.0)
    t, m = _pair(kind, **kw)
    x = np.random.default_rng(9).standard_normal((L, N, H_IN))
    want, got = _flat(t(torch.from_numpy(x))), _flat(m(minigrad.tensor(x)))
    for a, b in zip(want, got):
        np.testing.assert_allclose(b.numpy(), a.detach().numpy(), **TOL["float64"])
    assert np.abs(got[0].numpy()).min() > 0 or kind == "RNN"  # the output is not dropped


def test_dropout_with_one_layer_warns_as_torch_and_does_nothing():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        m = nn.GRU(H_IN, H, dropout=0.5).double()
    x = minigrad.tensor(np.random.default_rng(10).standard_normal((L, N, H_IN)))
    train = m(x)[0].numpy()
    np.testing.assert_array_equal(m.eval()(x)[0].numpy(), train)


# ============================================================================= errors
@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError,
     r"Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError, r"Unknown nonlinearity 'gelu'"),
    (lambda: nn.LSTM(3, 4, proj_size=2), NotImplementedError, r"LSTM: proj_size is not supported"),
    (lambda: nn.GRU(3, 4, 2, dropout=1.5), ValueError, r"GRU: dropout should be a number in "
     r"range \[0, 1\].*got 1.5"),
    (lambda: nn.GRU(3, 4, 2, dropout=-0.1), ValueError, r"dropout should be a number"),
    (lambda: nn.GRU(3, 4, 2, dropout=True), ValueError, r"dropout should be a number"),
    (lambda: nn.GRU(3, 4, 2, dropout="0.5"), ValueError, r"dropout should be a number"),
    (lambda: nn.LSTM(3, 4.0), TypeError, r"LSTM: hidden_size must be an int, got 4.0"),
    (lambda: nn.LSTM(3, 0), ValueError, r"LSTM: hidden_size must be greater than zero"),
    (lambda: nn.RNN(0, 4), ValueError, r"RNN: input_size must be greater than zero"),
    (lambda: nn.RNN(3, 4, num_layers=0), ValueError, r"RNN: num_layers must be greater than zero"),
    (lambda: nn.RNN(3, 4, num_layers=1.5), TypeError, r"RNN: num_layers must be an int"),
    (lambda: nn.GRUCell(3, -1), ValueError, r"GRUCell: hidden_size must be >= 0, got -1"),
    (lambda: nn.RNN(3, 4, bias=1), TypeError, r"RNN: bias should be of type bool, got: int"),
    (lambda: nn.LSTMCell(3, 4, bias=None), TypeError, r"LSTMCell: bias should be of type bool"),
    (lambda: nn.GRU(3, 4, batch_first=1), TypeError, r"GRU: batch_first should be of type bool"),
    (lambda: nn.GRU(3, 4, bidirectional="yes"), TypeError, r"bidirectional should be of type"),
])
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _x(*shape, dtype="float32"):
    return minigrad.zeros(*shape, dtype=dtype)


@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.GRU(3, 4)(_x(3)), ValueError, r"GRU: Expected input to be 2D or 3D, got 1D "
     r"instead \(shape \(3,\)\)"),
    (lambda: nn.RNN(3, 4)(_x(1, 5, 2, 3)), ValueError, r"Expected input to be 2D or 3D, got 4D"),
    (lambda: nn.LSTM(3, 4)(_x(5, 2, 2)), ValueError, r"LSTM\(3, 4\) expects input with 3 "
     r"features in the last dimension, got input of shape \(5, 2, 2\)"),
    (lambda: nn.RNN(3, 4)(_x(0, 2, 3)), ValueError, r"sequence length larger than 0"),
    (lambda: nn.RNN(3, 4)(np.zeros((5, 2, 3))), TypeError, r"expects a minigrad Tensor, got "
     r"ndarray"),
    (lambda: nn.RNN(3, 4)(_x(5, 2, 3, dtype="float64")), TypeError, r"RNN expects a float32 "
     r"input \(float32, as its parameters\), got dtype float64"),
    (lambda: nn.RNN(3, 4).double()(_x(5, 2, 3)), TypeError, r"RNN expects a float64 input"),
    (lambda: nn.RNN(3, 4)(minigrad.zeros(5, 2, 3, dtype="int64")), TypeError,
     r"expects a floating-point input"),
    (lambda: nn.RNN(3, 4, 2)(_x(5, 2, 3), _x(1, 2, 4)), ValueError, r"RNN\(3, 4, num_layers=2\) "
     r"expects h0 of shape \(2, 2, 4\), got shape \(1, 2, 4\)"),
    (lambda: nn.GRU(3, 4, bidirectional=True)(_x(5, 2, 3), _x(1, 2, 4)), ValueError,
     r"expects h0 of shape \(2, 2, 4\)"),
    (lambda: nn.GRU(3, 4, batch_first=True)(_x(2, 5, 3), _x(1, 5, 4)), ValueError,
     r"expects h0 of shape \(1, 2, 4\), got shape \(1, 5, 4\)"),
    (lambda: nn.GRU(3, 4)(_x(5, 3), _x(1, 1, 4)), ValueError,  # unbatched input, batched h0
     r"expects h0 of shape \(1, 4\), got shape \(1, 1, 4\)"),
    (lambda: nn.GRU(3, 4)(_x(5, 2, 3), _x(1, 2, 4, dtype="float64")), TypeError,
     r"GRU expects h0 of dtype float32 \(as its parameters\), got dtype float64"),
    (lambda: nn.GRU(3, 4)(_x(5, 2, 3), np.zeros((1, 2, 4), np.float32)), TypeError,
     r"GRU expects h0 as a minigrad Tensor, got ndarray"),
    (lambda: nn.LSTM(3, 4)(_x(5, 2, 3), _x(1, 2, 4)), TypeError,
     r"LSTM expects the initial state as a tuple \(h0, c0\), got Tensor"),
    (lambda: nn.LSTM(3, 4)(_x(5, 2, 3), (_x(1, 2, 4),)), TypeError, r"as a tuple \(h0, c0\)"),
    (lambda: nn.LSTM(3, 4)(_x(5, 2, 3), (_x(1, 2, 4), _x(1, 3, 4))), ValueError,
     r"expects c0 of shape \(1, 2, 4\), got shape \(1, 3, 4\)"),
    (lambda: nn.RNNCell(3, 4)(_x(1, 2, 3)), ValueError, r"RNNCell\(3, 4\) expects input of shape "
     r"\(N, 3\) or \(3,\), got shape \(1, 2, 3\)"),
    (lambda: nn.GRUCell(3, 4)(_x(2, 5)), ValueError, r"expects input of shape \(N, 3\)"),
    (lambda: nn.GRUCell(3, 4)(_x(2, 3), _x(4)), ValueError,
     r"GRUCell\(3, 4\) expects h0 of shape \(2, 4\), got shape \(4,\)"),
    (lambda: nn.LSTMCell(3, 4)(_x(2, 3), (_x(2, 4), _x(3, 4))), ValueError,
     r"expects c0 of shape \(2, 4\), got shape \(3, 4\)"),
    (lambda: nn.LSTMCell(3, 4)(_x(2, 3, dtype="float64")), TypeError,
     r"LSTMCell expects a float32 input"),
])
def test_bad_inputs_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kind", KINDS)
def test_empty_batch_gives_empty_outputs_as_torch(kind):
    out, hn = nn.__dict__[kind](H_IN, H, num_layers=2)(_x(L, 0, H_IN))
    assert out.shape == (L, 0, H)
    assert all(s.shape == (2, 0, H) for s in _flat(hn))
