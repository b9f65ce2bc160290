"""DeepLIFT through additive attention: exact rules for tanh, softmax and the products.

The attention layer (kernels/attention.py) is a chain of multi-input nonlinearities:
the softmax mixes every position's score, and the context multiplies weights by
values.  A DeepLIFT that handles them with the plain gradient (the usual fallback), or
the softmax as if it were element-wise (captum's rule rescales each output by its own
input's change, then centres the multipliers; captum #519), leaves a convergence delta
that no precision removes.  This file gives each step a
rule whose multipliers satisfy summation-to-delta exactly (kernels/relu.py,
"DeepLIFT's rescale rule", (S)): for a sequence (q, k) and its reference (q', k')

    sum_i m_q[i] dq[i] + sum_{i,l} m_k[i,l] dk[i,l] = sum_h m_ctx[h] dctx[h]              (S)

where d z = z - z' throughout and m_ctx are the context's multipliers.

Shape legend (B batch, H hidden = channels, L positions), as kernels/attention.py
------------
    q, q_ref      (B, H)       query of the sequence and of its reference
    k, k_ref      (B, H, L)    keys = values (the pooled features) of each
    W             (H, 2H)      W_q = W[:, :H], W_k = W[:, H:]
    bias, v       (H,)
    m_ctx         (B, H)       multipliers of the context
    m_q, m_k      like q, k    multipliers of the inputs (ADDED into)

Forward, per sequence (index b dropped), run for x and for x' (primed)
-------
    pre[l, j] = bias[j] + sum_i W_q[j, i] q[i] + sum_i W_k[j, i] k[i, l]                 (F1)
    e[l, j]   = tanh(pre[l, j])                                                          (F2)
    s[l]      = sum_j v[j] e[l, j]                                                       (F3)
    the softmax (F4) as four steps, with ONE shift c = max(max_l s[l], max_l s'[l]) for
    both (softmax is shift-invariant, so this is the same function of s, and with c
    shared the steps below are functions of s alone):
    u[l] = exp(s[l] - c),   S = sum_l u[l],   r = 1 / S,   a[l] = u[l] r                 (F4a-d)
    ctx[h]    = sum_l a[l] k[h, l]                                                       (F5)

Backward with multipliers, derived (F5 back to F1)
----------------------------------
Two facts make every step exact.  For a product, with z-bar = (z + z') / 2,

    a k - a' k' = a-bar (k - k') + k-bar (a - a')                                        (P)

(expand: the cross terms cancel), so a product passes m a-bar to one factor and m k-bar
to the other (the Shapley value of a two-factor product, exact, symmetric in x and x').
For a function of one variable, the secant g(z) - g(z') = sigma (z - z'),
sigma = (g(z) - g(z')) / (z - z'), is exact by definition (the rescale rule), and it is
computed without cancellation by the identities below.

    (D1) F5, a product (P) per (h, l):
             m_k[h, l] += m_ctx[h] a-bar[l]                (value path)
             m_a[l]     = sum_h m_ctx[h] k-bar[h, l]
    (D2) F4d, a = u r, a product (P):
             m_u[l] = m_a[l] r-bar,        m_r = sum_l m_a[l] u-bar[l]
    (D3) F4c, r = 1/S: 1/S - 1/S' = -(S - S') / (S S') exactly:
             m_S = -m_r / (S S')
    (D4) F4b, a sum:  m_u[l] += m_S
    (D5) F4a, the secant of exp: with d = s[l] - s'[l], u - u' = max(u, u') (1 - exp(-|d|))
         sign(d), so
             sigma[l] = max(u[l], u'[l]) * (-expm1(-|d|)) / |d|        (u[l] where d = 0)
             m_s[l]   = m_u[l] sigma[l]
         (expm1 of a non-positive number: no overflow, no cancellation at small d)
    (D6) F3, linear:  m_e[l, j] = m_s[l] v[j]
    (D7) F2, the secant of tanh: tanh(p) - tanh(p') = tanh(p - p') (1 - tanh(p) tanh(p'))
         (the subtraction formula of tanh), so with d = pre - pre'
             tau[l, j]   = (1 - e e') tanh(d) / d                      (1 - e^2 where d = 0)
             m_pre[l, j] = m_e[l, j] tau[l, j]
    (D8) F1, linear (as (B5)-(B6) of kernels/attention.py with d_pre := m_pre):
             m_k[i, l] += sum_j m_pre[l, j] W_k[j, i]                  (key path)
             m_q[i]    += sum_j (sum_l m_pre[l, j]) W_q[j, i]

Each step passes m (out) d(out) = m (in) d(in) exactly in real arithmetic, so (S) holds
up to rounding: every secant and mean is one or two roundings, and where z = z' the
multiplier is the derivative (the secant's limit), so the rule reduces to the gradient
(B1)-(B7) of kernels/attention.py as x' -> x.  No threshold anywhere.

The forward here is recomputed (F1)-(F5) in the caller's dtype with libm's tanh and
exp; the model's context comes from kernels/attention.py's fast tanh (<= 2.3 ulp(1)
apart in float32, 1.5 ulp(1) in float64), so a DeepLIFT of the whole model sees the two
differ by that rounding: a completeness error at float precision, not a rule's.

Layout of this file: 1. the reference loops, float64; 2. the fast loops (the same
loops compiled, sequences as the unit of thread parallelism) and their entry point
``attention_deeplift_backward_into``; 3. the checked entry point
``attention_deeplift_backward``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from motifnet.kernels._jit import SerialOrParallel, jit
from motifnet.kernels._validate import check_float_array, check_shape

__all__ = [
    "attention_deeplift_backward_reference",
    "attention_deeplift_backward_into",
    "attention_deeplift_backward",
]


# ----------------------------------------------------------------------------- 1. reference
def _forward_one_reference(q, k, W, bias, v):
    """(F1)-(F3) for one sequence, float64: ``(pre (L, H), e (L, H), s (L,))``."""
    H, L = k.shape
    pre, e, s = np.zeros((L, H)), np.zeros((L, H)), np.zeros(L)
    for l in range(L):
        for j in range(H):
            p = float(bias[j])
            for i in range(H):
                p += float(W[j, i]) * float(q[i]) + float(W[j, H + i]) * float(k[i, l])
            pre[l, j] = p
            e[l, j] = math.tanh(p)
            s[l] += float(v[j]) * e[l, j]
    return pre, e, s


def _exp_secant(u, u_ref, d):
    """(D5): (u - u') / d for u = exp(s - c), u' = exp(s' - c), d = s - s'."""
    if d == 0:
        return u
    return max(u, u_ref) * -math.expm1(-abs(d)) / abs(d)


def _tanh_secant(e, e_ref, d):
    """(D7): (e - e') / d for e = tanh(p), e' = tanh(p'), d = p - p'."""
    if d == 0:
        return 1.0 - e * e
    return (1.0 - e * e_ref) * math.tanh(d) / d


def attention_deeplift_backward_reference(m_ctx, q, q_ref, k, k_ref, W, bias, v):
    """(D1)-(D8) in float64: ``(m_q, m_k)``, fresh arrays."""
    B, H, L = k.shape
    m_q, m_k = np.zeros(q.shape), np.zeros(k.shape)
    for b in range(B):
        pre, e, s = _forward_one_reference(q[b], k[b], W, bias, v)
        pre_r, e_r, s_r = _forward_one_reference(q_ref[b], k_ref[b], W, bias, v)
        c = max(s.max(), s_r.max())
        u = np.array([math.exp(z - c) for z in s])                        # (F4a)
        u_r = np.array([math.exp(z - c) for z in s_r])
        S, S_r = u.sum(), u_r.sum()                                       # (F4b)
        r, r_r = 1.0 / S, 1.0 / S_r                                       # (F4c)
        a, a_r = u * r, u_r * r_r                                         # (F4d)
        m_a = np.zeros(L)
        for l in range(L):                                                # (D1)
            for h in range(H):
                m_k[b, h, l] += float(m_ctx[b, h]) * (a[l] + a_r[l]) / 2
                m_a[l] += float(m_ctx[b, h]) * (float(k[b, h, l]) + float(k_ref[b, h, l])) / 2
        m_u = m_a * (r + r_r) / 2                                         # (D2)
        m_r = float(np.sum(m_a * (u + u_r) / 2))
        m_S = -m_r / (S * S_r)                                            # (D3)
        m_u = m_u + m_S                                                   # (D4)
        m_s = np.array([m_u[l] * _exp_secant(u[l], u_r[l], s[l] - s_r[l]) for l in range(L)])  # (D5)
        m_pre_sum = np.zeros(H)
        for l in range(L):
            for j in range(H):
                m_pre = m_s[l] * float(v[j]) * _tanh_secant(e[l, j], e_r[l, j], pre[l, j] - pre_r[l, j])  # (D6), (D7)
                m_pre_sum[j] += m_pre
                for i in range(H):
                    m_k[b, i, l] += m_pre * float(W[j, H + i])            # (D8) key path
        for i in range(H):
            for j in range(H):
                m_q[b, i] += m_pre_sum[j] * float(W[j, i])               # (D8) query
    return m_q, m_k


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above, the same steps compiled; k[b] is transposed to
# (L, H) so that the sums of (F1) and (D8) run over contiguous memory.  The work, about
# 4 L H^2 multiply-adds per sequence, is that of two forwards and one backward of the
# attention layer.

@jit
def _energies(q_b, kT, W, bias, v, pre, e, s):
    # q_b: (H,)  kT: (L, H)  pre, e: (L, H) and s: (L,) written; (F1)-(F3)
    L, H = kT.shape
    zero = pre.dtype.type(0)
    for l in range(L):
        s[l] = zero
        for j in range(H):
            p = bias[j]
            for i in range(H):
                p += W[j, i] * q_b[i] + W[j, H + i] * kT[l, i]
            pre[l, j] = p
            e[l, j] = math.tanh(p)
            s[l] += v[j] * e[l, j]


def _deeplift_loops(m_ctx, q, q_ref, k, k_ref, W, bias, v, m_q, m_k):
    # m_ctx, q, q_ref: (B, H)  k, k_ref: (B, H, L)  m_q: (B, H) and m_k: (B, H, L) ADDED to
    B, H, L = k.shape
    dt = k.dtype.type
    zero, one, half = dt(0), dt(1), dt(0.5)
    for b in prange(B):  # sequences are independent; the scratch below is thread-private
        kT = np.ascontiguousarray(k[b].T)
        kT_r = np.ascontiguousarray(k_ref[b].T)
        pre = np.empty((L, H), dtype=k.dtype)
        pre_r = np.empty((L, H), dtype=k.dtype)
        e = np.empty((L, H), dtype=k.dtype)
        e_r = np.empty((L, H), dtype=k.dtype)
        s = np.empty(L, dtype=k.dtype)
        s_r = np.empty(L, dtype=k.dtype)
        _energies(q[b], kT, W, bias, v, pre, e, s)
        _energies(q_ref[b], kT_r, W, bias, v, pre_r, e_r, s_r)
        c = max(s.max(), s_r.max())
        u = np.exp(s - c)                                          # (F4a)
        u_r = np.exp(s_r - c)
        S = u.sum()                                                # (F4b)
        S_r = u_r.sum()
        r = one / S                                                # (F4c)
        r_r = one / S_r
        m_u = np.empty(L, dtype=k.dtype)
        m_r = zero
        for l in range(L):
            a_bar = half * (u[l] * r + u_r[l] * r_r)               # (F4d), mean over x, x'
            m_a = zero
            for h in range(H):                                     # (D1)
                m_k[b, h, l] += m_ctx[b, h] * a_bar
                m_a += m_ctx[b, h] * half * (kT[l, h] + kT_r[l, h])
            m_u[l] = m_a * half * (r + r_r)                        # (D2)
            m_r += m_a * half * (u[l] + u_r[l])
        m_S = -m_r / (S * S_r)                                     # (D3)
        m_pre_sum = np.zeros(H, dtype=k.dtype)
        for l in range(L):
            d = s[l] - s_r[l]                                      # (D5)
            if d == zero:
                sigma = u[l]
            else:
                sigma = max(u[l], u_r[l]) * -math.expm1(-abs(d)) / abs(d)
            m_s = (m_u[l] + m_S) * sigma                           # (D4), (D5)
            for j in range(H):
                dp = pre[l, j] - pre_r[l, j]                       # (D7)
                if dp == zero:
                    tau = one - e[l, j] * e[l, j]
                else:
                    tau = (one - e[l, j] * e_r[l, j]) * math.tanh(dp) / dp
                m_pre = m_s * v[j] * tau                           # (D6), (D7)
                m_pre_sum[j] += m_pre
                for i in range(H):
                    m_k[b, i, l] += m_pre * W[j, H + i]            # (D8) key path
        for j in range(H):
            for i in range(H):
                m_q[b, i] += m_pre_sum[j] * W[j, i]                # (D8) query


_deeplift = SerialOrParallel(_deeplift_loops)


def attention_deeplift_backward_into(m_ctx, q, q_ref, k, k_ref, W, bias, v, m_q, m_k):
    """Fast (D1)-(D8), unchecked: ADDS into ``m_q`` (B, H) and ``m_k`` (B, H, L).

    All arrays C-contiguous and of one float dtype, shaped as the legend says.
    """
    B, H, L = k.shape
    _deeplift(4 * B * L * H * H, m_ctx, q, q_ref, k, k_ref, W, bias, v, m_q, m_k)


# ----------------------------------------------------------------------------- 3. checked
def attention_deeplift_backward(m_ctx, q, q_ref, k, k_ref, W, bias, v):
    """DeepLIFT's multipliers through additive attention, exact for tanh, softmax and products.

    Parameters
    ----------
    m_ctx : ndarray (B, H), multipliers of the context
    q, q_ref : ndarrays (B, H), the query of each sequence and of its reference
    k, k_ref : ndarrays (B, H, L), the keys (= values) of each
    W, bias, v : the layer's parameters, as ``kernels.attention.attention_forward``

    All float32 or all float64, C-contiguous.

    Returns
    -------
    (m_q, m_k) : multipliers of q and k with ``sum(m_q * (q - q_ref)) + sum(m_k * (k - k_ref))
        == sum(m_ctx * (context - context_ref))`` to rounding (see (S)).
    """
    k = check_float_array("k", k, ndim=3)
    B, H, L = k.shape
    if H < 1 or L < 1 or B < 1:
        raise ValueError(f"k must have shape (B, H, L) with B, H, L >= 1, got {k.shape}")
    check_float_array("k_ref", k_ref, ndim=3, dtype=k.dtype)
    check_shape("k_ref", k_ref, k.shape)
    for name, a, shape in (("q", q, (B, H)), ("q_ref", q_ref, (B, H)), ("m_ctx", m_ctx, (B, H)),
                           ("W", W, (H, 2 * H)), ("bias", bias, (H,)), ("v", v, (H,))):
        check_float_array(name, a, ndim=len(shape), dtype=k.dtype)
        check_shape(name, a, shape)
    m_q = np.zeros_like(q)
    m_k = np.zeros_like(k)
    attention_deeplift_backward_into(m_ctx, q, q_ref, k, k_ref, W, bias, v, m_q, m_k)
    return m_q, m_k
