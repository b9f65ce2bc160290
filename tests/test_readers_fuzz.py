"""Every reader of user files, fuzzed: any bytes either parse or raise the one-line UserError.

Readers: the primer's sequences and labels files (alone and as a pair), FASTA
(plain, gzip, corrupt gzip; whole records and chunks; any block size), BED,
genome FASTA, BED windows of a genome, and the whole ``load_dataset``
pipeline.  Bytes are drawn both at random and from tokens of each format (so
that most examples are nearly valid and reach deep into the parser).  No other
exception (IndexError, UnicodeDecodeError, gzip.BadGzipFile, EOFError,
zlib.error, ValueError, ...) may escape, and the message must be one line that
names the file.

Then, for every reader: gzip is recognised by content, ``/dev/zero`` and a
FIFO are refused at once, and the byte bound is enforced.
"""

from __future__ import annotations

import gzip
import os
import re

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from motifnet import data
from motifnet.data import iter_fasta_chunks, load_primer, read_fasta, read_labels, read_sequences
from motifnet.dataset import DataSpec, load_dataset
from motifnet.errors import UserError
from motifnet.genome import read_bed, read_genome, windows_from_intervals

FUZZ = settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow,
                                                          HealthCheck.data_too_large])

COMMON = [b"\n", b"\r\n", b"\r", b" ", b"\t", b"\xef\xbb\xbf", b"\xff\xfe", b"\xff", b"\xc3\xa9",
          b"\xc3", b"\x00", b"\x1b", b"#", b""]
SEQUENCE_TOKENS = COMMON + [b"ACGT", b"acgtn", b"N", b"RYKM", b"X", b"U", b"-", b"*", b"1", b">"]
FASTA_TOKENS = SEQUENCE_TOKENS + [b">", b"> ", b">id", b">chr1", b">chr1\n", b">chr2 desc\n",
                                  b" desc", b"\n\n", b";"]
LABEL_TOKENS = COMMON + [b"0", b"1", b"2", b"-1", b"1.0", b"x", b"01"]
BED_TOKENS = COMMON + [b"chr1", b"chr2", b"chrUn", b"0", b"5", b"10", b"100", b"-5", b"1.5", b"+",
                       b"-", b".", b"track", b"browser", b"name", b"1e3", b"99999999999999999999",
                       b"chr1\t0\t10\n", b"chr2\t5\t50\tpeak\t0\t+\n",
                       b"chr1\t10\t90\tp\t0\t.\t1\t2\t3\t20\n"]


def token_soup(tokens, max_size=40):
    return st.lists(st.sampled_from(tokens), max_size=max_size).map(b"".join)


def lines(items):
    return st.lists(items, min_size=1, max_size=6).map(lambda rows: "".join(r + "\n" for r in rows).encode())


bases = st.text("ACGTNacgtnRYkm", min_size=1, max_size=12)
VALID_SEQUENCES = lines(bases)
VALID_LABELS = lines(st.sampled_from(["0", "1"]))
VALID_FASTA = st.lists(
    st.tuples(st.sampled_from(["chr1", "chr2", "a", "b c"]), st.lists(bases, min_size=1, max_size=3)),
    min_size=1, max_size=4,
).map(lambda recs: "".join(f">{rid}\n" + "".join(f"{line}\n" for line in body) for rid, body in recs).encode())


@st.composite
def bed_line(draw):
    chrom, size = draw(st.sampled_from([("chr1", 300), ("chr2", 200)]))
    start = draw(st.integers(0, size - 2))
    end = draw(st.integers(start + 1, min(size, start + 60)))
    extra = draw(st.sampled_from(["", "\tname", "\tn\t5\t+", f"\tp\t0\t.\t1\t2\t3\t{(end - start) // 2}"]))
    return f"{chrom}\t{start}\t{end}{extra}"


VALID_BED = lines(bed_line())


