"""`motifnet gradcheck`: lists every op and model, passes, says which derivation each row
checks, and fails when a backward is wrong."""

import numpy as np

from motifnet import gradcheck
from motifnet.cli import main
from motifnet.kernels.registry import OPS
from motifnet.models import MODELS


def test_gradcheck_lists_every_op_and_model_and_passes(capsys):
    status = main(["gradcheck", "--trials", "1", "--seed", "3"])
    out = capsys.readouterr().out
    assert "FAIL" not in out, out
    assert status == 0 and "all passed" in out
    table, derivations = out.split("what each row checks:")
    listed = {line.split()[0] for line in table.splitlines()[2:] if len(line.split()) > 4}
    with_backward = [op for op in OPS if op.has_backward]
    assert {op.name for op in with_backward} <= listed, out
    for op in with_backward:  # each op's row names its file and derivation
        assert f"{op.name:<18} {op.derivation}" in derivations
    assert all(f"model {name}" in out for name in MODELS)


def test_gradcheck_fails_on_a_wrong_backward(monkeypatch, capsys):
    import motifnet.kernels.linear as linear

    real = linear.linear_backward_into

    def sign_flipped_dw(dy, x, w, dx, dw, db):
        before = dw.copy()
        real(dy, x, w, dx, dw, db)
        dw[...] = before - (dw - before)

    monkeypatch.setattr(linear, "linear_backward_into", sign_flipped_dw)
    status = main(["gradcheck", "--only", "linear", "--trials", "1"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    failing = [row[:2] for row in rows if len(row) > 4 and row[4] == "FAIL"]
    assert status == 1
    assert failing == [["linear", "w"]], out
    assert "1 FAILED" in out


def test_gradcheck_rejects_unknown_names(capsys):
    assert main(["gradcheck", "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown --only 'nope'" in err


def test_every_case_covers_every_input():
    rng = np.random.default_rng(0)
    for name, make_case in gradcheck.cases().items():
        case = make_case(rng)
        assert set(case.analytic()) == set(case.inputs), name
