"""Small reliability gaps and what a newcomer tripped on (issue 25, items 7 and 8)."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F


@pytest.mark.parametrize("p", [[1.5, 0.5], [-0.1, 0.5], [np.nan, 0.5]])
def test_bce_outside_0_1_raises_as_in_torch(p):
    with pytest.raises(ValueError, match=r"expects probabilities in \[0, 1\]"):
        F.binary_cross_entropy(minigrad.tensor(p), minigrad.tensor([0.0, 1.0]))


@pytest.mark.parametrize("data", [["a"], [b"x"], [[1, "a"]], "abc"])
def test_strings_cannot_become_tensors(data):
    with pytest.raises(TypeError, match="strings cannot become tensors"):
        minigrad.tensor(data)


def test_tensor_takes_a_name_as_Tensor_does():
    assert minigrad.tensor([1.0], name="x").name == "x" == minigrad.Tensor([1.0], name="x").name


def test_grad_of_a_non_scalar_suggests_sum_as_backward_does():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"call \.sum\(\) or \.mean\(\) first"):
        minigrad.grad(x * 2, x)
    with pytest.raises(RuntimeError, match=r"call \.sum\(\) or \.mean\(\) first"):
        (x * 2).backward()


def test_the_example_takes_the_max_steps_its_complete_run_message_suggests():
    """fit() says of a finished run: "give a larger --epochs (or --max-steps)"."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, str(root / "examples" / "vanilla_gan_mnist.py"),
                          "--max-steps", "0"], capture_output=True, text=True, cwd=root,
                         timeout=120)
    assert res.returncode == 2 and "argument --max-steps: invalid value '0'" in res.stderr


def test_passing_tests_leave_no_temporary_files(pytestconfig):
    assert pytestconfig.getini("tmp_path_retention_policy") == "failed"


def test_ieee_results_come_without_numpys_warnings_as_in_torch():
    """log(0), 0/0, sqrt(-1), overflow and the mean of nothing give -inf/NaN/inf silently, as
    torch's do (NumPy would print a RuntimeWarning pointing into minigrad's source each time),
    in a fresh interpreter with Python's default filters; the user's own NumPy code still
    warns."""
    from tests.fresh_python import run_python
    out = run_python(
        "import warnings\n"
        "import numpy as np\n"
        "import minigrad as mg\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    x = mg.tensor([0.0, -1.0, 1e30], requires_grad=True)\n"
        "    y = x.log() + x.sqrt() + x / mg.zeros(3) + x ** 20 + x.exp() + mg.zeros(0).mean()\n"
        "    y.sum().backward()\n"
        "    mine = len(caught)\n"
        "    np.log(np.zeros(1))\n"
        "print(mine, len(caught) - mine, y.numpy().tolist(), x.grad.numpy().tolist())\n")
    mine, theirs, values = out.split(" ", 2)
    assert (mine, theirs) == ("0", "1"), out  # none from minigrad's ops, numpy's own still
    assert "nan" in values and "inf" in values, out
