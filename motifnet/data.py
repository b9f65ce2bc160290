"""DNA sequence data: the primer's text files, FASTA, integer codes, one-hot, synthetic data, splits.

Formats
-------
- The primer's two-file format (Zou et al. 2019, "A primer on deep learning in
  genomics"): ``sequences.txt`` holds one sequence per line, ``labels.txt`` one
  0/1 label per line, line i of one belonging to line i of the other.
- FASTA: ``>id description`` header lines, each followed by one or more
  sequence lines of any length; records of any length; blank lines and
  whitespace inside sequence lines are ignored (as Biopython does).

Every file may be plain text or gzip (recognised by its content, not its name),
a path or an ``http(s)://`` URL; all are opened by ``motifnet._io.open_input``
(regular files only, a byte bound, one-line errors).

Bases are A, C, G, T in either case (lowercase is soft-masking and reads as
uppercase).  N and the IUPAC ambiguity letters R Y S W K M B D H V are "some
base we do not know" and read as N.  Anything else is an error naming the
file, line and column.

Codes
-----
``encode`` turns sequences into int8 codes: A 0, C 1, G 2, T 3, N (or an
ambiguity letter) -1, and -1 again as padding past each sequence's length.
``one_hot_codes`` makes torch-layout (N, 4, L) float32 from them, code -1 giving
an all-zero column.  Every conversion is a 256-entry table lookup on the bytes
(no loop over characters in Python).

Every problem in a file is raised as ``UserError`` naming the file (or URL) and
the 1-based line, in one line of text, so the command line can print it as is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from motifnet import _io
from motifnet._io import URL_TIMEOUT  # noqa: F401  (kept: older code imports it from here)
from motifnet.errors import UserError

from motifnet.constants import ALPHABET, PRIMER_MOTIF  # noqa: E402  (re-exported: data.ALPHABET, ...)
AMBIGUITY = "NRYSWKMBDHV"  # read as N: an all-zero one-hot column
N_CODE = -1
_INVALID = -2

# Byte -> code: A/a 0, C/c 1, G/g 2, T/t 3, N and ambiguity letters (either case) -1,
# anything else -2 (an error).
_CODE = np.full(256, _INVALID, dtype=np.int8)
for _i, _base in enumerate(ALPHABET):
    _CODE[ord(_base)] = _CODE[ord(_base.lower())] = _i
for _base in AMBIGUITY:
    _CODE[ord(_base)] = _CODE[ord(_base.lower())] = N_CODE
del _i, _base
_CODE_BYTES = _CODE.view(np.uint8).tobytes()  # the same table for bytes.translate (-1 as 0xff)
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)  # code -> letter; decode maps -1 to index 4

_VALID = (ALPHABET + AMBIGUITY).encode()
_VALID_BOTH_CASES = _VALID + _VALID.lower()
_WHITESPACE = b" \t\r\n\v\f"
_UPPER = bytes.maketrans(_VALID.lower(), _VALID)
_COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")
_EXPECTED_BASES = "expected A, C, G, T, N or an IUPAC ambiguity letter (R Y S W K M B D H V)"

FASTA_BLOCK = 1 << 20  # bytes read at a time: memory per open FASTA, however long its records


# --------------------------------------------------------------------------- text helpers

def _codes_of_text(text: str) -> np.ndarray:
    """Code (see ``_CODE``) of every character of ``text``; non-ASCII characters get -2.

    ``errors="replace"`` makes each non-ASCII character one ``?`` so that code i
    is character i.
    """
    return _CODE[np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)]


def _bad_base_message(text: str, col: int) -> str:
    return f"unexpected character {text[col]!r} at column {col + 1}; {_EXPECTED_BASES}"


def _first_bad(lines: list[str]) -> tuple[int, int] | None:
    """``(line index, column index)`` of the first character that is not a base letter, or None."""
    codes = _codes_of_text("".join(lines))
    bad = np.flatnonzero(codes == _INVALID)
    if bad.size == 0:
        return None
    ends = np.cumsum([len(line) for line in lines])
    row = int(np.searchsorted(ends, bad[0], side="right"))
    return row, int(bad[0] - (ends[row - 1] if row else 0))


def _read_lines(source, what: str) -> tuple[str, list[str]]:
    """``(name, lines)`` with trailing whitespace stripped.

    Blank lines at the end are dropped; a blank line before a non-blank one is
    an error naming it; a file with no non-blank line is an error.
    """
    name = _io.source_name(source)
    with _io.open_input(source, f"a text file with {what}") as stream:
        lines = [line.rstrip() for _, line in _io.iter_lines(stream, name)]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise UserError(f"{name}: file is empty; expected {what}")
    if not all(lines):
        first_blank = lines.index("") + 1
        raise UserError(f"{name} line {first_blank}: blank line (blank lines are allowed only "
                        f"at the end of the file); expected {what}")
    return name, lines


# --------------------------------------------------------------------------- primer format

def read_sequences(path_or_url) -> list[str]:
    """Read the primer's ``sequences.txt``: one DNA sequence per line.

    Parameters
    ----------
    path_or_url : str or path-like
        A file path or an ``http://``/``https://`` URL, plain or gzip.

    Returns
    -------
    list of str
        The sequences as written (case kept), trailing whitespace removed.
        Lengths may differ.

    Raises
    ------
    UserError
        Naming the file and line: unreadable or empty file, a blank line in the
        middle, a character that is not a base letter (see the module notes).
    """
    name, lines = _read_lines(path_or_url, "one DNA sequence per line")
    if lines[0].startswith(">"):
        raise UserError(f"{name} line 1: starts with '>', which looks like FASTA; expected one "
                        f"sequence per line (use the FASTA options for FASTA files)")
    bad = _first_bad(lines)
    if bad is not None:
        row, col = bad
        raise UserError(f"{name} line {row + 1}: {_bad_base_message(lines[row], col)}")
    return lines


def read_labels(path_or_url) -> np.ndarray:
    """Read the primer's ``labels.txt``: one label, 0 or 1, per line.

    Returns
    -------
    numpy.ndarray of int8, shape (N,)

    Raises
    ------
    UserError
        Naming the file and line: unreadable or empty file, a blank line in the
        middle, a label other than 0 or 1.
    """
    name, lines = _read_lines(path_or_url, "one label (0 or 1) per line")
    labels = np.empty(len(lines), dtype=np.int8)
    for i, line in enumerate(lines):
        value = line.strip()
        if value == "0":
            labels[i] = 0
        elif value == "1":
            labels[i] = 1
        else:
            raise UserError(f"{name} line {i + 1}: label {value!r} is not 0 or 1")
    return labels


def load_primer(sequences, labels) -> tuple[list[str], np.ndarray]:
    """Read a ``sequences.txt``/``labels.txt`` pair (paths or URLs) and check they match.

    Returns
    -------
    (seqs, labels) : (list of str, numpy.ndarray of int8)
        Sequence lengths may differ.
    """
    seqs = read_sequences(sequences)
    y = read_labels(labels)
    if len(seqs) != len(y):
        raise UserError(f"{sequences} has {len(seqs)} sequences but {labels} has {len(y)} "
                        f"labels; expected one label per sequence")
    return seqs, y


# --------------------------------------------------------------------------- FASTA

class FastaRecord(NamedTuple):
    """One FASTA record: its id (the header's first word), int8 codes, header line (1-based)."""

    id: str
    codes: np.ndarray
    line: int


def _fasta_bad_byte(name, stream, seg, k, line, col, at_block_end):
    """``UserError`` for the first invalid byte ``seg[k]`` of a sequence segment.

    ``line`` is the line number at ``seg[0]`` and ``col`` the bytes of that line
    consumed before ``seg[0]``.  The bytes before ``k`` on its line are valid
    (ASCII) letters or whitespace, so byte columns are character columns.
    """
    line += seg.count(b"\n", 0, k)
    start = seg.rfind(b"\n", 0, k) + 1
    column = (k - start if start else col + k) + 1
    tail = seg[k:k + 4]
    if len(tail) < 4 and at_block_end:
        tail += stream.read(4 - len(tail))  # a character cut by the block's end
    why = _io.describe_bad_text(tail, 0, column)
    if why is not None:
        return UserError(f"{name} line {line}: {why}")
    char = tail.decode("utf-8", errors="ignore")[:1] or chr(seg[k])
    return UserError(f"{name} line {line}: unexpected character {char!r} at column {column}; "
                     f"{_EXPECTED_BASES}")


def _fasta_events(stream, name: str) -> Iterator[tuple]:
    """Parse FASTA from a binary stream, block by block, in O(block) memory.

    Yields ``("start", id, line)``, then ``("bases", bytes)`` pieces of the
    record's sequence (uppercase letters, whitespace removed, validated), then
    ``("end", id, line, length)``; and so on for each record.

    A block may end anywhere, in a header or inside a sequence line, so that a
    chromosome written on one line is never held whole.
    """
    line = 1  # line number of the next unread byte
    col = 0  # bytes of that line already read (0: at the start of a line)
    in_header = False
    header_parts: list[bytes] = []
    header_line = 0
    current: tuple[str, int] | None = None  # (id, header line) of the open record
    length = 0
    n_records = 0
    first_block = True
    while True:
        block = stream.read(FASTA_BLOCK)
        if first_block:
            first_block = False
            while 0 < len(block) < 4:  # enough to see a byte-order mark whatever the block size
                more = stream.read(4 - len(block))
                if not more:
                    break
                block += more
            block = block[_io.check_start(block[:4], name):]
        if not block:
            break
        pos, n = 0, len(block)
        while pos < n:
            if in_header:
                newline = block.find(b"\n", pos)
                if newline < 0:
                    header_parts.append(block[pos:])
                    col += n - pos
                    pos = n
                    continue
                header_parts.append(block[pos:newline])
                pos = newline + 1
                in_header = False
                line, col = line + 1, 0
                if current is not None:
                    yield _end_record(name, current, length)
                current, length = (_header_id(name, b"".join(header_parts), header_line),
                                   header_line), 0
                n_records += 1
                yield ("start", current[0], header_line)
                continue
            if col == 0 and block[pos] == 0x3E:  # '>' at the start of a line
                in_header, header_parts, header_line = True, [], line
                pos, col = pos + 1, 1
                continue
            next_header = block.find(b"\n>", pos)
            end = next_header + 1 if next_header >= 0 else n
            seg = block[pos:end]
            bases = seg.translate(_UPPER, _WHITESPACE)
            if bases:
                bad = bases.translate(None, _VALID)
                if bad:
                    raise _fasta_bad_byte(name, stream, seg, seg.index(bad[:1]), line, col,
                                          end == n)
                if current is None:
                    first = len(seg) - len(seg.lstrip(_WHITESPACE))
                    where = line + seg.count(b"\n", 0, first)
                    raise UserError(f"{name} line {where}: sequence before the first '>' header; "
                                    f"expected a FASTA file starting with '>id'")
                length += len(bases)
                yield ("bases", bases)
            newlines = seg.count(b"\n")
            if newlines:
                line += newlines
                col = len(seg) - seg.rfind(b"\n") - 1
            else:
                col += len(seg)
            pos = end
    if in_header:  # the file ends in a header line without a line feed
        if current is not None:
            yield _end_record(name, current, length)
        current, length = (_header_id(name, b"".join(header_parts), header_line), header_line), 0
        n_records += 1
        yield ("start", current[0], header_line)
    if current is not None:
        yield _end_record(name, current, length)
    if n_records == 0:
        raise UserError(f"{name}: no FASTA records; expected '>id' header lines followed by "
                        f"sequence lines")


def _header_id(name: str, raw: bytes, number: int) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    words = _io.decode_line(b">" + raw, name, number)[1:].split()  # '>' counts in columns
    if not words:
        raise UserError(f"{name} line {number}: header '>' without an id; "
                        f"expected '>id [description]'")
    return words[0]


def _end_record(name: str, current: tuple[str, int], length: int) -> tuple:
    rec_id, number = current
    if length == 0:
        raise UserError(f"{name} line {number}: record {rec_id!r} has no sequence")
    return ("end", rec_id, number, length)


def iter_fasta_records(path, max_length: int | None = None) -> Iterator[FastaRecord]:
    """Stream FASTA records as int8 codes, one record at a time.

    Parameters
    ----------
    path : str or path-like
        A file path or an http(s) URL, plain or gzip.
    max_length : int, optional
        A record longer than this is a ``UserError`` raised as soon as the
        reader passes this many bases (so a chromosome given by mistake is never
        held whole).

    Yields
    ------
    FastaRecord
        ``(id, codes, line)``: codes as in ``encode`` (A0 C1 G2 T3, N -1).
    """
    name = _io.source_name(path)
    with _io.open_input(path, "a FASTA file") as stream:
        # Codes are appended to a bytearray, which the result then shares (no copy): a
        # chromosome costs about its length in memory, not the 3x of joining then converting.
        codes = bytearray()
        for event in _fasta_events(stream, name):
            kind = event[0]
            if kind == "bases":
                codes += event[1].translate(_CODE_BYTES)
                if max_length is not None and len(codes) > max_length:
                    raise UserError(f"{name} line {rec_line}: record {rec_id!r} is longer than "
                                    f"{max_length} bases, the maximum length (raise the maximum "
                                    f"if this is meant, e.g. with --max-length)")
            elif kind == "start":
                rec_id, rec_line, codes = event[1], event[2], bytearray()
            else:
                yield FastaRecord(rec_id, np.frombuffer(codes, dtype=np.int8), rec_line)
                codes = bytearray()


def iter_fasta(path) -> Iterator[tuple[str, str]]:
    """Stream a FASTA file (path or URL, plain or gzip) one record at a time.

    Yields
    ------
    (id, sequence) : (str, str)
        The id is the header's first word; the sequence is uppercased (soft
        masking dropped), ambiguity letters kept as written, any length.

    Raises
    ------
    UserError
        Naming the file and line: unreadable or empty file, a sequence line
        before the first header, a header without an id, a record without
        sequence, a character that is not a base letter (with its column).
    """
    name = _io.source_name(path)
    with _io.open_input(path, "a FASTA file") as stream:
        parts: list[bytes] = []
        for event in _fasta_events(stream, name):
            kind = event[0]
            if kind == "bases":
                parts.append(event[1])
            elif kind == "start":
                parts = []
            else:
                yield event[1], b"".join(parts).decode("ascii")
                parts = []


def read_fasta(path) -> list[tuple[str, str]]:
    """Read a FASTA file (path or URL, plain or gzip): ``>id description`` headers, multi-line records.

    Returns
    -------
    list of (id, sequence)
        In file order; sequence lines joined and uppercased; records may have
        any length.  See ``iter_fasta`` for the details and errors.
    """
    return list(iter_fasta(path))


def iter_fasta_chunks(path, chunk_size: int, overlap: int = 0) -> Iterator[tuple[str, int, np.ndarray]]:
    """Stream a FASTA file as overlapping chunks of int8 codes, in O(chunk_size) memory.

    Parameters
    ----------
    path : str or path-like
        A file path or an http(s) URL, plain or gzip.
    chunk_size : int
        Bases per chunk (the last chunk of a record may be shorter).
    overlap : int
        Bases shared by consecutive chunks of one record, ``0 <= overlap <
        chunk_size``: a scanner with windows of ``w`` bases passes ``w - 1`` so
        that every window lies whole in some chunk.

    Yields
    ------
    (record_id, start, codes) : (str, int, numpy.ndarray of int8)
        ``codes`` holds bases ``start .. start + len(codes) - 1`` (0-based) of
        the record, coded as in ``encode``; each chunk is a fresh array.  Chunk
        k of a record starts at ``k * (chunk_size - overlap)``; a record's last
        chunk is yielded only if it holds bases the previous one did not.

    Raises
    ------
    UserError
        As ``iter_fasta``; and for a chunk size or overlap out of range.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise UserError(f"chunk size must be a whole number >= 1, got {chunk_size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, (int, np.integer)) \
            or not 0 <= overlap < chunk_size:
        raise UserError(f"chunk overlap must be a whole number in [0, chunk size {chunk_size}), "
                        f"got {overlap!r}")
    chunk_size, overlap = int(chunk_size), int(overlap)
    name = _io.source_name(path)
    buffer = np.empty(chunk_size, dtype=np.int8)
    with _io.open_input(path, "a FASTA file") as stream:
        for event in _fasta_events(stream, name):
            kind = event[0]
            if kind == "start":
                rec_id, fill, start, emitted = event[1], 0, 0, False
            elif kind == "bases":
                codes = np.frombuffer(event[1].translate(_CODE_BYTES), dtype=np.int8)
                i = 0
                while i < codes.size:
                    take = min(chunk_size - fill, codes.size - i)
                    buffer[fill:fill + take] = codes[i:i + take]
                    fill += take
                    i += take
                    if fill == chunk_size:
                        yield rec_id, start, buffer.copy()
                        emitted = True
                        buffer[:overlap] = buffer[chunk_size - overlap:]
                        fill = overlap
                        start += chunk_size - overlap
            elif not emitted or fill > overlap:
                yield rec_id, start, buffer[:fill].copy()


def load_fasta_pair(pos, neg) -> tuple[list[str], np.ndarray, list[str]]:
    """Read positive (label 1) and negative (label 0) FASTA files into one data set.

    Returns
    -------
    (seqs, labels, ids) : (list of str, numpy.ndarray of int8, list of str)
        Positives first, then negatives, each in file order; any lengths.
    """
    pos_records = read_fasta(pos)
    neg_records = read_fasta(neg)
    records = pos_records + neg_records
    labels = np.concatenate([np.ones(len(pos_records), np.int8),
                             np.zeros(len(neg_records), np.int8)])
    return [s for _, s in records], labels, [i for i, _ in records]


# --------------------------------------------------------------------------- encoding

def _as_strings(seqs) -> list[str]:
    if isinstance(seqs, str):
        raise TypeError("seqs must be a list of sequences, got one str; use [seq]")
    if isinstance(seqs, np.ndarray):
        seqs = seqs.ravel()
    return [s.decode("ascii", errors="replace") if isinstance(s, bytes) else str(s) for s in seqs]


def encode(seqs) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of DNA sequences of any lengths, padded to the longest.

    Parameters
    ----------
    seqs : list of str (or bytes), or numpy.ndarray of str
        Base letters in either case; N and ambiguity letters read as N.

    Returns
    -------
    codes : numpy.ndarray of int8, shape (N, L_max)
        A 0, C 1, G 2, T 3, N -1; -1 past each sequence's length.
    lengths : numpy.ndarray of int64, shape (N,)

    Raises
    ------
    UserError
        Naming the sequence index (0-based) and column of a character that is
        not a base letter.
    """
    seqs = _as_strings(seqs)
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    flat = _codes_of_text("".join(seqs))
    bad = np.flatnonzero(flat == _INVALID)
    if bad.size:
        ends = np.cumsum(lengths)
        i = int(np.searchsorted(ends, bad[0], side="right"))
        j = int(bad[0] - (ends[i - 1] if i else 0))
        raise UserError(f"sequence index {i}: {_bad_base_message(seqs[i], j)}")
    width = int(lengths.max()) if len(seqs) else 0
    codes = np.full((len(seqs), width), N_CODE, dtype=np.int8)
    codes[np.arange(width) < lengths[:, None]] = flat  # row-major: sequence after sequence
    return codes, lengths


def decode(codes, lengths=None) -> list[str]:
    """Strings of code rows: the inverse of ``encode`` up to case and ambiguity letters.

    Parameters
    ----------
    codes : numpy.ndarray of int, shape (N, L)
        A 0, C 1, G 2, T 3; any negative code (N, padding) becomes ``N``.
    lengths : array of int, shape (N,), optional
        Cut row i to ``lengths[i]`` characters (dropping the padding).

    Returns
    -------
    list of str
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (N, L), got shape {codes.shape}")
    letters = _LETTERS[np.where(codes < 0, 4, codes)]
    rows = [row.tobytes().decode("ascii") for row in letters]
    if lengths is None:
        return rows
    return [row[:n] for row, n in zip(rows, np.asarray(lengths).tolist())]


def one_hot_codes(codes) -> np.ndarray:
    """One-hot (N, 4, L) float32 of int8 codes (N, L); code -1 (N, padding) is a zero column.

    Parameters
    ----------
    codes : numpy.ndarray of integers, shape (N, L)
        As made by ``encode``: 0..3 for A, C, G, T, -1 for no base.

    Returns
    -------
    numpy.ndarray of float32, shape (N, 4, L), C-contiguous
        ``x[i, c, j] = 1`` where ``codes[i, j] == c``.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be a 2-D integer array (N, L), got {codes.dtype} "
                         f"of shape {codes.shape}")
    x = np.empty((codes.shape[0], len(ALPHABET), codes.shape[1]), dtype=np.float32)
    for c in range(len(ALPHABET)):
        x[:, c, :] = codes == c
    return x


