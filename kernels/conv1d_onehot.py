"""1-D convolution of one-hot input (DNA), forward and backward, (N, C, L) layout.

The same operation as ``kernels/conv1d.py`` (torch's cross-correlation), for an
input whose every column is one-hot: all zeros (an "N" base) or exactly one 1.0.

Shape legend:

    x:     (B, C_in, L)        one-hot input (C_in = 4 for DNA: A, C, G, T)
    codes: (B, L) int8         codes[b,i] = the channel c with x[b,c,i] = 1, or -1 (all-zero column)
    w:     (C_out, C_in, K)    torch's weight      dw: (C_out, C_in, K)
    bias:  (C_out,)                                db: (C_out,)
    y:     (B, C_out, L_out)   output              dy: (B, C_out, L_out)

    s = stride, p = padding (zeros), d = dilation, span = d (K - 1) + 1
    L_out = (L + 2 p - span) // s + 1

With one-hot x the dense sum over channels keeps one term per tap, so every
product becomes a look-up (i = t*s + k*d - p; no term where i is in the padding
or codes[b,i] = -1):

    forward:  y[b,o,t] = bias[o] + sum_k w[o, codes[b,i], k]
    backward: dw[o,c,k] = sum_{b,t : codes[b,i] = c} dy[b,o,t]
              db[o]     = sum_{b,t} dy[b,o,t]
    (no dx: x is data; ``conv1d_backward`` computes dx when a saliency map needs it)

How it is computed (measured at the primer model's shape, B=32, C_in=4, L=50,
C_out=32, K=12, float32, 1 thread, over 47 distinct batches)
------------------------------------------------------------------------------
Each output column y[b,:,t] is a sum of K weight columns w[:, c, k]; with the
weights transposed to wT[c, k, :] (C_out contiguous) each is a contiguous vector
add.  K such row-adds per column measured 35 us per batch: a 32-float loop is
too short for LLVM's 64-float vector loop, so it runs in 8-wide pieces.  So the
taps are taken G at a time (G = 3 for DNA): a *group table*

    table[g, e, :] = sum_{j < G} wT[digit_j(e), g*G + j, :]      e = sum_j digit_j * (C_in + 1)^j

holds the summed weights of every combination of G bases (C_in + 1 digits:
digit C_in is N or padding and adds nothing), 4 groups x 125 combinations at
K = 12.  One column is then bias + 4 table rows, summed in ONE pass and stored
once (7 us per batch), and the table costs ~1500 row-adds per call, independent
of the batch size.  The backward runs the same groups backwards: dy's columns
are scatter-added into a gradient table dtable[g, e, :], which is afterwards
split back into dw by summing, for every tap j and base c, the rows whose digit
j is c ("unfolding").

Columns are computed in a small (L_out, C_out) buffer per sequence and then
transposed into y[b] (C_out, L_out): storing each column straight into y with
stride L_out measured 30 us against 7 + 7 us for buffer and transpose.  dy is
transposed the same way in the backward.

While encoding x to codes, the forward checks that x IS one-hot (every value 0
or 1, at most one 1 per column; NaN fails); if not it stops and returns ok =
False, so a caller can fall back to the dense kernel having lost only the scan.

Unchecked entry points (all arguments positional, no defaults, no checks;
C-contiguous arrays of one float dtype, ints already validated, L_out >= 1,
C_in <= 127, a missing bias passed as zeros):

    _conv1d_onehot_forward(x, w, bias, stride, padding, dilation) -> (y, codes, ok)
        codes (B, L) int8; when ok is False, y and codes are meaningless
    _conv1d_onehot_backward(dy, codes, C_in, K, stride, padding, dilation) -> (dw, db)

Both are serial njit functions: at the sizes this layer meets (a first layer
on a batch of short sequences) the whole call takes tens of microseconds.
"""

from __future__ import annotations

import numpy as np

from motifnet.kernels._jit import jit
from motifnet.kernels.conv1d import check_conv_args, check_geometry
from motifnet.kernels._validate import check_float_array, check_shape

__all__ = ["conv1d_onehot_forward", "conv1d_onehot_backward"]

MAX_CHANNELS = 127  # codes are int8


@jit
def _group_size(C_in):
    # taps per group: the table has (C_in + 1)^G rows per group; 125 at C_in = 4
    if C_in <= 4:
        return 3
    if C_in <= 10:
        return 2
    return 1


