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
1. *Which kernels* (``kernels_of``): one training step of a throw-away copy of the model
   (forward, loss, backward, Adam) and one evaluation forward, on zeros of the run's
   shapes and types, with Numba's compile-on-first-call entry
   (``Dispatcher._compile_for_args``) replaced by a recorder.  A kernel not yet compiled
   in this process is noted with its argument types and skipped: nothing is compiled and
   nothing runs.  (One already compiled runs, on zeros: the copy's buffers are made as
   zeros, which are valid values and indices for every kernel.)
   ``motifnet scan`` records its own calls instead (``_scan_step``: the scan table, the
   calibration's shuffle, the scan kernel, the model's head; ``Warmup.compile_for_scan``),
   ``motifnet interpret`` its methods' (``_interpret_step``: DeepLIFT, activations,
   saliency, ISM; ``Warmup.compile_for_interpret``), ``motifnet predict`` its forward
   passes on its first batch (``_predict_step``; ``Warmup.compile_for_predict``),
   ``motifnet gradcheck`` its cases (``_gradcheck_step``), and ``motifnet compare`` both
   models' steps and their saliency maps (``_saliency_step``) in one job of several
   (``Warmup.compile_for_specs``).  A kernel whose call is above its
   threshold for threads is noted with both compilations, serial and threaded, when its
   threaded one may run (cached or paid for: ``kernels/_jit.py``, ``ThreadsGate``): a real
   run calls the serial one for its probes (``RECORDING``); otherwise with the serial one.
2. *Who compiles what* (``compile_kernels``): the kernels are taken largest first (by
   ``code_size``), and each goes to the process that first creates its file, with
   ``O_EXCL``, in a folder both share (``_Claims``).  That process compiles it with
   ``Dispatcher.compile`` (or loads it, when it is in the cache), so whichever process is
   free takes the next kernel nobody has, and the small ones come last.