def base_codes_of(x: np.ndarray, error: str) -> np.ndarray:
    """Base codes (N, L) int8 of ``x``: ``x`` itself if it is int8 codes, else one-hot floats
    (N, 4, L) read back (an all-zero column -> -1), the inverse of ``one_hot_codes``.

    Raises ``ValueError(error)`` when float ``x`` is not one-hot (a value other than 0 and 1,
    or a column with more than one 1): the caller says what it needed the codes for.
    """
    if x.dtype == np.int8:
        return x
    col = x.sum(axis=1)
    if not (np.all((x == 0) | (x == 1)) and np.all((col == 0) | (col == 1))):
        raise ValueError(error)
    return np.where(col == 1, np.argmax(x, axis=1), -1).astype(np.int8)


def one_hot(seqs) -> np.ndarray:
    """One-hot encode DNA sequences of one length in torch's (N, C, L) layout.

    Parameters
    ----------
    seqs : list of str or numpy.ndarray of str
        Base letters in either case; N and ambiguity letters encode as an
        all-zero column.

    Returns
    -------
    numpy.ndarray of float32, shape (N, 4, L)
        ``x[i, c, j] = 1`` where base j of sequence i is ``ALPHABET[c]``.

    Raises
    ------
    UserError
        Naming the sequence index (0-based) for a length that differs from
        sequence 0's or a character that is not a base letter.
    """
    seqs = _as_strings(seqs)
    length = len(seqs[0]) if seqs else 0
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise UserError(f"sequence index {i} has length {len(s)}, expected {length} "
                            f"(the length of sequence index 0)")
    codes, _ = encode(seqs)
    return one_hot_codes(codes.reshape(len(seqs), length))