@jit
def _encode(x, b, pc, padding, work):
    # x: (B, C_in, L); writes pc[padding + i] = code of column i of x[b], C_in for an
    # all-zero column.  Returns True if some column of x[b] is not one-hot.
    # work: (3, L) int64 scratch.  Loops run channel by channel along the contiguous rows
    # of x so they vectorise, and decide with arithmetic instead of branches (which base
    # comes next is random: a branch on it would be mispredicted half the time).
    C_in, L = x.shape[1], x.shape[2]
    one = x.dtype.type(1)
    zero = x.dtype.type(0)
    n_ones, index, n_bad = work[0], work[1], work[2]
    for i in range(L):
        n_ones[i] = 0
        index[i] = 0
        n_bad[i] = 0
    for c in range(C_in):
        row = x[b, c]
        for i in range(L):
            v = row[i]
            is_one = 1 if v == one else 0
            n_ones[i] += is_one
            index[i] += c * is_one
            n_bad[i] += 0 if (v == one or v == zero) else 1  # NaN fails both tests
    bad = 0
    dst = pc[padding:padding + L]
    for i in range(L):
        bad += n_bad[i] + (1 if n_ones[i] > 1 else 0)
        dst[i] = index[i] + C_in * (1 - n_ones[i])  # index if one 1, else 0 + C_in
    return bad > 0


@jit
def _group_codes(pc, gc, G, dilation, base):
    # gc[i] = sum_{j < G} pc[i + j*d] * base^j: the code of the G bases read by a group of
    # taps whose first tap sits at padded position i; group g of output t reads
    # gc[t*s + g*G*d].  pc: padded codes of one sequence (long enough), gc: (n_positions,).
    # Shifted slices keep the loops contiguous (they vectorise).
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
def _build_table(w, G, n_groups, n_combos):
    # w: (C_out, C_in, K) -> table: (n_groups, n_combos, C_out)
    # table[g, e, :] = sum_{j < G, k = g*G + j < K} w[:, digit_j(e), k]   (digit C_in adds 0)
    # Built digit by digit: once rows e < base^j hold the sums of the first j taps,
    # row e + base^j * digit = row e + wT[digit, k_j] for every digit (digit 0 last, in
    # place): base + base^2 + ... + base^G row writes per group, no divisions.
    C_out, C_in, K = w.shape
    base = C_in + 1
    wT = np.zeros((base, K, C_out), dtype=w.dtype)  # row C_in stays zero: N and padding
    for o in range(C_out):
        for c in range(C_in):
            for k in range(K):
                wT[c, k, o] = w[o, c, k]
    table = np.empty((n_groups, n_combos, C_out), dtype=w.dtype)  # every row gets written
    for g in range(n_groups):
        tg = table[g]
        for o in range(C_out):  # the sum of no taps
            tg[0, o] = 0
        size = 1  # base^j
        for j in range(G):
            k = g * G + j
            if k < K:
                for digit in range(base - 1, -1, -1):
                    src = wT[digit, k]
                    for e in range(size):
                        lo = tg[e]
                        hi = tg[e + size * digit]
                        for o in range(C_out):
                            hi[o] = lo[o] + src[o]
            else:  # a tap past K (last group): every digit reads as the existing sums
                for digit in range(1, base):
                    for e in range(size):
                        lo = tg[e]
                        hi = tg[e + size * digit]
                        for o in range(C_out):
                            hi[o] = lo[o]
            size *= base
    return table


@jit
def _padded_codes_length(L, L_out, n_groups, G, stride, padding, dilation):
    # pc must hold the padded sequence and every position a group's taps read
    # (the last group may run past tap K - 1: those taps have zero weight)
    n_pos = (L_out - 1) * stride + (n_groups - 1) * G * dilation + 1
    return max(L + 2 * padding, n_pos + (G - 1) * dilation), n_pos


