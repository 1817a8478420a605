"""Recurrent layers: RNNCell, LSTMCell, GRUCell (one step) and RNN, LSTM, GRU (whole sequences,
stacked layers, both directions), with torch's semantics, argument names and parameter layout, so
a torch state dict loads into them and back.

Everything is composed of differentiable ops (linear, sigmoid, tanh, relu, chunk, getitem,
stack, cat), so gradients at every order come with no backward of their own. The recurrences,
per step t, on the input's projection ``gi = x_t W_ih^T + b_ih`` (for a whole sequence computed
in one ``linear``) and ``gh = h W_hh^T + b_hh``::

    RNN   h' = tanh(gi + gh)  (or relu)
    LSTM  i, f, g, o = chunks of gi + gh;  c' = sigmoid(f) c + sigmoid(i) tanh(g);
          h' = sigmoid(o) tanh(c')
    GRU   r, z, n chunks of gi and gh;  r = sigmoid(gi_r + gh_r),  z = sigmoid(gi_z + gh_z),
          n = tanh(gi_n + r * gh_n);  h' = (1 - z) n + z h

Shapes (torch's): input (L, N, H_in), (N, L, H_in) with ``batch_first``, or unbatched (L, H_in);
initial state (num_layers * D, N, H) or unbatched (num_layers * D, H), D = 2 if bidirectional
else 1, zeros when not given; output (L, N, D * H) (batch-first or unbatched as the input), final
state (num_layers * D, N, H), ordered layer by layer, forward direction before backward.

Not supported: packed sequences (``torch.nn.utils.rnn.PackedSequence``; pad the batch to one
length instead) and LSTM's ``proj_size`` (NotImplementedError).
"""
from __future__ import annotations

import math
import numbers
import warnings

from minigrad import functional as MF
from minigrad.creation import zeros
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.layers._common import _check_float, _check_tensor, _param, _size
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


# ============================================================ one step of each recurrence
# A state is a tuple: (h,) for RNN and GRU, (h, c) for LSTM; each step returns the next one.
def _rnn_cell(gi, state, w_hh, b_hh, nonlinearity="tanh"):
    pre = gi + F.linear(state[0], w_hh, b_hh)
    return (MF.tanh(pre) if nonlinearity == "tanh" else MF.relu(pre),)


def _lstm_cell(gi, state, w_hh, b_hh):
    h, c = state
    i, f, g, o = MF.chunk(gi + F.linear(h, w_hh, b_hh), 4, dim=-1)
    c = MF.sigmoid(f) * c + MF.sigmoid(i) * MF.tanh(g)
    return MF.sigmoid(o) * MF.tanh(c), c


def _gru_cell(gi, state, w_hh, b_hh):
    h = state[0]
    i_r, i_z, i_n = MF.chunk(gi, 3, dim=-1)
    h_r, h_z, h_n = MF.chunk(F.linear(h, w_hh, b_hh), 3, dim=-1)
    r = MF.sigmoid(i_r + h_r)
    z = MF.sigmoid(i_z + h_z)
    n = MF.tanh(i_n + r * h_n)
    return ((1 - z) * n + z * h,)


def _run(step, x, state, w_ih, w_hh, b_ih, b_hh, reverse):
    """One layer in one direction over x (L, N, H_in): the outputs (L, N, H), the last state."""
    gi = F.linear(x, w_ih, b_ih)  # every step's input projection in one product
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    out = [None] * x.shape[0]
    for t in steps:
        state = step(gi[t], state, w_hh, b_hh)
        out[t] = state[0]
    return MF.stack(out), state


