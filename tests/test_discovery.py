"""Motif discovery from attributions, on synthetic sets whose answer is known.

Every data set is generated here: random background of varying lengths with
some N, known motifs planted on either strand, and hypothetical contributions
that are high for the planted bases at the planted positions (the reverse
complement's bases for minus-strand plantings) plus noise everywhere.  What a
test expects (the motif, its width, where its sites are, how many) comes from
the generator, never from the code under test; the helpers are checked
against plain loops written below.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet.motif.discovery import (DiscoveryResult, actual_contributions, call_seqlets, discover_motifs,
                                      seqlet_similarity, seqlet_threshold)
from strategies import rng_from, seeds

BASES = "ACGT"
# Non-palindromic, no self-overlap at small shifts on either strand: where a site
# sits and which strand it reads on are unambiguous.
MOTIF_A = "TTAGTTGGAGCA"
MOTIF_B = "GCAGCGTCTGGT"


def rc(motif: str) -> str:
    return motif[::-1].translate(str.maketrans("ACGT", "TGCA"))


def encode(motif: str) -> np.ndarray:
    return np.array([BASES.index(ch) for ch in motif], dtype=np.int8)


def planted_set(rng, n, motifs, *, min_length=40, max_length=150, fraction=0.9, strength=1.0, noise=0.25,
                n_rate=0.01):
    """Codes, lengths, attributions and the plantings ``[(seq, start, end, strand, motif)]``."""
    lengths = rng.integers(min_length, max_length + 1, size=n).astype(np.int64)
    length = int(lengths.max())
    codes = rng.integers(0, 4, size=(n, length)).astype(np.int8)
    codes[rng.random((n, length)) < n_rate] = -1  # N
    padding = np.arange(length)[None, :] >= lengths[:, None]
    codes[padding] = -1
    attributions = rng.normal(0.0, noise, size=(n, 4, length))
    plantings = []
    for i in range(n):
        if not motifs or rng.random() >= fraction:
            continue
        motif = motifs[int(rng.integers(len(motifs)))]
        strand = "+" if rng.random() < 0.5 else "-"
        site = motif if strand == "+" else rc(motif)
        start = int(rng.integers(0, lengths[i] - len(motif) + 1))
        codes[i, start:start + len(motif)] = encode(site)
        attributions[i, encode(site), np.arange(start, start + len(motif))] += strength
        plantings.append((i, start, start + len(motif), strand, motif))
    attributions[np.broadcast_to(padding[:, None, :], attributions.shape)] = 0.0
    return codes, lengths, attributions, plantings


def read_site(codes, seq, start, end, strand):
    site = "".join(BASES[b] if b >= 0 else "N" for b in codes[seq, start:end])
    return site if strand == "+" else rc(site)


def flipped(strand):
    return "-" if strand == "+" else "+"


def check_motif(motif, codes, plantings, truth, *, width_tolerance=2, count_tolerance=0.1):
    """The motif is ``truth`` (either orientation) and its sites are the plantings of ``truth``."""
    assert motif.consensus in (truth, rc(truth)), f"consensus {motif.consensus}, planted {truth}"
    assert abs(motif.width - len(truth)) <= width_tolerance
    planted = {p[0]: p for p in plantings if p[4] == truth}
    assert abs(motif.n_seqlets - len(planted)) <= max(3, count_tolerance * len(planted)), \
        f"{motif.n_seqlets} seqlets for {len(planted)} plantings"
    assert motif.n_seqlets == len(motif.seqlets)
    on_site = 0
    for seq, start, end, strand in motif.seqlets:
        p = planted.get(seq)
        if p is None or min(end, p[2]) - max(start, p[1]) <= 0:
            continue
        on_site += 1
        # The reported strand reads as the reported motif: the same strand as the planting when the
        # motif is reported as planted, the other one when it is reported reverse-complemented.
        assert strand == (p[3] if motif.consensus == truth else flipped(p[3])), (seq, strand, p)
        assert abs(start - p[1]) <= width_tolerance
        if (end - start, start) == (len(truth), p[1]):
            assert read_site(codes, seq, start, end, strand) == motif.consensus
    assert on_site >= 0.95 * motif.n_seqlets, f"only {on_site} of {motif.n_seqlets} seqlets on a planted site"


# ---------------------------------------------------------------- finding what was planted

def test_finds_the_motif_from_60_sequences():
    rng = np.random.default_rng(0)
    codes, lengths, attributions, plantings = planted_set(rng, 60, [MOTIF_A])
    result = discover_motifs(codes, lengths, attributions)
    assert result.reason is None and len(result.motifs) == 1
    check_motif(result.motifs[0], codes, plantings, MOTIF_A)
    assert {p[3] for p in plantings} == {"+", "-"}  # both strands were planted


@pytest.mark.parametrize("width", [6, 9, 16])
def test_width_is_found(width):
    rng = np.random.default_rng(width)
    motif = {6: "TGGTGT", 9: "AGTCTTTGC", 16: "GCAGCGTCTGGTTTTA"}[width]
    codes, lengths, attributions, plantings = planted_set(rng, 80, [motif])
    result = discover_motifs(codes, lengths, attributions)
    assert len(result.motifs) == 1, result.reason
    check_motif(result.motifs[0], codes, plantings, motif)


def test_two_motifs_come_out_as_two():
    rng = np.random.default_rng(1)
    codes, lengths, attributions, plantings = planted_set(rng, 200, [MOTIF_A, MOTIF_B], noise=0.4)
    result = discover_motifs(codes, lengths, attributions)
    assert len(result.motifs) == 2, [m.consensus for m in result.motifs]
    by_truth = {}
    for motif in result.motifs:
        truth = MOTIF_A if motif.consensus in (MOTIF_A, rc(MOTIF_A)) else MOTIF_B
        by_truth[truth] = motif
    assert set(by_truth) == {MOTIF_A, MOTIF_B}
    for truth, motif in by_truth.items():
        check_motif(motif, codes, plantings, truth, count_tolerance=0.15)
    assert result.motifs[0].n_seqlets >= result.motifs[1].n_seqlets


def test_short_sequences_dense_with_sites():
    # 14-30 bp: most windows overlap a site, so no window sum is "background" here.
    rng = np.random.default_rng(2)
    codes, lengths, attributions, plantings = planted_set(rng, 80, [MOTIF_A], min_length=14, max_length=30)
    result = discover_motifs(codes, lengths, attributions)
    assert len(result.motifs) == 1, result.reason
    check_motif(result.motifs[0], codes, plantings, MOTIF_A)


def test_negative_contributions():
    rng = np.random.default_rng(3)
    codes, lengths, attributions, plantings = planted_set(rng, 80, [MOTIF_A])
    assert discover_motifs(codes, lengths, -attributions).motifs == []
    for sign in ("negative", "both"):
        result = discover_motifs(codes, lengths, -attributions, sign=sign)
        assert len(result.motifs) == 1, result.reason
        motif = result.motifs[0]
        check_motif(motif, codes, plantings, MOTIF_A)
        assert motif.sign == -1
        # Mean planted contribution is -strength at every motif position.
        np.testing.assert_allclose(motif.contribution.sum(axis=0), -1.0, atol=0.25)


def test_background_null():
    rng = np.random.default_rng(4)
    codes, lengths, attributions, plantings = planted_set(rng, 100, [MOTIF_B])
    background = planted_set(rng, 100, [])[:3]
    result = discover_motifs(codes, lengths, attributions, background=background)
    assert result.null == "background" and len(result.motifs) == 1, result.reason
    check_motif(result.motifs[0], codes, plantings, MOTIF_B)
    noise_only = planted_set(rng, 100, [])[:3]
    assert discover_motifs(*noise_only, background=background).motifs == []


def test_laplace_null():
    rng = np.random.default_rng(5)
    codes, lengths, attributions, plantings = planted_set(rng, 100, [MOTIF_A], min_length=80, max_length=200)
    result = discover_motifs(codes, lengths, attributions, null="laplace")
    assert result.null == "laplace" and len(result.motifs) == 1, result.reason
    check_motif(result.motifs[0], codes, plantings, MOTIF_A)


def test_matrices_of_clean_sites():
    # Noise-free attributions: every planted base contributes exactly 1 and the others 0.
    rng = np.random.default_rng(6)
    codes, lengths, attributions, plantings = planted_set(rng, 60, [MOTIF_A], noise=0.0, n_rate=0.0)
    motif = discover_motifs(codes, lengths, attributions).motifs[0]
    assert motif.consensus in (MOTIF_A, rc(MOTIF_A)) and motif.width == 12
    onehot = (encode(motif.consensus)[None, :] == np.arange(4)[:, None]).astype(float)
    np.testing.assert_allclose(motif.contribution, onehot, atol=1e-12)
    np.testing.assert_allclose(motif.hypothetical, onehot, atol=1e-12)
    n = len(plantings)
    np.testing.assert_allclose(motif.pwm, (onehot * n + 0.5) / (n + 2.0), atol=1e-12)


# ---------------------------------------------------------------- nothing to find

@pytest.mark.parametrize("kind", ["normal", "laplace", "student3"])
def test_pure_noise_gives_no_motif(kind):
    rng = np.random.default_rng(7)
    codes, lengths, attributions, _ = planted_set(rng, 200, [], min_length=50, max_length=300)
    inside = attributions != 0
    draw = {"normal": lambda s: rng.normal(0, 0.3, s), "laplace": lambda s: rng.laplace(0, 0.3, s),
            "student3": lambda s: 0.3 * rng.standard_t(3, s)}[kind]
    attributions = draw(attributions.shape) * inside
    result = discover_motifs(codes, lengths, attributions)
    assert result.motifs == [] and result.reason.startswith("no motif found: ")
    # Even when a low threshold lets ~1,000 noise seqlets through, the clustering finds nothing.
    forced = discover_motifs(codes, lengths, attributions, threshold=1.0)
    assert forced.n_seqlets > 500
    assert forced.motifs == [] and forced.reason.startswith("no motif found: ")


def test_too_few_seqlets_is_a_reason_not_an_error():
    rng = np.random.default_rng(8)
    codes, lengths, attributions, plantings = planted_set(rng, 60, [MOTIF_A], fraction=0.1)
    result = discover_motifs(codes, lengths, attributions)
    assert 1 <= len(plantings) < 10
    assert result.motifs == []
    assert f"{result.n_seqlets} seqlets passed the threshold" in result.reason and "at least 10" in result.reason


@pytest.mark.parametrize("case", ["zeros", "no sequences", "shorter than the core"])
def test_degenerate_inputs(case):
    rng = np.random.default_rng(9)
    n, min_length, max_length = {"zeros": (30, 40, 60), "no sequences": (0, 1, 1),
                                 "shorter than the core": (30, 3, 8)}[case]
    codes, lengths, attributions, _ = planted_set(rng, max(n, 1), [], min_length=min_length,
                                                  max_length=max_length)
    codes, lengths, attributions = codes[:n], lengths[:n], attributions[:n]
    if case == "zeros":
        attributions = np.zeros_like(attributions)
    result = discover_motifs(codes, lengths, attributions)
    assert isinstance(result, DiscoveryResult)
    assert result.motifs == [] and result.reason.startswith("no motif found: ")


def test_bad_inputs_name_the_argument():
    rng = np.random.default_rng(10)
    codes, lengths, attributions, _ = planted_set(rng, 5, [])
    with pytest.raises(ValueError, match="attributions must have shape"):
        discover_motifs(codes, lengths, attributions[:, :3])
    with pytest.raises(ValueError, match="lengths"):
        discover_motifs(codes, lengths[:4], attributions)
    with pytest.raises(TypeError, match="codes must be integers"):
        discover_motifs(codes.astype(float), lengths, attributions)
    with pytest.raises(ValueError, match="finite"):
        discover_motifs(codes, lengths, np.where(attributions == attributions.max(), np.nan, attributions))
    with pytest.raises(ValueError, match="^background lengths"):
        discover_motifs(codes, lengths, attributions, background=(codes[:, :5], lengths, attributions))
    with pytest.raises(ValueError, match="sign"):
        discover_motifs(codes, lengths, attributions, sign="up")


# ---------------------------------------------------------------- determinism and invariances

def _summary(result):
    return [(m.consensus, m.seqlets, m.pwm.tobytes(), m.contribution.tobytes()) for m in result.motifs]


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(11)
    data = planted_set(rng, 100, [MOTIF_A, MOTIF_B], noise=0.4)[:3]
    first, second = discover_motifs(*data, seed=3), discover_motifs(*data, seed=3)
    assert _summary(first) == _summary(second) and len(first.motifs) == 2
    assert (first.threshold, first.similarity_threshold) == (second.threshold, second.similarity_threshold)
    other = discover_motifs(*data, seed=4)  # another seed: other random bases and shuffles, same motifs
    assert sorted(m.consensus for m in other.motifs) == sorted(m.consensus for m in first.motifs)


@settings(max_examples=10)
@given(seed=seeds, power=st.sampled_from([-3, -1, 2, 5]))
def test_scaling_attributions_by_a_power_of_two_changes_nothing_but_the_scale(seed, power):
    # Every step is invariant to a positive scale (FDR threshold, cosines, relative trimming), and a
    # power of two scales floats exactly, so the results must be identical.
    rng = rng_from(seed)
    codes, lengths, attributions, _ = planted_set(rng, 60, [MOTIF_A], noise=0.4)
    base = discover_motifs(codes, lengths, attributions)
    scaled = discover_motifs(codes, lengths, attributions * 2.0 ** power)
    assert [(m.consensus, m.seqlets) for m in base.motifs] == [(m.consensus, m.seqlets) for m in scaled.motifs]
    for m, s in zip(base.motifs, scaled.motifs):
        np.testing.assert_array_equal(s.contribution, m.contribution * 2.0 ** power)
        np.testing.assert_array_equal(s.pwm, m.pwm)


@settings(max_examples=10)
@given(seed=seeds)
def test_reverse_complementing_every_sequence_mirrors_the_result(seed):
    rng = rng_from(seed)
    codes, lengths, attributions, _ = planted_set(rng, 60, [MOTIF_B])
    rc_codes, rc_attributions = np.full_like(codes, -1), np.zeros_like(attributions)
    for i, n in enumerate(lengths):
        rc_codes[i, :n] = np.where(codes[i, n - 1::-1] >= 0, 3 - codes[i, n - 1::-1], -1)
        rc_attributions[i, :, :n] = attributions[i, ::-1, n - 1::-1]  # complement channels, reverse positions
    # A fixed threshold and tau: the random draws of the nulls are not mirrored.
    options = dict(threshold=4.0, similarity_threshold=0.6)
    base = discover_motifs(codes, lengths, attributions, **options)
    mirrored = discover_motifs(rc_codes, lengths, rc_attributions, **options)
    assert len(base.motifs) == 1 and [m.consensus for m in mirrored.motifs] == [base.motifs[0].consensus]
    expected = sorted((seq, int(lengths[seq]) - end, int(lengths[seq]) - start, flipped(strand))
                      for seq, start, end, strand in base.motifs[0].seqlets)
    assert mirrored.motifs[0].seqlets == expected


# ---------------------------------------------------------------- helpers against plain loops

def naive_actual(codes, lengths, attributions):
    out = np.zeros(codes.shape)
    for n in range(codes.shape[0]):
        for l in range(lengths[n]):
            if codes[n, l] >= 0:
                out[n, l] = attributions[n, codes[n, l], l]
    return out


def naive_seqlets(codes, lengths, attributions, threshold, width):
    s = naive_actual(codes, lengths, attributions)
    out = []
    for n in range(codes.shape[0]):
        sums = {c: sum(s[n, c + j] for j in range(width)) for c in range(lengths[n] - width + 1)}
        peaks = [c for c, v in sums.items() if v >= threshold
                 and all(v >= sums[c2] for c2 in range(c - width // 2, c + width // 2 + 1) if c2 in sums)]
        chosen = []
        for c in sorted(peaks, key=lambda c: (-sums[c], c)):
            if all(abs(c - c0) >= width for c0 in chosen):
                chosen.append(c)
        out += [(n, c, sums[c]) for c in sorted(chosen)]
    return out


def naive_window(codes, lengths, attributions, n, start, width, strand):
    """Centred, unit-length window; on the minus strand read backwards with complemented bases."""
    x = np.zeros((4, width))
    for j in range(width):
        pos = start + j if strand > 0 else start + width - 1 - j
        if 0 <= pos < lengths[n]:
            for b in range(4):
                x[b if strand > 0 else 3 - b, j] = attributions[n, b, pos]
    x -= x.mean(axis=0)
    norm = np.sqrt((x ** 2).sum())
    return x / norm if norm > 0 else x


def naive_similarity(codes, lengths, attributions, seq, start, width, max_shift):
    m = len(seq)
    sim1 = np.zeros((m, m))
    for i in range(m):
        q = naive_window(codes, lengths, attributions, seq[i], start[i], width, 1)
        for j in range(m):
            sim1[i, j] = max((q * naive_window(codes, lengths, attributions, seq[j], start[j] + d, width, s)).sum()
                             for s in (1, -1) for d in range(-max_shift, max_shift + 1))
    return (sim1 + sim1.T) / 2


@st.composite
def small_sets(draw):
    rng = rng_from(draw(seeds))
    n = draw(st.integers(1, 6))
    width = draw(st.integers(1, 8))
    data = planted_set(rng, n, [MOTIF_A] if draw(st.booleans()) else [], min_length=max(width, 12),
                       max_length=draw(st.integers(max(width, 12), 40)), n_rate=0.1)[:3]
    return data, width, rng


@given(case=small_sets())
def test_actual_contributions_match_loops(case):
    (codes, lengths, attributions), _, _ = case
    np.testing.assert_allclose(actual_contributions(codes, lengths, attributions),
                               naive_actual(codes, lengths, attributions), rtol=0, atol=0)


@given(case=small_sets(), threshold=st.sampled_from([-1.0, 0.0, 0.5, 2.0, 6.0]))
def test_call_seqlets_matches_loops(case, threshold):
    (codes, lengths, attributions), width, _ = case
    seq, start, score = call_seqlets(codes, lengths, attributions, threshold, core_width=width)
    expected = naive_seqlets(codes, lengths, attributions, threshold, width)
    assert [(int(a), int(b)) for a, b in zip(seq, start)] == [(a, b) for a, b, _ in expected]
    np.testing.assert_allclose(score, [v for _, _, v in expected], atol=1e-9)


@given(case=small_sets(), max_shift=st.integers(0, 4))
def test_seqlet_similarity_matches_loops(case, max_shift):
    (codes, lengths, attributions), width, rng = case
    m = 5
    seq = rng.integers(0, len(lengths), size=m)
    start = np.array([rng.integers(0, lengths[n] - width + 1) for n in seq])
    got = seqlet_similarity(codes, lengths, attributions, seq, start, core_width=width, max_shift=max_shift)
    expected = naive_similarity(codes, lengths, attributions, seq, start, width, max_shift)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def naive_threshold(values, null_values, fdr):
    """Lowest t among the values whose FDR estimate K P0(V >= t) / #{V >= t} is at most fdr."""
    values = [float(v) for v in values]
    if null_values is None:
        mu = float(np.median(values))
        below = [mu - v for v in values if v < mu]
        scale = sum(below) / len(below) if below else 0.0

        def p0(t):
            if t <= mu:
                return 1.0
            return 0.0 if scale == 0 else 0.5 * np.exp(-(t - mu) / scale)
    else:
        def p0(t):
            return (sum(1 for v in null_values if v >= t) + 1) / (len(null_values) + 1)
    passing = [t for t in values if len(values) * p0(t) / sum(1 for v in values if v >= t) <= fdr]
    return min(passing) if passing else float("inf")


