"""1-D convolution (torch's cross-correlation), forward and backward, (N, C, L) layout.

Shape legend
------------
    x:  (B, C_in, L)        input               dx: (B, C_in, L)
    w:  (C_out, C_in, K)    torch's weight      dw: (C_out, C_in, K)
    b:  (C_out,)            bias                db: (C_out,)
    y:  (B, C_out, L_out)   output              dy: (B, C_out, L_out)

    s = stride, p = padding (zeros), d = dilation, span = d (K - 1) + 1
    L_out = (L + 2 p - span) // s + 1

Forward
-------
    y[b,o,t] = bias[o] + sum_{c,k} w[o,c,k] * x[b,c,t*s + k*d - p]                    (F1)

(a term whose x index t*s + k*d - p falls in the padding, outside [0, L), is zero).

Backward, derived
-----------------
L is the loss and dy[b,o,t] = dL/dy[b,o,t] is given.  Every parameter and input
element reaches the loss only through the outputs y that contain it, so

    dL/dz = sum over the outputs y[b,o,t] containing z of  dy[b,o,t] * dy[b,o,t]/dz.

bias[o] appears once, with coefficient 1, in every output of channel o:

    db[o] += sum_{b,t} dy[b,o,t]                                                        (B1)

w[o,c,k] appears once in every output of channel o, with coefficient
x[b,c,t*s + k*d - p]:

    dw[o,c,k] += sum_{b,t} dy[b,o,t] * x[b,c,t*s + k*d - p]                             (B2)

x[b,c,i] appears in output (b,o,t) once for every tap k with t*s + k*d - p = i,
with coefficient w[o,c,k]:

    dx[b,c,i] += sum_{o,k,t : t*s + k*d - p = i} dy[b,o,t] * w[o,c,k]                   (B3)

(B3) is a convolution of dy with the flipped w ("transposed convolution"); with
stride s, dy is first spread out with s - 1 zeros between its values.  All three
are sums of products, so they are added (+=) into the caller's buffers: a layer
used twice, or a model whose branches meet, gets the sum of its gradients.

How the fast loops compute exactly (F1)-(B3), and why the layout is the speed
------------------------------------------------------------------------------
The reference loops below put t innermost, a row of only L_out values (39 in the
seed model): too short for 16-wide AVX-512 vectors, and the loop overhead and
remainder dominate.  So the kernels first lay a block of whole sequences end to
end, zero padding included, in one long row per channel (the "concatenated"
layout; sequence b of the block starts at position (b - b0) * Lp, Lp = L + 2p):

    xcat[c, (b - b0) * Lp + p + i] = x[b, c, i]          (zeros in the padding)

Then every term of every sum is a *shifted contiguous slice* of such a row, and
each sum is one long vectorisable loop over the positions j of the block:

    ycat[o, j] = bias[o] + sum_{c,k} w[o,c,k] * xcat[c, j + k*d]   (an "axpy")
    y[b,o,t]   = ycat[o, (b - b0) * Lp + t*s]

A few positions per sequence (those whose window runs into the next sequence,
and, for s > 1, those between strides) are computed and thrown away: at L=50,
K=12 that is 22% waste, far cheaper than short loops.  No im2col matrix is
built.  Each innermost loop updates two output rows (o and o+1) with four taps
k at once: 4 loads of x feed 8 multiply-adds, and each output row is loaded
and stored once per 4 taps (measured at the seed shape: 1 row x 4 taps 53 us,
2 rows x 4 taps 29 us, 4 rows x 4 taps 36 us, register pressure).

The backward uses the same rows, with dy zero-stuffed into a concatenated row
(dycat[o, (b - b0) * Lp + t*s] = dy[b,o,t], zero elsewhere and in a front halo
of span - 1 zeros), so stride and sequence boundaries need no special cases:

    dw[o,c,k]  = sum_j dycat[o, j] * xcat[c, j + k*d]        (B2 as dot products)
    dxcat[c,m] = sum_{o,k} w[o,c,k] * dycat[o, m - k*d]      (B3 as axpys again)

Blocks of _BLOCK_POSITIONS positions keep one block's rows in L1 for large
inputs, and are the unit of thread parallelism (independent slices of y and dx;
dw and db get one private buffer per thread, summed serially afterwards).

Layout of this file: 1. the reference loops (F1)-(B3), plain, float64;
2. the fast loops and their entry points ``conv1d_forward_into`` and
``conv1d_backward_into`` (the one contract of every fast kernel, see
``motifnet.kernels``); 3. the checked entry points ``conv1d_forward`` and
``conv1d_backward``.
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np
from numba import prange

from motifnet.kernels._jit import ThreadsGate, jit, jit_parallel, use_parallel
from motifnet.kernels._validate import check_float_array, check_int, check_shape

__all__ = [
    "conv1d_output_length",
    "conv1d_forward_reference", "conv1d_backward_reference",
    "conv1d_forward_into", "conv1d_backward_into",
    "conv1d_forward", "conv1d_backward",
]


def conv1d_output_length(L, K, stride=1, padding=0, dilation=1):
    """L_out = (L + 2 p - d (K - 1) - 1) // s + 1: the one place this formula is written."""
    return (L + 2 * padding - dilation * (K - 1) - 1) // stride + 1