@st.composite
def mutated(draw, valid, tokens):
    """A valid document with a few tokens inserted, bytes deleted or replaced."""
    doc = draw(valid)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(doc)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        token = draw(st.sampled_from(tokens))
        if op == "insert":
            doc = doc[:at] + token + doc[at:]
        elif op == "delete":
            doc = doc[:at] + doc[at + draw(st.integers(1, 4)):]
        else:
            doc = doc[:at] + token + doc[at + len(token):]
    return doc


def inputs(valid, tokens):
    """Bytes: random, token soup or a mutated valid file; plain, gzip, or gzip changed or cut off."""
    raw = st.one_of(st.binary(max_size=200), token_soup(tokens), mutated(valid, tokens))

    @st.composite
    def packed(draw):
        payload = draw(raw)
        form = draw(st.sampled_from(["plain", "plain", "plain", "gzip", "corrupt", "truncated"]))
        if form == "plain":
            return payload
        compressed = gzip.compress(payload)
        if form == "gzip":
            return compressed
        at = draw(st.integers(0, len(compressed) - 1))
        if form == "truncated":
            return compressed[:at]
        return compressed[:at] + bytes([draw(st.integers(0, 255))]) + compressed[at + 1:]

    return packed()


def check(fn, *paths):
    """``fn(*paths)`` (run to the end if it is a generator) parses, or raises a proper UserError."""
    try:
        result = fn(*paths)
        if hasattr(result, "__next__"):
            result = list(result)
    except UserError as exc:
        event("UserError")  # --hypothesis-show-statistics: how many examples parse
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        assert any(str(p) in message for p in paths), f"{message!r} names none of {paths}"
        return None
    event("parsed")
    return result


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def genome_file(scratch):
    path = scratch / "genome.fa"
    path.write_text(">chr1\n" + "ACGTTGCAAC" * 30 + "\n>chr2\n" + "GGCCAATTNN" * 20 + "\n")
    return path


def put(scratch, name, raw):
    path = scratch / name
    path.write_bytes(raw)
    return path


# --------------------------------------------------------------------------- fuzz

@FUZZ
@given(inputs(VALID_SEQUENCES, SEQUENCE_TOKENS))
def test_fuzz_sequences_file(scratch, raw):
    seqs = check(read_sequences, put(scratch, "sequences.txt", raw))
    if seqs is not None:
        assert all(isinstance(s, str) and s for s in seqs)


@FUZZ
@given(inputs(VALID_LABELS, LABEL_TOKENS))
def test_fuzz_labels_file(scratch, raw):
    labels = check(read_labels, put(scratch, "labels.txt", raw))
    if labels is not None:
        assert set(labels.tolist()) <= {0, 1}


@FUZZ
@given(inputs(VALID_SEQUENCES, SEQUENCE_TOKENS), inputs(VALID_LABELS, LABEL_TOKENS))
def test_fuzz_primer_pair(scratch, seq_raw, label_raw):
    check(load_primer, put(scratch, "pair_seqs.txt", seq_raw), put(scratch, "pair_labels.txt", label_raw))


@FUZZ
@given(inputs(VALID_FASTA, FASTA_TOKENS), st.sampled_from([1, 3, 8, 1 << 20]))
def test_fuzz_fasta(scratch, raw, block):
    path = put(scratch, "x.fa", raw)
    saved = data.FASTA_BLOCK
    try:
        data.FASTA_BLOCK = block
        records = check(read_fasta, path)
        chunks = check(lambda p: iter_fasta_chunks(p, 4, 1), path)
    finally:
        data.FASTA_BLOCK = saved
    assert (records is None) == (chunks is None)  # both readers agree on what is valid
    if records is not None:
        assert records and all(rid and seq and set(seq) <= set("ACGTNRYSWKMBDHV") for rid, seq in records)
        assert sum(len(s) for _, s in records) <= sum(len(c) for _, _, c in chunks)


@FUZZ
@given(inputs(VALID_BED, BED_TOKENS))
def test_fuzz_bed(scratch, raw):
    intervals = check(read_bed, put(scratch, "peaks.bed", raw))
    if intervals is not None:
        assert all(0 <= iv.start < iv.end and iv.strand in "+-." for iv in intervals)


