"""The ``motifnet`` command line.

Each subcommand lives in ``motifnet/commands/<name>.py`` and defines
``add_parser(subparsers)`` (its flags and help) and ``run(args) -> int`` (its
exit status).  Errors in the user's input are raised as ``UserError`` anywhere
below and printed here as one line on stderr with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from motifnet import __version__
from motifnet.errors import UserError

# The subcommands, in the order --help lists them.
COMMANDS = (
    "train",
    "predict",
    "interpret",
    "compare",
    "gradcheck",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag or value is one line on stderr (exit 2) like every error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="motifnet",
        description="Find transcription-factor binding sites with small CNNs whose every "
        "layer is a hand-written Numba kernel (no deep-learning framework).",
    )
    parser.add_argument("--version", action="version", version=f"motifnet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"motifnet.commands.{name}")
        sub = module.add_parser(subparsers)
        sub.set_defaults(run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"motifnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"motifnet {args.command}: interrupted", file=sys.stderr)
        return 130