3. *The helper* is ``python -m motifnet.warmup``.  ``Warmup(model_name)`` starts it at
   once, so that its imports and Numba's start-up overlap this process's reading of the
   data, unless the last run of that model noted that every kernel it found is in the
   cache (``noted_warm``: a file listing their cache index files, read without importing
   Numba).  ``compile_for`` then knows for sure (step 1 and the cache's index files):
   when every kernel is cached it closes the helper's stdin, and the helper exits.
   (Until this note, a warm run of the primer's model started a helper and waited for it
   to load its share of the kernels: the run checked one kernel the model no longer
   calls.)  A run that compiles although the note said warm starts the helper at its
   first compile, which Numba announces with a ``"numba:compile"`` event (a kernel
   loaded from the cache sends none).  The helper gets the
   model and shapes on stdin, runs 1 and 2 with the same claims, and exits.  This
   process then waits for it: every kernel the helper claimed is by then in the cache,
   and the real run loads it on its first call.
4. *Meanwhile* (``Warmup.meanwhile``): work the run does later anyway that needs no
   kernel runs in this process after the helper has its job and before this process
   claims kernels, so the helper takes more of them: matplotlib's start-up, which a
   process's first figure pays (~0.35 s; ``plots.ready``), and ``motifnet interpret``'s
   reading of the shipped motif database (0.27 s).  A first ``motifnet train``, 8
   alternating pairs of cold and warm runs without and with it: cold minus warm lower in
   7 pairs, by 0.20 s at the median of the pairs' differences.

What it cannot change
---------------------
Results: nothing runs but on the copy.  A kernel that is neither compiled nor cached when
the real run needs it (the helper failed, was killed, or could not write the cache) is
compiled by the real run, as without this module.  It is off when Numba's cache is off
(nothing to share), when this process may run on one CPU only, and with
``MOTIFNET_COMPILE_HELPER=0``.  It relies on one Numba internal, ``_compile_for_args``
(numba 0.5x-0.6x); without it, kernels compile one by one as before.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from motifnet.cache_notes import note_path, write_note

# The helper's whole life is a few seconds of compiling; past this, something is wrong and
# the real run compiles whatever is missing itself.
HELPER_TIMEOUT_S = 120.0


def may_help() -> bool:
    """Whether a helper process may compile kernels for this one: not turned off, and a
    second CPU to run on.  (Imports nothing.)"""
    if os.environ.get("MOTIFNET_COMPILE_HELPER", "1").lower() in ("0", "false", "no"):
        return False
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n_cpus = os.cpu_count() or 1
    return n_cpus >= 2


def _jit_cache_on() -> bool:
    from motifnet.kernels import _jit

    return _jit.CACHE


def _read_done(stream, timeout: float) -> bool:
    """Whether the helper said "done" within ``timeout`` seconds (False: it failed or hung)."""
    try:
        import select

        ready, _, _ = select.select([stream], [], [], timeout)
        return bool(ready) and stream.readline().strip() == b"done"
    except (OSError, ValueError):
        return False


def _model_spec(model) -> dict:
    """The part of every spec that rebuilds ``model`` (``_model_of``): JSON-able."""
    return {"architecture": model.name, "hyperparameters": model.hyperparameters(),
            "dtype": np.dtype(model.dtype).name}


def _model_of(spec: dict):
    """A fresh model of the spec's architecture, its buffers made as zeros (``_zero_buffers``)."""
    from motifnet.models import MODELS

    model = MODELS[spec["architecture"]](**spec["hyperparameters"], dtype=np.dtype(spec["dtype"]))
    _zero_buffers(model)
    return model


def spec_of(model, x, lengths, batch_size: int, eval_batch_size: int) -> dict:
    """What the helper needs to run the same recording step (``_step``): JSON-able."""
    return {**_model_spec(model), "x_dtype": np.dtype(x.dtype).name,
            "x_shape": list(x.shape[1:]), "n": int(x.shape[0]), "variable_length": lengths is not None,
            "batch_size": int(batch_size), "eval_batch_size": int(eval_batch_size)}


def _zero_buffers(obj, _seen=None) -> None:
    """Give ``obj`` and every motifnet object it holds (layers, recursively) buffers whose new
    arrays are zeros: in the recording step a skipped kernel leaves its output as it was
    made, and zeros are valid values *and indices* (a max-pool's argmax) for any kernel
    already compiled here that reads it."""
    from motifnet.layers import Buffers

    class ZeroBuffers(Buffers):
        __slots__ = ()

        def get(self, name, shape, dtype):
            a = self._arrays.get(name)
            if a is None or a.shape != shape or a.dtype != dtype:
                a = self._arrays[name] = np.zeros(shape, dtype=dtype)
            return a

    _seen = set() if _seen is None else _seen
    if id(obj) in _seen or not type(obj).__module__.startswith("motifnet"):
        return
    _seen.add(id(obj))
    for name, value in list(vars(obj).items()):
        if isinstance(value, Buffers):
            setattr(obj, name, ZeroBuffers())
        elif hasattr(value, "__dict__"):
            _zero_buffers(value, _seen)


def _step(spec: dict) -> None:
    """One training step and one evaluation forward of a fresh model, on zeros of the spec's
    shapes: every kernel call the real run makes first, with the same argument types."""
    from motifnet.compiled_step import compiled_step_for
    from motifnet.kernels._jit import one_thread
    from motifnet.layers import BCEWithLogitsLoss
    from motifnet.optim import Adam

    dtype = np.dtype(spec["dtype"])
    model = _model_of(spec)
    loss_fn = BCEWithLogitsLoss()
    _zero_buffers(loss_fn)
    tail = tuple(spec["x_shape"])
    for rows, train in ((min(spec["batch_size"], spec["n"]), True), (min(spec["eval_batch_size"], spec["n"]), False)):
        x = np.zeros((rows,) + tail, dtype=np.dtype(spec["x_dtype"]))
        lengths = np.full(rows, tail[-1], dtype=np.int64) if spec["variable_length"] else None
        if train:
            optimizer = Adam(model.parameters())
            step = compiled_step_for(model, x, spec["batch_size"], optimizer)
            # the real run trains with the compiled step (long sequences), which calls the
            # layers' serial compilations: the layer-by-layer step at one thread finds
            # those, and compile_kernels takes them before the step that calls them
            with one_thread(step is not None):
                logits = model.forward(x, lengths, check=False)
                loss_fn.forward(logits, np.zeros(rows, dtype=dtype))
                optimizer.zero_grad()
                model.backward(loss_fn.backward())
                optimizer.step()
            if step is not None:
                step.run(x, np.zeros(rows, dtype=dtype), 1, step.threads() > 1, update=True)
        else:
            model.forward(x, lengths, check=False, need_backward=False)


def scan_spec_of(model, window: int, step: int, calibrate: bool = True) -> dict:
    """What the helper needs to run a scan's recording step (``_scan_step``): JSON-able."""
    return {"job": "scan", **_model_spec(model), "window": int(window), "step": int(step),
            "calibrate": bool(calibrate)}


def _scan_step(spec: dict) -> None:
    """The kernel calls a first ``motifnet scan`` of a site-calling model makes, on zeros of
    its types: the scan table (``Scanner``), the calibration's dinucleotide shuffle (if it
    calibrates), the scan kernel as every scanning thread runs it (serially) and the
    model's head (on the calling thread, serially too: ``motifnet.scan``, "Threads")."""
    from motifnet.kernels._jit import one_thread
    from motifnet.negatives import dinucleotide_shuffle
    from motifnet.scan import Scanner

    dtype = np.dtype(spec["dtype"])
    model = _model_of(spec)
    W = spec["window"]
    scanner = Scanner(model, window=W, step=spec["step"])
    if spec["calibrate"]:
        dinucleotide_shuffle((np.arange(W) % 4).astype(np.int8), np.random.default_rng(0))
    with one_thread():
        scanner._window_maxima(np.zeros(W, np.int8), 0, 1)
        scanner.head(np.zeros((1, model.n_filters), dtype))


def interpret_spec_of(model, codes, background_shape, references, n_references: int) -> dict:
    """What the helper needs to run ``motifnet interpret``'s recording step
    (``_interpret_step``) for ``model`` on ``codes`` (N, L), with DeepLIFT on negatives of
    ``background_shape`` (n, L') too (None: none): JSON-able."""
    return {"job": "interpret", **_model_spec(model), "n": int(codes.shape[0]), "length": int(codes.shape[1]),
            "background": None if background_shape is None else [int(v) for v in background_shape],
            "references": references if isinstance(references, str) else None, "n_references": int(n_references)}


def _interpret_step(spec: dict) -> None:
    """The kernel calls of ``motifnet interpret`` (``motifnet.interpret.report``), method by
    method, on zeros of the run's types and sizes (sizes decide serial or threaded; every
    sequence at the longest length): the
    dinucleotide shuffle of DeepLIFT's references, DeepLIFT on the positives (and on the
    background), the filters' activations by evaluation batch, saliency, attention and ISM.
    Each method is recorded on its own (``_each``)."""
    from motifnet.attribution import deeplift, model_in_dtype
    from motifnet.ism import fast_ism
    from motifnet.negatives import dinucleotide_shuffle
    from motifnet.train import EVAL_BATCH_SIZE, saliency_maps

    model = _model_of(spec)
    twin = model_in_dtype(model, np.float64)  # DeepLIFT's and saliency's float64 copy
    _zero_buffers(twin)
    N, L, R = spec["n"], spec["length"], spec["n_references"]

    def zeros(n, length=L):
        return np.zeros((n, length), np.int8), np.full(n, length, dtype=np.int64)

    def attributions(n, length, seed):
        codes, lengths = zeros(n, length)
        # shuffles as codes: the same batches as "shuffle" without drawing them
        references = np.zeros((n, R, length), np.int8) if spec["references"] in ("shuffle", None) else spec["references"]
        deeplift(twin, codes, lengths, references=references, n_references=R, seed=seed)

    def activations():
        for lo in sorted({0, N - N % EVAL_BATCH_SIZE} - {N}):  # a whole batch and the last one
            codes, lengths = zeros(min(EVAL_BATCH_SIZE, N - lo))
            if model.name == "deepbind":
                model.strand_activations(codes, lengths)
            else:
                model.conv_activations(codes)

    steps = [lambda: dinucleotide_shuffle(np.zeros(L, np.int8), np.random.default_rng(0)),
             lambda: attributions(N, L, 0), activations, lambda: saliency_maps(twin, *zeros(N)),
             lambda: fast_ism(model, *zeros(N))]
    if spec["background"]:
        steps.insert(2, lambda: attributions(*spec["background"], 1))
    if model.name == "attention":
        steps.append(lambda: model.attention_weights(zeros(N)[0]))
    _each(steps)


def _each(steps) -> None:
    """Call each of ``steps`` in turn; one that stops on the recording's placeholder values
    (kernels are skipped, their outputs are what they were made as) loses only its own
    remaining calls, which the real run then compiles itself."""
    for step in steps:
        with np.errstate(all="ignore"):
            try:
                step()
            except Exception:
                pass


def predict_spec_of(model, codes) -> dict:
    """What the helper needs to run ``motifnet predict``'s recording step (``_predict_step``)
    for ``model`` on a batch ``codes`` (N, L) of sequences: JSON-able."""
    return {"job": "predict", **_model_spec(model), "n": int(codes.shape[0]), "length": int(codes.shape[1])}


def _predict_step(spec: dict) -> None:
    """The kernel calls of ``motifnet predict`` on one batch of its input (``predict_logits``:
    forward only, by evaluation batch), on zeros of the batch's size."""
    from motifnet.train import predict_logits

    model = _model_of(spec)
    n, L = spec["n"], spec["length"]
    predict_logits(model, np.zeros((n, L), np.int8), np.full(n, L, dtype=np.int64))


def saliency_spec_of(model, x) -> dict:
    """What the helper needs to record ``motifnet.train.saliency_maps(model, x)`` (``_saliency_step``)."""
    return {"job": "saliency", **_model_spec(model), "x_shape": list(x.shape), "x_dtype": np.dtype(x.dtype).name}


def _saliency_step(spec: dict) -> None:
    from motifnet.train import saliency_maps

    model = _model_of(spec)
    saliency_maps(model, np.zeros(spec["x_shape"], np.dtype(spec["x_dtype"])))


def gradcheck_spec_of(names, seed: int, trials: int) -> dict:
    """What the helper needs to record ``motifnet gradcheck`` of the cases ``names``
    (``_gradcheck_step``): JSON-able."""
    return {"job": "gradcheck", "names": list(names), "seed": int(seed), "trials": int(trials)}


def _gradcheck_step(spec: dict) -> None:
    """``motifnet gradcheck``'s cases, drawn from the same seed: each one's analytic gradient
    and its loss once (the finite differences call the loss again and again, with the same
    argument types); a case that stops on the recording's placeholder values loses only its
    own remaining calls.  A model case is its first draw: the real check draws again when
    that one has a dead unit, and what it then draws (and every case after it) may call a
    kernel for another pool size, which it compiles itself."""
    from motifnet.gradcheck import cases

    available = cases(live_gradients=False)
    rng = np.random.default_rng(spec["seed"])

    def check(name):
        case = available[name](rng)
        case.analytic()
        case.loss()

    _each(functools.partial(check, name) for name in spec["names"] for _ in range(spec["trials"]))


def _steps(spec: dict) -> None:
    """Several recording steps in one (``{"job": "steps", "specs": [...]}``), in order."""
    for sub in spec["specs"]:
        _STEPS.get(sub.get("job"), _step)(sub)


def kernels_of(spec: dict) -> list:
    """``[(dispatcher, argument types)]``: the kernels the run's first step calls (or, for a
    spec with a "job", that job's recording step: ``_STEPS``) that this process has not
    compiled yet, in the order of their first calls.

    The step runs with Numba's compile-on-first-call entry replaced by a recorder: a kernel
    not yet compiled here is noted and skipped (nothing is compiled or run); one already
    compiled here runs, on zeros."""
    from numba.core import types
    from numba.core.dispatcher import Dispatcher, OmittedArg

    found, seen = [], set()

    def record(self, *args, **kws):
        argtypes = tuple(types.Omitted(a.value) if isinstance(a, OmittedArg) else self.typeof_pyval(a)
                         for a in args)
        key = _key(self, argtypes)
        if key not in seen:
            seen.add(key)
            found.append((self, argtypes))
        return _skip

    from motifnet.kernels import _jit

    original = Dispatcher._compile_for_args
    Dispatcher._compile_for_args = record
    _jit.RECORDING[0] = True
    try:
        _STEPS.get(spec.get("job"), _step)(spec)
    finally:
        Dispatcher._compile_for_args = original
        _jit.RECORDING[0] = False
    return found


# the recording step of each kind of spec (a training run's when it has no "job")
_STEPS = {"scan": _scan_step, "interpret": _interpret_step, "predict": _predict_step, "saliency": _saliency_step,
          "gradcheck": _gradcheck_step, "steps": _steps}


def _key(dispatcher, argtypes) -> str:
    """The kernel and its argument types, the same in both processes; a kernel made per
    constant (the fused max-pool's forward per pool size, ``_loops_for(P)``) carries the
    constants it closes over, or the compilations for two pool sizes would share a key."""
    py = dispatcher.py_func
    constants = []
    for cell in py.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, (bool, int, float, str)):
            constants.append(value)
    return f"{py.__module__}.{py.__qualname__}{constants if constants else ''}{argtypes}"


