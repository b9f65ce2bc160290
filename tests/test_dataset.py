"""motifnet.dataset: the one pipeline from inputs to encoded, checked, split examples.

Every input kind is loaded from files generated here and compared with what
was written; every check is made to fire with a one-line ``UserError`` (or a
warning that is counted, logged and recorded in ``info``).
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import re

import numpy as np
import pytest
from checks import write_file as write

from motifnet.data import PRIMER_MOTIF, generate_data
from motifnet.dataset import DataSpec, load_dataset
from motifnet.errors import UserError

CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def codes_of(text):
    return [CODE.get(b.upper(), -1) for b in text]


def random_dna(rng, n):
    return "".join(rng.choice(list("ACGT"), n))


def fasta(records):
    return "".join(f">{rid}\n{seq}\n" for rid, seq in records)


def user_error(spec, match, **kwargs):
    with pytest.raises(UserError) as info:
        load_dataset(spec, log=lambda *a: None, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    assert re.search(match, message), f"{message!r} does not match {match!r}"
    return message


class Log(list):
    def __call__(self, message):
        self.append(message)


@pytest.fixture
def pos_neg(tmp_path):
    rng = np.random.default_rng(0)
    pos = [(f"p{i}", random_dna(rng, 30 + i)) for i in range(12)]
    neg = [(f"n{i}", random_dna(rng, 40)) for i in range(9)]
    return write(tmp_path, "pos.fa", fasta(pos)), write(tmp_path, "neg.fa", fasta(neg)), pos, neg


@pytest.fixture
def genome_files(tmp_path):
    rng = np.random.default_rng(1)
    chroms = {"chr1": random_dna(rng, 3000), "chr2": random_dna(rng, 2000), "chrX": random_dna(rng, 1500)}
    genome = write(tmp_path, "genome.fa.gz", gzip.compress(fasta(chroms.items()).encode()))
    peaks = [("chr1", 200, 300), ("chr1", 1000, 1100), ("chr2", 500, 700), ("chr2", 1500, 1560),
             ("chrX", 300, 400), ("chrX", 900, 1000)]
    bed = write(tmp_path, "peaks.bed", "".join(f"{c}\t{s}\t{e}\n" for c, s, e in peaks))
    background = [("chr1", 2000, 2100), ("chr2", 100, 180), ("chrX", 1200, 1300)]
    neg_bed = write(tmp_path, "neg.bed", "".join(f"{c}\t{s}\t{e}\n" for c, s, e in background))
    return genome, bed, neg_bed, chroms, peaks, background


# --------------------------------------------------------------------------- input kinds

def test_default_is_the_primer_generated_data():
    ds = load_dataset(DataSpec(), seed=3)
    seqs, labels = generate_data(2000, 50, PRIMER_MOTIF, 3)
    assert ds.sequences() == seqs and ds.labels.tolist() == labels.tolist()
    assert ds.codes.shape == (2000, 50) and ds.codes.dtype == np.int8 and ds.length == 50
    assert ds.one_hot().shape == (2000, 4, 50)
    assert ds.info["source"] == "generated" and ds.info["motif"] == PRIMER_MOTIF
    assert (ds.info["split"]["n_train"], ds.info["split"]["n_test"]) == (1500, 500)
    assert ds.chroms is None


def test_primer_files(tmp_path):
    seqs = write(tmp_path, "sequences.txt", "ACGT\nacgtNN\nTTTTTTTT\nCRG\n")
    labels = write(tmp_path, "labels.txt", "1\n0\n1\n0\n")
    ds = load_dataset(DataSpec(sequences=seqs, labels=labels, test_fraction=0.25), seed=0)
    assert ds.lengths.tolist() == [4, 6, 8, 3] and ds.labels.tolist() == [1, 0, 1, 0]
    assert ds.codes[1].tolist() == codes_of("ACGTNN") + [-1, -1]
    assert ds.sequences() == ["ACGT", "ACGTNN", "TTTTTTTT", "CNG"]
    assert ds.info["files"] == {"sequences": os.path.abspath(seqs), "labels": os.path.abspath(labels)}
    assert ds.info["lengths"] == {"min": 3, "median": 5.0, "max": 8}
    with pytest.raises(UserError, match=r"sequences have lengths 3 to 8 bp, but this needs one length"):
        ds.one_hot()
    assert ds.one_hot([0]).shape == (1, 4, 4)


def test_fasta_pair(pos_neg):
    pos_path, neg_path, pos, neg = pos_neg
    ds = load_dataset(DataSpec(pos_fasta=pos_path, neg_fasta=neg_path), seed=0)
    assert ds.ids == [r for r, _ in pos] + [r for r, _ in neg]
    assert ds.sequences() == [s for _, s in pos] + [s for _, s in neg]
    assert ds.labels.tolist() == [1] * 12 + [0] * 9
    assert (ds.info["n_positive"], ds.info["n_negative"], ds.info["n_examples"]) == (12, 9, 21)
    assert ds.info["negatives"]["method"] == "file"
    assert ds.origin(12) == f"{neg_path} line 1 (record 'n0')"
    json.dumps(ds.info)  # JSON-able, for metrics.json
    train, valid, test = ds.train_idx, ds.valid_idx, ds.test_idx
    assert sorted(np.concatenate([train, valid, test]).tolist()) == list(range(21))


def test_fasta_with_shuffled_negatives(pos_neg):
    pos_path, _, pos, _ = pos_neg
    ds = load_dataset(DataSpec(pos_fasta=pos_path, negatives="shuffle", neg_per_pos=2), seed=5)
    assert ds.labels.tolist() == [1] * 12 + [0] * 24
    shuffles = ds.sequences()[12:]
    for k, (rid, seq) in enumerate(pos * 2):
        assert ds.ids[12 + k] == f"{rid}|shuffle{k // 12 + 1}"
        original, shuffled = codes_of(seq), codes_of(shuffles[k])
        assert collections.Counter(zip(original, original[1:])) == collections.Counter(zip(shuffled, shuffled[1:]))
    again = load_dataset(DataSpec(pos_fasta=pos_path, negatives="shuffle", neg_per_pos=2), seed=5)
    other = load_dataset(DataSpec(pos_fasta=pos_path, negatives="shuffle", neg_per_pos=2), seed=6)
    assert again.sequences() == ds.sequences() and other.sequences() != ds.sequences()
    assert ds.info["negatives"]["method"] == "shuffle" and ds.info["negatives"]["per_positive"] == 2


def test_bed_with_neg_bed_and_chromosome_split(genome_files):
    genome, bed, neg_bed, chroms, peaks, background = genome_files
    spec = DataSpec(bed=bed, genome=genome, width=50, neg_bed=neg_bed, test_chroms=["chrX"],
                    valid_chroms="chr2")
    ds = load_dataset(spec, seed=0)
    expected = []
    for c, s, e in peaks + background:
        lo = (s + e) // 2 - 25
        expected.append((f"{c}:{lo}-{lo + 50}", chroms[c][lo:lo + 50], c))
    assert ds.ids == [i for i, _, _ in expected]
    assert ds.sequences() == [s for _, s, _ in expected]
    assert ds.chroms == [c for _, _, c in expected]
    assert ds.labels.tolist() == [1] * 6 + [0] * 3
    assert [ds.chroms[i] for i in ds.test_idx] == ["chrX"] * 3
    assert [ds.chroms[i] for i in ds.valid_idx] == ["chr2"] * 3
    assert {ds.chroms[i] for i in ds.train_idx} == {"chr1"}
    assert ds.info["split"]["method"] == "chromosome" and ds.info["width"] == 50
    assert ds.origin(7) == f"{neg_bed} line 2"


def test_bed_with_genome_negatives(genome_files):
    genome, bed, _, chroms, peaks, _ = genome_files
    ds = load_dataset(DataSpec(bed=bed, genome=genome, width=60, negatives="genome"), seed=2)
    assert ds.labels.tolist() == [1] * 6 + [0] * 6
    for i in range(6, 12):
        chrom, span = ds.ids[i].split(":")
        start, end = map(int, span.split("-"))
        assert end - start == 60 and ds.sequences([i])[0] == chroms[chrom][start:end]
        assert ds.chroms[i] == chrom
        for c, s, e in peaks:  # no overlap with the peaks nor with their windows
            lo = (s + e) // 2 - 30
            assert not (c == chrom and start < max(e, lo + 60) and min(s, lo) < end)
    assert ds.info["negatives"]["method"] == "genome"


def test_bed_with_shuffled_negatives_keeps_their_chromosomes(genome_files):
    genome, bed, _, _, _, _ = genome_files
    ds = load_dataset(DataSpec(bed=bed, genome=genome, width=40, negatives="shuffle",
                               test_chroms="chr2"), seed=0)
    # a positive and its shuffle share a chromosome, so they land in the same split
    assert ds.chroms[6:] == ds.chroms[:6]
    assert sorted(ds.test_idx.tolist()) == [2, 3, 8, 9]


def test_neg_bed_windows_overlapping_a_positive_window_are_a_warning(tmp_path, genome_files):
    genome, bed = genome_files[:2]  # width 50: positive windows chr1 225-275, 1025-1075, ...
    neg = write(tmp_path, "overlap.bed", "chr1\t255\t305\n"     # window 255-305: overlaps 225-275
                                         "chr1\t275\t325\n"     # 275-325: touches, half-open: no
                                         "chr2\t1400\t1460\n")  # 1405-1455: before 1505-1555
    log = Log()
    ds = load_dataset(DataSpec(bed=bed, genome=genome, width=50, neg_bed=neg), log=log, seed=0)
    expected = f"1 of the 3 --neg-bed windows overlap a positive window, e.g. {neg} line 1"
    assert expected in ds.info["warnings"] and "warning: " + expected in log


def test_narrowpeak_summit_centres_the_window(tmp_path, genome_files):
    genome, _, neg_bed, chroms, _, _ = genome_files
    bed = write(tmp_path, "p.narrowPeak", "chr1\t100\t500\tp\t0\t.\t1\t1\t1\t30\n")
    ds = load_dataset(DataSpec(bed=bed, genome=genome, width=20, neg_bed=neg_bed), seed=0)
    assert ds.sequences([0]) == [chroms["chr1"][120:140]]  # summit 130, window 130 - 10 ...


# --------------------------------------------------------------------------- checks

def test_one_class_only(tmp_path, pos_neg):
    seqs = write(tmp_path, "s.txt", "ACGT\nCCGG\n")
    labels = write(tmp_path, "l.txt", "1\n1\n")
    user_error(DataSpec(sequences=seqs, labels=labels),
               match=r"l\.txt: every label is 1; a classifier needs both classes")
    user_error(DataSpec(pos_fasta=pos_neg[0]),
               match=r"^--pos-fasta gives only positives \(one class\); add negatives with "
                     r"--neg-fasta FILE or --negatives shuffle$")
    user_error(DataSpec(bed="p.bed", genome="g.fa", width=10),
               match=r"--bed gives only positives \(one class\); .*--negatives genome")


def test_no_informative_base(tmp_path, pos_neg):
    all_n = write(tmp_path, "n.fa", ">a\nNNNN\n>b\nnnRY\n")
    user_error(DataSpec(pos_fasta=all_n, neg_fasta=pos_neg[1]),
               match=r"n\.fa: no informative base in any positive sequence: every base is N")
    user_error(DataSpec(pos_fasta=pos_neg[0], neg_fasta=all_n),
               match=r"n\.fa: no informative base in any negative sequence")


def test_some_all_n_sequences_are_a_warning(tmp_path, pos_neg):
    pos = write(tmp_path, "p.fa", ">a\nACGTAC\n>b\nNNNN\n")
    log = Log()
    ds = load_dataset(DataSpec(pos_fasta=pos, neg_fasta=pos_neg[1]), log=log)
    assert log == [f"warning: 1 sequences have no informative base (all N), e.g. {pos} line 3 (record 'b')"]
    assert ds.info["warnings"] == [log[0][len("warning: "):]]


def test_same_file_for_both_classes(tmp_path, pos_neg, genome_files):
    pos_path = pos_neg[0]
    user_error(DataSpec(pos_fasta=pos_path, neg_fasta=pos_path),
               match=r"--pos-fasta and --neg-fasta are the same file")
    link = tmp_path / "link.fa"
    os.symlink(pos_path, link)
    user_error(DataSpec(pos_fasta=pos_path, neg_fasta=str(link)), match="are the same file")
    genome, bed = genome_files[:2]
    user_error(DataSpec(bed=bed, genome=genome, width=10, neg_bed=bed),
               match=r"--bed and --neg-bed are the same file")


def test_identical_sequences_under_both_labels(tmp_path):
    pos = write(tmp_path, "p.fa", fasta([("a", "ACGTACGT"), ("b", "GGGGCCCC"), ("c", "TTTAAA")]))
    neg = write(tmp_path, "n.fa", fasta([("x", "acgtacgt"), ("y", "CCCCAAAA"), ("z", "ACGTACGT")]))
    log = Log()
    ds = load_dataset(DataSpec(pos_fasta=pos, neg_fasta=neg), log=log)
    # case (soft-masking) does not make sequences different
    expected = (f"1 distinct sequences (3 examples) appear under both labels, e.g. {pos} line 1 "
                f"(record 'a') and {neg} line 1 (record 'x'); a model cannot tell these apart")
    assert log == ["warning: " + expected] and ds.info["warnings"] == [expected]
    copy = write(tmp_path, "copy.fa", fasta([("x", "acgtacgt"), ("y", "GGGGCCCC"), ("z", "tttaaa")]))
    user_error(DataSpec(pos_fasta=pos, neg_fasta=copy),
               match=r"^every sequence appears under both labels \(3 distinct, e\.g\. .*p\.fa line 1 "
                     r"\(record 'a'\) and .*copy\.fa line 1 \(record 'x'\)\)")


def test_shuffles_of_unshufflable_sequences_are_flagged(tmp_path):
    # a run of 2 bases has one arrangement: its "shuffle" is itself
    pos = write(tmp_path, "p.fa", fasta([("a", "AC"), ("b", "ACGTTGCAAGCTTGCA")]))
    log = Log()
    load_dataset(DataSpec(pos_fasta=pos, negatives="shuffle"), log=log)
    assert len(log) == 1 and log[0].startswith("warning: 1 distinct sequences (2 examples) appear under both labels")


def test_minimum_and_maximum_length(tmp_path, pos_neg):
    pos = write(tmp_path, "p.fa", fasta([("long", "ACGT" * 5), ("short", "ACG"), ("tiny", "A")]))
    user_error(DataSpec(pos_fasta=pos, neg_fasta=pos_neg[1]),
               match=r"p\.fa line 3 \(record 'short'\): sequence of 3 bases is shorter than 10, "
                     r"the shortest the model takes \(2 sequences are\)", min_length=10)
    user_error(DataSpec(pos_fasta=pos, neg_fasta=pos_neg[1], max_length=15),
               match=r"p\.fa line 1: record 'long' is longer than 15 bases, the maximum length")
    seqs = write(tmp_path, "s.txt", "ACGT\nACGTACGT\n")
    labels = write(tmp_path, "l.txt", "0\n1\n")
    user_error(DataSpec(sequences=seqs, labels=labels, max_length=5),
               match=r"s\.txt line 2: sequence of 8 bases is longer than 5")


@pytest.mark.parametrize("kwargs, match", [
    (dict(sequences="s.txt"), r"^--sequences needs --labels"),
    (dict(labels="l.txt"), r"^--labels needs --sequences"),
    (dict(sequences="s", labels="l", pos_fasta="p.fa"), r"give one kind of input, not both --sequences/--labels and --pos-fasta"),
    (dict(pos_fasta="p.fa", bed="b.bed"), "give one kind of input"),
    (dict(neg_fasta="n.fa"), r"--neg-fasta needs --pos-fasta"),
    (dict(pos_fasta="p.fa", neg_fasta="n.fa", negatives="shuffle"), "give --neg-fasta or --negatives shuffle, not both"),
    (dict(pos_fasta="p.fa", negatives="genome"), "--negatives genome .* needs --bed, --genome and --width"),
    (dict(pos_fasta="p.fa", negatives="random"), r"--negatives 'random' is not one of shuffle, genome"),
    (dict(sequences="s", labels="l", negatives="shuffle"), "carry their own labels"),
    (dict(bed="b.bed", width=10, negatives="genome"), r"--genome is missing"),
    (dict(bed="b.bed", genome="g.fa", negatives="genome"), r"--width is missing"),
    (dict(bed="b.bed", genome="g.fa", width=0, negatives="genome"), r"--width must be a whole number of bases >= 1, got 0"),
    (dict(bed="b.bed", genome="g.fa", width=10, neg_bed="n.bed", negatives="shuffle"), "give --neg-bed or --negatives"),
    (dict(pos_fasta="p.fa", neg_fasta="n.fa", test_chroms="chr1"), "--test-chroms holds out chromosomes"),
    (dict(test_fraction=1.0), r"--test-fraction must be a fraction in \[0, 1\), got 1\.0"),
    (dict(neg_per_pos=0), r"--neg-per-pos must be a whole number >= 1, got 0"),
    (dict(max_length=2.5), r"--max-length must be a whole number"),
])
def test_spec_validation(kwargs, match):
    user_error(DataSpec(**kwargs), match=match)


def test_chromosome_split_errors(genome_files):
    genome, bed, neg_bed = genome_files[:3]
    user_error(DataSpec(bed=bed, genome=genome, width=20, neg_bed=neg_bed, test_chroms="chr9"),
               match=r"test chromosome 'chr9' has no examples; the data's chromosomes \(examples\) "
                     r"are chr1 \(3\), chr2 \(3\), chrX \(3\)")
    user_error(DataSpec(bed=bed, genome=genome, width=20, neg_bed=neg_bed,
                        test_chroms="chr1,chr2,chrX"),
               match="leaves no training examples")
    user_error(DataSpec(bed=bed, genome=genome, width=20, neg_bed=neg_bed, valid_chroms="chr1"),
               match="--valid-chroms needs --test-chroms")


def test_reader_errors_pass_through(tmp_path, genome_files):
    genome, _, neg_bed = genome_files[:3]
    bed = write(tmp_path, "peaks.bed", "chr1\t10\t20\nchrUn\t5\t10\n")
    user_error(DataSpec(bed=bed, genome=genome, width=10, neg_bed=neg_bed),
               match=r"peaks\.bed line 2: chromosome 'chrUn' is not in .*genome\.fa\.gz \(it has chr1, chr2, chrX\)")
    user_error(DataSpec(pos_fasta=str(tmp_path / "missing.fa"), negatives="shuffle"),
               match=r"missing\.fa: no such file")
