"""Tomtom-style motif comparison: the null distribution against brute force, alignments
against loops, known answers on the shipped JASPAR 2024 CORE database, calibration of
p-values on random motifs, and the invariances (database order, E = p N, q monotone).

Random motifs have columns drawn from Dirichlet(0.4, 0.4, 0.4, 0.4) (about 1 bit
per column, like real motifs) and fixed seeds, so every run sees the same data.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from motifnet.motif import database, tomtom
from motifnet.motif.pwm import Motif, reverse_complement_pwm
from motifnet.motif.tomtom import QueryNull, compare, plot_alignment, write_matches_tsv

ALPHA = 0.4


def random_pwm(rng, width):
    return rng.dirichlet([ALPHA] * 4, size=width).T


def random_database(seed, n=300, widths=(6, 20)):
    rng = np.random.default_rng(seed)
    return [Motif(f"R{i}", f"random{i}", random_pwm(rng, int(rng.integers(widths[0], widths[1] + 1))),
                  nsites=float(rng.integers(10, 200))) for i in range(n)]


@pytest.fixture(scope="module")
def jaspar():
    return database.load_default_database()


def by_id(db, motif_id):
    return next(m for m in db if m.id == motif_id)


def rank_of(matches, target_id):
    return [m.target_id for m in matches].index(target_id) + 1


# --------------------------------------------------------------------------- reference maths

def reference_pearson(q, t):
    """Pearson correlation of two 4-vectors by numpy's corrcoef; 0 when either is constant (tomtom)."""
    if np.ptp(q) == 0 or np.ptp(t) == 0:
        return 0.0
    return float(np.corrcoef(q, t)[0, 1])


def reference_discretized(query_pwm, columns):
    """Steps 2-4 of tomtom.c written out in loops: Pearson, median shift, integer scores."""
    W, M = query_pwm.shape[1], columns.shape[1]
    s = np.array([[reference_pearson(query_pwm[:, i], columns[:, t]) for t in range(M)] for i in range(W)])
    for i in range(W):  # tomtom.c shift_all_pairwise_scores with SHIFT_QUANTILE 0.5
        row = sorted(s[i])
        i1, i2 = max(math.floor(M / 2) - 1, 0), max(math.ceil(M / 2) - 1, 0)
        s[i] -= (row[i1] + row[i2]) / 2
    small, large = s.min(), s.max()
    offset = math.floor(small)  # pssm.c scale_score_matrix with range 100
    scale = math.floor(100 / (large - offset))
    return np.floor((s - offset) * scale + 0.5).astype(int), offset, scale


def test_column_scores_match_numpy_corrcoef_and_the_distance_formulas():
    rng = np.random.default_rng(1)
    q, t = random_pwm(rng, 5), random_pwm(rng, 7)
    t[:, 3] = 0.25  # a uniform column: Pearson is undefined, tomtom scores it 0
    got = tomtom.column_scores(q, t, "pearson")
    want = [[reference_pearson(q[:, i], t[:, j]) for j in range(7)] for i in range(5)]
    np.testing.assert_allclose(got, want, atol=1e-12)
    d2 = ((q[:, :, None] - t[:, None, :]) ** 2).sum(axis=0)
    np.testing.assert_allclose(tomtom.column_scores(q, t, "ed"), -np.sqrt(d2), atol=1e-12)
    np.testing.assert_allclose(tomtom.column_scores(q, t, "sandelin"), 2 - d2, atol=1e-12)


