"""Additive (Bahdanau) attention, forward and backward.

Shape legend (B batch, H hidden = channels, L positions)
------------
    q        (B, H)       query, one vector per sequence
    k        (B, H, L)    keys = values, in the (N, C, L) layout of the pooled
                          conv features, so a model passes its pooled array
                          straight in (torch's reference module takes (B, L, H)
                          keys; ours is its transpose on the last two axes)
    W        (H, 2H)      torch Linear(2H, H) weight, acting on [q ; k[:, l]];
                          W_q = W[:, :H], W_k = W[:, H:]
    bias     (H,)
    v        (H,)
    energy   (B, L, H)    tanh(pre), kept by the forward for the backward
    weights  (B, L)       softmax over positions
    context  (B, H)

Forward, per sequence b (the index b is dropped)
-------
    pre[l, j]  = bias[j] + sum_i W_q[j, i] q[i] + sum_i W_k[j, i] k[i, l]            (F1)
    e[l, j]    = tanh(pre[l, j])                                                     (F2)
    s[l]       = sum_j v[j] e[l, j]                                                  (F3)
    a[l]       = exp(s[l] - max s) / sum_m exp(s[m] - max s)                         (F4)
    context[h] = sum_l a[l] k[h, l]                                                  (F5)

Backward, derived (F5 back to F1; d_z = dL/dz, d_context given)
-----------------
    (B1) F5: context is linear in a and in k:
             d_a[l] = sum_h d_context[h] k[h, l],   value path  dk[h, l] += a[l] d_context[h]
    (B2) F4: da[m]/ds[l] = a[m] (delta_ml - a[l]), so
             d_s[l] = sum_m d_a[m] a[m] (delta_ml - a[l]) = a[l] (d_a[l] - sum_m a[m] d_a[m])
    (B3) F3: dv[j] += sum_l d_s[l] e[l, j],        d_e[l, j] = d_s[l] v[j]
    (B4) F2: tanh' = 1 - tanh^2:                   d_pre[l, j] = d_e[l, j] (1 - e[l, j]^2)
    (B5) F1, key part:  dW_k[j, i] += sum_l d_pre[l, j] k[i, l],
                        key path  dk[i, l] += sum_j d_pre[l, j] W_k[j, i]
    (B6) F1, query part and bias, shared by every position: d_qproj[j] = sum_l d_pre[l, j]
             db[j] += d_qproj[j],  dW_q[j, i] += d_qproj[j] q[i],  dq[i] += sum_j d_qproj[j] W_q[j, i]
    (B7) keys are also values: dk is the sum of the value path (B1) and the key path (B5)

Every gradient is added (+=) into the caller's buffer (the one contract of every fast
kernel, see ``motifnet.kernels``), so the model's pooled-feature gradient can collect
the attention's dk, the query's share and the dense branch's in one buffer.

How the fast loops compute exactly (F1)-(B7), and why
-----------------------------------------------------
The query term of F1 is the same for every position, so it is computed once per
sequence (``qproj``), not L times as torch's cat + Linear does.  F4 is
max-subtracted: scores of +-1e4 in float32 give no inf/NaN.  The forward keeps
``energy`` and ``weights`` and the backward takes them instead of recomputing F1
(the forward's one O(B L H^2) step).  k[b] is transposed to (L, H) so the sums of
F1 and B5 run over contiguous memory, four rows at a time (register blocking).

tanh (F2) is not libm's: Numba's ``math.tanh`` calls tanhf (~15 ns each), and a loop
that calls a libm function does not vectorise.  In float32 it is a rational function
(``_tanh_f32``: x p(x^2) / q(x^2), degrees 13 and 6, the coefficients of Eigen's and
XLA's float tanh, the input clamped where it reaches +-1): multiply-adds and one
division, so LLVM can vectorise the loop over j.  Measured against float64 tanh
over 7M float32 inputs in [-12, 12] and down to 1e-12: absolute error <= 2.3 ulp(1)
(2.7e-7), relative <= 2.4 float32 epsilons; 2M values in 0.6-0.75 ms (1 thread), where
the ``exp`` form below took 6.4-8.0 ms; the whole forward at (B, L, H) = (256, 247, 32)
went from 16.5-16.9 ms to 9.7-10.3 ms (1 thread, the benchmark registry's inputs).  In
float64 it is written with ``exp``: tanh(x) = sign(x) (1 - e) / (1 + e) with
e = exp(-2|x|) in (0, 1], absolute error <= ~1.5 ulp(1) (2e-16).  Both propagate NaN and
keep |tanh| <= 1.  Sequences are independent: blocks of them are the
unit of thread parallelism (dW, db, dv one private set per thread, summed serially
afterwards).

Layout of this file: 1. the reference loops, plain, float64; 2. the fast loops and
their entry points ``attention_forward_into`` and ``attention_backward_into``;
3. the checked entry points.
"""

