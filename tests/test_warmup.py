"""motifnet.warmup: a first run's kernels compiled by two processes.

What must hold: the kernels found are every kernel a real training run calls first, with
the same argument types (else the real run compiles again, alone), and finding them
compiles nothing; a kernel claimed by the other process is not compiled here; the helper
compiles exactly the kernels nobody claimed, into the shared cache; a model being trained
is never touched; an interrupt stops both processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import numpy as np
import pytest

from motifnet import warmup
from motifnet.models import GenomicsCNN

REPO = Path(__file__).resolve().parent.parent


def _run_python(code, env=None, stdin=None, timeout=600):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, input=stdin, timeout=timeout, cwd=REPO)


def test_a_claim_is_taken_once_and_remembered(tmp_path):
    first, second = warmup._Claims(str(tmp_path)), warmup._Claims(str(tmp_path))
    assert first.claim("k(int64, float64)") is True
    assert second.claim("k(int64, float64)") is False   # the other process has it
    assert second.claim("k(int64, int64)") is True      # other argument types: another kernel
    assert first.claim("k(int64, float64)") is True     # remembered, not re-claimed
    assert len(list(tmp_path.iterdir())) == 2


# after `found = warmup.kernels_of(...)` in a fresh process: the kernels found compiled (or
# loaded), then every first call of a kernel with new argument types noted in `missed`
COMPILE_FOUND_THEN_NOTE_MISSES = """
nothing_compiled = all(len(d.signatures) == 0 for d, _ in found)
class All:
    def claim(self, key):
        return True
warmup.compile_kernels(found, All())

missed = []
original = Dispatcher._compile_for_args
def recording(self, *args, **kws):
    missed.append(f"{self.py_func.__qualname__}{tuple(self.typeof_pyval(a) for a in args)}")
    return original(self, *args, **kws)
Dispatcher._compile_for_args = recording
"""


def _coverage(code, env=None) -> dict:
    """Run a coverage script (a recording, its kernels compiled, then the real run with
    every later first call noted) in a fresh process: what it printed, once it has shown
    that finding the kernels compiled nothing and that the real run compiled nothing more."""
    proc = _run_python(code, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["nothing_compiled"]                   # finding them compiled nothing
    assert out["missed"] == [], f"not found: {out['missed']}"
    return out


COVERAGE = """
import json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from motifnet import warmup
from motifnet.models import MODELS
from motifnet.train import fit, evaluate

name = sys.argv[1]
rng = np.random.default_rng(0)
if name == "deepbind":
    model, L = MODELS[name](n_filters=8, kernel_size=9, hidden=8), 40
    lengths = rng.integers(20, L + 1, size=70)
elif name == "cnn_long":  # long enough for the compiled step (motifnet/compiled_step.py)
    model, L = MODELS["cnn"](seq_len=200), 200
    lengths = np.full(70, L)
else:
    model, L = MODELS[name](seq_len=50), 50
    lengths = np.full(70, L)
B = 32 if name == "cnn_long" else 16
codes = rng.integers(0, 4, size=(70, L)).astype(np.int8)
for i, n in enumerate(lengths):
    codes[i, n:] = -1
labels = rng.integers(0, 2, size=70)

found = warmup.kernels_of(warmup.spec_of(model, codes[:50], lengths[:50], B, 64))
""" + COMPILE_FOUND_THEN_NOTE_MISSES + """
fit(model, codes[:50], labels[:50], codes[50:], labels[50:], lengths_train=lengths[:50],
    lengths_valid=lengths[50:], epochs=2, batch_size=B)
evaluate(model, codes[50:], labels[50:], lengths[50:])
print(json.dumps({"found": [warmup._key(d, t) for d, t in found], "nothing_compiled": nothing_compiled,
                  "compiled_step": any("_step_loops" in warmup._key(d, t) for d, t in found),
                  "missed": missed}))
