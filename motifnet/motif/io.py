"""Motif files: read MEME minimal motif format and JASPAR matrices, write MEME.

Formats
-------
MEME minimal motif format (meme-suite.org/meme/doc/meme-format.html)::

    MEME version 4                              required, before any motif

    ALPHABET= ACGT                              DNA only (or an ALPHABET ... END ALPHABET
                                                block whose core letters are A, C, G, T)
    strands: + -                                optional
    Background letter frequencies               optional; pairs on the following lines
    A 0.25 C 0.25 G 0.25 T 0.25

    MOTIF MA0139.2 CTCF                         identifier [alternate name]
    letter-probability matrix: alength= 4 w= 19 nsites= 17 E= 4.1e-009
     0.09 0.32 0.08 0.51                        w rows of 4 probabilities, A C G T
     ...
    URL http://...                              optional

Every ``key= value`` of the matrix header is optional, in any order, with or
without spaces around ``=``; without ``w=`` the rows run to the first line that
is not a row; ``nsites= 0`` means unknown (as MEME reads it).  Lines the format
does not define (the text around the motifs in MEME's own ``meme.txt``, a
``log-odds matrix`` block, comments) are skipped.  A row must sum to 1 within
``ROW_SUM_TOLERANCE`` (hand-made and 6-digit files are not exact) and is
rescaled to sum to 1.

JASPAR (jaspar.elixir.no, "Download"), counts of each base at each position::

    >MA0139.2   CTCF                            '>' identifier, the rest of the line is the name
    A  [    87   167   281 ... ]                four rows, labelled A C G T (any order)
    C  [   291   145    49 ... ]                with or without the brackets
    G  [    76   414   449 ... ]
    T  [   459   187    34 ... ]

or ``.pfm``: four unlabelled rows in the order A, C, G, T, with a ``>`` header
or, for a file of one matrix, without (the file's stem is then its id).
Several matrices may follow each other.  Probabilities are counts divided by
the column total (no pseudocount, as in the shipped database); ``nsites`` is
the largest column total, or None when the columns already sum to 1.

``read_motifs`` tells the two apart by content: a ``MEME version`` line means
MEME; a first line starting with ``>``, a base label or a number means JASPAR.

Every problem in a file is a ``UserError`` of one line naming the file and the
1-based line, what was found and what was expected; files are opened through
``motifnet._io.open_input`` (regular files only, gzip read by content, a size
bound).  ``write_meme`` writes atomically (``motifnet._atomic``) with 6 decimals
per probability.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from motifnet._atomic import write_text
from motifnet._io import check_start, decode_line, iter_lines, open_input, source_name
from motifnet.errors import UserError
from motifnet.motif.pwm import BASES, Motif

WHAT = "a MEME or JASPAR motif file"  # what a motif file is, for messages
ROW_SUM_TOLERANCE = 0.1  # how far from 1 a MEME probability row may sum before it is an error
MAX_SHOWN = 40  # characters of an offending line quoted in an error message

# A decimal number as motif files write them; unlike float() this refuses
# "nan", "inf", "1_000" and non-ASCII digits, which no motif file means.
_NUMBER_TEXT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(_NUMBER_TEXT + r"\Z")
_NUMBER_ROW = re.compile(rf"(?:{_NUMBER_TEXT} )*{_NUMBER_TEXT}\Z")  # tokens joined by one space
_HEADER_FIELD = re.compile(r"([A-Za-z]+)\s*=\s*(\S*)")
_JASPAR_ROW = re.compile(r"([ACGTacgt])\s*:?\s*\[(.*)\]\s*\Z")
_JASPAR_LABELLED = re.compile(r"([ACGTacgt])\s*:?\s+(.*)\Z")


# --------------------------------------------------------------------------- text in

def _shown(text: str) -> str:
    """``text`` quoted for a one-line message (control characters escaped, long text cut)."""
    text = text.strip()
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + "..."
    return repr(text)


def _decode(data, name: str) -> list[str]:
    """The lines of ``data`` (bytes or str), without line ends.

    Bytes are decoded as the file readers decode them (``motifnet._io``): UTF-8,
    a byte-order mark skipped, ``\\n`` or ``\\r\\n`` endings; a byte that is not
    text is a ``UserError`` naming the line and column.
    """
    if isinstance(data, bytes):
        data = data[check_start(data[:4], name):]
        raw_lines = data.split(b"\n")
        if len(raw_lines) > 1 and not raw_lines[-1]:
            raw_lines.pop()  # the end of the last line, not a line of its own
        return [decode_line(raw[:-1] if raw.endswith(b"\r") else raw, name, number)
                for number, raw in enumerate(raw_lines, start=1)]
    # Only "\n" ends a line (str.splitlines would also split at form feeds and
    # other separators, and the line numbers would then disagree with an editor's).
    lines = [line[:-1] if line.endswith("\r") else line for line in data.split("\n")]
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def _read_lines(path) -> tuple[str, list[str]]:
    """``(name, lines)`` of a motif file, read through the one door for user files.

    ``motifnet._io.open_input`` refuses what is not a regular file, reads gzip
    by content and bounds the size; every failure is a one-line ``UserError``.
    """
    name = source_name(path)
    with open_input(path, WHAT) as stream:
        return name, [line for _, line in iter_lines(stream, name)]


def _number(token: str) -> float | None:
    """The finite value of ``token``, or None if it is not a plain decimal number."""
    if not _NUMBER.match(token):
        return None
    value = float(token)
    return value if math.isfinite(value) else None


def _numbers(tokens: list[str]) -> list[float] | None:
    """The values of ``tokens`` if every one is a finite plain decimal number, else None."""
    if not tokens or not _NUMBER_ROW.match(" ".join(tokens)):
        return None
    values = [float(t) for t in tokens]
    return values if all(map(math.isfinite, values)) else None


# --------------------------------------------------------------------------- MEME

def _is_keyword(stripped: str, keyword: str) -> bool:
    return stripped.startswith(keyword) and (len(stripped) == len(keyword) or not stripped[len(keyword)].isalnum())


class _MemeParser:
    """One pass over the lines of a MEME file; ``self.motifs`` holds what it read."""

    def __init__(self, lines: list[str], name: str):
        self.lines = lines
        self.name = name
        self.motifs: list[Motif] = []
        self.i = 0  # index of the next line to read
        self.current: dict | None = None  # the motif being read: id, name, line, pwm, nsites, url

    def error(self, line_index: int, message: str):
        raise UserError(f"{self.name} line {line_index + 1}: {message}")

    def parse(self) -> list[Motif]:
        self.skip_to_version()
        while self.i < len(self.lines):
            index, stripped = self.i, self.lines[self.i].strip()
            self.i += 1
            if stripped.startswith("ALPHABET="):
                self.alphabet_line(index, stripped[len("ALPHABET="):].strip())
            elif _is_keyword(stripped, "ALPHABET"):
                self.alphabet_block(index)
            elif stripped.startswith("strands:"):
                self.strands(index, stripped[len("strands:"):].split())
            elif stripped.startswith("Background letter frequencies"):
                self.background(index)
            elif _is_keyword(stripped, "MOTIF"):
                self.start_motif(index, stripped.split())
            elif stripped.startswith("letter-probability matrix"):
                self.matrix(index, stripped)
            elif _is_keyword(stripped, "URL") and self.current is not None:
                parts = stripped.split(None, 1)
                if len(parts) == 2:
                    self.current["url"] = parts[1].strip()
        self.finish_motif()
        if not self.motifs:
            self.error(len(self.lines) - 1, "end of file without a MOTIF; expected at least one "
                       "'MOTIF id' followed by a letter-probability matrix")
        return self.motifs

    def skip_to_version(self):
        """Skip to just after the 'MEME version' line (MEME output has text before it)."""
        while self.i < len(self.lines):
            index, stripped = self.i, self.lines[self.i].strip()
            self.i += 1
            if stripped.startswith("MEME version"):
                rest = stripped[len("MEME version"):].split()
                if not rest or not rest[0][:1].isdigit():
                    self.error(index, f"found {_shown(stripped)}; expected 'MEME version' and a "
                               f"version number, e.g. 'MEME version 4'")
                return
            if _is_keyword(stripped, "MOTIF"):
                self.error(index, "found MOTIF before the 'MEME version' line; expected the "
                           "'MEME version 4' line first")
        raise UserError(f"{self.name}: no 'MEME version' line; expected a MEME motif file "
                        f"(meme-suite.org/meme/doc/meme-format.html)")

    def alphabet_line(self, index: int, letters: str):
        if letters.upper() != BASES:
            self.error(index, f"alphabet {_shown(letters)} is not DNA; expected ALPHABET= ACGT "
                       f"(motifnet reads DNA motifs only)")

    def alphabet_block(self, index: int):
        """A custom alphabet definition: DNA only, i.e. its core letters are exactly A, C, G, T."""
        core: set[str] = set()
        while self.i < len(self.lines):
            stripped = self.lines[self.i].strip()
            self.i += 1
            if stripped.startswith("END ALPHABET"):
                break
            tokens = stripped.split()
            if not tokens or "=" in tokens:
                continue  # blank, or an ambiguous letter "N = ACGT"
            core.add(tokens[0].upper())
            if "~" in tokens and tokens.index("~") + 1 < len(tokens):  # "A ... ~ T ...": a complement pair
                core.add(tokens[tokens.index("~") + 1].upper())
        else:
            self.error(index, "alphabet definition without 'END ALPHABET'; expected a DNA alphabet "
                       "(ALPHABET= ACGT)")
        if core != set(BASES):
            letters = "".join(sorted(core)) or "no letters"
            self.error(index, f"alphabet with core letters {_shown(letters)} is not DNA; expected "
                       f"the core letters A, C, G, T (motifnet reads DNA motifs only)")

    def strands(self, index: int, tokens: list[str]):
        if not tokens or any(t not in ("+", "-") for t in tokens):
            self.error(index, f"found strands {_shown(' '.join(tokens))}; expected 'strands: + -' "
                       f"or 'strands: +'")

    def background(self, index: int):
        """Letter/frequency pairs on the lines after the header, up to a blank or other line."""
        seen = 0
        while self.i < len(self.lines):
            tokens = self.lines[self.i].split()
            if not tokens or len(tokens[0]) != 1 or not tokens[0].isalpha():
                break
            if len(tokens) % 2 or _numbers(tokens[1::2]) is None or not all(
                    len(t) == 1 and t.isalpha() for t in tokens[::2]):
                self.error(self.i, f"found {_shown(self.lines[self.i])}; expected background "
                           f"letter-frequency pairs like 'A 0.25 C 0.25 G 0.25 T 0.25'")
            if any(v < 0 or v > 1 for v in _numbers(tokens[1::2])):
                self.error(self.i, f"found {_shown(self.lines[self.i])}; expected background "
                           f"frequencies between 0 and 1")
            seen += 1
            self.i += 1
        if seen == 0 and self.i < len(self.lines) and self.lines[self.i].strip():
            self.error(self.i, f"found {_shown(self.lines[self.i])}; expected background "
                       f"letter-frequency pairs like 'A 0.25 C 0.25 G 0.25 T 0.25'")

    def start_motif(self, index: int, tokens: list[str]):
        self.finish_motif()
        if len(tokens) < 2:
            self.error(index, "found 'MOTIF' without an identifier; expected 'MOTIF id [name]'")
        self.current = {"id": tokens[1], "name": tokens[2] if len(tokens) > 2 else "", "line": index,
                        "pwm": None, "nsites": None, "url": None}

    def finish_motif(self):
        m, self.current = self.current, None
        if m is None:
            return
        if m["pwm"] is None:
            self.error(m["line"], f"motif {_shown(m['id'])} has no letter-probability matrix; "
                       f"expected 'letter-probability matrix:' and its rows after the MOTIF line")
        self.motifs.append(Motif(m["id"], m["name"], m["pwm"], m["nsites"], m["url"], self.name))

    def matrix(self, index: int, header: str):
        m = self.current
        if m is None:
            self.error(index, "found a letter-probability matrix outside a motif; expected a "
                       "'MOTIF id' line before it")
        if m["pwm"] is not None:
            self.error(index, f"found a second letter-probability matrix for motif {_shown(m['id'])}; "
                       f"expected one per MOTIF")
        width = None
        for key, value in _HEADER_FIELD.findall(header.split(":", 1)[1] if ":" in header else ""):
            number = _number(value)
            if key == "alength" and number != 4:
                self.error(index, f"found alength= {_shown(value)}; expected alength= 4 (DNA)")
            elif key == "w":
                if number is None or number != int(number) or number < 1:
                    self.error(index, f"found w= {_shown(value)}; expected a motif width >= 1")
                width = int(number)
            elif key == "nsites":
                if number is None or number < 0:
                    self.error(index, f"found nsites= {_shown(value)}; expected a number of sites >= 0")
                m["nsites"] = number or None  # 0 means unknown, as MEME reads it
        rows = []
        while self.i < len(self.lines) and (width is None or len(rows) < width):
            line = self.lines[self.i]
            tokens = line.split()
            if not tokens and not rows:  # blank lines before the first row
                self.i += 1
                continue
            values = _numbers(tokens)
            if values is None:
                if width is None:
                    break  # without w= the matrix ends at the first line that is not a row
                self.error(self.i, f"found {_shown(line)}; expected row {len(rows) + 1} of {width} "
                           f"of motif {_shown(m['id'])}: 4 probabilities (A C G T)")
            if len(values) != 4:
                self.error(self.i, f"found {len(values)} numbers; expected 4 probabilities (A C G T) "
                           f"in row {len(rows) + 1} of motif {_shown(m['id'])}")
            total = sum(values)
            if min(values) < 0 or abs(total - 1.0) > ROW_SUM_TOLERANCE:
                self.error(self.i, f"row {len(rows) + 1} of motif {_shown(m['id'])} has entries summing "
                           f"to {total:.6g} (smallest {min(values):.6g}); expected probabilities >= 0 "
                           f"summing to 1")
            rows.append([v / total for v in values])
            self.i += 1
        if width is not None and len(rows) < width:
            self.error(len(self.lines) - 1, f"end of file after {len(rows)} of {width} rows of motif "
                       f"{_shown(m['id'])}; expected {width} rows")
        if not rows:
            self.error(index + 1, f"no rows after the letter-probability matrix line of motif "
                       f"{_shown(m['id'])}; expected rows of 4 probabilities (A C G T)")
        m["pwm"] = np.array(rows, dtype=np.float64).T


def parse_meme(data, name: str = "<MEME text>") -> list[Motif]:
    """Motifs of MEME minimal-format text ``data`` (str or bytes); ``name`` is used in error messages.

    Raises
    ------
    UserError
        One line naming ``name`` and the 1-based line: no ``MEME version`` line,
        a non-DNA alphabet, a MOTIF without a matrix, a malformed matrix header
        or row, no motif at all.
    """
    return _MemeParser(_decode(data, name), name).parse()


def read_meme(path) -> list[Motif]:
    """The motifs of a MEME minimal-format file (see the module docstring)."""
    name, lines = _read_lines(path)
    return _MemeParser(lines, name).parse()


# --------------------------------------------------------------------------- JASPAR

def _jaspar_row(line: str) -> tuple[str | None, list[float] | None]:
    """``(label or None, numbers or None)`` of one matrix row of a JASPAR/pfm file."""
    stripped = line.strip()
    bracketed = _JASPAR_ROW.match(stripped)
    if bracketed:
        return bracketed.group(1).upper(), _numbers(bracketed.group(2).split())
    labelled = _JASPAR_LABELLED.match(stripped)
    if labelled and _numbers(labelled.group(2).split()) is not None:
        return labelled.group(1).upper(), _numbers(labelled.group(2).split())
    return None, _numbers(stripped.split())


def parse_jaspar(data, name: str = "<JASPAR text>") -> list[Motif]:
    """Motifs of JASPAR (``.jaspar``) or ``.pfm`` count-matrix text ``data`` (str or bytes).

    ``name`` is used in error messages; the id of a matrix without a ``>``
    header is the stem of ``name``.

    Raises
    ------
    UserError
        One line naming ``name`` and the 1-based line: a row that is not numbers,
        rows of different lengths, a wrong or repeated base label, not four rows,
        a negative count, a column with no counts, no matrix at all.
    """
    return _parse_jaspar_lines(_decode(data, name), name)


def _parse_jaspar_lines(lines: list[str], name: str) -> list[Motif]:
    motifs: list[Motif] = []
    header: tuple[int, str, str] | None = None  # (line index, id, name) of the matrix being read
    rows: list[tuple[int, str | None, list[float]]] = []

    def error(index: int, message: str):
        raise UserError(f"{name} line {index + 1}: {message}")

    def finish(end_index: int):
        if header is None and not rows:
            return
        where = header[0] if header else rows[0][0]
        motif_id = header[1] if header else Path(name).stem or "motif"
        if len(rows) != 4:
            error(end_index if rows else where, f"found {len(rows)} rows for matrix {_shown(motif_id)}; "
                  f"expected 4 (A, C, G, T)")
        labels = [label for _, label, _ in rows]
        if any(labels) and not all(labels):
            first = next(i for i, label, _ in rows if label is None)
            error(first, "found an unlabelled row among labelled ones; expected all four rows "
                  "labelled (A [ ... ]) or none")
        order = labels if all(labels) else list(BASES)
        counts = np.zeros((4, len(rows[0][2])))
        for (index, _, values), base in zip(rows, order):
            counts[BASES.index(base)] = values
        with np.errstate(over="ignore"):  # an overflowing total is reported just below
            total = counts.sum(axis=0)
        if not np.all(np.isfinite(total)):
            error(rows[0][0], f"matrix {_shown(motif_id)} has counts too large to add up; expected "
                  f"counts of sites")
        if np.any(total <= 0):
            j = int(np.flatnonzero(total <= 0)[0])
            error(rows[0][0], f"column {j + 1} of matrix {_shown(motif_id)} has no counts; expected "
                  f"counts >= 0 with a positive total in every column")
        nsites = float(total.max())
        motifs.append(Motif(motif_id, header[2] if header else "", counts / total,
                            None if nsites <= 1.0 + 1e-6 else nsites, None, name))

    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            finish(index)
            tokens = stripped[1:].split()
            if not tokens:
                error(index, "found '>' without an identifier; expected '>ID name'")
            header, rows = (index, tokens[0], " ".join(tokens[1:])), []
            continue
        label, values = _jaspar_row(stripped)
        if values is None:
            error(index, f"found {_shown(stripped)}; expected a '>ID name' header or a row of counts "
                  f"like 'A [ 87 167 281 ]'")
        if header is None and motifs:
            error(index, "found a matrix row after a complete matrix without a header; expected "
                  "'>ID name' before each matrix of a file with several")
        if len(rows) == 4:  # (a headerless matrix ends at its fourth row: see below)
            error(index, f"found a fifth row for matrix {_shown(header[1])}; expected four rows "
                  f"(A, C, G, T)")
        if label is not None and any(label == other for _, other, _ in rows):
            error(index, f"found a second row labelled {label}; expected one row each for A, C, G, T")
        if rows and len(values) != len(rows[0][2]):
            error(index, f"found {len(values)} counts; expected {len(rows[0][2])}, as in the row on "
                  f"line {rows[0][0] + 1}")
        if min(values) < 0:
            error(index, f"found a negative count ({min(values):g}); expected counts >= 0")
        rows.append((index, label, values))
        if header is None and len(rows) == 4:
            finish(index)
            rows = []
    finish(len(lines) - 1)
    if not motifs:
        raise UserError(f"{name}: no matrix found; expected '>ID name' headers each followed by four "
                        f"rows of counts (A, C, G, T)")
    return motifs


def read_jaspar(path) -> list[Motif]:
    """The matrices of a JASPAR (``.jaspar``) or ``.pfm`` file (see the module docstring)."""
    name, lines = _read_lines(path)
    return _parse_jaspar_lines(lines, name)


# --------------------------------------------------------------------------- either, by content

def detect_format(lines: list[str]) -> str | None:
    """``"meme"``, ``"jaspar"`` or None (neither) from the lines of a motif file."""
    if any(line.lstrip().startswith("MEME version") for line in lines):
        return "meme"
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith(">") or _jaspar_row(first)[1] is not None:
        return "jaspar"
    return None


def parse_motifs(data, name: str = "<motif text>") -> list[Motif]:
    """Motifs of MEME or JASPAR text ``data`` (str or bytes), the format told by content."""
    return _parse_any(_decode(data, name), name)


def _parse_any(lines: list[str], name: str) -> list[Motif]:
    kind = detect_format(lines)
    if kind == "meme":
        return _MemeParser(lines, name).parse()
    if kind == "jaspar":
        return _parse_jaspar_lines(lines, name)
    first = next(((i, line) for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise UserError(f"{name}: the file is empty; expected a MEME or JASPAR motif file")
    raise UserError(f"{name} line {first[0] + 1}: found {_shown(first[1])}; expected a MEME motif file "
                    f"(a 'MEME version' line) or JASPAR ('>ID name' then four rows of counts)")


def read_motifs(path) -> list[Motif]:
    """The motifs of a MEME or JASPAR file, the format told by content (see the module docstring).

    Raises
    ------
    UserError
        One line naming the file and line; no other exception escapes on bad input.
    """
    name, lines = _read_lines(path)
    return _parse_any(lines, name)


# --------------------------------------------------------------------------- MEME out

def _one_word(text: str) -> str:
    return "_".join(text.split())


def format_meme(motifs, background=(0.25, 0.25, 0.25, 0.25)) -> str:
    """MEME minimal-format text of ``motifs`` (probabilities with 6 decimals).

    A name with spaces is written with ``_`` for them (MEME's alternate name is
    one word).  ``nsites`` is written when known, ``URL`` when the motif has one.
    """
    background = [float(b) for b in background]
    if len(background) != 4 or min(background) < 0 or abs(sum(background) - 1) > 1e-6:
        raise ValueError(f"background must be 4 frequencies (A, C, G, T) summing to 1, got {background}")
    out = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
           "Background letter frequencies",
           " ".join(f"{b} {f:.6f}" for b, f in zip(BASES, background)), ""]
    for motif in motifs:
        if not motif.id or len(motif.id.split()) != 1:
            raise ValueError(f"motif id {motif.id!r} must be one word (no spaces) to be written as MEME")
        out.append(f"MOTIF {motif.id} {_one_word(motif.name)}".rstrip())
        header = f"letter-probability matrix: alength= 4 w= {motif.width}"
        if motif.nsites is not None:
            header += f" nsites= {motif.nsites:g}"
        out.append(header)
        out.extend(" " + "  ".join(f"{p:.6f}" for p in column) for column in motif.pwm.T)
        if motif.url:
            out.append(f"URL {motif.url}")
        out.append("")
    return "\n".join(out)


def write_meme(path, motifs, background=(0.25, 0.25, 0.25, 0.25)) -> None:
    """Write ``motifs`` to ``path`` in MEME minimal format, atomically (see ``format_meme``)."""
    write_text(path, format_meme(motifs, background))
