"""Which known motif is this?  Tomtom-style comparison of a motif against a database.

The method is Tomtom's: Gupta, Stamatoyannopoulos, Bailey & Noble, "Quantifying
similarity between motifs", Genome Biology 8:R24 (2007), as the ``tomtom``
program of the MEME suite computes it (``src/tomtom.c`` and ``src/pssm.c`` of
MEME 5.x, read for this module; Jacob Schreiber's memesuite-lite ``tomtom.py``
was read too, and is an approximation of it, see below).

Notation
--------
The query ``Q`` has ``W`` columns ``Q_i``.  The database is ``N`` motifs; with
both strands each is also taken reverse-complemented, and all their columns
together (``M`` of them, both strands) are the *database columns* ``T_t``.

1. Pseudocounts (tomtom ``-motif-pseudo 0.1``): every motif, query and targets,
   becomes ``p' = (p n + 0.1 / 4) / (n + 0.1)`` with ``n`` its number of sites
   (20, MEME's default, when unknown) and a uniform background.

2. Column scores ``s(i, t)`` for every query column against every database
   column:

   - ``pearson`` (default, the Tomtom web server's ``-dist pearson``):
     ``s = sum_b (Q_bi - 1/4)(T_bt - 1/4) / sqrt(sum_b (Q_bi - 1/4)^2 sum_b (T_bt - 1/4)^2)``,
     and 0 when the denominator is 0 (a uniform column), as tomtom;
   - ``ed``: ``s = -sqrt(sum_b (Q_bi - T_bt)^2)``;
   - ``sandelin`` (Sandelin & Wasserman 2004): ``s = 2 - sum_b (Q_bi - T_bt)^2``.

3. Complete scores (tomtom's default; ``complete_scores=False`` is its
   ``-incomplete-scores``): each row is shifted by its median over the database,
   ``s(i, t) -= med_t s(i, t)``, so that leaving a query column unaligned costs
   its median score, 0: failing to align an informative column costs more than
   failing to align a weak one.  The median is tomtom's: sort the ``M`` values,
   ``m = (x[floor(M/2) - 1] + x[ceil(M/2) - 1]) / 2`` (0-based).

4. Discretization (tomtom's ``scale_score_matrix`` with ``BINS = 100``):
   ``off = floor(min s)``, ``scale = floor(100 / (max s - off))`` (both integers;
   ``min == max`` counts as ``max - 1``), ``u(i, t) = round((s(i, t) - off) scale)``
   in ``[0, 100]``.  The score of a query column aligned with a database column
   is then ``v = u + off * scale`` (an integer, ``~ s * scale``) and an unaligned
   column scores 0.

5. Null distribution of one column: a query column aligned with a database
   column drawn uniformly from all ``M``: ``P(u_i = k) = #{t : u(i, t) = k} / M``.
   Null distribution of an alignment of the query columns ``a..b``: the sum of
   independent column scores, by dynamic programming (repeated convolution)
   over the aligned columns: ``f_{a,b} = f_{a,b-1} * P(u_b)``.  Its survival
   function ``sf_{a,b}(k) = P(u_a + ... + u_b >= k)`` is the *alignment p-value*
   (``Match.alignment_p_value``, before any correction for the search).

6. Alignments: a target of width ``L`` is aligned at every offset ``o`` (query
   column ``i`` against target column ``i + o``) whose overlap is at least
   ``min(min_overlap, W, L)`` columns, on both strands.  The alignment's score
   is ``C(o) = sum over aligned i of v(i, i + o)``.  The optimal offset has the
   largest ``C`` (ties: the larger overlap, then the smaller offset, as tomtom's
   loop keeps them).  ``Match.score`` is ``C / scale``, in column-score units.

7. The p-value of a target is the probability that a random target of the same
   width scores at least as well at its best offset on either strand, the
   alignments taken as independent (tomtom's ``calc_shifted_scores_pvalues_per_query``):

       p = P(max_{o, strand} C(o) >= C_obs) = 1 - prod_{o, strand} (1 - sf_{a(o), b(o)}(C_obs - m(o) off scale))

   with ``m(o)`` the overlap; computed as ``-expm1(sum log1p(-sf))`` so that
   p-values far below 1e-16 keep their digits.  With ``complete_scores=False``
   the optimal offset has the smallest alignment p-value ``p_a`` and
   ``p = 1 - (1 - p_a)^(2 n_o)`` for ``n_o`` offsets on two strands (tomtom's ``EV``).

8. ``E = p N`` (``N`` database motifs); q-values by Benjamini-Hochberg over the
   ``N`` p-values of the query: ``q_(r) = min_{j >= r} p_(j) N / j``.

Where this differs from tomtom, and why
---------------------------------------
- The maximum in step 7 runs over the offsets searched.  tomtom's null takes
  the maximum over all ``W + L - 1`` offsets even when ``-min-overlap`` excludes
  some, which can only make its p-values larger (conservative).  In practice the
  short alignments it adds rarely reach a high complete score: on 6,000 random
  query-target pairs with ``min_overlap=5`` both nulls put 4.65% of p-values
  below 0.05.  With ``min_overlap=1`` the two are the same.
- q-values: tomtom estimates the fraction of true nulls (Storey 2002, bootstrap)
  over all ``2N`` strand entries; we use Benjamini-Hochberg (``pi0 = 1``) over
  the ``N`` motifs, as the issue asks: deterministic and never less conservative
  on account of a ``pi0`` estimate.
- Nothing depends on the order of the database (the complaint of memesuite-lite
  issue #7): the null comes from integer counts of discretized scores, the
  median from the sorted values, every column score is computed elementwise
  (no BLAS, whose summation order can depend on an element's position), and
  matches are sorted by p-value, then larger overlap, id, name, strand and
  matrix.  tomtom adds ``1/M`` per database column in database order (round-off
  differences of about 1e-16); memesuite-lite approximates the median by
  binning and merges similar target columns ("target hashing") with bins drawn
  from the whole database, and its degenerate cases (a uniform query) gave
  p-values of 0, 1 or outside [0, 1] (its issue #7).  Here a uniform query
  column scores 0 against everything and a query with no information gets p = 1.
- Pearson sums are not rounded to ``RNDDIG`` digits on the way (tomtom rounds
  them); p-values are not rounded to single precision.
- The pseudocount background is uniform (tomtom: the query file's background;
  for JASPAR files that is uniform too).
- Defaults are the Tomtom web server's (``-dist pearson -min-overlap 5``); the
  command line's are ``-dist ed -min-overlap 1``.

The p-values assume what tomtom assumes: the columns of an unrelated target are
independent draws from the database's columns, and the offsets are
independent.  They need a database of some size (tomtom warns below 50 motifs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from motifnet._atomic import write_text
from motifnet.motif.pwm import Motif, consensus, reverse_complement_pwm

DISTANCES = ("pearson", "ed", "sandelin")
BINS = 100  # tomtom's BINS: one column's discretized score lies in [0, BINS]
DEFAULT_SITE_COUNT = 20  # MEME's number of sites when a motif does not say
DEFAULT_PSEUDOCOUNT = 0.1  # tomtom -motif-pseudo
TSV_COLUMNS = ("Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value", "Overlap",
               "Query_consensus", "Target_consensus", "Orientation", "Target_name")


@dataclass(frozen=True)
class Match:
    """The best alignment of the query with one database motif, and its significance.

    ``offset`` is tomtom's Optimal_offset: query column ``i`` faces column
    ``i + offset`` of the target, the target read on ``orientation`` ('-':
    reverse-complemented).  ``target_consensus`` is the target's consensus in
    that orientation.  ``score`` is the alignment's complete score in column
    score units (step 6 of the module docstring), ``alignment_p_value`` the
    p-value of that one alignment before the correction for searching all
    offsets and strands, ``p_value`` after it.
    """

    query_id: str
    target_id: str
    target_name: str
    offset: int
    orientation: str
    overlap: int
    score: float
    p_value: float
    e_value: float
    q_value: float
    alignment_p_value: float
    query_consensus: str
    target_consensus: str
    target: Motif = field(repr=False, compare=False)


# --------------------------------------------------------------------------- column scores

def _with_pseudocount(pwm: np.ndarray, nsites, pseudocount: float) -> np.ndarray:
    n = DEFAULT_SITE_COUNT if nsites is None else nsites
    return (pwm * n + pseudocount * 0.25) / (n + pseudocount)


def column_scores(query_pwm: np.ndarray, columns: np.ndarray, distance: str = "pearson") -> np.ndarray:
    """Similarity of every query column with every column: ``(W, M)`` float64.

    ``query_pwm`` is ``(4, W)``, ``columns`` ``(4, M)``.  Computed elementwise,
    term by term in the order A, C, G, T, so every entry is the same whatever
    the position of its column (a matrix product would not promise that).
    """
    q = np.asarray(query_pwm, dtype=np.float64)
    t = np.asarray(columns, dtype=np.float64)
    if distance == "pearson":
        qc, tc = q - 0.25, t - 0.25
        num = qc[0][:, None] * tc[0][None, :]
        for b in (1, 2, 3):
            num += qc[b][:, None] * tc[b][None, :]
        qq = qc[0] * qc[0] + qc[1] * qc[1] + qc[2] * qc[2] + qc[3] * qc[3]
        tt = tc[0] * tc[0] + tc[1] * tc[1] + tc[2] * tc[2] + tc[3] * tc[3]
        den = np.sqrt(qq[:, None] * tt[None, :])
        return np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    if distance in ("ed", "sandelin"):
        d = q[0][:, None] - t[0][None, :]
        sq = d * d
        for b in (1, 2, 3):
            d = q[b][:, None] - t[b][None, :]
            sq += d * d
        return -np.sqrt(sq) if distance == "ed" else 2.0 - sq
    raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")


def tomtom_median(scores: np.ndarray) -> np.ndarray:
    """tomtom's median of each row: ``(x[floor(M/2)-1] + x[ceil(M/2)-1]) / 2`` of the sorted row."""
    M = scores.shape[1]
    i1 = max(int(math.floor(0.5 * M)) - 1, 0)
    i2 = max(int(math.ceil(0.5 * M)) - 1, i1)
    part = np.partition(scores, sorted({i1, i2}), axis=1)  # exact order statistics, no full sort
    return (part[:, i1] + part[:, i2]) / 2.0


