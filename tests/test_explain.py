"""`motifnet explain OP`: the op's formulas from its file, and a tiny example whose numbers check by hand."""

import ast
import re

import numpy as np
import pytest

from motifnet.cli import main
from motifnet.commands.explain import OPS
from motifnet.kernels.registry import OPS as REGISTERED


def _explain(capsys, *argv):
    status = main(["explain", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _array(text, name):
    """The array printed after '  <name> =' (the next line)."""
    m = re.search(rf"^  {re.escape(name)} =\n    (.+?)\n  [a-z]", text, re.M | re.S)
    return np.array(ast.literal_eval(m.group(1).replace("\n", " ").replace("  ", " ")))


def test_every_registered_op_and_adam_can_be_explained():
    assert {op.name for op in REGISTERED} | {"adam"} == (set(OPS) - {"bce"}) | {"bce_with_logits"}


@pytest.mark.parametrize("op", OPS)
def test_explain_shows_formulas_and_a_passing_example(capsys, op):
    status, out, err = _explain(capsys, op)
    assert status == 0, err
    if op == "adam":
        assert "exp_avg" in out and "(reference loop)" in out
        return
    assert "\nForward" in out and "A tiny example" in out and "FAIL" not in out
    if op == "scan":  # forward only: the kernel against its reference loops
        assert "a forward-only op" in out and "max difference 0.0e+00" in out
        return
    assert "\nBackward, derived" in out and "(pass at 1e-06)" in out


def test_the_conv1d_example_can_be_checked_by_hand(capsys):
    _, out, _ = _explain(capsys, "conv1d", "--torch")
    x, w, bias, y = (_array(out, n) for n in ("x", "w", "bias", "y (forward)"))
    g = _array(out, "g = d loss / d y (the loss is sum(g * y))")
    # y[t] = bias + sum_k w[k] x[t + k], with the printed one- or two-decimal numbers
    by_hand = [bias[0] + sum(w[0, 0, k] * x[0, 0, t + k] for k in range(3)) for t in range(3)]
    np.testing.assert_allclose(y[0, 0], by_hand, atol=5e-7)
    np.testing.assert_allclose(_array(out, "y (torch)")[0, 0], by_hand, atol=5e-7)
    # and dL/dbias = sum_t g[t]: the first row of its table
    db = float(re.search(r"d loss / d bias:\n.*\n    \[0\]\s+(\S+)", out).group(1))
    assert db == pytest.approx(g.sum(), abs=5e-7)


def test_unknown_op_is_one_line(capsys):
    status, out, err = _explain(capsys, "softmax")
    assert status == 2 and out == "" and err.count("\n") == 1 and "unknown op 'softmax'" in err
