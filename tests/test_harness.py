"""The test harness itself: what conftest.py promises about running the suite."""
import pytest
from hypothesis import given, strategies as st

_depth_at_call: dict[int, int] = {}


def _parents(s) -> int:
    n = 0
    while s is not None:
        s, n = s._fallback, n + 1
    return n


@pytest.mark.parametrize("call", range(4))
@given(st.just(None))
def test_a_parametrized_hypothesis_test_does_not_nest_its_settings(call, _):
    """Hypothesis's pytest plugin nests a parametrized test's settings one level deeper on
    every call; test_op is called thousands of times in one run, so conftest undoes it."""
    me = test_a_parametrized_hypothesis_test_does_not_nest_its_settings
    _depth_at_call.setdefault(call, _parents(me._hypothesis_internal_use_settings))
    assert len(set(_depth_at_call.values())) == 1, _depth_at_call
