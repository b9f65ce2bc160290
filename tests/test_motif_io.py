"""Motif files: MEME and JASPAR readers, the MEME writer, the shipped database, PWM helpers.

Every file is written in tmp_path by the test itself, except the shipped JASPAR
2024 CORE database, which is read through the package.  Expected values are
written out by hand (counts / totals, the first rows of a known matrix), never
recomputed by the code under test.
"""

from __future__ import annotations

import gzip
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet.errors import UserError
from motifnet.motif import database
from motifnet.motif.io import (format_meme, parse_jaspar, parse_meme, parse_motifs, read_jaspar, read_meme,
                               read_motifs, write_meme)
from motifnet.motif.pwm import Motif, reverse_complement_pwm, trim, trim_bounds

MEME_HEAD = ("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n"
             "Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n")  # 9 lines


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def random_motif(rng, i, width=None):
    w = int(rng.integers(1, 25)) if width is None else width
    return Motif(f"M{i}.{rng.integers(1, 9)}", f"name_{i}", rng.dirichlet([0.5] * 4, size=w).T,
                 nsites=float(rng.integers(1, 5000)) if i % 3 else None,
                 url=f"https://example.org/m{i}" if i % 2 else None)


# --------------------------------------------------------------------------- MEME

def test_meme_round_trip_keeps_ids_names_sites_urls_and_probabilities(tmp_path):
    rng = np.random.default_rng(7)
    motifs = [random_motif(rng, i) for i in range(40)]
    path = tmp_path / "out" / "motifs.meme"
    write_meme(path, motifs)
    back = read_motifs(path)
    assert [m.id for m in back] == [m.id for m in motifs]
    assert [m.name for m in back] == [m.name for m in motifs]
    assert [m.nsites for m in back] == [m.nsites for m in motifs]
    assert [m.url for m in back] == [m.url for m in motifs]
    for a, b in zip(motifs, back):
        # 6 decimals written: each entry within 5e-7, plus the row's rescaling to sum 1
        np.testing.assert_allclose(b.pwm, a.pwm, atol=2e-6, rtol=0)
    assert read_meme(path)[0].id == motifs[0].id


def test_meme_writer_replaces_a_file_only_when_complete(tmp_path):
    path = write(tmp_path, "motifs.meme", "old contents\n")
    bad = Motif("two words", "", np.full((4, 3), 0.25))
    with pytest.raises(ValueError, match="one word"):
        write_meme(path, [random_motif(np.random.default_rng(0), 1), bad])
    assert path.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["motifs.meme"]  # no temporary file left behind


def test_meme_writer_output_is_the_minimal_format():
    m = Motif("MA0001.1", "Ahr Arnt", np.array([[1, 0, 0, 0], [0.5, 0.5, 0, 0]]).T, nsites=20)
    text = format_meme([m])
    assert text.startswith("MEME version 4\n")
    assert "ALPHABET= ACGT\n" in text and "strands: + -\n" in text
    assert "MOTIF MA0001.1 Ahr_Arnt\n" in text  # MEME's alternate name is one word
    assert "letter-probability matrix: alength= 4 w= 2 nsites= 20\n" in text
    assert " 1.000000  0.000000  0.000000  0.000000\n 0.500000  0.500000  0.000000  0.000000\n" in text


def test_meme_reader_is_as_tolerant_as_the_format():
    text = ("Some text from meme.txt before the version line\n"
            "MEME version 5.5.4 (Release date: ...)\r\n"
            "ALPHABET= ACGT\n"
            "Background letter frequencies (from file x):\n"
            "A 0.3 C 0.2\nG 0.2 T 0.3\n\n"
            "MOTIF\tfirst\talt_name extra words\n"
            "log-odds matrix: alength= 4 w= 1 n= 10 bayes= 1 E= 0\n"
            " -1.0 2.0 -3.0 0.5\n"
            "letter-probability matrix: nsites=12 E= 1e-5 w=2 alength=4\n"
            "\n"
            "0.1\t0.2\t0.3\t0.4\n"
            "  0.25 0.25 0.25 0.2500001  \n"
            "URL http://example.org/first\n"
            "MOTIF second\n"
            "letter-probability matrix: nsites= 0\n"  # 0: unknown, as MEME reads it
            "1 0 0 0\n"
            "0 0 0 1\n"
            "\n"
            "MOTIF third\n"
            "letter-probability matrix: alength= 4 w= 1\n"
            "0.5 0.5 0.04 0.04\n")  # sums to 1.08: within the tolerance, rescaled
    first, second, third = parse_meme(text)
    assert (first.id, first.name, first.nsites, first.url) == ("first", "alt_name", 12.0, "http://example.org/first")
    np.testing.assert_allclose(first.pwm[:, 0], [0.1, 0.2, 0.3, 0.4])
    assert (second.id, second.name, second.nsites, second.width) == ("second", "", None, 2)
    np.testing.assert_array_equal(second.pwm, [[1, 0], [0, 0], [0, 0], [0, 1]])
    np.testing.assert_allclose(third.pwm[:, 0], np.array([0.5, 0.5, 0.04, 0.04]) / 1.08)


