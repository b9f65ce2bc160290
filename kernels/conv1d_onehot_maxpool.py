"""The one-hot convolution followed by max pooling over tiling windows, as one op.

The CNN models' first two layers, ``Conv1d`` on base codes (``kernels/conv1d_onehot.py``)
and ``MaxPool1d(P)`` (``kernels/maxpool1d.py``, stride P, no padding or dilation), computed
in one pass: the convolution's output is pooled while it is still in L1, and never
written out.  The two ops' files derive everything used here; this file derives only
what the composition adds.  The models use it for training and prediction on codes
(``GenomicsCNN``); the two separate ops remain for everything else (one-hot floats,
DeepLIFT, the filters' activations).

Shape legend
------------
    codes:  (B, L) int8            A0 C1 G2 T3, -1 for N or padding (conv1d_onehot's)
    w:      (C_out, C_in, K)       torch's weight       dw: (C_out, C_in, K)
    bias:   (C_out,)                                    db: (C_out,)
    c:      (B, C_out, L_out)      the convolution's output, never stored
    pooled: (B, C_out, L_pool)     output               d_pooled: (B, C_out, L_pool)
    argmax: (B, C_out, L_pool)     int64, the position t in c that won each window

    s, p, d: the convolution's stride, padding, dilation; L_out = (L + 2p - d(K-1) - 1) // s + 1
    P: the pool's window and stride; L_pool = L_out // P (floor mode: the last L_out - P L_pool
    positions of c belong to no window)

Forward
-------
    c[b,o,t]           = bias[o] + sum_k w[o, codes[b, t*s + k*d - p], k]     conv1d_onehot (F1)
    pooled[b,o,j]      = max_{t in [jP, jP + P)} c[b,o,t]                     maxpool1d (F1)
    argmax[b,o,j]      = the t at which it is taken: the first maximum;       maxpool1d (F2)
                         a NaN wins, the last of several NaNs

Backward, derived
-----------------
The chain rule through the two ops: maxpool1d's (B1) sends d_pooled[b,o,j] to the one
position t = argmax[b,o,j] of c; no window shares a position (stride P = window P), so

    dc[b,o,t] = d_pooled[b,o,j]   if t = argmax[b,o,j] for the j whose window holds t
                0                 otherwise

and conv1d_onehot's (B1)-(B2) sum over the positions of c, of which only the L_pool
argmax positions per (b, o) are nonzero:

    db[o]     += sum_{b,j} d_pooled[b,o,j]                                              (B1)
    dw[o,c,k] += sum_{b,j : codes[b, i] = c} d_pooled[b,o,j],  i = argmax[b,o,j] s + k d - p  (B2)

How the fast loops compute exactly the reference, and why
---------------------------------------------------------
The reference (section 1) is the two ops' reference loops one after the other.  The
fast forward is conv1d_onehot's column loop (each column c[b,:,t] a sum of rows of its
group table, ``group_table``), on blocks of columns that hold whole windows: each block's
windows are pooled with maxpool1d's select (``take = (v > best) | (v != v)``, in
increasing t: the same values, ties and NaNs), across all C_out channels at once, and
only the pooled block (1/P of the columns) is transposed into (B, C_out, L_pool).  The
unfused pair wrote c (4 MB at batch 32, L = 1000), transposed every column, and read c
back to pool it.

The fast backward is (B1)-(B2) as written: one term per window, instead of conv1d_onehot's
pass over every column of a dc that is mostly zeros (which the unfused max-pool backward
first had to zero and scatter into).  Each term adds d_pooled[b,o,j] into the gradient
table rows its window's argmax column read, one per group of taps, as conv1d_onehot's
backward adds whole columns; the gradient table is kept channel-major here
(dtable_o[o, row]), so one channel's terms go into 4 x 125 contiguous values that stay in
L1, and it is transposed once at the end for ``unfold_group_table``, which turns it into
dw.  The sums are the unfused op's, in another order (float rounding only).

The forward is compiled once per pool size P, a constant of its loop (the window's P
columns unrolled, so the max over them vectorises across channels; with P a variable the
window loop ran scalar, 1.08 ms instead of 0.39 ms at L = 1000).  The backward takes P as
an argument: its column loop vectorises across channels either way, and unrolling it made
it slower (0.91-0.93x of the unrolled time at L = 50, 200 and 1000, both in one process,
medians of 40 rounds) and 0.3-0.5 s longer to compile.

Threads split the batch into slices of whole sequences, each with its own buffers and
gradient table (summed afterwards), as in conv1d_onehot.

Layout of this file: 1. the reference loops; 2. the fast loops and their entry points
``conv1d_onehot_maxpool_forward_into`` and ``conv1d_onehot_maxpool_backward_into``; 3. the
checked entry points.
"""

