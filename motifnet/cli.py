"""The ``motifnet`` command line.

Each subcommand lives in ``motifnet/commands/<name>.py`` and defines
``add_parser(subparsers)`` (its flags and help) and ``run(args) -> int`` (its
exit status).  The promises every command keeps are kept here, once:

* an error in the user's input (a ``UserError`` raised anywhere below) is one line on
  stderr, exit status 2, no traceback;
* Ctrl-C (SIGINT) is one line, "interrupted", exit status 130; SIGTERM the same with
  143.  Output folders and files are written through ``motifnet.outputs``, which
  removes what an interrupted command had started, so nothing half-written stays.
  (Ctrl-C inside a Numba loop can surface as a ``SystemError`` whose cause is the
  ``KeyboardInterrupt``, and during an extension module's import as an ``ImportError``:
  once a signal has arrived, any exception is recognised as the interrupt it is);
* a closed or full standard output, or a broken pipe, is one line too (a broken pipe,
  as in ``motifnet predict ... | head``, is not an error).
"""

from __future__ import annotations

import signal
import sys


def _early_interrupt(signum, frame):
    # until main() installs the real handlers: a signal while the modules below import
    raise KeyboardInterrupt() if signum == signal.SIGINT else SystemExit(143)


if __name__ == "motifnet.cli" and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    # first thing, so that Ctrl-C while argparse and the commands import is already ours
    signal.signal(signal.SIGINT, _early_interrupt)
    signal.signal(signal.SIGTERM, _early_interrupt)

import argparse  # noqa: E402
import errno  # noqa: E402
import importlib  # noqa: E402
import os  # noqa: E402

from motifnet import __version__
from motifnet.errors import UserError

# The subcommands, in the order --help lists them.
COMMANDS = (
    "train",
    "predict",
    "scan",
    "interpret",
    "compare",
    "explain",
    "gradcheck",
)


_STDOUT_ERRNOS = {errno.ENOSPC, errno.EBADF, errno.EIO, errno.EDQUOT, errno.EFBIG}


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt is for SIGINT."""


_received = {"signal": None}
_announce_compilation = {"on": False}  # set by entry(): the command line, not main() called as a function


def _on_signal(signum, frame):
    _received["signal"] = signum
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise in the main thread (and are remembered, see ``_interrupt_of``)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _interrupt_of(exc: BaseException):
    """The signal behind ``exc`` (KeyboardInterrupt, Terminated, an exception caused by one, or any
    exception once a signal has arrived), or None."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, Terminated):
            return signal.SIGTERM
        if isinstance(exc, KeyboardInterrupt):
            return signal.SIGINT
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return _received["signal"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag or value is one line on stderr (exit 2) like every error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="motifnet",
        description="Find transcription-factor binding sites with small neural networks whose every "
        "layer is a hand-written Numba kernel (no deep-learning framework).",
    )
    parser.add_argument("--version", action="version", version=f"motifnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"motifnet.commands.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(run=module.run, prepare=getattr(module, "prepare", None))
    return parser


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    except OSError:
        pass


def _stderr(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError, AttributeError):
        pass


# a run whose kernels waited this long on one thread for their threaded versions says so
THREADS_WAITED_NOTICE_S = 1.0


def _say_threads_waited() -> None:
    """One line on stderr when kernels of this run that could have used threads ran on one
    for a noticeable time, their threaded compilations neither cached nor paid for yet
    (``motifnet/kernels/_jit.py``, ``ThreadsGate``): why a second core stayed idle."""
    jit = sys.modules.get("motifnet.kernels._jit")
    waited = jit.threads_waited_s() if jit is not None else 0.0
    if waited >= THREADS_WAITED_NOTICE_S:
        _stderr(f"motifnet: {waited:.1f} s of kernel calls ran on one thread: their threaded versions compile once "
                f"such calls add up to {jit._payback_ns() / 1e9:g} s on this machine (MOTIFNET_THREADS_PAYBACK_S; "
                f"0 compiles them at once)")


def main(argv=None) -> int:
    _received["signal"] = None
    install_signal_handlers()
    command = "motifnet"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "run", None) is None:
            parser.print_help()
            return 2
        command = f"motifnet {args.command}"
        if args.prepare is not None:  # work to start before Numba's import (motifnet.warmup)
            args.prepare(args)
        if _announce_compilation["on"]:
            from motifnet.compile_notice import install

            install()  # one line on stderr if this run compiles kernels (a first run)
        status = int(args.run(args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()
        if _announce_compilation["on"]:
            _say_threads_waited()
        return status
    except UserError as exc:
        _stderr(f"{command}: error: {exc}")
        return 2
    except BrokenPipeError:  # e.g. `motifnet predict ... | head`: the reader has all it wanted
        _silence_stdout()
        return 0
    except BaseException as exc:  # noqa: BLE001 - interrupts, then output failures, then bugs
        # an interrupt can surface as another exception: a SystemError from a Numba loop, an
        # ImportError when it lands inside an extension module's import (numpy's, seen here);
        # once a signal has arrived, whatever follows is its consequence
        signum = _interrupt_of(exc)
        if signum is not None:
            _silence_stdout()
            _stderr(f"{command}: interrupted")
            return 143 if signum == signal.SIGTERM else 130
        if isinstance(exc, OSError) and getattr(exc, "filename", None) is None and exc.errno in _STDOUT_ERRNOS:
            # a write to standard output failed (a full disk, a closed descriptor): commands turn
            # their own files' errors into UserErrors that name them
            _silence_stdout()
            _stderr(f"{command}: error: cannot write to standard output: {exc.strerror or exc}")
            return 2
        if isinstance(exc, SystemExit):
            raise
        raise


def entry() -> None:
    """The console script and ``python -m motifnet``: ``main()``, then exit with its status.

    After an interrupt the process leaves with ``os._exit``: when a KeyboardInterrupt passed
    through C code that runs Python source (CPython's ``run_eval_code_obj``, used by some
    extension modules while importing), CPython remembers it as "unhandled" even though
    ``main`` handled it, and at exit kills itself with SIGINT instead of returning 130
    (seen here once in a dozen interrupts during start-up under load).  Everything to keep
    is written and flushed by then.
    """
    _announce_compilation["on"] = True
    status = main()
    if status in (130, 143):
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(status)
    raise SystemExit(status)
