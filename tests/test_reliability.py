"""Faults a user meets: interrupts, killed runs, full or closed outputs, folders and files that
are not motifnet's.  Each ends in one line and a defined exit status, and leaves nothing
half-written behind.  These tests run real processes (signals and file descriptors are
process-level), on the generated demo data, so they need nothing beside the repository.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

MOTIFNET = [sys.executable, "-m", "motifnet"]


def without_compile_notice(stderr: str) -> str:
    """stderr without motifnet's one-line notice that a first run compiles kernels (it appears
    when the Numba cache is empty, e.g. in CI on a fresh checkout)."""
    from motifnet.compile_notice import MESSAGE

    return "".join(line for line in stderr.splitlines(keepends=True) if line.rstrip("\n") != MESSAGE)


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".motifnet-output")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    proc = subprocess.run(MOTIFNET + ["train", "--epochs", "2", "--quiet", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("delay", [1.0, 1.6, 2.5])
def test_an_interrupted_train_says_so_and_leaves_nothing(tmp_path, signum, status, delay):
    out = tmp_path / "run"
    proc = subprocess.Popen(MOTIFNET + ["train", "--epochs", "400", "--quiet", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)  # in the middle of the epochs (inside the kernels most of the time)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    assert without_compile_notice(stderr) == "motifnet train: interrupted\n", stderr  # one line, no traceback
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no folder, no temporary debris


def test_interrupt_while_the_run_folder_is_written(tmp_path, monkeypatch):
    # a KeyboardInterrupt from inside the writing (the last moment of a run) removes the temporary folder
    from motifnet import cli, plots

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(plots, "plot_roc_pr", interrupted)
    out = tmp_path / "run"
    assert cli.main(["train", "--epochs", "1", "--quiet", "--out", str(out)]) == 130
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_a_killed_run_are_cleaned(tmp_path, run_dir):
    dead = tmp_path / ".run.tmp-999999999-abcdef"  # no process has that pid
    dead.mkdir()
    (dead / "model.npz").write_text("half")
    alive = tmp_path / f".run.tmp-{os.getpid()}-abcdef"  # a live process's: left alone
    alive.mkdir()
    other = tmp_path / ".other.tmp-999999999-abcdef"  # another output's: left alone
    other.mkdir()
    proc = subprocess.run(MOTIFNET + ["train", "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not dead.exists() and alive.exists() and other.exists()


def test_force_never_replaces_a_folder_motifnet_did_not_write(tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    proc = subprocess.run(MOTIFNET + ["train", "--epochs", "1", "--out", str(mine), "--force"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and without_compile_notice(proc.stderr).count("\n") == 1
    assert "is not a folder motifnet wrote" in proc.stderr
    assert (mine / "chapter1.tex").read_text() == "precious" and hidden(tmp_path) == []


def test_predict_never_overwrites_a_file_unless_asked(tmp_path, run_dir):
    table = tmp_path / "notes.tsv"
    table.write_text("mine")
    args = MOTIFNET + ["predict", "--model", str(run_dir), "--sequences", str(run_dir / "test_sequences.txt"),
                       "--out", str(table)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "exists" in proc.stderr and table.read_text() == "mine"
    proc = subprocess.run(args + ["--force"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and table.read_text().startswith("id\tlength\tprobability\n")
    assert hidden(tmp_path) == []


def _predict(run_dir, **popen):
    return subprocess.run(MOTIFNET + ["predict", "--model", str(run_dir), "--sequences",
                                      str(run_dir / "test_sequences.txt")],
                          stderr=subprocess.PIPE, text=True, timeout=300, **popen)


def test_a_full_standard_output_is_one_line(run_dir):
    with open("/dev/full", "w") as full:
        proc = _predict(run_dir, stdout=full)
    assert proc.returncode == 2, proc.stderr
    assert without_compile_notice(proc.stderr) == \
        "motifnet predict: error: cannot write to standard output: No space left on device\n"


def test_a_closed_standard_output_is_one_line(run_dir):
    proc = _predict(run_dir, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2, proc.stderr
    assert without_compile_notice(proc.stderr).count("\n") == 1 and "standard output is closed" in proc.stderr


def test_a_closed_pipe_is_not_an_error(run_dir):
    head = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proc = _predict(run_dir, stdout=head.stdin)
    head.stdin.close()
    assert head.stdout.read().decode().startswith("id\t")
    head.wait()
    assert proc.returncode == 0 and without_compile_notice(proc.stderr) == ""


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_devices_and_fifos_are_refused(tmp_path, run_dir, source):
    if source == "fifo":
        source = str(tmp_path / "fifo")
        os.mkfifo(source)
    proc = subprocess.run(MOTIFNET + ["predict", "--model", str(run_dir), "--fasta", source],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and without_compile_notice(proc.stderr).count("\n") == 1
    assert "not a regular file" in proc.stderr, proc.stderr
