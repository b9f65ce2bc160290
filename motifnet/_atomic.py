"""Write files so that a reader never sees half of one.

Everything motifnet writes goes to a temporary file in the destination's folder
and is moved into place with ``os.replace`` (atomic on POSIX) only when it is
complete; an exception on the way leaves the old file, if any, untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    Usage::

        with atomic_path("out/model.npz") as tmp:
            np.savez(tmp, ...)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0o022)  # mkstemp makes the file 0600; give it a normal file's mode
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)


def save_figure(fig, path, dpi: int = 120) -> None:
    """Atomically save a matplotlib figure (``motifnet.plots.subplots``'s, no pyplot) as PNG.

    A figure with a layout engine (constrained layout) is saved as laid out; others are
    cropped to their contents ("tight"), which costs one more draw.
    """
    tight = fig.get_layout_engine() is None
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight" if tight else None)