"""


@pytest.mark.parametrize("name", ["cnn", "attention", "deepbind", "cnn_long"])
def test_the_kernels_found_are_every_kernel_a_training_run_calls(name):
    # In a fresh process every kernel's first call with new argument types goes through
    # _compile_for_args (a cache load included): once the kernels found are compiled, a
    # real fit and an evaluation must find every kernel they call already there.
    out = _coverage(COVERAGE.replace("sys.argv[1]", repr(name)))
    assert len(out["found"]) >= 8, out["found"]      # the step really reached its kernels
    assert out["compiled_step"] == (name == "cnn_long")



@pytest.mark.parametrize("name", ["deepbind", "cnn_long"])
def test_threaded_compilations_not_paid_for_are_not_found_and_not_called(name, tmp_path):
    # every call above a threshold of 1 on two threads, but with an empty cache of its own
    # and a payback no run reaches (kernels/_jit.py, ThreadsGate): the recording finds the
    # serial compilations only, and the real run calls nothing more
    env = dict(_ALL_THREADED, NUMBA_CACHE_DIR=str(tmp_path), MOTIFNET_THREADS_PAYBACK_S="1000")
    out = _coverage(COVERAGE.replace("sys.argv[1]", repr(name)), env=env)
    assert len(out["found"]) >= 8 and not any(".<parallel>." in key for key in out["found"]), out["found"]
    assert out["compiled_step"] == (name == "cnn_long")


SCAN_COVERAGE = """
import json, sys, tempfile
from pathlib import Path
import numba
import numpy as np
from numba.core.dispatcher import Dispatcher
from motifnet import warmup
from motifnet.models import DeepBind
from motifnet.scan import Calibration, Scanner, calibrate_threshold, scan_fasta_to_folder

workers = int(sys.argv[1])
numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
model = DeepBind(n_filters=6, kernel_size=9, hidden=5, seed=0)
found = warmup.kernels_of(warmup.scan_spec_of(model, 120, 60))
""" + COMPILE_FOUND_THEN_NOTE_MISSES + """
rng = np.random.default_rng(0)
folder = Path(tempfile.mkdtemp())
seq = "".join("ACGT"[i] for i in rng.integers(0, 4, 3000))
(folder / "in.fa").write_text(">r1\\n" + seq[:2000] + "\\nNNNN" + seq[2000:] + "\\n")
background = [rng.integers(0, 4, 300).astype(np.int8) for _ in range(10)]
threshold = calibrate_threshold(model, background, window=120, step=60, total_bases=6000, workers=workers)
(folder / "out").mkdir()
scan_fasta_to_folder(model, folder / "in.fa", folder / "out", window=120, step=60, threshold=threshold,
                     chunk_size=700, workers=workers)
print(json.dumps({"found": [warmup._key(d, t) for d, t in found], "nothing_compiled": nothing_compiled,
                  "missed": missed}))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_the_kernels_found_for_a_scan_are_every_kernel_a_scan_calls(workers):
    # as above, for motifnet scan's recording step: its calibration and its scan, with one
    # scanning thread and with a pool of two, call no kernel it did not find
    out = _coverage(SCAN_COVERAGE.replace("sys.argv[1]", repr(str(workers))))
    assert len(out["found"]) >= 5, out["found"]  # table, shuffle, scan kernel, the head's layers
    found = " ".join(out["found"])
    assert "negatives._shuffle_runs" in found and "kernels.scan._forward_loops" in found

INTERPRET_COVERAGE = """
import json, sys, tempfile
import numba
import numpy as np
from numba.core.dispatcher import Dispatcher
from motifnet import warmup
from motifnet.interpret.report import background_count, interpret_model
from motifnet.models import MODELS

name = sys.argv[1]
rng = np.random.default_rng(0)
if name == "deepbind":  # any length: negatives of their own width, sequences padded with -1
    model, L, L_neg = MODELS[name](n_filters=6, kernel_size=9, hidden=5), 40, 36
else:
    model, L, L_neg = MODELS[name](seq_len=40, n_filters=6, kernel_size=9, hidden=5), 40, 40
codes, neg = rng.integers(0, 4, size=(30, L)).astype(np.int8), rng.integers(0, 4, size=(25, L_neg)).astype(np.int8)
lengths, neg_lengths = np.full(30, L), np.full(25, L_neg)
if name == "deepbind":
    lengths[::3] = 31
    codes[::3, 31:] = -1
found = warmup.kernels_of(warmup.interpret_spec_of(model, codes, (background_count(30, 25), L_neg), "shuffle", 3))
""" + COMPILE_FOUND_THEN_NOTE_MISSES + """
interpret_model(model, codes, lengths, tempfile.mkdtemp(), neg_codes=neg, neg_lengths=neg_lengths, n_references=3,
                figures=False)
print(json.dumps({"found": [warmup._key(d, t) for d, t in found], "nothing_compiled": nothing_compiled,
                  "missed": missed}))
"""


