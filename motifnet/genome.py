"""Genomic intervals (BED) and a genome held as int8 codes; windows of one width around peaks.

BED
---
``read_bed`` reads 3 or more columns separated by tabs (or, in a line without
tabs, by spaces): ``chrom start end [name [score [strand ...]]]``, 0-based and
half-open as UCSC defines it (the first base of a chromosome is ``chr1 0 1``).
``track``, ``browser`` and ``#`` lines and blank lines are skipped.  A line of
exactly 10 columns is ENCODE narrowPeak, whose column 10 is the summit's offset
from ``start`` (-1: no summit).

Genome
------
``read_genome`` reads a FASTA (plain or gzip) into one int8 code array per
chromosome (A 0, C 1, G 2, T 3, N -1, as ``motifnet.data.encode``): one byte per
base, so a 3 Gb genome needs 3 GB.  ``Genome.fetch(chrom, start, end)`` gives a
read-only view.

Windows
-------
``windows_from_intervals`` cuts ``width`` bases centred on each interval's
summit (narrowPeak) or midpoint: the window is ``[c - width // 2, c - width //
2 + width)`` for the centre base ``c`` (``summit``, or ``(start + end) // 2``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from motifnet import _io
from motifnet.data import iter_fasta_records, reverse_complement
from motifnet.errors import UserError

NARROWPEAK_COLUMNS = 10
_INT = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_SKIPPED_FIRST_WORDS = ("track", "browser")


@dataclass(frozen=True)
class Interval:
    """A genomic interval, 0-based half-open: bases ``start .. end - 1`` of ``chrom``.

    Attributes
    ----------
    chrom : str
    start, end : int
        ``0 <= start < end``.
    name : str or None
        BED column 4.
    score : float or None
        BED column 5 (None for ``.``).
    strand : str
        ``+``, ``-`` or ``.`` (BED column 6; ``.`` when absent).
    summit : int or None
        Absolute 0-based position of the summit (narrowPeak: ``start`` + column 10).
    line : int
        1-based line of the BED file it came from; 0 if it was not read from a file.
    """

    chrom: str
    start: int
    end: int
    name: str | None = None
    score: float | None = None
    strand: str = "."
    summit: int | None = None
    line: int = 0

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def center(self) -> int:
        """The summit if there is one, else the midpoint ``(start + end) // 2``."""
        return self.summit if self.summit is not None else (self.start + self.end) // 2

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}"


# --------------------------------------------------------------------------- BED

def _whole_number(text: str, what: str, where: str, hint: str = "") -> int:
    if not _INT.fullmatch(text):
        raise UserError(f"{where}: {what} {text!r} is not a whole number{hint}")
    return int(text)


def read_bed(path) -> list[Interval]:
    """Read a BED file (3+ columns; narrowPeak summits), plain or gzip, path or URL.

    Returns
    -------
    list of Interval
        In file order, each with its line number.

    Raises
    ------
    UserError
        Naming the file and line: fewer than 3 columns, an empty column, a start
        or end that is not a whole number, a negative start, ``end <= start``, a
        score that is not a number, a strand other than ``+ - .``, a summit
        offset past the interval, or no interval at all.
    """
    name = _io.source_name(path)
    intervals = []
    with _io.open_input(path, "a BED file") as stream:
        for number, text in _io.iter_lines(stream, name):
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            fields = [f.strip() for f in text.split("\t")] if "\t" in text else text.split()
            if fields[0] in _SKIPPED_FIRST_WORDS:
                continue
            intervals.append(_parse_bed_fields(fields, f"{name} line {number}", number))
    if not intervals:
        raise UserError(f"{name}: no intervals; expected BED lines 'chrom<TAB>start<TAB>end' "
                        f"(0-based, half-open)")
    return intervals