from __future__ import annotations

import numpy as np

from numba import prange

from motifnet.kernels._jit import SerialOrParallel
from motifnet.kernels._validate import check_float_array, check_int, check_shape
from motifnet.kernels.conv1d import check_geometry, conv1d_output_length
from motifnet.kernels.conv1d_onehot import (add_row_sums, check_codes, check_weights,
                                            conv1d_onehot_backward_reference, conv1d_onehot_forward_reference,
                                            group_codes, group_table, kept_part_arrays, plan, rows_into_block,
                                            sum_thread_tables, table_columns, unfold_group_table)
from motifnet.kernels.maxpool1d import maxpool1d_backward_reference, maxpool1d_forward_reference

MAX_POOL = 127  # window offsets are int8

__all__ = [
    "argmax_of", "MAX_POOL",
    "conv1d_onehot_maxpool_output_length",
    "conv1d_onehot_maxpool_forward_reference", "conv1d_onehot_maxpool_backward_reference",
    "conv1d_onehot_maxpool_forward_into", "conv1d_onehot_maxpool_backward_into",
    "conv1d_onehot_maxpool_forward", "conv1d_onehot_maxpool_backward",
]


def conv1d_onehot_maxpool_output_length(L, K, pool, stride=1, padding=0, dilation=1):
    """(L_out, L_pool): the convolution's output length and the number of windows."""
    L_out = conv1d_output_length(L, K, stride, padding, dilation)
    return L_out, L_out // pool


# ----------------------------------------------------------------------------- 1. reference
def conv1d_onehot_maxpool_forward_reference(codes, w, bias, pool, stride=1, padding=0, dilation=1):
    """conv1d_onehot's (F1), then maxpool1d's (F1)-(F2), float64: ``(pooled, argmax)``."""
    c = conv1d_onehot_forward_reference(codes, w, bias, stride, padding, dilation)
    return maxpool1d_forward_reference(c, pool)