class QueryNull:
    """The discretized column scores of one query against a database, and their null distribution.

    Everything ``compare`` computes once per query (steps 1-5 of the module
    docstring).

    Parameters
    ----------
    query_pwm : ndarray, shape (4, W)
        The query, pseudocounts already added.
    columns : ndarray, shape (4, M)
        Every database column (both strands when both are searched),
        pseudocounts already added.
    distance : {"pearson", "ed", "sandelin"}
    complete_scores : bool
        Shift each query column's scores by their median (tomtom's default).

    Attributes
    ----------
    shift : ndarray, shape (W,)
        The median subtracted from each query column's scores (0 without
        complete scores).
    offset, scale : int
        ``u = round((s - shift - offset) * scale)``; an aligned column scores
        ``u + offset * scale``.
    database_scores : ndarray, shape (W, M), int64
        ``u + offset * scale`` of the query against every database column.
    """

    def __init__(self, query_pwm: np.ndarray, columns: np.ndarray, distance: str = "pearson",
                 complete_scores: bool = True):
        self.query_pwm = np.asarray(query_pwm, dtype=np.float64)
        self.distance = distance
        self.width = self.query_pwm.shape[1]
        scores = column_scores(self.query_pwm, columns, distance)
        self.n_columns = scores.shape[1]
        self.shift = tomtom_median(scores) if complete_scores else np.zeros(self.width)
        scores -= self.shift[:, None]
        small, large = float(scores.min()), float(scores.max())
        if large == small:  # every score the same (tomtom's guard): any scale will do
            small = large - 1.0
        self.offset = int(math.floor(small))
        # Never 0: no column score range is anywhere near BINS wide, but a zero
        # scale would silently make every alignment score the same.
        self.scale = max(int(math.floor(BINS / (large - self.offset))), 1)
        self.unit = self.offset * self.scale  # the score of a column whose u is 0
        u = self._discretize(scores)
        self._build_null(u)
        self.database_scores = u + self.unit

    def _discretize(self, shifted: np.ndarray) -> np.ndarray:
        # tomtom's nint(x) for x >= 0: floor(x + 0.5); clipped because a target
        # outside the database may score beyond the database's range.
        x = np.floor((shifted - self.offset) * self.scale + 0.5)
        return np.clip(x, 0, BINS).astype(np.int64)

    def aligned_scores(self, target_pwm: np.ndarray) -> np.ndarray:
        """``v(i, t) = u(i, t) + offset * scale`` of the query against ``target_pwm`` ``(4, L)``: ``(W, L)`` int64.

        ``target_pwm`` must have its pseudocounts added already, as the database's.
        """
        s = column_scores(self.query_pwm, target_pwm, self.distance) - self.shift[:, None]
        return self._discretize(s) + self.unit

    def _build_null(self, u: np.ndarray) -> None:
        """The survival function of every span ``a..b`` of query columns, stored ragged."""
        W = self.width
        counts = np.stack([np.bincount(row, minlength=BINS + 1) for row in u])  # exact, order-free
        pmf = counts / float(self.n_columns)
        lo = [int(np.flatnonzero(c)[0]) for c in counts]
        hi = [int(np.flatnonzero(c)[-1]) for c in counts]
        self._span_lo = np.zeros(W * W, dtype=np.int64)  # sf(k) = 1 for k <= lo, stored from lo
        self._span_len = np.zeros(W * W, dtype=np.int64)
        self._span_ptr = np.zeros(W * W, dtype=np.int64)
        pieces, ptr = [], 0
        for a in range(W):
            dist, d_lo = pmf[a, lo[a]:hi[a] + 1], lo[a]
            for b in range(a, W):
                if b > a:
                    dist = np.convolve(dist, pmf[b, lo[b]:hi[b] + 1])
                    d_lo += lo[b]
                sf = np.cumsum(dist[::-1])[::-1]
                sf[0] = 1.0  # P(sum >= its smallest value) is 1, not 1 - round-off
                span = a * W + b
                self._span_lo[span], self._span_len[span], self._span_ptr[span] = d_lo, sf.size, ptr
                pieces.append(np.minimum(sf, 1.0))
                ptr += sf.size
        self._sf = np.concatenate(pieces)

    def span_sf(self, first, last, total) -> np.ndarray:
        """``P(u_first + ... + u_last >= total)`` under the null (arrays broadcast).

        ``first..last`` are query columns (inclusive), ``total`` a sum of their
        ``u`` (not ``v``) values.
        """
        span = np.asarray(first, dtype=np.int64) * self.width + np.asarray(last, dtype=np.int64)
        k = np.asarray(total, dtype=np.int64) - self._span_lo[span]
        length = self._span_len[span]
        inside = (k >= 0) & (k < length)
        values = self._sf[self._span_ptr[span] + np.clip(k, 0, np.maximum(length - 1, 0))]
        return np.where(inside, values, np.where(k < 0, 1.0, 0.0))

    def alignment_p_value(self, first, overlap, score) -> np.ndarray:
        """P-value of an alignment of query columns ``first .. first + overlap - 1`` with complete score ``score``.

        ``score`` is in ``v`` units (a sum of ``aligned_scores``), before any
        correction for the number of offsets and strands searched.
        """
        first = np.asarray(first, dtype=np.int64)
        overlap = np.asarray(overlap, dtype=np.int64)
        return self.span_sf(first, first + overlap - 1, np.asarray(score, dtype=np.int64) - overlap * self.unit)


