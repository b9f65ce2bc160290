"""`motifnet gradcheck`: lists every kernel, passes, and fails when a backward is wrong."""

import numpy as np

from motifnet import gradcheck
from motifnet.cli import main

KERNELS = ("conv1d", "maxpool1d", "linear", "relu", "bce_with_logits", "attention")


def test_gradcheck_lists_every_kernel_and_passes(capsys):
    status = main(["gradcheck", "--trials", "1", "--seed", "3"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[2:] if line.strip() and not line.startswith(("all", "\n"))]
    listed = {row[0] for row in rows if len(row) > 4}
    assert set(KERNELS) <= listed, out
    assert "FAIL" not in out, out
    assert status == 0
    assert "all passed" in out


def test_gradcheck_fails_on_a_wrong_backward(monkeypatch, capsys):
    import kernels.linear

    real_backward = kernels.linear.linear_backward

    def sign_flipped_dw(dy, x, w, need_dx=True):
        dx, dw, db = real_backward(dy, x, w, need_dx=need_dx)
        return dx, -dw, db

    monkeypatch.setattr(kernels.linear, "linear_backward", sign_flipped_dw)
    status = main(["gradcheck", "--only", "linear", "--trials", "1"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    failing = [row[:2] for row in rows if len(row) > 4 and row[4] == "FAIL"]
    assert status == 1
    assert failing == [["linear", "w"]], out
    assert "1 FAILED" in out


def test_gradcheck_rejects_unknown_kernel(capsys):
    assert main(["gradcheck", "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown --only 'nope'" in err


def test_every_case_covers_every_input():
    rng = np.random.default_rng(0)
    for make_case in gradcheck.CASES:
        case = make_case(rng)
        assert set(case.analytic()) == set(case.inputs), case.kernel