def test_null_distribution_equals_brute_force_enumeration():
    """For every span of a 3-column query, P(sum of column scores >= k) by enumerating all
    M^m choices of database columns, against the dynamic programming."""
    rng = np.random.default_rng(2)
    query = random_pwm(rng, 3)
    columns = np.concatenate([random_pwm(rng, 9), np.full((4, 1), 0.25)], axis=1)  # M = 10
    null = QueryNull(query, columns)
    u, offset, scale = reference_discretized(query, columns)
    assert (null.offset, null.scale) == (offset, scale)
    M = columns.shape[1]
    for a in range(3):
        for b in range(a, 3):
            sums = [sum(u[a + i, t] for i, t in enumerate(choice))
                    for choice in itertools.product(range(M), repeat=b - a + 1)]
            sums = np.array(sums)
            ks = np.arange(sums.min() - 2, sums.max() + 3)
            exact = np.array([(sums >= k).mean() for k in ks])
            np.testing.assert_allclose(null.span_sf(a, b, ks), exact, rtol=1e-12, atol=1e-15,
                                       err_msg=f"span {a}..{b}")


def test_best_offsets_and_strands_equal_a_loop_over_all_alignments():
    db = random_database(3, n=60, widths=(3, 14))
    rng = np.random.default_rng(4)
    query = Motif("q", "", random_pwm(rng, 9))
    min_overlap = 4
    matches = {m.target_id: m for m in compare(query, db, min_overlap=min_overlap)}
    prepared = [tomtom._with_pseudocount(m.pwm, m.nsites, 0.1) for m in db]
    columns = np.concatenate(prepared + [p[::-1, ::-1] for p in prepared], axis=1)
    null = QueryNull(tomtom._with_pseudocount(query.pwm, None, 0.1), columns)
    W = query.width
    for motif, pwm in zip(db, prepared):
        best = None
        for strand, target in (("+", pwm), ("-", pwm[::-1, ::-1])):
            v, L = null.aligned_scores(target), target.shape[1]
            for o in range(-(W - 1), L):
                pairs = [(i, i + o) for i in range(W) if 0 <= i + o < L]
                if len(pairs) < min(min_overlap, W, L):
                    continue
                key = (sum(v[i, t] for i, t in pairs), len(pairs))
                if best is None or key > best[0]:  # strictly better: the first offset, '+' first, keep ties
                    best = (key, o, strand)
        (score, overlap), o, strand = best
        m = matches[motif.id]
        assert (m.offset, m.orientation, m.overlap) == (o, strand, overlap), motif.id
        assert round(m.score * null.scale) == score


# --------------------------------------------------------------------------- known answers

def test_a_database_motif_finds_itself_first(jaspar):
    crebA = by_id(jaspar, "MA2209.1")
    matches = compare(crebA, jaspar)
    top = matches[0]
    assert (top.target_id, top.target_name, top.offset, top.overlap) == ("MA2209.1", "CrebA", 0, 12)
    assert top.p_value < 1e-10 and top.e_value < 1e-7
    assert top.query_consensus == top.target_consensus == "TGCCACGTGGCA"
    assert len(matches) == 2346


def test_a_noisy_copy_ranks_its_source_first(jaspar):
    crebA = by_id(jaspar, "MA2209.1")
    rng = np.random.default_rng(0)
    noisy = np.array([rng.dirichlet(50 * column + 0.5) for column in crebA.pwm.T]).T
    matches = compare(Motif("noisy", "", noisy), jaspar)
    assert matches[0].target_id == "MA2209.1"
    assert matches[0].p_value < 1e-8 and matches[0].q_value < 1e-5


def test_a_truncated_copy_ranks_its_source_first_at_the_right_offset(jaspar):
    crebA = by_id(jaspar, "MA2209.1")
    matches = compare(Motif("cut", "", crebA.pwm[:, 2:]), jaspar)  # the first two columns dropped
    top = matches[0]
    assert (top.target_id, top.orientation, top.offset, top.overlap) == ("MA2209.1", "+", 2, 10)
    assert top.p_value < 1e-7