def test_meme_reader_accepts_a_dna_alphabet_block():
    text = ("MEME version 5\n\nALPHABET \"DNA\" DNA-LIKE\nA \"Adenine\" CC0000 ~ T \"Thymine\" 008000\n"
            "C \"Cytosine\" 0000CC ~ G \"Guanine\" FFB300\nN \"Any base\" = ACGT\nEND ALPHABET\n\n"
            "MOTIF x\nletter-probability matrix: w= 1\n0.7 0.1 0.1 0.1\n")
    (m,) = parse_meme(text)
    np.testing.assert_allclose(m.pwm[:, 0], [0.7, 0.1, 0.1, 0.1])


MEME_ERRORS = [
    # (text, line, expected words)
    ("ALPHABET= ACGT\nMOTIF x\n", 2, "MOTIF before the 'MEME version' line"),
    ("just some text\n", None, "no 'MEME version' line"),
    ("MEME version\n", 1, "version number"),
    ("MEME version 4\nALPHABET= ACGU\n", 2, "'ACGU' is not DNA"),
    ("MEME version 4\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n", 2, "is not DNA"),
    ("MEME version 4\nALPHABET \"RNA\" RNA-LIKE\nA ~ U\nC ~ G\nEND ALPHABET\n", 2, "core letters 'ACGU' is not DNA"),
    ("MEME version 4\nALPHABET \"DNA\"\nA ~ T\n", 2, "without 'END ALPHABET'"),
    ("MEME version 4\nstrands: + x\n", 2, "expected 'strands: + -'"),
    ("MEME version 4\nBackground letter frequencies\nA 0.25 C x\n", 3, "letter-frequency pairs"),
    ("MEME version 4\nBackground letter frequencies\nA 1.5 C 0.2 G 0.2 T 0.1\n", 3, "between 0 and 1"),
    ("MEME version 4\nMOTIF\n", 2, "without an identifier"),
    ("MEME version 4\nletter-probability matrix: w= 1\n1 0 0 0\n", 2, "outside a motif"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 1\n1 0 0 0\nletter-probability matrix: w= 1\n1 0 0 0\n",
     13, "second letter-probability matrix"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: alength= 20 w= 1\n", 11, "expected alength= 4"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 0\n", 11, "expected a motif width >= 1"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 2.5\n", 11, "expected a motif width >= 1"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 1 nsites= -3\n", 11, "number of sites >= 0"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 2\n1 0 0 0\nMOTIF b\n", 13, "expected row 2 of 2"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 1\n0.5 0.5 0\n", 12, "found 3 numbers; expected 4"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 1\n1.5 -0.5 0 0\n", 12, "probabilities >= 0"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 1\n0.2 0.2 0.2 0.2\n", 12, "summing to 0.8"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 1\nnan 0 0 0\n", 12, "expected row 1 of 1"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix: w= 3\n1 0 0 0\n", 12, "end of file after 1 of 3 rows"),
    (MEME_HEAD + "MOTIF a\nletter-probability matrix:\nMOTIF b\n", 12, "no rows after"),
    (MEME_HEAD + "MOTIF a\nURL x\nMOTIF b\n", 10, "motif 'a' has no letter-probability matrix"),
    (MEME_HEAD, 9, "without a MOTIF"),
]


@pytest.mark.parametrize("text, line, words", MEME_ERRORS)
def test_meme_errors_are_one_line_naming_file_line_found_and_expected(tmp_path, text, line, words):
    path = write(tmp_path, "bad.meme", text)
    with pytest.raises(UserError) as info:
        read_meme(path)
    message = str(info.value)
    assert "\n" not in message
    prefix = f"{path} line {line}: " if line else f"{path}: "
    assert message.startswith(prefix), message
    assert words in message, message
    assert "expected" in message


# --------------------------------------------------------------------------- JASPAR

JASPAR_TEXT = """>MA0001.9\tAhr::Arnt  test
A  [     1     0     2 ]
C  [     3     0     0 ]
G  [     0     4     2 ]
T  [     0     0     0 ]
>MA0002.9 Second
A  [ 10 ]
C  [ 0 ]
G  [ 0 ]
T  [ 30 ]
"""


def test_jaspar_counts_become_probabilities():
    first, second = parse_jaspar(JASPAR_TEXT)
    assert (first.id, first.name, first.nsites) == ("MA0001.9", "Ahr::Arnt test", 4.0)
    np.testing.assert_allclose(first.pwm, [[0.25, 0, 0.5], [0.75, 0, 0], [0, 1, 0.5], [0, 0, 0]])
    assert (second.id, second.name, second.nsites) == ("MA0002.9", "Second", 40.0)
    np.testing.assert_allclose(second.pwm[:, 0], [0.25, 0, 0, 0.75])


