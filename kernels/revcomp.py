"""Reverse-complement weight tying: one set of filters scans both strands of DNA.

A transcription factor binds double-stranded DNA: its site reads the same on
either strand, once as the motif and once as the motif's reverse complement.  A
model that scans both strands with the *same* filters (DeepBind's design) learns
each motif once and sees it in either orientation.  This op turns F filters into
2F: the filters themselves, then their reverse complements, so that one
convolution over the forward strand scans both.

Shape legend
------------
    w:  (F, 4, K)     filters, channels in A, C, G, T order     dw:  (F, 4, K)
    b:  (F,)          bias                                      db:  (F,)
    w2: (2F, 4, K)    [w ; rc(w)]                               dw2: (2F, 4, K)
    b2: (2F,)         [b ; b]                                   db2: (2F,)

Why a reversed, complemented filter scans the other strand
----------------------------------------------------------
The reverse strand of x (4, L) is rc(x)[c, i] = x[3 - c, L - 1 - i] (A<->T is 0<->3,
C<->G is 1<->2).  The convolution of the reverse strand with a filter w at its
position t reads

    sum_{c,k} w[c,k] rc(x)[c, t + k] = sum_{c,k} w[c,k] x[3 - c, L - 1 - t - k]
                                     = sum_{c',k'} w[3 - c', K - 1 - k'] x[c', u + k']

with c' = 3 - c, k' = K - 1 - k and u = L - K - t: the convolution of the forward
strand with rc(w)[c, k] = w[3 - c, K - 1 - k] at position u.  So the forward strand
convolved with [w ; rc(w)] holds both strands' responses, the reverse strand's in
mirrored positions (t on the reverse strand is u = L_out - 1 - t on the forward one).

Forward
-------
    w2[f, c, k]     = w[f, c, k]                  b2[f]     = b[f]                       (F1)
    w2[F + f, c, k] = w[f, 3 - c, K - 1 - k]      b2[F + f] = b[f]                       (F2)

Backward, derived
-----------------
Each w[f, c, k] appears in w2 twice, once by (F1) and once by (F2) at
(F + f, 3 - c, K - 1 - k), each with coefficient 1; each b[f] twice likewise:

    dw[f, c, k] += dw2[f, c, k] + dw2[F + f, 3 - c, K - 1 - k]                         (B1)
    db[f]       += db2[f] + db2[F + f]                                                 (B2)

Layout of this file: 1. the reference loops, float64; 2. the fast loops and their
entry points ``revcomp_forward_into`` and ``revcomp_backward_into`` (the one contract
of every fast kernel, see ``motifnet.kernels``); 3. the checked entry points.  The
work is F * 4 * K copies: the fast loops are the reference's, compiled.
"""

from __future__ import annotations

import numpy as np

from motifnet.kernels._jit import jit
from motifnet.kernels._validate import check_float_array, check_shape

__all__ = [
    "revcomp_forward_reference", "revcomp_backward_reference",
    "revcomp_forward_into", "revcomp_backward_into",
    "revcomp_forward", "revcomp_backward",
]

ALPHABET_SIZE = 4  # A, C, G, T: the complement of channel c is 3 - c


# ----------------------------------------------------------------------------- 1. reference
def revcomp_forward_reference(w, b):
    """(F1)-(F2) in float64: ``(w2, b2)``."""
    F, C, K = w.shape
    w2, b2 = np.zeros((2 * F, C, K)), np.zeros(2 * F)
    for f in range(F):
        b2[f] = b2[F + f] = float(b[f])
        for c in range(C):
            for k in range(K):
                w2[f, c, k] = float(w[f, c, k])
                w2[F + f, c, k] = float(w[f, C - 1 - c, K - 1 - k])
    return w2, b2