def test_a_reverse_complemented_copy_matches_on_the_minus_strand(jaspar):
    ctcf = by_id(jaspar, "MA0139.2")  # not a palindrome, unlike CrebA
    L = ctcf.width
    top = compare(ctcf.reverse_complement(), jaspar)[0]
    assert (top.target_id, top.orientation, top.offset, top.overlap) == ("MA0139.2", "-", 0, L)
    # Query column i is column L - b + i of the reverse-complemented target when the
    # query is the reverse complement of target columns a..b-1.
    a, b = 1, L - 2
    matches = compare(Motif("rc", "", reverse_complement_pwm(ctcf.pwm[:, a:b])), jaspar)
    top = matches[0]
    assert (top.target_id, top.orientation, top.offset, top.overlap) == ("MA0139.2", "-", L - b, b - a)
    assert top.target_consensus == ctcf.reverse_complement().consensus
    assert all(m.orientation == "+" for m in compare(ctcf, jaspar[:200], both_strands=False))


@pytest.mark.parametrize("options", [dict(distance="ed"), dict(distance="sandelin"), dict(complete_scores=False),
                                     dict(min_overlap=1), dict(pseudocount=0.0)])
def test_other_scores_and_options_also_find_the_source(jaspar, options):
    crebA = by_id(jaspar, "MA2209.1")
    top = compare(crebA, jaspar, **options)[0]
    assert (top.target_id, top.offset, top.overlap) == ("MA2209.1", 0, 12)
    assert top.p_value < 1e-6


# --------------------------------------------------------------------------- calibration

# Why these tolerances: 20 random queries x 300 random targets give 6,000 p-values.
# If they were exactly uniform, the fraction below 0.05 would have a binomial
# standard deviation of sqrt(0.05 * 0.95 / 6000) = 0.0028.  Scores are discrete
# (about 40 steps per column), which makes P(p < 0.05) a little below 0.05, and
# the offsets of one target are not quite independent (tomtom's approximation),
# so the band is 0.05 +- 0.012, about four standard deviations: wide enough for
# those approximations, narrow enough that a p-value off by a factor of 1.3 or
# missing its correction for the offsets searched fails.  Measured with these seeds
# when this was written: 0.0480 (complete scores, min_overlap 5), 0.0480
# (min_overlap 1), 0.0472 (incomplete scores), 0.0437 (one alignment at a fixed
# offset); the uncorrected p-values at the optimal offset: 0.67 to 0.75.
ALPHA_LEVEL, BAND = 0.05, 0.012


def null_p_values(options, seed=10):
    db = random_database(seed)
    rng = np.random.default_rng(seed + 1)
    matches = [compare(Motif(f"q{k}", "", random_pwm(rng, int(rng.integers(8, 16)))), db, **options)
               for k in range(20)]
    return (np.array([m.p_value for ms in matches for m in ms]),
            np.array([m.alignment_p_value for ms in matches for m in ms]))


@pytest.mark.parametrize("options", [dict(), dict(min_overlap=1), dict(complete_scores=False)])
def test_final_p_values_of_unrelated_motifs_are_calibrated(options):
    p, at_optimum = null_p_values(options)
    assert p.size == 6000
    assert abs(np.mean(p < ALPHA_LEVEL) - ALPHA_LEVEL) < BAND, np.mean(p < ALPHA_LEVEL)
    assert abs(np.mean(p < 0.2) - 0.2) < 2 * BAND, np.mean(p < 0.2)
    # The same alignments' p-values before the correction for the offsets and
    # strands searched are far from calibrated: the correction is what makes them so.
    assert np.mean(at_optimum < ALPHA_LEVEL) > 0.3


def test_alignment_p_values_at_a_fixed_offset_are_calibrated():
    db = random_database(20)
    prepared = [tomtom._with_pseudocount(m.pwm, m.nsites, 0.1) for m in db]
    columns = np.concatenate(prepared + [p[::-1, ::-1] for p in prepared], axis=1)
    rng = np.random.default_rng(21)
    p = []
    for _ in range(20):
        W = int(rng.integers(8, 16))
        null = QueryNull(tomtom._with_pseudocount(random_pwm(rng, W), None, 0.1), columns)
        for _ in range(300):  # fresh targets from the database's distribution, one fixed offset each
            L = int(rng.integers(6, 21))
            v = null.aligned_scores(tomtom._with_pseudocount(random_pwm(rng, L), 50, 0.1))
            o = int(rng.integers(-(W - 5), L - 5 + 1))
            pairs = [(i, i + o) for i in range(W) if 0 <= i + o < L]
            score = sum(v[i, t] for i, t in pairs)
            p.append(float(null.alignment_p_value(pairs[0][0], len(pairs), score)))
    p = np.array(p)
    assert abs(np.mean(p < ALPHA_LEVEL) - ALPHA_LEVEL) < BAND, np.mean(p < ALPHA_LEVEL)
    assert abs(np.mean(p < 0.5) - 0.5) < 2 * BAND, np.mean(p < 0.5)