@jit
def _conv1d_onehot_forward(x, w, bias, stride, padding, dilation):
    """``_conv1d_onehot_forward(x, w, bias, stride, padding, dilation) -> (y, codes, ok)``, unchecked."""
    # x: (B, C_in, L)  w: (C_out, C_in, K)  bias: (C_out,)  y: (B, C_out, L_out)  codes: (B, L)
    B, C_in, L = x.shape
    C_out, _, K = w.shape
    L_out = (L + 2 * padding - dilation * (K - 1) - 1) // stride + 1
    base = C_in + 1
    G = _group_size(C_in)
    n_groups = (K + G - 1) // G
    step = G * dilation  # from one group's first tap to the next group's
    n_pc, n_pos = _padded_codes_length(L, L_out, n_groups, G, stride, padding, dilation)
    y = np.empty((B, C_out, L_out), dtype=x.dtype)
    codes = np.empty((B, L), dtype=np.int8)
    pc = np.full(n_pc, C_in, dtype=np.int64)  # padded codes: padding and the tail read as N
    gc = np.empty(n_pos, dtype=np.int64)
    work = np.empty((3, L), dtype=np.int64)
    table = np.empty((0, 0, 0), dtype=x.dtype)
    yT = np.empty((L_out, C_out), dtype=x.dtype)  # one sequence's columns, transposed
    for b in range(B):
        if _encode(x, b, pc, padding, work):  # a dense x stops here, usually at b = 0
            return y, codes, False
        if b == 0:
            table = _build_table(w, G, n_groups, base ** G)
        for i in range(L):
            v = pc[padding + i]
            codes[b, i] = v if v < C_in else -1
        _group_codes(pc, gc, G, dilation, base)
        for t in range(L_out):
            # y[b,:,t] = bias + sum_g table[g, gc[t*s + g*G*d], :], four rows per pass
            i = t * stride
            acc = yT[t]
            g = 0
            if n_groups >= 4:  # the first four rows and the bias in one pass
                r0, r1 = table[0, gc[i]], table[1, gc[i + step]]
                r2, r3 = table[2, gc[i + 2 * step]], table[3, gc[i + 3 * step]]
                for o in range(C_out):
                    acc[o] = bias[o] + ((r0[o] + r1[o]) + (r2[o] + r3[o]))
                g = 4
            else:
                for o in range(C_out):
                    acc[o] = bias[o]
            while g + 4 <= n_groups:
                r0, r1 = table[g, gc[i + g * step]], table[g + 1, gc[i + (g + 1) * step]]
                r2, r3 = table[g + 2, gc[i + (g + 2) * step]], table[g + 3, gc[i + (g + 3) * step]]
                for o in range(C_out):
                    acc[o] += (r0[o] + r1[o]) + (r2[o] + r3[o])
                g += 4
            while g < n_groups:
                r0 = table[g, gc[i + g * step]]
                for o in range(C_out):
                    acc[o] += r0[o]
                g += 1
        for o in range(C_out):  # transpose into y's (C_out, L_out) layout
            yo = y[b, o]
            for t in range(L_out):
                yo[t] = yT[t, o]
    return y, codes, True


@jit
def _conv1d_onehot_backward(dy, codes, C_in, K, stride, padding, dilation):
    """``_conv1d_onehot_backward(dy, codes, C_in, K, stride, padding, dilation) -> (dw, db)``, unchecked."""
    # dy: (B, C_out, L_out)  codes: (B, L)  dw: (C_out, C_in, K)  db: (C_out,)
    B, C_out, L_out = dy.shape
    L = codes.shape[1]
    base = C_in + 1
    G = _group_size(C_in)
    n_groups = (K + G - 1) // G
    n_combos = base ** G
    zero = dy.dtype.type(0)
    db = np.zeros(C_out, dtype=dy.dtype)
    dtable = np.zeros((n_groups, n_combos, C_out), dtype=dy.dtype)
    step = G * dilation
    n_pc, n_pos = _padded_codes_length(L, L_out, n_groups, G, stride, padding, dilation)
    pc = np.full(n_pc, C_in, dtype=np.int64)
    gc = np.empty(n_pos, dtype=np.int64)
    dyT = np.empty((L_out, C_out), dtype=dy.dtype)
    for b in range(B):
        for i in range(L):
            v = codes[b, i]
            pc[padding + i] = v if v >= 0 else C_in
        # inverts forward "+ bias[o]": db[o] = sum_{b,t} dy[b,o,t]
        for o in range(C_out):
            g_row = dy[b, o]
            acc = zero
            for t in range(L_out):
                acc += g_row[t]
            db[o] += acc
            for t in range(L_out):  # transpose: dyT[t, :] = dy[b, :, t]
                dyT[t, o] = g_row[t]
        # inverts forward "acc[o] += table[g, gc[t*s + g*G*d], o]" for the table rows
        _group_codes(pc, gc, G, dilation, base)
        for t in range(L_out):
            src = dyT[t]
            for g in range(n_groups):
                row = dtable[g, gc[t * stride + g * step]]
                for o in range(C_out):
                    row[o] += src[o]
    # inverts _build_table's "row e + base^j * digit = row e + wT[digit, k_j]", last digit
    # first: dwT[digit, k_j, :] += the rows with that digit, which are then folded onto
    # row e (their sum over digit j) for the next digit down.
    dwT = np.zeros((base, K, C_out), dtype=dy.dtype)
    for g in range(n_groups):
        tg = dtable[g]
        size = n_combos
        for j in range(G - 1, -1, -1):
            size //= base  # base^j
            k = g * G + j
            for digit in range(base):
                dst = dwT[digit, k] if k < K else dwT[C_in, 0]  # taps past K: discarded
                for e in range(size):
                    hi = tg[e + size * digit]
                    for o in range(C_out):
                        dst[o] += hi[o]
                    if digit > 0:
                        lo = tg[e]
                        for o in range(C_out):
                            lo[o] += hi[o]
    dw = np.empty((C_out, C_in, K), dtype=dy.dtype)
    for o in range(C_out):
        for c in range(C_in):
            for k in range(K):
                dw[o, c, k] = dwT[c, k, o]
    return dw, db


