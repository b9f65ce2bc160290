"""The one data pipeline every command uses: from the user's inputs to encoded, split examples.

A command builds a ``DataSpec`` from its flags and calls ``load_dataset``; the
result holds the examples as int8 codes (``motifnet.data.encode``'s: A 0, C 1,
G 2, T 3, N and padding -1) with their labels, ids, chromosomes, a split into
train/validation/test indices, and ``info``, a JSON-able description for
``metrics.json``.

Inputs (one kind per data set)
------------------------------
- the primer's ``sequences`` + ``labels`` files;
- ``pos_fasta`` (label 1) with ``neg_fasta`` (label 0) or generated negatives;
- ``bed`` + ``genome`` + ``width``: windows of ``width`` bases centred on each
  interval's summit or midpoint (label 1), with ``neg_bed`` windows (label 0)
  or generated negatives;
- nothing: the primer's simulated data (``motifnet.data.generate_data``:
  2000 sequences of 50 bp, motif CGACCGAACTCC, seeded).

Negatives can be generated (``negatives``): ``"shuffle"``, dinucleotide
shuffles of the positives (``motifnet.negatives.dinucleotide_shuffle``); or
``"genome"``, GC-matched windows of the genome overlapping no positive
(``motifnet.negatives.background_windows``).

Checks that stop with a one-line ``UserError`` (exit 2 in the CLI): one class
only; no informative base in a class; the same file for both classes; every
sequence under both labels; a sequence shorter than the caller's minimum or
longer than ``max_length``.  Some sequences (not all) under both labels, and
sequences with no informative base, are warnings: counted, sent to ``log`` and
listed in ``info["warnings"]``.

Messages name the command-line flags (``--pos-fasta`` for ``pos_fasta``, and
so on), since that is how users meet them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

import numpy as np

from motifnet import _io
from motifnet.data import (
    PRIMER_MOTIF,
    decode,
    encode,
    generate_data,
    iter_fasta_records,
    load_primer,
    one_hot_codes,
    split_by_chromosome,
    split_random,
)
from motifnet.errors import UserError

NEGATIVE_METHODS = ("shuffle", "genome")
DEFAULT_MAX_LENGTH = 100_000
# Past this many bytes the padded (N, L_max) code matrix is refused rather than allocated:
# one long record among short ones would otherwise pad every row to its length.
MAX_PADDED_BYTES = 2 << 30


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _absolute(source) -> str:
    name = _io.source_name(source)
    return name if _io.is_url(name) else os.path.abspath(name)


@dataclass
class DataSpec:
    """What data to load: the fields mirror the command-line flags (``pos_fasta`` is ``--pos-fasta``).

    Give one kind of input (or none, for the generated default).

    Attributes
    ----------
    sequences, labels : str, optional
        The primer's two files: one sequence per line, one 0/1 label per line.
    pos_fasta : str, optional
        FASTA of positives (label 1), any lengths.
    neg_fasta : str, optional
        FASTA of negatives (label 0).
    bed : str, optional
        BED (or narrowPeak) of positive intervals; needs ``genome`` and ``width``.
    genome : str, optional
        Genome FASTA (plain or gzip) the BED coordinates refer to.
    width : int, optional
        Bases per window, centred on each interval's summit or midpoint.
    neg_bed : str, optional
        BED of negative intervals (windows cut as for ``bed``).
    negatives : {"shuffle", "genome"} or None
        Generate the negatives: dinucleotide shuffles of the positives
        (``pos_fasta`` or ``bed``), or GC-matched genome windows that overlap no
        positive (``bed`` only).
    neg_per_pos : int
        Generated negatives per positive.
    stranded : bool
        With ``bed``: reverse-complement windows of ``-`` strand intervals.
    max_length : int
        Longest sequence accepted (a longer record is an error, raised before
        it is read whole).
    test_fraction, valid_fraction : float in [0, 1)
        Random split (ignored for the test set when ``test_chroms`` is given).
    test_chroms, valid_chroms : list of str or comma-separated str, optional
        Hold out these chromosomes (``bed`` only) for testing / validation.
    n_generated, generated_length, motif
        The generated default data set.
    """

    sequences: str | None = None
    labels: str | None = None
    pos_fasta: str | None = None
    neg_fasta: str | None = None
    bed: str | None = None
    genome: str | None = None
    width: int | None = None
    neg_bed: str | None = None
    negatives: str | None = None
    neg_per_pos: int = 1
    stranded: bool = False
    max_length: int = DEFAULT_MAX_LENGTH
    test_fraction: float = 0.25
    valid_fraction: float = 0.0
    test_chroms: list[str] | str | None = None
    valid_chroms: list[str] | str | None = None
    n_generated: int = 2000
    generated_length: int = 50
    motif: str = PRIMER_MOTIF

    @property
    def kind(self) -> str:
        """``"primer"``, ``"fasta"``, ``"bed"`` or ``"generated"`` (call ``validate`` first)."""
        if self.sequences is not None or self.labels is not None:
            return "primer"
        if self.pos_fasta is not None or self.neg_fasta is not None:
            return "fasta"
        if any(v is not None for v in (self.bed, self.genome, self.width, self.neg_bed)):
            return "bed"
        return "generated"

    def validate(self) -> None:
        """Check the combination of fields; ``UserError`` (one line, naming the flags) if wrong."""
        given = [label for label, on in (
            ("--sequences/--labels", self.sequences is not None or self.labels is not None),
            ("--pos-fasta/--neg-fasta", self.pos_fasta is not None or self.neg_fasta is not None),
            ("--bed/--genome", any(v is not None for v in (self.bed, self.genome, self.width,
                                                            self.neg_bed))),
        ) if on]
        if len(given) > 1:
            raise UserError(f"give one kind of input, not both {given[0]} and {given[1]}")
        if self.negatives is not None and self.negatives not in NEGATIVE_METHODS:
            raise UserError(f"--negatives {self.negatives!r} is not one of "
                            f"{', '.join(NEGATIVE_METHODS)}")
        kind = self.kind
        if kind == "primer":
            for have, need in (("sequences", "labels"), ("labels", "sequences")):
                if getattr(self, need) is None:
                    raise UserError(f"{_flag(have)} needs {_flag(need)} (the primer's format is "
                                    f"two files: one sequence per line, one 0/1 label per line)")
            if self.negatives is not None:
                raise UserError(f"--negatives {self.negatives} makes negatives for --pos-fasta or "
                                f"--bed positives; --sequences/--labels carry their own labels")
        elif kind == "fasta":
            if self.pos_fasta is None:
                raise UserError("--neg-fasta needs --pos-fasta (the positives)")
            if self.neg_fasta is not None and self.negatives is not None:
                raise UserError(f"give --neg-fasta or --negatives {self.negatives}, not both")
            if self.negatives == "genome":
                raise UserError("--negatives genome draws windows of a genome away from BED "
                                "intervals: it needs --bed, --genome and --width (with "
                                "--pos-fasta, use --neg-fasta or --negatives shuffle)")
            if self.neg_fasta is None and self.negatives is None:
                raise UserError("--pos-fasta gives only positives (one class); add negatives "
                                "with --neg-fasta FILE or --negatives shuffle")
        elif kind == "bed":
            for need in ("bed", "genome", "width"):
                if getattr(self, need) is None:
                    raise UserError(f"BED input needs --bed, --genome and --width; "
                                    f"{_flag(need)} is missing")
            if isinstance(self.width, bool) or not isinstance(self.width, (int, np.integer)) \
                    or self.width < 1:
                raise UserError(f"--width must be a whole number of bases >= 1, got {self.width!r}")
            if self.neg_bed is not None and self.negatives is not None:
                raise UserError(f"give --neg-bed or --negatives {self.negatives}, not both")
            if self.neg_bed is None and self.negatives is None:
                raise UserError("--bed gives only positives (one class); add negatives with "
                                "--neg-bed FILE, --negatives shuffle or --negatives genome")
        if self.valid_chroms and not self.test_chroms:
            raise UserError("--valid-chroms needs --test-chroms (hold out test chromosomes too)")
        if kind != "bed" and (self.test_chroms or self.valid_chroms):
            flag = "--test-chroms" if self.test_chroms else "--valid-chroms"
            raise UserError(f"{flag} holds out chromosomes, which only --bed/--genome examples "
                            f"have; use --test-fraction with this input")
        for name in ("neg_per_pos", "max_length", "n_generated", "generated_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise UserError(f"{_flag(name)} must be a whole number >= 1, got {value!r}")
        for name in ("test_fraction", "valid_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not 0 <= value < 1:
                raise UserError(f"{_flag(name)} must be a fraction in [0, 1), got {value!r}")

    def sources(self) -> dict:
        """The input files given, as absolute paths (URLs as they are), by field name."""
        return {f.name: _absolute(getattr(self, f.name)) for f in fields(self)
                if f.name in ("sequences", "labels", "pos_fasta", "neg_fasta", "bed", "genome",
                              "neg_bed") and getattr(self, f.name) is not None}


@dataclass
class Dataset:
    """Encoded examples with labels, a split and a description.

    Attributes
    ----------
    ids : list of str
        Record ids (FASTA), ``chrom:start-end`` (BED windows), line numbers
        (primer files), ``generated_<i>``; shuffles add ``|shuffle<k>``.
    codes : numpy.ndarray of int8, shape (N, L_max)
        A 0, C 1, G 2, T 3, N -1; -1 past each length.
    lengths : numpy.ndarray of int64, shape (N,)
    labels : numpy.ndarray of int8, shape (N,)
        1 positive, 0 negative.
    chroms : list of str or None
        Chromosome of each example (BED input), else None.
    train_idx, valid_idx, test_idx : numpy.ndarray of int64
        The split.
    info : dict
        JSON-able: inputs (absolute paths), counts per class, lengths, how the
        negatives were made, the split, warnings.
    """

    ids: list
    codes: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    chroms: list | None
    train_idx: np.ndarray
    valid_idx: np.ndarray
    test_idx: np.ndarray
    info: dict
    origins: list = field(default_factory=list, repr=False)  # "file line N (record 'x')" per example

    def __len__(self) -> int:
        return int(self.labels.size)

    @property
    def length(self) -> int | None:
        """The one length of all sequences, or None if they differ."""
        if self.lengths.size and (self.lengths == self.lengths[0]).all():
            return int(self.lengths[0])
        return None

    def sequences(self, idx=None) -> list[str]:
        """The sequences as strings (uppercase; N for N and ambiguity letters)."""
        rows = np.arange(len(self)) if idx is None else np.asarray(idx, dtype=np.int64)
        return decode(self.codes[rows], self.lengths[rows])

    def one_hot(self, idx=None) -> np.ndarray:
        """One-hot (n, 4, L) float32 of the examples ``idx`` (all by default); one length only.

        Raises
        ------
        UserError
            If the sequences have different lengths.
        """
        rows = np.arange(len(self)) if idx is None else np.asarray(idx, dtype=np.int64)
        lengths = self.lengths[rows]
        if lengths.size and (lengths != lengths[0]).any():
            raise UserError(f"{self.info.get('name', 'the data')}: sequences have lengths "
                            f"{int(lengths.min())} to {int(lengths.max())} bp, but this needs one "
                            f"length (give sequences of one length, or --bed with --width)")
        width = int(lengths[0]) if lengths.size else 0
        return one_hot_codes(self.codes[rows, :width])

    def origin(self, i: int) -> str:
        """Where example ``i`` came from, for messages: ``pos.fa line 41 (record 'x')``."""
        return self.origins[i] if self.origins else f"example {i + 1}"

    def describe(self) -> str:
        """One line for the terminal: sizes, classes, lengths, negatives, split."""
        info = self.info
        lengths = info["lengths"]
        span = (f"{lengths['min']} bp" if lengths["min"] == lengths["max"]
                else f"{lengths['min']}-{lengths['max']} bp (median {lengths['median']:g})")
        split = info["split"]
        return (f"data: {info['name']}: {info['n_examples']} sequences x {span}, "
                f"{info['n_positive']} positive / {info['n_negative']} negative "
                f"(negatives: {info['negatives']['method']}); split {split['n_train']} train, "
                f"{split['n_valid']} validation, {split['n_test']} test")


# --------------------------------------------------------------------------- assembling

class _Examples:
    """Examples gathered class by class before padding into one matrix."""

    def __init__(self):
        self.codes: list[np.ndarray] = []
        self.labels: list[int] = []
        self.ids: list[str] = []
        self.chroms: list[str] = []
        self.origins: list[str] = []

    def add(self, codes, label, rec_id, origin, chrom=None):
        self.codes.append(codes)
        self.labels.append(label)
        self.ids.append(rec_id)
        self.origins.append(origin)
        self.chroms.append(chrom)

    def n_label(self, label: int) -> int:
        return sum(1 for y in self.labels if y == label)


def _same_file(a, b) -> bool:
    a, b = _io.source_name(a), _io.source_name(b)
    if _io.is_url(a) or _io.is_url(b):
        return a == b
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.abspath(a) == os.path.abspath(b)


def _read_fasta_class(examples, path, label, max_length):
    name = _io.source_name(path)
    for record in iter_fasta_records(path, max_length=max_length):
        examples.add(record.codes, label, record.id,
                     f"{name} line {record.line} (record {record.id!r})")


def _load_primer(spec, examples):
    seqs, labels = load_primer(spec.sequences, spec.labels)
    name = _io.source_name(spec.sequences)
    for i, s in enumerate(seqs):
        if len(s) > spec.max_length:
            raise UserError(f"{name} line {i + 1}: sequence of {len(s)} bases is longer than "
                            f"{spec.max_length}, the maximum length (raise it, e.g. with "
                            f"--max-length)")
    codes, lengths = encode(seqs)
    for i, y in enumerate(labels.tolist()):
        examples.add(codes[i, :lengths[i]], y, str(i + 1), f"{name} line {i + 1}")
    return {"method": "labels", "description": f"label-0 lines of {_absolute(spec.labels)}"}


def _load_fasta(spec, examples, rng):
    if spec.neg_fasta is not None and _same_file(spec.pos_fasta, spec.neg_fasta):
        raise UserError(f"--pos-fasta and --neg-fasta are the same file "
                        f"({_io.source_name(spec.pos_fasta)}); expected different positives "
                        f"and negatives")
    _read_fasta_class(examples, spec.pos_fasta, 1, spec.max_length)
    if spec.neg_fasta is not None:
        _read_fasta_class(examples, spec.neg_fasta, 0, spec.max_length)
        return {"method": "file", "description": f"records of {_absolute(spec.neg_fasta)}"}
    return _shuffled_negatives(spec, examples, rng)


def _shuffled_negatives(spec, examples, rng):
    from motifnet.negatives import dinucleotide_shuffle

    positives = [i for i, y in enumerate(examples.labels) if y == 1]
    for k in range(1, spec.neg_per_pos + 1):
        for i in positives:
            examples.add(dinucleotide_shuffle(examples.codes[i], rng), 0,
                         f"{examples.ids[i]}|shuffle{k}", f"{examples.origins[i]}, shuffled",
                         examples.chroms[i])
    return {"method": "shuffle",
            "description": f"{spec.neg_per_pos} dinucleotide shuffle(s) of each positive "
                           f"(Altschul-Erickson: exact dinucleotide counts, first and last base "
                           f"kept; N kept in place, each N-free run shuffled on its own)"}


def _load_bed(spec, examples, rng, warnings):
    from motifnet.genome import read_bed, read_genome, windows_from_intervals

    bed_name = _io.source_name(spec.bed)
    if spec.neg_bed is not None and _same_file(spec.bed, spec.neg_bed):
        raise UserError(f"--bed and --neg-bed are the same file ({bed_name}); expected "
                        f"different positives and negatives")
    intervals = read_bed(spec.bed)
    genome = read_genome(spec.genome)
    codes, windows = windows_from_intervals(genome, intervals, spec.width, bed_name, spec.stranded)
    for iv, row in zip(windows, codes):
        examples.add(row, 1, str(iv), f"{bed_name} line {iv.line}", iv.chrom)
    if spec.neg_bed is not None:
        neg_name = _io.source_name(spec.neg_bed)
        neg_codes, neg_windows = windows_from_intervals(genome, read_bed(spec.neg_bed), spec.width,
                                                        neg_name, spec.stranded)
        for iv, row in zip(neg_windows, neg_codes):
            examples.add(row, 0, str(iv), f"{neg_name} line {iv.line}", iv.chrom)
        overlapping = _overlapping(neg_windows, windows)
        if overlapping:
            warnings.append(f"{len(overlapping)} of the {len(neg_windows)} --neg-bed windows "
                            f"overlap a positive window, e.g. {neg_name} line "
                            f"{neg_windows[overlapping[0]].line}")
        return {"method": "file", "description": f"windows of {_absolute(spec.neg_bed)}"}
    if spec.negatives == "shuffle":
        return _shuffled_negatives(spec, examples, rng)
    from motifnet.negatives import DEFAULT_GC_BINS, DEFAULT_MAX_N_FRACTION, background_windows

    n = len(windows) * spec.neg_per_pos
    background = background_windows(genome, windows, n, spec.width, rng, gc_match=True,
                                    exclude=intervals)
    for iv in background:
        examples.add(genome.fetch(iv.chrom, iv.start, iv.end).copy(), 0, str(iv),
                     f"{genome.name} {iv}", iv.chrom)
    return {"method": "genome",
            "description": f"{n} random {spec.width} bp windows of {_absolute(spec.genome)} "
                           f"overlapping no positive interval or window nor one another, at most "
                           f"{DEFAULT_MAX_N_FRACTION:.0%} N, GC-matched to the positives "
                           f"({DEFAULT_GC_BINS} GC bins)"}


def _overlapping(intervals, others) -> list[int]:
    """Indices of ``intervals`` that overlap one of ``others`` (searchsorted on merged spans)."""
    from motifnet.genome import merge_intervals

    merged = merge_intervals(others)
    hits = []
    for i, iv in enumerate(intervals):
        if iv.chrom in merged:
            starts, ends = merged[iv.chrom]
            k = int(np.searchsorted(starts, iv.end, side="left")) - 1
            if k >= 0 and ends[k] > iv.start:
                hits.append(i)
    return hits


def _pad(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
    width = int(lengths.max()) if rows else 0
    if len(rows) * width > MAX_PADDED_BYTES:
        raise UserError(f"{len(rows)} sequences padded to the longest ({width} bases) would take "
                        f"{len(rows) * width / 2 ** 30:.1f} GiB; give shorter sequences or lower "
                        f"--max-length")
    codes = np.full((len(rows), width), -1, dtype=np.int8)
    if rows:
        codes[np.arange(width) < lengths[:, None]] = np.concatenate(rows)
    return codes, lengths


# --------------------------------------------------------------------------- checks

def _class_source(spec, label: int) -> str:
    """The input that gave the examples of ``label``, for messages."""
    kind = spec.kind
    if kind == "primer":
        return _io.source_name(spec.sequences)
    if kind == "generated":
        return "the generated data"
    if label == 1:
        return _io.source_name(spec.pos_fasta if kind == "fasta" else spec.bed)
    own = spec.neg_fasta if kind == "fasta" else spec.neg_bed
    if own is not None:
        return _io.source_name(own)
    if spec.negatives == "genome":
        return _io.source_name(spec.genome)
    return f"the shuffles of {_class_source(spec, 1)}"


def _check(examples, codes, lengths, labels, spec, min_length, warnings):
    for label in (1, 0):
        if not (labels == label).any():
            if spec.kind == "primer":
                raise UserError(f"{_io.source_name(spec.labels)}: every label is {1 - label}; a "
                                f"classifier needs both classes (some 0 and some 1 labels)")
            raise UserError(f"{_class_source(spec, label)}: no "
                            f"{'positive' if label == 1 else 'negative'} examples; a classifier "
                            f"needs both classes")
    informative = (codes >= 0).any(axis=1)
    for label, word in ((1, "positive"), (0, "negative")):
        if not informative[labels == label].any():
            raise UserError(f"{_class_source(spec, label)}: no informative base in any {word} "
                            f"sequence: every base is N or an ambiguity letter; expected A, C, G "
                            f"or T")
    if not informative.all():
        first = int(np.flatnonzero(~informative)[0])
        warnings.append(f"{int(np.count_nonzero(~informative))} sequences have no informative "
                        f"base (all N), e.g. {examples.origins[first]}")
    if min_length is not None:
        short = np.flatnonzero(lengths < min_length)
        if short.size:
            i = int(short[0])
            raise UserError(f"{examples.origins[i]}: sequence of {int(lengths[i])} bases is shorter "
                            f"than {min_length}, the shortest the model takes "
                            f"({short.size} sequences are)")
    _check_both_labels(examples, codes, lengths, labels, warnings)


def _check_both_labels(examples, codes, lengths, labels, warnings):
    """Identical sequences (case and soft-masking aside) under both labels: warn, or stop if all are."""
    first_of: dict[tuple[int, bytes], int] = {}
    keys = []
    for i in range(labels.size):
        key = codes[i, :lengths[i]].tobytes()
        keys.append(key)
        first_of.setdefault((int(labels[i]), key), i)
    shared = {key for (label, key) in first_of if label == 1} & \
             {key for (label, key) in first_of if label == 0}
    if not shared:
        return
    n_examples = sum(1 for key in keys if key in shared)
    example = next(iter(k for k in keys if k in shared))
    pos, neg = first_of[(1, example)], first_of[(0, example)]
    if n_examples == labels.size:
        raise UserError(f"every sequence appears under both labels ({len(shared)} distinct, e.g. "
                        f"{examples.origins[pos]} and {examples.origins[neg]}); the positives and "
                        f"negatives are the same sequences")
    warnings.append(f"{len(shared)} distinct sequences ({n_examples} examples) appear under both "
                    f"labels, e.g. {examples.origins[pos]} and {examples.origins[neg]}; a model "
                    f"cannot tell these apart")


# --------------------------------------------------------------------------- the pipeline

def load_dataset(spec: DataSpec, seed: int = 0, log=print, min_length: int | None = None) -> Dataset:
    """Load, check, encode and split the data a ``DataSpec`` describes.

    Parameters
    ----------
    spec : DataSpec
    seed : int
        Seeds the generated data, the generated negatives and the split (the
        random split is ``split_random(n, valid_fraction, test_fraction, seed)``).
    log : callable
        Called with each warning (a str starting with ``warning:``).
    min_length : int, optional
        The shortest sequence the caller's model takes; a shorter one is a
        ``UserError`` naming the first.

    Returns
    -------
    Dataset

    Raises
    ------
    UserError
        A bad combination of inputs, a bad file, or a failed check (see the
        module notes).
    """
    spec.validate()
    kind = spec.kind
    examples = _Examples()
    warnings: list[str] = []
    negatives_rng = np.random.default_rng([seed, 1])  # a stream of its own, apart from the split's
    if kind == "primer":
        negatives = _load_primer(spec, examples)
        name = _io.source_name(spec.sequences)
    elif kind == "fasta":
        negatives = _load_fasta(spec, examples, negatives_rng)
        name = _io.source_name(spec.pos_fasta)
    elif kind == "bed":
        negatives = _load_bed(spec, examples, negatives_rng, warnings)
        name = _io.source_name(spec.bed)
    else:
        seqs, y = generate_data(spec.n_generated, spec.generated_length, spec.motif, seed)
        codes, lengths = encode(seqs)
        for i, label in enumerate(y.tolist()):
            examples.add(codes[i], label, f"generated_{i + 1}", f"generated sequence {i + 1}")
        negatives = {"method": "generated",
                     "description": f"random sequences without the motif {spec.motif}"}
        name = "generated data"

    codes, lengths = _pad(examples.codes)
    labels = np.asarray(examples.labels, dtype=np.int8)
    _check(examples, codes, lengths, labels, spec, min_length, warnings)
    chroms = examples.chroms if kind == "bed" else None

    if spec.test_chroms:
        train_idx, valid_idx, test_idx = split_by_chromosome(
            chroms, spec.test_chroms, spec.valid_chroms, spec.valid_fraction, seed)
        split = {"method": "chromosome", "test_chroms": _names(spec.test_chroms),
                 "valid_chroms": _names(spec.valid_chroms), "valid_fraction": spec.valid_fraction}
    else:
        train_idx, valid_idx, test_idx = split_random(len(labels), spec.valid_fraction,
                                                      spec.test_fraction, seed)
        split = {"method": "random", "test_fraction": spec.test_fraction,
                 "valid_fraction": spec.valid_fraction}
    split.update(seed=seed, n_train=int(train_idx.size), n_valid=int(valid_idx.size),
                 n_test=int(test_idx.size))

    for message in warnings:
        log(f"warning: {message}")
    n_pos = int(np.count_nonzero(labels == 1))
    info = {
        "name": name,
        "source": kind,
        "files": spec.sources(),
        "n_examples": int(labels.size),
        "n_positive": n_pos,
        "n_negative": int(labels.size) - n_pos,
        "lengths": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                    "max": int(lengths.max())},
        "negatives": negatives,
        "split": split,
        "seed": seed,
        "warnings": list(warnings),
    }
    if kind == "bed":
        info.update(width=int(spec.width), stranded=bool(spec.stranded))
    if kind == "generated":
        info.update(motif=spec.motif, n_generated=spec.n_generated,
                    generated_length=spec.generated_length)
    if spec.negatives is not None:
        info["negatives"].update(seed=seed, per_positive=spec.neg_per_pos)
    return Dataset(examples.ids, codes, lengths, labels, chroms, train_idx, valid_idx, test_idx,
                   info, examples.origins)


def _names(chroms) -> list[str]:
    if not chroms:
        return []
    return [c.strip() for c in chroms.split(",")] if isinstance(chroms, str) else [str(c) for c in chroms]
