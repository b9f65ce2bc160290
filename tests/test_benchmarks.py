"""The benchmark harness runs end to end and refuses to time wrong results.

One quick run (``python -m benchmarks --quick``: tiny shapes, 1 repeat, 1
thread, small training runs) with ``--perturb relu``, which nudges motifnet's
relu outputs in its worker: every other kernel of the registry must pass
validation, relu must be rejected and left untimed; every training job must pass
its validation epoch (motifnet against torch, JAX against motifnet when JAX is
installed) before it is timed.  No assertion is made on any timing beyond
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
from benchmarks import suite
from benchmarks.suite import JAX_SKIPPED, check_training, compare_outputs, jax_available, validate_e2e
from benchmarks.worker import perturb_outputs, planted_like, time_call
from motifnet.kernels.registry import OPS

JAX = jax_available()  # JAX is optional: the suite uses it when installed, says it skipped it otherwise

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
    for heading in ("## Kernels", "## End-to-end training", "## Growth table", "## Start-up", "## Scanning",
                    "## Targets"):
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
    for per_lib in res["training"]["info"].values():
        for lib, info in per_lib.items():
            assert info["threads"] == 1, lib
    if JAX:
        assert meta["jax"] == "used" and meta["versions"].get("jax")
    else:
        assert meta["jax"] == JAX_SKIPPED and JAX_SKIPPED in md


def test_quick_run_validates_and_times_every_kernel(quick_run):
    _, res, _ = quick_run
    k = res["kernels"]
    assert not k["errors"], k["errors"]
    validated = {(v["kernel"], v["size"]): v["passed"] for v in k["validation"]}
    # every op of the registry (and adam), at every tiny shape: nothing is listed by hand
    expected = {(kernel, shape) for kernel, shape in C.case_list(C.KERNELS, ["tiny"])}
    assert set(validated) == expected and {op.name for op in OPS} < {kernel for kernel, _ in expected}
    for kernel, shape in expected:
        rows = [r for r in k["rows"] if r["kernel"] == kernel and r["size"] == shape]
        assert [r["phase"] for r in rows] == list(C.phases_of(kernel))
        for r in rows:
            assert _positive(r["torch_s"]), r
            if kernel == "relu":
                continue
            assert validated[(kernel, shape)], [v for v in k["validation"] if v["kernel"] == kernel]
            assert _positive(r["motifnet_s"]) and _positive(r["ratio"]), r
            assert r["ratio"] == pytest.approx(r["torch_s"] / r["motifnet_s"])


def test_quick_run_rejects_a_wrong_kernel(quick_run):
    _, res, _ = quick_run
    relu = next(v for v in res["kernels"]["validation"] if v["kernel"] == "relu")
    assert not relu["passed"]
    bad = [c for c in relu["checks"] if not c["passed"]]
    assert [c["name"] for c in bad] == ["d_x"] and "relu/tiny/d_x" in bad[0]["message"]
    for r in res["kernels"]["rows"]:
        if r["kernel"] == "relu":  # refused: no motifnet time, no ratio
            assert not r["validated"] and r["motifnet_s"] is None and r["ratio"] is None


def test_quick_run_training_is_validated_then_timed(quick_run):
    _, res, _ = quick_run
    tr = res["training"]
    assert not tr["errors"], tr["errors"]
    e2e = [r for r in tr["rows"] if r["part"] == "e2e"]
    assert [r["model"] for r in e2e] == ["cnn", "attention", "deepbind"]
    for r in tr["rows"]:
        assert r["validated"] and r["motifnet_validated"], r
        assert _positive(r["motifnet_s"]) and _positive(r["torch_s"]) and _positive(r["ratio"])
        chk = r["motifnet_check"]
        assert chk["against"] == "torch" and chk["epoch1_loss_rel_diff"] <= 1e-3 and chk["param_rel_err"] <= 1e-2
    deepbind = e2e[2]
    assert deepbind["data"] == "variable" and deepbind["min_length"] < deepbind["max_length"]
    growth = [r for r in tr["rows"] if r["part"] == "growth"]
    assert growth and all(r["adam_steps"] >= 1 for r in growth)
    for r in growth:
        if JAX:  # JAX is validated against motifnet before it is timed
            assert r["jax_validated"] and r["jax_check"]["against"] == "motifnet", r["jax_check"]
            assert _positive(r["jax_s"]) and r["ratio_jax"] == pytest.approx(r["jax_s"] / r["motifnet_s"])
        else:
            assert not r["jax_ran"] and r["jax_s"] is None


def test_quick_run_startup(quick_run):
    _, res, _ = quick_run
    st = res["startup"]
    assert not st["errors"], st["errors"]
    for lib in ("motifnet", "torch"):
        assert _positive(st["import"][lib]["median"])
    for label in ("motifnet_warm_cache", "torch"):
        run = st["train_process"][label]
        assert run["ok"] and _positive(run["median_s"]) and _positive(run["peak_rss_mb"])


def test_quick_run_scan_command_is_validated_then_timed(quick_run):
    _, res, _ = quick_run
    sc = res["scan"]
    assert not sc["errors"], sc["errors"]
    val = sc["validation"]
    assert val["passed"] and val["windows_checked"] >= 16 and val["worst_error_over_allowed"] <= 1.0
    assert sc["counts"]["windows_scored"] > 0 and sc["input"]["bases"] == 2_000_000
    assert {(r["format"], r["threads"]) for r in sc["rows"]} == {("plain", 1), ("gzip", 1)}
    for r in sc["rows"]:
        assert r["validated"] and _positive(r["seconds"]) and _positive(r["stream_seconds"])
        assert r["stream_seconds"] < r["seconds"] and r["mbp_per_s"] == pytest.approx(2.0 / r["seconds"])


def test_scan_benchmark_validation_rejects_a_wrong_window(tmp_path):
    from benchmarks.scan_command import validate_windows
    from motifnet.model_io import save_model
    from motifnet.models import DeepBind
    from motifnet.scan import Scanner, bedgraph_text

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=5_000).astype(np.int8)
    model = DeepBind()
    save_model(model, tmp_path / "model.npz")
    scores = Scanner(model, window=200, step=100).scan_codes("chr1", codes)
    (tmp_path / "scan.json").write_text(json.dumps({"settings": {"window": 200, "step": 100}}))
    text = bedgraph_text(scores)
    (tmp_path / "windows.bedgraph").write_text(text)
    assert validate_windows(tmp_path, tmp_path / "model.npz", {"chr1": codes})["passed"]
    rows = text.splitlines()
    f = rows[5].split("\t")
    rows[5] = "\t".join(f[:3] + [f"{float(f[3]) * 0.999:.6g}"])  # one window's probability off by 0.1%
    (tmp_path / "windows.bedgraph").write_text("\n".join(rows) + "\n")
    bad = validate_windows(tmp_path, tmp_path / "model.npz", {"chr1": codes})
    assert not bad["passed"] and "chr1:" in bad["message"]


def test_scan_benchmark_fasta_text_is_the_codes_in_lines_of_60():
    from benchmarks.scan_command import _text

    for n in (1, 59, 60, 61, 250):
        codes = np.random.default_rng(n).integers(-1, 4, n).astype(np.int8)
        text = _text(codes).decode()
        lines = text.split("\n")
        assert lines[-1] == "" and all(len(line) == 60 for line in lines[:-2]) and 1 <= len(lines[-2]) <= 60
        assert "".join(lines) == "".join("ACGTN"[c] for c in codes)


def test_without_jax_the_suite_says_so_and_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "jax_available", lambda: False)
    assert suite.main(["--quick", "--parts", "kernels", "--kernels", "adam", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["meta"]["jax"] == JAX_SKIPPED and "jax" not in res["meta"]["settings"]["libs"]
    assert JAX_SKIPPED in (tmp_path / "results.md").read_text()


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
    row = lambda loss, acc: {"loss": loss, "valid_accuracy": acc}  # noqa: E731
    assert validate_e2e([row(0.69, 0.5), row(0.1, 0.95)], [row(0.69, 0.5), row(0.1, 0.96)])["validated"]
    assert not validate_e2e([row(0.70, 0.5), row(0.1, 0.95)], [row(0.69, 0.5), row(0.1, 0.95)])["validated"]
    assert not validate_e2e([row(0.69, 0.5), row(0.1, 0.70)], [row(0.69, 0.5), row(0.1, 0.95)])["validated"]


def test_check_training_rejects_a_wrong_loss_or_parameter(tmp_path):
    rng = np.random.default_rng(0)
    ref = {"conv.weight": rng.standard_normal((4, 4, 3)), "fc2.bias": rng.standard_normal(1)}
    np.savez(tmp_path / "ref.npz", **ref)
    hist = lambda loss: {"check_history": [{"loss": loss}]}  # noqa: E731

    def check(params, loss=0.69):
        np.savez(tmp_path / "mine.npz", **params)
        return check_training("job", hist(loss), hist(0.69), str(tmp_path / "mine.npz"), str(tmp_path / "ref.npz"))

    assert check({n: a * (1 + 1e-5) for n, a in ref.items()})["passed"]
    assert not check(ref, loss=0.70)["passed"]
    off = {**ref, "conv.weight": ref["conv.weight"].copy()}
    off["conv.weight"][1, 2, 0] += 0.05 * np.abs(ref["conv.weight"]).max()
    res = check(off)
    assert not res["passed"] and res["worst_param"] == "conv.weight" and "conv.weight" in res["message"]
    assert not check({**ref, "fc2.bias": np.array([np.nan])})["passed"]
    assert not check({"conv.weight": ref["conv.weight"]})["passed"]  # a parameter missing


def test_planted_like_has_the_planted_sets_shape():
    from motifnet.data import PRIMER_MOTIF, decode, reverse_complement

    codes, lengths, labels = planted_like(400, 200, 400, seed=3, motif=PRIMER_MOTIF, mutation=0.0)
    assert codes.dtype == np.int8 and codes.shape == (400, 400) and lengths.min() >= 200 and lengths.max() <= 400
    assert labels.sum() == 200
    assert np.all((codes >= 0) == (np.arange(400)[None, :] < lengths[:, None]))  # -1 exactly past each length
    seqs = decode(codes, lengths)
    rc = reverse_complement(PRIMER_MOTIF)
    forward = np.array([PRIMER_MOTIF in s for s in seqs])
    reverse = np.array([rc in s for s in seqs])
    assert np.all((forward | reverse) == (labels == 1))  # an exact instance in every positive, none by chance
    assert 60 < forward[labels == 1].sum() < 140  # both strands, about half each


def test_time_call_reports_per_call_medians():
    calls = []
    res = time_call(lambda: calls.append(1), repeats=3, min_sample_s=1e-4)
    assert res["n_calls"] >= 1 and len(res["samples"]) == 3
    assert len(calls) >= 1 + 3 * res["n_calls"]
    assert all(_positive(s) for s in res["samples"]) and res["min"] <= res["median"]


def test_inputs_are_reproducible_float32():
    for kernel, shape in C.case_list(C.KERNELS, ["tiny"]):
        a, b = C.make_inputs(kernel, shape), C.make_inputs(kernel, shape)
        for name in a:
            assert a[name].dtype == np.float32 or not np.issubdtype(a[name].dtype, np.floating), (kernel, name)
            assert a[name].flags.c_contiguous
            np.testing.assert_array_equal(a[name], b[name])


def test_sizes_select_the_registrys_named_shapes():
    assert C.shapes_of("conv1d", ["seed"]) == ["seed", "seed_first_layer"]
    assert C.shapes_of("conv1d", ["primer"]) == C.shapes_of("conv1d", ["seed"])
    assert C.shapes_of("relu", ["large"]) == ["large"] and C.shapes_of("adam", ["tiny"]) == ["tiny"]
