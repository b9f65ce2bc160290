"""Window scan of long DNA: both strands' filter responses, max over strands and positions, per window.

A genome scan asks the DeepBind model (motifnet/models.py) the same question for
every window [s, s + W) of a long sequence: how well does each filter match anywhere
in the window, on either strand, and where?  The model's own layers answer it for one
window at a time (StrandConv1d writes a (2F, W - K + 1) response array, GlobalMaxPool
reduces it); over a chromosome that means materialising 2F floats per base.  This op
fuses the three steps for a long stretch of codes and many windows at once, and keeps
nothing per base: only per-window results.  It is forward only (scanning needs no
gradient), so the file has no backward section.

Shape legend
------------
    codes:      (L,) int8        one stretch of a record: A 0, C 1, G 2, T 3, N -1
    w:          (F, 4, K)        StrandConv1d's filters (forward strand), channels A C G T
    bias:       (F,)
    w2, b2:     (2F, 4, K), (2F,) [w ; rc(w)], [b ; b]   (kernels/revcomp.py, (F1)-(F2))
    table:      (n_groups, 125, 2F)   the fast loops' group table (see below)
    win_max:    (J, F)           per window and filter: the maximum response
    win_pos:    (J, F) int64     ... the position t (in codes) of the K-mer [t, t + K) it is at
    win_strand: (J, F) int8      ... 0: the filter's own strand (channel f), 1: its reverse
                                 complement (channel F + f)

    Windows: J of them, window j covering codes [a_j, e_j) with a_j = first + j * step,
    e_j = min(a_j + W, L); its K-mer starts are T_j = [a_j, e_j - K + 1), never empty
    (the checked entry point requires a_{J-1} + K <= L).  A window is cut by the end of
    ``codes`` (the end of a record), never by anything else.

Forward
-------
The responses are conv1d_onehot's (F1) with the both-strand filters:

    y[o, t] = b2[o] + sum_{k < K, codes[t + k] >= 0} w2[o, codes[t + k], k]    o < 2F        (F1)

and per window, the maximum of filter f over both strands and the window's K-mers,
with the first maximum in the order (position t, then strand g):

    win_max[j, f]                = max_{t in T_j, g in {0, 1}} y[g F + f, t]                  (F2)
    (win_pos, win_strand)[j, f]  = the first (t, g), t ascending then g, that attains it      (F3)

(F2) is exactly what the model computes for the window alone: DeepBind's
``m = GlobalMaxPool(StrandConv1d(x_window))`` over the window's e_j - a_j - K + 1
positions, N contributing nothing in both.  So win_max[j] is the model's m for the
codes[a_j:e_j] (up to the order of the float sums).  The arg-maxima agree too, except
in one tie: the model's global max takes the first maximum in the order (strand,
position), this op in the order (position, strand); they differ only when the best
K-mer of the window scores exactly the same on the forward strand at t and on the
reverse strand at some t' < t (an inverted repeat).  Position first is what a site
caller wants (the leftmost of equal sites) and what a strand-combined scan (below)
gives for free.

Reverse strand coordinates: channel F + f at position t reads the K-mer
codes[t : t + K] on the reverse strand (kernels/revcomp.py), so a site at
(t, strand 1) covers the same bases [t, t + K) as one at (t, strand 0), read the other
way: a BED interval [t, t + K) with strand '-'.

How the fast loops compute exactly (F1)-(F3), and why
-----------------------------------------------------
Measured on 4 Mbp, F = 32, K = 15, W = 299, step 149, float32, one thread, in CPU time
(the machine, 2 AMD EPYC cores with AVX-512, was shared with other jobs: load 1.5-4.5),
each variant round-robin against the others in one process (median Mbp/s of 7-25 calls,
over 3-6 such runs); numbers move by up to 1.5x between runs.

1. Per position, the 2F responses are a sum of table rows, as in conv1d_onehot: taps
   are taken three at a time (GROUP = 3), and ``table[g, e, :]`` holds the summed
   weights of the three bases whose code is e = d0 + 5 d1 + 25 d2 (digit 4: N, or a tap
   past K, adds nothing); b2 is folded into group 0.  K = 15 is 5 rows of 2F = 64
   floats per position, from a 160 KB table.  The rows are summed in ONE pass over the
   2F outputs: a pass per row (reloading and storing the partial sums) ran 2-3x slower,
   and so did choosing the number of rows by a branch inside the position loop.  So
   the table always has a multiple of ROWS = 5 groups (zero groups past ceil(K / 3)):
   K <= 15 is one pass, K <= 30 two.  Four-base groups (625 rows, 4 per position, a
   640 KB table) were slower in four runs of five (37-61 against 40-70 Mbp/s): not
   worth four times the table.
2. Strands are combined per position before anything is tracked: x = max(y[f], y[F+f])
   with strand s = [y[F+f] > y[f]], keyed 2t + s.  Tracking F keys instead of 2F halves
   the state the loop carries (39-55 against 29-42 Mbp/s; equal in one run of five); its
   order (position, then strand) is (F3)'s.
3. The running maxima are updated once per PB = 8 positions: the 8 positions' sums go to
   a small buffer, and one pass over the filters takes the best of the 8 (unrolled, in
   registers) into the state: 43-70 against 41-51 Mbp/s for an update per position.
   Every select is written with both operands computed first: ``a = (2t + s) if take
   else a`` evaluates lazily, a branch, and that alone cost 1.4x.
4. Windows overlap (step < W), so the maxima are not taken window by window.  Positions
   are cut into *blocks* of ``step`` K-mer starts, block i starting at a_i.  With
   P = W - K + 1 = q * step + r (0 <= r < step), window j's K-mers are blocks
   j .. j + q - 1 whole and the first r starts of block j + q:

       T_j = [a_j, a_j + P) = U_{i = j}^{j + q - 1} [a_i, a_i + step)  U  [a_{j+q}, a_{j+q} + r)

   (cut at L - K + 1 for windows at the end of ``codes``: every block is cut there too).
   Each block is scanned once, keeping its maximum over the first r starts and over all;
   a window combines q + 1 block results (first maximum in block order = position order).
   Blocks live in a ring of q + 1 slots, so nothing per base is stored: per K-mer start
   the work is the row sums and one max, per window q + 1 combines of F keys.  (A step
   of 1 makes q = P: each window then combines P blocks of one start, the plain cost.)
5. Threads: windows are independent, so ranges of windows are the unit of parallelism
   (``prange``); a range recomputes the q blocks it shares with the next one (q / range
   of the work, ~1% at the sizes the wrapper picks).  Serially the whole call is one
   range.  Both compilations release the GIL while they run (``nogil``): ``motifnet
   scan`` also calls the serial one from several Python threads at once, one chunk of
   the genome each, while its main thread parses FASTA and writes text
   (motifnet/scan.py, "Threads").

Where this stands (benchmark scripts in the scan engine's report; 10 Mbp of real fly
promoter sequence, CPU time, 1 thread): 20-26 ms per Mbp.  The arithmetic floor of the
one-hot gather, K * 2F = 960 float adds per position at this core's measured rate of
4.3e10 vectorised L1 load-and-adds per second, is 22 ms per Mbp: the group table does
a quarter of those adds (256 per position), which is what keeps the kernel at the floor
although each row comes from L2.  torch (``F.conv1d`` of both strands, max over strands,
``max_pool1d`` over windows, 1 thread) took 206 ms per Mbp on the same input; the
model's own layers on batches of windows (conv1d_onehot, written for short batches)
382 ms per Mbp (each base is in two windows).

Layout of this file: 1. the reference loops (F1)-(F3), plain, float64; 2. the fast loops
and their entry points ``scan_table_into`` and ``scan_forward_into`` (the one contract of
every fast kernel, see ``motifnet.kernels``: outputs into buffers the caller owns);
3. the checked entry points.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from motifnet.kernels._jit import SerialOrParallel, jit, use_parallel
from motifnet.kernels._validate import check_float_array, check_int, check_shape

__all__ = [
    "scan_forward_reference",
    "scan_table_shape", "scan_table_into", "scan_forward_into",
    "scan_forward", "scan_window_count",
]

ALPHABET_SIZE = 4
GROUP = 3                                   # taps per table row
N_COMBOS = (ALPHABET_SIZE + 1) ** GROUP     # 125: three digits 0-4 (4 = N or a tap past K)
PB = 8                                      # positions per state update (point 3 above)
ROWS = 5                                    # table rows summed per pass (point 1 above)
MAX_CHUNK = 2**30                           # keys 2t + s are int32: codes shorter than 2^30


# ----------------------------------------------------------------------------- 1. reference
def scan_forward_reference(codes, w, bias, width, step, first, n_windows):
    """(F1)-(F3), one window and filter at a time, in float64: ``(win_max, win_pos, win_strand)``."""
    F, C, K = w.shape
    L = codes.shape[0]
    w2 = np.zeros((2 * F, C, K))
    for f in range(F):  # kernels/revcomp.py (F1)-(F2)
        for c in range(C):
            for k in range(K):
                w2[f, c, k] = float(w[f, c, k])
                w2[F + f, c, k] = float(w[f, C - 1 - c, K - 1 - k])
    win_max = np.zeros((n_windows, F))
    win_pos = np.zeros((n_windows, F), dtype=np.int64)
    win_strand = np.zeros((n_windows, F), dtype=np.int8)
    for j in range(n_windows):
        a = first + j * step
        e = min(a + width, L)
        for f in range(F):
            best, best_t, best_g = -math.inf, -1, -1
            for t in range(a, e - K + 1):      # position first ...
                for g in range(2):             # ... then strand: (F3)'s order
                    o = g * F + f
                    acc = float(bias[f])
                    for k in range(K):
                        c = int(codes[t + k])
                        if c >= 0:
                            acc += w2[o, c, k]
                    if best_t < 0 or acc > best:
                        best, best_t, best_g = acc, t, g
            win_max[j, f], win_pos[j, f], win_strand[j, f] = best, best_t, best_g
    return win_max, win_pos, win_strand


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above (up to the order of the float sums); the layout
# differs for the reasons in the module docstring, points 1-5.

def scan_table_shape(F: int, K: int) -> tuple[int, int, int]:
    """The group table's shape for F filters of width K: (n_groups, 125, 2F).

    n_groups = ceil(K / 3) rounded up to a multiple of ROWS = 5 (point 1): the groups past
    ceil(K / 3) hold zeros (and group 0 the bias).
    """
    n_groups = (K + GROUP - 1) // GROUP
    return (-(-n_groups // ROWS) * ROWS, N_COMBOS, 2 * F)


@jit
def _table_loops(w, bias, table):
    # w: (F, 4, K)  bias: (F,)  table: (n_groups, 125, 2F) written
    # table[g, e, o] = [g == 0] b2[o] + sum_{j < 3, k = 3g + j < K, digit_j(e) < 4} w2[o, digit_j(e), k]
    F, C, K = w.shape
    n_groups = table.shape[0]
    for g in range(n_groups):
        for e in range(N_COMBOS):
            row = table[g, e]
            for f in range(F):
                row[f] = bias[f] if g == 0 else 0
                row[F + f] = bias[f] if g == 0 else 0
            rest = e
            for j in range(GROUP):
                digit = rest % (C + 1)
                rest //= C + 1
                k = g * GROUP + j
                if k < K and digit < C:
                    for f in range(F):
                        row[f] += w[f, digit, k]                     # w2[f]     = w[f]
                        row[F + f] += w[f, C - 1 - digit, K - 1 - k]  # w2[F + f] = rc(w[f])


@jit
def _group_codes(codes, start, n, n_groups, digits, gc):
    # gc[i] = d[start + i] + 5 d[start + i + 1] + 25 d[start + i + 2] for i < n + 3 (n_groups - 1),
    # d = the code, 4 for N and for every position past the end of codes (taps past K read
    # there, with zero weight)
    L = codes.shape[0]
    n_gc = n + GROUP * (n_groups - 1)
    for i in range(n_gc + GROUP - 1):
        p = start + i
        c = codes[p] if p < L else -1
        digits[i] = c if c >= 0 else ALPHABET_SIZE
    for i in range(n_gc):
        gc[i] = digits[i] + 5 * digits[i + 1] + 25 * digits[i + 2]


@jit
def _row_sums(table, gc, i, dst):
    # (F1) at one start: dst[o] = sum_g table[g, gc[i + 3g], o], ROWS rows per pass (point 1)
    n_groups, _, F2 = table.shape
    r0, r1, r2, r3, r4 = table[0, gc[i]], table[1, gc[i + 3]], table[2, gc[i + 6]], table[3, gc[i + 9]], \
        table[4, gc[i + 12]]
    for o in range(F2):
        dst[o] = ((r0[o] + r1[o]) + (r2[o] + r3[o])) + r4[o]
    for g in range(ROWS, n_groups, ROWS):  # K > 15
        j = i + GROUP * g
        r0, r1, r2, r3, r4 = table[g, gc[j]], table[g + 1, gc[j + 3]], table[g + 2, gc[j + 6]], \
            table[g + 3, gc[j + 9]], table[g + 4, gc[j + 12]]
        for o in range(F2):
            dst[o] += ((r0[o] + r1[o]) + (r2[o] + r3[o])) + r4[o]


@jit
def _track(table, gc, gc_origin, t_begin, t_end, buf, best, key):
    # best[f], key[f] (key = 2t + s) <- the first maximum over starts t in [t_begin, t_end) and
    # both strands, combined with what they hold (earlier starts: ties keep it); gc[i] is the
    # group code of start gc_origin + i.  buf: (PB, 2F) scratch.
    n_groups, _, F2 = table.shape
    F = F2 // 2  # from the table, not best.shape: with F tied to F2 the loops run twice as fast
    t = t_begin
    while t + PB <= t_end:
        for p in range(PB):
            i = t + p - gc_origin
            dst = buf[p]
            # _row_sums(table, gc, i, dst), written out: a call here halved the speed
            r0, r1, r2, r3, r4 = table[0, gc[i]], table[1, gc[i + 3]], table[2, gc[i + 6]], \
                table[3, gc[i + 9]], table[4, gc[i + 12]]
            for o in range(F2):
                dst[o] = ((r0[o] + r1[o]) + (r2[o] + r3[o])) + r4[o]
            for g in range(ROWS, n_groups, ROWS):
                j = i + GROUP * g
                r0, r1, r2, r3, r4 = table[g, gc[j]], table[g + 1, gc[j + 3]], table[g + 2, gc[j + 6]], \
                    table[g + 3, gc[j + 9]], table[g + 4, gc[j + 12]]
                for o in range(F2):
                    dst[o] += ((r0[o] + r1[o]) + (r2[o] + r3[o])) + r4[o]
        for f in range(F):  # vectorised over filters; the PB starts unrolled (point 3)
            v, a = best[f], key[f]
            for p in range(PB):
                x_fwd, x_rev = buf[p, f], buf[p, F + f]
                rev = x_rev > x_fwd                    # the forward strand wins a tie
                x = x_rev if rev else x_fwd
                # the key computed unconditionally, in int32: "a = (2t + rev) if take else a"
                # evaluates lazily, a branch that stops the loop vectorising (1.4x slower)
                k = np.int32(2 * (t + p)) + (np.int32(1) if rev else np.int32(0))
                take = x > v                           # an earlier start wins a tie
                v = x if take else v
                a = k if take else a
            best[f], key[f] = v, a
        t += PB
    while t < t_end:  # the last < PB starts, one at a time
        _row_sums(table, gc, t - gc_origin, buf[0])
        for f in range(F):
            x_fwd, x_rev = buf[0, f], buf[0, F + f]
            rev = x_rev > x_fwd
            x = x_rev if rev else x_fwd
            if x > best[f]:
                best[f], key[f] = x, np.int32(2 * t + (1 if rev else 0))
        t += 1


@jit
def _take_first_max(best, key, src_best, src_key):
    # fold a later block's result into (best, key): strictly greater wins, so ties keep the earlier
    for f in range(best.shape[0]):
        v, k = src_best[f], src_key[f]  # loaded first: "x if c else y" evaluates x lazily, a branch
        take = v > best[f]
        best[f] = v if take else best[f]
        key[f] = k if take else key[f]


def _forward_loops(codes, table, K, first, step, width, n_windows, windows_per_range,
                   win_max, win_pos, win_strand):
    # codes: (L,)  table: (n_groups, 125, 2F)  win_max, win_pos, win_strand: (J, F) written
    L = codes.shape[0]
    n_groups, _, F2 = table.shape
    F = F2 // 2
    n_starts = L - K + 1                   # K-mer starts in codes
    P = width - K + 1                      # starts of an uncut window
    q = P // step
    r = P - q * step
    slots = q + 1                          # the ring of block results
    neg_inf = table.dtype.type(-np.inf)
    n_ranges = (n_windows + windows_per_range - 1) // windows_per_range
    for rng_i in prange(n_ranges):         # ranges of windows are independent (point 5)
        j0 = rng_i * windows_per_range
        j1 = min(n_windows, j0 + windows_per_range)
        full_best = np.empty((slots, F), dtype=table.dtype)    # block maxima over all starts
        full_key = np.empty((slots, F), dtype=np.int32)
        head_best = np.empty((slots, F), dtype=table.dtype)    # ... over its first r starts
        head_key = np.empty((slots, F), dtype=np.int32)
        longest = step if q >= 1 else r
        digits = np.empty(longest + GROUP * n_groups, dtype=np.int32)
        gc = np.empty(longest + GROUP * n_groups, dtype=np.int32)
        buf = np.empty((PB, F2), dtype=table.dtype)
        best = np.empty(F, dtype=table.dtype)
        key = np.empty(F, dtype=np.int32)
        for i in range(j0, j1 + q):        # block i: starts [a_i, a_i + step)
            a_i = first + i * step
            # block i is whole in windows i - q + 1 .. i and a head in window i - q (point 4):
            # past j1 + q - 2 no window of this range takes it whole
            need = step if (q >= 1 and i < j1 + q - 1) else r
            n = min(need, n_starts - a_i)  # cut at the last K-mer of codes
            s = i % slots
            for f in range(F):
                best[f] = neg_inf
                key[f] = -1
            if n > 0:
                _group_codes(codes, a_i, n, n_groups, digits, gc)
                head = min(r, n)
                _track(table, gc, a_i, a_i, a_i + head, buf, best, key)
                for f in range(F):
                    head_best[s, f] = best[f]
                    head_key[s, f] = key[f]
                _track(table, gc, a_i, a_i + head, a_i + n, buf, best, key)
            else:
                for f in range(F):
                    head_best[s, f] = neg_inf
                    head_key[s, f] = -1
            for f in range(F):
                full_best[s, f] = best[f]
                full_key[s, f] = key[f]
            j = i - q                      # window j's last block is complete
            if j >= j0:
                for f in range(F):
                    best[f] = neg_inf
                    key[f] = -1
                for b in range(j, j + q):  # (F2)-(F3): blocks in position order
                    _take_first_max(best, key, full_best[b % slots], full_key[b % slots])
                if r > 0:
                    _take_first_max(best, key, head_best[(j + q) % slots], head_key[(j + q) % slots])
                for f in range(F):
                    win_max[j, f] = best[f]
                    win_pos[j, f] = key[f] >> 1
                    win_strand[j, f] = key[f] & 1


_forward = SerialOrParallel(_forward_loops, nogil=True)  # motifnet scan calls it from worker threads


def scan_table_into(w, bias, table):
    """Fast group table of [w ; rc(w)], unchecked: writes ``table`` (ceil(K / 3), 125, 2F).

    w (F, 4, K), bias (F,), table: one float dtype, C-contiguous.  Build it once per model
    and pass it to every ``scan_forward_into`` call.
    """
    _table_loops(w, bias, table)


def scan_forward_into(codes, table, kernel_size, width, step, first, win_max, win_pos, win_strand):
    """Fast (F1)-(F3), unchecked: writes ``win_max``, ``win_pos``, ``win_strand`` (J, F).

    codes (L,) int8 in [-1, 3], C-contiguous, L < 2^30; ``table`` from ``scan_table_into``;
    width >= kernel_size, step >= 1, first >= 0, J = win_max.shape[0] >= 1 with
    first + (J - 1) * step + kernel_size <= L.  Threads when the call has enough work
    (``motifnet.kernels._jit.use_parallel``, and its ThreadsGate): a few ranges of windows per thread.
    """
    n_windows = win_max.shape[0]
    n_groups, _, F2 = table.shape
    span = min(codes.shape[0], first + (n_windows - 1) * step + width) - first
    work = max(span, 0) * F2 * n_groups
    wanted = use_parallel(work)
    if wanted and _forward.gate.ready():
        per_range = max(16, -(-n_windows // (4 * numba.get_num_threads())))
        _forward.parallel(codes, table, kernel_size, first, step, width, n_windows, per_range,
                          win_max, win_pos, win_strand)
    else:  # its time counts towards the threaded compilation's payback when it wanted threads
        serial = _forward.gate.timing(_forward.serial) if wanted else _forward.serial
        serial(codes, table, kernel_size, first, step, width, n_windows, n_windows, win_max, win_pos, win_strand)


# ----------------------------------------------------------------------------- 3. checked
def scan_window_count(length: int, width: int, step: int, kernel_size: int, first: int = 0) -> int:
    """Windows a_j = first + j * step, j >= 0, that hold at least one K-mer of ``length`` codes."""
    if length - kernel_size < first:
        return 0
    return (length - kernel_size - first) // step + 1


def _check_codes_1d(codes):
    if not isinstance(codes, np.ndarray) or codes.dtype != np.int8 or codes.ndim != 1:
        got = (f"{codes.dtype} array of shape {codes.shape}" if isinstance(codes, np.ndarray)
               else type(codes).__name__)
        raise TypeError(f"codes must be a 1-D int8 array of base codes (motifnet.data.encode), got {got}")
    if not codes.flags.c_contiguous:
        raise ValueError("codes must be C-contiguous; use np.ascontiguousarray(codes)")
    if codes.size >= MAX_CHUNK:
        raise ValueError(f"codes must be shorter than {MAX_CHUNK} bases (scan a long record in chunks), "
                         f"got {codes.size}")
    if codes.size and (int(codes.min()) < -1 or int(codes.max()) >= ALPHABET_SIZE):
        raise ValueError(f"codes must lie in [-1, {ALPHABET_SIZE}) (A, C, G, T; -1 for N), "
                         f"got values in [{int(codes.min())}, {int(codes.max())}]")


def scan_forward(codes: np.ndarray, w: np.ndarray, bias: np.ndarray, width: int, step: int,
                 first: int = 0, n_windows: int | None = None):
    """Per-window maxima of both strands' filter responses over a long sequence.

    Window j covers ``codes[first + j*step : min(first + j*step + width, L)]``; the results
    are the model's ``GlobalMaxPool(StrandConv1d(window))`` and where each maximum is.

    Parameters
    ----------
    codes : ndarray (L,) int8, C-contiguous: A 0, C 1, G 2, T 3, N -1 (``motifnet.data.encode``)
    w : ndarray (F, 4, K), float32 or float64, C-contiguous: the filters (StrandConv1d's weight)
    bias : ndarray (F,) of ``w``'s dtype
    width : int >= K, the window width W
    step : int >= 1, from one window's start to the next
    first : int >= 0, the first window's start
    n_windows : int, optional; default every window with at least one K-mer in ``codes``
        (``scan_window_count``)

    Returns
    -------
    win_max : ndarray (J, F), ``w``'s dtype: (F2)
    win_pos : ndarray (J, F) int64: start of the K-mer in ``codes`` (F3)
    win_strand : ndarray (J, F) int8: 0 the filter's strand, 1 the reverse complement (F3)
    """
    check_float_array("w", w, ndim=3)
    F, C, K = w.shape
    if C != ALPHABET_SIZE or F < 1 or K < 1:
        raise ValueError(f"w must have shape (F, 4, K) (filters over A, C, G, T), got {w.shape}")
    check_float_array("bias", bias, ndim=1, dtype=w.dtype)
    check_shape("bias", bias, (F,))
    _check_codes_1d(codes)
    width = check_int("width", width, K)
    step = check_int("step", step, 1)
    first = check_int("first", first, 0)
    available = scan_window_count(codes.shape[0], width, step, K, first)
    if n_windows is None:
        n_windows = available
    n_windows = check_int("n_windows", n_windows, 0)
    if n_windows > available:
        raise ValueError(f"n_windows={n_windows} but only {available} windows from first={first} with "
                         f"step={step} hold a K-mer of the {codes.shape[0]} codes (K={K})")
    win_max = np.empty((n_windows, F), dtype=w.dtype)
    win_pos = np.empty((n_windows, F), dtype=np.int64)
    win_strand = np.empty((n_windows, F), dtype=np.int8)
    if n_windows:
        table = np.empty(scan_table_shape(F, K), dtype=w.dtype)
        scan_table_into(w, bias, table)
        scan_forward_into(codes, table, K, width, step, first, win_max, win_pos, win_strand)
    return win_max, win_pos, win_strand