def _complement_codes(codes: np.ndarray) -> np.ndarray:
    return np.where(codes >= 0, 3 - codes, codes).astype(codes.dtype, copy=False)


def reverse_complement(seq, lengths=None):
    """Reverse complement of a sequence string or of code arrays.

    Parameters
    ----------
    seq : str, or numpy.ndarray of int codes of shape (L,) or (N, L)
        A string keeps its case and complements ambiguity letters (R<->Y,
        K<->M, B<->V, D<->H; S, W, N stay).  Codes: A<->T (0<->3), C<->G
        (1<->2), -1 stays -1.
    lengths : array of int, optional
        For (N, L) codes padded past each length (as from ``encode``): each row
        is reversed within its length and the padding stays at the end.

    Returns
    -------
    str or numpy.ndarray of the same shape and dtype
    """
    if isinstance(seq, str):
        bad = _codes_of_text(seq) == _INVALID
        if bad.any():
            raise UserError(f"reverse_complement: {_bad_base_message(seq, int(np.argmax(bad)))}")
        return seq.translate(_COMPLEMENT)[::-1]
    codes = np.asarray(seq)
    if not np.issubdtype(codes.dtype, np.integer) or codes.ndim not in (1, 2):
        raise ValueError(f"seq must be a str or a 1-D/2-D integer code array, got "
                         f"{codes.dtype} of shape {codes.shape}")
    if lengths is None or codes.ndim == 1:
        return _complement_codes(codes[..., ::-1]).copy()
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (codes.shape[0],) or (lengths < 0).any() or (lengths > codes.shape[1]).any():
        raise ValueError(f"lengths must be (N,) = ({codes.shape[0]},) values in "
                         f"[0, {codes.shape[1]}], got shape {lengths.shape}")
    positions = np.arange(codes.shape[1])
    source = lengths[:, None] - 1 - positions  # base j of the result is base len-1-j
    inside = source >= 0
    out = np.full_like(codes, N_CODE)
    rows = np.broadcast_to(np.arange(codes.shape[0])[:, None], codes.shape)
    out[inside] = _complement_codes(codes[rows[inside], source[inside]])
    return out