from __future__ import annotations

import contextlib
import math

import numba
import numpy as np
from numba import prange

from motifnet.kernels._jit import ThreadsGate, jit, jit_parallel, use_parallel
from motifnet.kernels._validate import check_float_array, check_shape

__all__ = [
    "attention_forward_reference", "attention_backward_reference",
    "attention_forward_into", "attention_backward_into",
    "attention_forward", "attention_backward",
]


# ----------------------------------------------------------------------------- 1. reference
def attention_forward_reference(q, k, W, bias, v):
    """(F1)-(F5) in float64: ``(context, weights)``."""
    B, H, L = k.shape
    context = np.zeros((B, H))
    weights = np.zeros((B, L))
    for b in range(B):
        s = np.zeros(L)
        for l in range(L):
            for j in range(H):
                pre = float(bias[j])                                                   # (F1)
                for i in range(H):
                    pre += float(W[j, i]) * float(q[b, i]) + float(W[j, H + i]) * float(k[b, i, l])
                s[l] += float(v[j]) * math.tanh(pre)                                   # (F2), (F3)
        e = np.array([math.exp(s_l - s.max()) for s_l in s])
        weights[b] = e / e.sum()                                                       # (F4)
        for h in range(H):
            context[b, h] = sum(weights[b, l] * float(k[b, h, l]) for l in range(L))   # (F5)
    return context, weights


def attention_backward_reference(d_context, q, k, W, bias, v):
    """(B1)-(B7) in float64: ``(dq, dk, dW, db, dv)``."""
    B, H, L = k.shape
    dq, dk, dW = np.zeros(q.shape), np.zeros(k.shape), np.zeros(W.shape)
    db, dv = np.zeros(bias.shape), np.zeros(v.shape)
    for b in range(B):
        e = np.zeros((L, H))
        for l in range(L):
            for j in range(H):
                pre = float(bias[j])
                for i in range(H):
                    pre += float(W[j, i]) * float(q[b, i]) + float(W[j, H + i]) * float(k[b, i, l])
                e[l, j] = math.tanh(pre)
        s = e @ v
        a = np.exp(s - s.max())
        a /= a.sum()
        d_a = np.zeros(L)
        for l in range(L):
            for h in range(H):
                dk[b, h, l] += a[l] * float(d_context[b, h])                          # (B1) value path
                d_a[l] += float(d_context[b, h]) * float(k[b, h, l])
        d_s = a * (d_a - (a * d_a).sum())                                            # (B2)
        for l in range(L):
            for j in range(H):
                dv[j] += d_s[l] * e[l, j]                                            # (B3)
                d_pre = d_s[l] * float(v[j]) * (1.0 - e[l, j] ** 2)                  # (B3), (B4)
                db[j] += d_pre                                                        # (B6)
                for i in range(H):
                    dW[j, i] += d_pre * float(q[b, i])                                # (B6)
                    dq[b, i] += d_pre * float(W[j, i])                                # (B6)
                    dW[j, H + i] += d_pre * float(k[b, i, l])                         # (B5)
                    dk[b, i, l] += d_pre * float(W[j, H + i])                         # (B5) key path
    return dq, dk, dW, db, dv


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above (up to the order of the float sums and tanh's
# rounding); the layout differs for the reasons in the module docstring.

# _tanh_f32's constants, as float32 (a float64 constant would turn the loop into float64):
# the input clamp; the magnitude below which x is returned as it is (tanh(x) = x to
# float32 precision there); the coefficients of p (x, x^3, ..., x^13) and q (1, x^2, ...,
# x^6), from Eigen's generic_fast_tanh_float
_TANH_CLAMP = np.float32(7.99881172180175781)  # where the rational function reaches 1
_TANH_TINY = np.float32(0.0004)
_TANH_P = tuple(np.float32(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                        5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                                        -2.76076847742355e-16))
_TANH_Q = tuple(np.float32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                        1.19825839466702e-06))


