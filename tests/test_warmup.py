"""motifnet.warmup: a first run's kernels compiled by two processes.

What must hold: the dry step calls every kernel a real training run calls first, with the
same argument types (else the real run compiles again, alone); a kernel claimed by the
other process is neither compiled nor run here; the helper compiles exactly the kernels
nobody claimed, into the shared cache; a model being trained is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
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
    class D:  # the two things a claim reads of a dispatcher
        py_func = test_a_claim_is_taken_once_and_remembered

        @staticmethod
        def typeof_pyval(a):
            return type(a).__name__

    first, second = warmup._Claims(str(tmp_path)), warmup._Claims(str(tmp_path))
    assert first.claim(D, (1, 2.0)) is True
    assert second.claim(D, (1, 2.0)) is False          # the other process has it
    assert second.claim(D, (1, 2)) is True             # other argument types: another kernel
    assert first.claim(D, (1, 2.0)) is True            # remembered, not re-claimed
    assert len(list(tmp_path.iterdir())) == 2


COVERAGE = """
import json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from motifnet import warmup
from motifnet.models import MODELS
from motifnet.train import fit, evaluate

seen, phase = {"dry": set(), "real": set()}, ["dry"]
original = Dispatcher._compile_for_args
def recording(self, *args, **kws):
    key = f"{self.py_func.__module__}.{self.py_func.__qualname__}{tuple(self.typeof_pyval(a) for a in args)}"
    seen[phase[0]].add(key)
    return original(self, *args, **kws)
Dispatcher._compile_for_args = recording

name = sys.argv[1]
rng = np.random.default_rng(0)
if name == "deepbind":
    model, L = MODELS[name](n_filters=8, kernel_size=9, hidden=8), 40
    lengths = rng.integers(20, L + 1, size=70)
else:
    model, L = MODELS[name](seq_len=50), 50
    lengths = np.full(70, L)
codes = rng.integers(0, 4, size=(70, L)).astype(np.int8)
for i, n in enumerate(lengths):
    codes[i, n:] = -1
labels = rng.integers(0, 2, size=70)
warmup._dry_step(warmup.spec_of(model, codes[:50], lengths[:50], 16, 64))
phase[0] = "real"
fit(model, codes[:50], labels[:50], codes[50:], labels[50:], lengths_train=lengths[:50],
    lengths_valid=lengths[50:], epochs=2, batch_size=16)
evaluate(model, codes[50:], labels[50:], lengths[50:])
print(json.dumps({k: sorted(v) for k, v in seen.items()}))
"""


@pytest.mark.parametrize("name", ["cnn", "attention", "deepbind"])
def test_the_dry_step_calls_every_kernel_a_training_run_calls(name):
    # In a fresh process every kernel's first call with new argument types goes through
    # _compile_for_args (a cache load included): after the dry step, a real fit and an
    # evaluation must find every kernel they call already there.
    proc = _run_python(COVERAGE.replace("sys.argv[1]", repr(name)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(seen["dry"]) >= 8, seen            # the step really ran its kernels
    assert seen["real"] == [], f"the dry step missed: {seen['real']}"


def test_a_kernel_claimed_elsewhere_is_neither_compiled_nor_run_here(tmp_path):
    spec = warmup.spec_of(GenomicsCNN(seq_len=50), np.zeros((40, 50), np.int8), None, 16, 64)
    code = f"""
    import json, os
    from numba.core.dispatcher import Dispatcher
    from motifnet import warmup
    from motifnet.kernels import relu
    spec = json.loads({json.dumps(json.dumps(spec))})
    folder = {str(tmp_path)!r}
    keys = []
    class Recorder(warmup._Claims):   # sees every first call, claims nothing
        def claim(self, dispatcher, args):
            keys.append(dispatcher.py_func.__qualname__)
            return False
    with Recorder(folder).installed():
        warmup._dry_step(spec)
    after = {{name: len(getattr(relu, name).serial.signatures) for name in ("_backward", "_forward")}}
    print(json.dumps({{"keys": keys, "compiled": after, "claims": os.listdir(folder)}}))
    """
    proc = _run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "_forward_loops" in out["keys"] and "_adam_loop" in out["keys"], out["keys"]
    assert out["compiled"] == {"_backward": 0, "_forward": 0}   # skipped, not compiled
    assert out["claims"] == []                                          # and claimed nothing


def test_the_helper_compiles_exactly_the_unclaimed_kernels_into_the_cache(tmp_path):
    # Every kernel of the dry step but relu's is claimed beforehand (as if by the parent):
    # the helper, on an empty cache, must leave relu's kernels, and only those, in it.
    claims, cache = tmp_path / "claims", tmp_path / "cache"
    claims.mkdir()
    cache.mkdir()
    spec = warmup.spec_of(GenomicsCNN(seq_len=50), np.zeros((40, 50), np.int8), None, 16, 64)
    code = f"""
    import json
    from motifnet import warmup
    spec = json.loads({json.dumps(json.dumps(spec))})
    class ClaimAllButRelu(warmup._Claims):
        def claim(self, dispatcher, args):
            if dispatcher.py_func.__module__.endswith(".relu"):
                return False                 # left for the helper
            super().claim(dispatcher, args)  # written to the folder
            return False                     # and not compiled here either
    with ClaimAllButRelu({str(claims)!r}).installed():
        warmup._dry_step(spec)
    """
    env = {"NUMBA_CACHE_DIR": str(cache)}
    proc = _run_python(code, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list(claims.iterdir())) >= 8
    assert not list(cache.rglob("*.nbi"))           # nothing compiled yet
    job = json.dumps({"folder": str(claims), "spec": spec}) + "\n"
    helper = subprocess.run([sys.executable, "-m", "motifnet.warmup"], input=job, capture_output=True, text=True,
                            env=dict(os.environ, **env), timeout=600, cwd=REPO)
    assert helper.returncode == 0, helper.stderr[-3000:]
    compiled = sorted(p.name.split("-")[0] for p in cache.rglob("*.nbi"))
    assert compiled and all(name.startswith("relu.") for name in compiled), compiled
    assert {"relu._backward_loop", "relu._forward_loop"} <= set(compiled), compiled


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


def test_it_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("MOTIFNET_COMPILE_HELPER", "0")
    w = warmup.Warmup()
    assert w.helper is None
    assert w.compile_for(GenomicsCNN(seq_len=50), np.zeros((40, 50), np.int8))["compiled_here"] == 0
