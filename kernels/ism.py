"""In-silico mutagenesis by recomputing only what a substitution changes.

ISM asks, for every position l of a sequence and every base b other than the one there,

    delta[n, b, l] = logit(x[n] with base b at l) - logit(x[n])                         (I)

(0 where b is already the base at l, and past a sequence's length).  Done plainly it
is 3 L full forward passes per sequence (motifnet/interpret/ism.py).  But the first
layer is a convolution of width K, so a substitution at l changes only the K
convolution outputs whose window covers l, each by one weight difference; the rest of
the network sees a change in a few numbers.  This file computes (I) from those changes.

Shape legend
------------
    codes   (N, L) int8          A 0, C 1, G 2, T 3; N and padding -1
    lengths (N,) int64           each sequence's own length (DeepBind; the CNN reads L)
    w       (C, 4, K)            the first layer's filters (DeepBind: C = 2F, both strands,
                                 kernels/revcomp.py's w2), bias (C,)
    W1      (H, F) or (H, F*Lp)  the dense layer, b1 (H,)
    w_out   (H,), b_out          the output layer (torch's Linear(H, 1) weight row, bias)
    delta   (N, 4, L) float64    written

    K = filter width, F = filters, L_c = L - K + 1 convolution positions,
    P = pool size and stride (the CNN), L_p = L_c // P pooled cells

Forward (both models), for one sequence (n dropped), codes x
-------
    y[o, t] = bias[o] + sum_{k < K, x[t+k] >= 0} w[o, x[t+k], k]      t < L_c               (F1)

DeepBind (motifnet/models.py): the max over positions and both strands, then the head:
    g[f]   = max_{t < L_c} max(y[f, t], y[F + f, t])                                          (F2)
    p1     = b1 + W1 relu(g),   z = relu(p1),   logit = b_out + w_out . z                      (F3)

The CNN: ReLU, max-pool of size and stride P, the head on the pooled cells:
    pooled[f, p] = max_{pP <= t < pP + P} relu(y[f, t])                                       (F2')
    p1[h] = b1[h] + sum_{f,p} W1[h, f*L_p + p] pooled[f, p],   z = relu(p1),   logit as (F3)  (F3')

What a substitution changes, derived
------------------------------------
Put base b at l where the sequence has a (a = -1 for N: no weight).  In (F1) x[t+k] is
x[l] exactly for k = l - t, so only the outputs with 0 <= l - t < K change:

    y~[o, t] = y[o, t] + dw[o, a, b, l - t]    for t in T = [max(0, l - K + 1), min(l, L_c - 1)]
    dw[o, a, b, k] = w[o, b, k] - w[o, a, k]   (w[o, -1, k] := 0)                            (C1)

and y~ = y elsewhere.  DeepBind: the maximum (F2) of the unchanged positions is a
prefix maximum and a suffix maximum, computed once per sequence,

    before[f, t] = max_{t' <= t} max(y[f, t'], y[F + f, t'])     after[f, t] = max_{t' >= t} (...)
    g~[f] = max(before[f, t_lo - 1], after[f, t_hi + 1], max_{t in T, strand} y~)            (C2)

(a missing side is -inf), so a substitution costs O(F K) for (C2) and O(H) per filter
whose relu(g) changed, since p1~ = p1 + sum_f W1[:, f] (relu(g~[f]) - relu(g[f])).  Then
delta = w_out . (relu(p1~) - z) (the bias cancels; a difference of like terms, so
rounding stays relative to delta, not to the logit).

The CNN: the changed outputs T touch the pooled cells p in [t_lo // P, t_hi // P] (at
most ceil(K / P) + 1 of them; outputs t >= P L_p are never pooled), each recomputed from
its P outputs by (F2') with (C1) applied; fc1's pre-activation moves by

    p1~[h] = p1[h] + sum_{changed (f, p)} W1[h, f*L_p + p] (pooled~[f, p] - pooled[f, p])    (C3)

so a substitution costs O(F P (ceil(K/P) + 1)) plus O(H) per changed cell.

Everything is float64: the weights are converted once (exactly, from float32), so delta
carries no float32 rounding of the model's forward.

Layout of this file: 1. the reference loops (a full forward in float64 per mutant, plain
loops); 2. the fast loops (C1)-(C3), sequences as the unit of thread parallelism, and
their entry points ``deepbind_ism_into`` and ``cnn_ism_into``; 3. the checked entry
points ``deepbind_ism`` and ``cnn_ism``.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from motifnet.kernels._jit import SerialOrParallel, jit
from motifnet.kernels._validate import check_float_array, check_int, check_shape

__all__ = [
    "deepbind_ism_reference", "cnn_ism_reference",
    "deepbind_ism_into", "cnn_ism_into",
    "deepbind_ism", "cnn_ism",
]


# ----------------------------------------------------------------------------- 1. reference
def _conv_reference(x, w, bias, n_positions):
    """(F1) for one sequence of codes, float64: y (C, n_positions)."""
    C, _, K = w.shape
    y = np.zeros((C, n_positions))
    for o in range(C):
        for t in range(n_positions):
            v = float(bias[o])
            for k in range(K):
                if x[t + k] >= 0:
                    v += float(w[o, x[t + k], k])
            y[o, t] = v
    return y


def _head_reference(features, W1, b1, w_out, b_out):
    """(F3): logit of a feature vector, float64."""
    logit = float(b_out)
    for h in range(W1.shape[0]):
        p = float(b1[h]) + sum(float(W1[h, i]) * features[i] for i in range(W1.shape[1]))
        logit += float(w_out[h]) * max(p, 0.0)
    return logit


def _deepbind_logit_reference(x, w2, b2, W1, b1, w_out, b_out):
    F = w2.shape[0] // 2
    y = _conv_reference(x, w2, b2, len(x) - w2.shape[2] + 1)
    g = [max(y[f].max(), y[F + f].max()) for f in range(F)]                              # (F2)
    return _head_reference([max(v, 0.0) for v in g], W1, b1, w_out, b_out)               # (F3)


def _cnn_logit_reference(x, w, bias, pool, W1, b1, w_out, b_out):
    F, _, K = w.shape
    n_pooled = (len(x) - K + 1) // pool
    y = _conv_reference(x, w, bias, len(x) - K + 1)
    pooled = [max(max(y[f, t], 0.0) for t in range(p * pool, p * pool + pool))          # (F2')
              for f in range(F) for p in range(n_pooled)]                                # f * L_p + p
    return _head_reference(pooled, W1, b1, w_out, b_out)                                 # (F3')


def _ism_reference(codes, lengths, logit_of):
    N, L = codes.shape
    delta = np.zeros((N, 4, L))
    for n in range(N):
        x = [int(c) for c in codes[n, :lengths[n]]]
        base = logit_of(x)
        for l in range(len(x)):
            for b in range(4):
                if b != x[l]:
                    delta[n, b, l] = logit_of(x[:l] + [b] + x[l + 1:]) - base              # (I)
    return delta


def deepbind_ism_reference(codes, lengths, w2, b2, W1, b1, w_out, b_out):
    """(I) by a full float64 forward (F1)-(F3) of every mutant: ``delta`` (N, 4, L)."""
    return _ism_reference(codes, lengths, lambda x: _deepbind_logit_reference(x, w2, b2, W1, b1, w_out, b_out))


def cnn_ism_reference(codes, w, bias, pool, W1, b1, w_out, b_out):
    """(I) by a full float64 forward (F1), (F2'), (F3') of every mutant: ``delta`` (N, 4, L)."""
    lengths = np.full(codes.shape[0], codes.shape[1])
    return _ism_reference(codes, lengths, lambda x: _cnn_logit_reference(x, w, bias, pool, W1, b1, w_out, b_out))


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly (I) as the reference above does, by (C1)-(C3).  Layouts: the
# convolution outputs of a sequence are kept as (t, o), so the inner loops of (C1) run
# over channels o, contiguous and vectorisable, and the weight differences dw are laid
# out (k, a + 1, b, o) for the same reason; W1 is read as rows W1t[f] (H,) (DeepBind)
# or W1r[p] (H, F) (the CNN, so (C3) is H dot products over the F filters of a cell).

@jit
def _weight_differences(w, dw):
    # w: (C, 4, K), dw: (K, 5, 4, C) written: dw[k, a + 1, b, o] = w[o, b, k] - w[o, a, k] (C1), a = -1: N
    C, _, K = w.shape
    for k in range(K):
        for a in range(-1, 4):
            for b in range(4):
                for o in range(C):
                    dw[k, a + 1, b, o] = w[o, b, k] - (w[o, a, k] if a >= 0 else 0.0)


def _weight_differences_of(w):
    """(C1)'s weight differences (K, 5, 4, C) float64 of float64 filters ``w`` (C, 4, K)."""
    C, _, K = w.shape
    dw = np.empty((K, 5, 4, C))
    _weight_differences(w, dw)
    return dw


