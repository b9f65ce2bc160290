"""Negative examples: dinucleotide-preserving shuffles, and GC-matched windows of the genome.

Dinucleotide shuffle
--------------------
A shuffle that keeps the exact count of every dinucleotide (AA, AC, ..., TT)
keeps the local composition a CNN would otherwise learn instead of the motif
(CpG content, poly-A tracts), while destroying longer words such as binding
sites.  The method is Altschul & Erickson's (1985), as in MEME's
``fasta-shuffle-letters -kmer 2`` and in uShuffle (Jiang et al. 2008):

1. A sequence ``s`` of length ``n`` is a walk through the graph whose vertices
   are the bases and whose ``n - 1`` edges are its dinucleotides ``s[i] ->
   s[i+1]``.  Every sequence with the same dinucleotide counts, the same first
   base and the same last base is another Eulerian walk (one using every edge
   once) from ``s[0]`` to ``s[-1]``, and conversely.  So the first and last
   bases are kept.
2. A walk is fixed by the order in which it leaves each vertex.  An order gives
   an Eulerian walk exactly when the *last* exits of the vertices other than
   ``s[-1]`` form a tree leading to ``s[-1]`` (BEST theorem).  We draw that tree
   at random with Wilson's algorithm (loop-erased random walks, each step
   taking an out-edge with probability proportional to its count, uniformly
   over the arborescences as uShuffle does); then order each vertex's other
   exits by a random permutation and put its tree edge last.
3. Walk from ``s[0]``, each time leaving the current vertex by its next unused
   exit.  Every sequence with the same counts, first and last base comes out
   with the same probability.

N (and ambiguity letters, code -1) cannot be shuffled meaningfully: each N
stays in place and each maximal N-free run is shuffled on its own, so the
counts of all dinucleotides not involving N are kept exactly.

Genome background
-----------------
``background_windows`` draws windows of the genome at random that overlap no
positive (nor one another) and are at most ``max_n_fraction`` N, keeping a
window only while its GC bin (of ``gc_bins`` equal bins over [0, 1], GC
counted over the non-N bases) still needs windows: the counts per bin are the
positives' histogram scaled to ``n`` (histogram matching).
"""

from __future__ import annotations

import bisect

import numpy as np

from motifnet.errors import UserError
from motifnet.genome import Genome, Interval, check_width, merge_intervals
from motifnet.kernels import jit

DEFAULT_GC_BINS = 20
# More N than this and a window is skipped: N is an all-zero one-hot column, and
# negatives richer in N than the positives would teach the model "N means negative".
DEFAULT_MAX_N_FRACTION = 0.1
_STATS_BATCH = 1 << 21  # bases gathered at a time when measuring candidate windows


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# --------------------------------------------------------------------------- shuffle

try:  # the bounded integers of NumPy's Generator, as Numba implements them (Numba internals)
    from numba.np.random.random_methods import buffered_bounded_lemire_uint32 as _lemire_uint32
    from numba.np.random.random_methods import random_interval as _random_interval
except ImportError:  # pragma: no cover - another Numba: its public methods, the same numbers
    _random_interval = None

if _random_interval is not None:
    # The two draws of the shuffle, from the same state and with the same numbers as NumPy's
    # rng.integers(0, m) and rng.permutation(m) (tests/test_negatives.py compares), written
    # out because Numba's own methods compile slowly: a first shuffle compiled in 7.7 s with
    # them, in ~1.5 s with these.
    @jit
    def _integer_below(rng, m):
        # rng.integers(0, m), 1 <= m < 2**32: Lemire's bounded 32-bit draw (none when m == 1)
        if m == 1:
            return 0
        return np.intp(_lemire_uint32(rng.bit_generator, np.uint32(m - 1)))

    @jit
    def _permutation(rng, m):
        # rng.permutation(m): arange, then Fisher-Yates from the end with j = random_interval(i)
        a = np.arange(m)
        bitgen = rng.bit_generator
        for i in range(m - 1, 0, -1):
            j = np.intp(_random_interval(bitgen, i))
            if j != i:
                t = a[i]
                a[i] = a[j]
                a[j] = t
        return a
else:  # pragma: no cover
    @jit
    def _integer_below(rng, m):
        return rng.integers(0, m)

    @jit
    def _permutation(rng, m):
        return rng.permutation(m)