def revcomp_backward_reference(dw2, db2):
    """(B1)-(B2) in float64: ``(dw, db)``."""
    F2, C, K = dw2.shape
    F = F2 // 2
    dw, db = np.zeros((F, C, K)), np.zeros(F)
    for f in range(F):
        db[f] = float(db2[f]) + float(db2[F + f])
        for c in range(C):
            for k in range(K):
                dw[f, c, k] = float(dw2[f, c, k]) + float(dw2[F + f, C - 1 - c, K - 1 - k])
    return dw, db


# ----------------------------------------------------------------------------- 2. fast
@jit
def _forward_loops(w, b, w2, b2):
    # w: (F, 4, K)  b: (F,)  w2: (2F, 4, K) and b2: (2F,) written
    F, C, K = w.shape
    for f in range(F):
        b2[f] = b[f]
        b2[F + f] = b[f]
        for c in range(C):
            for k in range(K):
                w2[f, c, k] = w[f, c, k]                      # (F1)
                w2[F + f, c, k] = w[f, C - 1 - c, K - 1 - k]  # (F2)


@jit
def _backward_loops(dw2, db2, dw, db):
    # dw2: (2F, 4, K)  db2: (2F,)  dw: (F, 4, K) and db: (F,) ADDED to
    F, C, K = dw.shape
    for f in range(F):
        db[f] += db2[f] + db2[F + f]  # (B2)
        for c in range(C):
            for k in range(K):
                dw[f, c, k] += dw2[f, c, k] + dw2[F + f, C - 1 - c, K - 1 - k]  # (B1)


def revcomp_forward_into(w, b, w2, b2):
    """Fast (F1)-(F2), unchecked: writes ``w2`` (2F, 4, K) and ``b2`` (2F,)."""
    _forward_loops(w, b, w2, b2)


def revcomp_backward_into(dw2, db2, dw, db):
    """Fast (B1)-(B2), unchecked: ADDS into ``dw`` (F, 4, K) and ``db`` (F,)."""
    _backward_loops(dw2, db2, dw, db)


# ----------------------------------------------------------------------------- 3. checked
def _check_w_b(w, b):
    check_float_array("w", w, ndim=3)
    if w.shape[1] != ALPHABET_SIZE or w.shape[0] < 1 or w.shape[2] < 1:
        raise ValueError(f"w must have shape (F, 4, K) (filters over A, C, G, T), got {w.shape}")
    check_float_array("b", b, ndim=1, dtype=w.dtype)
    check_shape("b", b, (w.shape[0],))


def revcomp_forward(w: np.ndarray, b: np.ndarray):
    """Filters and their reverse complements: ``(w2, b2)`` = ``([w ; rc(w)], [b ; b])``.

    Parameters
    ----------
    w : ndarray (F, 4, K), float32 or float64, C-contiguous; channels A, C, G, T
    b : ndarray (F,) of ``w``'s dtype

    Returns
    -------
    w2 : ndarray (2F, 4, K), ``w2[F + f, c, k] = w[f, 3 - c, K - 1 - k]``
    b2 : ndarray (2F,)
    """
    _check_w_b(w, b)
    F, C, K = w.shape
    w2, b2 = np.empty((2 * F, C, K), dtype=w.dtype), np.empty(2 * F, dtype=w.dtype)
    revcomp_forward_into(w, b, w2, b2)
    return w2, b2


def revcomp_backward(dw2: np.ndarray, db2: np.ndarray):
    """Gradients of ``revcomp_forward`` with respect to w and b: ``(dw, db)``."""
    check_float_array("dw2", dw2, ndim=3)
    if dw2.shape[0] % 2 or dw2.shape[0] < 2 or dw2.shape[1] != ALPHABET_SIZE:
        raise ValueError(f"dw2 must have shape (2F, 4, K), got {dw2.shape}")
    check_float_array("db2", db2, ndim=1, dtype=dw2.dtype)
    check_shape("db2", db2, (dw2.shape[0],))
    F = dw2.shape[0] // 2
    dw, db = np.zeros((F,) + dw2.shape[1:], dtype=dw2.dtype), np.zeros(F, dtype=dw2.dtype)
    revcomp_backward_into(dw2, db2, dw, db)
    return dw, db