@jit
def _tanh_f32(x):
    # tanh of a float32 as a rational function (module docstring, F2).  The clamp is
    # written with comparisons, so NaN passes through to p / q and stays NaN.
    c = _TANH_CLAMP
    xc = c if x > c else (-c if x < -c else x)
    x2 = xc * xc
    p0, p1, p2, p3, p4, p5, p6 = _TANH_P
    q0, q1, q2, q3 = _TANH_Q
    p = xc * (p0 + x2 * (p1 + x2 * (p2 + x2 * (p3 + x2 * (p4 + x2 * (p5 + x2 * p6))))))
    q = q0 + x2 * (q1 + x2 * (q2 + x2 * q3))
    return x if abs(x) < _TANH_TINY else p / q


@jit
def _rows_dot_rows(A, M, out):
    # out[l, j] = sum_i A[l, i] * M[j, i]   A: (L, n)  M: (m, n)  out: (L, m), all C-contiguous.
    # Four rows of A share each load of M[j, :] (register blocking): ~1.8x faster
    # than one dot product at a time at (B, L, H) = (256, 247, 32) and at (32, 9, 32).
    L, n = A.shape
    m = M.shape[0]
    zero = A.dtype.type(0)
    l = 0
    while l + 4 <= L:
        for j in range(m):
            a0 = zero
            a1 = zero
            a2 = zero
            a3 = zero
            for i in range(n):
                w = M[j, i]
                a0 += w * A[l, i]
                a1 += w * A[l + 1, i]
                a2 += w * A[l + 2, i]
                a3 += w * A[l + 3, i]
            out[l, j] = a0
            out[l + 1, j] = a1
            out[l + 2, j] = a2
            out[l + 3, j] = a3
        l += 4
    while l < L:
        for j in range(m):
            acc = zero
            for i in range(n):
                acc += M[j, i] * A[l, i]
            out[l, j] = acc
        l += 1


@jit
def _add_cols_outer_cols(A, C, out):
    # out[j, i] += sum_l A[l, j] * C[l, i]   A: (L, m)  C: (L, n)  out: (m, n).
    # Four positions per pass over out, so each load/store of out carries four products.
    L, m = A.shape
    n = C.shape[1]
    l = 0
    while l + 4 <= L:
        for j in range(m):
            g0 = A[l, j]
            g1 = A[l + 1, j]
            g2 = A[l + 2, j]
            g3 = A[l + 3, j]
            for i in range(n):
                out[j, i] += g0 * C[l, i] + g1 * C[l + 1, i] + g2 * C[l + 2, i] + g3 * C[l + 3, i]
        l += 4
    while l < L:
        for j in range(m):
            g = A[l, j]
            for i in range(n):
                out[j, i] += g * C[l, i]
        l += 1


