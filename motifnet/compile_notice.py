"""Say once, on stderr, that kernels are being compiled.

The first run on a machine (or after an upgrade, or with an empty ``NUMBA_CACHE_DIR``)
compiles every kernel it calls: a few seconds in which nothing else is printed.  Numba
broadcasts a ``"numba:compile"`` event for each function it compiles, and only then:
a function loaded from the cache sends none.  ``install()`` registers a listener that
prints one line the first time such an event starts, and nothing afterwards (the
listener stays registered, as a no-op: Numba's list of listeners is not safe to change
while it broadcasts).

Numba is imported by ``install()``, not by this module, so that a command which never
calls a kernel (``motifnet --help``) does not pay for it.
"""

from __future__ import annotations

import sys

# also said by a later run that compiles a threaded kernel once it pays (kernels/_jit.py,
# ThreadsGate): "once", not "first run only"
MESSAGE = ("motifnet: compiling kernels for this machine (once: later runs load them from "
           "Numba's cache)...")

_installed = {}  # stream id -> listener, so that install() twice does not print twice


def first_compile_listener(callback):
    """A Numba event listener that calls ``callback()`` once, when the first compilation
    after its registration starts (register it for ``"numba:compile"``), and then nothing.
    The notice below uses one; so does ``motifnet.warmup``, to start its helper late."""
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


def install(stream=None):
    """Register the listener; return it.  ``stream``: where to print (default: sys.stderr
    at the time of the first compilation)."""
    from numba.core import event

    def say():
        out = stream if stream is not None else sys.stderr
        try:
            print(MESSAGE, file=out, flush=True)
        except (OSError, ValueError):  # a closed or full stderr is not worth failing for
            pass

    key = id(stream)
    listener = _installed.get(key)
    if listener is None:
        listener = _installed[key] = first_compile_listener(say)
        event.register("numba:compile", listener)
    return listener
