"""DNA sequence data: the primer's text files, FASTA, one-hot encoding, synthetic data.

Formats
-------
- The primer's two-file format (Zou et al. 2019, "A primer on deep learning in
  genomics"): ``sequences.txt`` holds one sequence per line, ``labels.txt`` one
  0/1 label per line, line i of one belonging to line i of the other.
- FASTA: ``>id description`` header lines, each followed by one or more
  sequence lines (blank lines between records are ignored).

Sequences use A, C, G, T or N in either case; N (unknown base) one-hot encodes
as an all-zero column.  All sequences of a data set have one length.

Every problem in a file is raised as ``UserError`` naming the file (or URL) and
the 1-based line, in one line of text, so the command line can print it as is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motifnet.errors import UserError

ALPHABET = "ACGT"
PRIMER_MOTIF = "CGACCGAACTCC"  # the motif the primer plants in its simulated data
URL_TIMEOUT = 30.0  # seconds for a download to start answering

# Byte -> channel: A/a 0, C/c 1, G/g 2, T/t 3, N/n 4 (no channel: an all-zero
# column), anything else -1 (an error).
_CODE = np.full(256, -1, dtype=np.int8)
for _i, _base in enumerate(ALPHABET + "N"):
    _CODE[ord(_base)] = _i
    _CODE[ord(_base.lower())] = _i
del _i, _base
_N_CODE = 4


# --------------------------------------------------------------------------- reading text

def _is_url(source) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _read_text(source) -> tuple[str, str]:
    """Return ``(name, text)`` of a path or an http(s) URL; ``UserError`` if unreadable."""
    if _is_url(source):
        import urllib.error  # here, not at the top: it costs ~20 ms of start-up
        import urllib.request

        name = source
        try:
            with urllib.request.urlopen(source, timeout=URL_TIMEOUT) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise UserError(f"{name}: download failed: HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise UserError(f"{name}: download failed: {exc.reason}") from None
        except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
            raise UserError(f"{name}: download failed: {exc}") from None
    else:
        name = str(source)
        path = Path(source)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise UserError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise UserError(f"{name}: is a directory, expected a text file") from None
        except PermissionError:
            raise UserError(f"{name}: permission denied") from None
        except OSError as exc:
            raise UserError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not a text file (byte 0x{raw[exc.start]:02x} at offset "
                        f"{exc.start} is not UTF-8)") from None
    return name, text


def _read_lines(source, what: str) -> tuple[str, list[str]]:
    """``(name, lines)`` with trailing whitespace and ``\\r`` stripped.

    Blank lines at the end are dropped; a blank line before a non-blank one is
    an error naming it; a file with no non-blank line is an error.
    """
    name, text = _read_text(source)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise UserError(f"{name}: file is empty; expected {what}")
    if not all(lines):
        first_blank = lines.index("") + 1
        raise UserError(f"{name} line {first_blank}: blank line (blank lines are allowed only "
                        f"at the end of the file); expected {what}")
    return name, lines


def _codes(text: str) -> np.ndarray:
    """Channel code (int8, see ``_CODE``) of every character of ``text``, vectorised.

    Non-ASCII characters become ``?`` (code -1) so that code i is character i.
    """
    return _CODE[np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)]


def _first_bad_base(lines: list[str]) -> tuple[int, int] | None:
    """``(line index, column index)`` of the first character not in ACGTN (any case), or None."""
    codes = _codes("".join(lines))
    bad = np.flatnonzero(codes < 0)
    if bad.size == 0:
        return None
    ends = np.cumsum([len(line) for line in lines])
    row = int(np.searchsorted(ends, bad[0], side="right"))
    col = int(bad[0] - (ends[row - 1] if row else 0))
    return row, col


def _bad_base_message(line: str, col: int) -> str:
    return (f"unexpected character {line[col]!r} at column {col + 1}; "
            f"expected A, C, G, T or N")


# --------------------------------------------------------------------------- primer format

def read_sequences(path_or_url) -> list[str]:
    """Read the primer's ``sequences.txt``: one DNA sequence per line, all one length.

    Parameters
    ----------
    path_or_url : str or path-like
        A file path or an ``http://``/``https://`` URL.

    Returns
    -------
    list of str
        The sequences as written (case kept), trailing whitespace removed.

    Raises
    ------
    UserError
        Naming the file and line: unreadable or empty file, a blank line in the
        middle, a character other than A/C/G/T/N, lengths that differ.
    """
    name, lines = _read_lines(path_or_url, "one DNA sequence (A, C, G, T, N) per line")
    if lines[0].startswith(">"):
        raise UserError(f"{name} line 1: starts with '>', which looks like FASTA; expected one "
                        f"sequence per line (use the FASTA options for FASTA files)")
    bad = _first_bad_base(lines)
    if bad is not None:
        row, col = bad
        raise UserError(f"{name} line {row + 1}: {_bad_base_message(lines[row], col)}")
    length = len(lines[0])
    for i, line in enumerate(lines):
        if len(line) != length:
            raise UserError(f"{name} line {i + 1} has length {len(line)}, expected {length} "
                            f"(the length of line 1)")
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
    """
    seqs = read_sequences(sequences)
    y = read_labels(labels)
    if len(seqs) != len(y):
        raise UserError(f"{sequences} has {len(seqs)} sequences but {labels} has {len(y)} "
                        f"labels; expected one label per sequence")
    return seqs, y