# --------------------------------------------------------------------------- alignments

def _offsets(W: int, L: int, min_overlap: int) -> np.ndarray:
    """The offsets searched for a target of width ``L``: overlap >= min(min_overlap, W, L)."""
    mo = min(min_overlap, W, L)
    return np.arange(-(W - mo), L - mo + 1)


def _span(W: int, L: int, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First aligned query column and overlap of each offset."""
    first = np.maximum(0, -offsets)
    overlap = np.minimum(W, L - offsets) - first
    return first, overlap


def _alignment_scores(v_columns: np.ndarray, widths: np.ndarray, W: int, min_overlap: int):
    """Score of every target at every offset searched: ``(scores, offsets, overlap, valid)``, each ``(n, K)``.

    ``v_columns`` ``(W, M)`` holds the query's ``v`` scores against the targets'
    columns laid end to end, ``widths`` their widths; row ``r`` of the results
    is target ``r``, its offsets in increasing order, ``valid`` false past the
    last one.  Every alignment score is a diagonal sum; with ``W - 1`` zero
    columns (the score of an unaligned column) between targets, all of them
    come from ``W`` shifted vector additions.
    """
    gap = W - 1
    starts = gap + np.concatenate([[0], np.cumsum(widths + gap)[:-1]])  # padded position of each column 0
    total = int(starts[-1] + widths[-1] + gap)
    padded = np.zeros((W, total), dtype=np.int64)
    col_pos = np.repeat(starts - np.concatenate([[0], np.cumsum(widths)[:-1]]), widths) + np.arange(widths.sum())
    padded[:, col_pos] = v_columns
    n_diag = total - W + 1
    diag = padded[0, :n_diag].copy()
    for i in range(1, W):
        diag += padded[i, i:i + n_diag]  # diag[x]: query column i against padded column x + i
    mo = np.minimum(min_overlap, np.minimum(W, widths))
    n_offsets = widths + W - 2 * mo + 1
    j = np.arange(int(n_offsets.max()))
    valid = j[None, :] < n_offsets[:, None]
    offsets = (mo - W)[:, None] + j[None, :]
    scores = diag[np.where(valid, starts[:, None] + offsets, 0)]
    overlap = np.minimum(W, widths[:, None] - offsets) - np.maximum(0, -offsets)
    return scores, offsets, overlap, valid


def _prepare(motif: Motif, pseudocount: float) -> np.ndarray:
    return _with_pseudocount(motif.pwm, motif.nsites, pseudocount)


def _as_motif(query) -> Motif:
    if isinstance(query, Motif):
        return query
    return Motif("query", "", np.asarray(query, dtype=np.float64))


def compare(query, database, min_overlap: int = 5, distance: str = "pearson", complete_scores: bool = True,
            both_strands: bool = True, pseudocount: float = DEFAULT_PSEUDOCOUNT) -> list[Match]:
    """Compare ``query`` with every motif of ``database``; one ``Match`` per motif, best first.

    Parameters
    ----------
    query : Motif or ndarray (4, W)
        The motif to name.
    database : sequence of Motif
        The known motifs (``motifnet.motif.database.load_default_database()``).
    min_overlap : int
        Fewest aligned columns (tomtom ``-min-overlap``; ``min(min_overlap, W, L)``
        for motifs narrower than that).
    distance : {"pearson", "ed", "sandelin"}
        Column similarity (tomtom ``-dist``).
    complete_scores : bool
        Tomtom's default; False is its ``-incomplete-scores``.
    both_strands : bool
        Also align the reverse complement of each target (tomtom's default;
        False is ``-norc``).
    pseudocount : float
        Added to every motif as tomtom ``-motif-pseudo`` (0 for none).

    Returns
    -------
    list of Match
        Sorted by p-value, then larger overlap, target id, name, strand: the
        same list whatever the order of ``database``.

    Notes
    -----
    The method, with its formulas, is in the module docstring.
    """
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}")
    if not isinstance(min_overlap, (int, np.integer)) or min_overlap < 1:
        raise ValueError(f"min_overlap must be an integer >= 1, got {min_overlap!r}")
    if not pseudocount >= 0:
        raise ValueError(f"pseudocount must be >= 0, got {pseudocount!r}")
    query = _as_motif(query)
    database = list(database)
    if not database:
        raise ValueError("the database is empty; expected at least one motif")
    if not all(isinstance(m, Motif) for m in database):
        raise TypeError("database must be a sequence of motifnet.motif.Motif")
    N, W = len(database), query.width

    widths = np.array([m.width for m in database], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    raw = np.concatenate([m.pwm for m in database], axis=1)  # (4, sum of widths), one motif after another
    sites = np.repeat([DEFAULT_SITE_COUNT if m.nsites is None else m.nsites for m in database], widths)
    forward = (raw * sites + pseudocount * 0.25) / (sites + pseudocount)  # step 1, every column at once
    n_strands = 2 if both_strands else 1
    if both_strands:
        # Each motif reverse-complemented in place: complement the rows, and read each
        # motif's columns backwards (column starts + L - 1 - j of motif k for its j-th).
        backwards = np.repeat(starts + widths - 1, widths) - (np.arange(widths.sum()) - np.repeat(starts, widths))
        columns = np.concatenate([forward, forward[::-1, backwards]], axis=1)
    else:
        columns = forward
    null = QueryNull(_prepare(query, pseudocount), columns, distance, complete_scores)
    v_all = null.database_scores
    scores, offsets, overlap, valid = _alignment_scores(v_all, np.tile(widths, n_strands), W, min_overlap)
    rows = np.arange(n_strands * N)
    if complete_scores:
        # Largest score, then largest overlap, then the first (smallest) offset:
        # argmax returns the first of equal keys.
        key = np.where(valid, scores * (W + 1) + overlap, np.iinfo(np.int64).min)
        best = np.argmax(key, axis=1)
    else:
        # tomtom -incomplete-scores: the smallest alignment p-value, then the
        # largest overlap, then the first offset.
        # (the padding past each row's last offset is given a harmless span first)
        p_a = np.where(valid, null.alignment_p_value(np.where(valid, np.maximum(0, -offsets), 0),
                                                     np.where(valid, overlap, 1), scores), np.inf)
        tied = valid & (p_a == p_a.min(axis=1, keepdims=True))
        best = np.argmax(np.where(tied, overlap, -1), axis=1)
    score, offset, ov = scores[rows, best], offsets[rows, best], overlap[rows, best]
    align_p = null.alignment_p_value(np.maximum(0, -offset), ov, score)
    if complete_scores:
        strand_p = _max_p_values(null, np.tile(widths, n_strands), score, W, min_overlap, n_strands)
    else:
        n_searched = valid.sum(axis=1)
        with np.errstate(divide="ignore"):  # log1p(-1) = -inf: p = 1
            strand_p = np.clip(-np.expm1(n_strands * n_searched * np.log1p(-align_p)), 0.0, 1.0)
    score, offset, ov, align_p, strand_p = (x.reshape(n_strands, N) for x in (score, offset, ov, align_p, strand_p))
    # The better strand: smaller p, then larger score, then larger overlap, then '+'.
    minus = np.zeros(N, dtype=bool)
    if both_strands:
        minus = (strand_p[1] < strand_p[0]) | ((strand_p[1] == strand_p[0]) & (
            (score[1] > score[0]) | ((score[1] == score[0]) & (ov[1] > ov[0]))))
    pick, cols = minus.astype(np.int64), np.arange(N)
    best_score, best_offset, best_overlap = score[pick, cols], offset[pick, cols], ov[pick, cols]
    best_align_p, p = align_p[pick, cols], strand_p[pick, cols]
    e = p * N
    q = _bh_q_values(p)

    query_cons = consensus(query.pwm)
    # Consensus letters of every column of both strands in one pass (the argmax of
    # the unpseudocounted matrices, as consensus() of each motif would give).
    raw_columns = np.concatenate([raw, raw[::-1, backwards]], axis=1) if both_strands else raw
    letters = consensus(raw_columns)
    strand_start = np.concatenate([starts, starts + widths.sum()]) if both_strands else starts
    matches = []
    for i, motif in enumerate(database):
        at = strand_start[i + N * int(minus[i])]
        matches.append(Match(query.id, motif.id, motif.name, int(best_offset[i]), "-" if minus[i] else "+",
                             int(best_overlap[i]), float(best_score[i]) / null.scale, float(p[i]), float(e[i]),
                             float(q[i]), float(best_align_p[i]), query_cons, letters[at:at + widths[i]], motif))
    cheap = lambda m: (m.p_value, -m.overlap, m.target_id, m.target_name, m.orientation)  # noqa: E731
    matches.sort(key=cheap)
    if any(cheap(a) == cheap(b) for a, b in zip(matches, matches[1:])):
        # Two motifs alike in all that: order them by their matrices, so that the
        # database's order still cannot show through.
        matches.sort(key=lambda m: cheap(m) + (m.target.pwm.shape, m.target.pwm.tobytes()))
    return matches


def _max_p_values(null: QueryNull, widths: np.ndarray, score: np.ndarray, W: int, min_overlap: int,
                  n_strands: int) -> np.ndarray:
    """``P(max over offsets and strands of a random target's score >= score)`` (step 7)."""
    p = np.ones(len(widths))
    for L in np.unique(widths):
        which = np.flatnonzero(widths == L)
        offs = _offsets(W, int(L), min_overlap)
        first, overlap = _span(W, int(L), offs)
        sf = null.alignment_p_value(first[:, None], overlap[:, None], score[which][None, :])
        with np.errstate(divide="ignore"):  # log1p(-1) = -inf: some alignment always reaches it, p = 1
            log_none = n_strands * np.log1p(-sf).sum(axis=0)
        p[which] = -np.expm1(log_none)
    return np.clip(p, 0.0, 1.0)


def _bh_q_values(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values: ``q_(r) = min_{j >= r} p_(j) n / j`` (ties share the largest rank)."""
    n = len(p)
    order = np.argsort(p, kind="stable")
    # p * (n / j), not p * n / j: n / j >= 1, so the rounded product is never below p
    ranked = p[order] * (n / np.arange(1, n + 1))
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


# --------------------------------------------------------------------------- output

def _g(x: float) -> str:
    return f"{x:.3g}"


def write_matches_tsv(path, query_matches) -> None:
    """Write matches as tomtom's TSV, plus the target's name, atomically.

    ``query_matches`` is a list of ``Match`` (of one query or several, in the
    order to write them).  Columns: ``Query_ID Target_ID Optimal_offset p-value
    E-value q-value Overlap Query_consensus Target_consensus Orientation
    Target_name``.
    """
    lines = ["\t".join(TSV_COLUMNS)]
    for m in query_matches:
        lines.append("\t".join([m.query_id, m.target_id, str(m.offset), _g(m.p_value), _g(m.e_value),
                                _g(m.q_value), str(m.overlap), m.query_consensus, m.target_consensus,
                                m.orientation, m.target_name]))
    write_text(path, "\n".join(lines) + "\n")


def plot_alignment(path, query, match: Match) -> None:
    """PNG of the query's and the target's information-content logos, one above the other, aligned.

    The target is drawn in the matched orientation (reverse-complemented for
    '-'), shifted so that query column ``i`` stands above target column
    ``i + match.offset``.
    """
    from motifnet.logos import save_aligned_logos

    query = _as_motif(query)
    target_pwm = match.target.pwm if match.orientation == "+" else reverse_complement_pwm(match.target.pwm)
    strand = "" if match.orientation == "+" else " (reverse complement)"
    save_aligned_logos(
        path, query.pwm, target_pwm, bottom_shift=-match.offset,
        top_title=f"query {query.id} {query.name}".rstrip(),
        bottom_title=(f"{match.target_id} {match.target_name}{strand}   p = {match.p_value:.2g}, "
                      f"E = {match.e_value:.2g}, q = {match.q_value:.2g}"))