def _parse_bed_fields(fields: list[str], where: str, number: int) -> Interval:
    if len(fields) < 3:
        raise UserError(f"{where}: {len(fields)} column{'s' if len(fields) != 1 else ''}, "
                        f"expected at least 3 (chrom, start, end)")
    for k, field in enumerate(fields):
        if not field:
            raise UserError(f"{where}: column {k + 1} is empty; expected tab-separated values")
    hint = " (a header line? start it with '#')" if number == 1 else ""
    start = _whole_number(fields[1], "start", where, hint)
    end = _whole_number(fields[2], "end", where, hint)
    if start < 0:
        raise UserError(f"{where}: start {start} is negative; BED coordinates are 0-based, >= 0")
    if end <= start:
        raise UserError(f"{where}: end {end} is not greater than start {start} (BED intervals "
                        f"are 0-based, half-open: end > start)")
    score = None
    if len(fields) >= 5 and fields[4] != ".":
        if not _NUMBER.fullmatch(fields[4]):
            raise UserError(f"{where}: score {fields[4]!r} (column 5) is not a number")
        score = float(fields[4])
    strand = fields[5] if len(fields) >= 6 else "."
    if strand not in ("+", "-", "."):
        raise UserError(f"{where}: strand {strand!r} (column 6) is not +, - or .")
    summit = None
    if len(fields) == NARROWPEAK_COLUMNS:
        offset = _whole_number(fields[9], "summit offset (narrowPeak column 10)", where)
        if offset >= end - start:
            raise UserError(f"{where}: summit offset {offset} (narrowPeak column 10) is not "
                            f"inside the interval of length {end - start}; expected -1 or "
                            f"0..{end - start - 1}")
        if offset >= 0:
            summit = start + offset
    return Interval(fields[0], start, end, fields[3] if len(fields) >= 4 else None, score,
                    strand, summit, number)


# --------------------------------------------------------------------------- genome