# ----------------------------------------------------------------------------- 1. reference
def conv1d_forward_reference(x, w, bias, stride=1, padding=0, dilation=1):
    """(F1), one output element at a time, in float64: ``y``.  ``bias`` may be None."""
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = conv1d_output_length(L, K, stride, padding, dilation)
    y = np.zeros((B, C_out, L_out))
    for b in range(B):
        for o in range(C_out):
            for t in range(L_out):
                acc = 0.0 if bias is None else float(bias[o])
                for c in range(C_in):
                    for k in range(K):
                        i = t * stride + k * dilation - padding
                        if 0 <= i < L:  # else: the padding's zero
                            acc += float(w[o, c, k]) * float(x[b, c, i])
                y[b, o, t] = acc
    return y


def conv1d_backward_reference(dy, x, w, stride=1, padding=0, dilation=1):
    """(B1)-(B3) in float64: ``(dx, dw, db)``, visiting every term of (F1) once."""
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = dy.shape[2]
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(C_out)
    for b in range(B):
        for o in range(C_out):
            for t in range(L_out):
                g = float(dy[b, o, t])
                db[o] += g                                          # (B1)
                for c in range(C_in):
                    for k in range(K):
                        i = t * stride + k * dilation - padding
                        if 0 <= i < L:
                            dw[o, c, k] += g * float(x[b, c, i])    # (B2)
                            dx[b, c, i] += g * float(w[o, c, k])    # (B3)
    return dx, dw, db


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above (up to the order of the float sums); the
# layout differs for the reasons in the module docstring.
# Positions per block: whole sequences are packed until a block holds about this many
# positions (at least one sequence).  At C_in = 4 a block's input rows (33 KB in float32)
# and the two output rows being computed (16 KB) about fill the 48 KB L1 cache while all
# C_out rows are computed; 1000 to 16384 measured the same or slower at L = 1000.
_BLOCK_POSITIONS = 2048