# every kernel threaded (and probed serially) above a threshold of 1, on two threads: the
# recording must find both compilations wherever the real run calls both
_ALL_THREADED = {"MOTIFNET_PARALLEL_MIN_WORK": "1", "MOTIFNET_PARALLEL_MIN_NS": "1", "NUMBA_NUM_THREADS": "2"}


@pytest.mark.parametrize("name, env", [("deepbind", _ALL_THREADED), ("cnn", {}), ("attention", {})])
def test_the_kernels_found_for_an_interpretation_are_every_kernel_it_calls(name, env):
    # as above, for motifnet interpret's recording step: DeepLIFT on positives and
    # negatives (of another width), the filters' activations, saliency, attention, ISM
    out = _coverage(INTERPRET_COVERAGE.replace("sys.argv[1]", repr(name)), env=env)
    found = " ".join(out["found"])
    assert "negatives._shuffle_runs" in found, out["found"]
    assert ("kernels.ism." in found) == (name != "attention")  # attention's ISM: batched forwards
    assert ".<parallel>." in found if env else ".<parallel>." not in found


PREDICT_COVERAGE = """
import json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from motifnet import warmup
from motifnet.models import MODELS
from motifnet.train import predict_proba

name = sys.argv[1]
rng = np.random.default_rng(0)
model = MODELS[name](**({} if name == "deepbind" else {"seq_len": 40}), n_filters=6, kernel_size=9, hidden=5)
codes, lengths = rng.integers(0, 4, size=(150, 40)).astype(np.int8), np.full(150, 40)
if name == "deepbind":
    lengths[::4] = 25
    codes[::4, 25:] = -1
found = warmup.kernels_of(warmup.predict_spec_of(model, codes))
""" + COMPILE_FOUND_THEN_NOTE_MISSES + """
predict_proba(model, codes, lengths)
print(json.dumps({"found": [warmup._key(d, t) for d, t in found], "nothing_compiled": nothing_compiled,
                  "missed": missed}))
"""


@pytest.mark.parametrize("name, env", [("deepbind", _ALL_THREADED), ("cnn", {})])
def test_the_kernels_found_for_a_prediction_are_every_kernel_it_calls(name, env):
    # as above, for motifnet predict's recording step: the forward passes over a batch
    # (150 sequences: two evaluation batches of 64 and one of 22)
    out = _coverage(PREDICT_COVERAGE.replace("sys.argv[1]", repr(name)), env=env)
    assert len(out["found"]) >= 3, out["found"]  # the convolution (fused with its pooling), ReLU, linear
    assert (".<parallel>." in " ".join(out["found"])) == bool(env)


COMPARE_COVERAGE = """
import json, tempfile
from numba.core.dispatcher import Dispatcher
from motifnet import experiment, warmup
from motifnet.cli import main
from motifnet.commands.compare import SALIENCY_EXAMPLES
from motifnet.constants import TUTORIAL_MODELS

class Capture:  # what motifnet compare asks its Warmup to compile
    def compile_for_specs(self, specs, log=None):
        self.specs = specs
capture = Capture()
seqs, codes, labels, train_idx, test_idx = experiment.comparison_data()
experiment._compile_ahead(TUTORIAL_MODELS, codes[train_idx], capture, SALIENCY_EXAMPLES)
found = warmup.kernels_of({"job": "steps", "specs": capture.specs})
""" + COMPILE_FOUND_THEN_NOTE_MISSES + """
status = main(["compare", "--epochs", "1", "--out", tempfile.mkdtemp() + "/out", "--quiet"])
print(json.dumps({"found": [warmup._key(d, t) for d, t in found], "nothing_compiled": nothing_compiled,
                  "missed": missed, "status": status}))
"""


def test_the_kernels_found_for_a_comparison_are_every_kernel_it_calls():
    # motifnet compare records both models' training steps and their saliency maps in one
    # job; the whole command (its own helper off) then calls nothing else
    out = _coverage(COMPARE_COVERAGE, env={"MOTIFNET_COMPILE_HELPER": "0"})
    found = " ".join(out["found"])
    assert out["status"] == 0
    assert "kernels.attention." in found and "kernels.conv1d._backward_blocks" in found, out["found"]  # saliency