# --------------------------------------------------------------------------- synthetic data

def generate_data(n: int = 2000, length: int = 50, motif: str = PRIMER_MOTIF,
                  seed: int = 0) -> tuple[list[str], np.ndarray]:
    """The primer's simulated data set: random DNA, a motif planted in half of it.

    Every base is drawn uniformly from A/C/G/T.  ``n // 2`` sequences, chosen at
    random, get ``motif`` written at a uniformly random start (label 1); the
    others (label 0) are redrawn until none contains the motif by chance, so a
    sequence has label 1 exactly when it contains the motif.

    Returns
    -------
    (seqs, labels) : (list of str, numpy.ndarray of int8 of shape (n,))
        Reproducible for a given ``seed`` (a ``numpy.random.default_rng``).
    """
    motif = str(motif).upper()
    if n < 1:
        raise UserError(f"generate_data: n must be >= 1, got {n}")
    if not motif or any(base not in ALPHABET for base in motif):
        raise UserError(f"generate_data: motif {motif!r} must be a non-empty string of A, C, G, T")
    if length < len(motif):
        raise UserError(f"generate_data: length {length} is shorter than the motif "
                        f"({len(motif)} bases)")
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
    motif_codes = _CODE[np.frombuffer(motif.encode(), dtype=np.uint8)]
    codes = rng.integers(0, len(ALPHABET), size=(n, length), dtype=np.int8)
    labels = np.zeros(n, dtype=np.int8)
    labels[rng.permutation(n)[: n // 2]] = 1
    positives = np.flatnonzero(labels == 1)
    starts = rng.integers(0, length - len(motif) + 1, size=positives.size)
    for i, start in zip(positives, starts):
        codes[i, start:start + len(motif)] = motif_codes

    def as_strings(rows):
        raw = letters[codes[rows]].tobytes().decode("ascii")
        return [raw[k * length:(k + 1) * length] for k in range(len(rows))]

    seqs = [""] * n
    for i, s in zip(positives, as_strings(positives)):
        seqs[i] = s
    negatives = np.flatnonzero(labels == 0)
    while negatives.size:
        hits = []
        for i, s in zip(negatives, as_strings(negatives)):
            seqs[i] = s
            if motif in s:
                hits.append(i)
        negatives = np.asarray(hits, dtype=np.int64)
        if negatives.size:  # the motif appeared by chance (p ~ length / 4**len(motif)): redraw
            codes[negatives] = rng.integers(0, len(ALPHABET), size=(negatives.size, length),
                                            dtype=np.int8)
    return seqs, labels


# --------------------------------------------------------------------------- splits

def train_test_split(n: int, test_size: float = 0.25,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into train and test indices.

    Parameters
    ----------
    n : int
        Number of examples.
    test_size : float in (0, 1) or int >= 1
        Fraction of the examples (rounded up, as scikit-learn does) or count.
    seed : int
        Seed of the ``numpy.random.default_rng`` permutation.

    Returns
    -------
    (train_idx, test_idx) : int64 arrays in permuted order, disjoint, covering range(n).
    """
    if isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        n_test = int(test_size)
    elif isinstance(test_size, (float, np.floating)) and 0.0 < test_size < 1.0:
        n_test = int(np.ceil(test_size * n))
    else:
        raise UserError(f"test size must be a fraction in (0, 1) or a count, got {test_size!r}")
    if not 1 <= n_test <= n - 1:
        raise UserError(f"test size {test_size!r} of {n} examples leaves {n_test} for testing "
                        f"and {n - n_test} for training; both need at least one")
    perm = np.random.default_rng(seed).permutation(n).astype(np.int64)
    return perm[n_test:], perm[:n_test]


def _fraction(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(value) < 1.0:
        raise UserError(f"{what} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def split_random(n: int, valid_fraction: float = 0.0, test_fraction: float = 0.25,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into train, validation and test indices.

    Parameters
    ----------
    n : int
        Number of examples.
    valid_fraction, test_fraction : float in [0, 1)
        Fractions of the examples, each rounded up; 0 gives an empty set.
    seed : int
        Seed of the ``numpy.random.default_rng`` permutation.

    Returns
    -------
    (train_idx, valid_idx, test_idx) : int64 arrays in permuted order
        Disjoint, covering ``range(n)``.  The test set is the head of the
        permutation, then the validation set, so with ``valid_fraction=0`` the
        sets are those of ``train_test_split(n, test_fraction, seed)``.

    Raises
    ------
    UserError
        A fraction out of range, or a split that leaves no training example.
    """
    valid_fraction = _fraction(valid_fraction, "validation fraction")
    test_fraction = _fraction(test_fraction, "test fraction")
    n_test = int(np.ceil(test_fraction * n))
    n_valid = int(np.ceil(valid_fraction * n))
    if n - n_test - n_valid < 1:
        raise UserError(f"validation fraction {valid_fraction} and test fraction {test_fraction} "
                        f"of {n} examples leave {n - n_test - n_valid} for training; "
                        f"expected at least one")
    perm = np.random.default_rng(seed).permutation(n).astype(np.int64)
    return perm[n_test + n_valid:], perm[n_test:n_test + n_valid], perm[:n_test]


def _chrom_list(chroms, flag: str) -> list[str]:
    if chroms is None:
        return []
    if isinstance(chroms, str):
        chroms = chroms.split(",")
    names = [str(c).strip() for c in chroms]
    if any(not c for c in names):
        raise UserError(f"{flag}: empty chromosome name in {','.join(names)!r}; "
                        f"expected names separated by commas, e.g. chr1,chr2")
    return names


def split_by_chromosome(chroms, test_chroms, valid_chroms=None, valid_fraction: float = 0.0,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hold out named chromosomes: train, validation and test indices.

    Parameters
    ----------
    chroms : sequence of str, length N
        The chromosome of each example.
    test_chroms : iterable of str, or str of comma-separated names
        Every example on these chromosomes goes to the test set.
    valid_chroms : iterable of str, or str, optional
        Every example on these goes to the validation set.
    valid_fraction : float in [0, 1)
        Without ``valid_chroms``: this fraction (rounded up) of the remaining
        examples, drawn at random with ``seed``, is the validation set.

    Returns
    -------
    (train_idx, valid_idx, test_idx) : int64 arrays in ascending order, disjoint, covering range(N).

    Raises
    ------
    UserError
        A named chromosome with no examples (the message lists those there
        are), a chromosome named for both sets, both ``valid_chroms`` and
        ``valid_fraction``, or an empty training set.
    """
    chroms = np.asarray([str(c) for c in chroms], dtype=str)
    test_names = _chrom_list(test_chroms, "test chromosomes")
    valid_names = _chrom_list(valid_chroms, "validation chromosomes")
    if not test_names:
        raise UserError("test chromosomes: none named; expected at least one, e.g. chr2L")
    valid_fraction = _fraction(valid_fraction, "validation fraction")
    if valid_names and valid_fraction > 0:
        raise UserError("give validation chromosomes or a validation fraction, not both")
    both = sorted(set(test_names) & set(valid_names))
    if both:
        raise UserError(f"chromosome {both[0]!r} is named both for testing and for validation")
    present, counts = np.unique(chroms, return_counts=True) if chroms.size else ([], [])
    count_of = dict(zip([str(c) for c in present], [int(c) for c in counts]))
    for flag, names in (("test", test_names), ("validation", valid_names)):
        for c in names:
            if c not in count_of:
                listing = ", ".join(f"{k} ({v})" for k, v in list(count_of.items())[:8])
                more = ", ..." if len(count_of) > 8 else ""
                raise UserError(f"{flag} chromosome {c!r} has no examples; the data's chromosomes "
                                f"(examples) are {listing}{more}")
    is_test = np.isin(chroms, test_names)
    is_valid = np.isin(chroms, valid_names) if valid_names else np.zeros(chroms.size, dtype=bool)
    rest = np.flatnonzero(~is_test & ~is_valid)
    if valid_fraction > 0 and rest.size:
        n_valid = int(np.ceil(valid_fraction * rest.size))
        drawn = np.random.default_rng(seed).permutation(rest.size)[:n_valid]
        is_valid[rest[drawn]] = True
    train = np.flatnonzero(~is_test & ~is_valid).astype(np.int64)
    if train.size == 0:
        held = ", ".join(test_names + valid_names)
        raise UserError(f"holding out {held}{' and a validation fraction' if valid_fraction else ''} "
                        f"leaves no training examples; hold out fewer chromosomes")
    return train, np.flatnonzero(is_valid).astype(np.int64), np.flatnonzero(is_test).astype(np.int64)
