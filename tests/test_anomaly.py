"""detect_anomaly(): the first NaN/inf, forward or backward, names its op, shapes and user line."""
from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.autograd import function as _function


def _line_of(marker: str) -> int:
    """The line of this file holding ``marker`` (so the tests do not hard-code numbers)."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    hits = [i + 1 for i, text in enumerate(lines) if marker in text and "_line_of" not in text]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def _quiet():
    # numpy's own "invalid value" warnings are expected here: the NaN is the point.
    return np.errstate(all="ignore")


def test_log_of_negative_number_forward():
    x = minigrad.tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    with _quiet(), pytest.raises(minigrad.AnomalyError) as info, minigrad.detect_anomaly():
        y = x.log()  # MARK-log
        y.sum()
    msg = str(info.value)
    assert "Log produced 1 NaN (of 3 elements) in its forward" in msg, msg
    assert "(1, 3) float32" in msg, msg  # input shape and dtype
    assert f'test_anomaly.py", line {_line_of("# MARK-log")}, in ' \
           "test_log_of_negative_number_forward" in msg, msg
    assert "y = x.log()" in msg  # the source line itself
    assert "clamp" in msg  # a hint saying what to do
    assert isinstance(info.value, RuntimeError)


def test_forward_check_covers_ops_that_record_nothing():
    x = minigrad.tensor([0.0, 1.0])  # no grad: no graph, still checked
    with _quiet(), pytest.raises(minigrad.AnomalyError, match=r"PowConst produced 1 inf"), \
            minigrad.detect_anomaly():
        1.0 / x  # noqa: B018  (x ** -1)
    # ... and a NaN coming in from the data is named as such.
    bad = minigrad.tensor([np.nan, 1.0])
    with _quiet(), pytest.raises(minigrad.AnomalyError, match="already held NaN"), \
            minigrad.detect_anomaly():
        bad * 2  # noqa: B018


def test_zero_over_zero_in_backward_names_the_forward_line():
    x = minigrad.tensor([0.0, 4.0], requires_grad=True)
    with _quiet(), minigrad.detect_anomaly():
        y = x.sqrt()  # MARK-sqrt
        loss = (y * 0.0).sum()  # forward is finite: 0 * sqrt(0) = 0
        with pytest.raises(minigrad.AnomalyError) as info:
            loss.backward()  # d sqrt/dx at 0 is 1/0; times the incoming 0 gives 0/0 = NaN
    msg = str(info.value)
    assert msg.startswith("Sqrt.backward returned a gradient with 1 NaN (of 2 elements)"), msg
    assert "for its input 0 (shape (2,))" in msg and "(2,) float32" in msg, msg
    assert "incoming gradient was finite" in msg
    assert f'test_anomaly.py", line {_line_of("# MARK-sqrt")}, in ' in msg, msg
    assert "y = x.sqrt()" in msg
    assert "eps" in msg  # the hint


def test_backward_inf_checked_after_the_block_too():
    """Nodes recorded in the block keep their checks; backward may run outside it."""
    x = minigrad.tensor([0.0, 1.0], requires_grad=True)
    with minigrad.detect_anomaly():
        loss = x.sqrt().sum()
    assert not minigrad.is_anomaly_enabled()
    with _quiet(), pytest.raises(minigrad.AnomalyError, match=r"Sqrt\.backward .* 1 inf"):
        loss.backward()


def test_second_order_names_both_lines():
    """A NaN in a gradient of a gradient is traced to the grad() call *and* the forward op."""
    x = minigrad.tensor([0.0, 1.0], requires_grad=True)
    with _quiet(), minigrad.detect_anomaly():
        y = (x ** 1.5).sum()  # MARK-pow
        g, = minigrad.grad(y, x, create_graph=True)  # MARK-grad
        with pytest.raises(minigrad.AnomalyError) as info:
            g.sum().backward()
    msg = str(info.value)
    assert "PowConst.backward returned a gradient with 1 inf" in msg, msg
    assert f'line {_line_of("# MARK-grad")}' in msg and f'line {_line_of("# MARK-pow")}' in msg
    assert "by the backward of PowConst" in msg


def test_off_by_default_and_restored():
    assert _function._anomaly_hook[0] is None and not minigrad.is_anomaly_enabled()
    with minigrad.detect_anomaly():
        assert minigrad.is_anomaly_enabled()
        with minigrad.detect_anomaly(check_forward=False):
            assert minigrad.is_anomaly_enabled()
        assert minigrad.is_anomaly_enabled()
    assert _function._anomaly_hook[0] is None
    # Off: NaNs pass silently (numpy semantics), and no node carries anomaly state.
    x = minigrad.tensor([-1.0], requires_grad=True)
    with _quiet():
        y = x.log()
    assert np.isnan(y.item()) and "backward" not in vars(y._ctx)


def test_check_forward_false_allows_masked_nans():
    x = minigrad.tensor([-1.0, 2.0], requires_grad=True)
    with _quiet(), minigrad.detect_anomaly(check_forward=False):
        y = minigrad.where(x > 0, x.log(), 0.0).sum()  # log(-1) is masked out on purpose
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5])


def test_decorator_form_and_error_is_exception_safe():
    @minigrad.detect_anomaly()
    def f(t):
        return t.log()

    with _quiet(), pytest.raises(minigrad.AnomalyError):
        f(minigrad.tensor([-1.0]))
    assert not minigrad.is_anomaly_enabled()  # left cleanly despite the exception


def test_clean_training_step_passes_and_matches(tmp_path):
    """A real step (GAN-style losses, double backprop) raises nothing and changes no number."""
    from gans.penalties import gradient_penalty

    def step():
        minigrad.manual_seed(0)
        D = nn.Sequential(nn.Linear(6, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
        real, fake = minigrad.randn(4, 6), minigrad.randn(4, 6)
        loss = D(fake).mean() - D(real).mean() + 10 * gradient_penalty(D, real, fake)
        loss.backward()
        return [p.grad.numpy().copy() for p in D.parameters()]

    plain = step()
    with minigrad.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy warnings either: nothing non-finite happened
        checked = step()
    for a, b in zip(plain, checked):
        np.testing.assert_array_equal(a, b)


def test_message_format_is_readable():
    x = minigrad.tensor([0.0], requires_grad=True)
    with _quiet(), pytest.raises(minigrad.AnomalyError) as info, minigrad.detect_anomaly():
        (x / x).sum()
    msg = str(info.value)
    assert re.search(r"^Div produced 1 NaN .*\n  op: Div, inputs: \(1,\) float32, \(1,\) float32",
                     msg), msg
    assert "most recent call last" in msg
