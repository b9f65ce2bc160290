"""motifnet.genome: BED reading, the genome as codes, windows centred on summits or midpoints.

Windows are checked against slices of the genome's text taken here by hand;
every error names the BED file and line.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from checks import user_error_message as user_error
from checks import write_file as write
from hypothesis import strategies as st

from motifnet.genome import Genome, Interval, read_bed, read_genome, windows_from_intervals

CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def codes_of(text):
    return [CODE.get(b.upper(), -1) for b in text]


# --------------------------------------------------------------------------- BED

def test_bed_columns_comments_and_narrowpeak(tmp_path):
    path = write(tmp_path, "peaks.bed", "\n".join([
        "track name=peaks",
        "browser position chr1:1-100",
        "# a comment",
        "chr1\t10\t20",
        "",
        "chr2 5 9 name1",  # spaces instead of tabs
        "chr1\t0\t100\tp\t7.5\t-",
        "chr3\t100\t300\tpeak\t0\t.\t3.1\t5.2\t4.4\t50",  # narrowPeak, summit at 150
        "chr3\t100\t300\tpeak\t0\t.\t3.1\t5.2\t4.4\t-1",  # narrowPeak without summit
        "chr1\t1\t2\tname with spaces\t.\t+\r",
    ]) + "\n")
    got = read_bed(path)
    assert got == [
        Interval("chr1", 10, 20, line=4),
        Interval("chr2", 5, 9, "name1", line=6),
        Interval("chr1", 0, 100, "p", 7.5, "-", line=7),
        Interval("chr3", 100, 300, "peak", 0.0, ".", 150, line=8),
        Interval("chr3", 100, 300, "peak", 0.0, ".", None, line=9),
        Interval("chr1", 1, 2, "name with spaces", None, "+", line=10),
    ]
    assert got[3].center == 150 and got[4].center == 200 and got[0].length == 10


def test_bed_gzip_by_content(tmp_path):
    path = write(tmp_path, "peaks.bed", gzip.compress(b"chr1\t1\t5\n"))
    assert read_bed(path) == [Interval("chr1", 1, 5, line=1)]


@pytest.mark.parametrize("line, match", [
    ("chr1\t10", r"line 2: 2 columns, expected at least 3 \(chrom, start, end\)"),
    ("chr1", r"line 2: 1 column, expected at least 3"),
    ("chr1\tx\t20", r"line 2: start 'x' is not a whole number$"),
    ("chr1\t10\t2.5", r"line 2: end '2\.5' is not a whole number"),
    ("chr1\t-5\t20", r"line 2: start -5 is negative; BED coordinates are 0-based"),
    ("chr1\t20\t20", r"line 2: end 20 is not greater than start 20 \(BED intervals are 0-based, half-open"),
    ("chr1\t30\t20", r"line 2: end 20 is not greater than start 30"),
    ("chr1\t10\t20\tn\thigh", r"line 2: score 'high' \(column 5\) is not a number"),
    ("chr1\t10\t20\tn\t0\t*", r"line 2: strand '\*' \(column 6\) is not \+, - or \."),
    ("chr1\t\t20", r"line 2: column 2 is empty"),
    ("chr1\t10\t20\tn\t0\t.\t1\t1\t1\t10", r"line 2: summit offset 10 \(narrowPeak column 10\) is not inside"),
    ("chr1\t10\t20\tn\t0\t.\t1\t1\t1\tmid", r"line 2: summit offset \(narrowPeak column 10\) 'mid' is not a whole"),
])
def test_bed_errors_name_file_and_line(tmp_path, line, match):
    path = write(tmp_path, "peaks.bed", f"chr1\t0\t5\n{line}\nchr1\t0\t5\n")
    message = user_error(read_bed, path, match=match)
    assert message.startswith(f"{path} line 2: ")


def test_bed_header_line_gets_a_hint(tmp_path):
    path = write(tmp_path, "peaks.bed", "chrom\tstart\tend\nchr1\t0\t5\n")
    user_error(read_bed, path, match=r"line 1: start 'start' is not a whole number \(a header line\? start it with '#'\)")


def test_bed_without_intervals(tmp_path):
    path = write(tmp_path, "empty.bed", "track name=x\n# nothing\n\n")
    user_error(read_bed, path, match=r"empty\.bed: no intervals; expected BED lines")


# --------------------------------------------------------------------------- genome

def test_genome_from_fasta(tmp_path):
    path = write(tmp_path, "genome.fa", gzip.compress(b">chr1 first\nACGTacgt\nNN\n>chr2\nGGR\n"))
    genome = read_genome(path)
    assert genome.names == ["chr1", "chr2"] and genome.sizes == {"chr1": 10, "chr2": 3}
    assert "chr1" in genome and "chrX" not in genome and len(genome) == 2
    view = genome.fetch("chr1", 2, 9)
    assert view.dtype == np.int8 and view.tolist() == codes_of("GTACGTN")
    with pytest.raises(ValueError):
        view[0] = 1  # the genome is shared: fetch gives read-only views
    assert genome.fetch("chr2", 0, 3).tolist() == [2, 2, -1]


def test_genome_duplicate_chromosome(tmp_path):
    path = write(tmp_path, "genome.fa", ">chr1\nACGT\n>chr2\nAC\n>chr1\nTT\n")
    user_error(read_genome, path, match=r"genome\.fa line 5: chromosome 'chr1' appears twice \(first at line 1\)")


def test_fetch_errors():
    genome = Genome({"chr1": np.zeros(10, np.int8), "chr2": np.zeros(5, np.int8)}, "g.fa")
    user_error(genome.fetch, "chrUn", 0, 5, match=r"chromosome 'chrUn' is not in g\.fa \(it has chr1, chr2\)")
    user_error(genome.fetch, "chr1", 5, 11, match=r"chr1:5-11 is not inside chr1 \(length 10\) of g\.fa")
    user_error(genome.fetch, "chr1", -1, 3, match="is not inside")
    user_error(genome.fetch, "chr1", 3, 3, match="is not inside")


# --------------------------------------------------------------------------- windows

@pytest.fixture
def genome():
    rng = np.random.default_rng(0)
    texts = {"chr1": "".join(rng.choice(list("ACGTN"), 300)), "chr2": "".join(rng.choice(list("ACGT"), 120))}
    return Genome({c: codes_of(t) for c, t in texts.items()}, "genome.fa"), texts


@settings(max_examples=40)
@given(st.data())
def test_windows_are_centred_slices(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16), label="seed"))
    text = "".join(rng.choice(list("ACGTN"), 200))
    genome = Genome({"c": codes_of(text)}, "g.fa")
    width = data.draw(st.integers(1, 60), label="width")
    start = data.draw(st.integers(width, 200 - width - 1), label="start")
    end = data.draw(st.integers(start + 1, min(start + 40, 200 - width)), label="end")
    summit = data.draw(st.none() | st.integers(start, end - 1), label="summit")
    centre = summit if summit is not None else (start + end) // 2
    codes, windows = windows_from_intervals(genome, [Interval("c", start, end, summit=summit, line=3)],
                                            width, "p.bed")
    lo = centre - width // 2
    assert codes.dtype == np.int8 and codes.shape == (1, width)
    assert codes[0].tolist() == codes_of(text[lo:lo + width])
    assert (windows[0].start, windows[0].end, windows[0].line) == (lo, lo + width, 3)


def test_windows_stranded_reverse_complement(genome):
    g, texts = genome
    iv = Interval("chr2", 40, 60, strand="-", line=1)
    plain, _ = windows_from_intervals(g, [iv], 10, "p.bed")
    stranded, _ = windows_from_intervals(g, [iv], 10, "p.bed", stranded=True)
    piece = texts["chr2"][45:55]
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    assert plain[0].tolist() == codes_of(piece)
    assert stranded[0].tolist() == codes_of("".join(complement[b] for b in reversed(piece)))


def test_window_errors_name_bed_file_and_line(genome, tmp_path):
    g, _ = genome
    bed = write(tmp_path, "peaks.bed", "chr1\t10\t20\n" * 6 + "chrUn\t5\t10\n")
    user_error(windows_from_intervals, g, read_bed(bed), 10, "peaks.bed",
               match=r"^peaks\.bed line 7: chromosome 'chrUn' is not in genome\.fa \(it has chr1, chr2\)$")
    user_error(windows_from_intervals, g, [Interval("1", 5, 10, line=4)], 4, "peaks.bed",
               match=r"peaks\.bed line 4: chromosome '1' is not in genome\.fa .*did you mean 'chr1'\?")
    user_error(windows_from_intervals, g, [Interval("chr2", 100, 130, line=12)], 4, "peaks.bed",
               match=r"^peaks\.bed line 12: end 130 is past the end of chr2 \(length 120\)")
    user_error(windows_from_intervals, g, [Interval("chr2", 100, 118, line=2)], 40, "peaks.bed",
               match=r"^peaks\.bed line 2: the 40 bp window centred on chr2:109 would end at 129, "
                     r"past the end of chr2 \(length 120\)")
    user_error(windows_from_intervals, g, [Interval("chr1", 0, 10, line=9)], 40, "peaks.bed",
               match=r"^peaks\.bed line 9: the 40 bp window centred on chr1:5 would start at -15, "
                     r"before the start of chr1")
    user_error(windows_from_intervals, g, [Interval("chr1", 0, 10)], 0, "peaks.bed",
               match=r"width must be a whole number of bases >= 1, got 0")
    # intervals made in code (no line): named by their position and coordinates
    user_error(windows_from_intervals, g, [Interval("chr1", 0, 5), Interval("chrZ", 0, 5)], 2, "mine",
               match=r"^mine interval 2 \(chrZ:0-5\): chromosome 'chrZ'")


def test_many_chromosomes_are_listed_briefly():
    g = Genome({f"chr{i}": np.zeros(5, np.int8) for i in range(1, 30)}, "big.fa")
    user_error(g.fetch, "chrUn", 0, 1, match=r"\(it has chr1, chr2, chr3, chr4, chr5, chr6, \.\.\. \(29 in all\)\)")
