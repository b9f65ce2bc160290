"""1-D convolution of one-hot input (DNA) given as base codes, forward and backward.

The same operation as ``kernels/conv1d.py`` (torch's cross-correlation, (N, C, L)
layout), for an input whose every column is one-hot: all zeros (an "N" base, or
padding) or exactly one 1.0.  Such an input is stored as its codes, one int8 per
position, the data pipeline's own encoding of a sequence (motifnet.data.encode):
nothing is scanned or converted here.

Shape legend
------------
    codes: (B, L) int8          codes[b,i] = the channel c with x[b,c,i] = 1 (A0 C1 G2 T3 for
                                DNA), -1 for an all-zero column (N or padding)
    w:     (C_out, C_in, K)     torch's weight      dw: (C_out, C_in, K)
    bias:  (C_out,)                                 db: (C_out,)
    y:     (B, C_out, L_out)    output              dy: (B, C_out, L_out)

    s = stride, p = padding (zeros), d = dilation, L_out = (L + 2 p - d (K - 1) - 1) // s + 1

Forward
-------
conv1d's (F1) with x[b,c,i] = [codes[b,i] == c]: the sum over channels keeps one
term per tap, so every product becomes a look-up (i = t*s + k*d - p; no term where
i lies in the padding or codes[b,i] = -1):

    y[b,o,t] = bias[o] + sum_k w[o, codes[b,i], k]                                   (F1)

Backward, derived
-----------------
From conv1d's (B1)-(B2) with the same x:

    db[o]     += sum_{b,t} dy[b,o,t]                                                  (B1)
    dw[o,c,k] += sum_{b,t} dy[b,o,t] * x[b,c,i] = sum_{b,t : codes[b,i] = c} dy[b,o,t]  (B2)

There is no dx: the codes are data.  (A saliency map needs d loss / d x at the
one-hot point; it runs the dense ``conv1d_backward`` on the one-hot floats.)

How the fast loops compute exactly (F1)-(B2), and why
-----------------------------------------------------
Measured at the primer model's shape (B=32, C_in=4, L=50, C_out=32, K=12, float32,
1 thread, over 47 distinct batches).  Each output column y[b,:,t] is a sum of K
weight columns w[:, c, k]; with the weights transposed to wT[c, k, :] (C_out
contiguous) each is a contiguous vector add.  K such row-adds per column measured
35 us per batch: a 32-float loop is too short for LLVM's 64-float vector loop, so it
runs in 8-wide pieces.  So the taps are taken G at a time (G = 3 for DNA): a
*group table*

    table[g, e, :] = sum_{j < G} wT[digit_j(e), g*G + j, :]      e = sum_j digit_j * (C_in + 1)^j

holds the summed weights of every combination of G bases (C_in + 1 digits: digit
C_in is N or padding and adds nothing), 4 groups x 125 combinations at K = 12.  One
column is then bias + 4 table rows, summed in ONE pass and stored once (7 us per
batch), and the table costs ~1500 row-adds per call, independent of the batch
size.  The backward runs the same groups backwards: dy's columns are
scatter-added into a gradient table dtable[g, e, :], which is afterwards split
back into dw by summing, for every tap j and base c, the rows whose digit j is c
("unfolding").

The forward's table has a multiple of 4 groups: the groups past the last real one
(and the taps past K in the last real one) have zero weight, so every column is the
same code, a pass over 4 rows with the bias and then passes over 4 rows (one pass
at K <= 12; K = 15 reads 8 rows where 5 carry weight).  One loop body instead of
three (4 rows with the bias, 4 rows, 1 row) and the geometry planned in Python
(``plan``) rather than by jitted helpers cut the forward's compilation from 2.5 to
1.5-1.6 s and the backward's from 1.5 to ~1.0 s (an empty Numba cache, the default
``motifnet train``), for +2 us at L = 50 (28 -> 30 us) and 0.77 -> 0.67 ms at
DeepBind's shape (0.62 ms with three bodies).

Columns are computed in a small buffer and then transposed into y[b] (C_out, L_out):
storing each column straight into y with stride L_out measured 30 us against 7 + 7 us
for buffer and transpose.  The buffer holds a block of 64 columns (8 KB at C_out = 32),
not a whole sequence: a sequence's columns (126 KB at L = 1000) left L1 before the
transpose read them back, 32 times over (once per output row).  dy is transposed into
the same block in the backward.  Blocks measured (1 thread, 8 varying batches, minima
of 9 interleaved rounds, load ~1): at L = 1000 forward 0.97 -> 0.65 ms, backward 1.84
-> 1.11 ms; L = 200 0.125 ms either way and backward 0.23 -> 0.20 ms; L = 50 unchanged
(one block); DeepBind's (B=32, L=400, C_out=64, K=15) forward 0.76 -> 0.62 ms,
backward 1.38 -> 0.78 ms.  Blocks of 32 or 128 columns measured the same; a group
size of 2 in the backward (a 19 KB gradient table that fits L1, six rows per column)
was slower: 1.36 ms at L = 1000.  The transpose is scalar (a load and a store per
value: ~0.3 ms at L = 1000): storing the block in 8- or 4-float slabs, which LLVM
transposes with shuffles, cost more in the column loop than it saved.

Threads split the batch into slices of whole sequences, one per thread, each with
its own buffers and, in the backward, its own gradient table (summed afterwards).

Layout of this file: 1. the reference loops (F1)-(B2), plain, float64; 2. the fast
loops and their entry points ``conv1d_onehot_forward_into`` and
``conv1d_onehot_backward_into`` (the one contract of every fast kernel, see
``motifnet.kernels``); 3. the checked entry points.
"""