@jit
def _shuffle_runs(out, bounds, rng):
    # Every N-free run out[bounds[2i]:bounds[2i+1]] longer than 2 bases, shuffled in place
    # (module notes), drawing from the NumPy Generator ``rng`` in the order the Python
    # version of this loop did (_integer_below, _permutation: NumPy's numbers).  One call
    # for a whole sequence: the Python loop spent ~0.14 ms per run in NumPy calls on
    # 300-base pieces, 1.8 s of every `motifnet scan` that calibrates its threshold.
    counts = np.zeros(4, dtype=np.int64)
    offsets = np.zeros(5, dtype=np.int64)
    fill = np.zeros(4, dtype=np.int64)
    tree_exit = np.full(4, -1, dtype=np.int64)
    in_tree = np.zeros(4, dtype=np.bool_)
    position = np.zeros(4, dtype=np.int64)
    longest = 0
    for r in range(bounds.shape[0] // 2):
        longest = max(longest, bounds[2 * r + 1] - bounds[2 * r])
    successors = np.empty(max(longest - 1, 0), dtype=np.int8)
    exits = np.empty(max(longest - 1, 0), dtype=np.int8)
    others = np.empty(max(longest - 1, 0), dtype=np.int8)
    for r in range(bounds.shape[0] // 2):
        start, end = bounds[2 * r], bounds[2 * r + 1]
        n = end - start
        if n <= 2:
            continue
        run = out[start:end]
        last = run[n - 1]
        # the edges run[i] -> run[i + 1], grouped by source base, in order (a stable sort)
        counts[:] = 0
        for i in range(n - 1):
            counts[run[i]] += 1
        offsets[0] = 0
        for u in range(4):
            offsets[u + 1] = offsets[u] + counts[u]
            fill[u] = offsets[u]
        for i in range(n - 1):
            u = run[i]
            successors[fill[u]] = run[i + 1]
            fill[u] += 1
        # Wilson's algorithm: the last exit of every base but `last`, a tree leading to it;
        # a step draws among a base's exits other than its self-loops
        tree_exit[:] = -1
        in_tree[:] = False
        in_tree[last] = True
        for v in range(4):
            u = v
            while counts[v] and not in_tree[u]:
                m = 0
                for i in range(offsets[u], offsets[u + 1]):
                    if successors[i] != u:
                        others[m] = successors[i]
                        m += 1
                tree_exit[u] = others[_integer_below(rng, m)]
                u = tree_exit[u]
            u = v
            while counts[v] and not in_tree[u]:
                in_tree[u] = True
                u = tree_exit[u]
        # each base's exits in random order, its tree exit last
        for u in range(4):
            lo, hi = offsets[u], offsets[u + 1]
            if hi == lo:
                continue
            if u == last:
                perm = _permutation(rng, hi - lo)
                for i in range(hi - lo):
                    exits[lo + i] = successors[lo + perm[i]]
            else:
                m, dropped = 0, False
                for i in range(lo, hi):  # the targets without the first copy of the tree exit
                    if not dropped and successors[i] == tree_exit[u]:
                        dropped = True
                    else:
                        others[m] = successors[i]
                        m += 1
                perm = _permutation(rng, m)
                for i in range(m):
                    exits[lo + i] = others[perm[i]]
                exits[hi - 1] = tree_exit[u]
        # the walk from the first base, leaving each base by its next unused exit
        for u in range(4):
            position[u] = offsets[u]
        u = run[0]
        for t in range(1, n):
            v = exits[position[u]]
            position[u] += 1
            run[t] = v
            u = v


def dinucleotide_shuffle(codes, rng) -> np.ndarray:
    """Shuffle a sequence keeping its exact dinucleotide counts (Altschul-Erickson).

    Parameters
    ----------
    codes : numpy.ndarray of int, shape (L,)
        Base codes: A 0, C 1, G 2, T 3, N -1 (as ``motifnet.data.encode``).
    rng : numpy.random.Generator or int
        The randomness (an int is a seed); the result is reproducible from it.

    Returns
    -------
    numpy.ndarray of int8, shape (L,)
        A fresh array.  Ns stay where they were; each N-free run is shuffled on
        its own, keeping its first and last base and its exact count of each of
        the 16 dinucleotides (so the whole sequence keeps every count of a
        dinucleotide without N).  Runs of 1 or 2 bases have no other
        arrangement and are kept.
    """
    codes = np.asarray(codes)
    if codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be a 1-D integer array, got {codes.dtype} of shape {codes.shape}")
    if codes.size and (codes.min() < -1 or codes.max() > 3):
        raise ValueError("codes must be base codes 0..3 or -1 (N)")
    rng = _rng(rng)
    out = codes.astype(np.int8, copy=True)
    informative = np.concatenate([[0], (out >= 0).astype(np.int8), [0]])
    bounds = np.flatnonzero(np.diff(informative))  # [start, end) of each N-free run
    if bounds.size:
        _shuffle_runs(out, bounds, rng)
    return out


# --------------------------------------------------------------------------- genome background


def _gc_fraction(codes: np.ndarray) -> float:
    informative = np.count_nonzero(codes >= 0)
    if informative == 0:
        return np.nan
    return np.count_nonzero((codes == 1) | (codes == 2)) / informative


def _window_stats(codes: np.ndarray, starts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(G+C count, N count) of the windows ``codes[s:s + width]`` for each start ``s``."""
    windows = np.lib.stride_tricks.sliding_window_view(codes, width)
    gc = np.empty(starts.size, dtype=np.int64)
    n_count = np.empty(starts.size, dtype=np.int64)
    rows = max(1, _STATS_BATCH // width)
    for b in range(0, starts.size, rows):
        part = windows[starts[b:b + rows]]  # a copy of (rows, width) bytes, no index matrix
        gc[b:b + rows] = np.count_nonzero((part == 1) | (part == 2), axis=1)
        n_count[b:b + rows] = np.count_nonzero(part < 0, axis=1)
    return gc, n_count


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Integer counts summing to ``total``, proportional to ``weights``."""
    exact = weights / weights.sum() * total
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def background_windows(genome: Genome, positive_intervals, n: int, widths_or_width, rng,
                       gc_match: bool = True, *, exclude=(), gc_bins: int = DEFAULT_GC_BINS,
                       max_n_fraction: float = DEFAULT_MAX_N_FRACTION,
                       max_draws: int | None = None) -> list[Interval]:
    """Random genome windows that overlap no positive, matched to the positives' GC content.

    Parameters
    ----------
    genome : Genome
    positive_intervals : list of Interval
        The positives: no window overlaps one, and (with ``gc_match``) the
        windows' GC histogram is theirs.
    n : int
        Number of windows.
    widths_or_width : int or sequence of n ints
        One width for all windows, or the width of each (e.g. the positives'
        lengths, to match lengths too; GC is then matched over all windows, not
        per width).
    rng : numpy.random.Generator or int
    gc_match : bool
        Match the GC histogram (``gc_bins`` bins); if False, any GC.
    exclude : list of Interval
        More regions no window may overlap (e.g. whole peaks around positive windows).
    max_n_fraction : float
        Windows with a larger fraction of N (or ambiguity letters) are skipped.
    max_draws : int, optional
        Random windows to try before giving up (default ``100_000 + 200 * n``).

    Returns
    -------
    list of Interval
        ``n`` windows in random order, named ``background_1`` ..., none
        overlapping another.

    Raises
    ------
    UserError
        No chromosome long enough, no informative positive, or too few
        suitable windows found within ``max_draws`` (saying why they were
        rejected and which GC range ran short).
    """
    rng = _rng(rng)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise UserError(f"number of background windows must be a whole number >= 1, got {n!r}")
    n = int(n)
    if isinstance(widths_or_width, (int, np.integer)) and not isinstance(widths_or_width, bool):
        widths = np.full(n, check_width(widths_or_width), dtype=np.int64)
    else:
        widths = np.asarray([check_width(w) for w in widths_or_width], dtype=np.int64)
        if widths.size != n:
            raise UserError(f"{widths.size} window widths given for {n} background windows; "
                            f"expected one width or {n}")
    positives = list(positive_intervals)
    budget = int(max_draws) if max_draws is not None else 100_000 + 200 * n
    bins_used = gc_bins if gc_match else 1

    if gc_match:
        if not positives:
            raise UserError("background windows: no positive intervals to match the GC content of")
        pos_gc = np.array([_gc_fraction(genome.fetch(iv.chrom, iv.start, iv.end)) for iv in positives])
        pos_gc = pos_gc[~np.isnan(pos_gc)]
        if pos_gc.size == 0:
            raise UserError(f"background windows: every positive interval is all N in "
                            f"{genome.name}; there is no GC content to match")
        pos_bins = np.minimum((pos_gc * gc_bins).astype(np.int64), gc_bins - 1)
        per_bin = _largest_remainder(np.bincount(pos_bins, minlength=gc_bins).astype(float), n)
        window_bins = np.repeat(np.arange(gc_bins), per_bin)
        rng.shuffle(window_bins)
    else:
        window_bins = np.zeros(n, dtype=np.int64)

    # still needed: width -> bin -> indices of the windows to fill
    need: dict[int, list[list[int]]] = {}
    for i, (w, b) in enumerate(zip(widths.tolist(), window_bins.tolist())):
        need.setdefault(w, [[] for _ in range(bins_used)])[b].append(i)

    blocked = merge_intervals(positives + list(exclude))
    taken: dict[str, tuple[list[int], list[int]]] = {}  # chrom -> sorted starts, ends of chosen windows
    names = list(genome.names)
    sizes = np.array([genome.sizes[c] for c in names], dtype=np.int64)
    chosen_chrom = [""] * n
    chosen_start = np.full(n, -1, dtype=np.int64)
    draws = too_many_n = overlapping = 0
    remaining = n

    while remaining and draws < budget:
        for width, by_bin in need.items():
            wanted = sum(len(b) for b in by_bin)
            if not wanted or draws >= budget:
                continue
            room = np.maximum(sizes - width + 1, 0)
            if room.sum() == 0:
                raise UserError(f"background windows: no chromosome of {genome.name} is as long as "
                                f"{width} bp (the longest is {int(sizes.max(initial=0))} bp)")
            m = int(min(budget - draws, max(1024, 4 * wanted)))
            draws += m
            # a uniformly random start over all positions where the window fits
            chrom_idx = rng.choice(len(names), size=m, p=room / room.sum())
            starts = (rng.random(m) * room[chrom_idx]).astype(np.int64)
            ends = starts + width
            gc = np.zeros(m, dtype=np.int64)
            n_count = np.zeros(m, dtype=np.int64)
            free = np.ones(m, dtype=bool)
            for ci in np.unique(chrom_idx).tolist():
                sel = np.flatnonzero(chrom_idx == ci)
                gc[sel], n_count[sel] = _window_stats(genome.codes(names[ci]), starts[sel], width)
                if names[ci] in blocked:
                    b_starts, b_ends = blocked[names[ci]]
                    k = np.searchsorted(b_starts, ends[sel], side="left") - 1
                    free[sel] = ~((k >= 0) & (b_ends[np.maximum(k, 0)] > starts[sel]))
            informative = width - n_count
            low_n = (n_count <= max_n_fraction * width) & (informative > 0)
            too_many_n += int(np.count_nonzero(~low_n))
            overlapping += int(np.count_nonzero(low_n & ~free))
            if gc_match:
                gc_bin = np.minimum(gc * gc_bins // np.maximum(informative, 1), gc_bins - 1)
            else:
                gc_bin = np.zeros(m, dtype=np.int64)
            open_bins = np.array([len(b) > 0 for b in by_bin])
            for c in np.flatnonzero(low_n & free & open_bins[gc_bin]).tolist():
                slots = by_bin[gc_bin[c]]
                if not slots:
                    continue
                chrom, s, e = names[chrom_idx[c]], int(starts[c]), int(ends[c])
                t_starts, t_ends = taken.setdefault(chrom, ([], []))
                j = bisect.bisect_left(t_starts, s)
                if (j > 0 and t_ends[j - 1] > s) or (j < len(t_starts) and t_starts[j] < e):
                    continue  # overlaps a window chosen before
                t_starts.insert(j, s)
                t_ends.insert(j, e)
                i = slots.pop()
                chosen_chrom[i], chosen_start[i] = chrom, s
                remaining -= 1

    if remaining:
        raise UserError(_shortfall_message(genome, n, remaining, draws, too_many_n, overlapping,
                                           max_n_fraction, need, gc_match, gc_bins, widths))
    return [Interval(chosen_chrom[i], int(chosen_start[i]), int(chosen_start[i] + widths[i]),
                     name=f"background_{i + 1}") for i in range(n)]


def _shortfall_message(genome, n, remaining, draws, too_many_n, overlapping, max_n_fraction,
                       need, gc_match, gc_bins, widths) -> str:
    lo_w, hi_w = int(widths.min()), int(widths.max())
    width = f"{lo_w} bp" if lo_w == hi_w else f"{lo_w}-{hi_w} bp"
    detail = (f"{too_many_n / draws:.0%} of the draws had more than {max_n_fraction:.0%} N, "
              f"{overlapping / draws:.0%} overlapped a positive")
    if gc_match:
        missing = np.zeros(gc_bins, dtype=np.int64)
        for by_bin in need.values():
            missing += np.array([len(b) for b in by_bin])
        worst = int(np.argmax(missing))
        detail += (f", and {int(missing[worst])} windows with GC {worst / gc_bins:.2f}-"
                   f"{(worst + 1) / gc_bins:.2f} (as the positives have) were not found")
    return (f"{genome.name}: found only {n - remaining} of {n} background windows of {width} "
            f"in {draws} random draws ({detail}); ask for fewer negatives, or give negatives "
            f"yourself (e.g. --neg-fasta or --neg-bed)")