GRADCHECK_COVERAGE = """
import json
from numba.core.dispatcher import Dispatcher
from motifnet import warmup
from motifnet.cli import main
from motifnet.gradcheck import cases

found = warmup.kernels_of(warmup.gradcheck_spec_of(list(cases()), 3, 2))
""" + COMPILE_FOUND_THEN_NOTE_MISSES + """
status = main(["gradcheck", "--seed", "3", "--trials", "2"])
print(json.dumps({"found": [warmup._key(d, t) for d, t in found], "nothing_compiled": nothing_compiled,
                  "missed": missed, "status": status}))
"""


def test_the_kernels_found_for_a_gradcheck_are_every_kernel_it_calls():
    # motifnet gradcheck's recording draws the same cases and runs each one's analytic
    # gradient and loss once; the whole check (its own helper off) then calls nothing else
    out = _coverage(GRADCHECK_COVERAGE, env={"MOTIFNET_COMPILE_HELPER": "0"})
    assert out["status"] == 0
    assert len(out["found"]) >= 20, out["found"]  # every op's forward and backward, in float64


def test_recording_notes_both_compilations_above_the_threshold_and_leaves_the_schedule_alone():
    # above the threshold a real run calls the serial compilation for its probes and the
    # threaded one otherwise: the recording notes both, and takes no turn of the schedule
    code = """
    import json
    import numpy as np
    from numba.core.dispatcher import Dispatcher
    from motifnet.kernels import _jit, relu
    from motifnet import warmup

    kernel = relu._forward_in_place
    noted = []
    original = Dispatcher._compile_for_args
    def record(self, *args, **kws):
        noted.append(self.py_func.__qualname__)
        return warmup._skip
    Dispatcher._compile_for_args = record
    x = np.zeros(10, np.float32)
    _jit.RECORDING[0] = True
    kernel(10**9, x)                   # above the threshold
    kernel(1, x)                       # below it
    _jit.RECORDING[0] = False
    Dispatcher._compile_for_args = original
    s = kernel._schedule
    print(json.dumps({"noted": noted, "calls": s.calls, "warm": sorted(s.warm)}))
    """
    proc = _run_python(code, env={"NUMBA_NUM_THREADS": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(n.startswith("_forward_in_place_loop.<") for n in out["noted"])
    assert [".<parallel>." in n for n in out["noted"]] == [False, True, False]  # serial, threaded; serial
    assert out["calls"] == 0 and out["warm"] == []


def _found_keys(spec):
    code = f"""
    import json
    from motifnet import warmup
    spec = json.loads({json.dumps(json.dumps(spec))})
    print(json.dumps([warmup._key(d, t) for d, t in warmup.kernels_of(spec)]))
    """
    proc = _run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cnn_spec():
    return warmup.spec_of(GenomicsCNN(seq_len=50), np.zeros((40, 50), np.int8), None, 16, 64)


def test_a_kernel_claimed_elsewhere_is_not_compiled_here(tmp_path):
    spec = _cnn_spec()
    claims = warmup._Claims(str(tmp_path))
    for key in _found_keys(spec):
        if ".relu." not in key:
            claims.claim(key)          # as if the other process had taken them
    code = f"""
    import json
    from motifnet import warmup
    from motifnet.kernels import conv1d_onehot, linear, relu
    spec = json.loads({json.dumps(json.dumps(spec))})
    warmup.compile_kernels(warmup.kernels_of(spec), warmup._Claims({str(tmp_path)!r}))
    print(json.dumps({{"relu": len(relu._backward_in_place.serial.signatures) + len(relu._forward_in_place.serial.signatures),
                      "others": len(conv1d_onehot._forward.serial.signatures) + len(linear._backward.serial.signatures)}}))
    """
    proc = _run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"relu": 2, "others": 0}


def test_the_helper_compiles_exactly_the_unclaimed_kernels_into_the_cache(tmp_path):
    # Every kernel but relu's is claimed beforehand (as if by the parent): the helper, on
    # an empty cache, must leave relu's kernels, and only those, in it.
    folder, cache = tmp_path / "claims", tmp_path / "cache"
    folder.mkdir()
    cache.mkdir()
    spec = _cnn_spec()
    claims = warmup._Claims(str(folder))
    keys = _found_keys(spec)
    for key in keys:
        if ".relu." not in key:
            claims.claim(key)
    assert len(keys) >= 8 and sum(claims.mine.values()) >= 6
    job = json.dumps({"folder": str(folder), "spec": spec}) + "\n"
    helper = subprocess.run([sys.executable, "-m", "motifnet.warmup"], input=job, capture_output=True, text=True,
                            env=dict(os.environ, NUMBA_CACHE_DIR=str(cache)), timeout=600, cwd=REPO)
    assert helper.returncode == 0, helper.stderr[-3000:]
    from motifnet.kernels._jit import SOURCES_STAMP

    # cache files are named module.qualname-line..., the qualname ending in the sources' stamp
    compiled = sorted(p.name.split("-")[0].replace(f".{SOURCES_STAMP}", "") for p in cache.rglob("*.nbi"))
    assert compiled and all(name.startswith("relu.") for name in compiled), compiled
    assert {"relu._backward_in_place_loop", "relu._forward_in_place_loop"} <= set(compiled), compiled


def test_largest_first():
    from motifnet.kernels import conv1d_onehot, linear, relu

    sizes = [warmup.code_size(f) for f in (conv1d_onehot._forward_loops, linear._backward_loops,
                                           relu._forward_loop)]
    assert sizes[0] > 400 and sizes[1] > 400 and sizes[2] < 150, sizes   # the callee counts in linear's

    class Order:
        def __init__(self):
            self.keys = []

        def claim(self, key):
            self.keys.append(key)
            return False

    found = [(relu._forward.serial, ("a",)), (conv1d_onehot._forward.serial, ("b",)),
             (linear._backward.serial, ("c",))]
    order = Order()
    warmup.compile_kernels(found, order)
    # keys are motifnet.kernels.<module>.<qualname>(<types>)
    assert [k.split("(")[0].split(".")[2] for k in order.keys] == ["conv1d_onehot", "linear", "relu"]


def test_a_kernel_that_calls_others_found_comes_after_them():
    # the compiled training step calls the layers' serial kernels: taken first, it would
    # compile them all in one process while the other process compiled them again
    from motifnet import compiled_step
    from motifnet.kernels import linear, relu

    step = compiled_step._step_of(4, True)
    found = [(step, ("s",)), (relu._forward.serial, ("a",)), (linear._backward.serial, ("c",))]
    assert warmup.code_size(step.py_func) > warmup.code_size(linear._backward_loops)  # the largest
    assert warmup.calls_any(step.py_func, {linear._backward.serial})
    assert not warmup.calls_any(linear._backward_loops, {step, relu._forward.serial})
    keys = []

    class Order:
        def claim(self, key):
            keys.append(key)
            return False

    warmup.compile_kernels(found, Order())
    assert "_step_loops" in keys[-1] and "linear" in keys[0]


def test_the_helper_exits_quietly_when_it_is_not_needed():
    proc = subprocess.run([sys.executable, "-m", "motifnet.warmup"], input="", capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_compile_for_leaves_the_model_alone(monkeypatch):
    monkeypatch.setenv("MOTIFNET_COMPILE_HELPER", "1")
    model = GenomicsCNN(seq_len=50)
    before = model.flat_params.copy(), model.flat_grads.copy()
    report = warmup.Warmup().compile_for(model, np.zeros((40, 50), np.int8), np.full(40, 50), 16)
    assert np.array_equal(model.flat_params, before[0]) and np.array_equal(model.flat_grads, before[1])
    assert set(report) >= {"helper", "compiled_here", "left_to_helper", "seconds"}


def test_a_model_whose_kernels_are_all_cached_runs_without_a_helper(tmp_path, monkeypatch):
    # the note of the kernels' cache index files lives with NUMBA_CACHE_DIR when set, else
    # in XDG_CACHE_HOME/motifnet; compile_for decides from the index files themselves
    monkeypatch.setenv("MOTIFNET_COMPILE_HELPER", "1")
    monkeypatch.setattr(warmup, "may_help", lambda: True)  # as on two cores, on any machine
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert warmup._note_file("cnn").startswith(str(tmp_path / "xdg" / "motifnet"))
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert warmup._note_file("cnn").startswith(str(tmp_path / "numba"))
    assert warmup._note_file("cnn") != warmup._note_file("deepbind")

    index = {"a": tmp_path / "a.nbi", "b": tmp_path / "b.nbi"}  # stand for two kernels' index files
    found = [("a", ()), ("b", ())]
    started, compiled = [], []

    def start(self):
        started.append(1)
        self.helper = None  # as if it could not start: this process compiles everything

    monkeypatch.setattr(warmup.Warmup, "_start_helper", start)
    monkeypatch.setattr(warmup, "kernels_of", lambda spec: found)
    monkeypatch.setattr(warmup, "index_file", lambda d: str(index[d]))
    monkeypatch.setattr(warmup.Warmup, "_compile_with_helper", lambda self, *a: compiled.append(1))
    model, x = GenomicsCNN(seq_len=50), np.zeros((8, 50), np.int8)

    def run():  # what motifnet train does: Warmup at start, compile_for once the data is read
        w = warmup.Warmup("cnn")
        w.compile_for(model, x)
        return w

    assert not warmup.noted_warm("cnn")
    run()                                   # cold: a helper early, compiling, no note (nothing cached)
    assert (started, compiled) == ([1], [1]) and not os.path.exists(warmup._note_file("cnn"))
    index["a"].write_text("")
    index["b"].write_text("")               # compiled: the next run notes both
    run()
    assert (started, compiled) == ([1, 1], [1])  # no compiling: every kernel was cached
    assert Path(warmup._note_file("cnn")).read_text().split() == [str(index["a"]), str(index["b"])]
    assert warmup.noted_warm("cnn") and not warmup.noted_warm("deepbind") and not warmup.noted_warm(None)
    w = run()                               # warm, and noted: no helper at all
    assert (started, compiled) == ([1, 1], [1]) and not w.report["early"]
    index["b"].unlink()                     # the cache lost a kernel: early helper, compiling
    assert not warmup.noted_warm("cnn")
    run()
    assert (started, compiled) == ([1, 1, 1], [1, 1])
    Path(warmup._note_file("cnn")).write_text("relative/a.nbi\n")  # not a note of ours
    assert not warmup.noted_warm("cnn")


def test_chores_run_while_the_helper_compiles_once_before_this_process_claims(monkeypatch):
    # Warmup.meanwhile: after the helper has its job and before this process takes kernels
    # (the claims then leave this process's share to the helper); a failing chore is skipped
    events = []
    monkeypatch.setenv("MOTIFNET_COMPILE_HELPER", "0")
    w = warmup.Warmup()
    monkeypatch.setattr(warmup.Warmup, "_send", lambda self, folder, spec: events.append("sent"))
    monkeypatch.setattr(warmup, "compile_kernels", lambda found, claims: events.append("claims"))
    monkeypatch.setattr(warmup, "_read_done", lambda stream, timeout: True)

    def broken():
        events.append("broken")
        raise RuntimeError("no matplotlib here")

    w.meanwhile(broken)
    w.meanwhile(lambda: events.append("chore"))
    w.helper = types.SimpleNamespace(stdout=None)  # as if started
    w._compile_with_helper([], None, "folder", {})
    assert events == ["sent", "broken", "chore", "claims"]
    w._compile_with_helper([], None, "folder", {})
    assert events[4:] == ["sent", "claims"]  # once
    w.helper = None  # no helper: nothing to overlap, the run does its chores where it needs them
    w.meanwhile(lambda: events.append("alone"))
    w._compile_with_helper([], None, "folder", {})
    assert events[6:] == ["claims"]


def test_the_plotting_chore_changes_no_figure(tmp_path):
    # plots.ready draws a throw-away figure: the run's figures must come out byte for byte
    # as in a process that never drew it
    code = """
    import sys
    import numpy as np
    from motifnet import plots
    if sys.argv[1] == "ready":
        plots.ready()
    history = [{"epoch": e, "loss": 1.0 / e, "valid_loss": 1.2 / e, "accuracy": 1 - 0.5 / e,
                "valid_accuracy": 1 - 0.6 / e, "best": e == 3} for e in range(1, 6)]
    plots.plot_loss(history, sys.argv[2] + "/loss.png")
    rng = np.random.default_rng(0)
    plots.plot_roc_pr(rng.normal(size=200), rng.integers(0, 2, 200), sys.argv[2] + "/roc_pr.png")
    """
    for name in ("plain", "ready"):
        (tmp_path / name).mkdir()
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), name, str(tmp_path / name)],
                              capture_output=True, text=True, timeout=600, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]
    for figure in ("loss.png", "roc_pr.png"):
        assert (tmp_path / "plain" / figure).read_bytes() == (tmp_path / "ready" / figure).read_bytes(), figure