def code_size(py_func, _seen=None) -> int:
    """Bytecode instructions of a kernel and of the jitted functions it calls: what its
    compile time grows with (here: the one-hot convolution's forward, 666 instructions,
    compiles in ~1.3 s; linear's backward, 651, ~1.1 s; relu's forward, 78, ~0.1 s)."""
    import dis

    from numba.core.dispatcher import Dispatcher

    _seen = set() if _seen is None else _seen
    if py_func in _seen:
        return 0
    _seen.add(py_func)
    code = py_func.__code__
    n = sum(1 for _ in dis.get_instructions(code))
    n += sum(sum(1 for _ in dis.get_instructions(c)) for c in code.co_consts if hasattr(c, "co_code"))
    for name in code.co_names:
        callee = py_func.__globals__.get(name)
        if isinstance(callee, Dispatcher):
            n += code_size(callee.py_func, _seen)
    return n


def calls_any(py_func, dispatchers, _seen=None) -> bool:
    """Whether a kernel calls (through the jitted functions it calls) one of ``dispatchers``."""
    from numba.core.dispatcher import Dispatcher

    _seen = set() if _seen is None else _seen
    if py_func in _seen:
        return False
    _seen.add(py_func)
    for name in py_func.__code__.co_names:
        callee = py_func.__globals__.get(name)
        if isinstance(callee, Dispatcher) and (callee in dispatchers or calls_any(callee.py_func, dispatchers, _seen)):
            return True
    return False


