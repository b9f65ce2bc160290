"""Outputs that appear complete or not at all, and never clobber what the user had.

Every command writes through one of two context managers:

* ``OutputFolder(path, force, command)`` for a folder of results (a run, an
  interpretation, a scan).  The files are written into a hidden temporary folder
  beside ``path`` (``.<name>.tmp-<pid>-<random>``), which is renamed into place
  only when the ``with`` block ends normally; an error, Ctrl-C or SIGTERM removes
  it.  Each folder motifnet writes carries a marker file, ``.motifnet-output``
  (JSON: command, version, time), and ``force=True`` replaces an existing folder
  only if it carries one: a folder of the user's is never deleted.  Temporary
  folders left by a killed process (SIGKILL, power loss) are recognised by their
  name and dead pid and removed by the next run that writes beside them.
* ``OutputFile(path, force)`` for one file: written to a temporary file in the
  same folder and moved over ``path`` atomically; an existing file is replaced
  only with ``force=True``.

Every ``OSError`` on the way (a full disk, a read-only folder, a permission) is a
``UserError`` naming the path, so the command line prints one line and exits 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from motifnet.errors import UserError

MARKER = ".motifnet-output"
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)-[0-9a-f]{6}$")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_temporaries(parent: Path, name: str) -> list[Path]:
    """Remove ``.<name>.tmp-<pid>-*`` / ``.old-`` folders of dead processes in ``parent``."""
    removed = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m and m.group("name") == name and not _pid_alive(int(m.group("pid"))) and entry.is_dir() \
                and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _hidden_sibling(out: Path, tag: str) -> Path:
    """A new, empty, hidden folder beside ``out`` (os.mkdir, so the umask applies)."""
    while True:
        path = out.parent / f".{out.name}.{tag}-{os.getpid()}-{os.urandom(3).hex()}"
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue


def is_motifnet_output(folder: Path) -> bool:
    """Whether ``folder`` is a folder motifnet wrote (it carries the marker file)."""
    return (folder / MARKER).is_file()


def check_output_folder(out: Path, force: bool, flag: str = "--out") -> None:
    """Fail early (before any work) if ``out`` cannot become the output folder."""
    out = Path(os.path.abspath(out))
    ancestor = out.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        why = "not a folder" if not ancestor.is_dir() else "permission denied"
        raise UserError(f"{flag} {out}: cannot create a folder in {ancestor} ({why})")
    if out.exists() or out.is_symlink():
        if out.is_symlink() or not out.is_dir():
            raise UserError(f"{flag} {out} exists and is not a folder; choose another {flag}")
        cwd = Path.cwd().resolve()
        if out.resolve() == cwd or out.resolve() in cwd.parents:
            raise UserError(f"{flag} {out} contains the current folder; choose another {flag}")
        if any(out.iterdir()):
            if not force:
                raise UserError(f"{flag} {out} exists and is not empty; choose another {flag} or pass --force "
                                f"to replace it")
            if not is_motifnet_output(out):
                raise UserError(f"{flag} {out} is not a folder motifnet wrote (it has no {MARKER} file); "
                                f"refusing to replace it, even with --force")


class OutputFolder:
    """``with OutputFolder(path, force, command) as tmp:`` write into ``tmp`` (a Path).

    On a normal exit the folder is moved to ``path`` (replacing an earlier motifnet output
    there when ``force``); on any exception, Ctrl-C or SIGTERM it is removed and the
    exception propagates.  See the module docstring.
    """

    def __init__(self, path, force: bool = False, command: str = "motifnet", flag: str = "--out"):
        self.path = Path(os.path.abspath(path))  # "." has no name
        self.force, self.command, self.flag = force, command, flag
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        check_output_folder(self.path, self.force, self.flag)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            clean_stale_temporaries(self.path.parent, self.path.name)
            self.tmp = _hidden_sibling(self.path, "tmp")
            from motifnet import __version__

            (self.tmp / MARKER).write_text(json.dumps(
                {"command": self.command, "motifnet_version": __version__,
                 "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
        except OSError as exc:
            if self.tmp is not None:
                shutil.rmtree(self.tmp, ignore_errors=True)
            raise UserError(f"{self.flag} {self.path}: cannot create a folder there: {_reason(exc)}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise UserError(f"{self.flag} {self.path}: cannot write the results: {_reason(exc)}") from None
            return False
        try:
            self._move_into_place()
        except OSError as exc:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise UserError(f"{self.flag} {self.path}: cannot write the results: {_reason(exc)}") from None
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        return False

    def _move_into_place(self) -> None:
        out, tmp = self.path, self.tmp
        check_output_folder(out, self.force, self.flag)  # again: it may have appeared meanwhile
        if out.is_dir() and any(out.iterdir()):
            old = _hidden_sibling(out, "old")
            os.rename(out, old / "previous")  # out disappears for a moment, never half-written
            try:
                os.rename(tmp, out)
            except BaseException:
                os.rename(old / "previous", out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            if out.is_dir():
                os.rmdir(out)  # empty: os.rename cannot replace a folder otherwise
            os.rename(tmp, out)


class OutputFile:
    """``with OutputFile(path, force) as tmp:`` write ``tmp``; it replaces ``path`` atomically.

    An existing ``path`` is replaced only with ``force``; a folder never.
    """

    def __init__(self, path, force: bool = False, flag: str = "--out"):
        self.path = Path(path)
        self.force, self.flag = force, flag
        self.tmp = None

    def __enter__(self) -> str:
        path = self.path
        if path.is_dir():
            raise UserError(f"{self.flag} {path} is a folder; expected a file name")
        if (path.exists() or path.is_symlink()) and not self.force:
            raise UserError(f"{self.flag} {path} exists; choose another name or pass --force to replace it")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
            umask = os.umask(0o022)  # mkstemp makes the file 0600; give it a normal file's mode
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
        except OSError as exc:
            raise UserError(f"{self.flag} {path}: cannot write there: {_reason(exc)}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                os.replace(self.tmp, self.path)
                return False
            except OSError as exc2:
                exc_type, exc = OSError, exc2
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)
        if isinstance(exc, OSError):
            raise UserError(f"{self.flag} {self.path}: cannot write: {_reason(exc)}") from None
        return False


def write_stdout(text: str) -> None:
    """Write the command's result to standard output, or fail with one line saying why.

    A closed standard output (``motifnet predict ... >&-``) would otherwise swallow the
    result silently; a full disk surfaces at the flush.  A broken pipe propagates
    (the command line treats it as the reader having had enough).
    """
    import sys

    if sys.stdout is None:
        raise UserError("standard output is closed; write the results to a file with --out FILE")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserError(f"cannot write to standard output: {reason}") from None