def test_it_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("MOTIFNET_COMPILE_HELPER", "0")
    w = warmup.Warmup()
    assert w.helper is None
    assert w.compile_for(GenomicsCNN(seq_len=50), np.zeros((40, 50), np.int8))["compiled_here"] == 0


@pytest.mark.parametrize("name", ["cnn", "attention", "deepbind"])
def test_every_buffer_of_the_recording_copy_is_made_as_zeros(name):
    # a kernel already compiled in the process runs in the recording step on what the
    # skipped ones left: that must be zeros (valid values and indices), not np.empty's
    from motifnet.layers import Buffers
    from motifnet.models import MODELS

    model = MODELS[name]() if name == "deepbind" else MODELS[name](seq_len=50)
    warmup._zero_buffers(model)
    found, stack, seen = [], [model], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen or not type(obj).__module__.startswith("motifnet"):
            continue
        seen.add(id(obj))
        for value in vars(obj).values():
            if isinstance(value, Buffers):
                found.append(value)
            elif hasattr(value, "__dict__"):
                stack.append(value)
    assert len(found) >= 6
    for buffers in found:
        assert type(buffers).__name__ == "ZeroBuffers"    # replaced, not just lucky memory
        assert not buffers.get("probe", (1000,), np.int64).any()


def _helpers_using(cache: Path) -> list[int]:
    """pids of live processes running motifnet.warmup with this NUMBA_CACHE_DIR (from /proc: Linux)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
            env = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if b"motifnet.warmup" in cmd and f"NUMBA_CACHE_DIR={cache}".encode() in env and state != "Z":
            pids.append(int(entry.name))
    return pids


def _scan_input(folder):
    """A run folder with a deepbind model, and a FASTA to scan with it: ``motifnet scan``'s arguments."""
    from motifnet.model_io import save_model
    from motifnet.models import DeepBind

    run = folder / "model-run"
    run.mkdir()
    save_model(DeepBind(n_filters=4, kernel_size=9, hidden=4, seed=0), run / "model.npz",
               metadata={"train_lengths": {"median": 100.0}})
    seq = "".join("ACGT"[i] for i in np.random.default_rng(0).integers(0, 4, 20_000))
    (folder / "in.fa").write_text(">r1\n" + seq + "\n")
    return [str(run), str(folder / "in.fa")]


