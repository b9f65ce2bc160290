"""``motifnet train`` and ``motifnet predict``: the run folder, its numbers, the TSV, errors.

Training runs are tiny (a few hundred short sequences, 1-2 epochs): these tests
check plumbing and file contents, not learning.  Every error case must exit 2
with exactly one line on stderr and leave nothing behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from motifnet import cli
from motifnet.data import generate_data, one_hot, read_labels, read_sequences
from motifnet.model_io import load_model
from motifnet.train import evaluate, predict_proba

RUN_FILES = {"model.npz", "metrics.json", "loss.png", "accuracy.png", "confusion_matrix.png", "roc_pr.png",
             "test_sequences.txt", "test_labels.txt", ".motifnet-output"}
LENGTH, N = 30, 160


def call(argv):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors exit from inside parse_args
            status = exc.code
    return status, out.getvalue(), err.getvalue()


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary folders/files a failed or finished run must not leave."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    seqs, labels = generate_data(n=N, length=LENGTH, seed=5)
    seqs[3] = seqs[3][:10].lower() + "N" + seqs[3][11:]  # lowercase and N are valid input
    (root / "seqs.txt").write_text("\n".join(seqs) + "\n")
    (root / "labels.txt").write_text("\n".join(map(str, labels)) + "\n")
    with open(root / "pos.fa", "w") as fh:
        for i in np.flatnonzero(labels == 1):
            fh.write(f">pos{i} planted\n{seqs[i][:17]}\n{seqs[i][17:]}\n")
    with open(root / "neg.fa", "w") as fh:
        for i in np.flatnonzero(labels == 0):
            fh.write(f">neg{i}\n{seqs[i]}\n")
    (root / "short.txt").write_text("".join("ACGTACGT" + a + b + "\n" for a in "AC" for b in "ACGT"))
    (root / "short_labels.txt").write_text("0\n1\n" * 4)
    (root / "ones.txt").write_text("1\n" * N)
    (root / "alln.txt").write_text(("N" * 30 + "\n") * 8)
    return root


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    """One training run through the CLI: (run folder, stdout)."""
    out = tmp_path_factory.mktemp("runs") / "r1"
    status, stdout, stderr = call(["train", "--sequences", data_dir / "seqs.txt",
                                   "--labels", data_dir / "labels.txt", "--epochs", 2,
                                   "--batch-size", 16, "--seed", 3, "--out", out])
    assert status == 0, stderr
    return out, stdout


# --------------------------------------------------------------------------- train

def test_run_folder_contents(run):
    out, stdout = run
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert leftovers(out.parent) == []
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not a private temporary folder's 0700
    for path in out.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path  # not mkstemp's 0600
    for png in ("loss.png", "accuracy.png", "confusion_matrix.png", "roc_pr.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = stdout.splitlines()
    assert sum(line.startswith("epoch ") for line in lines) == 2
    assert lines[-1] == f"run folder: {out}"
    assert any(line.startswith("test accuracy ") and "AUROC" in line for line in lines)


def test_metrics_match_the_saved_model_on_the_saved_test_split(run, data_dir):
    out, _ = run
    metrics = json.loads((out / "metrics.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert set(metrics) == {"model", "test", "validation", "test_accuracy", "auroc", "auprc", "confusion_matrix",
                            "history", "best_epoch", "attempts", "seconds", "warnings", "data", "settings"}
    assert metrics["model"] == "cnn" and metrics["validation"] is None  # the tutorial protocol: no validation
    assert len(metrics["history"]) == 2
    assert set(metrics["history"][0]) == {"epoch", "loss", "train_accuracy", "valid_loss", "valid_accuracy",
                                          "valid_auroc", "seconds", "best"}
    assert metrics["settings"]["epochs"] == 2 and metrics["settings"]["seed"] == 3
    assert metrics["data"]["source"] == "primer" and metrics["data"]["split"]["n_test"] == N // 4

    model = load_model(out / "model.npz")
    test_seqs = read_sequences(out / "test_sequences.txt")
    test_labels = read_labels(out / "test_labels.txt")
    assert len(test_seqs) == N // 4
    # the split is a subset of the input, labels kept
    all_seqs = [s.upper() for s in read_sequences(data_dir / "seqs.txt")]
    all_labels = read_labels(data_dir / "labels.txt")
    by_seq = dict(zip(all_seqs, all_labels))
    assert all(by_seq[s] == y for s, y in zip(test_seqs, test_labels))

    result = evaluate(model, one_hot(test_seqs), test_labels)
    assert metrics["test_accuracy"] == result["accuracy"]
    assert metrics["confusion_matrix"] == result["confusion_matrix"] == metrics["test"]["confusion_matrix"]
    assert metrics["auroc"] == pytest.approx(result["auroc"], rel=1e-12)
    assert metrics["auprc"] == pytest.approx(result["auprc"], rel=1e-12)


def test_fasta_input_and_attention_model(data_dir, tmp_path):
    out = tmp_path / "att"
    status, stdout, stderr = call(["train", "--pos-fasta", data_dir / "pos.fa", "--neg-fasta",
                                   data_dir / "neg.fa", "--model", "attention", "--epochs", 1,
                                   "--test-fraction", 0.5, "--quiet", "--out", out])
    assert status == 0, stderr
    assert not any(line.startswith("epoch ") for line in stdout.splitlines())  # --quiet
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "attention" and metrics["data"]["source"] == "fasta"
    assert metrics["data"]["split"]["n_test"] == N // 2
    assert load_model(out / "model.npz").name == "attention"


def test_default_data_and_default_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, stdout, stderr = call(["train", "--epochs", 1, "--quiet"])
    assert status == 0, stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("cnn-") and stdout.splitlines()[-1] == f"run folder: runs/{folder.name}"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["data"]["source"] == "generated" and metrics["model"] == "cnn"
    assert (metrics["data"]["n_examples"], metrics["data"]["lengths"]["max"]) == (2000, 50)
    assert metrics["data"]["split"]["n_test"] == 500


def test_force_replaces_only_a_complete_run(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("old run")
    (out / ".motifnet-output").write_text("{}")  # an earlier run of motifnet's
    base = ["train", "--sequences", data_dir / "seqs.txt", "--labels", data_dir / "labels.txt",
            "--epochs", 1, "--quiet", "--out", out]

    status, _, stderr = call(base)  # without --force: refused before any work
    assert status == 2 and len(stderr.splitlines()) == 1 and "--force" in stderr
    assert sorted(p.name for p in out.iterdir()) == [".motifnet-output", "keep.txt"]

    import motifnet.plots

    def broken_plot(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(motifnet.plots, "plot_confusion_matrix", broken_plot)
    status, _, stderr = call(base + ["--force"])  # fails while writing: old run untouched
    assert status == 2 and len(stderr.splitlines()) == 1 and "No space left" in stderr
    assert sorted(p.name for p in out.iterdir()) == [".motifnet-output", "keep.txt"]
    assert leftovers(tmp_path) == []

    monkeypatch.undo()
    status, _, stderr = call(base + ["--force"])
    assert status == 0, stderr
    assert {p.name for p in out.iterdir()} == RUN_FILES
    assert leftovers(tmp_path) == []


def test_empty_existing_out_is_used(data_dir, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    status, _, stderr = call(["train", "--sequences", data_dir / "seqs.txt", "--labels",
                              data_dir / "labels.txt", "--epochs", 1, "--quiet", "--out", out])
    assert status == 0, stderr
    assert {p.name for p in out.iterdir()} == RUN_FILES


def test_real_subprocess(data_dir, tmp_path):
    out = tmp_path / "sub"
    proc = subprocess.run(
        [sys.executable, "-m", "motifnet", "train", "--sequences", str(data_dir / "seqs.txt"),
         "--labels", str(data_dir / "labels.txt"), "--epochs", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == f"run folder: {out}"
    assert {p.name for p in out.iterdir()} == RUN_FILES
    proc = subprocess.run([sys.executable, "-m", "motifnet", "train", "--epochs", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "motifnet train: error: --epochs must be >= 1, got 0\n"


@pytest.mark.parametrize("args, message", [
    (["--epochs", 0], "--epochs must be >= 1"),
    (["--batch-size", 0], "--batch-size must be >= 1"),
    (["--lr", -1], "--lr must be a positive number"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--test-fraction", 1.5], "--test-fraction must be a fraction"),
    (["--seed", -1], "--seed must be >= 0"),
    (["--epochs", "x"], "invalid int value"),
    (["--model", "rnn"], "invalid choice"),
    (["--bogus"], "unrecognized arguments"),
    (["--sequences", "{d}/seqs.txt"], "--sequences needs --labels"),
    (["--labels", "{d}/labels.txt"], "--labels needs --sequences"),
    (["--pos-fasta", "{d}/pos.fa"], "--pos-fasta gives only positives (one class)"),
    (["--sequences", "{d}/seqs.txt", "--labels", "{d}/labels.txt", "--neg-fasta", "{d}/neg.fa"],
     "give one kind of input, not both --sequences/--labels and --pos-fasta/--neg-fasta"),
    (["--pos-fasta", "{d}/pos.fa", "--neg-fasta", "{d}/pos.fa"], "are the same file"),
    (["--pos-fasta", "{d}/pos.fa", "--neg-fasta", "{d}/neg.fa", "--model", "cnn", "--lr", 1e30],
     "the training loss became"),
    (["--sequences", "{d}/missing.txt", "--labels", "{d}/labels.txt"], "missing.txt: no such file"),
    (["--sequences", "{d}/seqs.txt", "--labels", "{d}/short_labels.txt"], "has 160 sequences but"),
    (["--sequences", "{d}/labels.txt", "--labels", "{d}/labels.txt"],
     "labels.txt line 1: unexpected character '0'"),
    (["--sequences", "{d}/short.txt", "--labels", "{d}/short_labels.txt"],
     "short.txt: sequences of length 10 do not fit the cnn model"),
    (["--sequences", "{d}/seqs.txt", "--labels", "{d}/ones.txt"], "every label is 1"),
    (["--sequences", "{d}/alln.txt", "--labels", "{d}/short_labels.txt"], "no informative base"),
    (["--sequences", "{d}/seqs.txt", "--labels", "{d}/labels.txt", "--test-fraction", 0.001],
     None),  # valid: one test sequence; a control that the rows above fail for their reason
])
def test_train_errors(data_dir, tmp_path, args, message):
    out = tmp_path / "out"
    # later flags win, so a case's own --epochs overrides the 1 here
    argv = ["train", "--epochs", 1, "--out", out, *[str(a).format(d=data_dir) for a in args]]
    status, stdout, stderr = call(argv)
    if message is None:
        assert status == 0, stderr
        return
    assert status == 2
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("motifnet")
    assert any(part in stderr for part in message.split("|")), stderr
    assert not out.exists() and leftovers(tmp_path) == []


def test_out_is_a_file_or_the_current_folder(tmp_path, monkeypatch):
    out = tmp_path / "file"
    out.write_text("x")
    status, _, stderr = call(["train", "--epochs", 1, "--out", out])
    assert status == 2 and "is not a folder" in stderr and out.read_text() == "x"
    status, _, stderr = call(["train", "--epochs", 1, "--out", out / "sub" / "run"])
    assert status == 2 and "not a folder" in stderr and out.read_text() == "x"
    monkeypatch.chdir(tmp_path)
    for where in (".", ".."):
        status, _, stderr = call(["train", "--epochs", 1, "--out", where, "--force"])
        assert status == 2 and "contains the current folder" in stderr
    assert out.read_text() == "x"


# --------------------------------------------------------------------------- predict

def parse_tsv(text):
    lines = text.splitlines()
    assert lines[0] == "id\tlength\tprobability"
    rows = [line.split("\t") for line in lines[1:]]
    return [r[0] for r in rows], np.array([float(r[2]) for r in rows])


def test_predict_sequences_to_stdout(run):
    out, _ = run
    status, stdout, stderr = call(["predict", "--model", out / "model.npz", "--sequences",
                                   out / "test_sequences.txt"])
    assert status == 0, stderr
    ids, probs = parse_tsv(stdout)
    seqs = read_sequences(out / "test_sequences.txt")
    assert ids == [str(i) for i in range(1, len(seqs) + 1)]
    expected = predict_proba(load_model(out / "model.npz"), one_hot(seqs))
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-9)
    assert 0 < probs.min() and probs.max() < 1 and probs.std() > 0


def test_predict_fasta_to_file_with_run_folder(run, data_dir, tmp_path):
    out, _ = run
    table = tmp_path / "sub" / "pred.tsv"
    status, stdout, stderr = call(["predict", "--model", out, "--fasta", data_dir / "neg.fa",
                                   "--out", table])
    assert status == 0 and stdout == "", stderr
    ids, probs = parse_tsv(table.read_text())
    from motifnet.data import read_fasta

    records = read_fasta(data_dir / "neg.fa")
    assert ids == [rec_id for rec_id, _ in records]
    expected = predict_proba(load_model(out / "model.npz"), one_hot([s for _, s in records]))
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-9)
    assert leftovers(table.parent) == []


@pytest.mark.parametrize("args, message", [
    (["--model", "{r}/nope.npz", "--sequences", "{r}/test_sequences.txt"], "nope.npz"),
    (["--model", "{r}/metrics.json", "--sequences", "{r}/test_sequences.txt"],
     "metrics.json: not a motifnet model file"),
    (["--model", "{r}/model.npz", "--sequences", "{d}/short.txt"],
     "short.txt line 1: 10 bases, but the cnn model"),
    (["--model", "{r}/model.npz", "--sequences", "{d}/labels.txt"], "labels.txt line"),
    (["--model", "{r}/model.npz", "--fasta", "{d}/seqs.txt"], "seqs.txt line 1: sequence before"),
    (["--model", "{r}/model.npz"], "one of the arguments --sequences --fasta is required"),
    (["--model", "{r}/model.npz", "--sequences", "{d}/seqs.txt", "--fasta", "{d}/pos.fa"],
     "not allowed with argument"),
    (["--model", "{r}/model.npz", "--sequences", "{d}/seqs.txt", "--out", "{d}"], "is a folder"),
])
def test_predict_errors(run, data_dir, tmp_path, args, message):
    out, _ = run
    table = tmp_path / "pred.tsv"
    argv = ["predict", *[a.format(r=out, d=data_dir) for a in args]]
    if "--out" not in argv:
        argv += ["--out", table]
    status, stdout, stderr = call(argv)
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1, stderr
    assert message in stderr, stderr
    assert not table.exists() and leftovers(tmp_path) == []
