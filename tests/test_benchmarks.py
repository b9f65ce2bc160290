"""The benchmark harness runs end to end and refuses to time wrong results.

One quick run (``python -m benchmarks --quick``: tiny shapes, 1 repeat, 1
thread, small training runs) with ``--perturb relu``, which nudges motifnet's
relu outputs in its worker: every other kernel must pass validation, relu must
be rejected and left untimed.  No assertion is made on any timing beyond
"finite and positive" (the machine is shared; timings are noisy).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import cases as C
from benchmarks.suite import compare_outputs, validate_e2e
from benchmarks.worker import perturb_outputs, time_call

REPO = Path(__file__).resolve().parents[1]


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--perturb", "relu", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text()), proc.stdout


def test_quick_run_writes_report(quick_run):
    out, res, stdout = quick_run
    md = (out / "results.md").read_text()
    assert md == stdout.rstrip("\n") + "\n" or md.strip() in stdout
    for heading in ("## Kernels", "## End-to-end training", "## Start-up"):
        assert heading in md
    assert (out / "ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = res["meta"]
    assert meta["machine"]["cpu"] and meta["machine"]["logical_cpus"] >= 1
    for lib in ("python", "numpy", "numba", "torch"):
        assert meta["versions"].get(lib), lib
    assert meta["settings"]["threads"] == [1] and meta["settings"]["repeats"] == 1
    # each worker pinned its library to the requested thread count
    for key, info in res["kernels"]["info"].items():
        assert info["threads"] == 1, key


def test_quick_run_validates_and_times_every_kernel(quick_run):
    _, res, _ = quick_run
    k = res["kernels"]
    assert not k["errors"], k["errors"]
    validated = {(v["kernel"], v["size"]): v["passed"] for v in k["validation"]}
    assert set(validated) == {(kernel, "tiny") for kernel in C.KERNELS}
    for kernel in C.KERNELS:
        rows = [r for r in k["rows"] if r["kernel"] == kernel]
        assert [r["phase"] for r in rows] == list(C.phases_of(kernel))
        for r in rows:
            assert _positive(r["torch_s"]), r
            if kernel == "relu":
                continue
            assert validated[(kernel, "tiny")], [v for v in k["validation"] if v["kernel"] == kernel]
            assert _positive(r["motifnet_s"]) and _positive(r["ratio"]), r
            assert r["ratio"] == pytest.approx(r["torch_s"] / r["motifnet_s"])


def test_quick_run_rejects_a_wrong_kernel(quick_run):
    _, res, _ = quick_run
    relu = next(v for v in res["kernels"]["validation"] if v["kernel"] == "relu")
    assert not relu["passed"]
    bad = [c for c in relu["checks"] if not c["passed"]]
    assert [c["name"] for c in bad] == ["dx"] and "relu/tiny/dx" in bad[0]["message"]
    for r in res["kernels"]["rows"]:
        if r["kernel"] == "relu":  # refused: no motifnet time, no ratio
            assert not r["validated"] and r["motifnet_s"] is None and r["ratio"] is None


def test_quick_run_end_to_end_and_startup(quick_run):
    _, res, _ = quick_run
    e2e = res["e2e"]
    assert not e2e["errors"], e2e["errors"]
    assert [r["model"] for r in e2e["rows"]] == ["cnn", "attention"]
    for r in e2e["rows"]:
        assert r["validated"], r
        assert _positive(r["motifnet_s"]) and _positive(r["torch_s"]) and _positive(r["ratio"])
        assert r["epoch1_loss_rel_diff"] <= 1e-3
    st = res["startup"]
    assert not st["errors"], st["errors"]
    for lib in ("motifnet", "torch"):
        assert _positive(st["import"][lib]["median"])
    for label in ("motifnet_warm_cache", "torch"):
        run = st["train_process"][label]
        assert run["ok"] and _positive(run["median_s"]) and _positive(run["peak_rss_mb"])


# ---------------------------------------------------------------- the comparison itself
def test_compare_outputs_accepts_float32_rounding_and_rejects_errors():
    rng = np.random.default_rng(0)
    expected = {"y": rng.standard_normal((3, 4, 5)), "dw": rng.standard_normal((4, 2))}
    same = {n: a.astype(np.float32) for n, a in expected.items()}
    assert compare_outputs("k/tiny", same, expected)["passed"]

    for name, idx in (("y", (1, 2, 3)), ("dw", (3, 1))):
        wrong = {n: a.copy() for n, a in same.items()}
        wrong[name][idx] += 1e-3 * np.abs(expected[name]).max()
        res = compare_outputs("k/tiny", wrong, expected)
        assert not res["passed"]
        (bad,) = [c for c in res["checks"] if not c["passed"]]
        assert bad["name"] == name and f"k/tiny/{name}" in bad["message"] and str(idx) in bad["message"]

    flipped = {**same, "dw": -same["dw"]}
    assert not compare_outputs("k/tiny", flipped, expected)["passed"]
    with_nan = {**same, "y": same["y"].copy()}
    with_nan["y"][0, 0, 0] = np.nan
    assert not compare_outputs("k/tiny", with_nan, expected)["passed"]
    assert not compare_outputs("k/tiny", {"y": same["y"]}, expected)["passed"]  # dw missing
    assert not compare_outputs("k/tiny", {**same, "y": same["y"][:2]}, expected)["passed"]  # shape


def test_compare_outputs_allows_for_torchs_own_float32_error_and_no_more():
    rng = np.random.default_rng(1)
    exact = {"dq": rng.standard_normal(1000)}
    scale = np.abs(exact["dq"]).max()
    torch32 = {"dq": exact["dq"] + 3e-4 * scale * rng.choice([-1.0, 1.0], 1000)}  # ill-conditioned output
    close = {"dq": exact["dq"] + 5e-4 * scale * rng.choice([-1.0, 1.0], 1000)}  # within 4x torch's error
    far = {"dq": exact["dq"] + 2e-3 * scale * rng.choice([-1.0, 1.0], 1000)}  # beyond it
    res = compare_outputs("attention/large", close, torch32, exact)
    assert res["passed"] and res["checks"][0]["rtol"] == pytest.approx(4 * 3e-4, rel=1e-6)
    assert res["checks"][0]["against"] == "torch float64"
    assert not compare_outputs("attention/large", far, torch32, exact)["passed"]
    # a well-conditioned output keeps the 1e-4 floor even when torch is (nearly) exact
    assert not compare_outputs("relu/large", {"dx": exact["dq"] * (1 + 2e-4)}, {"dx": exact["dq"]}, {"dx": exact["dq"]})["passed"]


def test_perturb_outputs_is_caught_by_compare():
    case = C.motifnet_case("linear", "tiny")
    good = case.outputs()
    bad = perturb_outputs({n: a.copy() for n, a in good.items()})
    assert compare_outputs("linear/tiny", good, {n: a.astype(np.float64) for n, a in good.items()})["passed"]
    assert not compare_outputs("linear/tiny", bad, good)["passed"]


def test_validate_e2e_rejects_diverging_training():
    row = lambda loss, acc: {"loss": loss, "test_accuracy": acc}  # noqa: E731
    assert validate_e2e([row(0.69, 0.5), row(0.1, 0.95)], [row(0.69, 0.5), row(0.1, 0.96)])["validated"]
    assert not validate_e2e([row(0.70, 0.5), row(0.1, 0.95)], [row(0.69, 0.5), row(0.1, 0.95)])["validated"]
    assert not validate_e2e([row(0.69, 0.5), row(0.1, 0.70)], [row(0.69, 0.5), row(0.1, 0.95)])["validated"]


def test_time_call_reports_per_call_medians():
    calls = []
    res = time_call(lambda: calls.append(1), repeats=3, min_sample_s=1e-4)
    assert res["n_calls"] >= 1 and len(res["samples"]) == 3
    assert len(calls) >= 1 + 3 * res["n_calls"]
    assert all(_positive(s) for s in res["samples"]) and res["min"] <= res["median"]


def test_inputs_are_reproducible_float32():
    for kernel in C.KERNELS:
        a, b = C.make_inputs(kernel, "tiny"), C.make_inputs(kernel, "tiny")
        for name in a:
            assert a[name].dtype == np.float32 and a[name].flags.c_contiguous
            np.testing.assert_array_equal(a[name], b[name])