from __future__ import annotations

import numpy as np

from numba import prange
from numba.extending import register_jitable

from motifnet.kernels._jit import SerialOrParallel, jit, scratch
from motifnet.kernels._validate import check_float_array, check_shape
from motifnet.kernels.conv1d import check_geometry, conv1d_output_length

__all__ = [
    "conv1d_onehot_forward_reference", "conv1d_onehot_backward_reference",
    "conv1d_onehot_forward_into", "conv1d_onehot_backward_into",
    "conv1d_onehot_forward", "conv1d_onehot_backward", "check_codes", "check_weights",
    "plan", "part_arrays", "kept_part_arrays", "group_codes", "group_table", "table_columns", "rows_into_block",
    "add_row_sums", "sum_thread_tables", "unfold_group_table",
]

MAX_CHANNELS = 127  # codes are int8


# ----------------------------------------------------------------------------- 1. reference
def conv1d_onehot_forward_reference(codes, w, bias, stride=1, padding=0, dilation=1):
    """(F1), one output element at a time, in float64: ``y``.  ``bias`` may be None."""
    B, L = codes.shape
    C_out, _, K = w.shape
    L_out = conv1d_output_length(L, K, stride, padding, dilation)
    y = np.zeros((B, C_out, L_out))
    for b in range(B):
        for o in range(C_out):
            for t in range(L_out):
                acc = 0.0 if bias is None else float(bias[o])
                for k in range(K):
                    i = t * stride + k * dilation - padding
                    if 0 <= i < L and codes[b, i] >= 0:  # else: a zero column
                        acc += float(w[o, codes[b, i], k])
                y[b, o, t] = acc
    return y


def conv1d_onehot_backward_reference(dy, codes, w_shape, stride=1, padding=0, dilation=1):
    """(B1)-(B2) in float64: ``(dw, db)``."""
    B, L = codes.shape
    C_out, C_in, K = w_shape
    dw = np.zeros((C_out, C_in, K))
    db = np.zeros(C_out)
    for b in range(B):
        for o in range(C_out):
            for t in range(dy.shape[2]):
                g = float(dy[b, o, t])
                db[o] += g                                       # (B1)
                for k in range(K):
                    i = t * stride + k * dilation - padding
                    if 0 <= i < L and codes[b, i] >= 0:
                        dw[o, codes[b, i], k] += g               # (B2)
    return dw, db


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above (up to the order of the float sums); the
# layout differs for the reasons in the module docstring.

# Columns are computed _BLOCK at a time into a (_BLOCK, C_out) block, which then goes
# into y row by row (module docstring: the block stays in L1, a whole sequence's did not).
_BLOCK = 64