def conv1d_onehot_maxpool_backward_reference(d_pooled, codes, argmax, w_shape, pool, stride=1, padding=0,
                                             dilation=1):
    """maxpool1d's (B1), then conv1d_onehot's (B1)-(B2), float64: ``(dw, db)``."""
    L_out, _ = conv1d_onehot_maxpool_output_length(codes.shape[1], w_shape[2], pool, stride, padding, dilation)
    dc = maxpool1d_backward_reference(d_pooled, argmax, L_out)
    return conv1d_onehot_backward_reference(dc, codes, w_shape, stride, padding, dilation)


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above (up to the order of the float sums in the
# backward); the layout differs for the reasons in the module docstring.

_WINDOW_COLUMNS = 64  # columns per block, rounded down to whole windows (at least one)


def _loops_for(P):
    """The forward loops for one pool size P, a compile-time constant (the window's P
    columns are then unrolled, and the loop over channels vectorises).  The backward takes
    the pool size as an argument: its loop over a window's columns vectorises over channels
    either way, and one compilation serves every size."""

    def _forward_loops(codes, w, bias, pooled, offsets, stride, padding, dilation, G, n_pass, n_pc, n_pos,
                       n_parts, pcs, gcs):
        # codes: (B, L) int8  w: (C_out, C_in, K)  bias: (C_out,)
        # pooled: (B, C_out, L_pool) and offsets: (B, L_pool, C_out) int8 written,
        # offsets[b,j,o] = argmax[b,o,j] - j*P.  G, n_pass, n_pc, n_pos: conv1d_onehot.plan's
        # for the L_pool * P columns that windows cover; pcs, gcs: its part_arrays'.
        B = codes.shape[0]
        C_out, C_in, K = w.shape
        L_pool = pooled.shape[2]
        base = C_in + 1
        n_combos = base ** G
        table = group_table(w, G, n_pass)
        step = G * dilation  # from one group's first tap to the next group's
        n_groups = (K + G - 1) // G  # real tap groups (plan's)
        n_win = _WINDOW_COLUMNS // P if _WINDOW_COLUMNS >= P else 1  # windows per block
        for part in prange(n_parts):  # sequences are independent output slices
            pc, gc = pcs[part], gcs[part]
            blk = np.empty((n_win * P, C_out), dtype=w.dtype)  # columns c[b,:,t] of whole windows, t-major
            best = np.empty((n_win, C_out), dtype=w.dtype)     # pooled[b,:,j] of the block's windows
            for b in range(part * B // n_parts, (part + 1) * B // n_parts):
                group_codes(codes, b, pc, gc, padding, G, dilation, base)
                for j0 in range(0, L_pool, n_win):
                    nw = n_win if L_pool - j0 > n_win else L_pool - j0
                    t0 = j0 * P
                    # conv1d_onehot (F1): c[b,:,t] = bias + sum_g table[g, gc[t*s + g*G*d], :]
                    table_columns(table, bias, gc, blk, t0, nw * P, stride, step, n_groups, n_combos)
                    for jj in range(nw):
                        # maxpool1d (F1)-(F2) over window j0 + jj, every channel at once, in
                        # increasing t: the first maximum wins, a NaN takes over
                        tw = jj * P
                        bv = best[jj]
                        ko = offsets[b, j0 + jj]
                        for o in range(C_out):
                            x = blk[tw, o]
                            kk = np.int8(0)
                            for k in range(1, P):  # unrolled: P is a constant
                                v = blk[tw + k, o]
                                take = (v > x) | (v != v)
                                x = v if take else x
                                kk = np.int8(k) if take else kk
                            bv[o] = x
                            ko[o] = kk
                    for o in range(C_out):  # the pooled block into the rows: pooled[b, o, j0 + jj] = best[jj, o]
                        po = pooled[b, o, j0:j0 + nw]
                        for jj in range(nw):
                            po[jj] = best[jj, o]

    # measured serial ns per unit of work (a table-row element: column x channel x group),
    # float32, batch 32, C_out 32, K 12, pool 4, 1 thread: 0.096-0.10 at L = 200 and 1000
    # (0.14 at L = 50)
    return SerialOrParallel(_forward_loops, ns_per_work=0.1)


_loops = {}  # pool size -> its forward, compiled on first use


def _loops_of(P):
    forward = _loops.get(P)
    if forward is None:
        forward = _loops[P] = _loops_for(P)
    return forward


def _backward_loops(d_pooled, codes, offsets, dw, db, pool, stride, padding, dilation, G, n_pc, n_pos, n_parts,
                    pcs, gcs):
    # d_pooled: (B, C_out, L_pool)  offsets: (B, L_pool, C_out)  codes: (B, L)
    # dw: (C_out, C_in, K), db: (C_out,) ADDED to; pcs, gcs: conv1d_onehot's part_arrays'
    # forward: pooled[b,o,j] = c[b,o,j*pool + offsets[b,j,o]],
    #          c[b,o,t] = bias[o] + sum_g table[g, gc[t*s + g*G*d], o]
    B, C_out, L_pool = d_pooled.shape
    C_in, K = dw.shape[1], dw.shape[2]
    base = C_in + 1
    n_combos = base ** G
    n_groups = -(-K // G)
    n_rows = n_groups * n_combos
    zero = d_pooled.dtype.type(0)
    dtables = np.empty((n_parts * n_rows, C_out), dtype=d_pooled.dtype)  # (kernels/_jit.py, "allocation")
    dbs = np.empty((n_parts, C_out), dtype=d_pooled.dtype)
    step = G * dilation
    n_win = _WINDOW_COLUMNS // pool if _WINDOW_COLUMNS >= pool else 1
    for part in prange(n_parts):
        for r in range(part * n_rows, (part + 1) * n_rows):  # this part's zeros, by its thread
            for o in range(C_out):
                dtables[r, o] = zero
        for o in range(C_out):
            dbs[part, o] = zero
        pc, gc = pcs[part], gcs[part]
        blk = np.empty((n_win, C_out), dtype=d_pooled.dtype)  # d_pooled[b,:,j] of a block's windows
        col = np.empty((1, C_out), dtype=d_pooled.dtype)[0]
        r_part = part * n_rows
        for b in range(part * B // n_parts, (part + 1) * B // n_parts):
            group_codes(codes, b, pc, gc, padding, G, dilation, base)
            add_row_sums(d_pooled[b], dbs[part])  # (B1): db[o] += sum_{b,j} d_pooled[b,o,j]
            for j0 in range(0, L_pool, n_win):
                nw = n_win if L_pool - j0 > n_win else L_pool - j0
                rows_into_block(d_pooled[b], j0, nw, blk)  # blk[jj, o] = d_pooled[b, o, j0 + jj]
                for jj in range(nw):
                    g = blk[jj]
                    ko = offsets[b, j0 + jj]
                    for k in range(pool):  # the window's columns
                        # column t of dc: the channels whose window took t
                        for o in range(C_out):
                            col[o] = g[o] if ko[o] == k else zero
                        i = ((j0 + jj) * pool + k) * stride
                        for grp in range(n_groups):  # (B2): dtable[g, gc[t*s + g*G*d], :] += dc[b,:,t]
                            r = dtables[r_part + grp * n_combos + gc[i + grp * step]]
                            for o in range(C_out):
                                r[o] += col[o]
    sum_thread_tables(dtables, dbs, db, n_rows)  # the threads' tables into the first
    unfold_group_table(dtables, dw, G, n_groups)


# measured serial ns per unit of work as the forward's: 0.15 at L = 200 and 1000 (0.2 at L = 50)
_backward = SerialOrParallel(_backward_loops, ns_per_work=0.15)


def conv1d_onehot_maxpool_forward_into(codes, w, bias, pooled, offsets, pool, stride, padding, dilation):
    """Fast forward, unchecked: writes ``pooled`` (B, C_out, L_pool) and ``offsets``
    (B, L_pool, C_out) int8, each window's argmax as its offset in the window:
    ``argmax[b,o,j] = j * pool + offsets[b,j,o]`` (``argmax_of(offsets, pool)``).

    codes (B, L) int8 in [-1, C_in); w, bias, pooled C-contiguous of one float dtype (bias
    zeros for no bias); ints validated, L_pool >= 1, C_in <= 127, pool <= 127.
    """
    B, L = codes.shape
    C_out, C_in, K = w.shape
    L_pool = pooled.shape[2]
    # the columns the windows cover: as if the convolution's output ended at L_pool * pool
    G, n_groups, n_pass, n_pc, n_pos = plan(C_in, K, L, L_pool * pool, stride, padding, dilation)
    kernel, n_threads = _loops_of(pool).choose(B * L_pool * pool * C_out * n_groups)
    n_parts = min(n_threads, B)
    pcs, gcs = kept_part_arrays(n_parts, n_pc, n_pos)
    kernel(codes, w, bias, pooled, offsets, stride, padding, dilation, G, n_pass, n_pc, n_pos, n_parts, pcs, gcs)


def conv1d_onehot_maxpool_backward_into(d_pooled, codes, offsets, dw, db, pool, stride, padding, dilation):
    """Fast (B1)-(B2), unchecked: ADDS into ``dw`` (C_out, C_in, K) and ``db`` (C_out,);
    ``offsets`` is the forward's, values in [0, pool)."""
    B, C_out, L_pool = d_pooled.shape
    C_in, K = dw.shape[1], dw.shape[2]
    G, n_groups, _, n_pc, n_pos = plan(C_in, K, codes.shape[1], L_pool * pool, stride, padding, dilation)
    kernel, n_threads = _backward.choose(B * L_pool * pool * C_out * n_groups)
    n_parts = min(n_threads, B)
    pcs, gcs = kept_part_arrays(n_parts, n_pc, n_pos)
    kernel(d_pooled, codes, offsets, dw, db, pool, stride, padding, dilation, G, n_pc, n_pos, n_parts, pcs, gcs)


def argmax_of(offsets, pool):
    """torch's indices (B, C_out, L_pool) int64 from the forward's ``offsets`` (B, L_pool, C_out)."""
    L_pool = offsets.shape[1]
    return np.ascontiguousarray(offsets.transpose(0, 2, 1), dtype=np.int64) + np.arange(L_pool) * pool


# ----------------------------------------------------------------------------- 3. checked
def _check_pool(pool) -> int:
    pool = check_int("pool", pool, 1)
    if pool > MAX_POOL:
        raise ValueError(f"pool must be at most {MAX_POOL} (offsets are int8), got {pool}")
    return pool


def conv1d_onehot_maxpool_forward(codes: np.ndarray, w: np.ndarray, bias: np.ndarray | None, pool: int,
                                  stride: int = 1, padding: int = 0, dilation: int = 1):
    """``max_pool1d(conv1d(one_hot(codes), w, bias, stride, padding, dilation), pool,
    return_indices=True)`` in torch's terms.

    Parameters
    ----------
    codes : int8 ndarray (B, L), values in [-1, C_in): base codes, -1 for N or padding
    w : ndarray (C_out, C_in, K), float32 or float64, C-contiguous
    bias : ndarray (C_out,) of w's dtype, or None
    pool : int >= 1, the max-pool's window and stride
    stride, padding, dilation : the convolution's, as torch's conv1d

    Returns
    -------
    pooled : ndarray (B, C_out, L_pool), w's dtype, L_pool = L_out // pool
    argmax : int64 ndarray (B, C_out, L_pool), the position in the convolution's output
        of each window's maximum (first maximum on ties; a NaN wins)
    """
    bias = check_weights(w, bias)
    C_out, C_in, K = w.shape
    check_codes(codes, C_in)
    pool = _check_pool(pool)
    stride, padding, dilation, L_out = check_geometry(codes.shape[1], K, stride, padding, dilation)
    L_pool = L_out // pool
    if L_pool < 1:
        raise ValueError(f"sequences of length {codes.shape[1]} give {L_out} convolution positions, "
                         f"fewer than one window of {pool}")
    pooled = np.empty((codes.shape[0], C_out, L_pool), dtype=w.dtype)
    offsets = np.empty((codes.shape[0], L_pool, C_out), dtype=np.int8)
    conv1d_onehot_maxpool_forward_into(codes, w, bias, pooled, offsets, pool, stride, padding, dilation)
    return pooled, argmax_of(offsets, pool)


def conv1d_onehot_maxpool_backward(d_pooled: np.ndarray, codes: np.ndarray, argmax: np.ndarray, w_shape: tuple,
                                   pool: int, stride: int = 1, padding: int = 0, dilation: int = 1):
    """Gradients ``(dw, db)`` of the loss with respect to w and bias, given ``d_pooled``
    (B, C_out, L_pool) and the forward's ``argmax``; ``w_shape`` = (C_out, C_in, K)."""
    C_out, C_in, K = (int(v) for v in w_shape)
    check_float_array("d_pooled", d_pooled, ndim=3)
    check_codes(codes, C_in)
    pool = _check_pool(pool)
    stride, padding, dilation, L_out = check_geometry(codes.shape[1], K, stride, padding, dilation)
    L_pool = L_out // pool
    check_shape("d_pooled", d_pooled, (codes.shape[0], C_out, L_pool))
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64 or argmax.shape != d_pooled.shape:
        raise ValueError(f"argmax must be the forward's int64 array of shape {d_pooled.shape}")
    windows = np.arange(L_pool) * pool
    if argmax.size and (np.any(argmax < windows) or np.any(argmax >= windows + pool)):
        raise ValueError("argmax must hold, for each window j, a position in [j*pool, (j+1)*pool): "
                         "pass the forward's argmax")
    offsets = np.ascontiguousarray((argmax - windows).transpose(0, 2, 1), dtype=np.int8)
    dw = np.zeros((C_out, C_in, K), dtype=d_pooled.dtype)
    db = np.zeros(C_out, dtype=d_pooled.dtype)
    conv1d_onehot_maxpool_backward_into(d_pooled, codes, offsets, dw, db, pool, stride, padding, dilation)
    return dw, db