@jit
def _conv_rows(x, n_positions, wt, bias):
    # x: (L,) codes  wt: (K, 4, C)  bias: (C,) -> y: (n_positions, C), (F1)
    K, _, C = wt.shape
    y = np.empty((n_positions, C))
    for t in range(n_positions):
        for o in range(C):
            y[t, o] = bias[o]
        for k in range(K):
            c = x[t + k]
            if c >= 0:
                for o in range(C):
                    y[t, o] += wt[k, c, o]
    return y


def _deepbind_loops(codes, lengths, wt, dw, b2, W1t, b1, w_out, delta):
    # codes: (N, L)  lengths: (N,)  wt: (K, 4, 2F)  dw: (K, 5, 4, 2F)  b2: (2F,)  W1t: (F, H)
    # b1, w_out: (H,)  delta: (N, 4, L) written
    N, L = codes.shape
    K, _, C = wt.shape
    F = C // 2
    H = b1.shape[0]
    neg_inf = -np.inf
    for n in prange(N):  # sequences are independent; the scratch is thread-private
        length = lengths[n]
        nv = length - K + 1
        x = codes[n]
        y = _conv_rows(x, nv, wt, b2)
        before = np.empty((nv, F))
        after = np.empty((nv, F))
        for f in range(F):
            run = neg_inf
            for t in range(nv):
                run = max(run, max(y[t, f], y[t, F + f]))
                before[t, f] = run
            run = neg_inf
            for t in range(nv - 1, -1, -1):
                run = max(run, max(y[t, f], y[t, F + f]))
                after[t, f] = run
        m = np.empty(F)
        for f in range(F):
            m[f] = max(before[nv - 1, f], 0.0)                      # relu(g), (F2)-(F3)
        p1 = b1.copy()
        for f in range(F):
            for h in range(H):
                p1[h] += W1t[f, h] * m[f]
        z = np.maximum(p1, 0.0)
        delta[n] = 0.0
        unchanged = np.empty(F)
        cand = np.empty(C)
        p1_new = np.empty(H)
        for l in range(length):
            a = x[l]
            t_lo = max(0, l - K + 1)
            t_hi = min(l, nv - 1)
            for f in range(F):                                      # (C2): the unchanged positions
                u = neg_inf
                if t_lo > 0:
                    u = before[t_lo - 1, f]
                if t_hi + 1 < nv:
                    u = max(u, after[t_hi + 1, f])
                unchanged[f] = u
            for b in range(4):
                if b == a:
                    continue
                for o in range(C):
                    cand[o] = neg_inf
                for t in range(t_lo, t_hi + 1):                     # (C1), the changed positions
                    k = l - t
                    for o in range(C):
                        cand[o] = max(cand[o], y[t, o] + dw[k, a + 1, b, o])
                for h in range(H):
                    p1_new[h] = p1[h]
                for f in range(F):
                    g_new = max(unchanged[f], max(cand[f], cand[F + f]))
                    d_m = max(g_new, 0.0) - m[f]
                    if d_m != 0.0:                                  # (C2): fc1 moves by W1[:, f] d_m
                        for h in range(H):
                            p1_new[h] += W1t[f, h] * d_m
                d = 0.0
                for h in range(H):
                    d += w_out[h] * (max(p1_new[h], 0.0) - z[h])
                delta[n, b, l] = d