def _seqs_per_block(L, padding):
    return max(1, _BLOCK_POSITIONS // (L + 2 * padding))


# Moving data between the (B, C, L) arrays and one concatenated row.  The loops run over
# slices, not over an index like start + i*step: Numba adds a negative-index check to a
# computed index, which stops LLVM vectorising (14x slower on the inner loops), and a
# slice assignment (row[a:b] = ...) goes through slower generic code.  One call handles
# all sequences of a block (a call between Numba functions costs ~10 ns, not inlined).

@jit
def _to_row(row, a, ch, b0, b1, Lp, offset, step):
    # row[(b - b0) * Lp + offset + i*step] = a[b, ch, i]   for b in [b0, b1), every i
    n = a.shape[2]
    for b in range(b0, b1):
        src = a[b, ch]
        start = (b - b0) * Lp + offset
        if step == 1:  # contiguous: vectorised
            dst = row[start:start + n]
            for i in range(n):
                dst[i] = src[i]
        else:
            dst = row[start:start + (n - 1) * step + 1:step]
            for i in range(n):
                dst[i] = src[i]


@jit
def _from_row(a, ch, b0, b1, row, Lp, offset, step):
    # a[b, ch, i] = row[(b - b0) * Lp + offset + i*step]   for b in [b0, b1), every i
    n = a.shape[2]
    for b in range(b0, b1):
        dst = a[b, ch]
        start = (b - b0) * Lp + offset
        if step == 1:
            src = row[start:start + n]
            for i in range(n):
                dst[i] = src[i]
        else:
            src = row[start:start + (n - 1) * step + 1:step]
            for i in range(n):
                dst[i] = src[i]


@jit
def _add_from_row(a, ch, b0, b1, row, Lp, offset):
    # a[b, ch, i] += row[(b - b0) * Lp + offset + i]   for b in [b0, b1), every i
    n = a.shape[2]
    for b in range(b0, b1):
        dst = a[b, ch]
        src = row[(b - b0) * Lp + offset:(b - b0) * Lp + offset + n]
        for i in range(n):
            dst[i] += src[i]


@jit
def _forward_blocks(x, w, bias, y, stride, padding, dilation, seqs_per_block, blk_begin, blk_end):
    # x: (B, C_in, L)  w: (C_out, C_in, K)  bias: (C_out,)  y: (B, C_out, L_out), written
    # for the sequences of blocks [blk_begin, blk_end).
    # (F1): y[b,o,t] = bias[o] + sum_{c,k} w[o,c,k] * x[b,c,t*s + k*d - p]
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    Lp = L + 2 * padding
    n_max = seqs_per_block * Lp
    # xcat rows run span - 1 past the block so the last positions' windows stay in bounds;
    # those tail values only feed discarded positions.
    xcat = np.zeros((C_in, n_max + dilation * (K - 1)), dtype=x.dtype)
    ycat = np.empty((2, n_max), dtype=x.dtype)  # two output rows, o and o1, reused for every pair
    for blk in range(blk_begin, blk_end):
        b0 = blk * seqs_per_block
        b1 = min(B, b0 + seqs_per_block)
        n = (b1 - b0) * Lp
        for c in range(C_in):  # (the padding positions stay zero from np.zeros)
            _to_row(xcat[c], x, c, b0, b1, Lp, padding, 1)
        # Output rows in pairs: each load of an x slice feeds both rows (8 FMAs per 4 x
        # loads + 2 y loads + 2 y stores).  With an odd C_out the last pair is (o, o) and
        # its second row is computed but not stored.
        for o in range(0, C_out, 2):
            o1 = min(o + 1, C_out - 1)
            ya = ycat[0, :n]
            yb = ycat[1, :n]
            ya[:] = bias[o]
            yb[:] = bias[o1]
            for c in range(C_in):
                xr = xcat[c]
                k = 0
                while k + 4 <= K:  # four taps per pass
                    a0, a1, a2, a3 = w[o, c, k], w[o, c, k + 1], w[o, c, k + 2], w[o, c, k + 3]
                    b0_, b1_, b2_, b3_ = w[o1, c, k], w[o1, c, k + 1], w[o1, c, k + 2], w[o1, c, k + 3]
                    x0 = xr[k * dilation:k * dilation + n]  # tap k's shifted slice
                    x1 = xr[(k + 1) * dilation:(k + 1) * dilation + n]
                    x2 = xr[(k + 2) * dilation:(k + 2) * dilation + n]
                    x3 = xr[(k + 3) * dilation:(k + 3) * dilation + n]
                    # (slices, not xr[j + k*d]: Numba's negative-index check on a computed
                    # index blocks vectorisation, 14x slower here)
                    for j in range(n):
                        # load each x once into a local: after the store to ya[j] LLVM
                        # would otherwise reload x (it cannot rule out aliasing)
                        v0, v1, v2, v3 = x0[j], x1[j], x2[j], x3[j]
                        ya[j] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
                        yb[j] += b0_ * v0 + b1_ * v1 + b2_ * v2 + b3_ * v3
                    k += 4
                while k < K:  # the last K % 4 taps
                    a0 = w[o, c, k]
                    b0_ = w[o1, c, k]
                    x0 = xr[k * dilation:k * dilation + n]
                    for j in range(n):
                        v0 = x0[j]
                        ya[j] += a0 * v0
                        yb[j] += b0_ * v0
                    k += 1
            _from_row(y, o, b0, b1, ya, Lp, 0, stride)  # keep the real output positions
            if o1 != o:
                _from_row(y, o1, b0, b1, yb, Lp, 0, stride)


@jit
def _backward_blocks(dy, x, w, dx, dw, db, stride, padding, dilation, seqs_per_block,
                     blk_begin, blk_end, need_dx):
    # dy: (B, C_out, L_out)  x: (B, C_in, L)  w: (C_out, C_in, K)
    # dx: (B, C_in, L) (if need_dx), dw: (C_out, C_in, K) and db: (C_out,) are ADDED to.
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    Lp = L + 2 * padding
    halo = dilation * (K - 1)  # span - 1
    n_max = seqs_per_block * Lp
    zero = x.dtype.type(0)
    xcat = np.zeros((C_in, n_max + halo), dtype=x.dtype)
    # dycat[o, halo + j]: dy zero-stuffed at the output positions j = (b - b0) * Lp + t*s,
    # with halo leading zeros so dx's reads at j - k*d never go below 0.
    dycat = np.zeros((C_out, halo + n_max), dtype=x.dtype)
    dxcat = np.empty((2, n_max), dtype=x.dtype)  # two dx rows, c and c1
    for blk in range(blk_begin, blk_end):
        b0 = blk * seqs_per_block
        b1 = min(B, b0 + seqs_per_block)
        n = (b1 - b0) * Lp
        for c in range(C_in):
            _to_row(xcat[c], x, c, b0, b1, Lp, padding, 1)
        for o in range(C_out):  # dy zero-stuffed: zeros between strides stay zero
            _to_row(dycat[o], dy, o, b0, b1, Lp, halo, stride)

        # (B1), inverting F1's "+ bias[o]": db[o] += sum_{b,t} dy[b,o,t]
        for o in range(C_out):
            g = dycat[o, halo:halo + n]
            acc = zero
            for j in range(n):
                acc += g[j]
            db[o] += acc

        # (B2), inverting F1's term "w[o,c,k] * x[b,c,t*s + k*d - p]" for w:
        # dw[o,c,k] += sum_j dycat[o, j] * xcat[c, j + k*d]: dot products, two rows o, o1
        # of dy and four taps per pass (6 loads per 8 FMAs); an odd C_out's last pair is
        # (o, o) and its second set of sums is dropped.
        for o in range(0, C_out, 2):
            o1 = min(o + 1, C_out - 1)
            ga = dycat[o, halo:halo + n]
            gb = dycat[o1, halo:halo + n]
            for c in range(C_in):
                xr = xcat[c]
                k = 0
                while k + 4 <= K:
                    x0 = xr[k * dilation:k * dilation + n]
                    x1 = xr[(k + 1) * dilation:(k + 1) * dilation + n]
                    x2 = xr[(k + 2) * dilation:(k + 2) * dilation + n]
                    x3 = xr[(k + 3) * dilation:(k + 3) * dilation + n]
                    a0 = zero
                    a1 = zero
                    a2 = zero
                    a3 = zero
                    e0 = zero
                    e1 = zero
                    e2 = zero
                    e3 = zero
                    for j in range(n):
                        a0 += ga[j] * x0[j]
                        a1 += ga[j] * x1[j]
                        a2 += ga[j] * x2[j]
                        a3 += ga[j] * x3[j]
                        e0 += gb[j] * x0[j]
                        e1 += gb[j] * x1[j]
                        e2 += gb[j] * x2[j]
                        e3 += gb[j] * x3[j]
                    dw[o, c, k] += a0
                    dw[o, c, k + 1] += a1
                    dw[o, c, k + 2] += a2
                    dw[o, c, k + 3] += a3
                    if o1 != o:
                        dw[o1, c, k] += e0
                        dw[o1, c, k + 1] += e1
                        dw[o1, c, k + 2] += e2
                        dw[o1, c, k + 3] += e3
                    k += 4
                while k < K:
                    x0 = xr[k * dilation:k * dilation + n]
                    a0 = zero
                    e0 = zero
                    for j in range(n):
                        a0 += ga[j] * x0[j]
                        e0 += gb[j] * x0[j]
                    dw[o, c, k] += a0
                    if o1 != o:
                        dw[o1, c, k] += e0
                    k += 1

        if need_dx:
            # (B3), the same term for x: dxcat[c, m] = sum_{o,k} w[o,c,k] * dycat[o, m - k*d],
            # two input rows c, c1 per pass sharing the dy slices (c1 = c for an odd C_in's last)
            for c in range(0, C_in, 2):
                c1 = min(c + 1, C_in - 1)
                da = dxcat[0, :n]
                db_ = dxcat[1, :n]
                da[:] = zero
                db_[:] = zero
                for o in range(C_out):
                    gr = dycat[o]  # gr[halo + j] = dycat[o, j], so tap k reads gr[halo - k*d + m]
                    k = 0
                    while k + 4 <= K:
                        a0, a1, a2, a3 = w[o, c, k], w[o, c, k + 1], w[o, c, k + 2], w[o, c, k + 3]
                        e0, e1, e2, e3 = w[o, c1, k], w[o, c1, k + 1], w[o, c1, k + 2], w[o, c1, k + 3]
                        g0 = gr[halo - k * dilation:halo - k * dilation + n]
                        g1 = gr[halo - (k + 1) * dilation:halo - (k + 1) * dilation + n]
                        g2 = gr[halo - (k + 2) * dilation:halo - (k + 2) * dilation + n]
                        g3 = gr[halo - (k + 3) * dilation:halo - (k + 3) * dilation + n]
                        for m in range(n):
                            v0, v1, v2, v3 = g0[m], g1[m], g2[m], g3[m]  # loaded once, see forward
                            da[m] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3
                            db_[m] += e0 * v0 + e1 * v1 + e2 * v2 + e3 * v3
                        k += 4
                    while k < K:
                        a0 = w[o, c, k]
                        e0 = w[o, c1, k]
                        g0 = gr[halo - k * dilation:halo - k * dilation + n]
                        for m in range(n):
                            v0 = g0[m]
                            da[m] += a0 * v0
                            db_[m] += e0 * v0
                        k += 1
                _add_from_row(dx, c, b0, b1, da, Lp, padding)  # drop the padding positions
                if c1 != c:
                    _add_from_row(dx, c1, b0, b1, db_, Lp, padding)


@jit_parallel
def _forward_parallel(x, w, bias, y, stride, padding, dilation, seqs_per_block, n_chunks):
    # each chunk of blocks writes its own sequences of y: independent output slices
    n_blocks = (x.shape[0] + seqs_per_block - 1) // seqs_per_block
    for chunk in prange(n_chunks):
        _forward_blocks(x, w, bias, y, stride, padding, dilation, seqs_per_block,
                        chunk * n_blocks // n_chunks, (chunk + 1) * n_blocks // n_chunks)


@jit_parallel
def _backward_parallel(dy, x, w, dx, dw, db, stride, padding, dilation, seqs_per_block,
                       n_chunks, need_dx):
    # dx: independent slices per chunk; dw, db: one private buffer per chunk (a row of
    # ``part``: dw's values, then db's), summed after.  Loops, not array expressions: in a
    # parallel function each of np.zeros and ``dw += ...`` becomes a threaded region of its
    # own, compiled with everything it calls: a first call (its serial blocks and Numba's
    # start-up included, float64) took 7.3-9.0 s with them and 5.5-6.9 s without (4 runs
    # each, alternating, an empty cache each), with the same results bit for bit
    n_blocks = (x.shape[0] + seqs_per_block - 1) // seqs_per_block
    n_w = dw.size
    part = np.empty((n_chunks, n_w + db.shape[0]), dtype=dw.dtype)
    for chunk in prange(n_chunks):
        row = part[chunk]
        for i in range(row.shape[0]):
            row[i] = 0
        _backward_blocks(dy, x, w, dx, row[:n_w].reshape(dw.shape), row[n_w:], stride, padding, dilation,
                         seqs_per_block, chunk * n_blocks // n_chunks,
                         (chunk + 1) * n_blocks // n_chunks, need_dx)
    dw_flat = dw.reshape(n_w)
    for chunk in range(n_chunks):
        row = part[chunk]
        for i in range(n_w):
            dw_flat[i] += row[i]
        for o in range(db.shape[0]):
            db[o] += row[n_w + o]


_EMPTY = {np.dtype(np.float32): np.zeros((0, 0, 0), np.float32),
          np.dtype(np.float64): np.zeros((0, 0, 0), np.float64)}


_forward_threads = ThreadsGate(_forward_parallel)
_backward_threads = ThreadsGate(_backward_parallel)


def _plan(x, w, padding, threads):
    """(sequences per block, blocks, parallel chunks or 0 for serial, the serial run's
    context) of one call; ``threads``: the ThreadsGate of the parallel function the call
    would run, whose ``waiting()`` times a serial call that wanted it."""
    B, _, L = x.shape
    per_block = _seqs_per_block(L, padding)
    n_blocks = (B + per_block - 1) // per_block
    n_chunks, serial_run = 0, contextlib.nullcontext()
    if n_blocks > 1 and use_parallel(B * (L + 2 * padding) * w.size):
        if threads.ready():
            n_chunks = min(numba.get_num_threads(), n_blocks)
        else:
            serial_run = threads.waiting()
    return per_block, n_blocks, n_chunks, serial_run


def conv1d_forward_into(x, w, bias, y, stride, padding, dilation):
    """Fast (F1), unchecked: writes ``y`` (B, C_out, L_out).

    All arrays C-contiguous and of one float dtype; ``bias`` an array (zeros for no
    bias); ints already validated and L_out >= 1.
    """
    per_block, n_blocks, n_chunks, serial_run = _plan(x, w, padding, _forward_threads)
    if n_chunks:
        _forward_parallel(x, w, bias, y, stride, padding, dilation, per_block, n_chunks)
    else:
        with serial_run:
            _forward_blocks(x, w, bias, y, stride, padding, dilation, per_block, 0, n_blocks)


def conv1d_backward_into(dy, x, w, dx, dw, db, stride, padding, dilation):
    """Fast (B1)-(B3), unchecked: ADDS into ``dx`` (or skips it when None), ``dw`` and ``db``.

    A network's first layer passes ``dx=None``: its input is data.
    """
    need_dx = dx is not None
    if not need_dx:
        dx = _EMPTY[x.dtype]
    per_block, n_blocks, n_chunks, serial_run = _plan(x, w, padding, _backward_threads)
    if n_chunks:
        _backward_parallel(dy, x, w, dx, dw, db, stride, padding, dilation, per_block, n_chunks, need_dx)
    else:
        with serial_run:
            _backward_blocks(dy, x, w, dx, dw, db, stride, padding, dilation, per_block, 0, n_blocks, need_dx)


# ----------------------------------------------------------------------------- 3. checked
def check_conv_args(x, w, stride, padding, dilation):
    """Check x, w and the geometry as every conv wrapper needs them.

    Returns ``(stride, padding, dilation, L_out)``.
    """
    check_float_array("x", x, ndim=3)
    check_float_array("w", w, ndim=3, dtype=x.dtype)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w.shape[1] (C_in = {w.shape[1]}) must equal x.shape[1] (channels = "
                         f"{x.shape[1]}); w has torch's (C_out, C_in, K) layout")
    if 0 in w.shape or 0 in x.shape:
        raise ValueError(f"x and w must not have empty dimensions, got x {x.shape} and w {w.shape}")
    return check_geometry(x.shape[2], w.shape[2], stride, padding, dilation)


def check_geometry(L, K, stride, padding, dilation):
    """Check stride/padding/dilation and that an input of length L gives an output.

    Returns ``(stride, padding, dilation, L_out)``; shared with ``kernels/conv1d_onehot.py``.
    """
    stride = check_int("stride", stride, 1)
    padding = check_int("padding", padding, 0)
    dilation = check_int("dilation", dilation, 1)
    L_out = conv1d_output_length(L, K, stride, padding, dilation)
    if L_out < 1:
        raise ValueError(f"input length L = {L} of x is shorter than the kernel's span "
                         f"dilation * (K - 1) + 1 = {dilation * (K - 1) + 1} plus 2 * padding "
                         f"= {2 * padding}: no output position; use a longer x, more padding or a smaller K")
    return stride, padding, dilation, L_out


def _bias_or_zeros(bias, x, w):
    if bias is None:
        return np.zeros(w.shape[0], dtype=x.dtype)
    check_float_array("bias", bias, ndim=1, dtype=x.dtype)
    check_shape("bias", bias, (w.shape[0],))
    return bias


def conv1d_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None,
                   stride: int = 1, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """1-D convolution with zero padding, as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : ndarray (B, C_in, L), float32 or float64, C-contiguous
    w : ndarray (C_out, C_in, K), ``x``'s dtype
    bias : ndarray (C_out,) of ``x``'s dtype, or None for no bias
    stride : int >= 1
    padding : int >= 0, zeros added at both ends of every sequence
    dilation : int >= 1, spacing between kernel taps

    Returns
    -------
    y : ndarray (B, C_out, L_out), L_out = (L + 2 padding - dilation (K - 1) - 1) // stride + 1,
        ``y[b,o,t] = bias[o] + sum_{c,k} w[o,c,k] x[b,c,t*stride + k*dilation - padding]``
    """
    stride, padding, dilation, L_out = check_conv_args(x, w, stride, padding, dilation)
    bias = _bias_or_zeros(bias, x, w)
    y = np.empty((x.shape[0], w.shape[0], L_out), dtype=x.dtype)
    conv1d_forward_into(x, w, bias, y, stride, padding, dilation)
    return y


def conv1d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, stride: int = 1,
                    padding: int = 0, dilation: int = 1, need_dx: bool = True):
    """Gradients of ``conv1d_forward`` with respect to x, w and bias.

    Parameters
    ----------
    dy : ndarray (B, C_out, L_out), gradient of the loss with respect to y, ``x``'s dtype
    x, w, stride, padding, dilation : the forward's arguments
    need_dx : bool, False skips dx (a network's first layer needs no input gradient)

    Returns
    -------
    dx : ndarray (B, C_in, L), or None when ``need_dx`` is False
    dw : ndarray (C_out, C_in, K)
    db : ndarray (C_out,)  (the bias gradient; valid whether or not the forward had a bias)
    """
    stride, padding, dilation, L_out = check_conv_args(x, w, stride, padding, dilation)
    check_float_array("dy", dy, ndim=3, dtype=x.dtype)
    check_shape("dy", dy, (x.shape[0], w.shape[0], L_out))
    if not isinstance(need_dx, (bool, np.bool_)):
        raise TypeError(f"need_dx must be a bool, got {type(need_dx).__name__}")
    dx = np.zeros_like(x) if need_dx else None
    dw = np.zeros_like(w)
    db = np.zeros(w.shape[0], dtype=x.dtype)
    conv1d_backward_into(dy, x, w, dx, dw, db, stride, padding, dilation)
    return dx, dw, db