class Genome:
    """Chromosomes as int8 code arrays (A 0, C 1, G 2, T 3, N -1), read-only.

    Parameters
    ----------
    chroms : dict of str -> numpy.ndarray of int8
        In the genome's order.
    name : str
        How messages name the genome (its file).

    Attributes
    ----------
    names : list of str
        Chromosome names in file order.
    sizes : dict of str -> int
    name : str
    """

    def __init__(self, chroms: dict, name: str = "genome"):
        self.name = name
        self._codes = {}
        for chrom, codes in chroms.items():
            codes = np.asarray(codes, dtype=np.int8).view()  # a view: the caller's array stays writable
            if codes.ndim != 1:
                raise ValueError(f"chromosome {chrom!r}: codes must be 1-D, got shape {codes.shape}")
            codes.flags.writeable = False
            self._codes[str(chrom)] = codes
        self.names = list(self._codes)
        self.sizes = {chrom: int(codes.size) for chrom, codes in self._codes.items()}

    def __contains__(self, chrom) -> bool:
        return chrom in self._codes

    def __len__(self) -> int:
        return len(self._codes)

    def __repr__(self) -> str:
        return f"Genome({self.name!r}, {len(self)} chromosomes, {sum(self.sizes.values())} bp)"

    def codes(self, chrom: str) -> np.ndarray:
        """The whole chromosome's codes (a read-only array)."""
        if chrom not in self._codes:
            raise UserError(self.unknown_chromosome(chrom))
        return self._codes[chrom]

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of bases ``start .. end - 1`` of ``chrom`` (a read-only view).

        Raises
        ------
        UserError
            An unknown chromosome, or a range outside ``[0, size]`` or empty.
        """
        codes = self.codes(chrom)
        if not 0 <= start < end <= codes.size:
            raise UserError(f"{chrom}:{start}-{end} is not inside {chrom} (length {codes.size}) "
                            f"of {self.name}; expected 0 <= start < end <= {codes.size}")
        return codes[start:end]

    def unknown_chromosome(self, chrom: str) -> str:
        """The message for a chromosome name the genome does not have, with the names it has."""
        shown = ", ".join(self.names[:6]) + (f", ... ({len(self.names)} in all)"
                                             if len(self.names) > 6 else "")
        alias = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        hint = f"; did you mean {alias!r}? (UCSC and Ensembl name chromosomes differently)" \
            if alias in self._codes else ""
        return f"chromosome {chrom!r} is not in {self.name} (it has {shown}){hint}"


def read_genome(path) -> Genome:
    """Read a genome FASTA (plain or gzip, path or URL) into a ``Genome``.

    Each record is one chromosome, named by its header's first word.

    Raises
    ------
    UserError
        As ``motifnet.data.iter_fasta``, and for a chromosome name given twice
        (naming both lines).
    """
    name = _io.source_name(path)
    chroms: dict[str, np.ndarray] = {}
    lines: dict[str, int] = {}
    for record in iter_fasta_records(path):
        if record.id in chroms:
            raise UserError(f"{name} line {record.line}: chromosome {record.id!r} appears twice "
                            f"(first at line {lines[record.id]}); expected one record per chromosome")
        chroms[record.id] = record.codes
        lines[record.id] = record.line
    return Genome(chroms, name)


# --------------------------------------------------------------------------- windows

def _where(bed_name: str, interval: Interval, index: int) -> str:
    if interval.line:
        return f"{bed_name} line {interval.line}"
    return f"{bed_name} interval {index + 1} ({interval})"


def check_width(width) -> int:
    """``width`` as an int, or ``UserError`` unless it is a whole number >= 1."""
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise UserError(f"width must be a whole number of bases >= 1, got {width!r}")
    return int(width)


def windows_from_intervals(genome: Genome, intervals, width: int, bed_name: str,
                           stranded: bool = False) -> tuple[np.ndarray, list[Interval]]:
    """Windows of ``width`` bases centred on each interval's summit or midpoint.

    Parameters
    ----------
    genome : Genome
    intervals : list of Interval
        As from ``read_bed``.
    width : int
        Bases per window.
    bed_name : str
        The BED file's name, for messages.
    stranded : bool
        If True, windows of ``-`` strand intervals are reverse-complemented.

    Returns
    -------
    codes : numpy.ndarray of int8, shape (N, width)
    windows : list of Interval
        The window of each interval (its name, score, strand and line kept).

    Raises
    ------
    UserError
        Naming the BED file and line: a chromosome the genome does not have
        (listing those it has), an interval past the chromosome's end, a window
        that would start before 0 or end past the chromosome's end.
    """
    width = check_width(width)
    codes = np.empty((len(intervals), width), dtype=np.int8)
    windows = []
    for i, iv in enumerate(intervals):
        if iv.chrom not in genome:
            raise UserError(f"{_where(bed_name, iv, i)}: {genome.unknown_chromosome(iv.chrom)}")
        size = genome.sizes[iv.chrom]
        if iv.end > size:
            raise UserError(f"{_where(bed_name, iv, i)}: end {iv.end} is past the end of "
                            f"{iv.chrom} (length {size}) in {genome.name}")
        center = iv.center
        start = center - width // 2
        end = start + width
        if start < 0:
            raise UserError(f"{_where(bed_name, iv, i)}: the {width} bp window centred on "
                            f"{iv.chrom}:{center} would start at {start}, before the start of "
                            f"{iv.chrom}; use a smaller width or drop this interval")
        if end > size:
            raise UserError(f"{_where(bed_name, iv, i)}: the {width} bp window centred on "
                            f"{iv.chrom}:{center} would end at {end}, past the end of {iv.chrom} "
                            f"(length {size}); use a smaller width or drop this interval")
        window = genome.fetch(iv.chrom, start, end)
        codes[i] = reverse_complement(window) if stranded and iv.strand == "-" else window
        windows.append(Interval(iv.chrom, start, end, iv.name, iv.score, iv.strand, iv.summit,
                                iv.line))
    return codes, windows


def merge_intervals(intervals) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per chromosome: sorted, non-overlapping (starts, ends) covering the intervals."""
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    for iv in intervals:
        by_chrom.setdefault(iv.chrom, []).append((iv.start, iv.end))
    merged = {}
    for chrom, spans in by_chrom.items():
        spans.sort()
        starts, ends = [spans[0][0]], [spans[0][1]]
        for s, e in spans[1:]:
            if s < ends[-1]:
                ends[-1] = max(ends[-1], e)
            else:
                starts.append(s)
                ends.append(e)
        merged[chrom] = (np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))
    return merged