# --------------------------------------------------------------------------- FASTA

def read_fasta(path) -> list[tuple[str, str]]:
    """Read a FASTA file (path or URL): ``>id description`` headers, multi-line records.

    The id is the header's first word.  Blank lines are ignored.

    Returns
    -------
    list of (id, sequence)
        In file order; sequence lines are joined, case kept.

    Raises
    ------
    UserError
        Naming the file and line: unreadable or empty file, a sequence line
        before the first header, a header without an id, a record without
        sequence, a character other than A/C/G/T/N, records of different lengths.
    """
    name, text = _read_text(path)
    lines = [line.rstrip() for line in text.split("\n")]
    records: list[tuple[str, str, int]] = []  # (id, sequence, header line number)
    header: tuple[str, int] | None = None
    chunks: list[str] = []

    def close_record():
        if header is None:
            return
        seq = "".join(chunks)
        if not seq:
            raise UserError(f"{name} line {header[1]}: record {header[0]!r} has no sequence")
        records.append((header[0], seq, header[1]))

    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        if line.startswith(">"):
            close_record()
            words = line[1:].split()
            if not words:
                raise UserError(f"{name} line {number}: header '>' without an id; "
                                f"expected '>id [description]'")
            header, chunks = (words[0], number), []
            continue
        if header is None:
            raise UserError(f"{name} line {number}: sequence before the first '>' header; "
                            f"expected a FASTA file starting with '>id'")
        codes = _codes(line)
        if (codes < 0).any():
            col = int(np.flatnonzero(codes < 0)[0])
            raise UserError(f"{name} line {number}: {_bad_base_message(line, col)}")
        chunks.append(line)
    close_record()
    if not records:
        raise UserError(f"{name}: no FASTA records; expected '>id' header lines followed by "
                        f"sequence lines")
    first_id, first_seq, first_line = records[0]
    for rec_id, seq, number in records:
        if len(seq) != len(first_seq):
            raise UserError(f"{name} line {number}: record {rec_id!r} has length {len(seq)}, "
                            f"expected {len(first_seq)} (the length of record {first_id!r}, "
                            f"line {first_line})")
    return [(rec_id, seq) for rec_id, seq, _ in records]


def load_fasta_pair(pos, neg) -> tuple[list[str], np.ndarray, list[str]]:
    """Read positive (label 1) and negative (label 0) FASTA files into one data set.

    Returns
    -------
    (seqs, labels, ids) : (list of str, numpy.ndarray of int8, list of str)
        Positives first, then negatives, each in file order.
    """
    pos_records = read_fasta(pos)
    neg_records = read_fasta(neg)
    pos_len, neg_len = len(pos_records[0][1]), len(neg_records[0][1])
    if pos_len != neg_len:
        raise UserError(f"{neg}: sequences have length {neg_len} but those in {pos} have "
                        f"length {pos_len}; expected one length")
    records = pos_records + neg_records
    labels = np.concatenate([np.ones(len(pos_records), np.int8),
                             np.zeros(len(neg_records), np.int8)])
    return [s for _, s in records], labels, [i for i, _ in records]


# --------------------------------------------------------------------------- encoding

def one_hot(seqs) -> np.ndarray:
    """One-hot encode DNA sequences of one length in torch's (N, C, L) layout.

    Parameters
    ----------
    seqs : list of str or numpy.ndarray of str
        A, C, G, T in either case; N/n encodes as an all-zero column.

    Returns
    -------
    numpy.ndarray of float32, shape (N, 4, L)
        ``x[i, c, j] = 1`` where base j of sequence i is ``ALPHABET[c]``.

    Raises
    ------
    UserError
        Naming the sequence index (0-based) for a length that differs from
        sequence 0's or a character other than A/C/G/T/N.
    """
    if isinstance(seqs, np.ndarray):
        seqs = [s.decode("ascii", errors="replace") if isinstance(s, bytes) else str(s)
                for s in seqs.ravel()]
    seqs = list(seqs)
    n = len(seqs)
    length = len(seqs[0]) if n else 0
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise UserError(f"sequence index {i} has length {len(s)}, expected {length} "
                            f"(the length of sequence index 0)")
    codes = _codes("".join(seqs)).reshape(n, length)
    bad = np.argwhere(codes < 0)
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise UserError(f"sequence index {i}: {_bad_base_message(seqs[i], j)}")
    x = np.empty((n, len(ALPHABET), length), dtype=np.float32)
    for c in range(len(ALPHABET)):
        x[:, c, :] = codes == c  # N (code 4) matches no channel: an all-zero column
    return x


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
