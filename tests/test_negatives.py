"""motifnet.negatives: dinucleotide shuffles and GC-matched genome background.

The shuffle is checked by counting dinucleotides with a plain loop, and for
uniformity against every arrangement of a short sequence found by brute force.
Background windows are measured here, base by base, on a generated genome whose
GC content rises along each chromosome, with positives in its GC-rich part.
"""

from __future__ import annotations

import collections
import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet.errors import UserError
from motifnet.genome import Genome, Interval
from motifnet.negatives import background_windows, dinucleotide_shuffle


def dinucleotides(codes):
    counts = collections.Counter()
    for a, b in zip(codes[:-1], codes[1:]):
        if a >= 0 and b >= 0:
            counts[(int(a), int(b))] += 1
    return counts


def runs(codes):
    """(start, end) of each maximal run without N (code -1), by a plain loop."""
    out, start = [], None
    for i, c in enumerate(list(codes) + [-1]):
        if c >= 0 and start is None:
            start = i
        elif c < 0 and start is not None:
            out.append((start, i))
            start = None
    return out


sequences = st.one_of(
    st.lists(st.integers(0, 3), max_size=80),
    st.lists(st.sampled_from([0, 0, 0, 1, -1]), max_size=80),  # skewed, with N
    st.lists(st.sampled_from([0, 1]), max_size=30),             # two letters
).map(lambda v: np.array(v, dtype=np.int8))


@settings(max_examples=150)
@given(sequences, st.integers(0, 2 ** 32 - 1))
def test_shuffle_keeps_exact_dinucleotide_counts(codes, seed):
    shuffled = dinucleotide_shuffle(codes, seed)
    assert shuffled.dtype == np.int8 and shuffled.shape == codes.shape
    assert shuffled is not codes
    assert dinucleotides(shuffled) == dinucleotides(codes)
    assert np.array_equal(shuffled < 0, codes < 0)  # N stays where it was
    for start, end in runs(codes):  # each N-free run keeps its ends and its letters
        assert shuffled[start] == codes[start] and shuffled[end - 1] == codes[end - 1]
        assert sorted(shuffled[start:end].tolist()) == sorted(codes[start:end].tolist())


def all_arrangements(seq):
    """Every sequence with seq's first base and dinucleotide counts, by depth-first search."""
    found = set()

    def extend(path, left):
        if not left:
            found.add(tuple(path))
            return
        for (a, b) in list(left):
            if a == path[-1]:
                rest = left.copy()
                rest[(a, b)] -= 1
                if not rest[(a, b)]:
                    del rest[(a, b)]
                extend(path + [b], rest)

    extend([int(seq[0])], dinucleotides(seq))
    return found


def reference_shuffle(codes, rng):
    """dinucleotide_shuffle as plain Python and NumPy calls (motifnet's code until the loop
    was compiled): each N-free run on its own, the same draws from ``rng`` in the same order."""
    out = np.asarray(codes).astype(np.int8, copy=True)
    informative = np.concatenate([[0], (out >= 0).astype(np.int8), [0]])
    bounds = np.flatnonzero(np.diff(informative))
    for start, end in zip(bounds[::2].tolist(), bounds[1::2].tolist()):
        if end - start <= 2:
            continue
        run = out[start:end]
        src, dst, last = run[:-1], run[1:], int(run[-1])
        counts = np.bincount(src, minlength=4)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        successors = dst[np.argsort(src, kind="stable")]
        tree_exit, in_tree = [-1] * 4, [False] * 4
        in_tree[last] = True
        for v in range(4):  # Wilson's algorithm: a tree of last exits leading to `last`
            u = v
            while counts[v] and not in_tree[u]:
                targets = successors[offsets[u]:offsets[u + 1]]
                others = targets[targets != u]
                tree_exit[u] = int(others[rng.integers(others.size)])
                u = tree_exit[u]
            u = v
            while counts[v] and not in_tree[u]:
                in_tree[u] = True
                u = tree_exit[u]
        exits = np.empty(run.size - 1, dtype=np.int8)
        for u in range(4):
            lo, hi = offsets[u], offsets[u + 1]
            targets = successors[lo:hi]
            if targets.size == 0:
                continue
            if u == last:
                exits[lo:hi] = targets[rng.permutation(targets.size)]
            else:
                rest = np.delete(targets, int(np.flatnonzero(targets == tree_exit[u])[0]))
                exits[lo:hi - 1] = rest[rng.permutation(rest.size)]
                exits[hi - 1] = tree_exit[u]
        position, u = list(offsets[:4]), int(run[0])
        walk = [u]
        for _ in range(run.size - 1):
            u = int(exits[position[u]])
            position[walk[-1]] += 1
            walk.append(u)
        out[start:end] = walk
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-1, 3), max_size=400), st.integers(0, 2**32 - 1), st.sampled_from([None, 2, 0.5]))
def test_compiled_shuffle_draws_as_the_python_loop(codes, seed, skew):
    # the same output from the same seed, and the generator left in the same state
    codes = np.array(codes, dtype=np.int8)
    if skew == 2:  # long runs of one base: self-loops, which Wilson's walk must skip
        codes[codes >= 0] = np.where(codes[codes >= 0] % 2 == 0, 2, codes[codes >= 0])
    elif skew == 0.5 and codes.size:
        codes[::3] = -1
    a, b = np.random.default_rng(seed), np.random.default_rng(seed)
    np.testing.assert_array_equal(dinucleotide_shuffle(codes, a), reference_shuffle(codes, b))
    assert a.integers(2**62) == b.integers(2**62)


