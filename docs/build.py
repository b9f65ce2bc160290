"""Run the docs: every code block of every page, in order; refresh the outputs and figures.

    python docs/build.py              # run every page, rewrite its output blocks, copy its figures
    python docs/build.py 03-backprop  # one page (a name, with or without .md)
    python docs/build.py --check      # run and compare with the pages, change nothing (exit 1 if stale)

What a page holds, and what this script does with it:

* a ```python block is code.  A page's blocks run in order in one fresh namespace (so a
  later block sees an earlier block's variables, as in a notebook), with a scratch folder
  as the working directory; a block's assertions are the page's claims, checked.
* a ```text block right after a ```python block (nothing but blank lines between them) is
  what that block prints.  This script writes it from the run, so every number shown
  is one the page's own code printed; ``tests/test_docs.py`` compares the run with it.
* a ```console block holds commands, each on a line starting with ``$ motifnet``, each
  followed by its output (stdout and stderr, as a terminal shows them).  The commands run
  in the same working folder, in-process (``motifnet.cli.main``), after the page's python
  blocks above them; the output is written from the run like a text block's.
* figures: the code writes them into ``figures/`` of its working folder; this script then
  copies them into ``docs/figures/`` (the tests leave them in a temporary folder).

The pages run in a scratch folder rather than in ``docs/`` itself so that the data files
and run folders a page makes (``bound.fa.gz``, ``runs/``) never land in the repository;
only the figures are kept.

Comparing a run with a page (``compare_output``): the text must be the same except for
numbers, which may differ by 10 % (or 1e-6 absolute: finite-difference residues of 1e-11
are noise), and durations (``1.2 s``), which may be anything.  Runs on one machine are
deterministic; the tolerance is for another machine's float rounding, not for a change
in what the code does.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent
FIGURES = DOCS / "figures"
# The pages in reading order: the index first, then the tutorial's path, then the op index.
PAGES = ("README.md", "01-primer.md", "02-attention.md", "03-backprop.md", "04-real-data.md", "ops.md")

_FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_DURATION = re.compile(r"[-+]?\d+(?:\.\d+)?(?: ?(?:ms|s|µs|us))(?![A-Za-z])")
RTOL, ATOL = 0.10, 1e-6


@dataclass
class Block:
    """One fenced block of a page: its kind, its text and where it is."""

    kind: str                    # "python", "console", "text", ...
    code: str                    # the block's content (for console: the whole block)
    line: int                    # 1-based line of the opening fence
    span: tuple[int, int]        # character offsets of the content in the page
    fence: tuple[int, int]       # character offsets of the whole block, fences included
    output: "Block | None" = None  # for python: the text block that shows its output

    def commands(self) -> list[tuple[str, str]]:
        """A console block's ``(command, shown output)`` pairs."""
        pairs: list[tuple[str, list[str]]] = []
        for line in self.code.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:].strip(), []))
            elif pairs:
                pairs[-1][1].append(line)
        return [(cmd, "\n".join(out).strip("\n")) for cmd, out in pairs]


@dataclass
class PageRun:
    """What running one page gave: each block's output, the figures written, the time taken."""

    page: str
    outputs: list[tuple[Block, str]] = field(default_factory=list)  # python and console blocks
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def parse(text: str) -> list[Block]:
    """The fenced blocks of a page, in order, each python block linked to its output block."""
    blocks = [Block(m.group(1).lower(), m.group(2), text.count("\n", 0, m.start()) + 1, m.span(2), m.span())
              for m in _FENCE.finditer(text)]
    for prev, nxt in zip(blocks, blocks[1:]):
        if prev.kind == "python" and nxt.kind == "text" and not text[prev.fence[1]:nxt.fence[0]].strip():
            prev.output = nxt
    return blocks


def read_page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


@contextlib.contextmanager
def _working_directory(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _kept_global_state():
    """NumPy's print options and the signal handlers, as they were (a page may change both)."""
    import numpy as np

    options = np.get_printoptions()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        np.set_printoptions(**options)
        for s, h in handlers.items():
            signal.signal(s, h)


def run_command(command: str) -> str:
    """Run ``motifnet ...`` in-process; its stdout and stderr as one text.  Raises if it fails."""
    from motifnet.cli import main

    argv = shlex.split(command)
    if not argv or argv[0] != "motifnet":
        raise ValueError(f"a console block runs motifnet commands only, got {command!r}")
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        status = main(argv[1:])
    if status != 0:
        raise RuntimeError(f"`{command}` exited with status {status}:\n{buffer.getvalue()}")
    return buffer.getvalue().rstrip("\n")


def run_page(name: str, workdir: Path, text: str | None = None) -> PageRun:
    """Run page ``name``'s python and console blocks in order, in ``workdir``.

    Each python block's printed output and each console command's output are recorded;
    an exception is re-raised naming the page and the block's line.  ``text`` replaces
    the page's own text (for testing this script).
    """
    text = read_page(name) if text is None else text
    run = PageRun(name)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "figures").mkdir(exist_ok=True)
    namespace = {"__name__": "__docs__"}
    start = time.perf_counter()
    with _working_directory(workdir), _kept_global_state():
        for block in parse(text):
            if block.kind == "python":
                buffer = io.StringIO()
                try:
                    code = compile(block.code, f"docs/{name}, block at line {block.line}", "exec")
                    with contextlib.redirect_stdout(buffer):
                        exec(code, namespace)
                except Exception as exc:
                    raise RuntimeError(f"docs/{name}: the python block at line {block.line} failed: "
                                       f"{type(exc).__name__}: {exc}\n--- its output so far:\n"
                                       f"{buffer.getvalue()}") from exc
                run.outputs.append((block, buffer.getvalue().rstrip("\n")))
            elif block.kind == "console":
                shown = []
                for command, _ in block.commands():
                    try:
                        shown.append(f"$ {command}\n{run_command(command)}".rstrip("\n"))
                    except Exception as exc:
                        raise RuntimeError(f"docs/{name}: the command `{command}` (console block at line "
                                           f"{block.line}) failed: {exc}") from exc
                run.outputs.append((block, "\n".join(shown)))
    run.seconds = time.perf_counter() - start
    run.figures = sorted((workdir / "figures").glob("*.png"))
    return run