def _cnn_loops(codes, wt, dw, bias, pool, n_pooled, W1r, b1, w_out, delta):
    # codes: (N, L)  wt: (K, 4, F)  dw: (K, 5, 4, F)  bias: (F,)  W1r: (L_p, H, F)  b1, w_out: (H,)
    # delta: (N, 4, L) written
    N, L = codes.shape
    K, _, F = wt.shape
    H = b1.shape[0]
    n_conv = L - K + 1
    for n in prange(N):
        x = codes[n]
        y = _conv_rows(x, n_conv, wt, bias)
        pooled = np.zeros((n_pooled, F))                            # relu >= 0: 0 starts the max
        for p in range(n_pooled):
            for t in range(p * pool, p * pool + pool):
                for f in range(F):
                    pooled[p, f] = max(pooled[p, f], y[t, f])       # (F2')
        p1 = b1.copy()
        for p in range(n_pooled):
            for h in range(H):
                for f in range(F):
                    p1[h] += W1r[p, h, f] * pooled[p, f]            # (F3')
        z = np.maximum(p1, 0.0)
        delta[n] = 0.0
        cell = np.empty(F)
        p1_new = np.empty(H)
        for l in range(L):
            a = x[l]
            t_lo = max(0, l - K + 1)
            t_hi = min(l, n_conv - 1)
            p_lo = t_lo // pool
            p_hi = min(t_hi // pool, n_pooled - 1)
            if p_lo > p_hi:  # only never-pooled outputs change: delta stays 0
                continue
            for b in range(4):
                if b == a:
                    continue
                for h in range(H):
                    p1_new[h] = p1[h]
                for p in range(p_lo, p_hi + 1):                     # (C3): each touched cell anew
                    for f in range(F):
                        cell[f] = 0.0
                    for t in range(p * pool, p * pool + pool):
                        k = l - t
                        if 0 <= k < K:                              # (C1)
                            for f in range(F):
                                cell[f] = max(cell[f], y[t, f] + dw[k, a + 1, b, f])
                        else:
                            for f in range(F):
                                cell[f] = max(cell[f], y[t, f])
                    for f in range(F):
                        cell[f] -= pooled[p, f]                     # the cell's change
                    for h in range(H):                              # (C3), a dot product over f
                        acc = 0.0
                        for f in range(F):
                            acc += W1r[p, h, f] * cell[f]
                        p1_new[h] += acc
                d = 0.0
                for h in range(H):
                    d += w_out[h] * (max(p1_new[h], 0.0) - z[h])
                delta[n, b, l] = d


_deepbind = SerialOrParallel(_deepbind_loops)
_cnn = SerialOrParallel(_cnn_loops)


def deepbind_ism_into(codes, lengths, w2, b2, W1, b1, w_out, b_out, delta):
    """Fast (I) for DeepBind by (C1)-(C2), unchecked: writes ``delta`` (N, 4, L) float64.

    codes (N, L) int8, lengths (N,) int64 in [K, L]; w2 (2F, 4, K), b2 (2F,), W1 (H, F),
    b1 (H,), w_out (H,): any float dtype (converted to float64 here); b_out cancels in (I).
    """
    w2 = np.asarray(w2, dtype=np.float64)
    wt = np.ascontiguousarray(w2.transpose(2, 1, 0))
    dw = _weight_differences_of(w2)
    W1t = np.ascontiguousarray(np.asarray(W1, dtype=np.float64).T)
    work = int(lengths.sum()) * 3 * w2.shape[0] * w2.shape[2]
    _deepbind(work, codes, lengths, wt, dw, np.asarray(b2, np.float64), W1t, np.asarray(b1, np.float64),
              np.asarray(w_out, np.float64), delta)


def cnn_ism_into(codes, w, bias, pool, W1, b1, w_out, b_out, delta):
    """Fast (I) for the CNN by (C1), (C3), unchecked: writes ``delta`` (N, 4, L) float64.

    codes (N, L) int8 (no padding: the CNN reads length L); w (F, 4, K), bias (F,),
    pool the max-pool's size and stride, W1 (H, F * L_p) with L_p = (L - K + 1) // pool,
    b1, w_out (H,); any float dtype; b_out cancels in (I).
    """
    w = np.asarray(w, dtype=np.float64)
    F, _, K = w.shape
    n_pooled = (codes.shape[1] - K + 1) // pool
    wt = np.ascontiguousarray(w.transpose(2, 1, 0))
    dw = _weight_differences_of(w)
    W1r = np.ascontiguousarray(np.asarray(W1, dtype=np.float64).reshape(-1, F, n_pooled).transpose(2, 0, 1))
    work = codes.size * 3 * F * K
    _cnn(work, codes, wt, dw, np.asarray(bias, np.float64), pool, n_pooled, W1r, np.asarray(b1, np.float64),
         np.asarray(w_out, np.float64), delta)


# ----------------------------------------------------------------------------- 3. checked
def _check_codes(codes, C_in=4):
    if not isinstance(codes, np.ndarray) or codes.dtype != np.int8 or codes.ndim != 2:
        got = f"{codes.dtype} array of shape {codes.shape}" if isinstance(codes, np.ndarray) else type(codes).__name__
        raise TypeError(f"codes must be an (N, L) int8 array of base codes (motifnet.data.encode), got {got}")
    if not codes.flags.c_contiguous:
        raise ValueError("codes must be C-contiguous; use np.ascontiguousarray(codes)")
    if codes.size and (codes.min() < -1 or codes.max() >= C_in):
        raise ValueError("codes must lie in [-1, 3] (A, C, G, T; -1 for N or padding)")


def _check_head(W1, b1, w_out, n_features, dtype):
    H = b1.shape[0] if isinstance(b1, np.ndarray) and b1.ndim == 1 else None
    check_float_array("b1", b1, ndim=1, dtype=dtype)
    check_float_array("W1", W1, ndim=2, dtype=dtype)
    check_shape("W1", W1, (H, n_features))
    check_float_array("w_out", w_out, ndim=1, dtype=dtype)
    check_shape("w_out", w_out, (H,))


def deepbind_ism(codes, lengths, w2, b2, W1, b1, w_out, b_out=0.0) -> np.ndarray:
    """Every single-base substitution's effect on a DeepBind logit, (C1)-(C2).

    Parameters
    ----------
    codes : int8 (N, L), base codes, -1 for N and padding
    lengths : int64 (N,), each sequence's length, in [K, L] (None: all L)
    w2, b2 : (2F, 4, K), (2F,): both strands' filters (``StrandConv1d.both_strand_filters``)
    W1, b1 : (H, F), (H,): the dense layer;  w_out : (H,), b_out: the output layer

    Returns
    -------
    delta : float64 (N, 4, L), (I); 0 at the base present and past each length.
    """
    _check_codes(codes)
    check_float_array("w2", w2, ndim=3)
    C, _, K = w2.shape
    if C % 2 or w2.shape[1] != 4:
        raise ValueError(f"w2 must have shape (2F, 4, K), got {w2.shape}")
    check_float_array("b2", b2, ndim=1, dtype=w2.dtype)
    check_shape("b2", b2, (C,))
    _check_head(W1, b1, w_out, C // 2, w2.dtype)
    N, L = codes.shape
    if lengths is None:
        lengths = np.full(N, L, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    check_shape("lengths", lengths, (N,))
    if N and (lengths.min() < K or lengths.max() > L):
        raise ValueError(f"lengths must lie in [{K}, {L}] (the filter width, the array's length)")
    delta = np.zeros((N, 4, L))
    deepbind_ism_into(codes, lengths, w2, b2, W1, b1, w_out, b_out, delta)
    return delta


def cnn_ism(codes, w, bias, pool, W1, b1, w_out, b_out=0.0) -> np.ndarray:
    """Every single-base substitution's effect on the CNN's logit, (C1) and (C3).

    Parameters
    ----------
    codes : int8 (N, L), base codes (-1 for N)
    w, bias : (F, 4, K), (F,): the convolution
    pool : int, the max-pool's size and stride
    W1, b1 : (H, F * L_p), (H,) with L_p = (L - K + 1) // pool;  w_out : (H,), b_out

    Returns
    -------
    delta : float64 (N, 4, L), (I); 0 at the base present.
    """
    _check_codes(codes)
    check_float_array("w", w, ndim=3)
    F, C_in, K = w.shape
    if C_in != 4:
        raise ValueError(f"w must have shape (F, 4, K), got {w.shape}")
    check_float_array("bias", bias, ndim=1, dtype=w.dtype)
    check_shape("bias", bias, (F,))
    pool = check_int("pool", pool, 1)
    n_pooled = (codes.shape[1] - K + 1) // pool
    if n_pooled < 1:
        raise ValueError(f"codes of length {codes.shape[1]} leave no pooled cell for K={K}, pool={pool}")
    _check_head(W1, b1, w_out, F * n_pooled, w.dtype)
    delta = np.zeros(codes.shape[:1] + (4, codes.shape[1]))
    cnn_ism_into(codes, w, bias, pool, W1, b1, w_out, b_out, delta)
    return delta
