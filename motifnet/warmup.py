"""Compile a first run's kernels on two cores at once.

Why
---
Numba compiles a kernel the first time it is called with new argument types, on the
calling thread, one kernel at a time.  The first ``motifnet train`` on a machine (an
empty Numba cache) compiled its 12 kernels one after the other, 6.6 s, while the second
core idled.  A compiled kernel goes to Numba's on-disk cache, which every process reads,
so a second process can compile some of the kernels while this one compiles the others.

How
---
``compile_in_parallel(model, x, lengths, batch_size)`` runs a *dry step*: one training
step of a throw-away copy of the model (forward, loss, backward, Adam) on a batch of the
run's shapes and types, then an evaluation forward.  A kernel call whose argument types
are new to the process goes through Numba's compile-on-first-call entry
(``Dispatcher._compile_for_args``), which the dry step wraps.  There the call first
*claims* the kernel: it creates, with ``O_EXCL``, a file named after the function and its
argument types in a folder both processes share.  The process that creates the file
compiles and runs the kernel as usual (or loads it, when it is in the cache).  A kernel
that the other process claimed first is skipped, and its output stays unwritten; the dry
step never reads values.

A warm run starts no helper.  The helper starts the first time this process compiles,
which Numba announces with a ``"numba:compile"`` event (a kernel loaded from the cache
sends none).  It is ``python -m motifnet.warmup``, given the same model and shapes, and
it runs the same dry step with the same claims.  So whichever process is free takes the
next kernel nobody has taken.  After its dry step this process waits for the helper: by
then every kernel the helper claimed is in the cache, and the real run loads it on its
first call.

What it cannot change
---------------------
Results: the dry step runs on a copy with its own buffers and its own optimizer.  A
kernel that is neither compiled nor cached when the real run needs it (the helper
failed, was killed, or could not write the cache) is compiled by the real run, as
without this module.  It is off when Numba's cache is off (nothing to share), when this
process may run on one CPU only, and with ``MOTIFNET_COMPILE_HELPER=0``.

It relies on one Numba internal, ``Dispatcher._compile_for_args`` (numba 0.5x-0.6x); if a
Numba release drops it, the dry step is skipped and kernels compile one by one as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

# The helper's whole life is a few seconds of compiling; past this, something is wrong and
# the real run compiles whatever is missing itself.
HELPER_TIMEOUT_S = 120.0


def enabled() -> bool:
    """Whether a helper process may compile kernels for this one."""
    if os.environ.get("MOTIFNET_COMPILE_HELPER", "1").lower() in ("0", "false", "no"):
        return False
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n_cpus = os.cpu_count() or 1
    if n_cpus < 2:
        return False
    from motifnet.kernels import _jit

    return _jit.CACHE


def spec_of(model, x, lengths, batch_size: int, eval_batch_size: int) -> dict:
    """What the helper needs to rebuild the dry step: JSON-able."""
    return {"architecture": model.name, "hyperparameters": model.hyperparameters(),
            "dtype": np.dtype(model.dtype).name, "x_dtype": np.dtype(x.dtype).name,
            "x_shape": list(x.shape[1:]), "n": int(x.shape[0]), "variable_length": lengths is not None,
            "batch_size": int(batch_size), "eval_batch_size": int(eval_batch_size)}


def _dry_step(spec: dict) -> None:
    """One training step and one evaluation forward of a fresh model, on zeros of the spec's
    shapes: every kernel call the real run makes first, with the same argument types."""
    from motifnet.layers import BCEWithLogitsLoss
    from motifnet.models import MODELS
    from motifnet.optim import Adam

    dtype = np.dtype(spec["dtype"])
    model = MODELS[spec["architecture"]](**spec["hyperparameters"], dtype=dtype)
    tail = tuple(spec["x_shape"])
    for rows, train in ((min(spec["batch_size"], spec["n"]), True), (min(spec["eval_batch_size"], spec["n"]), False)):
        x = np.zeros((rows,) + tail, dtype=np.dtype(spec["x_dtype"]))
        lengths = np.full(rows, tail[-1], dtype=np.int64) if spec["variable_length"] else None
        if train:
            logits = model.forward(x, lengths, check=False)
            loss_fn = BCEWithLogitsLoss()
            loss_fn.forward(logits, np.zeros(rows, dtype=dtype))
            optimizer = Adam(model.parameters())
            optimizer.zero_grad()
            model.backward(loss_fn.backward())
            optimizer.step()
        else:
            model.forward(x, lengths, check=False, need_backward=False)


class _Claims:
    """The wrapper of ``Dispatcher._compile_for_args`` during a dry step."""

    def __init__(self, folder: str, on_first_compile=None):
        self.folder = folder
        self.mine: dict[str, bool] = {}
        self.on_first_compile = on_first_compile

    def claim(self, dispatcher, args) -> bool:
        types = tuple(dispatcher.typeof_pyval(a) for a in args)
        py = dispatcher.py_func
        key = f"{py.__module__}.{py.__qualname__}{types}"
        if key not in self.mine:
            name = hashlib.sha1(key.encode()).hexdigest()
            try:
                os.close(os.open(os.path.join(self.folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                self.mine[key] = True
            except FileExistsError:
                self.mine[key] = False
        return self.mine[key]

    @contextlib.contextmanager
    def installed(self):
        from numba.core.dispatcher import Dispatcher

        original = Dispatcher._compile_for_args
        claims = self

        def compile_for_args(self, *args, **kws):
            if kws or claims.claim(self, args):
                return original(self, *args, **kws)
            return _skip  # claimed by the other process (Numba calls what this returns)

        Dispatcher._compile_for_args = compile_for_args
        try:
            yield
        finally:
            Dispatcher._compile_for_args = original


def _skip(*args, **kws):
    # what a kernel the other process compiles does in this dry step: nothing (kernels
    # write into their arguments and return None)
    return None


def _prime(x):
    # compiled by the helper while it waits, so that Numba's own start-up is behind it
    s = x.dtype.type(0)
    for i in range(x.shape[0]):
        s += x[i]
    return s


def _first_compile_listener(callback):
    from numba.core import event

    class _OnFirstCompile(event.Listener):
        def __init__(self):
            self.fired = False

        def on_start(self, ev):
            if not self.fired:
                self.fired = True
                callback()

        def on_end(self, ev):
            pass

    return _OnFirstCompile()


def is_cold() -> bool:
    """Whether Numba's cache lacks the kernel every model calls first (the one-hot
    convolution's forward): then a run is about to compile.  Reads the cache's index file
    (a Numba internal; unknown counts as warm: the first compile still starts a helper)."""
    try:
        from motifnet.kernels.conv1d_onehot import _forward

        return not os.path.exists(_forward.serial._cache._cache_file._index_path)
    except Exception:
        return False


class Warmup:
    """A run's compiling, shared with a helper process when the cache is cold.

    ``Warmup()`` starts the helper at once when ``is_cold()`` (it imports the kernels and
    starts Numba's compiler while this process reads its data); ``compile_for(model, x,
    lengths, batch_size)`` then runs the dry step here and in the helper, and waits for it.
    A ``Warmup`` never used leaves nothing behind: the helper exits when this process does.
    """

    def __init__(self):
        self.helper = None
        self.report = {"helper": False, "early": False, "seconds": 0.0, "compiled_here": 0,
                       "left_to_helper": 0}
        self.on = enabled() and _has_internal()
        if self.on and is_cold():
            self._start_helper()
            self.report["early"] = self.helper is not None

    def _start_helper(self):
        try:
            self.helper = subprocess.Popen([sys.executable, "-m", "motifnet.warmup"], stdin=subprocess.PIPE,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                           start_new_session=True)  # Ctrl-C reaches this process only
        except OSError:
            self.helper = None

    def _send(self, folder, spec) -> None:
        try:
            self.helper.stdin.write(json.dumps({"folder": folder, "spec": spec}).encode() + b"\n")
            self.helper.stdin.close()
        except OSError:  # the helper died: this process compiles everything
            self._stop()

    def _stop(self):
        if self.helper is not None and self.helper.poll() is None:
            self.helper.kill()
            self.helper.wait()

    def compile_for(self, model, x, lengths=None, batch_size: int = 32, eval_batch_size: int | None = None,
                    log=None) -> dict:
        """Compile (or load) every kernel a training run of ``model`` on ``x`` calls first."""
        from motifnet.train import EVAL_BATCH_SIZE

        start = time.perf_counter()
        if not self.on:
            return self.report
        from numba.core import event

        spec = spec_of(model, x, lengths, batch_size, eval_batch_size or EVAL_BATCH_SIZE)
        with tempfile.TemporaryDirectory(prefix="motifnet-compile-") as folder:
            if self.helper is not None:
                self._send(folder, spec)

            def late_start():  # the cache looked warm, but this run compiles after all
                if self.helper is None:
                    self._start_helper()
                    if self.helper is not None:
                        self._send(folder, spec)

            claims = _Claims(folder)
            listener = _first_compile_listener(late_start)
            event.register("numba:compile", listener)
            try:
                try:
                    with claims.installed():
                        _dry_step(spec)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # the real run compiles what the dry step did not
                    if log is not None:
                        log(f"compiling ahead of the run stopped early ({type(exc).__name__}: {exc}); "
                            f"kernels will compile as they are first called")
                if self.helper is not None:
                    try:
                        self.helper.wait(timeout=HELPER_TIMEOUT_S)
                    except subprocess.TimeoutExpired:
                        pass
            finally:
                event.unregister("numba:compile", listener)
                self._stop()
        self.report.update(helper=self.helper is not None, compiled_here=sum(claims.mine.values()),
                           left_to_helper=sum(not v for v in claims.mine.values()),
                           seconds=time.perf_counter() - start)
        return self.report


def _has_internal() -> bool:
    try:
        from numba.core.dispatcher import Dispatcher

        return callable(Dispatcher._compile_for_args)
    except (ImportError, AttributeError):
        return False


def _helper_main() -> int:
    # Imports and Numba's compiler start-up (~0.3 s each here) happen while the parent
    # reads its data; then the spec arrives on stdin (nothing: the parent needs no help).
    import numba

    import motifnet.models  # noqa: F401  (every kernel module)

    numba.njit(cache=False)(_prime)(np.zeros(2, np.float32))
    line = sys.stdin.readline()
    if not line:
        return 0
    job = json.loads(line)
    with _Claims(job["folder"]).installed():
        _dry_step(job["spec"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_helper_main())
    except KeyboardInterrupt:
        sys.exit(130)