@given(seed=seeds, k=st.integers(1, 300), with_null=st.booleans(), fdr=st.sampled_from([0.01, 0.05, 0.2]))
def test_seqlet_threshold_matches_loops(seed, k, with_null, fdr):
    rng = rng_from(seed)
    values = np.round(rng.laplace(0, 1, size=k))  # rounding makes ties, also with the null
    values[: k // 10] += np.round(rng.uniform(5, 15, size=k // 10))  # a few "sites"
    null_values = np.round(rng.laplace(0, 1, size=int(rng.integers(1, 400)))) if with_null else None
    got = seqlet_threshold(values, fdr=fdr, null_values=null_values)
    assert got == naive_threshold(values, null_values, fdr)


def test_seqlet_threshold_counts_null_ties_as_reaching_t():
    # P0(V >= 2) = (3 + 1) / (3 + 1) = 1, so t = 2 has FDR 2 * 1 / 2 = 1; t = 3 has 2 * (1/4) / 1 = 0.5.
    assert seqlet_threshold(np.array([3.0, 2.0]), fdr=0.6, null_values=np.array([2.0, 2.0, 2.0])) == 3.0
    assert seqlet_threshold(np.array([3.0, 2.0]), fdr=1.0, null_values=np.array([2.0, 2.0, 2.0])) == 2.0
    assert seqlet_threshold(np.array([3.0, 2.0]), fdr=0.4, null_values=np.array([2.0, 2.0, 2.0])) == np.inf