@jit
def _forward_rows(b0, b1, q, k, W, bias, v, context, weights, energy):
    # q: (B, H)  k: (B, H, L)  W: (H, 2H)  bias, v: (H,)
    # context: (B, H)  weights: (B, L)  energy: (B, L, H); rows b0..b1-1 are written
    H = k.shape[1]
    L = k.shape[2]
    dt = q.dtype.type
    zero = dt(0)
    one = dt(1)
    minus_two = dt(-2)
    single = q.itemsize == 4  # float32: tanh by _tanh_f32
    # (every array np.empty of 2 dimensions, a row of one for 1-D: kernels/_jit.py, "allocation")
    kT = np.empty((L, H), dtype=q.dtype)  # k[b] transposed: the sums of F1 run over contiguous memory
    W_k = np.empty((H, H), dtype=q.dtype)  # W[:, H:], contiguous: Numba vectorises only unit-stride rows
    for j in range(H):
        for i in range(H):
            W_k[j, i] = W[j, H + i]
    qproj = np.empty((1, H), dtype=q.dtype)[0]
    scores = np.empty((1, L), dtype=q.dtype)[0]
    for b in range(b0, b1):
        for i in range(H):
            for l in range(L):
                kT[l, i] = k[b, i, l]
        # F1, query part (once per sequence): qproj[j] = bias[j] + sum_i W[j, i] q[b, i]
        for j in range(H):
            acc = bias[j]
            for i in range(H):
                acc += W[j, i] * q[b, i]
            qproj[j] = acc
        # F1, key part: pre[l, j] = sum_i W[j, H + i] k[b, i, l]  (written into energy[b])
        e_b = energy[b]
        _rows_dot_rows(kT, W_k, e_b)
        for l in range(L):
            e = e_b[l]
            # F1 + F2 + F3: e = tanh(qproj + pre) (see module docstring), s[l] = v . e
            s = zero
            for j in range(H):
                x = e[j] + qproj[j]
                if single:
                    t = dt(_tanh_f32(np.float32(x)))
                else:
                    ex = math.exp(minus_two * abs(x))
                    t = (one - ex) / (one + ex)
                    t = t if x >= zero else -t
                e[j] = t
                s += v[j] * t
            scores[l] = s
        # F4: max-subtracted softmax
        m = scores[0]
        for l in range(1, L):
            if scores[l] > m:
                m = scores[l]
        total = zero
        for l in range(L):
            w = math.exp(scores[l] - m)
            weights[b, l] = w
            total += w
        for l in range(L):
            weights[b, l] = weights[b, l] / total
        # F5: context[h] = sum_l a[l] k[b, h, l]
        for h in range(H):
            acc = zero
            for l in range(L):
                acc += weights[b, l] * k[b, h, l]
            context[b, h] = acc


@jit
def _forward_serial(q, k, W, bias, v, context, weights, energy):
    _forward_rows(0, k.shape[0], q, k, W, bias, v, context, weights, energy)


