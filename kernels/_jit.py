"""The one place where Numba options are chosen for every kernel.

Kernels never call ``numba.njit`` themselves; they use ``jit`` (serial) or
``jit_parallel`` (loops written with ``prange`` run on Numba's thread pool).

Why these options:

* ``fastmath``: only the flags that let LLVM fuse multiply-adds, reassociate
  sums (so reductions vectorise) and use fast approximate maths functions.
  ``nnan`` and ``ninf`` are left out on purpose: with them LLVM may assume no
  NaN or inf ever appears, and a NaN produced by bad data would silently turn
  into garbage instead of propagating.  (Same choice as stumpy's config.)
* ``error_model="numpy"``: float division by zero gives inf/NaN instead of
  raising, which is also what lets loops that divide vectorise.
* ``cache=True``: compiled machine code is stored next to the sources
  (``__pycache__``) and a warm start skips compilation (~2.7 s -> ~1 s here).
  Numba raises at decoration time when no cache directory is writable
  (read-only site-packages, no ``NUMBA_CACHE_DIR``); we then compile without a
  cache rather than fail to import.  ``MOTIFNET_NO_CACHE=1`` turns it off.
* ``parallel``: a ``prange`` region costs ~1-2 us with the tbb/OpenMP
  threading layers but ~100 us with Numba's fallback "workqueue" layer, which
  is what a plain ``pip install numba`` gets.  A seed-sized layer takes tens of
  microseconds, so kernels compile a serial *and* a parallel version of the
  same loop nest and the wrapper picks the parallel one only when a call has at
  least ``PARALLEL_MIN_WORK`` multiply-adds (see ``use_parallel``).
"""

from __future__ import annotations

import functools
import os
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


def _njit(fn, **options):
    options = dict(fastmath=set(FASTMATH), error_model=ERROR_MODEL, **options)
    if CACHE:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            pass
    return numba.njit(cache=False, **options)(fn)


def jit(fn):
    """Compile ``fn`` as a serial nopython kernel (``prange`` acts as ``range``)."""
    return _njit(fn)


def jit_parallel(fn):
    """Compile ``fn`` with ``parallel=True`` so its ``prange`` loops use threads.

    The same Python function may also be compiled serially with ``jit``.  Numba
    names a function's cache file after its module, qualified name and line,
    and its cache key does not include ``parallel``: both versions would share
    one cache entry and whichever compiled first would be loaded for both.  So
    the parallel version is compiled from a copy of ``fn`` whose qualified name
    ends in ``.<parallel>``, which gets a cache file of its own.
    """
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    functools.update_wrapper(clone, fn)
    clone.__qualname__ = fn.__qualname__ + ".<parallel>"
    return _njit(clone, parallel=True)


def use_parallel(work: int) -> bool:
    """Whether a call doing ``work`` inner-loop operations should use threads.

    This is the one place where serial or parallel is decided: every kernel's entry
    point asks it (directly, or through ``SerialOrParallel``) with its own count of
    inner-loop operations.
    """
    return work >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1


class SerialOrParallel:
    """One loop nest compiled twice: serially (``prange`` acts as ``range``) and with threads.

    ``kernel(work, *args)`` runs the parallel compilation when ``use_parallel(work)`` and
    the serial one otherwise.  Both compile lazily, on their first call, so a run that
    never crosses the threshold never pays for the parallel one.
    """

    def __init__(self, fn):
        self.serial = jit(fn)
        self.parallel = jit_parallel(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    def __call__(self, work, *args):
        if use_parallel(work):
            return self.parallel(*args)
        return self.serial(*args)

    def choose(self, work):
        """``(compiled function, number of threads it will use)`` for a call doing ``work``:
        for kernels that size thread-private buffers by the number of threads."""
        if use_parallel(work):
            return self.parallel, numba.get_num_threads()
        return self.serial, 1