def test_the_compiled_draws_are_numpys():
    from motifnet.negatives import _integer_below, _permutation

    for m in (1, 2, 3, 7, 100, 2**31 + 5):
        a, b = np.random.default_rng(m), np.random.default_rng(m)
        assert [_integer_below(a, m) for _ in range(20)] == [int(b.integers(m)) for _ in range(20)]
        if m < 10**6:
            np.testing.assert_array_equal(_permutation(a, m), b.permutation(m))
        assert a.random() == b.random()


def test_shuffle_is_uniform_over_all_arrangements():
    seq = np.array([0, 1, 0, 2, 0, 1, 2, 0, 3, 0, 1, 0], dtype=np.int8)  # ACAGACGATACA
    arrangements = all_arrangements(seq)
    assert all(a[-1] == seq[-1] for a in arrangements)  # the counts fix the last base too
    rng = np.random.default_rng(7)
    draws = 6000
    seen = collections.Counter(tuple(dinucleotide_shuffle(seq, rng).tolist()) for _ in range(draws))
    assert set(seen) == arrangements  # every arrangement reachable, nothing else
    expected = draws / len(arrangements)
    chi2 = sum((seen[a] - expected) ** 2 / expected for a in arrangements)
    # for a uniform sampler chi2 has len - 1 degrees of freedom: mean len - 1, sd sqrt(2 (len - 1))
    dof = len(arrangements) - 1
    assert dof >= 20 and chi2 < dof + 5 * np.sqrt(2 * dof), (dof, chi2, seen.most_common(3))


def test_shuffle_is_seeded_and_does_shuffle():
    rng = np.random.default_rng(0)
    seq = rng.integers(0, 4, 300).astype(np.int8)
    a = dinucleotide_shuffle(seq, 11)
    b = dinucleotide_shuffle(seq, np.random.default_rng(11))
    c = dinucleotide_shuffle(seq, 12)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.mean(a != seq) > 0.5  # a random 300-mer has very many arrangements


def test_shuffle_breaks_a_planted_motif():
    rng = np.random.default_rng(3)
    motif = np.array([1, 2, 0, 1, 1, 2, 0, 0, 1, 3, 1, 1], dtype=np.int8)  # CGACCGAACTCC
    hits = 0
    for _ in range(200):
        seq = rng.integers(0, 4, 100).astype(np.int8)
        seq[40:52] = motif
        windows = np.lib.stride_tricks.sliding_window_view(dinucleotide_shuffle(seq, rng), 12)
        hits += bool((windows == motif).all(axis=1).any())
    assert hits < 20


def test_shuffle_rejects_non_codes():
    with pytest.raises(ValueError, match="1-D integer"):
        dinucleotide_shuffle(np.zeros((2, 3), np.int8), 0)
    with pytest.raises(ValueError, match="0..3 or -1"):
        dinucleotide_shuffle(np.array([0, 4, 1]), 0)


# --------------------------------------------------------------------------- background

def naive_gc(codes):
    informative = [c for c in codes.tolist() if c >= 0]
    return sum(1 for c in informative if c in (1, 2)) / len(informative)


