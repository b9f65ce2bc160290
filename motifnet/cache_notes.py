"""Small files a run leaves beside Numba's cache for the runs after it.

Two kinds: ``motifnet.warmup``'s note of the cache index files a model's kernels need (so
that a warm run knows it is warm before it imports Numba), and ``kernels/_jit.py``'s tally
of the serial time that calls spent waiting for a threaded compilation (``ThreadsGate``).
Each is one small file per kind, Python and motifnet install, in ``NUMBA_CACHE_DIR`` when
it is set (it goes with that cache), else in the user's cache folder
(``$XDG_CACHE_HOME/motifnet``, ``~/.cache/motifnet``).  Imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile


def note_path(kind: str) -> str:
    """Where the note ``kind`` (a short plain name) of this Python and install lives."""
    key = "\0".join((sys.executable, os.path.dirname(os.path.abspath(__file__)),
                     os.environ.get("MOTIFNET_NO_CACHE", "")))
    name = f"motifnet-{kind}-" + hashlib.sha1(key.encode()).hexdigest()[:16]
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.path.join(os.environ["NUMBA_CACHE_DIR"], name)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "motifnet", name)


def write_note(path: str, text: str) -> bool:
    """Write ``text`` to ``path`` whole or not at all (a file beside it, renamed into
    place); False when it could not (a read-only home: the note is only an optimisation)."""
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".motifnet-note-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False
