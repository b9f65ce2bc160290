"""kernels/_jit.py's ThreadsGate: a threaded compilation runs only once it is in place
(compiled in the process or in Numba's cache) or paid for by the serial time of the calls
that wanted it, summed over runs in a note beside the cache.

The rest of the suite runs with MOTIFNET_THREADS_PAYBACK_S=0 (tests/conftest.py): every
threaded compilation at its first call, as before the gate.  These tests set a payback.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
import pytest

from motifnet import compiled_step
from motifnet.cache_notes import note_path
from motifnet.kernels import _jit, relu
from motifnet.models import GenomicsCNN

REPO = Path(__file__).resolve().parent.parent


def _fake_dispatcher(tmp_path, name="kernel"):
    fn = SimpleNamespace(__module__="tests.fake", __qualname__=f"{name}.<{_jit.SOURCES_STAMP}>")
    cache = SimpleNamespace(_cache_file=SimpleNamespace(_index_path=str(tmp_path / f"{name}.nbi")))
    return SimpleNamespace(py_func=fn, signatures=[], _cache=cache)


@pytest.fixture
def gates(monkeypatch, tmp_path):
    # gates made here are not the process's: nothing of theirs is written at exit
    monkeypatch.setattr(_jit, "_gates", [])
    monkeypatch.setattr(_jit.ThreadsGate, "_tally", None)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MOTIFNET_THREADS_PAYBACK_S", "0.001")  # 1e6 ns
    return tmp_path


def test_the_serial_time_that_wanted_threads_opens_the_gate_at_the_payback(gates):
    gate = _jit.ThreadsGate(_fake_dispatcher(gates))
    assert not gate.ready()
    gate.add(600_000)
    assert not gate.ready() and gate.tally_ns() == 600_000
    gate.add(400_000)  # 1e6 ns: paid for
    assert gate.ready()


def test_what_opens_it_at_once(gates, monkeypatch):
    compiled = _fake_dispatcher(gates, "compiled")
    compiled.signatures = ["(float32[::1],)"]  # compiled in this process
    cached = _fake_dispatcher(gates, "cached")
    Path(cached._cache._cache_file._index_path).write_text("")  # in Numba's cache
    assert _jit.ThreadsGate(compiled).ready() and _jit.ThreadsGate(cached).ready()
    assert not _jit.ThreadsGate(_fake_dispatcher(gates, "neither")).ready()
    monkeypatch.setenv("MOTIFNET_THREADS_PAYBACK_S", "0")  # no payback asked: as before the gate
    assert _jit.ThreadsGate(_fake_dispatcher(gates, "neither")).ready()
    monkeypatch.setenv("MOTIFNET_THREADS_PAYBACK_S", "0.001")
    monkeypatch.setattr(_jit, "CACHE", False)  # every run would compile it again: nothing to save
    assert _jit.ThreadsGate(_fake_dispatcher(gates, "neither")).ready()


def _key(name):
    return f"tests.fake.{name}.<{_jit.SOURCES_STAMP}>"


def test_the_tally_is_summed_over_runs_in_a_note(gates):
    note_file = Path(note_path(_jit.ThreadsGate.NOTE))
    assert str(note_file).startswith(str(gates / "cache"))
    note_file.parent.mkdir(parents=True)
    note_file.write_text(json.dumps({"tests.fake.kernel.<0badf00d>": 9e9}))  # a kernel edited since
    first = _jit.ThreadsGate(_fake_dispatcher(gates))
    first.add(300_000)
    with _jit.ThreadsGate(_fake_dispatcher(gates, "other")).waiting():
        pass  # a timed call: a few hundred ns
    _jit._write_tally()
    note = json.loads(note_file.read_text())
    assert note[_key("kernel")] == 300_000 and 0 < note[_key("other")] < 1e6
    assert "tests.fake.kernel.<0badf00d>" not in note  # dropped: its sources are gone

    # the next process (its tally read afresh) starts from the note, and adds to it
    _jit.ThreadsGate._tally, _jit._gates[:] = None, []
    second = _jit.ThreadsGate(_fake_dispatcher(gates))
    assert second.tally_ns() == 300_000 and not second.ready()
    second.add(700_000)
    assert second.ready()
    _jit._write_tally()
    assert json.loads(note_file.read_text())[_key("kernel")] == 1_000_000


def test_a_recording_adds_nothing(gates, monkeypatch):
    gate = _jit.ThreadsGate(_fake_dispatcher(gates))
    monkeypatch.setattr(_jit, "RECORDING", [True])
    gate.add(5_000_000)
    assert gate.tally_ns() == 0 and not gate.ready()


class _Closed:
    """A gate that stays closed and counts the calls it timed."""

    def __init__(self):
        self.timed = 0

    def ready(self):
        return False

    @contextlib.contextmanager
    def waiting(self):
        self.timed += 1
        yield

    def timing(self, fn):
        def timed(*args):
            with self.waiting():
                return fn(*args)
        return timed


def test_a_kernel_runs_serially_and_timed_while_its_gate_is_closed(monkeypatch):
    # SerialOrParallel above its threshold on 2 threads: the serial compilation, timed for
    # the payback, and the same values (ReLU's forward is element-wise)
    x = np.random.default_rng(0).normal(size=(64, 1000)).astype(np.float32)
    monkeypatch.setenv("MOTIFNET_PARALLEL_MIN_NS", "1")
    monkeypatch.setattr(_jit, "_min_ns", [None])
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    closed = _Closed()
    monkeypatch.setattr(relu._forward, "gate", closed)
    kernel, n_threads = relu._forward.choose(x.size)
    assert n_threads == 1 and closed.timed == 0
    y = np.empty_like(x)
    kernel(x.reshape(-1), y.reshape(-1))
    assert closed.timed == 1 and np.array_equal(y, np.maximum(x, 0))
    # open: the threaded compilation, once the kernel's schedule has its serial speed
    monkeypatch.setattr(relu._forward, "gate", SimpleNamespace(ready=lambda: True))
    schedule = _jit.ProbeSchedule()
    schedule.serial_rate = 1.0
    monkeypatch.setattr(relu._forward, "_schedule", schedule)
    kernel, n_threads = relu._forward.choose(x.size)
    assert n_threads == 2 and kernel is relu._forward.parallel and closed.timed == 1


@pytest.mark.parametrize("op", ["conv1d", "attention"])
def test_the_dense_ops_run_serially_and_timed_while_their_gate_is_closed(op, monkeypatch):
    # conv1d and attention decide threads themselves (use_parallel): a closed gate means
    # their serial loops, timed, and the reference's values
    from motifnet.kernels import attention, conv1d

    monkeypatch.setattr(_jit, "PARALLEL_MIN_WORK", 1)
    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    rng = np.random.default_rng(2)
    closed = _Closed()
    module = conv1d if op == "conv1d" else attention
    monkeypatch.setattr(module, "_forward_threads", closed)
    monkeypatch.setattr(module, "_forward_parallel", None)  # must not be called
    if op == "conv1d":
        x, w, b = rng.normal(size=(40, 4, 300)), rng.normal(size=(6, 4, 9)), rng.normal(size=6)
        got, want = conv1d.conv1d_forward(x, w, b), conv1d.conv1d_forward_reference(x, w, b)
    else:
        q, k = rng.normal(size=(5, 4)), rng.normal(size=(5, 4, 30))
        W, b, v = rng.normal(size=(4, 8)), rng.normal(size=4), rng.normal(size=4)
        got, want = attention.attention_forward(q, k, W, b, v)[0], attention.attention_forward_reference(q, k, W, b, v)[0]
    assert closed.timed == 1
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_the_compiled_step_runs_serially_and_timed_while_its_gate_is_closed(monkeypatch):
    # two threads, the threaded step not in place: the serial step with one part (the
    # readable step's arithmetic: tests/test_compiled_step.py), its time to the tally
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, size=(16, 200)).astype(np.int8)
    targets = (rng.random(16) < 0.5).astype(np.float32)
    model = GenomicsCNN(seq_len=200, seed=2)
    step = compiled_step.CNNTrainingStep(model, 16)
    runs = []
    closed = _Closed()
    monkeypatch.setattr(compiled_step, "_threads_of", lambda P: closed)
    monkeypatch.setattr(compiled_step.numba, "get_num_threads", lambda: 2)
    run = step.run
    monkeypatch.setattr(step, "run", lambda *a, **k: runs.append(a[2:4]) or run(*a, **k))
    loss, _ = step(codes, targets)
    assert runs == [(1, False)] and closed.timed == 1 and step.threads() == 1 and np.isfinite(loss)
    grads = model.flat_grads.copy()
    step.run(codes, targets, 1, False)  # the serial compilation, one part, called directly
    assert np.array_equal(model.flat_grads, grads)


def _python(code, env):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=600, cwd=REPO)


def test_across_processes_a_real_kernel_waits_for_its_payback_then_compiles_threaded(tmp_path):
    # relu's forward above its threshold on 2 threads, with an empty cache of its own:
    # a run whose calls do not pay leaves the threaded compilation out and notes their time;
    # a run whose payback the note already covers compiles and runs it at once; and a run
    # after that finds it in the cache
    code = """
    import json, sys
    import numpy as np
    from motifnet.cache_notes import note_path
    from motifnet.kernels import relu
    x = np.random.default_rng(0).normal(size=200_000).astype(np.float32)
    y = np.empty_like(x)
    for _ in range(3):
        kernel, threads = relu._forward.choose(x.size)
        kernel(x, y)
    assert np.array_equal(y, np.maximum(x, 0))
    print(json.dumps({"threads": threads, "threaded": len(relu._forward.parallel.signatures),
                      "gate": relu._forward.gate.name}))
    """
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_NUM_THREADS": "2", "MOTIFNET_PARALLEL_MIN_NS": "1"}

    def run(payback):
        proc = _python(code, dict(env, MOTIFNET_THREADS_PAYBACK_S=payback))
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first = run("1000")
    assert first["threads"] == 1 and first["threaded"] == 0
    note = tmp_path / Path(note_path(_jit.ThreadsGate.NOTE)).name
    waited = json.loads(note.read_text())[first["gate"]]
    assert waited > 0
    second = run(str(waited / 2 / 1e9))  # paid for by the first run's calls
    assert second["threads"] == 2 and second["threaded"] == 1
    third = run("1000")  # no payback left to reach, but compiled: in the cache
    assert third["threads"] == 2 and third["threaded"] == 1
    assert json.loads(note.read_text())[first["gate"]] == waited  # the runs on threads added nothing


def test_the_command_line_says_when_kernels_waited_on_one_thread(monkeypatch, capsys):
    # why a second core stayed idle: one line on stderr after the command, from 1 s waited
    from motifnet import cli

    gate = SimpleNamespace(added_ns=2.5e9)
    monkeypatch.setattr(_jit, "_gates", [gate])
    monkeypatch.setenv("MOTIFNET_THREADS_PAYBACK_S", "5")
    monkeypatch.setitem(cli._announce_compilation, "on", True)  # as the console script
    assert cli.main(["explain", "relu"]) == 0
    err = capsys.readouterr().err
    assert "2.5 s of kernel calls ran on one thread" in err and "add up to 5 s" in err, err
    gate.added_ns = 0.4e9
    assert cli.main(["explain", "relu"]) == 0
    assert "one thread" not in capsys.readouterr().err


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"tests.fake.kernel": "many"}', ""])
def test_a_damaged_note_counts_as_none(gates, text):
    note_file = Path(note_path(_jit.ThreadsGate.NOTE))
    note_file.parent.mkdir(parents=True)
    note_file.write_text(text)
    gate = _jit.ThreadsGate(_fake_dispatcher(gates))
    assert gate.tally_ns() == 0 and not gate.ready()
    gate.add(200)
    _jit._write_tally()  # replaced by a good one
    assert json.loads(note_file.read_text()) == {_key("kernel"): 200}