@pytest.fixture(scope="module")
def ramp_genome():
    """Two chromosomes whose GC probability rises from 0.2 to 0.8 along them, with an N gap."""
    rng = np.random.default_rng(42)

    def chrom(length):
        gc = rng.random(length) < np.linspace(0.2, 0.8, length)
        codes = np.where(gc, rng.integers(1, 3, length), rng.choice([0, 3], length)).astype(np.int8)
        codes[length // 2: length // 2 + 5000] = -1  # an assembly gap
        return codes

    genome = Genome({"chr1": chrom(300_000), "chr2": chrom(200_000)}, "ramp.fa")
    # positives in the GC-rich last fifth of chr1: GC around 0.7, the genome's mean is 0.5
    starts = rng.choice(np.arange(240_000, 299_800, 300), 120, replace=False)
    positives = [Interval("chr1", int(s), int(s) + 200) for s in starts]
    return genome, positives


def overlaps(a, b):
    return a.chrom == b.chrom and a.start < b.end and b.start < a.end


def test_background_matches_gc_and_overlaps_nothing(ramp_genome):
    genome, positives = ramp_genome
    windows = background_windows(genome, positives, 150, 200, rng=1)
    assert len(windows) == 150
    assert all(w.end - w.start == 200 and 0 <= w.start and w.end <= genome.sizes[w.chrom]
               for w in windows)
    assert not any(overlaps(w, p) for w in windows for p in positives)
    assert not any(overlaps(a, b) for a, b in itertools.combinations(windows, 2))
    pos_gc = np.array([naive_gc(genome.fetch(p.chrom, p.start, p.end)) for p in positives])
    bg_gc = np.array([naive_gc(genome.fetch(w.chrom, w.start, w.end)) for w in windows])
    assert abs(pos_gc.mean() - bg_gc.mean()) < 0.02
    # two-sample Kolmogorov-Smirnov distance of the GC distributions
    grid = np.linspace(0, 1, 201)
    ks = np.max(np.abs(np.searchsorted(np.sort(pos_gc), grid, side="right") / pos_gc.size
                       - np.searchsorted(np.sort(bg_gc), grid, side="right") / bg_gc.size))
    assert ks < 0.12
    # ...which an unmatched draw does not achieve on this genome
    plain = background_windows(genome, positives, 150, 200, rng=1, gc_match=False)
    plain_gc = np.array([naive_gc(genome.fetch(w.chrom, w.start, w.end)) for w in plain])
    assert pos_gc.mean() - plain_gc.mean() > 0.1


def test_background_skips_mostly_n_windows(ramp_genome):
    genome, positives = ramp_genome
    windows = background_windows(genome, positives, 300, 1000, rng=2, gc_match=False)
    n_fractions = [np.mean(genome.fetch(w.chrom, w.start, w.end) < 0) for w in windows]
    assert max(n_fractions) <= 0.1


def test_background_widths_and_exclusions(ramp_genome):
    genome, positives = ramp_genome
    widths = [150, 250, 200] * 20
    exclude = [Interval("chr2", 0, 100_000)]
    windows = background_windows(genome, positives, 60, widths, rng=3, exclude=exclude)
    assert [w.end - w.start for w in windows] == widths
    assert not any(overlaps(w, e) for w in windows for e in exclude + positives)


def test_background_is_seeded(ramp_genome):
    genome, positives = ramp_genome
    a = background_windows(genome, positives, 40, 200, rng=5)
    b = background_windows(genome, positives, 40, 200, rng=np.random.default_rng(5))
    c = background_windows(genome, positives, 40, 200, rng=6)
    assert a == b and a != c


def test_background_errors(ramp_genome):
    genome, positives = ramp_genome
    with pytest.raises(UserError) as info:
        background_windows(genome, positives, 2000, 200, rng=0, max_draws=20_000)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(r"ramp\.fa: found only \d+ of 2000 background windows of 200 bp in 20\d{3} "
                    r"random draws \(.*% of the draws had more than 10% N, .*% overlapped a positive, "
                    r"and \d+ windows with GC 0\.\d\d-0\.\d\d \(as the positives have\) were not found\); "
                    r"ask for fewer negatives", message), message
    with pytest.raises(UserError, match=r"no chromosome of ramp\.fa is as long as 400000 bp \(the longest is 300000 bp\)"):
        background_windows(genome, positives, 1, 400_000, rng=0, gc_match=False)
    with pytest.raises(UserError, match="3 window widths given for 5 background windows"):
        background_windows(genome, positives, 5, [100, 100, 100], rng=0)
    with pytest.raises(UserError, match="must be a whole number >= 1"):
        background_windows(genome, positives, 0, 100, rng=0)
    all_n = Genome({"c": np.full(1000, -1, np.int8)}, "n.fa")
    with pytest.raises(UserError, match="every positive interval is all N in n.fa"):
        background_windows(all_n, [Interval("c", 0, 10)], 1, 10, rng=0)