@jit_parallel
def _forward_parallel(q, k, W, bias, v, context, weights, energy, n_chunks):
    # sequences are independent: each thread owns a contiguous block of rows
    B = k.shape[0]
    for c in prange(n_chunks):
        _forward_rows(c * B // n_chunks, (c + 1) * B // n_chunks, q, k, W, bias, v, context, weights, energy)


@jit
def _backward_rows(b0, b1, d_context, q, k, W, v, weights, energy, dq, dk, dW, db, dv):
    # d_context, q, dq: (B, H)  k, dk: (B, H, L)  W, dW: (H, 2H)  v, db, dv: (H,)
    # weights: (B, L)  energy: (B, L, H).  dq, dk rows b0..b1-1, dW, db, dv are ADDED to
    # (dW, db, dv: the caller's buffers, or one private set per thread).
    H = k.shape[1]
    L = k.shape[2]
    dt = q.dtype.type
    zero = dt(0)
    one = dt(1)
    # (every array np.empty of 2 dimensions, a row of one for 1-D: kernels/_jit.py, "allocation")
    kT = np.empty((L, H), dtype=q.dtype)
    dkT = np.empty((L, H), dtype=q.dtype)
    d_pre = np.empty((L, H), dtype=q.dtype)
    W_kT = np.empty((H, H), dtype=q.dtype)  # W[:, H:].T, (H_in, H_out): dkT's sums over j run over contiguous memory
    dW_k = np.empty((H, H), dtype=q.dtype)  # key half of dW, accumulated over rows b0..b1-1
    for i in range(H):
        for j in range(H):
            W_kT[i, j] = W[j, H + i]
            dW_k[i, j] = zero
    d_a = np.empty((1, L), dtype=q.dtype)[0]
    d_s = np.empty((1, L), dtype=q.dtype)[0]
    d_qproj = np.empty((1, H), dtype=q.dtype)[0]
    for b in range(b0, b1):
        for i in range(H):
            for l in range(L):
                kT[l, i] = k[b, i, l]
        # (B1): inverts F5 context[h] = sum_l a[l] k[b, h, l]:  d_a[l] = sum_h dctx[h] k[b, h, l]
        for l in range(L):
            acc = zero
            for h in range(H):
                acc += d_context[b, h] * kT[l, h]
            d_a[l] = acc
        # (B2): inverts F4 (softmax): d_s[l] = a[l] (d_a[l] - sum_m a[m] d_a[m])
        a_dot_da = zero
        for l in range(L):
            a_dot_da += weights[b, l] * d_a[l]
        for l in range(L):
            d_s[l] = weights[b, l] * (d_a[l] - a_dot_da)
        # (B3)-(B4): inverts F3 s[l] = sum_j v[j] e[l, j] and F2 e = tanh(pre): dv, d_pre = d_s v (1 - e^2)
        for j in range(H):
            d_qproj[j] = zero
        for l in range(L):
            e = energy[b, l]
            ds = d_s[l]
            for j in range(H):
                dv[j] += ds * e[j]
                g = ds * v[j] * (one - e[j] * e[j])
                d_pre[l, j] = g
                d_qproj[j] += g  # the query term of F1 is shared by all positions
        # (B6): inverts F1's query part and bias, qproj[j] = bias[j] + sum_i W[j, i] q[b, i]
        for j in range(H):
            g = d_qproj[j]
            db[j] += g
            for i in range(H):
                dW[j, i] += g * q[b, i]
                dq[b, i] += g * W[j, i]
        # (B5): inverts F1's key part, pre[l, j] += sum_i W[j, H + i] k[b, i, l]
        #   dW[j, H + i] += sum_l d_pre[l, j] k[b, i, l]   and   dkT[l, i] = sum_j d_pre[l, j] W[j, H + i]
        _add_cols_outer_cols(d_pre, kT, dW_k)
        _rows_dot_rows(d_pre, W_kT, dkT)
        # (B7): dk = value path of F5 (a[l] dctx[i]) + key path of F1
        for i in range(H):
            for l in range(L):
                dk[b, i, l] += weights[b, l] * d_context[b, i] + dkT[l, i]
    for j in range(H):
        for i in range(H):
            dW[j, H + i] += dW_k[j, i]


@jit
def _backward_serial(d_context, q, k, W, v, weights, energy, dq, dk, dW, db, dv):
    _backward_rows(0, k.shape[0], d_context, q, k, W, v, weights, energy, dq, dk, dW, db, dv)


@jit_parallel
def _backward_parallel(d_context, q, k, W, v, weights, energy, dq, dk, dW, db, dv, n_chunks):
    # dq, dk rows are independent; dW, db, dv sum over sequences, so each chunk
    # accumulates into its own slice and the slices are summed serially afterwards.
    B = k.shape[0]
    H = k.shape[1]
    # chunk c's dW in rows c*H ... c*H + H - 1 (np.empty, 2-D: kernels/_jit.py, "allocation")
    dW_part = np.empty((n_chunks * H, 2 * H), dtype=q.dtype)
    db_part = np.empty((n_chunks, H), dtype=q.dtype)
    dv_part = np.empty((n_chunks, H), dtype=q.dtype)
    for c in prange(n_chunks):
        for j in range(H):  # this chunk's zeros, by its thread
            db_part[c, j] = 0
            dv_part[c, j] = 0
            for i in range(2 * H):
                dW_part[c * H + j, i] = 0
        _backward_rows(
            c * B // n_chunks, (c + 1) * B // n_chunks, d_context, q, k, W, v, weights, energy,
            dq, dk, dW_part[c * H:(c + 1) * H], db_part[c], dv_part[c],
        )
    for c in range(n_chunks):
        for j in range(H):
            db[j] += db_part[c, j]
            dv[j] += dv_part[c, j]
            for i in range(2 * H):
                dW[j, i] += dW_part[c * H + j, i]


_forward_threads = ThreadsGate(_forward_parallel)
_backward_threads = ThreadsGate(_backward_parallel)


def _n_chunks(B: int, H: int, L: int, threads):
    """(number of parallel row blocks for a call, 1 meaning: run the serial loop nest; the
    serial run's context); ``threads``: the ThreadsGate of the parallel function the call
    would run, whose ``waiting()`` times a serial call that wanted it."""
    if B < 2 or not use_parallel(B * L * H * H):
        return 1, contextlib.nullcontext()
    if not threads.ready():
        return 1, threads.waiting()
    return min(B, numba.get_num_threads()), None


def attention_forward_into(q, k, W, bias, v, context, weights, energy):
    """Fast (F1)-(F5), unchecked: writes ``context`` (B, H), ``weights`` (B, L) and the cache
    ``energy`` (B, L, H) that ``attention_backward_into`` takes.

    All arrays C-contiguous and of one float dtype: q (B, H), k (B, H, L), W (H, 2H),
    bias (H,) (zeros when the model has none), v (H,).
    """
    B, H, L = k.shape
    n_chunks, serial_run = _n_chunks(B, H, L, _forward_threads)
    if n_chunks > 1:
        _forward_parallel(q, k, W, bias, v, context, weights, energy, n_chunks)
    else:
        with serial_run:
            _forward_serial(q, k, W, bias, v, context, weights, energy)


def attention_backward_into(d_context, q, k, W, v, weights, energy, dq, dk, dW, db, dv):
    """Fast (B1)-(B7), unchecked: ADDS into ``dq``, ``dk``, ``dW``, ``db`` and ``dv``.

    ``weights`` and ``energy`` are the forward's for the same inputs (the bias enters
    only through energy).
    """
    B, H, L = k.shape
    n_chunks, serial_run = _n_chunks(B, H, L, _backward_threads)
    if n_chunks > 1:
        _backward_parallel(d_context, q, k, W, v, weights, energy, dq, dk, dW, db, dv, n_chunks)
    else:
        with serial_run:
            _backward_serial(d_context, q, k, W, v, weights, energy, dq, dk, dW, db, dv)


# ----------------------------------------------------------------------------- 3. checked
def _check_inputs(q, k, W, b, v):
    k = check_float_array("k", k, ndim=3)
    B, H, L = k.shape
    if H < 1 or L < 1 or B < 1:
        raise ValueError(f"k must have shape (B, H, L) with B, H, L >= 1, got {k.shape}")
    check_float_array("q", q, ndim=2, dtype=k.dtype)
    check_shape("q", q, (B, H))
    check_float_array("W", W, ndim=2, dtype=k.dtype)
    check_shape("W", W, (H, 2 * H))
    check_float_array("b", b, ndim=1, dtype=k.dtype)
    check_shape("b", b, (H,))
    check_float_array("v", v, ndim=1, dtype=k.dtype)
    check_shape("v", v, (H,))


def _forward(q, k, W, b, v):
    B, H, L = k.shape
    context = np.empty((B, H), dtype=k.dtype)
    weights = np.empty((B, L), dtype=k.dtype)
    energy = np.empty((B, L, H), dtype=k.dtype)
    attention_forward_into(q, k, W, b, v, context, weights, energy)
    return context, weights, energy


def attention_forward(q, k, W, b, v):
    """Additive attention over the positions of ``k``.

    Parameters
    ----------
    q : ndarray (B, H)
        Query, one per sequence.
    k : ndarray (B, H, L)
        Keys, which are also the values, in (N, C, L) layout.
    W : ndarray (H, 2H)
        Weight of the energy layer, acting on the concatenation ``[q ; k[:, :, l]]``.
    b : ndarray (H,)
        Bias of the energy layer.
    v : ndarray (H,)
        Scoring vector.

    All arrays C-contiguous and of one dtype (float32 or float64).

    Returns
    -------
    context : ndarray (B, H)
        ``sum_l weights[:, l] * k[:, :, l]``.
    weights : ndarray (B, L)
        ``softmax_l(v . tanh(W [q ; k_l] + b))``; each row sums to 1.
    """
    _check_inputs(q, k, W, b, v)
    context, weights, _ = _forward(q, k, W, b, v)
    return context, weights


def attention_backward(d_context, q, k, W, b, v):
    """Gradients of additive attention given ``d_context`` = d loss / d context.

    Takes the forward's inputs (see ``attention_forward``) and recomputes the
    forward (the layer keeps the forward's cache instead).  ``d_context`` must be
    (B, H) of the same dtype.

    Returns
    -------
    (dq, dk, dW, db, dv), each shaped like its input.  ``dk`` sums the value
    path and the key path (keys are also values).
    """
    _check_inputs(q, k, W, b, v)
    check_float_array("d_context", d_context, ndim=2, dtype=k.dtype)
    check_shape("d_context", d_context, q.shape)
    _, weights, energy = _forward(q, k, W, b, v)
    grads = tuple(np.zeros_like(a) for a in (q, k, W, b, v))
    attention_backward_into(d_context, q, k, W, v, weights, energy, *grads)
    return grads