# ------------------------------------------------------------------------- public wrappers
def _check_channels(C_in):
    if C_in > MAX_CHANNELS:
        raise ValueError(f"the one-hot convolution takes at most {MAX_CHANNELS} input channels "
                         f"(codes are int8), got {C_in}; use kernels.conv1d.conv1d_forward")


def conv1d_onehot_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None,
                          stride: int = 1, padding: int = 0, dilation: int = 1):
    """1-D convolution of a one-hot ``x``, as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    x : ndarray (B, C_in, L), float32 or float64, C-contiguous; every column x[b, :, i]
        all zeros or a single 1.0 (one-hot DNA: C_in = 4, an N is a zero column)
    w : ndarray (C_out, C_in, K), ``x``'s dtype
    bias : ndarray (C_out,) of ``x``'s dtype, or None for no bias
    stride, padding, dilation : as ``kernels.conv1d.conv1d_forward``

    Returns
    -------
    y : ndarray (B, C_out, L_out), equal to ``conv1d_forward(x, w, bias, ...)`` up to the
        order of the float sums
    codes : ndarray (B, L) int8, the channel of each column's 1, -1 for an all-zero column;
        what ``conv1d_onehot_backward`` needs instead of x

    Raises
    ------
    ValueError
        if some column of x is not one-hot (a value other than 0 and 1, NaN, or two 1s).
    """
    stride, padding, dilation, _ = check_conv_args(x, w, stride, padding, dilation)
    _check_channels(x.shape[1])
    if bias is None:
        bias = np.zeros(w.shape[0], dtype=x.dtype)
    else:
        check_float_array("bias", bias, ndim=1, dtype=x.dtype)
        check_shape("bias", bias, (w.shape[0],))
    y, codes, ok = _conv1d_onehot_forward(x, w, bias, stride, padding, dilation)
    if not ok:
        raise ValueError("x is not one-hot: every column x[b, :, i] must be all zeros or hold a "
                         "single 1.0 (no other values, no NaN); use kernels.conv1d.conv1d_forward")
    return y, codes


def conv1d_onehot_backward(dy: np.ndarray, codes: np.ndarray, w_shape: tuple,
                           stride: int = 1, padding: int = 0, dilation: int = 1):
    """Gradients of ``conv1d_onehot_forward`` with respect to w and bias (no dx).

    Parameters
    ----------
    dy : ndarray (B, C_out, L_out), float32 or float64, gradient of the loss with respect to y
    codes : ndarray (B, L) int8, returned by the forward
    w_shape : (C_out, C_in, K), the weight's shape (e.g. ``w.shape``)
    stride, padding, dilation : the forward's arguments

    Returns
    -------
    dw : ndarray (C_out, C_in, K), ``dy``'s dtype
    db : ndarray (C_out,)
    """
    check_float_array("dy", dy, ndim=3)
    if not isinstance(codes, np.ndarray) or codes.dtype != np.int8 or codes.ndim != 2:
        raise TypeError("codes must be the (B, L) int8 array returned by conv1d_onehot_forward, got "
                        + (f"{codes.dtype} shape {codes.shape}" if isinstance(codes, np.ndarray)
                           else type(codes).__name__))
    if not codes.flags.c_contiguous:
        raise ValueError("codes must be C-contiguous; use np.ascontiguousarray(codes)")
    if len(w_shape) != 3 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                                for v in w_shape):
        raise ValueError(f"w_shape must be (C_out, C_in, K) of positive ints, got {w_shape!r}")
    C_out, C_in, K = (int(v) for v in w_shape)
    B, L = codes.shape
    if B == 0 or L == 0:
        raise ValueError(f"codes must not have empty dimensions, got shape {codes.shape}")
    _check_channels(C_in)
    stride, padding, dilation, L_out = check_geometry(L, K, stride, padding, dilation)
    check_shape("dy", dy, (B, C_out, L_out))
    if codes.min() < -1 or codes.max() >= C_in:
        raise ValueError(f"codes must lie in [-1, {C_in}) for C_in = {C_in}, got values in "
                         f"[{codes.min()}, {codes.max()}]")
    return _conv1d_onehot_backward(dy, codes, C_in, K, stride, padding, dilation)
