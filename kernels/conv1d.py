"""1-D convolution (torch's cross-correlation), forward and backward, (N, C, L) layout.

Shape legend:

    x:  (B, C_in, L)        input               dx: (B, C_in, L)
    w:  (C_out, C_in, K)    torch's weight      dw: (C_out, C_in, K)
    b:  (C_out,)            bias                db: (C_out,)
    y:  (B, C_out, L_out)   output              dy: (B, C_out, L_out)

    s = stride, p = padding (zeros), d = dilation, span = d (K - 1) + 1
    L_out = (L + 2 p - span) // s + 1

    forward:  y[b,o,t]  = bias[o] + sum_{c,k} w[o,c,k] * x[b,c,t*s + k*d - p]
    backward: dx[b,c,i] = sum_{o,k,t : t*s + k*d - p = i} dy[b,o,t] * w[o,c,k]
              dw[o,c,k] = sum_{b,t} dy[b,o,t] * x[b,c,t*s + k*d - p]
              db[o]     = sum_{b,t} dy[b,o,t]
    (terms whose x index falls in the padding, outside [0, L), are zero)

Why the loops look the way they do (the layout is the speed)
-------------------------------------------------------------
The obvious loop nest puts t innermost, a row of only L_out values (39 in the
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

    dw[o,c,k]  = sum_j dycat[o, j] * xcat[c, j + k*d]        (dot products)
    dxcat[c,m] = sum_{o,k} w[o,c,k] * dycat[o, m - k*d]      (axpys again)

Blocks of _BLOCK_POSITIONS positions keep one block's rows in L1 for large
inputs, and are the unit of thread parallelism (independent slices of y and dx;
dw and db get one private buffer per thread, summed serially afterwards).

Unchecked entry points (all arguments positional, no defaults, no checks;
C-contiguous arrays of one float dtype, ints already validated, L_out >= 1,
a missing bias passed as zeros):

    _conv1d_forward(x, w, bias, stride, padding, dilation) -> y
    _conv1d_backward(dy, x, w, stride, padding, dilation, need_dx) -> (dx, dw, db)
        dx is an empty (0, 0, 0) array when need_dx is False

Each is a small Python function that picks the serial loop nest or the
thread-parallel one by the number of multiply-adds (``kernels._jit.use_parallel``).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from motifnet.kernels._jit import jit, jit_parallel, use_parallel
from motifnet.kernels._validate import check_float_array, check_int, check_shape

__all__ = ["conv1d_forward", "conv1d_backward"]

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
def _forward_blocks(x, w, bias, y, stride, padding, dilation, seqs_per_block, blk_begin, blk_end):
    # x: (B, C_in, L)  w: (C_out, C_in, K)  bias: (C_out,)  y: (B, C_out, L_out), written
    # for the sequences of blocks [blk_begin, blk_end).
    # forward: y[b,o,t] = bias[o] + sum_{c,k} w[o,c,k] * x[b,c,t*s + k*d - p]
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = y.shape[2]
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
    # dx: (B, C_in, L) written for the blocks' sequences (if need_dx);
    # dw: (C_out, C_in, K) and db: (C_out,) are ADDED to (the caller zeroes them).
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = dy.shape[2]
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

        # inverts forward term "+ bias[o]": db[o] = sum_{b,t} dy[b,o,t]
        for o in range(C_out):
            g = dycat[o, halo:halo + n]
            acc = zero
            for j in range(n):
                acc += g[j]
            db[o] += acc

        # inverts forward term "w[o,c,k] * x[b,c,t*s + k*d - p]" for w:
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
            # inverts the same term for x: dxcat[c, m] = sum_{o,k} w[o,c,k] * dycat[o, m - k*d],
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
                _from_row(dx, c, b0, b1, da, Lp, padding, 1)  # drop the padding positions
                if c1 != c:
                    _from_row(dx, c1, b0, b1, db_, Lp, padding, 1)


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
    # dx: independent slices per chunk; dw, db: one private buffer per chunk, summed after
    n_blocks = (x.shape[0] + seqs_per_block - 1) // seqs_per_block
    dw_part = np.zeros((n_chunks,) + dw.shape, dtype=dw.dtype)
    db_part = np.zeros((n_chunks,) + db.shape, dtype=db.dtype)
    for chunk in prange(n_chunks):
        _backward_blocks(dy, x, w, dx, dw_part[chunk], db_part[chunk], stride, padding, dilation,
                         seqs_per_block, chunk * n_blocks // n_chunks,
                         (chunk + 1) * n_blocks // n_chunks, need_dx)
    for chunk in range(n_chunks):
        dw += dw_part[chunk]
        db += db_part[chunk]


def _out_len(L, K, stride, padding, dilation):
    return (L + 2 * padding - dilation * (K - 1) - 1) // stride + 1


def _conv1d_forward(x, w, bias, stride, padding, dilation):
    """``_conv1d_forward(x, w, bias, stride, padding, dilation) -> y``, unchecked; bias is never None."""
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = _out_len(L, K, stride, padding, dilation)
    y = np.empty((B, C_out, L_out), dtype=x.dtype)
    per_block = _seqs_per_block(L, padding)
    n_blocks = (B + per_block - 1) // per_block
    if n_blocks > 1 and use_parallel(B * (L + 2 * padding) * w.size):
        n_chunks = min(numba.get_num_threads(), n_blocks)
        _forward_parallel(x, w, bias, y, stride, padding, dilation, per_block, n_chunks)
    else:
        _forward_blocks(x, w, bias, y, stride, padding, dilation, per_block, 0, n_blocks)
    return y


def _conv1d_backward(dy, x, w, stride, padding, dilation, need_dx):
    """``_conv1d_backward(dy, x, w, stride, padding, dilation, need_dx) -> (dx or empty (0,0,0), dw, db)``, unchecked."""
    B, C_in, L = x.shape
    dx = np.empty(x.shape if need_dx else (0, 0, 0), dtype=x.dtype)
    dw = np.zeros(w.shape, dtype=x.dtype)
    db = np.zeros(w.shape[0], dtype=x.dtype)
    per_block = _seqs_per_block(L, padding)
    n_blocks = (B + per_block - 1) // per_block
    if n_blocks > 1 and use_parallel(B * (L + 2 * padding) * w.size):
        n_chunks = min(numba.get_num_threads(), n_blocks)
        _backward_parallel(dy, x, w, dx, dw, db, stride, padding, dilation, per_block, n_chunks, need_dx)
    else:
        _backward_blocks(dy, x, w, dx, dw, db, stride, padding, dilation, per_block, 0, n_blocks, need_dx)
    return dx, dw, db


# ------------------------------------------------------------------------- public wrappers
def check_conv_args(x, w, stride, padding, dilation):
    """Check x, w and the geometry as every conv wrapper needs them; shared with conv1d_onehot.

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
    L_out = _out_len(L, K, stride, padding, dilation)
    if L_out < 1:
        raise ValueError(f"input length L = {L} of x is shorter than the kernel's span "
                         f"dilation * (K - 1) + 1 = {dilation * (K - 1) + 1} plus 2 * padding "
                         f"= {2 * padding}: no output position; use a longer x, more padding or a smaller K")
    return stride, padding, dilation, L_out


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
    stride, padding, dilation, _ = check_conv_args(x, w, stride, padding, dilation)
    if bias is None:
        bias = np.zeros(w.shape[0], dtype=x.dtype)
    else:
        check_float_array("bias", bias, ndim=1, dtype=x.dtype)
        check_shape("bias", bias, (w.shape[0],))
    return _conv1d_forward(x, w, bias, stride, padding, dilation)


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
    dx, dw, db = _conv1d_backward(dy, x, w, stride, padding, dilation, bool(need_dx))
    return (dx if need_dx else None), dw, db
