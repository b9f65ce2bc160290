"""``motifnet interpret`` and ``motifnet compare`` end to end, and their one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motifnet.cli import main

MOTIF = "CGACCGAACTCC"


@pytest.fixture(scope="module")
def attention_run(tmp_path_factory):
    """A small run folder as 'motifnet train' writes it: an attention model trained briefly."""
    from motifnet.data import generate_data, one_hot
    from motifnet.model_io import save_model
    from motifnet.models import build_model
    from motifnet.train import fit

    seqs, labels = generate_data(400, 50, MOTIF, seed=1)
    model = build_model("attention", seq_len=50, seed=0)
    fit(model, one_hot(seqs[:300]), labels[:300], epochs=3, batch_size=32, seed=0)
    run = tmp_path_factory.mktemp("run")
    save_model(model, run / "model.npz")
    (run / "test_sequences.txt").write_text("\n".join(seqs[300:]) + "\n")
    (run / "test_labels.txt").write_text("\n".join(str(int(v)) for v in labels[300:]) + "\n")
    return run


def test_interpret_writes_figures_and_motif_json(attention_run, tmp_path, capsys):
    out = tmp_path / "interp"
    status = main(["interpret", str(attention_run), "--motif", MOTIF.lower(), "--max-sequences", "30",
                   "--n-references", "3", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    result = json.loads((out / "report.json").read_text())
    assert result["model"] == "attention"
    assert result["known_motif"] == MOTIF
    assert result["n_positive_sequences"] == 30 and result["motif_found_in"] == 30
    assert {"saliency", "attention", "ism"} <= set(result["methods"])
    for name, rec in result["methods"].items():
        assert {"consensus", "pwm", "information_content", "n_windows", "match", "logo"} <= set(rec), name
        assert len(rec["consensus"]) == len(rec["information_content"])
        assert set(rec["consensus"]) <= set("ACGT")
        pwm = np.array([rec["pwm"][b] for b in "ACGT"])
        assert np.allclose(pwm.sum(axis=0), 1.0, atol=1e-5)
        assert all(0 <= v <= 2 for v in rec["information_content"])
        assert 0 <= rec["match"]["matches"] <= 12
        assert (out / rec["logo"]).is_file()
    stats = result["attention_motif_vs_background"]
    assert stats["n_sequences"] == 30 and stats["motif_mean"] > 0 and stats["background_mean"] > 0
    expected = {"filter_weights.png", "filter_weight_logos.png", "filter_activation_logos.png", "saliency.png",
                "attention.png", "attention_motif_vs_background.png", "ism_examples.png", "ism_logo.png",
                "motifs.png", "deeplift.png", "motifs.meme", "matches.tsv", "report.json", "report.md"}
    assert expected <= set(result["figures"])
    for name in result["figures"]:
        path = out / name
        assert path.is_file() and path.stat().st_size > 100, name
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "DeepLIFT" in captured.err  # progress goes to stderr
    assert "saliency" in captured.out and "attention" in captured.out and "DeepLIFT convergence" in captured.out
    from motifnet.motif.io import read_meme

    assert {m.id for m in read_meme(out / "motifs.meme")} >= {"motifnet-saliency", "motifnet-ism"}
    # a re-run into the same folder is refused without --force, and replaces it whole with it
    assert main(["interpret", str(attention_run), "--max-sequences", "10", "--n-references", "2", "--out",
                 str(out)]) == 2
    assert main(["interpret", str(attention_run), "--max-sequences", "10", "--n-references", "2", "--out",
                 str(out), "--force", "--quiet"]) == 0
    assert json.loads((out / "report.json").read_text())["n_positive_sequences"] == 10


def one_line_error(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"motifnet {argv[0]}: error:"), err
    for f in fragments:
        assert f in err, err
    return err


def test_interpret_errors_are_one_line(attention_run, tmp_path, capsys):
    one_line_error(capsys, ["interpret", str(tmp_path / "nope")], "run folder", "not found")
    one_line_error(capsys, ["interpret", str(tmp_path)], "model.npz not found")
    one_line_error(capsys, ["interpret", str(attention_run), "--motif", "CGAXCG"], "character 4 is 'X'")
    one_line_error(capsys, ["interpret", str(attention_run), "--motif", "A" * 60], "longer than the sequences")
    one_line_error(capsys, ["interpret", str(attention_run), "--sequences", "s.txt"], "--labels")
    one_line_error(capsys, ["interpret", str(attention_run), "--max-sequences", "0"], "--max-sequences")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(capsys, ["interpret", str(attention_run), "--out", str(blocker / "sub")], "cannot create")
    bad = tmp_path / "bad.fa"
    bad.write_text(">x\nACGTZ\n")
    one_line_error(capsys, ["interpret", str(attention_run), "--pos-fasta", str(bad)], str(bad), "line 2")
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "model.npz").write_bytes((attention_run / "model.npz").read_bytes())
    one_line_error(capsys, ["interpret", str(tmp_path / "short")], "test_sequences.txt not found")


def test_compare_one_epoch(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--epochs", "2", "--seeds", "0", "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "compare.json").read_text())
    assert set(result["summary"]) == {"cnn", "attention"}
    for name in ("cnn", "attention"):
        (run,) = result["runs"][name]
        assert len(run["test_accuracy"]) == 2 and all(0 <= a <= 1 for a in run["test_accuracy"])
        assert run["epochs_to_95"] is None or run["epochs_to_95"] in (1, 2)
    assert result["data"]["n_train"] == 1600 and result["data"]["n_test"] == 400
    for name in ("accuracy.png", "epochs_to_95.png", "saliency.png"):
        assert (out / name).stat().st_size > 1000
    one_line_error(capsys, ["compare", "--epochs", "0"], "--epochs")


def test_compare_epochs_to_target():
    from motifnet.experiment import epochs_to, median_or_none

    assert epochs_to([0.5, 0.94, 0.95, 0.99]) == 3
    assert epochs_to([0.5, 0.9]) is None
    assert median_or_none([3, 5, None]) == 5
    assert median_or_none([3, None, None]) is None


def test_interpret_into_an_unwritable_folder_is_one_line(attention_run, tmp_path, capsys):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # running as root: permissions do not stop us; use a file instead
            blocker = tmp_path / "blocker"
            blocker.write_text("x")
            target = blocker / "out"
        else:
            target = locked / "out"
        one_line_error(capsys, ["interpret", str(attention_run), "--out", str(target)], "cannot create")
    finally:
        os.chmod(locked, 0o700)