def test_jaspar_rows_may_come_in_any_labelled_order_with_or_without_brackets():
    text = ">x y\nT 0 0\nG: 1 0\nC [2 0]\nA[ 1 5 ]\n"
    (m,) = parse_jaspar(text)
    np.testing.assert_allclose(m.pwm, [[0.25, 1], [0.5, 0], [0.25, 0], [0, 0]])


def test_pfm_without_header_takes_its_id_from_the_file_name(tmp_path):
    path = write(tmp_path, "MA9999.1.pfm", "1 2\n1 0\n0 0\n2 0\n")
    (m,) = read_jaspar(path)
    assert (m.id, m.name) == ("MA9999.1", "")
    np.testing.assert_allclose(m.pwm, [[0.25, 1], [0.25, 0], [0, 0], [0.5, 0]])


def test_a_frequency_matrix_has_no_site_count():
    (m,) = parse_jaspar(">f\n0.5 0.25\n0.5 0.25\n0 0.25\n0 0.25\n")
    assert m.nsites is None
    np.testing.assert_allclose(m.pwm[:, 1], [0.25] * 4)


JASPAR_ERRORS = [
    (">\n", 1, "'>' without an identifier"),
    (">a\nA [ 1 x ]\n", 2, "expected a '>ID name' header or a row of counts"),
    (">a\n1 2\n1 2\n1 2\n>b\n", 5, "found 3 rows for matrix 'a'; expected 4"),
    (">a\n1\n1\n1\n1\n1\n", 6, "fifth row for matrix 'a'"),
    ("1\n1\n1\n1\n1\n", 5, "expected '>ID name' before each matrix"),
    ("1\n1\n1\n1\n>b\n1\n1\n1\n1\n", None, None),  # a headerless matrix, then one with a header: fine
    (">a\nA [1]\nA [2]\n", 3, "second row labelled A"),
    (">a\n1 2 3\n1 2\n", 3, "found 2 counts; expected 3"),
    (">a\n1 -2\n", 2, "negative count"),
    (">a\n1 0\n1 0\n1 0\n1 0\n", 2, "column 2 of matrix 'a' has no counts"),
    (">a\nA [1]\nC [1]\n1\nT [1]\n", 4, "unlabelled row among labelled ones"),
    (">a\n1e308\n1e308\n1e308\n1e308\n", 2, "too large"),
    (">a\n", 1, "found 0 rows for matrix 'a'"),
]


@pytest.mark.parametrize("text, line, words", JASPAR_ERRORS)
def test_jaspar_errors_are_one_line_naming_file_line_found_and_expected(tmp_path, text, line, words):
    path = write(tmp_path, "bad.jaspar", text)
    if words is None:
        assert [m.id for m in read_jaspar(path)] == ["bad", "b"]
        return
    with pytest.raises(UserError) as info:
        read_jaspar(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path} line {line}: "), message
    assert words in message and "expected" in message, message


# --------------------------------------------------------------------------- either format

def test_format_is_told_by_content_not_by_name(tmp_path):
    meme = write(tmp_path, "looks_like.jaspar", MEME_HEAD + "MOTIF a b\nletter-probability matrix:\n1 0 0 0\n")
    jaspar = write(tmp_path, "looks_like.meme", JASPAR_TEXT)
    assert [m.id for m in read_motifs(meme)] == ["a"]
    assert [m.id for m in read_motifs(jaspar)] == ["MA0001.9", "MA0002.9"]
    assert [m.id for m in database.load_database(jaspar)] == ["MA0001.9", "MA0002.9"]
    gz = write(tmp_path, "motifs.txt", gzip.compress(JASPAR_TEXT.encode()))  # gzip by content too
    assert len(read_motifs(gz)) == 2


@pytest.mark.parametrize("content, words", [
    (b"", "the file is empty"),
    (b"\n  \n", "the file is empty"),
    (b"hello world\n", "line 1: found 'hello world'; expected a MEME motif file"),
    (b"MEME version 4\nMOTIF \xff\n", "line 2: not a text file (byte 0xff at column 7 is not UTF-8)"),
])
def test_files_that_are_not_motif_files(tmp_path, content, words):
    path = write(tmp_path, "x.txt", content)
    with pytest.raises(UserError, match=re.escape(words)):
        read_motifs(path)


def test_unreadable_paths_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read_motifs(tmp_path / "missing.meme")
    with pytest.raises(UserError, match="is a directory"):
        database.load_database(tmp_path)


