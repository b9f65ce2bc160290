"""The one place where Numba options are chosen for every kernel.

Kernels never call ``numba.njit`` themselves; they use ``jit`` (serial) or
``jit_parallel`` (loops written with ``prange`` run on Numba's thread pool).

Why these options:

* ``fastmath``: only the flags that let LLVM fuse multiply-adds, reassociate
  sums (so reductions vectorise) and use fast approximate maths functions.
  ``nnan`` and ``ninf`` are left out on purpose: with them LLVM may assume no
  NaN or inf ever appears, and a NaN produced by bad data would silently turn
  into garbage instead of propagating.  (Same choice as stumpy's config.)  Adam's
  update has no flags at all (``jit_exact``): the compiled training step must round it
  as the kernel alone does, and fused multiply-adds were not placed alike in the two.
* ``error_model="numpy"``: float division by zero gives inf/NaN instead of
  raising, which is also what lets loops that divide vectorise.
* ``cache=True``: compiled machine code is stored next to the sources
  (``__pycache__``) and a warm start skips compilation (~2.7 s -> ~1 s here).
  Numba raises at decoration time when no cache directory is writable
  (read-only site-packages, no ``NUMBA_CACHE_DIR``); we then compile without a
  cache rather than fail to import.  ``MOTIFNET_NO_CACHE=1`` turns it off.
  Numba checks a cached function against its own source file only, but kernels call
  kernels of other files (the fused convolutions call conv1d_onehot's helpers, the
  compiled step calls nearly all of them) and their machine code is linked in: an edit
  to adam.py left the compiled step running the old Adam from its cache.  So every
  cached function's name carries a digest of all the kernel files' sizes and times
  (``SOURCES_STAMP``): editing any kernel recompiles every kernel once.  An installed
  package never changes, so its users never notice.
* ``parallel``: a ``prange`` region costs ~1-2 us with the tbb/OpenMP
  threading layers but ~100 us with Numba's fallback "workqueue" layer (what a
  plain ``pip install numba`` gets where no libgomp or tbb is found; measured here:
  omp 1.5-6 us, workqueue ~52 us per empty region on 2 threads).  A seed-sized layer
  takes tens of microseconds, so kernels compile a serial *and* a parallel version
  of the same loop nest and the wrapper picks the parallel one only for calls big
  enough: ``use_parallel(work)`` for at least ``PARALLEL_MIN_WORK`` inner-loop
  operations, or, for kernels that declare what one unit of their work costs
  serially (``SerialOrParallel(fn, ns_per_work)``), ``use_threads(serial_ns)`` for
  calls whose estimated serial time reaches ``PARALLEL_MIN_NS`` of the threading
  layer in use: 100 us with omp or tbb, 400 us with workqueue.  A kernel's "work"
  means different things in different kernels (a multiply-add, a table-row element,
  a pooled value), which a time cannot.
* a busy machine: a parallel region waits for every thread, and when another process
  holds the other core, the wait is a scheduler time slice: 5-8 ms per region measured
  here (an empty region takes 1.5-6 us when the core is free).  Training the primer's
  CNN at 2 threads with its conv backward (46 us) in threads took 3.8-19 s instead of
  0.3 s while another process ran.  So ``SerialOrParallel`` times its parallel calls
  (kernels with ``ns_per_work``) and stops using threads for a while (1 s, doubling
  up to a minute) after 3 calls in a row that lost against the same kernel's serial
  run (took 1.5 times as long, or the recent calls did on average), which it measures
  too: one call in 32 above the threshold runs serially, timed, and so does the call
  after a third loss, so that threads are suspended only when they lose again against
  the serial speed of the moment (this VM's speed moves by up to 1.5x).
  The first call of each compilation in a process compiles or loads it, so it is neither
  timed as the serial speed nor judged (``ProbeSchedule``).
* allocation.  ``np.empty`` or ``np.zeros`` in compiled code compiles NumPy's allocation
  in Numba, again in every process and for every number of dimensions, dtype and
  function (``np.zeros``, ``np.empty``, ``np.zeros_like``): 0.03-0.2 s each, 0.45 s of
  each of the two processes' compiling in a first ``motifnet train`` (Numba's compile
  events, this machine).  So the kernels on the primer model's path (the conv1d_onehot
  family and linear) allocate with one call only, ``np.empty`` of 2 dimensions in the
  data's dtype (a row of it where they need 1-D; zeros written by a loop), compiled
  once per process (0.1 s); the convolutions take their int64 work arrays (each thread's
  codes) as arguments, which the entry points get from ``scratch``: made once per shape
  and kept, per Python thread.  The arrays their hot loops store into stay allocated inside the
  kernel: LLVM knows that a fresh array shares memory with nothing else, and vectorises
  those loops without run-time overlap checks.  Passed in as arguments instead, the
  fused max-pool's backward ran 10-45% slower (one process, old and new alternating,
  1 thread).  attention's kernels follow the same rule (one ``np.empty`` 2-D, copies and
  zeros by loops).  Kernels off the three models' training path (the dense conv1d that
  saliency maps run, among others) still allocate as they did.
* threads that pay for their compiling: a threaded compilation costs about twice the
  serial one to compile, and a first run that used threads where they could not repay it
  waited seconds for nothing (the cnn on 3,000 x 200 bp: 19.5 s at 2 threads, 8.9 s at
  1).  So each threaded compilation has a ``ThreadsGate``: it runs once it is compiled or
  cached, or once the serial calls that wanted it have taken ``THREADS_PAYBACK_S`` on this
  machine, summed over runs (comment above ``THREADS_PAYBACK_S``).
* ``nogil``: off, except for kernels that Python threads call at once
  (``SerialOrParallel(fn, nogil=True)``): the scan kernel, which ``motifnet scan`` runs on
  chunks in worker threads while the main thread parses FASTA and writes text
  (motifnet/scan.py, "Threads").  Releasing the GIL is what lets those overlap; a kernel
  the training loop calls one at a time from one thread gains nothing by it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import os
import threading
import time
import types

import numba

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

# Division by zero gives inf/NaN as in NumPy and torch.  Numba's default ("python")
# checks every float division and raises ZeroDivisionError, and that branch keeps
# LLVM from vectorising any loop that divides (Adam's update ran 5x slower).
ERROR_MODEL = "numpy"

CACHE = os.environ.get("MOTIFNET_NO_CACHE", "") not in ("1", "true", "yes")

# Below this many inner-loop operations a parallel region costs more than it saves.
PARALLEL_MIN_WORK = int(os.environ.get("MOTIFNET_PARALLEL_MIN_WORK", 4_000_000))

# Below this estimated serial time (ns) a call stays serial, by threading layer: well
# above a region's cost (2 threads: omp 1.5-6 us; workqueue ~52 us, measured with numba
# 0.68 here), and above every layer of the primer's CNN at its own size (the largest,
# the conv backward, takes ~46 us), which gains nothing from threads at that size.
# MOTIFNET_PARALLEL_MIN_NS overrides it.
PARALLEL_MIN_NS = {"omp": 100_000, "tbb": 100_000, "workqueue": 400_000}
_min_ns = [None]


def _parallel_min_ns() -> float:
    if _min_ns[0] is None:
        override = os.environ.get("MOTIFNET_PARALLEL_MIN_NS")
        if override:
            _min_ns[0] = float(override)
        else:
            try:  # the threading layer exists once Numba's pool is started (a few ms, once)
                from numba.np.ufunc.parallel import _launch_threads

                _launch_threads()
                layer = numba.threading_layer()
            except Exception:  # unknown: assume the costly one
                layer = "workqueue"
            _min_ns[0] = PARALLEL_MIN_NS.get(layer, PARALLEL_MIN_NS["workqueue"])
    return _min_ns[0]


def _sources_stamp(folder=None) -> str:
    """8 hex digits from the size and modification time of every kernel source file (of
    the ``.py`` files in ``folder``, this package's by default)."""
    folder = folder or os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.blake2b(digest_size=4)
    try:
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    except OSError:  # not a folder of files (a zip import): Numba could not cache there anyway
        pass
    return digest.hexdigest()


SOURCES_STAMP = _sources_stamp()


def _clone(fn, suffix):
    """``fn`` under the qualified name ``fn.__qualname__ + suffix``: the name of its cache files."""
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    functools.update_wrapper(clone, fn)
    clone.__qualname__ = fn.__qualname__ + suffix
    return clone


# At most this many sets of work arrays per thread (a set per kernel and shape): past it
# they are dropped and made again, so that a process that sees many shapes holds few.
SCRATCH_SETS = 64
_scratch = threading.local()


def scratch(key, make):
    """The work arrays that ``make()`` returns, made on the first call with this ``key``
    in this thread and returned again after: ``key`` must hold everything their shapes
    and dtypes depend on.  Their contents are undefined (whatever the last call left).
    Per thread, so that two Python threads running one kernel never share them."""
    try:
        sets = _scratch.sets
    except AttributeError:
        sets = _scratch.sets = {}
    arrays = sets.get(key)
    if arrays is None:
        if len(sets) >= SCRATCH_SETS:
            sets.clear()
        arrays = sets[key] = make()
    return arrays


def _njit(fn, **options):
    options = {"fastmath": set(FASTMATH), "error_model": ERROR_MODEL, **options}
    if CACHE:
        try:
            return numba.njit(cache=True, **options)(_clone(fn, f".<{SOURCES_STAMP}>"))
        except RuntimeError:  # "cannot cache function ...: no locator available"
            pass
    return numba.njit(cache=False, **options)(fn)


def jit(fn, nogil=False):
    """Compile ``fn`` as a serial nopython kernel (``prange`` acts as ``range``); with
    ``nogil``, a call releases the GIL while it runs."""
    return _njit(fn, nogil=nogil)


def jit_exact(fn):
    """Compile ``fn`` serially without fast-math flags: each multiply and add rounded as
    written, wherever the code is inlined.

    For element-wise kernels whose results other compiled code must reproduce bit for bit:
    Adam's update, which the cnn's compiled step (motifnet/compiled_step.py) runs inside its
    own call.  With ``contract``, LLVM may fuse either product of ``v * b2 + c2 * g * g``
    into an FMA, and the copy inlined into the compiled step did not always choose as the
    kernel compiled alone: exp_avg_sq differed in the last bit in 5,501 of 23,105 values
    after two steps (in some compilations, 2 of 4 cache names tried, whenever the step had
    run before in the process).  An element-wise loop vectorises without the flags; it loses nothing that
    they would buy (no reduction to reassociate).
    """
    return _njit(fn, fastmath=False)


def jit_parallel(fn, nogil=False):
    """Compile ``fn`` with ``parallel=True`` so its ``prange`` loops use threads.

    The same Python function may also be compiled serially with ``jit``.  Numba
    names a function's cache file after its module, qualified name and line,
    and its cache key does not include ``parallel``: both versions would share
    one cache entry and whichever compiled first would be loaded for both.  So
    the parallel version is compiled from a copy of ``fn`` whose qualified name
    ends in ``.<parallel>``, which gets a cache file of its own.
    """
    return _njit(_clone(fn, ".<parallel>"), parallel=True, nogil=nogil)


def use_parallel(work: int) -> bool:
    """Whether a call doing ``work`` inner-loop operations should use threads.

    This is the one place where serial or parallel is decided: every kernel's entry
    point asks it (directly, or through ``SerialOrParallel``) with its own count of
    inner-loop operations.
    """
    return work >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1


@contextlib.contextmanager
def one_thread(on: bool = True):
    """While the block runs (when ``on``), this Python thread's kernels run serially:
    Numba's thread count is per thread, set to 1 here and given back after.  For callers
    whose threads are their own (``motifnet scan``'s pool of scanning threads) or that
    must call the serial compilations (``motifnet.warmup``'s recording steps)."""
    if not on:
        yield
        return
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(n)


def use_threads(serial_ns: float) -> bool:
    """Whether a call whose serial time is about ``serial_ns`` nanoseconds should use
    threads: at least ``PARALLEL_MIN_NS`` of the threading layer in use, and threads
    not suspended by ``thread_outcome`` (a busy machine)."""
    # the cheap test first: a seed-sized layer is below the threshold, and asking Numba
    # for its thread count takes ~0.7 us (a lock), 13 times per training step of the CNN
    return (serial_ns >= _parallel_min_ns() and numba.get_num_threads() > 1
            and time.monotonic() >= _suspension["until"])


# Threads are suspended after STRIKES parallel calls in a row that lost, for a pause that
# doubles (up to MAX_PAUSE_S) while they keep losing.  The serial time is measured, not the
# calibrated ns_per_work: one call in PROBE_EVERY (and the first) above the threshold runs
# serially and is timed.  Judged against the calibrated figure, a machine slower than at
# calibration (a shared one, often ~1.7x here) made every parallel call "lose": at L = 200
# the fused conv + max-pool backward took 122 us on 2 threads against ~210 us serial, but
# more than the 115 us estimate, so threads were suspended and training at 2 threads ran
# slower than at 1 (0.87x in the benchmark at git ebd00d0).
#
# A call loses when it took more than STRIKE_RATIO times the serial estimate, or when the
# parallel calls' recent mean ratio (MEAN_WEIGHT per call, each capped at STRIKE_RATIO)
# is above 1.  Not every call slower than serial: on this VM the second core misses a few
# microseconds now and then, and the compiled step at L = 200 (median 0.64 of its serial
# time on 2 threads) had 49 of 3,223 calls at 1.0-2.2 of it, in bursts; three in a row
# suspended threads for a second (ten epochs of `python -m benchmarks.compiled_step_ab
# 200 8000 15`), which measured 1 -> 2 threads at 1.34x (quartiles 1.03-1.56) and 0.98x.
# With this rule: 1.42x and 1.57x (quartiles 1.39-1.45, 1.53-1.62), no suspension.  The
# busy machine this guards against costs a time slice per region: 5-50 times the serial
# time.  A kernel whose threads lose by less, but every time, still loses on the mean.
#
# Before suspending, the serial speed is measured again (``ProbeSchedule.reprobe``): this
# VM slows down as a whole by up to 1.5x for seconds at a time, and then the threaded calls
# lose against a probe taken before, although they still beat the serial run of the
# moment.  Logged over 16 epochs of the compiled step at L = 200 (20,000 sequences, 2
# threads): threaded steps at 0.8-0.95 of the last probe, then three at 1.5-1.8 of it, in
# all three suspensions, each of which then ran a second or more of steps serially (an
# epoch at 2 threads 0.82x the 1-thread one).  So the third strike asks the kernel's
# schedule for a fresh probe instead, and judges afresh; only a kernel that loses again
# against it, before any call that beats it, is suspended.  A busy machine costs one more
# losing call (a time slice) before the pause; outcomes reported without a schedule
# suspend at once, as before.
PROBE_EVERY = 32
STRIKES = 3
STRIKE_RATIO = 1.5
MEAN_WEIGHT = 0.125
MAX_PAUSE_S = 60.0
_suspension = {"strikes": 0, "until": 0.0, "pause": 1.0, "mean": 0.0}


def thread_outcome(elapsed_ns: float, serial_ns: float, schedule: "ProbeSchedule | None" = None) -> None:
    """Record how long a parallel call took against its estimated serial time; with the
    ``schedule`` whose probe gave that estimate, a third strike first asks it for a fresh
    probe (``ProbeSchedule.reprobe``), and suspends threads only when they lose again."""
    s = _suspension
    ratio = elapsed_ns / max(serial_ns, 1.0)
    # one call's hiccup moves the mean by at most MEAN_WEIGHT * STRIKE_RATIO: a single 5x
    # call had lifted a mean of 0.6 to 1.14, and the next two calls were strikes on it
    s["mean"] += MEAN_WEIGHT * (min(ratio, STRIKE_RATIO) - s["mean"])
    if ratio > STRIKE_RATIO or s["mean"] > 1.0:  # another process holds a core, or threads never pay
        s["strikes"] += 1
        if s["strikes"] >= STRIKES and schedule is not None and not schedule.verified:
            schedule.reprobe = True  # the next call measures the serial speed again
            s["strikes"] = STRIKES - 1  # one more loss against it suspends
            s["mean"] = 0.0  # judged afresh against the new probe
        elif s["strikes"] >= STRIKES:
            s["until"] = time.monotonic() + s["pause"]
            s["pause"] = min(2 * s["pause"], MAX_PAUSE_S)
            s["strikes"] = 0
            s["mean"] = 0.0  # judged afresh after the pause
            if schedule is not None:
                schedule.verified = False
    else:
        s["strikes"] = 0
        s["pause"] = max(1.0, s["pause"] / 2)
        if schedule is not None and ratio < 1.0:  # threads beat the probe: the next strikes need a new one
            schedule.verified = False


class ProbeSchedule:
    """Which calls above the threshold run serially to measure the serial speed, and which
    calls are timed, for anything with a serial and a threaded way to run: the kernels
    (``SerialOrParallel``) and the cnn's compiled training step (motifnet/compiled_step.py).

    ``next()`` gives ``(threaded, timed)``: the first call and every ``PROBE_EVERY``-th run
    serially (a probe, whose time becomes ``serial_rate``), the others threaded and judged
    against it (``thread_outcome``); so does the call after ``thread_outcome`` asked for a
    fresh probe (``reprobe``).  The first call of each way in this process compiles
    or loads its machine code (0.1-10 s), so it is neither a probe nor judged: a probe that
    had timed the loading took 514 ms for a 0.3 ms step, and made every parallel call
    "win" until the next probe.
    """

    def __init__(self):
        self.serial_rate = None  # the serial time per unit of work, as last measured by a probe
        self.calls = 0
        self.warm = set()  # of True / False: the ways (threaded or not) already called once
        self.reprobe = False  # thread_outcome asks for a probe before it suspends threads
        self.verified = False  # a probe was taken since the last strikes: more losses suspend

    def next(self) -> tuple[bool, bool]:
        self.calls += 1
        if self.reprobe:
            self.reprobe, self.verified = False, True
            threaded = False
        else:
            threaded = self.serial_rate is not None and self.calls % PROBE_EVERY != 0
        timed = threaded in self.warm
        self.warm.add(threaded)
        return threaded, timed


# True while motifnet.warmup records the kernels a run will call (``warmup.kernels_of``):
# kernels are not compiled or run then, only noted, and a call above the threshold notes
# both compilations instead of taking a turn of the kernel's probe schedule (which would
# note only the serial one, and leave the schedule a turn ahead of the real run).
RECORDING = [False]


# A threaded compilation costs about twice its serial one to compile (Numba compiles the
# prange loop's body again, as a function of its own, with everything it calls): 1.5-4 s
# for a kernel on this VM, ~10 s for the cnn's compiled step.  It saves at most half of
# its calls' serial time on two threads.  A first `motifnet train` of the cnn on 3,000 x
# 200 bp (5 epochs) took 19.5 s at 2 threads and 8.9 s at 1, and warm 1.80 s against
# 1.69 s: the threads never paid for their compiling.  So a threaded compilation runs only
# when it is in place (compiled in this process or in Numba's cache) or paid for: once the
# serial calls that wanted it have taken THREADS_PAYBACK_S on this machine, summed over
# runs (``ThreadsGate``).  The classic rent-or-buy rule: a machine that keeps running big
# jobs compiles it once, after at most about that long on one core; one that never does
# never pays.  MOTIFNET_THREADS_PAYBACK_S=0: every threaded compilation compiles at its
# first call, as before this rule (the test suite and the benchmarks run so: they test and
# time the threaded code itself).
THREADS_PAYBACK_S = 5.0
_gates = []  # every ThreadsGate, for the tally written at exit


def _payback_ns() -> float:
    try:
        return float(os.environ.get("MOTIFNET_THREADS_PAYBACK_S", THREADS_PAYBACK_S)) * 1e9
    except ValueError:
        return THREADS_PAYBACK_S * 1e9


def index_file(dispatcher) -> str | None:
    """The Numba cache index file of a kernel (a Numba internal; None if unknown or not cached)."""
    try:
        return os.fspath(dispatcher._cache._cache_file._index_path)
    except Exception:
        return None


def _index_exists(dispatcher) -> bool:
    """Whether Numba's cache holds a compilation of ``dispatcher`` (False when unknown)."""
    path = index_file(dispatcher)
    return path is not None and os.path.exists(path)


class ThreadsGate:
    """Whether a threaded compilation may run yet (comment above ``THREADS_PAYBACK_S``).

    ``ready()``: it is compiled in this process, or in the cache, or paid for, or no payback
    is asked (or Numba's cache is off: every run would compile it again anyway).  While it
    is not, its caller runs the serial compilation inside ``waiting()`` (or through
    ``timing(fn)``), whose time is added to the machine's tally for it; the first call
    after the tally reaches the payback compiles it.  The tally is kept per threaded
    compilation (by its cache name, which a kernel edit changes) in a note
    (``motifnet.cache_notes``), updated at exit.  It is time measured, as the probes' is
    (``ProbeSchedule``), so which call of a run first runs threaded depends on the
    machine's speed; calls after it may differ from serial ones in float rounding (a
    threaded backward sums its parts' gradients), as 1 and 2 threads do.
    """

    NOTE = "threads-tally"
    _tally = None  # the note as read at this process's first need: name -> ns

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher
        self.open = False
        self.added_ns = 0  # this process's part of the tally
        self._cached = None
        _gates.append(self)

    @property
    def name(self) -> str:
        fn = self.dispatcher.py_func
        return f"{fn.__module__}.{fn.__qualname__}"

    def ready(self) -> bool:
        if not self.open:
            payback = _payback_ns()
            if self._cached is None:
                self._cached = _index_exists(self.dispatcher)
            if (payback <= 0 or not CACHE or self._cached or self.dispatcher.signatures
                    or self.tally_ns() >= payback):
                self.open = True
        return self.open

    def add(self, serial_ns: int) -> None:
        """A serial call that wanted this threaded compilation took ``serial_ns``."""
        if not RECORDING[0]:  # motifnet.warmup's recording runs nothing
            self.added_ns += serial_ns

    @contextlib.contextmanager
    def waiting(self):
        """Around a serial call that wanted the threads: its time goes to the tally."""
        start = time.perf_counter_ns()
        try:
            yield
        finally:
            self.add(time.perf_counter_ns() - start)

    def timing(self, fn):
        """``fn`` (a serial compilation), its calls' time going to the tally."""
        def timed(*args):
            with self.waiting():
                return fn(*args)
        return timed

    def tally_ns(self) -> float:
        return ThreadsGate._read().get(self.name, 0.0) + self.added_ns

    @classmethod
    def _read(cls) -> dict:
        if cls._tally is None:
            cls._tally = {}
            try:
                import json

                from motifnet.cache_notes import note_path

                with open(note_path(cls.NOTE), encoding="utf-8") as fh:
                    tally = json.load(fh)
                cls._tally = {str(k): float(v) for k, v in tally.items()} if isinstance(tally, dict) else {}
            except (OSError, ValueError, TypeError, AttributeError):
                pass
        return cls._tally


def threads_waited_s() -> float:
    """Seconds this process's serial calls spent waiting for threaded compilations (their
    gates closed): ``motifnet``'s command line says so when it is noticeable."""
    return sum(g.added_ns for g in _gates) / 1e9


@atexit.register
def _write_tally() -> None:
    """Add this process's serial time that waited for threads to the machine's note (read
    again just before, so that runs in between keep theirs; two at the same moment may lose
    one's share, which only delays a compilation)."""
    added = {g.name: g.added_ns for g in _gates if g.added_ns > 0}
    if not added:
        return
    try:
        import json

        from motifnet.cache_notes import note_path, write_note

        ThreadsGate._tally = None
        # names carry the kernel sources' stamp (_clone): an edit or an upgrade starts afresh,
        # and the old names are dropped
        tally = {k: v for k, v in ThreadsGate._read().items() if k.endswith(f".<{SOURCES_STAMP}>")}
        for name, ns in added.items():
            tally[name] = tally.get(name, 0.0) + ns
        write_note(note_path(ThreadsGate.NOTE), json.dumps(tally, sort_keys=True) + "\n")
    except Exception:  # at exit: never a traceback for an optimisation
        pass


class SerialOrParallel:
    """One loop nest compiled twice: serially (``prange`` acts as ``range``) and with threads.

    ``kernel(work, *args)`` runs the parallel compilation when the call is big enough and
    the serial one otherwise: ``use_parallel(work)``, or, when ``ns_per_work`` (the
    measured serial nanoseconds of one unit of the kernel's work) is given,
    ``use_threads(work * ns_per_work)``; and only once its ``gate`` (``ThreadsGate``) lets
    it.  Both compile lazily, on their first call, so a run that never crosses the
    threshold never pays for the parallel one.  ``nogil``:
    both compilations release the GIL while they run (module docstring).
    """

    def __init__(self, fn, ns_per_work=None, nogil=False):
        self.serial = jit(fn, nogil=nogil)
        self.parallel = jit_parallel(fn, nogil=nogil)
        self.gate = ThreadsGate(self.parallel)
        self.ns_per_work = ns_per_work
        self._schedule = ProbeSchedule()  # its serial_rate: serial ns per unit of work
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def threaded(self, work) -> bool:
        """Whether a call doing ``work`` runs the parallel compilation."""
        if self.ns_per_work is None:
            return use_parallel(work)
        return use_threads(work * self.ns_per_work)

    def __call__(self, work, *args):
        kernel, _ = self.choose(work)
        return kernel(*args)

    def _both(self, *args):
        # the recording step's call above the threshold (``RECORDING``): both compilations a
        # real run may call, the serial one for its probes (kernels with ``ns_per_work``)
        if self.ns_per_work is not None:
            self.serial(*args)
        return self.parallel(*args)

    def choose(self, work):
        """``(function, number of threads it will use)`` for a call doing ``work``: for
        kernels that size thread-private buffers by the number of threads.  When
        ``ns_per_work`` is given, the parallel function returned is timed and judged
        (``thread_outcome``) against the serial speed this kernel last showed: the first
        call above the threshold, and every ``PROBE_EVERY``-th after it, runs the serial
        compilation instead and is timed (a probe)."""
        if not self.threaded(work):
            return self.serial, 1
        if RECORDING[0]:  # the compilations a real run will call: threaded ones only when ready
            return (self._both, numba.get_num_threads()) if self.gate.ready() else (self.serial, 1)
        if not self.gate.ready():  # until its threaded compilation is in place or paid for
            return self.gate.timing(self.serial), 1
        if self.ns_per_work is None:
            return self.parallel, numba.get_num_threads()
        schedule = self._schedule
        threaded, timed = schedule.next()
        if not threaded:
            serial = self.serial
            if not timed:
                return serial, 1

            def probe(*args):
                start = time.perf_counter_ns()
                result = serial(*args)
                schedule.serial_rate = (time.perf_counter_ns() - start) / max(work, 1)
                return result

            return probe, 1
        parallel = self.parallel
        if not timed:
            return parallel, numba.get_num_threads()
        serial_ns = work * schedule.serial_rate

        def timed(*args):
            start = time.perf_counter_ns()
            result = parallel(*args)
            thread_outcome(time.perf_counter_ns() - start, serial_ns, schedule)
            return result

        return timed, numba.get_num_threads()
