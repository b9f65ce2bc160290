"""motifnet.data: the primer's text format, FASTA, codes, one-hot, synthetic data, splits.

Every parse error must be a one-line ``UserError`` naming the file and the
1-based line; the vectorised readers and encoders are checked against naive
loops written here, the block-wise FASTA parser with blocks of a few bytes so
that records, headers, line endings and characters are cut at every place.
"""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest
from checks import serve_folder
from checks import user_error_message as raises_user_error
from checks import write_file as write
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet import data
from motifnet.data import (
    ALPHABET,
    PRIMER_MOTIF,
    decode,
    encode,
    generate_data,
    iter_fasta,
    iter_fasta_chunks,
    iter_fasta_records,
    load_fasta_pair,
    load_primer,
    one_hot,
    one_hot_codes,
    read_fasta,
    read_labels,
    read_sequences,
    reverse_complement,
    split_by_chromosome,
    split_random,
    train_test_split,
)

EXPECTED_BASES = "expected A, C, G, T, N or an IUPAC ambiguity letter (R Y S W K M B D H V)"
NAIVE_CODE = {"A": 0, "C": 1, "G": 2, "T": 3}
NAIVE_COMPLEMENT = dict(zip("ACGTNRYSWKMBDHV", "TGCANYRSWMKVHDB"))


def naive_code(base):
    return NAIVE_CODE.get(base.upper(), -1)


def naive_one_hot(seqs):
    x = np.zeros((len(seqs), 4, len(seqs[0]) if seqs else 0), dtype=np.float32)
    for i, s in enumerate(seqs):
        for j, base in enumerate(s):
            if base.upper() in ALPHABET:
                x[i, ALPHABET.index(base.upper()), j] = 1.0
    return x