# --------------------------------------------------------------------------- invariances

def as_rows(matches):
    return [(m.target_id, m.target_name, m.offset, m.orientation, m.overlap, m.score, m.p_value, m.e_value,
             m.q_value, m.alignment_p_value, m.target_consensus) for m in matches]


def test_results_do_not_depend_on_database_order(jaspar):
    rng = np.random.default_rng(5)
    query = Motif("q", "", np.array([rng.dirichlet(20 * c + 0.5) for c in by_id(jaspar, "MA0139.2").pwm.T]).T)
    shuffled = list(jaspar)
    rng.shuffle(shuffled)
    assert shuffled[:5] != list(jaspar[:5])
    assert as_rows(compare(query, shuffled)) == as_rows(compare(query, jaspar))
    small = random_database(6, n=80)
    assert as_rows(compare(query, small[::-1], min_overlap=3)) == as_rows(compare(query, small, min_overlap=3))

    # Two motifs with one id and name that tie on everything but their matrices
    # (a query without information gives every target p = 1, full overlap, '+'):
    # their matrices decide the order, not their places in the database.
    twins = [Motif("dup", "same", random_pwm(rng, 5)), Motif("dup", "same", random_pwm(rng, 5))]
    flat = Motif("flat", "", np.full((4, 8), 0.25))
    for db in (twins + small[:10], small[:10] + twins[::-1]):
        order = [m.target.pwm.tobytes() for m in compare(flat, db) if m.target_id == "dup"]
        assert order == sorted(m.pwm.tobytes() for m in twins)


def reference_bh(p):
    """Benjamini-Hochberg in loops: q of the r-th smallest is min over j >= r of p_(j) n / j."""
    n = len(p)
    order = sorted(range(n), key=lambda i: p[i])
    q = [0.0] * n
    for r, i in enumerate(order, start=1):
        q[i] = min(min(p[order[j - 1]] * n / j for j in range(r, n + 1)), 1.0)
    return np.array(q)


def test_e_is_p_times_database_size_and_q_is_benjamini_hochberg():
    db = random_database(7, n=120)
    rng = np.random.default_rng(8)
    matches = compare(Motif("q", "", random_pwm(rng, 10)), db)
    p = np.array([m.p_value for m in matches])
    assert np.all(np.diff(p) >= 0)  # sorted best first
    assert all(m.e_value == m.p_value * len(db) for m in matches)
    q = np.array([m.q_value for m in matches])
    np.testing.assert_allclose(q, reference_bh(list(p)), rtol=1e-12)
    assert np.all(np.diff(q) >= 0) and np.all(q >= p) and np.all(q <= 1)


def test_minimum_overlap_is_respected():
    db = random_database(9, n=150, widths=(3, 20))
    rng = np.random.default_rng(10)
    query = Motif("q", "", random_pwm(rng, 12))
    smallest = {}
    for min_overlap in (1, 3, 5, 8, 30):
        for m in compare(query, db, min_overlap=min_overlap):
            L = m.target.width
            assert m.overlap >= min(min_overlap, query.width, L)
            assert m.overlap == min(query.width, L - m.offset) - max(0, -m.offset)
            smallest[min_overlap] = min(smallest.get(min_overlap, 99), m.overlap)
    assert smallest[1] < 5  # without the constraint some best alignments are short: the test has teeth