# A valid file to mutate: random edits of it reach the parsers' inner states,
# which random bytes alone rarely get past the first line to.
VALID_MEME = (MEME_HEAD + "MOTIF a b\nletter-probability matrix: alength= 4 w= 2 nsites= 5 E= 0\n"
              "0.1 0.2 0.3 0.4\n1 0 0 0\nURL u\n\nMOTIF c\nletter-probability matrix:\n0 0 0 1\n").encode()
VALID = (VALID_MEME, JASPAR_TEXT.encode(), b"1 2 3\n0 0 1\n4 4 4\n0 1 0\n")
PIECES = [b"MOTIF", b"MEME version 4", b"letter-probability matrix:", b" w= ", b"alength= 4", b"nsites=",
          b">", b"[", b"]", b"A", b"T", b"0.25", b"-1", b"1e309", b"nan", b"\n", b"\r\n", b"\t", b" ",
          b"END ALPHABET", b"ALPHABET", b"~", b"=", b"\xff", b"\x00", b"1e308"]


@st.composite
def mutated_files(draw):
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(PIECES) | st.binary(max_size=4))
        if kind == "insert":
            data[at:at] = piece
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        else:
            data[at:at + len(piece)] = piece
    return bytes(data)


@settings(max_examples=400)  # each example takes well under a millisecond
@given(st.binary(max_size=300) | mutated_files())
def test_fuzz_any_bytes_parse_or_raise_user_error(data):
    for parse in (parse_motifs, parse_meme, parse_jaspar):
        try:
            motifs = parse(data, "fuzz")
        except UserError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("fuzz")
        else:
            assert motifs and all(isinstance(m, Motif) for m in motifs)
            for m in motifs:
                assert np.all(m.pwm >= 0) and np.allclose(m.pwm.sum(axis=0), 1.0)


# --------------------------------------------------------------------------- the shipped database

def test_the_shipped_database_loads_2346_jaspar_2024_core_motifs():
    db = database.load_default_database()
    assert len(db) == 2346 == database.DEFAULT_DATABASE_SIZE
    assert len({m.id for m in db}) == 2346
    assert database.load_default_database() is db  # cached
    first = db[0]
    # The first matrix of the file, as JASPAR publishes it: MA0001.3 AGL3, 95 sites, 10 columns.
    assert (first.id, first.name, first.nsites, first.width) == ("MA0001.3", "AGL3", 95.0, 10)
    np.testing.assert_allclose(first.pwm[:, 0], [0.0, 0.968421, 0.0, 0.031579], atol=1e-6)
    assert first.url == "https://jaspar.elixir.no/matrix/MA0001.3/"
    assert first.source == "JASPAR 2024 CORE"
    assert {m.id for m in db} >= {"MA2209.1", "MA0139.2"}
    assert "Rauluseviciute" in database.CITATION and "gkad1059" in database.CITATION
    with pytest.raises(ValueError):
        first.pwm[0, 0] = 1.0  # shared between callers, so read-only


# --------------------------------------------------------------------------- PWM helpers

def test_reverse_complement_swaps_bases_and_reverses_positions():
    pwm = np.array([[0.7, 0.1, 0.1, 0.1],    # position 1: mostly A
                    [0.1, 0.6, 0.2, 0.1]]).T  # position 2: mostly C
    rc = reverse_complement_pwm(pwm)
    np.testing.assert_array_equal(rc, np.array([[0.1, 0.2, 0.6, 0.1],    # complement of position 2: G
                                                [0.1, 0.1, 0.1, 0.7]]).T)  # complement of position 1: T
    m = Motif("x", "", pwm)
    assert m.consensus == "AC" and m.reverse_complement().consensus == "GT"


def test_trim_cuts_weak_flanks_only():
    u, a, c = [0.25] * 4, [1, 0, 0, 0], [0, 1, 0, 0]
    pwm = np.array([u, a, u, c, u, u]).T  # IC: 0 2 0 2 0 0 bits
    assert trim_bounds(pwm, 1.0) == (1, 4)
    np.testing.assert_array_equal(trim(pwm, 1.0), np.array([a, u, c]).T)  # the weak middle column stays
    assert trim(pwm, 2.5).shape == (4, 0)
    assert Motif("x", "", pwm).trimmed(2.5) is None
    assert Motif("x", "", pwm).trimmed(1.0).width == 3


@pytest.mark.parametrize("pwm, words", [
    (np.full((3, 2), 1 / 3), "shape"),
    (np.zeros((4, 0)), "shape"),
    (np.full((4, 2), 0.3), "sum to 1"),
    (np.array([[1.5, -0.5, 0, 0]]).T, ">= 0"),
    (np.array([[np.nan, 1, 0, 0]]).T, "finite"),
])
def test_motif_rejects_matrices_that_are_not_pwms(pwm, words):
    with pytest.raises(ValueError, match=words):
        Motif("x", "", pwm)