def naive_fasta(text):
    """Records of a valid FASTA text, read line by line the obvious way."""
    records = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(">"):
            records.append([line[1:].split()[0], ""])
        elif line.strip():
            records[-1][1] += "".join(line.split()).upper()
    return [tuple(r) for r in records]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for tests driven by hypothesis (function-scoped tmp_path cannot be used there)."""
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture
def small_blocks():
    """Read FASTA 5 bytes at a time, so every boundary case of the block parser occurs."""
    saved = data.FASTA_BLOCK
    data.FASTA_BLOCK = 5
    yield
    data.FASTA_BLOCK = saved


# --------------------------------------------------------------------------- primer format

def test_primer_files_load(tmp_path):
    seqs, labels = generate_data(n=200, length=50, seed=4)
    s_path = write(tmp_path, "sequences.txt", "\n".join(seqs) + "\n")
    l_path = write(tmp_path, "labels.txt", "".join(f"{y}\n" for y in labels))
    got_seqs, got_labels = load_primer(s_path, l_path)
    assert got_seqs == seqs
    assert got_labels.dtype == np.int8 and got_labels.tolist() == labels.tolist()


def test_primer_files_gzip_by_content(tmp_path):
    # gzip under a plain name, and a plain file under a .gz name
    s_path = write(tmp_path, "sequences.txt", gzip.compress(b"ACGT\nTTGA\n"))
    l_path = write(tmp_path, "labels.txt.gz", "1\n0\n")
    seqs, labels = load_primer(s_path, l_path)
    assert seqs == ["ACGT", "TTGA"] and labels.tolist() == [1, 0]


def test_crlf_trailing_whitespace_and_trailing_blank_lines(tmp_path):
    seqs = write(tmp_path, "s.txt", "ACGT\r\nacgn  \r\nTTTT\r\n\r\n\n")
    labels = write(tmp_path, "l.txt", "0\r\n1 \n1\n\n")
    s, y = load_primer(seqs, labels)
    assert s == ["ACGT", "acgn", "TTTT"]
    assert y.tolist() == [0, 1, 1]


def test_byte_order_mark_is_skipped(tmp_path):
    path = write(tmp_path, "s.txt", b"\xef\xbb\xbfACGT\nCC\n")
    assert read_sequences(path) == ["ACGT", "CC"]


def test_bad_character_names_file_line_and_column(tmp_path):
    lines = ["ACGTACGT"] * 20
    lines[16] = "ACGTXCGT"
    path = write(tmp_path, "seqs.txt", "\n".join(lines) + "\n")
    message = raises_user_error(read_sequences, path, match="line 17")
    assert message == f"{path} line 17: unexpected character 'X' at column 5; {EXPECTED_BASES}"


def test_non_ascii_character_reported_by_column(tmp_path):
    path = write(tmp_path, "s.txt", "ACGT\nAC\u00c4T\n")
    raises_user_error(read_sequences, path, match=r"line 2: unexpected character 'Ä' at column 3")


def test_sequences_of_different_lengths_and_ambiguity_letters(tmp_path):
    path = write(tmp_path, "s.txt", "A" * 50 + "\n" + "CRYSWKMBDHVn\n" + "G\n")
    assert read_sequences(path) == ["A" * 50, "CRYSWKMBDHVn", "G"]


@pytest.mark.parametrize("reader", [read_sequences, read_labels])
def test_blank_line_in_the_middle(tmp_path, reader):
    text = "ACGT\n\nACGT\n" if reader is read_sequences else "0\n\n1\n"
    path = write(tmp_path, "f.txt", text)
    raises_user_error(reader, path, match=r"f\.txt line 2: blank line")


@pytest.mark.parametrize("reader", [read_sequences, read_labels, read_fasta])
def test_missing_empty_directory_binary(tmp_path, reader):
    raises_user_error(reader, str(tmp_path / "nope.txt"), match=r"nope\.txt: no such file")
    raises_user_error(reader, write(tmp_path, "empty.txt", "\n \n"),
                      match=r"empty\.txt: .*(empty|no FASTA)")
    raises_user_error(reader, str(tmp_path), match="is a directory")
    raises_user_error(reader, write(tmp_path, "bin.txt", b"AC\xffGT\n"),
                      match=r"bin\.txt line 1: not a text file \(byte 0xff at column 3 is not UTF-8\)")
    raises_user_error(reader, write(tmp_path, "nul.txt", b"ACGT\nA\x00GT\n"),
                      match=r"nul\.txt line 2: not a text file \(byte 0x00 at column 2 is a control")


def test_fasta_given_as_sequences_gets_a_hint(tmp_path):
    path = write(tmp_path, "s.fa", ">a\nACGT\n")
    raises_user_error(read_sequences, path, match="line 1: .*FASTA")


def test_bad_label(tmp_path):
    path = write(tmp_path, "labels.txt", "0\n1\n1\n2\n")
    raises_user_error(read_labels, path, match=r"labels\.txt line 4: label '2' is not 0 or 1")
    path = write(tmp_path, "labels2.txt", "0\n1.0\n")
    raises_user_error(read_labels, path, match=r"line 2: label '1\.0' is not 0 or 1")


def test_count_mismatch(tmp_path):
    seqs = write(tmp_path, "s.txt", "ACGT\nACGT\nACGT\n")
    labels = write(tmp_path, "l.txt", "0\n1\n")
    raises_user_error(load_primer, seqs, labels,
                      match=r"s\.txt has 3 sequences but .*l\.txt has 2 labels")


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    """A local HTTP server (127.0.0.1, no outside network) serving a temporary folder."""
    root = tmp_path_factory.mktemp("www")
    (root / "seqs.txt").write_text("ACGT\nTTGA\n")
    (root / "labels.txt").write_text("1\n0\n")
    (root / "x.fa").write_bytes(gzip.compress(b">a\nAC\nGT\n>b\nT\n"))
    yield from serve_folder(root)


def test_urls(http_root):
    seqs, labels = load_primer(f"{http_root}/seqs.txt", f"{http_root}/labels.txt")
    assert seqs == ["ACGT", "TTGA"] and labels.tolist() == [1, 0]
    assert read_fasta(f"{http_root}/x.fa") == [("a", "ACGT"), ("b", "T")]  # gzip over http
    url = f"{http_root}/missing.txt"
    message = raises_user_error(read_sequences, url, match="HTTP 404")
    assert message.startswith(url)


def test_unreachable_url():
    # port 9 on localhost: nothing listens, so the connection is refused at once
    raises_user_error(read_labels, "http://127.0.0.1:9/labels.txt",
                      match=r"^http://127\.0\.0\.1:9/labels\.txt: download failed")


# --------------------------------------------------------------------------- FASTA

def test_fasta_multiline_records(tmp_path):
    path = write(tmp_path, "x.fa", ">s1 first record\nACGT\nAC\n\n>s2\r\nacgtn\nN\n")
    assert read_fasta(path) == [("s1", "ACGTAC"), ("s2", "ACGTNN")]
    assert list(iter_fasta(path)) == read_fasta(path)


def test_fasta_any_lengths_ambiguity_and_inner_whitespace(tmp_path):
    path = write(tmp_path, "x.fa", ">a\nAC GT\tn\n>b\nryswkmbdhv\n>c\nG")
    assert read_fasta(path) == [("a", "ACGTN"), ("b", "RYSWKMBDHV"), ("c", "G")]
    records = list(iter_fasta_records(path))
    assert [r.id for r in records] == ["a", "b", "c"] and [r.line for r in records] == [1, 3, 5]
    assert records[0].codes.dtype == np.int8
    assert records[0].codes.tolist() == [0, 1, 2, 3, -1]
    assert records[1].codes.tolist() == [-1] * 10


def test_fasta_gzip_detected_by_content(tmp_path):
    text = b">a\nACGT\n>b\nGG\n"
    gz_named_fa = write(tmp_path, "x.fa", gzip.compress(text))
    plain_named_gz = write(tmp_path, "y.fa.gz", text)
    assert read_fasta(gz_named_fa) == read_fasta(plain_named_gz) == [("a", "ACGT"), ("b", "GG")]


@pytest.mark.parametrize("text, match", [
    ("ACGT\n>s1\nACGT\n", r"line 1: sequence before the first '>' header"),
    ("\n\n  ACGT\n>s1\nACGT\n", r"line 3: sequence before the first '>' header"),
    (">s1\nACGT\n>s2\n>s3\nACGT\n", r"line 3: record 's2' has no sequence"),
    (">s1\nACGT\n>s2\n", r"line 3: record 's2' has no sequence"),
    (">s1\nACGT\n>s2", r"line 3: record 's2' has no sequence"),
    (">s1\nACGT\n> \nACGT\n", r"line 3: header '>' without an id"),
    (">s1\nACGT\n>s2\nAC\nGTX\n", r"line 5: unexpected character 'X' at column 3"),
    (">s1\nACGT\n>s2\nACGT>\n", r"line 4: unexpected character '>' at column 5"),
    (">s1\nACGU\n", r"line 2: unexpected character 'U' at column 4; " + re.escape(EXPECTED_BASES)),
    (">s1\nAC-GT\n", r"line 2: unexpected character '-' at column 3"),
    (">s1\nAC\u00c4T\n", r"line 2: unexpected character 'Ä' at column 3"),
    (">s1 caf\u00e9\nACGT\n>s2\rACGT\r", r"line 3: carriage return \(\\r\) at column 4 inside a line"),
])
def test_fasta_errors(tmp_path, text, match, small_blocks):
    path = write(tmp_path, "x.fa", text)
    message = raises_user_error(read_fasta, path, match=match)
    assert message.startswith(f"{path} line ")


@pytest.mark.parametrize("block", [1, 2, 3, 4, 1 << 20])
def test_fasta_byte_order_mark_whatever_the_block_size(tmp_path, block):
    path = write(tmp_path, "bom.fa", b"\xef\xbb\xbf>a\nAC\n")
    saved = data.FASTA_BLOCK
    try:
        data.FASTA_BLOCK = block
        assert read_fasta(path) == [("a", "AC")]
    finally:
        data.FASTA_BLOCK = saved


def test_fasta_error_column_on_a_long_line_across_blocks(tmp_path):
    # a single-line chromosome: the bad base's column counts the bases of earlier blocks
    path = write(tmp_path, "chr.fa", ">chr1\n" + "ACGT" * 1000 + "Z" + "ACGT" * 10 + "\n")
    saved = data.FASTA_BLOCK
    try:
        data.FASTA_BLOCK = 777
        raises_user_error(read_fasta, path, match=r"chr\.fa line 2: unexpected character 'Z' at column 4001;")
    finally:
        data.FASTA_BLOCK = saved


def test_fasta_max_length_stops_early(tmp_path):
    path = write(tmp_path, "x.fa", ">short\nACGT\n>long\n" + "A" * 100 + "\n")
    raises_user_error(iter_fasta_records, path, max_length=50,
                      match=r"x\.fa line 3: record 'long' is longer than 50 bases")
    assert [r.id for r in iter_fasta_records(path, max_length=100)] == ["short", "long"]


fasta_texts = st.lists(
    st.tuples(
        st.text(st.sampled_from("abcXYZ_.:|0123456789"), min_size=1, max_size=6),  # id
        st.text(st.sampled_from(" xyz"), max_size=3),                            # description
        st.lists(st.text(st.sampled_from("ACGTNacgtnRYswkmBDHV \t"), min_size=1, max_size=9)
                 .filter(str.strip), min_size=1, max_size=5),                    # sequence lines
        st.sampled_from(["\n", "\r\n"]),
        st.booleans(),                                                           # blank line after
    ),
    min_size=1, max_size=6,
)


def render_fasta(records):
    out = []
    for rec_id, desc, lines, end, blank in records:
        out.append(f">{rec_id}{' ' + desc if desc.strip() else ''}{end}")
        out.extend(line + end for line in lines)
        if blank:
            out.append(end)
    return "".join(out)


@settings(max_examples=60)
@given(fasta_texts, st.integers(1, 12), st.booleans(), st.booleans())
def test_fasta_matches_naive_reader_for_any_block_size(scratch, records, block, gz, final_newline):
    text = render_fasta(records)
    if not final_newline:
        text = text.rstrip("\r\n")
    raw = text.encode()
    path = scratch / "fuzz.fa"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    expected = naive_fasta(text)
    saved = data.FASTA_BLOCK
    try:
        data.FASTA_BLOCK = block
        assert read_fasta(path) == expected
        got = [(r.id, r.codes.tolist()) for r in iter_fasta_records(path)]
        assert got == [(i, [naive_code(b) for b in s]) for i, s in expected]
    finally:
        data.FASTA_BLOCK = saved


@settings(max_examples=60)
@given(fasta_texts, st.integers(1, 12), st.data())
def test_fasta_chunks_match_slices_of_the_records(scratch, records, block, draw):
    text = render_fasta(records)
    path = scratch / "chunks.fa"
    path.write_text(text, newline="")
    chunk_size = draw.draw(st.integers(1, 30), label="chunk_size")
    overlap = draw.draw(st.integers(0, chunk_size - 1), label="overlap")
    expected = []
    for rec_id, seq in naive_fasta(text):
        codes = [naive_code(b) for b in seq]
        start = 0
        while True:  # chunk k starts at k * step; stop once a chunk reaches the end
            expected.append((rec_id, start, codes[start:start + chunk_size]))
            if start + chunk_size >= len(codes):
                break
            start += chunk_size - overlap
    saved = data.FASTA_BLOCK
    try:
        data.FASTA_BLOCK = block
        got = [(r, s, c.tolist()) for r, s, c in iter_fasta_chunks(path, chunk_size, overlap)]
    finally:
        data.FASTA_BLOCK = saved
    assert got == expected


def test_fasta_chunks_are_int8_and_fresh(tmp_path):
    path = write(tmp_path, "x.fa", ">a\n" + "ACGTN" * 10 + "\n")
    chunks = list(iter_fasta_chunks(path, 8, 3))
    assert all(c.dtype == np.int8 for _, _, c in chunks)
    chunks[0][2][:] = 9  # a consumer may keep or modify a chunk: later ones must not change
    assert chunks[1][2].tolist() == [0, 1, 2, 3, -1, 0, 1, 2]


@pytest.mark.parametrize("chunk_size, overlap, match", [
    (0, 0, "chunk size must be a whole number >= 1, got 0"),
    (10, 10, r"chunk overlap must be a whole number in \[0, chunk size 10\), got 10"),
    (10, -1, "chunk overlap"),
    (2.5, 0, "chunk size"),
])
def test_fasta_chunk_arguments(tmp_path, chunk_size, overlap, match):
    path = write(tmp_path, "x.fa", ">a\nACGT\n")
    raises_user_error(iter_fasta_chunks, path, chunk_size, overlap, match=match)


def test_fasta_pair(tmp_path):
    pos = write(tmp_path, "pos.fa", ">p1\nACGT\n>p2\nAAAA\n")
    neg = write(tmp_path, "neg.fa", ">n1\nCCCCC\n")
    seqs, labels, ids = load_fasta_pair(pos, neg)
    assert seqs == ["ACGT", "AAAA", "CCCCC"] and ids == ["p1", "p2", "n1"]
    assert labels.dtype == np.int8 and labels.tolist() == [1, 1, 0]


# --------------------------------------------------------------------------- encoding

@settings(max_examples=40)
@given(st.lists(st.text("ACGTNacgtnRYSWKMBDHVrysw", max_size=12), max_size=8))
def test_encode_matches_naive_loop(seqs):
    codes, lengths = encode(seqs)
    width = max(map(len, seqs), default=0)
    expected = np.full((len(seqs), width), -1, dtype=np.int8)
    for i, s in enumerate(seqs):
        for j, base in enumerate(s):
            expected[i, j] = naive_code(base)
    assert codes.dtype == np.int8 and lengths.dtype == np.int64
    np.testing.assert_array_equal(codes, expected)
    assert lengths.tolist() == [len(s) for s in seqs]
    assert decode(codes, lengths) == ["".join(b.upper() if b.upper() in ALPHABET else "N"
                                              for b in s) for s in seqs]


def test_encode_errors():
    raises_user_error(encode, ["ACGT", "AC", "ACGU"],
                      match=r"^sequence index 2: unexpected character 'U' at column 4")
    raises_user_error(encode, ["A\u00c4"], match=r"sequence index 0: unexpected character 'Ä' at column 2")


@settings(max_examples=40)
@given(st.integers(0, 6).flatmap(
    lambda length: st.lists(st.text("ACGTNacgtnRY", min_size=length, max_size=length),
                            min_size=1, max_size=8)))
def test_one_hot_matches_naive_loop(seqs):
    x = one_hot(seqs)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, naive_one_hot(seqs))
    np.testing.assert_array_equal(one_hot(np.array(seqs)), x)  # numpy string arrays too
    np.testing.assert_array_equal(one_hot_codes(encode(seqs)[0]), x)


def test_one_hot_codes_padding_is_zero():
    codes = np.array([[0, 1, 2, 3, -1], [3, -1, -1, -1, -1]], dtype=np.int8)
    x = one_hot_codes(codes)
    assert x.shape == (2, 4, 5) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, :4], np.eye(4, dtype=np.float32))
    assert x[0, :, 4].sum() == 0 and x[1].sum() == 1 and x[1, 3, 0] == 1
    with pytest.raises(ValueError, match="2-D integer"):
        one_hot_codes(np.zeros(3, dtype=np.int8))


def test_one_hot_n_is_all_zero_and_case_is_ignored():
    x = one_hot(["ACGTN", "acgtn"])
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[0, :, :4], np.eye(4, dtype=np.float32))
    assert not x[:, :, 4].any()


def test_one_hot_errors():
    raises_user_error(one_hot, ["ACGT", "ACGU"],
                      match=r"sequence index 1: unexpected character 'U' at column 4")
    raises_user_error(one_hot, ["ACGT", "ACG"], match=r"sequence index 1 has length 3, expected 4")


@settings(max_examples=40)
@given(st.lists(st.text("ACGTNacgtnRYSWKMBDHVryswkmbdhv", max_size=10), min_size=1, max_size=6))
def test_reverse_complement_matches_naive(seqs):
    for s in seqs:
        expected = "".join(NAIVE_COMPLEMENT[b.upper()] if b.isupper() else NAIVE_COMPLEMENT[b.upper()].lower()
                           for b in reversed(s))
        assert reverse_complement(s) == expected
    codes, lengths = encode(seqs)
    rc = reverse_complement(codes, lengths)
    assert rc.dtype == np.int8 and rc.shape == codes.shape
    for i, s in enumerate(seqs):
        expected = [3 - naive_code(b) if naive_code(b) >= 0 else -1 for b in reversed(s)]
        assert rc[i].tolist() == expected + [-1] * (codes.shape[1] - len(s))
        assert reverse_complement(codes[i, :len(s)]).tolist() == expected


def test_reverse_complement_twice_is_identity_and_rejects_bad_letters():
    codes, lengths = encode(["ACGTTN", "GA"])
    np.testing.assert_array_equal(reverse_complement(reverse_complement(codes, lengths), lengths), codes)
    raises_user_error(reverse_complement, "ACGU", match="unexpected character 'U' at column 4")


# --------------------------------------------------------------------------- synthetic data

def test_generate_data_half_planted_exactly():
    seqs, labels = generate_data(n=301, length=30, seed=3)
    assert len(seqs) == 301 and labels.dtype == np.int8
    assert labels.sum() == 150
    assert all(len(s) == 30 and set(s) <= set(ALPHABET) for s in seqs)
    assert [PRIMER_MOTIF in s for s in seqs] == labels.astype(bool).tolist()


def test_generate_data_short_sequences_redraws_chance_motifs():
    # motif "A" in length-3 sequences: nearly every random negative contains it by chance
    seqs, labels = generate_data(n=200, length=3, motif="a", seed=0)
    assert [("A" in s) for s in seqs] == labels.astype(bool).tolist()


def test_generate_data_motif_position_is_spread():
    seqs, labels = generate_data(n=2000, length=50, seed=0)
    starts = [s.index(PRIMER_MOTIF) for s, y in zip(seqs, labels) if y]
    assert min(starts) == 0 and max(starts) == 50 - len(PRIMER_MOTIF)


def test_generate_data_is_seeded():
    a = generate_data(n=50, seed=7)
    b = generate_data(n=50, seed=7)
    c = generate_data(n=50, seed=8)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0] != c[0]


def test_generate_data_errors():
    raises_user_error(generate_data, 10, 5, "ACGTACGT", match="shorter than the motif")
    raises_user_error(generate_data, 10, 20, "ACGX", match="motif 'ACGX'")
    raises_user_error(generate_data, 0, match="n must be >= 1")


# --------------------------------------------------------------------------- splits

@pytest.mark.parametrize("n, test_size, n_test", [(2000, 0.25, 500), (10, 0.25, 3), (7, 2, 2)])
def test_split_partitions(n, test_size, n_test):
    train, test = train_test_split(n, test_size, seed=1)
    assert len(test) == n_test and len(train) == n - n_test
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    train2, test2 = train_test_split(n, test_size, seed=1)
    assert np.array_equal(train, train2) and np.array_equal(test, test2)


def test_split_depends_on_seed():
    assert not np.array_equal(train_test_split(100, 0.25, 0)[1], train_test_split(100, 0.25, 1)[1])


@pytest.mark.parametrize("n, test_size", [(10, 1.5), (10, 0.0), (10, 10), (1, 0.5), (10, True)])
def test_split_errors(n, test_size):
    raises_user_error(train_test_split, n, test_size, 0, match="test")


@pytest.mark.parametrize("n, valid, test, sizes", [
    (100, 0.1, 0.2, (70, 10, 20)), (10, 0.15, 0.25, (5, 2, 3)), (5, 0.0, 0.0, (5, 0, 0)),
])
def test_split_random_partitions(n, valid, test, sizes):
    train_idx, valid_idx, test_idx = split_random(n, valid, test, seed=3)
    assert (len(train_idx), len(valid_idx), len(test_idx)) == sizes
    assert all(a.dtype == np.int64 for a in (train_idx, valid_idx, test_idx))
    assert sorted(np.concatenate([train_idx, valid_idx, test_idx]).tolist()) == list(range(n))
    again = split_random(n, valid, test, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((train_idx, valid_idx, test_idx), again))


def test_split_random_without_validation_is_train_test_split():
    train_idx, valid_idx, test_idx = split_random(50, 0.0, 0.3, seed=5)
    old_train, old_test = train_test_split(50, 0.3, seed=5)
    assert valid_idx.size == 0
    assert np.array_equal(train_idx, old_train) and np.array_equal(test_idx, old_test)


@pytest.mark.parametrize("args, match", [
    ((10, 0.5, 0.5), "leave 0 for training"),
    ((10, 1.0, 0.0), r"validation fraction must be a fraction in \[0, 1\), got 1\.0"),
    ((10, 0.0, -0.1), "test fraction must be"),
    ((1, 0.0, 0.5), "leave 0 for training"),
])
def test_split_random_errors(args, match):
    raises_user_error(split_random, *args, match=match)


def test_split_by_chromosome():
    chroms = ["chr1", "chr2", "chr1", "chr3", "chr2", "chrX", "chr1"]
    train_idx, valid_idx, test_idx = split_by_chromosome(chroms, ["chr2"], valid_chroms="chrX")
    assert test_idx.tolist() == [1, 4] and valid_idx.tolist() == [5]
    assert train_idx.tolist() == [0, 2, 3, 6]
    train_idx, valid_idx, test_idx = split_by_chromosome(chroms, "chr2,chr3")
    assert test_idx.tolist() == [1, 3, 4] and valid_idx.size == 0
    # a validation fraction is drawn from the chromosomes that are not held out
    many = ["chr1"] * 40 + ["chr2"] * 10
    train_idx, valid_idx, test_idx = split_by_chromosome(many, ["chr2"], valid_fraction=0.25, seed=1)
    assert test_idx.tolist() == list(range(40, 50)) and len(valid_idx) == 10
    assert set(valid_idx.tolist()) <= set(range(40)) and not set(valid_idx) & set(train_idx)
    assert len(train_idx) == 30


@pytest.mark.parametrize("kwargs, match", [
    (dict(test_chroms=["chrUn"]),
     r"test chromosome 'chrUn' has no examples; the data's chromosomes \(examples\) are chr1 \(2\), chr2 \(1\)"),
    (dict(test_chroms=["chr1"], valid_chroms=["chr9"]), "validation chromosome 'chr9' has no examples"),
    (dict(test_chroms=["chr1", "chr2"]), "holding out chr1, chr2 leaves no training examples"),
    (dict(test_chroms=["chr1"], valid_chroms=["chr1"]), "'chr1' is named both for testing and for validation"),
    (dict(test_chroms=[]), "none named"),
    (dict(test_chroms="chr1,,chr2"), "empty chromosome name"),
    (dict(test_chroms=["chr1"], valid_chroms=["chr2"], valid_fraction=0.1), "not both"),
])
def test_split_by_chromosome_errors(kwargs, match):
    raises_user_error(split_by_chromosome, ["chr1", "chr2", "chr1"], match=match, **kwargs)


def test_base_codes_of_inverts_one_hot_codes_and_refuses_other_floats():
    codes = np.array([[0, 1, 2, 3, -1], [3, -1, -1, 2, 0]], dtype=np.int8)
    assert data.base_codes_of(codes, "unused") is codes
    for dtype in (np.float32, np.float64):
        back = data.base_codes_of(data.one_hot_codes(codes).astype(dtype), "unused")
        assert back.dtype == np.int8
        np.testing.assert_array_equal(back, codes)
    two_ones = data.one_hot_codes(codes)
    two_ones[0, :, 0] = [1, 1, 0, 0]
    soft = data.one_hot_codes(codes) * 0.5
    for bad in (two_ones, soft):
        with pytest.raises(ValueError, match="^what the caller needed$"):
            data.base_codes_of(bad, "what the caller needed")