def compile_kernels(found, claims) -> None:
    """Compile (or load from the cache) each kernel of ``found`` that ``claims`` grants this
    process, largest first: with two processes taking the next free kernel, the last ones
    are the smallest, so both finish at about the same time.  A kernel that calls others of
    ``found`` (the compiled training step) comes after all of them: compiling it compiles
    its callees too, so taken first it would compile them all in one process while the
    other compiled them again (a first cnn run at L = 200: 24-28 s; after them it finds
    them in the cache)."""
    sizes, callers = {}, {}
    dispatchers = {d for d, _ in found}
    for dispatcher, _ in found:
        if dispatcher not in sizes:
            # a threaded compilation takes about twice the serial one's time (first calls
            # with an empty cache: ISM 3.6 s against 1.7 s, the dense conv1d's forward 3.0 s
            # against 1.6 s): Numba compiles the prange loop's body again, as a function of its own
            sizes[dispatcher] = code_size(dispatcher.py_func) * (2 if dispatcher.targetoptions.get("parallel") else 1)
            callers[dispatcher] = calls_any(dispatcher.py_func, dispatchers - {dispatcher})
    for dispatcher, argtypes in sorted(found, key=lambda k: (callers[k[0]], -sizes[k[0]])):
        if claims.claim(_key(dispatcher, argtypes)):
            hook = getattr(dispatcher, "_compilation_chain_init_hook", None)
            if hook is not None:
                hook()
            with signals_held():
                dispatcher.compile(argtypes)


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM that arrive while the block runs take effect when it ends.

    For one kernel's compiling: a Python handler's exception raised while LLVM is inside a
    ctypes callback of Numba's (its object cache's) is printed and ignored, and the run went
    on as if nothing had happened (exit status 0 after SIGTERM), or unwound out of LLVM and
    left it to crash the process at exit (SIGSEGV after "interrupted"): 5 of 14 interrupted
    first scans in tests/test_warmup.py's interrupt test, none of 20 since.  Held, the
    signal is raised again once the kernel is compiled (seconds; the cnn's compiled step
    ~10 s), and its handler runs in plain Python.  Only on the main thread (the only one
    Python's handlers run on)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if pending:
            signal.raise_signal(pending[0])


class _Claims:
    """Which process compiles which kernel: the first to create its file in ``folder``."""

    def __init__(self, folder: str):
        self.folder = folder
        self.mine: dict[str, bool] = {}

    def claim(self, key: str) -> bool:
        if key not in self.mine:
            name = hashlib.sha1(key.encode()).hexdigest()
            try:
                os.close(os.open(os.path.join(self.folder, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                self.mine[key] = True
            except FileExistsError:
                self.mine[key] = False
        return self.mine[key]


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while Numba compiles, back on (if it was) after.

    Compiling makes and keeps many Python objects (Numba's IR, types, LLVM's IR as text),
    so the collector ran its full collections, each through every object since start-up,
    again and again: 7 of them, 0.38 s, in one process compiling the primer's kernels, and
    its 5,350 calls over all generations 0.54 s (``gc.callbacks``, this machine).  Paused,
    the compilers' garbage waits for the next collection: a first ``motifnet train``'s
    peak RSS went from 234 to 239 MB (313 MB against 249 with the collector off for a
    whole run that compiled everything in one process); a first run at L = 200, which
    also compiles the cnn's compiled step, from 272 to 321 MB in each of the two
    processes (/usr/bin/time, ps; one run each).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _skip(*args, **kws):
    # what a kernel does in the recording step: nothing (Numba calls what
    # _compile_for_args returns; kernels write into their arguments and return None)
    return None


def _prime(x):
    # compiled by the helper while it waits, so that Numba's own start-up is behind it
    s = x.dtype.type(0)
    for i in range(x.shape[0]):
        s += x[i]
    return s


def index_file(dispatcher) -> str | None:
    """The Numba cache index file of a kernel (``kernels/_jit.py``'s: a Numba internal; None
    if unknown or not cached); imported when called, this module's import stays Numba-free."""
    from motifnet.kernels._jit import index_file as of

    return of(dispatcher)


def _note_file(model_name: str) -> str:
    """Where a run of ``model_name`` notes the cache index files of the kernels it found
    (``compile_for``), for the next run, which then knows whether the cache is warm before
    it imports Numba (``noted_warm``): ``motifnet.cache_notes``, one per model."""
    return note_path(f"{model_name}-kernels")


def noted_warm(model_name: str | None) -> bool:
    """Whether every index file the last run of ``model_name`` noted exists: the cache is
    warm for it, as far as can be told without importing Numba.  False without a note.
    (An edited kernel file changes the index files' names: the old ones still exist, so
    the first run after an edit looks warm here and starts its helper at its first
    compile instead, as ``Warmup`` does whenever the cache only looked warm.)"""
    if not model_name:
        return False
    try:
        with open(_note_file(model_name), encoding="utf-8") as fh:
            paths = fh.read().split("\n")[:-1]
    except (OSError, UnicodeDecodeError):
        return False
    return bool(paths) and all(os.path.isabs(p) for p in paths) and _all_exist(paths)


def _all_exist(paths) -> bool:
    """Whether every path of ``paths`` (None: unknown) names an existing file."""
    return all(p is not None and os.path.exists(p) for p in paths)


def _note(model_name: str | None, paths) -> None:
    if model_name and paths:  # unwritable: every run starts its helper early, as before
        write_note(_note_file(model_name), "".join(p + "\n" for p in paths))


class Warmup:
    """A run's compiling, shared with a helper process when the cache is cold.

    ``Warmup(model_name)`` starts the helper at once unless the last run of that model
    found every kernel it needs in the cache (``noted_warm``): the helper imports the
    kernels and starts Numba's compiler while this process reads its data.
    ``compile_for(model, x, lengths, batch_size)`` then finds the kernels; when they are
    all cached it stops the helper, and otherwise compiles them here and in the helper and
    waits for it.
    A ``Warmup`` never used leaves nothing behind: the helper exits when this process does.
    """

    def __init__(self, model_name: str | None = None):
        self.model_name = model_name
        self.helper = None
        self.chores = []  # see meanwhile
        self._sent = self._done = False
        self.report = {"helper": False, "early": False, "seconds": 0.0, "compiled_here": 0,
                       "left_to_helper": 0}
        if not may_help():
            self.on = False
            return
        if not noted_warm(model_name):
            # started before this process imports Numba, so that both import at once; it
            # exits when this process closes its stdin (compile_for: nothing to compile)
            self._start_helper()
        self.on = _jit_cache_on() and _has_internal()
        if not self.on:
            self._stop()
            self.helper = None
        self.report["early"] = self.helper is not None

    def _start_helper(self):
        cmd = [sys.executable, "-m", "motifnet.warmup"]
        try:
            self.helper = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                           start_new_session=True)  # Ctrl-C reaches this process only
        except OSError:
            self.helper = None

    def _send(self, folder, spec) -> None:
        self._sent = True
        try:
            self.helper.stdin.write(json.dumps({"folder": folder, "spec": spec}).encode() + b"\n")
            self.helper.stdin.close()
        except OSError:  # the helper died: this process compiles everything
            self._stop()

    def _stop(self):
        if self.helper is None or self._done or self.helper.poll() is not None:
            return  # done (it is exiting) or gone
        if self._sent:  # interrupted, or past the timeout: its work is no longer wanted
            self.helper.kill()
            self.helper.wait()
        else:  # still waiting for a job: it reads end-of-file and exits
            try:
                self.helper.stdin.close()
            except OSError:
                pass

    def meanwhile(self, chore) -> None:
        """Run ``chore()`` while the helper compiles, before this process takes its share of
        the kernels: work the run does later anyway and that needs no kernel (``plots.ready``:
        matplotlib's start-up, which a run's first figure pays).  The claims then leave this
        process's share of the kernels to the helper, so a first run pays about half the
        chore's time instead of all of it; a run with every kernel cached, or without a
        helper, never calls it.  A chore that fails is skipped: the run meets the error, if
        it is one, where it does that work itself."""
        self.chores.append(chore)

    def compile_for(self, model, x, lengths=None, batch_size: int = 32, eval_batch_size: int | None = None,
                    log=None) -> dict:
        """Compile (or load) every kernel a training run of ``model`` on ``x`` calls first."""
        from motifnet.train import EVAL_BATCH_SIZE

        return self._compile_spec(spec_of(model, x, lengths, batch_size, eval_batch_size or EVAL_BATCH_SIZE), log)

    def compile_for_scan(self, model, window: int, step: int, calibrate: bool = True, log=None) -> dict:
        """Compile (or load) every kernel a ``motifnet scan`` of a site-calling ``model`` calls
        (``calibrate``: the threshold's shuffles too)."""
        return self._compile_spec(scan_spec_of(model, window, step, calibrate), log)

    def compile_for_interpret(self, model, codes, background_shape=None, references="shuffle",
                              n_references: int = 10, log=None) -> dict:
        """Compile (or load) every kernel ``motifnet interpret`` of ``model`` on ``codes``
        (N, L) calls (``background_shape``: (n, L') of the negatives DeepLIFT runs on, for
        the motif discovery's background; None for none)."""
        return self._compile_spec(interpret_spec_of(model, codes, background_shape, references, n_references), log)

    def compile_for_predict(self, model, codes, log=None) -> dict:
        """Compile (or load) every kernel ``motifnet predict`` of ``model`` calls on a batch
        like ``codes`` (N, L)."""
        return self._compile_spec(predict_spec_of(model, codes), log)

    def compile_for_specs(self, specs, log=None, trust_note: bool = False) -> dict:
        """Compile (or load) every kernel of several recording steps at once (``spec_of``,
        ``saliency_spec_of``, ...): a run that does several things, with one helper.  With
        ``trust_note``, a run that the last one noted warm (``noted_warm``) records nothing:
        for recordings that cost a warm run a noticeable share of its time (gradcheck's,
        0.26 s of ~2 s); a note left stale by an edited kernel file then means compiling in
        this process alone, as without this module."""
        if trust_note and self.helper is None and noted_warm(self.model_name):
            return self.report
        return self._compile_spec({"job": "steps", "specs": list(specs)}, log)

    def stop(self) -> None:
        """No kernels to compile after all: the helper, if started, exits."""
        self._stop()

    def _compile_spec(self, spec, log) -> dict:
        if not self.on:
            return self.report
        start = time.perf_counter()
        claims = None
        with collector_paused():  # the compilers' objects: see collector_paused
            try:
                found = kernels_of(spec)
                paths = [index_file(d) for d, _ in found]
                if _all_exist(paths):
                    # all cached (each loads on its first call): the helper is not needed.
                    # Before this check a warm primer run always waited for one: 1.87 s
                    # against 1.47 s without (medians of 8 alternating runs, 1 thread)
                    self._stop()
                    self.helper = None
                else:
                    with tempfile.TemporaryDirectory(prefix="motifnet-compile-") as folder:
                        claims = _Claims(folder)
                        self._compile_with_helper(found, claims, folder, spec)
                if _all_exist(paths):  # now compiled, each: the next run may skip the helper
                    _note(self.model_name, paths)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # the real run compiles what was not compiled here
                if log is not None:
                    log(f"compiling ahead of the run stopped early ({type(exc).__name__}: {exc}); "
                        f"kernels will compile as they are first called")
            finally:
                self._stop()
        mine = claims.mine.values() if claims is not None else ()
        self.report.update(helper=self.helper is not None, compiled_here=sum(mine),
                           left_to_helper=sum(not v for v in mine), seconds=time.perf_counter() - start)
        return self.report

    def _compile_with_helper(self, found, claims, folder, spec):
        from numba.core import event

        from motifnet.compile_notice import first_compile_listener

        if self.helper is not None:
            self._send(folder, spec)
            chores, self.chores = self.chores, []
            for chore in chores:
                try:
                    chore()
                except Exception:  # the run meets it again where it does that work
                    pass

        def late_start():  # the cache looked warm, but this run compiles after all
            if self.helper is None:
                self._start_helper()
                if self.helper is not None:
                    self._send(folder, spec)

        listener = first_compile_listener(late_start)
        event.register("numba:compile", listener)
        try:
            compile_kernels(found, claims)
        finally:
            event.unregister("numba:compile", listener)
        if self.helper is not None:  # every kernel it claimed is in the cache once it says done
            # the compilers' garbage, while the helper compiles its last kernel: otherwise the
            # collector's first pass after collector_paused goes through all of it, on the
            # run's own time (see collector_paused)
            gc.collect(1)
            self._done = _read_done(self.helper.stdout, HELPER_TIMEOUT_S)


def _has_internal() -> bool:
    try:
        from numba.core.dispatcher import Dispatcher

        return callable(Dispatcher._compile_for_args)
    except (ImportError, AttributeError):
        return False


def _helper_main() -> int:
    # Imports and Numba's compiler start-up (~0.3 s each here) happen while the parent
    # reads its data; then the job arrives on stdin (nothing: the parent needs no help).
    import importlib

    import numba

    gc.disable()  # for this process's whole life, a few seconds of compiling (collector_paused)
    importlib.import_module("motifnet.models")  # every kernel module

    numba.njit(cache=False)(_prime)(np.zeros(2, np.float32))
    line = sys.stdin.readline()
    if not line:
        return 0
    job = json.loads(line)
    compile_kernels(kernels_of(job["spec"]), _Claims(job["folder"]))
    sys.stdout.write("done\n")  # the parent stops waiting here, not at this process's exit
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(_helper_main())
    except KeyboardInterrupt:
        sys.exit(130)