def plan(C_in, K, L, L_out, stride, padding, dilation):
    """(G, n_groups, n_pass, n_pc, n_pos): taps per group, groups, passes of four groups,
    padded-codes length, group-code positions.  The table has 4 n_pass groups; those
    past n_groups (and the taps past K in the last real one) have zero weight."""
    G = 3 if C_in <= 4 else 2 if C_in <= 10 else 1  # the table has (C_in + 1)^G rows per group
    n_groups = -(-K // G)
    n_pass = -(-n_groups // 4)
    n_pos = (L_out - 1) * stride + (4 * n_pass - 1) * G * dilation + 1
    n_pc = max(L + 2 * padding, n_pos + (G - 1) * dilation)
    return G, n_groups, n_pass, n_pc, n_pos


@register_jitable
def part_arrays(n_parts, n_pc, n_pos):
    """(pcs, gcs): each part's (thread's) padded codes (n_pc,) and group codes (n_pos,), the
    int64 work arrays of ``group_codes``, which the loops below take as arguments
    (kernels/_jit.py, "allocation").  A building block of this op and of
    ``kernels/conv1d_onehot_maxpool.py`` and ``kernels/conv1d_onehot_globalmax.py``."""
    return np.empty((n_parts, n_pc), np.int64), np.empty((n_parts, n_pos), np.int64)


def kept_part_arrays(n_parts, n_pc, n_pos):
    """``part_arrays``, made once per shape and thread and kept (``_jit.scratch``): what the
    entry points pass."""
    return scratch(("conv1d_onehot.part_arrays", n_parts, n_pc, n_pos), lambda: part_arrays(n_parts, n_pc, n_pos))


@jit
def group_codes(codes, b, pc, gc, padding, G, dilation, base):
    # pc: (n_pc,) the padded codes of sequence b, N (digit base - 1, which adds nothing)
    # outside it and for codes -1; gc: (n_pos,) gc[i] = sum_{j < G} pc[i + j*d] * base^j,
    # the code of the G bases read by a group of taps whose first tap sits at padded
    # position i: group g of output t reads gc[t*s + g*G*d].  Shifted slices keep the
    # loops contiguous (they vectorise).
    N = base - 1
    L = codes.shape[1]
    row = codes[b]
    for i in range(pc.shape[0]):
        pc[i] = N
    dst = pc[padding:padding + L]
    for i in range(L):
        v = row[i]
        dst[i] = v if v >= 0 else N
    n = gc.shape[0]
    for i in range(n):
        gc[i] = 0
    mult = 1
    for j in range(G):
        src = pc[j * dilation:j * dilation + n]
        for i in range(n):
            gc[i] += src[i] * mult
        mult *= base


@jit
def group_table(w, G, n_pass):
    """The forward's group table (module docstring), (4 n_pass (C_in + 1)^G, C_out):
    table[g * n_combos + e, :] = sum_{j < G} w[:, digit_j(e), g*G + j] (digit C_in and taps
    >= K add 0).  A building block of this op and of ``kernels/conv1d_onehot_maxpool.py``."""
    # w: (C_out, C_in, K).  Built digit by digit: once rows e < base^j hold the sums of the
    # first j taps, row e + base^j digit = row e + wT[digit, k_j] for every digit (digit 0
    # last, in place): base + ... + base^G row writes per group.
    C_out, C_in, K = w.shape
    base = C_in + 1
    n_combos = base ** G
    n_taps = 4 * n_pass * G
    wT = np.empty((base * n_taps, C_out), dtype=w.dtype)  # wT[c * n_taps + k, :] = w[:, c, k]
    for r in range(base * n_taps):  # digit C_in (N) and taps >= K: 0 (kernels/_jit.py, "allocation")
        for o in range(C_out):
            wT[r, o] = 0
    for o in range(C_out):
        for c in range(C_in):
            for k in range(K):
                wT[c * n_taps + k, o] = w[o, c, k]
    table = np.empty((4 * n_pass * n_combos, C_out), dtype=w.dtype)
    for g in range(4 * n_pass):
        r0 = g * n_combos
        for o in range(C_out):  # the sum of no taps
            table[r0, o] = 0
        size = 1  # base^j
        for j in range(G):
            for digit in range(base - 1, -1, -1):
                src = wT[digit * n_taps + g * G + j]
                for e in range(size):
                    lo = table[r0 + e]
                    hi = table[r0 + e + size * digit]
                    for o in range(C_out):
                        hi[o] = lo[o] + src[o]
            size *= base
    return table


@jit
def unfold_group_table(dtable, dw, G, n_groups):
    """(B2) from a gradient table: ADDS into ``dw`` (C_out, C_in, K) the gradient that
    ``dtable`` (n_groups (C_in + 1)^G, C_out; row g * n_combos + e: the sum of dy[b,:,t]
    over the columns whose group g read the bases of code e) holds.  ``dtable`` is used as
    scratch.  A building block of this op and of ``kernels/conv1d_onehot_maxpool.py``."""
    # Back through the table's "row e + base^j digit = row e + wT[digit, k_j]", last digit
    # first: dwT[digit, k_j, :] += the rows with that digit, which are then folded onto row
    # e (their sum over digit j) for the next digit down.  Digit C_in (N) and taps past K
    # collect sums that are discarded.
    C_out, C_in, K = dw.shape
    base = C_in + 1
    n_combos = base ** G
    n_taps = n_groups * G
    dwT = np.empty((base * n_taps, C_out), dtype=dw.dtype)  # dwT[c * n_taps + k, :]
    for r in range(base * n_taps):
        for o in range(C_out):
            dwT[r, o] = 0
    for g in range(n_groups):
        r0 = g * n_combos
        size = n_combos
        for j in range(G - 1, -1, -1):
            size //= base  # base^j
            for digit in range(base):
                dst = dwT[digit * n_taps + g * G + j]
                for e in range(size):
                    hi = dtable[r0 + e + size * digit]
                    for o in range(C_out):
                        dst[o] += hi[o]
                    if digit > 0:
                        lo = dtable[r0 + e]
                        for o in range(C_out):
                            lo[o] += hi[o]
    for o in range(C_out):
        for c in range(C_in):
            for k in range(K):
                dw[o, c, k] += dwT[c * n_taps + k, o]


@jit
def table_columns(table, bias, gc, blk, t0, nt, stride, step, n_groups, n_combos):
    """(F1) for the columns t0 <= t < t0 + nt, t-major into ``blk[:nt]`` (nt, C_out):
    blk[tt, :] = bias + sum_g table[g * n_combos + gc[t*s + g*G*d], :], four table rows per
    pass over the whole passes of ``n_groups`` real groups, then the 1-3 groups left, if
    any (the table's rows past n_groups are zero: leaving them out changes no sum).  A
    building block of this op, ``kernels/conv1d_onehot_maxpool.py`` and
    ``kernels/conv1d_onehot_globalmax.py``."""
    # K = 15 (the deepbind model's): 5 groups, which as two passes of four read 3 zero rows
    # per column.  The groups left are a loop of their own, after the block's whole passes
    # (a branch on their number inside the column loop made K = 12 slower), one row at a
    # time (three loops, one per count, compiled in 0.6 s instead of 0.43 and were no
    # faster at K = 12 or 15).  The fused global-max forward, batch 32 x 300 bp x 64
    # channels, 1 thread, against the four-row passes alternating in one process (median of
    # 25 rounds): 1.47x at K = 15, 1.23x at K = 18, 1.07-1.08x at K = 9, 12 and 21; the same
    # outputs bit for bit.
    C_out = blk.shape[1]
    # whole passes; fewer than four groups (K <= 9 for DNA) take one, zero rows included
    # (a pass for the bias and one for the groups cost more: 0.93x at K = 9)
    n_full = n_groups // 4 if n_groups >= 4 else 1
    for tt in range(nt):
        i = (t0 + tt) * stride
        acc = blk[tt]
        r0, r1 = table[gc[i]], table[n_combos + gc[i + step]]
        r2, r3 = table[2 * n_combos + gc[i + 2 * step]], table[3 * n_combos + gc[i + 3 * step]]
        for o in range(C_out):  # the bias and the first four rows in one pass
            acc[o] = bias[o] + ((r0[o] + r1[o]) + (r2[o] + r3[o]))
        for p in range(1, n_full):
            q = i + 4 * p * step
            r = 4 * p * n_combos
            r0, r1 = table[r + gc[q]], table[r + n_combos + gc[q + step]]
            r2, r3 = table[r + 2 * n_combos + gc[q + 2 * step]], table[r + 3 * n_combos + gc[q + 3 * step]]
            for o in range(C_out):
                acc[o] += (r0[o] + r1[o]) + (r2[o] + r3[o])
    left = n_groups - 4 * n_full if n_groups >= 4 else 0
    r = 4 * n_full * n_combos
    shift = 4 * n_full * step
    for tt in range(nt if left > 0 else 0):
        q = (t0 + tt) * stride + shift
        acc = blk[tt]
        for j in range(left):
            row = table[r + j * n_combos + gc[q + j * step]]
            for o in range(C_out):
                acc[o] += row[o]


@jit
def sum_thread_tables(dtables, dbs, db, n_rows):
    """The threads' gradient tables, ``dtables`` (n_parts n_rows, C_out), summed into its
    first n_rows rows, and their bias gradients ``dbs`` (n_parts, C_out) ADDED into ``db``.
    A building block of this op and of ``kernels/conv1d_onehot_maxpool.py``."""
    n_parts, C_out = dbs.shape
    for r in range(n_rows):
        dst = dtables[r]
        for part in range(1, n_parts):
            src = dtables[part * n_rows + r]
            for o in range(C_out):
                dst[o] += src[o]
    for part in range(n_parts):
        for o in range(C_out):
            db[o] += dbs[part, o]


@jit
def add_row_sums(x_b, out):
    """(B1) for one sequence: out[o] += sum_t x_b[o, t], x_b (C_out, n).  A building block
    of this op and of ``kernels/conv1d_onehot_maxpool.py``."""
    zero = x_b.dtype.type(0)
    for o in range(x_b.shape[0]):
        row = x_b[o]
        acc = zero
        for t in range(row.shape[0]):
            acc += row[t]
        out[o] += acc


@jit
def rows_into_block(x_b, t0, n, blk):
    """blk[tt, o] = x_b[o, t0 + tt] for tt < n: n columns of x_b (C_out, L), t-major.  A
    building block of this op and of ``kernels/conv1d_onehot_maxpool.py``."""
    for o in range(x_b.shape[0]):
        src = x_b[o, t0:t0 + n]
        for tt in range(n):
            blk[tt, o] = src[tt]


def _forward_loops(codes, w, bias, y, stride, padding, dilation, G, n_pass, n_pc, n_pos, n_parts, pcs, gcs):
    # codes: (B, L) int8  w: (C_out, C_in, K)  bias: (C_out,)  y: (B, C_out, L_out) written
    # G, n_pass, n_pc, n_pos: plan's.  The batch is split into n_parts slices of
    # sequences (one per thread), each slice with its own buffers (pcs[part], gcs[part]:
    # part_arrays').
    B = codes.shape[0]
    C_out, C_in, K = w.shape
    L_out = y.shape[2]
    base = C_in + 1
    n_combos = base ** G
    table = group_table(w, G, n_pass)
    n_groups = (K + G - 1) // G  # real tap groups (plan's)
    step = G * dilation  # from one group's first tap to the next group's
    for part in prange(n_parts):  # sequences are independent output slices
        pc, gc = pcs[part], gcs[part]
        blk = np.empty((_BLOCK, C_out), dtype=w.dtype)  # _BLOCK columns y[b,:,t], t-major
        for b in range(part * B // n_parts, (part + 1) * B // n_parts):
            group_codes(codes, b, pc, gc, padding, G, dilation, base)
            for t0 in range(0, L_out, _BLOCK):
                nt = _BLOCK if L_out - t0 > _BLOCK else L_out - t0
                # (F1): y[b,:,t] = bias + sum_g table[g, gc[t*s + g*G*d], :]
                table_columns(table, bias, gc, blk, t0, nt, stride, step, n_groups, n_combos)
                for o in range(C_out):  # the block into y's rows: y[b, o, t0 + tt] = blk[tt, o]
                    yo = y[b, o, t0:t0 + nt]
                    for tt in range(nt):
                        yo[tt] = blk[tt, o]


def _backward_loops(dy, codes, dw, db, stride, padding, dilation, G, n_pass, n_pc, n_pos, n_parts, pcs, gcs):
    # dy: (B, C_out, L_out)  codes: (B, L)  dw: (C_out, C_in, K) and db: (C_out,) ADDED to
    # G, n_pass, n_pc, n_pos: plan's.  The batch is split into n_parts slices (one per
    # thread), each with its own gradient table and bias gradient, summed afterwards.
    B, C_out, L_out = dy.shape
    C_in, K = dw.shape[1], dw.shape[2]
    base = C_in + 1
    n_combos = base ** G
    n_groups = -(-K // G)
    n_rows = n_groups * n_combos
    dtables = np.empty((n_parts * n_rows, C_out), dtype=dy.dtype)
    dbs = np.empty((n_parts, C_out), dtype=dy.dtype)
    step = G * dilation
    for part in prange(n_parts):
        for r in range(part * n_rows, (part + 1) * n_rows):  # this part's zeros, by its thread
            for o in range(C_out):
                dtables[r, o] = 0
        for o in range(C_out):
            dbs[part, o] = 0
        pc, gc = pcs[part], gcs[part]
        blk = np.empty((_BLOCK, C_out), dtype=dy.dtype)  # _BLOCK columns dy[b,:,t], t-major
        r_part = part * n_rows
        for b in range(part * B // n_parts, (part + 1) * B // n_parts):
            group_codes(codes, b, pc, gc, padding, G, dilation, base)
            add_row_sums(dy[b], dbs[part])  # (B1): db[o] += sum_{b,t} dy[b,o,t]
            for t0 in range(0, L_out, _BLOCK):
                nt = _BLOCK if L_out - t0 > _BLOCK else L_out - t0
                rows_into_block(dy[b], t0, nt, blk)  # blk[tt, o] = dy[b, o, t0 + tt]
                # (B2), first for the table rows the forward read: dtable[g, gc[t*s + g*G*d], :] += dy[b,:,t]
                for tt in range(nt):
                    col = blk[tt]
                    i = (t0 + tt) * stride
                    for g in range(n_groups):
                        r = dtables[r_part + g * n_combos + gc[i + g * step]]
                        for o in range(C_out):
                            r[o] += col[o]
    sum_thread_tables(dtables, dbs, db, n_rows)  # the threads' tables into the first
    unfold_group_table(dtables, dw, G, n_groups)


_forward = SerialOrParallel(_forward_loops, ns_per_work=0.16)
_backward = SerialOrParallel(_backward_loops, ns_per_work=0.27)


def _work(B, L_out, C_out, n_groups):
    # inner-loop operations of a call: one row add of C_out per group and column
    return B * L_out * C_out * n_groups


def conv1d_onehot_forward_into(codes, w, bias, y, stride, padding, dilation):
    """Fast (F1), unchecked: writes ``y`` (B, C_out, L_out).

    codes (B, L) int8 in [-1, C_in); w, bias, y C-contiguous of one float dtype (bias
    zeros for no bias); ints validated, L_out >= 1, C_in <= 127.  Threads over the
    sequences when the call is large enough (``_jit.use_parallel``).
    """
    B, L = codes.shape
    C_out, C_in, K = w.shape
    L_out = y.shape[2]
    G, n_groups, n_pass, n_pc, n_pos = plan(C_in, K, L, L_out, stride, padding, dilation)
    kernel, n_threads = _forward.choose(_work(B, L_out, C_out, n_groups))
    n_parts = min(n_threads, B)
    pcs, gcs = kept_part_arrays(n_parts, n_pc, n_pos)
    kernel(codes, w, bias, y, stride, padding, dilation, G, n_pass, n_pc, n_pos, n_parts, pcs, gcs)


def conv1d_onehot_backward_into(dy, codes, dw, db, stride, padding, dilation):
    """Fast (B1)-(B2), unchecked: ADDS into ``dw`` (C_out, C_in, K) and ``db`` (C_out,)."""
    B, C_out, L_out = dy.shape
    C_in, K = dw.shape[1], dw.shape[2]
    G, n_groups, n_pass, n_pc, n_pos = plan(C_in, K, codes.shape[1], L_out, stride, padding, dilation)
    kernel, n_threads = _backward.choose(_work(B, L_out, C_out, n_groups))
    n_parts = min(n_threads, B)
    pcs, gcs = kept_part_arrays(n_parts, n_pc, n_pos)
    kernel(dy, codes, dw, db, stride, padding, dilation, G, n_pass, n_pc, n_pos, n_parts, pcs, gcs)


# ----------------------------------------------------------------------------- 3. checked
def check_codes(codes, C_in, name="codes"):
    """Check ``codes`` is a C-contiguous (B, L) int8 array of values in [-1, C_in)."""
    if not isinstance(codes, np.ndarray) or codes.dtype != np.int8 or codes.ndim != 2:
        got = (f"{codes.dtype} array of shape {codes.shape}" if isinstance(codes, np.ndarray)
               else type(codes).__name__)
        raise TypeError(f"{name} must be a (B, L) int8 array of base codes (motifnet.data.encode), got {got}")
    if not codes.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; use np.ascontiguousarray({name})")
    if 0 in codes.shape:
        raise ValueError(f"{name} must not have empty dimensions, got shape {codes.shape}")
    lo, hi = int(codes.min()), int(codes.max())
    if lo < -1 or hi >= C_in:
        raise ValueError(f"{name} must lie in [-1, {C_in}) for C_in = {C_in} (-1 is N), "
                         f"got values in [{lo}, {hi}]")


def check_weights(w, bias):
    """Check the weight (C_out, C_in, K), C_in <= 127, and the bias (C_out,) or None of the
    one-hot convolution; return the bias, zeros for None."""
    check_float_array("w", w, ndim=3)
    if 0 in w.shape:
        raise ValueError(f"w must not have empty dimensions, got shape {w.shape}")
    _check_channels(w.shape[1])
    if bias is None:
        return np.zeros(w.shape[0], dtype=w.dtype)
    check_float_array("bias", bias, ndim=1, dtype=w.dtype)
    check_shape("bias", bias, (w.shape[0],))
    return bias


def _check_channels(C_in):
    if C_in > MAX_CHANNELS:
        raise ValueError(f"the one-hot convolution takes at most {MAX_CHANNELS} input channels "
                         f"(codes are int8), got {C_in}; use motifnet.kernels.conv1d")


def conv1d_onehot_forward(codes: np.ndarray, w: np.ndarray, bias: np.ndarray | None,
                          stride: int = 1, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """1-D convolution of the one-hot input whose base codes are ``codes``.

    Equal (up to the order of the float sums) to
    ``torch.nn.functional.conv1d(one_hot(codes), w, bias, stride, padding, dilation)``.

    Parameters
    ----------
    codes : ndarray (B, L) int8, C-contiguous: the channel of each position's 1, -1 for an
        all-zero column (an N base, or padding)
    w : ndarray (C_out, C_in, K), float32 or float64, C-contiguous, C_in <= 127
    bias : ndarray (C_out,) of ``w``'s dtype, or None for no bias
    stride, padding, dilation : as ``motifnet.kernels.conv1d.conv1d_forward``

    Returns
    -------
    y : ndarray (B, C_out, L_out) of ``w``'s dtype
    """
    bias = check_weights(w, bias)
    check_codes(codes, w.shape[1])
    stride, padding, dilation, L_out = check_geometry(codes.shape[1], w.shape[2], stride, padding, dilation)
    y = np.empty((codes.shape[0], w.shape[0], L_out), dtype=w.dtype)
    conv1d_onehot_forward_into(codes, w, bias, y, stride, padding, dilation)
    return y


def conv1d_onehot_backward(dy: np.ndarray, codes: np.ndarray, w_shape: tuple,
                           stride: int = 1, padding: int = 0, dilation: int = 1):
    """Gradients of ``conv1d_onehot_forward`` with respect to w and bias (no dx: codes are data).

    Parameters
    ----------
    dy : ndarray (B, C_out, L_out), float32 or float64, gradient of the loss with respect to y
    codes : the forward's codes
    w_shape : (C_out, C_in, K), the weight's shape (e.g. ``w.shape``)
    stride, padding, dilation : the forward's arguments

    Returns
    -------
    dw : ndarray (C_out, C_in, K), ``dy``'s dtype
    db : ndarray (C_out,)
    """
    check_float_array("dy", dy, ndim=3)
    if len(w_shape) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                                for v in w_shape):
        raise ValueError(f"w_shape must be (C_out, C_in, K) of positive ints, got {w_shape!r}")
    C_out, C_in, K = (int(v) for v in w_shape)
    _check_channels(C_in)
    check_codes(codes, C_in)
    B, L = codes.shape
    stride, padding, dilation, L_out = check_geometry(L, K, stride, padding, dilation)
    check_shape("dy", dy, (B, C_out, L_out))
    dw = np.zeros((C_out, C_in, K), dtype=dy.dtype)
    db = np.zeros(C_out, dtype=dy.dtype)
    conv1d_onehot_backward_into(dy, codes, dw, db, stride, padding, dilation)
    return dw, db