@FUZZ
@given(inputs(VALID_FASTA, FASTA_TOKENS))
def test_fuzz_genome(scratch, raw):
    genome = check(read_genome, put(scratch, "g.fa", raw))
    if genome is not None:
        assert len(set(genome.names)) == len(genome.names)


@FUZZ
@given(inputs(VALID_BED, BED_TOKENS), st.integers(1, 30))
def test_fuzz_bed_windows(scratch, genome_file, raw, width):
    genome = read_genome(genome_file)
    bed = put(scratch, "w.bed", raw)
    check(lambda p: windows_from_intervals(genome, read_bed(p), width, str(p)), bed)


@FUZZ
@given(inputs(VALID_FASTA, FASTA_TOKENS), st.sampled_from(["shuffle", None]))
def test_fuzz_dataset_from_fasta(scratch, raw, negatives):
    pos = put(scratch, "pos.fa", raw)
    neg = put(scratch, "neg.fa", b">n1\nACGTACGTAA\n>n2\nTTGACC\n")
    spec = DataSpec(pos_fasta=str(pos), neg_fasta=None if negatives else str(neg), negatives=negatives)
    check(lambda p, n: load_dataset(spec, log=lambda *a: None), pos, neg)


@FUZZ
@given(inputs(VALID_BED, BED_TOKENS), st.sampled_from(["shuffle", "genome"]))
def test_fuzz_dataset_from_bed(scratch, genome_file, raw, negatives):
    bed = put(scratch, "d.bed", raw)
    spec = DataSpec(bed=str(bed), genome=str(genome_file), width=8, negatives=negatives)
    check(lambda p, g: load_dataset(spec, log=lambda *a: None), bed, genome_file)


# --------------------------------------------------------------------------- every reader, targeted

READERS = {
    "sequences": (read_sequences, b"ACGT\nTTGA\n"),
    "labels": (read_labels, b"0\n1\n"),
    "fasta": (read_fasta, b">a\nACGT\n"),
    "fasta chunks": (lambda p: list(iter_fasta_chunks(p, 3, 1)), b">a\nACGT\n"),
    "bed": (read_bed, b"chr1\t0\t10\n"),
    "genome": (read_genome, b">chr1\nACGT\n"),
}


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_detects_gzip_by_content(tmp_path, reader):
    fn, content = READERS[reader]
    gz_plain_name = tmp_path / "input.txt"
    gz_plain_name.write_bytes(gzip.compress(content))
    plain_gz_name = tmp_path / "input.txt.gz"
    plain_gz_name.write_bytes(content)
    expected = fn(tmp_path / "input.txt")
    got = fn(plain_gz_name)
    if reader == "genome":
        expected, got = expected.sizes, got.sizes
    elif reader in ("labels",):
        expected, got = expected.tolist(), got.tolist()
    elif reader == "fasta chunks":
        expected = [(r, s, c.tolist()) for r, s, c in expected]
        got = [(r, s, c.tolist()) for r, s, c in got]
    assert expected == got


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_refuses_devices_and_fifos(tmp_path, reader):
    fn = READERS[reader][0]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, kind in (("/dev/zero", "is a character device"), (str(fifo), r"is a named pipe \(FIFO\)")):
        with pytest.raises(UserError, match=rf"^{re.escape(path)}: {kind}, not a regular file; expected"):
            fn(path)


@pytest.mark.parametrize("reader", READERS)
def test_every_reader_enforces_the_byte_bound(tmp_path, monkeypatch, reader):
    fn, content = READERS[reader]
    path = tmp_path / "input"
    repeats = {"fasta": b"ACGT\n", "fasta chunks": b"ACGT\n", "genome": b"ACGT\n"}
    path.write_bytes(content + repeats.get(reader, content) * 200)
    fn(path)  # readable without a bound
    monkeypatch.setenv("MOTIFNET_MAX_INPUT_BYTES", "300")
    with pytest.raises(UserError, match=r"input: is larger than the input limit of 300 bytes; set "
                                        r"the environment variable MOTIFNET_MAX_INPUT_BYTES"):
        fn(path)
    path.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(UserError, match=r"input: decompresses to more than the input limit of 300 bytes"):
        fn(path)