# ============================================================================= checks
def _check_bool(layer, name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{layer}: {name} should be of type bool, got: {type(value).__name__}")


def _positive(layer, name, value):
    value = _size(layer, name, value)
    if value == 0:
        raise ValueError(f"{layer}: {name} must be greater than zero")
    return value


def _check_state(layer, name, t, shape, dtype):
    """``t`` (an initial state) a Tensor of ``shape`` and ``dtype``, else a named error."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{type(layer).__name__} expects {name} as a minigrad Tensor, got "
                        f"{type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{layer!r} expects {name} of shape {tuple(shape)}, got shape "
                         f"{tuple(t.shape)}")
    if t.dtype != dtype:
        raise TypeError(f"{type(layer).__name__} expects {name} of dtype {dtype} (as its "
                        f"parameters), got dtype {t.dtype}")


def _states(layer, hx, shape, dtype, device, n):
    """The initial state as a tuple of ``n`` tensors of ``shape`` (zeros when ``hx`` is None)."""
    names = ("h0", "c0") if n == 2 else ("h0",)
    if hx is None:
        return tuple(zeros(*shape, dtype=dtype, device=device) for _ in names)
    if n == 2:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{type(layer).__name__} expects the initial state as a tuple "
                            f"(h0, c0), got {type(hx).__name__}")
        hx = tuple(hx)
    else:
        hx = (hx,)
    for name, t in zip(names, hx):
        _check_state(layer, name, t, shape, dtype)
    return hx


# ============================================================================== cells
class _CellBase(Module):
    _chunks = 1   # gates stacked in the weights' first dimension
    _n_state = 1  # 2 for LSTM: (h, c)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive(name, "input_size", input_size)
        self.hidden_size = _positive(name, "hidden_size", hidden_size)
        _check_bool(name, "bias", bias)
        self.bias = bias
        gates = self._chunks * self.hidden_size
        self.weight_ih = _param(gates, self.input_size)
        self.weight_hh = _param(gates, self.hidden_size)
        if bias:
            self.bias_ih = _param(gates)
            self.bias_hh = _param(gates)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's: every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, input, hx=None):
        _check_float(self, input)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{self!r} expects input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got shape {tuple(input.shape)}")
        batched = input.ndim == 2
        shape = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        state = _states(self, hx, shape, self.weight_ih.dtype, input.device, self._n_state)
        if not batched:
            input, state = input.unsqueeze(0), tuple(t.unsqueeze(0) for t in state)
        gi = F.linear(input, self.weight_ih, self.bias_ih)
        state = self._step(gi, state, self.weight_hh, self.bias_hh)
        if not batched:
            state = tuple(t.squeeze(0) for t in state)
        return state if self._n_state == 2 else state[0]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


class RNNCell(_CellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu): input (N, H_in) or (H_in,), h
    (N, H) or (H,) (zeros when not given) -> h'. weight_ih (H, H_in), weight_hh (H, H),
    bias_ih and bias_hh (H,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def _step(self, gi, state, w_hh, b_hh):
        return _rnn_cell(gi, state, w_hh, b_hh, self.nonlinearity)


class LSTMCell(_CellBase):
    """One LSTM step: input (N, H_in) or (H_in,), hx = (h, c), each (N, H) or (H,) (zeros when
    not given) -> (h', c'). weight_ih (4H, H_in), weight_hh (4H, H), gates in torch's order
    i, f, g, o."""
    _chunks, _n_state = 4, 2

    def _step(self, gi, state, w_hh, b_hh):
        return _lstm_cell(gi, state, w_hh, b_hh)


class GRUCell(_CellBase):
    """One GRU step: input (N, H_in) or (H_in,), h (N, H) or (H,) (zeros when not given) -> h'.
    weight_ih (3H, H_in), weight_hh (3H, H), gates in torch's order r, z, n, with
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""
    _chunks = 3

    def _step(self, gi, state, w_hh, b_hh):
        return _gru_cell(gi, state, w_hh, b_hh)


# ================================================================== sequence layers
class _RNNBase(Module):
    _chunks = 1   # gates stacked in the weights' first dimension
    _n_state = 1  # 2 for LSTM: (h, c)

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                 bidirectional):
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive(name, "input_size", input_size)
        self.hidden_size = _positive(name, "hidden_size", hidden_size)
        self.num_layers = _positive(name, "num_layers", num_layers)
        for arg, value in (("bias", bias), ("batch_first", batch_first),
                           ("bidirectional", bidirectional)):
            _check_bool(name, arg, value)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) \
                or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing "
                             f"the probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout = float(dropout)
        gates = self._chunks * self.hidden_size
        for layer in range(self.num_layers):
            size = self.input_size if layer == 0 else self.hidden_size * self._directions
            for suffix in ("", "_reverse")[:self._directions]:
                setattr(self, f"weight_ih_l{layer}{suffix}", _param(gates, size))
                setattr(self, f"weight_hh_l{layer}{suffix}", _param(gates, self.hidden_size))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", _param(gates))
                    setattr(self, f"bias_hh_l{layer}{suffix}", _param(gates))
        self.reset_parameters()

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self):
        """The parameters, one list per layer and direction (torch's ``all_weights``)."""
        return [[getattr(self, n.format(layer, suffix)) for n in self._names]
                for layer in range(self.num_layers)
                for suffix in ("", "_reverse")[:self._directions]]

    @property
    def _names(self):
        names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
        return names + ["bias_ih_l{}{}", "bias_hh_l{}{}"] if self.bias else names

    def _weights(self, layer, suffix):
        """(w_ih, w_hh, b_ih, b_hh) of one layer and direction (biases None without bias)."""
        return tuple(getattr(self, f"{name}_l{layer}{suffix}", None)
                     for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def reset_parameters(self):
        """torch's: every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self):
        """A no-op (torch's packs weights for cuDNN; there is nothing to pack here)."""

    def forward(self, input, hx=None):
        """``(output, h_n)`` (``(output, (h_n, c_n))`` for LSTM); see the module docstring."""
        _check_tensor(self, input)
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D instead (shape {tuple(input.shape)})")
        _check_float(self, input)
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{self!r} expects input with {self.input_size} features in the "
                             f"last dimension, got input of shape {tuple(input.shape)}")
        batched = input.ndim == 3
        if batched:  # x: (L, N, H_in)
            x = input.transpose(0, 1) if self.batch_first else input
        else:
            x = input.unsqueeze(1)
        if x.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}: expected a sequence length larger than "
                             f"0, got input of shape {tuple(input.shape)}")
        lead = self.num_layers * self._directions
        shape = (lead, x.shape[1], self.hidden_size) if batched else (lead, self.hidden_size)
        initial = _states(self, hx, shape, self.weight_ih_l0.dtype, input.device, self._n_state)
        if not batched:
            initial = tuple(t.unsqueeze(1) for t in initial)

        last = []  # the final state of each layer and direction, in torch's order
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:self._directions]):
                k = layer * self._directions + d
                out, state = _run(self._step, x, tuple(t[k] for t in initial),
                                  *self._weights(layer, suffix), reverse=d == 1)
                outs.append(out)
                last.append(state)
            x = outs[0] if len(outs) == 1 else MF.cat(outs, dim=2)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)

        final = tuple(MF.stack([state[i] for state in last]) for i in range(self._n_state))
        if not batched:
            x, final = x.squeeze(1), tuple(t.squeeze(1) for t in final)
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, (final if self._n_state == 2 else final[0])

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN, h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    ``num_layers`` deep, with dropout between layers in training; see the module docstring for
    shapes. Parameters ``weight_ih_l{k}`` (H, H_in or D * H), ``weight_hh_l{k}`` (H, H),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,), and ``..._reverse`` ones when bidirectional. As
    torch's, the repr does not show the nonlinearity."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False):
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)
        self.nonlinearity = nonlinearity

    def _step(self, gi, state, w_hh, b_hh):
        return _rnn_cell(gi, state, w_hh, b_hh, self.nonlinearity)


class LSTM(_RNNBase):
    """LSTM (gates i, f, g, o in torch's order, weights (4H, *)); ``forward(input, (h0, c0))``
    -> ``(output, (h_n, c_n))``; see the module docstring for shapes. ``proj_size`` is not
    supported."""
    _chunks, _n_state = 4, 2

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0):
        if proj_size != 0:
            raise NotImplementedError(f"LSTM: proj_size is not supported (got {proj_size!r}); "
                                      "follow the LSTM with a Linear(hidden_size, proj_size) "
                                      "instead (not the same recurrence)")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)
        self.proj_size = 0

    def _step(self, gi, state, w_hh, b_hh):
        return _lstm_cell(gi, state, w_hh, b_hh)


class GRU(_RNNBase):
    """GRU (gates r, z, n in torch's order, weights (3H, *), n = tanh(W_in x + b_in +
    r * (W_hn h + b_hn))); see the module docstring for shapes."""
    _chunks = 3

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)

    def _step(self, gi, state, w_hh, b_hh):
        return _gru_cell(gi, state, w_hh, b_hh)