# --------------------------------------------------------------------------- comparing
def _normalise(text: str) -> str:
    text = _DURATION.sub("<duration>", text)
    return "\n".join(" ".join(line.split()) for line in text.strip("\n").splitlines())


def compare_output(shown: str, actual: str) -> str | None:
    """None if ``actual`` matches what the page shows (see the module docstring), else why not."""
    a_lines, b_lines = _normalise(shown).splitlines(), _normalise(actual).splitlines()
    if len(a_lines) != len(b_lines):
        return f"the page shows {len(a_lines)} lines, the run printed {len(b_lines)}"
    for i, (a, b) in enumerate(zip(a_lines, b_lines), start=1):
        if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
            return f"line {i} differs:\n  page: {a}\n  run:  {b}"
        for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b)):
            u, v = float(x), float(y)
            if abs(u - v) > ATOL + RTOL * abs(u):
                return f"line {i}: the page shows {x}, the run printed {y}:\n  page: {a}\n  run:  {b}"
    return None


def stale_blocks(run: PageRun) -> list[str]:
    """Why each block's shown output disagrees with the run (empty: the page is up to date)."""
    problems = []
    for block, actual in run.outputs:
        if block.kind == "python":
            if block.output is None:
                continue  # a block whose output the page does not show
            shown = block.output.code
        else:
            shown = "\n".join(f"$ {cmd}\n{out}".rstrip("\n") for cmd, out in block.commands())
        why = compare_output(shown, actual)
        if why:
            kind = "output of the python block" if block.kind == "python" else "console block"
            problems.append(f"docs/{run.page}: {kind} at line {block.line}: {why}")
    return problems


def rewrite(name: str, run: PageRun) -> bool:
    """Write the run's outputs into the page's text and console blocks; True if the page changed.

    A block whose output differs from the run's only in durations and spacing is left as
    it is, so that rebuilding an unchanged page does not change it.
    """
    text = read_page(name)
    blocks = parse(text)
    by_line = {b.line: b for b in blocks}
    edits = []
    for block, actual in run.outputs:
        current = by_line[block.line]
        if current.kind == "python" and current.output is not None:
            target = current.output
        elif current.kind == "console":
            target = current
        else:
            continue
        if _normalise(target.code) != _normalise(actual):  # durations alone: keep the page as it is
            edits.append((target.span, actual + "\n"))
    new = text
    for (a, b), content in sorted(edits, reverse=True):
        new = new[:a] + content + new[b:]
    if new != text:
        (DOCS / name).write_text(new, encoding="utf-8")
    return new != text


def figure_references(name: str) -> list[str]:
    """The figure files a page shows (``![...](figures/x.png)``)."""
    return re.findall(r"!\[[^\]]*\]\(figures/([^)\s]+)\)", read_page(name))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="pages to run (default: all, in reading order)")
    parser.add_argument("--check", action="store_true", help="compare only; change no file")
    args = parser.parse_args(argv)
    names = [p if p.endswith(".md") else p + ".md" for p in args.pages] or list(PAGES)
    failed = False
    with tempfile.TemporaryDirectory(prefix="motifnet-docs-") as scratch:
        for name in names:
            run = run_page(name, Path(scratch) / Path(name).stem)
            problems = stale_blocks(run)
            missing = sorted(set(figure_references(name)) - {f.name for f in run.figures})
            for m in missing:
                problems.append(f"docs/{name}: shows figures/{m}, which its code did not write")
            if args.check:
                failed |= bool(problems)
                status = "up to date" if not problems else f"{len(problems)} stale"
                for p in problems:
                    print(p)
            else:
                FIGURES.mkdir(exist_ok=True)
                for f in run.figures:
                    shutil.copyfile(f, FIGURES / f.name)
                changed = rewrite(name, run)
                status = "outputs rewritten" if changed else "unchanged"
                for m in missing:
                    print(f"docs/{name}: shows figures/{m}, which its code did not write")
                    failed = True
            print(f"{name}: {len(run.outputs)} blocks, {len(run.figures)} figures, {run.seconds:.1f} s: {status}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
