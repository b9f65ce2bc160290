"""motifnet.data: the primer's text format, FASTA, one-hot encoding, synthetic data, split.

Every parse error must be a one-line ``UserError`` naming the file and the
1-based line; the vectorised one-hot encoder is checked against a naive loop.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet.data import (
    ALPHABET,
    PRIMER_MOTIF,
    generate_data,
    load_fasta_pair,
    load_primer,
    one_hot,
    read_fasta,
    read_labels,
    read_sequences,
    train_test_split,
)
from motifnet.errors import UserError

PRIMER = Path("/work/shared/data/primer")


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, newline="")
    return str(path)


def raises_user_error(fn, *args, match):
    """Call fn, expect a one-line UserError matching ``match`` (a regex); return the message."""
    with pytest.raises(UserError) as info:
        fn(*args)
    message = str(info.value)
    assert "\n" not in message, message
    assert re.search(match, message), f"{message!r} does not match {match!r}"
    return message


def naive_one_hot(seqs):
    x = np.zeros((len(seqs), 4, len(seqs[0]) if seqs else 0), dtype=np.float32)
    for i, s in enumerate(seqs):
        for j, base in enumerate(s):
            if base.upper() != "N":
                x[i, ALPHABET.index(base.upper()), j] = 1.0
    return x


# --------------------------------------------------------------------------- primer format

def test_primer_files_load():
    seqs, labels = load_primer(PRIMER / "sequences.txt", PRIMER / "labels.txt")
    assert len(seqs) == 2000 and all(len(s) == 50 for s in seqs)
    assert labels.dtype == np.int8 and labels.shape == (2000,)
    assert set(np.unique(labels)) == {0, 1}
    # the primer's data: label 1 exactly when its motif is present
    assert all((PRIMER_MOTIF in s) == bool(y) for s, y in zip(seqs, labels))


def test_crlf_trailing_whitespace_and_trailing_blank_lines(tmp_path):
    seqs = write(tmp_path, "s.txt", "ACGT\r\nacgn  \r\nTTTT\r\n\r\n\n")
    labels = write(tmp_path, "l.txt", "0\r\n1 \n1\n\n")
    s, y = load_primer(seqs, labels)
    assert s == ["ACGT", "acgn", "TTTT"]
    assert y.tolist() == [0, 1, 1]


def test_bad_character_names_file_line_and_column(tmp_path):
    lines = ["ACGTACGT"] * 20
    lines[16] = "ACGTXCGT"
    path = write(tmp_path, "seqs.txt", "\n".join(lines) + "\n")
    message = raises_user_error(read_sequences, path, match="line 17")
    assert message == (f"{path} line 17: unexpected character 'X' at column 5; "
                       f"expected A, C, G, T or N")


def test_non_ascii_character_reported_by_column(tmp_path):
    path = write(tmp_path, "s.txt", "ACGT\nAC\u00c4T\n")
    raises_user_error(read_sequences, path, match=r"line 2: unexpected character 'Ä' at column 3")


def test_ragged_lengths(tmp_path):
    path = write(tmp_path, "s.txt", "A" * 50 + "\n" + "C" * 50 + "\n" + "G" * 49 + "\n")
    raises_user_error(read_sequences, path,
                      match=r"s\.txt line 3 has length 49, expected 50 \(the length of line 1\)")


@pytest.mark.parametrize("reader", [read_sequences, read_labels])
def test_blank_line_in_the_middle(tmp_path, reader):
    text = "ACGT\n\nACGT\n" if reader is read_sequences else "0\n\n1\n"
    path = write(tmp_path, "f.txt", text)
    raises_user_error(reader, path, match=r"f\.txt line 2: blank line")


@pytest.mark.parametrize("reader", [read_sequences, read_labels, read_fasta])
def test_missing_empty_directory_binary(tmp_path, reader):
    raises_user_error(reader, str(tmp_path / "nope.txt"), match=r"nope\.txt: no such file")
    raises_user_error(reader, write(tmp_path, "empty.txt", "\n \n"), match=r"empty\.txt: .*(empty|no FASTA)")
    raises_user_error(reader, str(tmp_path), match="is a directory")
    raises_user_error(reader, write(tmp_path, "bin.txt", b"AC\xffGT\n", "wb"),
                      match=r"bin\.txt: not a text file")


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
    raises_user_error(load_primer, seqs, labels, match=r"s\.txt has 3 sequences but .*l\.txt has 2 labels")


@pytest.fixture(scope="module")
def http_root(tmp_path_factory):
    """A local HTTP server (127.0.0.1, no outside network) serving a temporary folder."""
    root = tmp_path_factory.mktemp("www")
    (root / "seqs.txt").write_text("ACGT\nTTGA\n")
    (root / "labels.txt").write_text("1\n0\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls(http_root):
    seqs, labels = load_primer(f"{http_root}/seqs.txt", f"{http_root}/labels.txt")
    assert seqs == ["ACGT", "TTGA"] and labels.tolist() == [1, 0]
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
    assert read_fasta(path) == [("s1", "ACGTAC"), ("s2", "acgtnN")]


@pytest.mark.parametrize("text, match", [
    ("ACGT\n>s1\nACGT\n", r"line 1: sequence before the first '>' header"),
    (">s1\nACGT\n>s2\n>s3\nACGT\n", r"line 3: record 's2' has no sequence"),
    (">s1\nACGT\n>s2\n", r"line 3: record 's2' has no sequence"),
    (">s1\nACGT\n> \nACGT\n", r"line 3: header '>' without an id"),
    (">s1\nACGT\n>s2\nAC\nGTX\n", r"line 5: unexpected character 'X' at column 3"),
    (">s1\nACGT\nA\n>s2\nACGT\n", r"line 4: record 's2' has length 4, expected 5 \(the length of record 's1', line 1\)"),
])
def test_fasta_errors(tmp_path, text, match):
    path = write(tmp_path, "x.fa", text)
    message = raises_user_error(read_fasta, path, match=match)
    assert message.startswith(f"{path} line ")


def test_fasta_pair(tmp_path):
    pos = write(tmp_path, "pos.fa", ">p1\nACGT\n>p2\nAAAA\n")
    neg = write(tmp_path, "neg.fa", ">n1\nCCCC\n")
    seqs, labels, ids = load_fasta_pair(pos, neg)
    assert seqs == ["ACGT", "AAAA", "CCCC"] and ids == ["p1", "p2", "n1"]
    assert labels.dtype == np.int8 and labels.tolist() == [1, 1, 0]
    neg5 = write(tmp_path, "neg5.fa", ">n1\nCCCCC\n")
    raises_user_error(load_fasta_pair, pos, neg5, match=r"neg5\.fa: sequences have length 5 .* length 4")


# --------------------------------------------------------------------------- one_hot

@settings(max_examples=40)
@given(st.integers(0, 6).flatmap(
    lambda length: st.lists(st.text("ACGTNacgtn", min_size=length, max_size=length),
                            min_size=1, max_size=8)))
def test_one_hot_matches_naive_loop(seqs):
    x = one_hot(seqs)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, naive_one_hot(seqs))
    np.testing.assert_array_equal(one_hot(np.array(seqs)), x)  # numpy string arrays too


def test_one_hot_n_is_all_zero_and_case_is_ignored():
    x = one_hot(["ACGTN", "acgtn"])
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[0, :, :4], np.eye(4, dtype=np.float32))
    assert not x[:, :, 4].any()


def test_one_hot_errors():
    raises_user_error(one_hot, ["ACGT", "ACGU"],
                      match=r"sequence index 1: unexpected character 'U' at column 4")
    raises_user_error(one_hot, ["ACGT", "ACG"], match=r"sequence index 1 has length 3, expected 4")


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


# --------------------------------------------------------------------------- split

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