# --------------------------------------------------------------------------- degenerate input

def test_a_motif_without_information_matches_nothing():
    db = random_database(11, n=60)
    matches = compare(Motif("flat", "", np.full((4, 8), 0.25)), db)
    assert all(m.p_value == 1.0 and m.q_value == 1.0 for m in matches)


column_kinds = st.sampled_from(["random", "uniform", "one-hot", "two-bases"])


@given(seed=st.integers(0, 2**32 - 1), kinds=st.lists(column_kinds, min_size=1, max_size=16),
       min_overlap=st.integers(1, 8), distance=st.sampled_from(tomtom.DISTANCES), complete=st.booleans())
def test_any_query_gives_p_q_e_in_range(seed, kinds, min_overlap, distance, complete):
    rng = np.random.default_rng(seed)
    columns = []
    for kind in kinds:
        if kind == "random":
            columns.append(rng.dirichlet([ALPHA] * 4))
        elif kind == "uniform":
            columns.append(np.full(4, 0.25))
        elif kind == "one-hot":
            columns.append(np.eye(4)[rng.integers(4)])
        else:
            columns.append(np.array([0.5, 0.0, 0.5, 0.0]))
    db = random_database(12, n=50, widths=(1, 10)) + [Motif("flat", "", np.full((4, 3), 0.25))]
    matches = compare(Motif("q", "", np.array(columns).T), db, min_overlap=min_overlap, distance=distance,
                      complete_scores=complete)
    p = np.array([m.p_value for m in matches])
    q = np.array([m.q_value for m in matches])
    assert len(matches) == len(db)
    assert np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) >= 0)
    assert np.all((q >= p) & (q <= 1))
    assert all(m.e_value == m.p_value * len(db) and math.isfinite(m.score) for m in matches)
    assert all(0 <= m.alignment_p_value <= 1 and m.orientation in "+-" for m in matches)


@pytest.mark.parametrize("kwargs, error", [
    (dict(distance="cosine"), ValueError),
    (dict(min_overlap=0), ValueError),
    (dict(pseudocount=-1.0), ValueError),
])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        compare(np.full((4, 5), 0.25), random_database(13, n=5), **kwargs)
    with pytest.raises(ValueError, match="empty"):
        compare(np.full((4, 5), 0.25), [])
    with pytest.raises(TypeError):
        compare(np.full((4, 5), 0.25), [np.full((4, 5), 0.25)])


# --------------------------------------------------------------------------- output

def test_tsv_has_tomtoms_columns_and_the_target_name(jaspar, tmp_path):
    crebA = by_id(jaspar, "MA2209.1")
    matches = compare(crebA, jaspar)[:5]
    path = tmp_path / "matches.tsv"
    write_matches_tsv(path, matches)
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value",
                                    "Overlap", "Query_consensus", "Target_consensus", "Orientation", "Target_name"]
    assert len(lines) == 6
    first = lines[1].split("\t")
    assert first[:3] == ["MA2209.1", "MA2209.1", "0"] and first[6:] == ["12", "TGCCACGTGGCA", "TGCCACGTGGCA",
                                                                          "+", "CrebA"]
    for line, m in zip(lines[1:], matches):
        fields = line.split("\t")
        for text, value in zip(fields[3:6], (m.p_value, m.e_value, m.q_value)):
            assert float(text) == pytest.approx(value, rel=5e-3)


def test_aligned_logos_are_written_as_png(jaspar, tmp_path):
    ctcf = by_id(jaspar, "MA0139.2")
    query = Motif("rc", "", reverse_complement_pwm(ctcf.pwm[:, 1:-2]))
    matches = compare(query, jaspar)
    minus = matches[0]
    assert minus.orientation == "-" and minus.offset != 0
    plus = next(m for m in matches if m.orientation == "+")
    for match in (minus, plus):
        path = tmp_path / f"{match.target_id}{match.orientation}.png"
        plot_alignment(path, query, match)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000