def _interpret_input(folder):
    """A run folder with a deepbind model and its test split: ``motifnet interpret``'s argument."""
    run = Path(_scan_input(folder)[0])
    rng = np.random.default_rng(1)
    (run / "metrics.json").write_text(json.dumps({"model": "deepbind"}))
    (run / "test_sequences.txt").write_text("".join("".join("ACGT"[i] for i in rng.integers(0, 4, 60)) + "\n"
                                                    for _ in range(20)))
    (run / "test_labels.txt").write_text("1\n0\n" * 10)
    return [str(run)]


@pytest.mark.parametrize("command", ["train", "scan", "interpret"])
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupt_while_two_processes_compile_stops_both_and_leaves_nothing(tmp_path, command, signum, status):
    cache, tmp, out = tmp_path / "cache", tmp_path / "tmp", tmp_path / "run"
    cache.mkdir()
    tmp.mkdir()
    inputs = {"scan": _scan_input, "interpret": _interpret_input}.get(command, lambda _: [])(tmp_path)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), TMPDIR=str(tmp), MOTIFNET_COMPILE_HELPER="1")
    proc = subprocess.Popen([sys.executable, "-m", "motifnet", command, *inputs, "--quiet", "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    deadline = time.monotonic() + 120
    while not _helpers_using(cache) or not list(tmp.glob("motifnet-compile-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "no helper compiling"
        time.sleep(0.02)
    time.sleep(0.3)  # both are compiling now
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    assert stderr.splitlines()[-1] == f"motifnet {command}: interrupted", stderr
    assert "Traceback" not in stderr
    time.sleep(0.2)
    assert _helpers_using(cache) == []          # the helper went with it
    assert list(tmp.iterdir()) == [] and not out.exists()   # no claims folder, no run folder
