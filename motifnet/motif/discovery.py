"""Motif discovery from attribution maps: seqlets, clusters, motifs.

Works for any model that gives per-base attributions and any sequence
lengths: the input is the sequences as codes and their *hypothetical
contributions*, the output is a list of motifs, each a PWM with the seqlets
(sites) behind it, or an empty list and the reason when nothing clears the
bar.  A simpler relative of TF-MoDISco (Shrikumar et al. 2018;
tfmodisco-lite): one threshold from a null, one similarity, one deterministic
clustering with a chance model, plain NumPy (no graph library, no Numba: the
hot part is a matrix product).

Shapes and symbols
------------------
    codes[n, l]     int8 (N, L)     A=0, C=1, G=2, T=3; N and padding -1
    lengths[n]      int64 (N,)      positions l >= lengths[n] are padding
    hyp[n, b, l]    float (N, 4, L) the contribution base b would make at l
    s[n, l]         actual contribution, hyp[n, codes[n, l], l] (0 at N/padding)
    w, f, S         core width, flank, largest shift between two seqlets (w // 2)

Reverse complement: in A, C, G, T order the complement of channel b is 3 - b,
so a window's reverse complement is the window with *both* axes reversed,
``rc(X)[b, j] = X[3 - b, W - 1 - j]``.

1. Seqlets (windows of high attribution)
----------------------------------------
    V[n, c] = sum_{j < w} s[n, c + j]        for every window inside its sequence

The threshold t on V comes from a null distribution of window sums V0, with
``P0(V >= t) = (#{V0 >= t} + 1) / (#V0 + 1)``:

* ``background`` given: V0 are the window sums of background sequences;
* ``null="bases"`` (default): V0 are window sums of the contributions of
  *random bases*, ``s0[n, l] = hyp[n, r, l]`` with r uniform on A, C, G, T
  (what the model would credit a random sequence with, at the same positions;
  replicated until there are 200,000 null windows, at most 8 times).  At a
  motif site random bases sometimes hit the preferred bases, which fattens
  the null's tail, so the null is computed twice: the second time without the
  windows within f of the sites the first threshold found;
* ``null="laplace"``: a Laplace fit to the lower half of V, which motif windows
  (large positive sums) do not reach: ``mu = median(V)``,
  ``b = mean(mu - V | V < mu)`` (maximum likelihood for a one-sided Laplace),
  ``P0(V >= t) = exp(-(t - mu) / b) / 2``.  It assumes symmetric noise and
  that most windows hold no motif (not so for short, dense sequences).

With K windows, the estimated false discovery rate of threshold t is
``FDR(t) = K P0(V >= t) / #{V >= t}``, and t is the lowest window sum with
``FDR(t) <= fdr`` (Benjamini-Hochberg's step-up rule read on window sums).
Seqlet cores are the windows with ``V >= t`` that are the largest within w // 2
of themselves (a window beside a site, holding a few of its edge positions, is
not), picked greedily per sequence, largest first, none overlapping another
(``|c - c'| >= w``).  Each core keeps f flanking positions a side so a motif can
be wider than w.

2. Similarity over both strands and small shifts
------------------------------------------------
Windows are compared through their *centred* hypothetical contributions,
``h[b, j] = hyp[b, j] - mean_b' hyp[b', j]`` (adding a constant to the four
bases of a position does not change which base the model prefers), flattened
and scaled to unit length.  With ``q_i`` the core of seqlet i and
``k_j(strand, d)`` the w-window of seqlet j shifted by d on either strand,

    sim1(i, j) = max_{strand, |d| <= S} q_i . k_j(strand, d)      (a cosine)
    sim(i, j)  = (sim1(i, j) + sim1(j, i)) / 2

Chance similarities come from the data too: sim1 between the seqlets and
*position-shuffled* seqlet cores (same columns, no motif order; one shuffle
per alignment, so a null comparison also takes the best of 2 (2S + 1)).
From that sample: ``tau = quantile_0.99`` (clipped to [0.4, 0.9]) and
``p0 = P(null >= tau)``.

3. Clusters, alignment, width, orientation
------------------------------------------
* Leader clustering on the graph ``sim >= tau``: seqlets in order of their
  number of neighbours (ties: larger V, then lower index); an unassigned one
  with at least ``k*`` unassigned neighbours seeds a group of itself and them,
  where ``k* = max(min_seqlets - 1, min{k : P(Binomial(M - 1, p0) >= k) <= 0.01 / M})``:
  more neighbours than chance gives any of the M seqlets.
* Refinement (``n_rounds`` times): a template is the unit-length mean of a
  group's aligned, centred w-windows; every seqlet goes to the template that
  one of its windows (either strand, any shift within its flanks) matches
  best, if that cosine is >= tau; of two members of one sequence whose spans
  overlap by more than half, the better fit stays.  Each template's frame is
  then re-centred on the w-window where the members' mean centred pattern has
  the most energy (``sum_b hbar[b, p]^2``), so it follows the motif rather
  than the seed's crop.  Groups whose templates match (mean of both ways
  >= ``merge_threshold`` at some strand and |shift| <= S) are merged and
  refined again.
* A group is a motif when it keeps ``min_seqlets`` members and is coherent:
  the median sim over pairs of its members is at least halfway from the
  null's median to tau.  A star of noise seqlets, each like one seed but not
  like one another, fails this.
* Matrices over the aligned members m = 1..M, at positions p of the template
  frame widened by f + S a side:

      counts[b, p]       = #{m : base of m at p is b}
      pwm                = pwm_from_counts(counts, pseudocount)
      contribution[b, p] = (1/M) sum_m hyp_m[b, p] [base of m at p is b]
      hypothetical[b, p] = (1/M) sum_m hyp_m[b, p]
      importance[p]      = sum_b contribution[b, p]

  The motif is the span from the first to the last p with
  ``importance[p] >= trim_fraction * max_p importance[p]``: its width is found,
  not given.  Motifs narrower than ``min_width`` (clusters of single strong
  positions) are dropped.
* Orientation: of the motif and its reverse complement, the one whose
  consensus comes first alphabetically (as canonical k-mers are chosen); a
  seqlet's strand says which of its strands reads as the reported motif.

``sign="negative"`` runs all of the above on ``-hyp``; ``"both"`` runs both.
Deterministic: ``seed`` drives the random bases and the shuffles, nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from motifnet.motif.pwm import consensus, pwm_from_counts, window_sums

_MIN_NULL_WINDOWS = 1000        # fewer windows away from the first sites: keep the first threshold
_MAX_NULL_WINDOWS = 2_000_000  # beyond this the null's quantiles are estimated from a subsample
_NULL_QUANTILE = 0.99          # of the shuffled-seqlet similarities: tau
_TAU_RANGE = (0.4, 0.9)        # tau's clip: never accept chance alignments, never demand identity
_CHUNK_ROWS = 512              # rows of the similarity matrix computed at once (memory ~ rows x M x 2(2S+1))


@dataclass(frozen=True)
class DiscoveredMotif:
    """One motif found in the attributions.

    Attributes
    ----------
    pwm : numpy.ndarray, float64, shape (4, W)
        Base frequencies of the aligned seqlets (pseudocount added).
    contribution : numpy.ndarray, float64, shape (4, W)
        Mean actual contribution per base and position: a base's row holds the
        mean over seqlets of the contribution where that base was observed
        (zero elsewhere), so a column sums to the position's mean contribution.
    hypothetical : numpy.ndarray, float64, shape (4, W)
        Mean hypothetical contribution per base and position.
    n_seqlets : int
        Number of seqlets (sites) behind the motif.
    seqlets : list of (int, int, int, str)
        ``(sequence index, start, end, strand)`` of every site in forward,
        0-based half-open coordinates, clipped to the sequence; strand ``'+'``
        when the forward strand reads as the motif, ``'-'`` when its reverse
        complement does.
    consensus : str
        The most frequent base at each position of ``pwm``.
    sign : int
        +1 for a motif of positive contributions, -1 for one found in the
        negative contributions (``sign="negative"`` or ``"both"``).
    """

    pwm: np.ndarray
    contribution: np.ndarray
    hypothetical: np.ndarray
    n_seqlets: int
    seqlets: list
    consensus: str
    sign: int = 1

    @property
    def width(self) -> int:
        return int(self.pwm.shape[1])


@dataclass(frozen=True)
class DiscoveryResult:
    """What ``discover_motifs`` found.

    Attributes
    ----------
    motifs : list of DiscoveredMotif
        Sorted by support (``n_seqlets``), largest first; empty when nothing
        was found.
    reason : str or None
        Why ``motifs`` is empty ("no motif found: ..."), None otherwise.
    n_seqlets : int
        Seqlets that passed the threshold (before clustering).
    threshold : float
        The window-sum threshold used (inf when no window passed).
    null : str
        Where the threshold came from: "bases", "laplace", "background" or
        "given".
    similarity_threshold : float
        tau, the cosine above which two seqlets count as similar (nan when no
        seqlets were compared).

    With ``sign="both"``, ``n_seqlets`` counts both signs and ``threshold``,
    ``null`` and ``similarity_threshold`` are the positive pass's.
    """

    motifs: list = field(default_factory=list)
    reason: str | None = None
    n_seqlets: int = 0
    threshold: float = float("inf")
    null: str = "bases"
    similarity_threshold: float = float("nan")


# --------------------------------------------------------------------------- checks

def _check_inputs(codes, lengths, attributions, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = np.asarray(codes)
    lengths = np.asarray(lengths)
    attributions = np.asarray(attributions)
    if codes.ndim != 2:
        raise ValueError(f"{name}codes must have shape (N, L_max), got {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise TypeError(f"{name}codes must be integers (A=0, C=1, G=2, T=3, N/padding -1), got {codes.dtype}")
    n, length = codes.shape
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"{name}lengths must be an integer array of shape ({n},), got "
                         f"{lengths.dtype} {lengths.shape}")
    if n and (lengths.min() < 0 or lengths.max() > length):
        raise ValueError(f"{name}lengths must lie in [0, {length}] (the codes' L_max), got "
                         f"[{lengths.min()}, {lengths.max()}]")
    if attributions.shape != (n, 4, length):
        raise ValueError(f"{name}attributions must have shape ({n}, 4, {length}) like the codes, got "
                         f"{attributions.shape}")
    if not np.issubdtype(attributions.dtype, np.floating):
        raise TypeError(f"{name}attributions must be float32 or float64, got {attributions.dtype}")
    if not np.isfinite(attributions).all():
        bad = tuple(int(v) for v in np.argwhere(~np.isfinite(attributions))[0])
        raise ValueError(f"{name}attributions must be finite; index {bad} is {attributions[bad]}")
    if ((codes < -1) | (codes > 3)).any():
        raise ValueError(f"{name}codes must be -1, 0, 1, 2 or 3")
    return codes.astype(np.int8, copy=False), lengths.astype(np.int64, copy=False), attributions


# --------------------------------------------------------------------------- 1. seqlets

def actual_contributions(codes: np.ndarray, lengths: np.ndarray, attributions: np.ndarray) -> np.ndarray:
    """``s[n, l] = hyp[n, codes[n, l], l]``, 0 at N and padding: ``(N, L)`` float64."""
    codes, lengths, attributions = _check_inputs(codes, lengths, attributions, "")
    return _actual(codes, lengths, attributions)


def _actual(codes, lengths, attributions):
    n, length = codes.shape
    inside = (codes >= 0) & (np.arange(length)[None, :] < lengths[:, None])
    s = np.take_along_axis(attributions, np.clip(codes, 0, 3)[:, None, :].astype(np.int64), axis=1)[:, 0, :]
    return np.where(inside, s, 0.0).astype(np.float64)


def _window_sums_inside(s, lengths, width):
    """Window sums ``(N, L - width + 1)`` and which windows lie inside their sequence."""
    sums = window_sums(s, width)
    valid = np.arange(sums.shape[1])[None, :] <= (lengths[:, None] - width)
    return sums, valid


def _random_base_sums(codes, lengths, attributions, width, seed, use, min_windows=200_000, max_replicates=8):
    """Window sums of the contributions of random bases: the "bases" null (module docstring).

    ``s0[n, l] = hyp[n, r, l]`` with r uniform on A, C, G, T, drawn anew for
    each replicate, over the windows where ``use`` (N, L - width + 1) is True;
    as many replicates (at most ``max_replicates``) as make at least
    ``min_windows`` null windows, so the null's tail is resolved on small data
    sets too.
    """
    rng = np.random.default_rng(seed)
    n, length = codes.shape
    inside = (codes >= 0) & (np.arange(length)[None, :] < lengths[:, None])
    replicates = int(min(max_replicates, max(1, -(-min_windows // max(int(use.sum()), 1)))))
    out = []
    for _ in range(replicates):
        r = rng.integers(0, 4, size=(n, 1, length))
        s0 = np.where(inside, np.take_along_axis(attributions, r, axis=1)[:, 0, :], 0.0)
        out.append(window_sums(s0, width)[use])
    return np.concatenate(out)


def _away_from(seq, start, shape, width, margin):
    """Windows (N, L - width + 1) that overlap no ``[c - margin, c + width + margin)`` of the given cores."""
    blocked = np.zeros((shape[0], shape[1] + width + 2 * margin + 1), dtype=np.int64)
    lo = np.clip(start - margin - width + 1, 0, None)  # first window start overlapping the span
    hi = start + width + margin                         # first window start past it
    np.add.at(blocked, (seq, lo), 1)
    np.add.at(blocked, (seq, hi), -1)
    return np.cumsum(blocked, axis=1)[:, :shape[1]] == 0


def _null_tail(values, null_values, null, seed):
    """``P0(V >= t)`` at every t in ``values`` (sorted descending) under the chosen null."""
    if null == "empirical":
        ref = np.sort(null_values)
        greater_equal = len(ref) - np.searchsorted(ref, values, side="left")
        return (greater_equal + 1.0) / (len(ref) + 1.0)
    sample = values
    if len(sample) > _MAX_NULL_WINDOWS:
        sample = np.random.default_rng(seed).choice(values, _MAX_NULL_WINDOWS, replace=False)
    mu = float(np.median(sample))
    below = sample[sample < mu]
    scale = float(np.mean(mu - below)) if len(below) else 0.0
    excess = values - mu
    if scale <= 0.0:
        # No spread below the median (e.g. attributions exactly zero off the motif):
        # nothing at or below mu can be signal, anything above it cannot be noise.
        return np.where(excess > 0, 0.0, 1.0)
    return np.where(excess > 0, 0.5 * np.exp(-np.maximum(excess, 0.0) / scale), 1.0)


def seqlet_threshold(window_values: np.ndarray, *, fdr: float = 0.05, null_values: np.ndarray | None = None,
                     seed: int = 0) -> float:
    """The lowest window sum ``t`` whose estimated FDR is at most ``fdr``.

    Parameters
    ----------
    window_values : numpy.ndarray, shape (K,)
        Window sums V of the data.
    fdr : float
        Target false discovery rate on windows.
    null_values : numpy.ndarray, optional
        Window sums under the null (background sequences, or random bases);
        their empirical tail is the null.  Without them a Laplace fitted to the
        lower half of ``window_values`` is (module docstring).
    seed : int
        Only for subsampling more than 2,000,000 windows when fitting the Laplace.

    Returns
    -------
    float
        The threshold, ``inf`` when no window passes.
    """
    values = np.sort(np.asarray(window_values, dtype=np.float64))[::-1]
    if len(values) == 0:
        return float("inf")
    null = "laplace" if null_values is None else "empirical"
    null_values = None if null_values is None else np.asarray(null_values, dtype=np.float64).ravel()
    if null == "empirical" and len(null_values) == 0:
        raise ValueError("null_values is empty: no null window is as wide as the core")
    tail = _null_tail(values, null_values, null, seed)
    # #{V >= v_k}: ties share the count of their last copy.
    n_at_least = np.searchsorted(-values, -values, side="right").astype(np.float64)
    est_fdr = len(values) * tail / n_at_least
    passing = np.nonzero(est_fdr <= fdr)[0]
    if len(passing) == 0:
        return float("inf")
    return float(values[passing.max()])


def _pick_cores(sums, valid, threshold, width):
    """Greedy non-overlapping local maxima >= threshold per sequence: (seq, start, score) arrays."""
    radius = width // 2
    padded = np.pad(np.where(valid, sums, -np.inf), ((0, 0), (radius, radius)), constant_values=-np.inf)
    local_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1, axis=1).max(axis=2)
    # A window that is not the largest within half a core of itself is a motif's shoulder (it holds a
    # few of the motif's edge positions): the windows nearer the motif sum to more.
    cand = valid & (sums >= threshold) & (sums >= local_max)
    seq, start = np.nonzero(cand)
    score = sums[seq, start]
    order = np.lexsort((start, -score, seq))  # per sequence, best first
    seq, start, score = seq[order], start[order], score[order]
    keep = np.zeros(len(seq), dtype=bool)
    taken: dict[int, list[int]] = {}
    for i in range(len(seq)):
        chosen = taken.setdefault(int(seq[i]), [])
        c = int(start[i])
        if all(abs(c - c0) >= width for c0 in chosen):
            chosen.append(c)
            keep[i] = True
    seq, start, score = seq[keep], start[keep], score[keep]
    order = np.lexsort((start, seq))
    return seq[order].astype(np.int64), start[order].astype(np.int64), score[order]


def call_seqlets(codes, lengths, attributions, threshold: float, *, core_width: int = 10):
    """Seqlet cores: non-overlapping local maxima of the window sums V that reach ``threshold``.

    Parameters
    ----------
    codes, lengths, attributions
        As for ``discover_motifs``.
    threshold : float
        The least window sum of a seqlet (e.g. from ``seqlet_threshold``).
    core_width : int
        w, the window width.

    Returns
    -------
    seq, start : numpy.ndarray of int64, shape (M,)
        Sequence index and first position of each core ``[start, start + w)``,
        sorted by sequence, then start.
    score : numpy.ndarray of float64, shape (M,)
        The window sum V of each core.
    """
    codes, lengths, attributions = _check_inputs(codes, lengths, attributions, "")
    if int(core_width) != core_width or not 1 <= core_width <= codes.shape[1]:
        raise ValueError(f"core_width must be an integer in [1, {codes.shape[1]}], got {core_width}")
    sums, valid = _window_sums_inside(_actual(codes, lengths, attributions), lengths, int(core_width))
    return _pick_cores(sums, valid, float(threshold), int(core_width))


# --------------------------------------------------------------------------- windows on either strand

def _gather(codes, lengths, attributions, seq, anchor, strand, positions):
    """Oriented windows: template position p of row m sits at forward ``anchor[m] + strand[m] * p``.

    Returns hyp ``(M, 4, P)`` (complemented channels on the minus strand, zero
    outside the sequence) and bases ``(M, P)`` int (complemented; -1 for N or
    outside).
    """
    length = codes.shape[1]
    pos = anchor[:, None] + strand[:, None] * positions[None, :]  # (M, P)
    inside = (pos >= 0) & (pos < lengths[seq][:, None])
    posc = np.clip(pos, 0, length - 1)
    hyp = attributions[seq[:, None], :, posc].astype(np.float64)  # (M, P, 4)
    hyp *= inside[..., None]
    minus = strand < 0
    hyp[minus] = hyp[minus][..., ::-1]  # channel b -> 3 - b is the complement in A, C, G, T order
    base = np.where(inside, codes[seq[:, None], posc], -1).astype(np.int64)
    base = np.where(minus[:, None] & (base >= 0), 3 - base, base)
    return np.ascontiguousarray(np.moveaxis(hyp, -1, 1)), base


def _unit_centred(hyp):
    """Centre each column over bases, flatten, scale to unit length: (M, 4, P) -> (M, 4P) float32."""
    h = hyp - hyp.mean(axis=1, keepdims=True)
    flat = h.reshape(len(h), -1)
    norm = np.linalg.norm(flat, axis=1, keepdims=True)
    return np.divide(flat, norm, out=np.zeros_like(flat), where=norm > 0).astype(np.float32)


def _alignments(start, width, max_shift):
    """Every (strand, anchor) of a seqlet's w-windows within ``max_shift`` of its core: (M, A) each.

    Plus strand, shift d: window [c + d, c + d + w), anchor c + d.  Minus
    strand: the same forward window read backwards, anchor c + d + w - 1.
    """
    shifts = np.arange(-max_shift, max_shift + 1)
    plus = start[:, None] + shifts[None, :]
    minus = plus + width - 1
    anchor = np.concatenate([plus, minus], axis=1)
    strand = np.concatenate([np.ones_like(plus), -np.ones_like(minus)], axis=1)
    return anchor, strand


class _Windows:
    """Unit centred windows of every alignment of every seqlet, for cosine similarities.

    ``keys[a, m]`` is seqlet m's window at alignment a (``anchor[m, a]``,
    ``strand[m, a]``); alignments lead the layout so that one alignment of all
    seqlets is one contiguous matrix for BLAS.  Alignments reach ``reach``
    positions either side of the core (a seqlet joins a template if any window
    of its flanks matches, so motifs wider than the core gather all their
    sites); pairs of seqlets are compared within ``max_shift`` only
    (``pair_keys``), where both windows are cores of comparable crops.
    """

    def __init__(self, data, seq, start, width, max_shift, reach):
        codes, lengths, attributions = data
        self.anchor, self.strand = _alignments(start, width, reach)  # (M, A)
        m, a = self.anchor.shape
        hyp, _ = _gather(codes, lengths, attributions, np.tile(seq, a), self.anchor.T.ravel(),
                         self.strand.T.ravel(), np.arange(width))
        self.keys = _unit_centred(hyp).reshape(a, m, -1)  # (A, M, 4w)
        self.cores = self.keys[reach]  # plus strand, shift 0: (M, 4w)
        near = np.arange(reach - max_shift, reach + max_shift + 1)
        self.pair_alignments = np.concatenate([near, near + 2 * reach + 1])
        self.pair_keys = self.keys[self.pair_alignments]

    def best_match(self, templates, pairs_only=False):
        """For every seqlet and template: the best cosine and the alignment index giving it, (M, K) each."""
        keys = self.pair_keys if pairs_only else self.keys
        a, m, d = keys.shape
        scores = (keys.reshape(a * m, d) @ templates.T).reshape(a, m, -1)  # (A, M, K)
        best = scores.argmax(axis=0)
        fit = np.take_along_axis(scores, best[None], axis=0)[0]
        return fit, (self.pair_alignments[best] if pairs_only else best)


def _pairwise_similarity(queries, keys):
    """``sim1[i, j] = max_a queries[i] . keys[a, j]``: (Q, D) x (A, M, D) -> (Q, M) float32."""
    out = np.full((len(queries), keys.shape[1]), -np.inf, dtype=np.float32)
    for r0 in range(0, len(queries), _CHUNK_ROWS):
        block = queries[r0:r0 + _CHUNK_ROWS]
        rows = out[r0:r0 + _CHUNK_ROWS]
        for keys_a in keys:
            np.maximum(rows, block @ keys_a.T, out=rows)
    return out


def seqlet_similarity(codes, lengths, attributions, seq, start, *, core_width: int = 10,
                      max_shift: int = 5) -> np.ndarray:
    """``sim(i, j)`` of the module docstring for the seqlets with cores ``[start, start + w)``.

    Returns
    -------
    numpy.ndarray of float32, shape (M, M)
        Symmetric; 1 on the diagonal (up to rounding) for any core that is not
        all zero.
    """
    codes, lengths, attributions = _check_inputs(codes, lengths, attributions, "")
    seq = np.asarray(seq, dtype=np.int64)
    start = np.asarray(start, dtype=np.int64)
    if seq.shape != start.shape or seq.ndim != 1:
        raise ValueError(f"seq and start must be 1-d arrays of one length, got {seq.shape} and {start.shape}")
    if int(max_shift) != max_shift or max_shift < 0:
        raise ValueError(f"max_shift must be an integer >= 0, got {max_shift}")
    windows = _Windows((codes, lengths, attributions), seq, start, int(core_width), int(max_shift), int(max_shift))
    sim1 = _pairwise_similarity(windows.cores, windows.pair_keys)
    return (sim1 + sim1.T) / 2


# --------------------------------------------------------------------------- 3. clusters

def _chance_degree(m, p0, alpha=0.01):
    """Smallest k with P(Binomial(m - 1, p0) >= k) <= alpha / m: more neighbours than chance gives any of m."""
    n = max(m - 1, 0)
    k = np.arange(n + 1)
    p0 = min(max(p0, 1e-12), 1 - 1e-12)
    log_pmf = (np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in k])
               + k * math.log(p0) + (n - k) * math.log1p(-p0))
    tail = np.cumsum(np.exp(log_pmf - log_pmf.max())[::-1])[::-1] * math.exp(log_pmf.max())  # P(X >= k)
    passing = np.nonzero(tail <= alpha / max(m, 1))[0]
    return int(passing[0]) if len(passing) else n + 1


def _leader_clusters(sim, tau, score, min_degree):
    """Deterministic leader clustering of the graph ``sim >= tau`` (module docstring, step 3)."""
    m = len(sim)
    adj = sim >= tau
    np.fill_diagonal(adj, False)
    degree = adj.sum(axis=1)
    order = np.lexsort((np.arange(m), -score, -degree))
    label = np.full(m, -1, dtype=np.int64)
    seeds = []
    for i in order:
        if label[i] >= 0:
            continue
        neighbours = adj[i] & (label < 0)
        if neighbours.sum() < min_degree:
            continue
        label[neighbours] = len(seeds)
        label[i] = len(seeds)
        seeds.append(int(i))
    return label, np.array(seeds, dtype=np.int64)


class _Cluster:
    """Members (rows into the seqlet arrays) with their alignment to the template frame."""

    def __init__(self, members, anchor, strand, fit):
        self.members = members  # (M,) seqlet index
        self.anchor = anchor    # (M,) forward position of template position 0
        self.strand = strand    # (M,) +1 / -1
        self.fit = fit          # (M,) cosine with the template


def _template(data, seq, cluster, width, flank):
    """Re-centre the cluster's frame on its strongest w-window of mean pattern; unit template.

    Strength is the energy of the mean centred hypothetical contributions,
    ``sum_b hbar[b, p]^2``: the part of the window the members agree on, which is
    what the cosine similarities compare.
    """
    codes, lengths, attributions = data
    positions = np.arange(-flank, width + flank)
    hyp, _ = _gather(codes, lengths, attributions, seq[cluster.members], cluster.anchor, cluster.strand, positions)
    mean = hyp.mean(axis=0)
    energy = ((mean - mean.mean(axis=0, keepdims=True)) ** 2).sum(axis=0)
    shift = int(np.argmax(window_sums(energy[None, :], width)[0])) - flank
    cluster.anchor = cluster.anchor + cluster.strand * shift
    core = mean[None, :, flank + shift: flank + shift + width]
    return _unit_centred(core)[0]


def _dedupe(seq, cluster, width):
    """One member per site: of members of one sequence whose w-spans overlap by half, keep the best fit."""
    lo = np.where(cluster.strand > 0, cluster.anchor, cluster.anchor - width + 1)
    s = seq[cluster.members]
    keep = np.ones(len(s), dtype=bool)
    repeated = np.nonzero(np.bincount(s)[s] > 1)[0]  # most sequences hold one member: nothing to compare
    order = repeated[np.lexsort((repeated, -cluster.fit[repeated], s[repeated]))]
    kept: dict[int, list[int]] = {}
    for i in order:
        spans = kept.setdefault(int(s[i]), [])
        if all(abs(int(lo[i]) - other) > width // 2 for other in spans):
            spans.append(int(lo[i]))
        else:
            keep[i] = False
    return _Cluster(cluster.members[keep], cluster.anchor[keep], cluster.strand[keep], cluster.fit[keep])


def _assign(windows, templates, tau):
    """Each seqlet to the template it matches best (>= tau): label (M,), anchor, strand, fit."""
    fit, best = windows.best_match(templates)  # (M, K)
    label = fit.argmax(axis=1)
    rows = np.arange(len(label))
    top = fit[rows, label]
    align = best[rows, label]
    anchor = windows.anchor[rows, align]
    strand = windows.strand[rows, align]
    label = np.where(top >= tau, label, -1)
    return label, anchor, strand, top


def _refine(data, seq, windows, templates, tau, width, flank, n_rounds, min_seqlets):
    """Competitive assignment to templates and re-estimation, ``n_rounds`` times."""
    clusters: list[_Cluster] = []
    for _ in range(n_rounds):
        if len(templates) == 0:
            return [], templates
        label, anchor, strand, fit = _assign(windows, templates, tau)
        clusters, new_templates = [], []
        for k in range(len(templates)):
            idx = np.nonzero(label == k)[0]
            if len(idx) < min_seqlets:
                continue
            cluster = _dedupe(seq, _Cluster(idx, anchor[idx], strand[idx], fit[idx]), width)
            if len(cluster.members) < min_seqlets:
                continue
            new_templates.append(_template(data, seq, cluster, width, flank))
            clusters.append(cluster)
        templates = np.array(new_templates, dtype=np.float32).reshape(len(new_templates), -1)
    return clusters, templates


def _merge_pairs(data, seq, clusters, templates, width, max_shift, merge_threshold):
    """Pairs (k, l), k < l, of clusters whose templates match at some strand and shift."""
    codes, lengths, attributions = data
    keys = []
    for cluster in clusters:
        # The cluster's mean window over its frame widened by max_shift, cut at every alignment.
        hyp, _ = _gather(codes, lengths, attributions, seq[cluster.members], cluster.anchor, cluster.strand,
                         np.arange(-max_shift, width + max_shift))
        mean = hyp.mean(axis=0)
        plus = np.stack([mean[:, d:d + width] for d in range(2 * max_shift + 1)])
        keys.append(_unit_centred(np.concatenate([plus, plus[:, ::-1, ::-1]])))
    keys = np.ascontiguousarray(np.stack(keys, axis=1))  # (A, K, 4w)
    sim1 = _pairwise_similarity(templates, keys)
    sim = (sim1 + sim1.T) / 2
    return [(k, l) for k in range(len(clusters)) for l in range(k + 1, len(clusters))
            if sim[k, l] >= merge_threshold]


def _similarity_null(windows, seed):
    """sim1 between seqlet cores and position-shuffled seqlet cores: a sample of chance similarities.

    A real comparison takes the best of A = 2 (2S + 1) alignments, so each null
    seqlet gets 2S + 1 independent shuffles, each on both strands: A keys.
    """
    rng = np.random.default_rng(seed)
    a, m, d = windows.pair_keys.shape
    width = d // 4
    n_null = min(m, 500)
    pick = np.sort(rng.choice(m, n_null, replace=False)) if m > n_null else np.arange(m)
    core = windows.cores[pick].reshape(n_null, 4, width)
    n_shuffles = a // 2
    perm = np.argsort(rng.random((n_shuffles, n_null, width)), axis=2)  # one column order per key
    shuffled = np.take_along_axis(core[None], perm[:, :, None, :], axis=3)  # (S', n_null, 4, w)
    # Reverse complement = both axes reversed.
    keys = np.concatenate([shuffled, shuffled[:, :, ::-1, ::-1]]).reshape(2 * n_shuffles, n_null, d)
    queries = windows.cores[np.arange(m) if m <= 2000 else np.sort(rng.choice(m, 2000, replace=False))]
    return _pairwise_similarity(queries, np.ascontiguousarray(keys)).ravel()


def _cohesion(sim, members):
    """Median similarity over pairs of members (members beyond the compared set are left out)."""
    inner = members[members < len(sim)]
    if len(inner) < 2:
        return 1.0
    block = sim[np.ix_(inner, inner)]
    return float(np.median(block[~np.eye(len(inner), dtype=bool)]))


# --------------------------------------------------------------------------- motifs

def _motif(data, seq, cluster, width, flank, max_shift, trim_fraction, pseudocount, sign):
    codes, lengths, attributions = data
    margin = flank + max_shift
    positions = np.arange(-margin, width + margin)
    hyp, base = _gather(codes, lengths, attributions, seq[cluster.members], cluster.anchor, cluster.strand,
                        positions)
    onehot = (base[:, None, :] == np.arange(4)[None, :, None])  # (M, 4, P); N/outside: all False
    n = len(cluster.members)
    counts = onehot.sum(axis=0).astype(np.float64)
    contribution = (hyp * onehot).sum(axis=0) / n
    hypothetical = hyp.sum(axis=0) / n
    importance = contribution.sum(axis=0)
    peak = importance.max()
    if peak <= 0:
        return None
    kept = np.nonzero(importance >= trim_fraction * peak)[0]
    lo, hi = int(kept[0]), int(kept[-1]) + 1
    pwm = pwm_from_counts(counts[:, lo:hi], pseudocount)
    contribution, hypothetical = contribution[:, lo:hi], hypothetical[:, lo:hi]
    anchor = cluster.anchor + cluster.strand * (lo - margin)  # forward position of motif position 0
    strand = cluster.strand.copy()
    w = hi - lo
    forward, reverse = consensus(pwm), consensus(pwm[::-1, ::-1])
    if reverse < forward:
        pwm, contribution, hypothetical = pwm[::-1, ::-1], contribution[::-1, ::-1], hypothetical[::-1, ::-1]
        anchor = anchor + strand * (w - 1)
        strand = -strand
        forward = reverse
    start = np.where(strand > 0, anchor, anchor - w + 1)
    s = seq[cluster.members]
    end = np.minimum(start + w, lengths[s])
    start = np.maximum(start, 0)
    sites = sorted((int(a), int(b), int(c), "+" if d > 0 else "-")
                   for a, b, c, d in zip(s, start, end, strand))
    return DiscoveredMotif(pwm=np.ascontiguousarray(pwm), contribution=sign * np.ascontiguousarray(contribution),
                           hypothetical=sign * np.ascontiguousarray(hypothetical), n_seqlets=n, seqlets=sites,
                           consensus=forward, sign=sign)


# --------------------------------------------------------------------------- entry point

def discover_motifs(codes, lengths, attributions, *, background=None, null: str = "bases", sign: str = "positive",
                    core_width: int = 10, flank: int = 8, max_shift: int | None = None, fdr: float = 0.05,
                    threshold: float | None = None, min_seqlets: int = 10,
                    similarity_threshold: float | None = None, merge_threshold: float = 0.8,
                    trim_fraction: float = 0.2, min_width: int = 4, max_seqlets: int = 4000, n_rounds: int = 3,
                    pseudocount: float = 0.5, seed: int = 0) -> DiscoveryResult:
    """Find the motifs behind high attributions (method: module docstring).

    Parameters
    ----------
    codes : numpy.ndarray of int, shape (N, L_max)
        A=0, C=1, G=2, T=3; N and padding -1.
    lengths : numpy.ndarray of int, shape (N,)
        Length of each sequence (positions beyond it are padding).
    attributions : numpy.ndarray of float, shape (N, 4, L_max)
        Hypothetical contributions; the actual contribution at a position is
        the value at its observed base.
    background : tuple (codes, lengths, attributions), optional
        The same for background (negative) sequences: their window sums are the
        null for the seqlet threshold (``null`` is then ignored).
    null : {"bases", "laplace"}
        Without a background: the window sums of the contributions of random
        bases ("bases"), or a Laplace fitted to the lower half of the window
        sums ("laplace"); see the module docstring.
    sign : {"positive", "negative", "both"}
        Look for motifs of positive contributions, negative ones, or both
        (each with its own threshold; a motif's ``sign`` says which).
    core_width : int
        w, the width of the windows whose summed contribution calls a seqlet;
        capped at the longest sequence.
    flank : int
        Positions kept on each side of a core, so motifs up to about
        ``core_width + 2 * flank`` wide can be found.
    max_shift : int, optional
        Largest offset tried when aligning two seqlets (default ``core_width // 2``,
        at most ``flank``).
    fdr : float
        Target false discovery rate of seqlet windows.
    threshold : float, optional
        A window-sum threshold to use instead of the null's.
    min_seqlets : int
        Fewest seqlets a motif needs.
    similarity_threshold : float, optional
        tau; default from the shuffled-seqlet null.
    merge_threshold : float
        Clusters whose templates match at least this well are merged.
    trim_fraction : float
        A motif keeps the positions whose mean contribution is at least this
        fraction of its largest.
    min_width : int
        Narrower motifs are dropped: a cluster of single strong positions
        (attribution spikes) is not a binding site.
    max_seqlets : int
        At most this many seqlets (the highest window sums) enter the all-pairs
        similarity; the others can still join a motif in the assignment rounds.
    n_rounds : int
        Assignment/re-estimation rounds.
    pseudocount : float
        Added to every base count of the PWM.
    seed : int
        Seeds the similarity null's shuffles.

    Returns
    -------
    DiscoveryResult
        Motifs sorted by support, or none with the reason; never raises for
        "nothing found".

    Raises
    ------
    ValueError, TypeError
        For malformed inputs or parameters, naming the argument.
    """
    data = _check_inputs(codes, lengths, attributions, "")
    bg = None
    if background is not None:
        if len(background) != 3:
            raise ValueError("background must be a tuple (codes, lengths, attributions)")
        bg = _check_inputs(*background, "background ")
    if null not in ("bases", "laplace"):
        raise ValueError(f"null must be 'bases' or 'laplace', got {null!r}")
    if sign not in ("positive", "negative", "both"):
        raise ValueError(f"sign must be 'positive', 'negative' or 'both', got {sign!r}")
    for name, value, low in (("core_width", core_width, 1), ("flank", flank, 0), ("min_seqlets", min_seqlets, 2),
                             ("max_seqlets", max_seqlets, 2), ("n_rounds", n_rounds, 1),
                             ("min_width", min_width, 1)):
        if int(value) != value or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    if not 0 < fdr < 1:
        raise ValueError(f"fdr must be in (0, 1), got {fdr}")
    if not 0 < trim_fraction <= 1:
        raise ValueError(f"trim_fraction must be in (0, 1], got {trim_fraction}")
    if similarity_threshold is not None and not -1 <= similarity_threshold <= 1:
        raise ValueError(f"similarity_threshold must be a cosine in [-1, 1], got {similarity_threshold}")
    if max_shift is not None and (int(max_shift) != max_shift or max_shift < 0):
        raise ValueError(f"max_shift must be an integer >= 0 or None, got {max_shift}")
    options = dict(null=null, core_width=int(core_width), flank=int(flank), max_shift=max_shift, fdr=fdr,
                   threshold=threshold, min_seqlets=int(min_seqlets), similarity_threshold=similarity_threshold,
                   merge_threshold=merge_threshold, trim_fraction=trim_fraction, min_width=int(min_width),
                   max_seqlets=int(max_seqlets), n_rounds=int(n_rounds), pseudocount=pseudocount, seed=seed)
    signs = {"positive": [1], "negative": [-1], "both": [1, -1]}[sign]
    results = [_discover_signed(data, bg, s, **options) for s in signs]
    if len(results) == 1:
        return results[0]
    motifs = sorted((m for r in results for m in r.motifs), key=lambda m: -m.n_seqlets)
    reason = None if motifs else "; ".join(f"{name}: {r.reason}" for name, r in zip(("positive", "negative"),
                                                                                       results))
    return DiscoveryResult(motifs=motifs, reason=reason, n_seqlets=sum(r.n_seqlets for r in results),
                           threshold=results[0].threshold, null=results[0].null,
                           similarity_threshold=results[0].similarity_threshold)


def _discover_signed(data, bg, sign, *, null, core_width, flank, max_shift, fdr, threshold, min_seqlets,
                     similarity_threshold, merge_threshold, trim_fraction, min_width, max_seqlets, n_rounds,
                     pseudocount, seed):
    codes, lengths, attributions = data
    if sign < 0:
        attributions = -attributions
    data = (codes, lengths, attributions)
    if threshold is not None:
        null = "given"
    elif bg is not None:
        null = "background"
    longest = int(lengths.max()) if len(lengths) else 0
    if longest == 0:
        return DiscoveryResult(reason="no motif found: every sequence is empty", null=null)
    width = min(core_width, longest)
    shift = min(width // 2 if max_shift is None else int(max_shift), flank)

    s = _actual(codes, lengths, attributions)
    sums, valid = _window_sums_inside(s, lengths, width)
    if threshold is None:
        null_values = None
        if null == "background":
            bg_lengths = bg[1]
            if bg_lengths.max(initial=0) < width:
                raise ValueError(f"background sequences are all shorter than the core width {width}")
            bg_sums, bg_valid = _window_sums_inside(_actual(bg[0], bg_lengths, sign * bg[2]), bg_lengths, width)
            null_values = bg_sums[bg_valid]
            threshold = seqlet_threshold(sums[valid], fdr=fdr, null_values=null_values, seed=seed)
        elif null == "bases":
            # Random bases at a motif site can hit the motif's preferred bases, which fattens the null's
            # tail; so a first threshold finds the sites and the second null leaves their windows out.
            null_values = _random_base_sums(codes, lengths, attributions, width, seed, valid)
            threshold = seqlet_threshold(sums[valid], fdr=fdr, null_values=null_values, seed=seed)
            if np.isfinite(threshold):
                seq, start, _ = _pick_cores(sums, valid, threshold, width)
                away = valid & _away_from(seq, start, sums.shape, width, flank)
                if away.sum() >= _MIN_NULL_WINDOWS:
                    null_values = _random_base_sums(codes, lengths, attributions, width, seed, away)
                    threshold = seqlet_threshold(sums[valid], fdr=fdr, null_values=null_values, seed=seed)
        else:
            threshold = seqlet_threshold(sums[valid], fdr=fdr, seed=seed)
    seq, start, score = _pick_cores(sums, valid, threshold, width)
    n_called = len(seq)
    base = dict(n_seqlets=n_called, threshold=float(threshold), null=null)
    if n_called < min_seqlets:
        return DiscoveryResult(reason=f"no motif found: {n_called} seqlets passed the threshold "
                                      f"({null} null, window sum >= {threshold:.4g}), at least {min_seqlets} "
                                      f"are needed", **base)

    # The all-pairs step sees the strongest seqlets only; all of them can join in the assignment rounds.
    windows = _Windows(data, seq, start, width, shift, max(shift, flank))
    null_sims = _similarity_null(windows, seed)
    tau = (float(np.clip(np.quantile(null_sims, _NULL_QUANTILE), *_TAU_RANGE)) if similarity_threshold is None
           else float(similarity_threshold))
    base["similarity_threshold"] = tau
    chance = float(np.mean(null_sims >= tau))  # p0: how often two unrelated seqlets look alike
    min_cohesion = (float(np.median(null_sims)) + tau) / 2
    top = np.sort(np.lexsort((np.arange(n_called), -score))[:max_seqlets])
    sim1 = _pairwise_similarity(windows.cores[top], np.ascontiguousarray(windows.pair_keys[:, top]))
    sim = (sim1 + sim1.T) / 2
    min_degree = max(min_seqlets - 1, _chance_degree(len(top), chance))
    label, seeds = _leader_clusters(sim, tau, score[top], min_degree)
    n_groups = len(seeds)
    if n_groups == 0:
        return DiscoveryResult(reason=f"no motif found: {n_called} seqlets passed the threshold, but none has "
                                      f"{min_degree} or more alike (cosine >= {tau:.2f} over both strands and "
                                      f"shifts up to {shift}; {min_degree} is more than chance gives)", **base)
    templates = []
    for k in range(n_groups):
        templates.append(_unit_centred(_seed_core(data, seq, windows, top[seeds[k]], top[label == k], width))[0])
    templates = np.array(templates, dtype=np.float32)

    clusters, templates = _refine(data, seq, windows, templates, tau, width, flank, n_rounds, min_seqlets)
    while len(clusters) > 1:
        pairs = _merge_pairs(data, seq, clusters, templates, width, shift, merge_threshold)
        if not pairs:
            break
        drop = {l for _, l in pairs}
        templates = np.array([t for k, t in enumerate(templates) if k not in drop], dtype=np.float32)
        clusters, templates = _refine(data, seq, windows, templates, tau, width, flank, n_rounds, min_seqlets)

    # Cohesion: rows of `sim` are the `top` seqlets; map members to those rows.
    row_of = np.full(n_called, -1, dtype=np.int64)
    row_of[top] = np.arange(len(top))
    motifs, incoherent, narrow = [], 0, []
    for cluster in clusters:
        rows = row_of[cluster.members]
        if _cohesion(sim, rows[rows >= 0]) < min_cohesion:
            incoherent += 1
            continue
        motif = _motif(data, seq, cluster, width, flank, shift, trim_fraction, pseudocount, sign)
        if motif is None or motif.width < min_width:
            narrow.append(0 if motif is None else motif.width)
            continue
        motifs.append(motif)
    motifs.sort(key=lambda m: (-m.n_seqlets, -float(m.contribution.sum())))
    if not motifs:
        why = []
        if incoherent:
            why.append(f"{incoherent} group(s) of similar seqlets were not coherent (their members resemble "
                       f"one seed, not one another)")
        if narrow:
            why.append(f"{len(narrow)} group(s) were narrower than {min_width} positions after trimming "
                       f"(widths {sorted(narrow)}: isolated strong positions, not sites)")
        if not why:
            why.append(f"no group kept {min_seqlets} seqlets after refinement")
        return DiscoveryResult(reason=f"no motif found: {n_called} seqlets passed the threshold, but "
                                      + "; ".join(why), **base)
    return DiscoveryResult(motifs=motifs, reason=None, **base)


def _seed_core(data, seq, windows, seed, members, width):
    """Mean core of a leader group, each member aligned (strand, shift) to the group's seed."""
    codes, lengths, attributions = data
    _, best = windows.best_match(windows.cores[seed:seed + 1], pairs_only=True)
    align = best[members, 0]
    anchor = windows.anchor[members, align]
    strand = windows.strand[members, align]
    hyp, _ = _gather(codes, lengths, attributions, seq[members], anchor, strand, np.arange(width))
    return hyp.mean(axis=0, keepdims=True)
