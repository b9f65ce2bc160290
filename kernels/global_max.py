"""Masked global max over positions and strands, forward and backward.

The position-invariant model asks of each filter one question: how well does it
match *anywhere* in the sequence, on either strand?  That is a max over every
position of the sequence (not of its padding) and over both strands' responses.
Sequences of different lengths share a batch: each has its own number of valid
positions, and the max never sees the positions past it.

Shape legend
------------
    x:       (B, G*F, L)   responses of G groups of F channels (G = 2: channels
                           [0, F) are the forward strand's, [F, 2F) the reverse
                           strand's, see kernels/revcomp.py), L positions
    n_valid: (B,) int64    valid positions of each sequence, 1 <= n_valid[b] <= L
    y:       (B, F)        dy: (B, F)
    argmax:  (B, F) int64  flat index g*L + t of each maximum
    dx:      (B, G*F, L)

Forward
-------
    y[b, f]      = max over g < G, t < n_valid[b] of x[b, g*F + f, t]                   (F1)
    argmax[b, f] = g*L + t of that maximum                                             (F2)

Ties go to the first maximum in the order (g, t) (torch's ``max(dim)``); a NaN wins
(and of several the last), so NaN propagates.

Backward, derived
-----------------
y[b, f] = x[b, g*F + f, t] for the (g, t) that (F2) names, and moving any other
element a little does not change the maximum (where it is unique), so the gradient
goes to that one element, with coefficient 1:

    dx[b, g*F + f, t] += dy[b, f]    where g*L + t = argmax[b, f]                       (B1)

Positions past n_valid[b] never receive a gradient: padding cannot matter.

How the fast loops compute exactly (F1)-(B1), and why
-----------------------------------------------------
A max-and-argmax over a row is a loop-carried select that LLVM does not vectorise
(without assuming "no NaNs", which we do not), and neither does it vectorise running
maxima kept in a small array of lanes (it unrolls them into scalar maxss: 1 element per
ns).  What it does vectorise is an element-wise loop over a long array.  So each
(sequence, filter) takes three vectorised passes over its valid positions, in a buffer
``acc`` of one row:

1. acc[t] = max over the groups of x[g*F + f, t] (element-wise), and whether any value
   is NaN (an integer OR, which vectorises);
2. the maximum m of acc, by folding it in halves, acc[t] = max(acc[t], acc[t + off]),
   each fold element-wise, down to 16 values reduced one by one;
3. the first position holding m: in group order, the smallest t with x[g*F + f, t] == m
   (an integer min over ``t if x == m else n``, which vectorises), the first group with a
   hit giving the flat index g*L + t: (F2)'s smallest index among equal values.

y is then read at that index (so -0.0 and 0.0, equal to the comparisons, come out as
the reference's).  A row with a NaN takes a scalar path: the last NaN in flat order, as
the reference's "a NaN always takes over".  At the deepbind model's B=32 x 64 x 386 this
took 0.32 ms against 1.09 ms for the lanes it replaced (3.4x; 4.5x at L=200; 1.8x at
256 x 64 x 986, where reading x from memory dominates; 1 thread, medians of 21).
Sequences are independent: the unit of thread parallelism.

DeepLIFT's max rule: multipliers whose contributions sum exactly to the change of the max
---------------------------------------------------------------------------------------
DeepLIFT passes multipliers m backward (kernels/relu.py, "DeepLIFT's rescale rule") with

    sum_{g,t} m_x[b, g*F + f, t] (x - x')[b, g*F + f, t] = m_y[b, f] (y - y')[b, f]       (S)

for a reference input x' and y' its (F1).  This is kernels/maxpool1d.py's rule, the
window being all valid positions of both strands.  With (g, t) = argmax[b, f] and
(g', t') = argmax_ref[b, f] (the references' (F2)), drop b, f:

    dy  = x[g, t] - x'[g', t']
    d_a = x[g, t]   - x'[g, t]        the change at x's maximum
    d_b = x[g', t'] - x'[g', t']      the change at the reference's maximum

and since x[g, t] >= x[g', t'] and x'[g', t'] >= x'[g, t], d_a >= dy >= d_b, so

    dy = lam d_a + (1 - lam) d_b,      lam = (dy - d_b) / (d_a - d_b) in [0, 1]           (D1)
    m_x[g*F + f, t]   += lam       * m_y[f]                                              (D2)
    m_x[g'*F + f, t'] += (1 - lam) * m_y[f]

(lam = 1 when the two maxima are the same element, the gradient (B1), or when
d_a = d_b).  The plain gradient credits d_a, which misses dy by x'[g', t'] - x'[g, t]
whenever the reference's best match is elsewhere: for a global max over a few hundred
positions that is almost always, so it is the rule that matters most in this model.
Padding is seen by neither maximum, so it gets no multiplier.

Layout of this file: 1. the reference loops, float64; 2. the fast loops and their
entry points ``global_max_forward_into`` and ``global_max_backward_into`` (the one
contract of every fast kernel, see ``motifnet.kernels``); 3. the checked entry points;
then DeepLIFT's rule (D1)-(D2) in the same three parts:
``global_max_deeplift_backward_reference``, ``global_max_deeplift_backward_into``,
``global_max_deeplift_backward``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from motifnet.kernels._jit import SerialOrParallel
from motifnet.kernels._validate import check_float_array, check_int

__all__ = [
    "global_max_forward_reference", "global_max_backward_reference",
    "global_max_forward_into", "global_max_backward_into",
    "global_max_forward", "global_max_backward",
    "global_max_deeplift_backward_reference", "global_max_deeplift_backward_into",
    "global_max_deeplift_backward",
]


# ----------------------------------------------------------------------------- 1. reference
def global_max_forward_reference(x, n_valid, groups):
    """(F1)-(F2), one (sequence, channel) at a time, in float64: ``(y, argmax)``."""
    B, GF, L = x.shape
    F = GF // groups
    y = np.zeros((B, F))
    argmax = np.zeros((B, F), dtype=np.int64)
    for b in range(B):
        for f in range(F):
            best, best_i = -math.inf, -1
            for g in range(groups):
                for t in range(int(n_valid[b])):
                    v = float(x[b, g * F + f, t])
                    if best_i < 0 or v > best or math.isnan(v):
                        best, best_i = v, g * L + t
            y[b, f], argmax[b, f] = best, best_i
    return y, argmax


def global_max_backward_reference(dy, argmax, groups, length):
    """(B1) in float64: ``dx`` (B, groups*F, length)."""
    B, F = dy.shape
    dx = np.zeros((B, groups * F, length))
    for b in range(B):
        for f in range(F):
            g, t = divmod(int(argmax[b, f]), length)
            dx[b, g * F + f, t] += float(dy[b, f])
    return dx


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above; the three passes are explained in the module docstring.

def _forward_loops(x, n_valid, groups, y, argmax):
    # x: (B, G*F, L)  n_valid: (B,)  y: (B, F) and argmax: (B, F) written
    B, GF, L = x.shape
    F = GF // groups
    for b in prange(B):  # sequences are independent
        acc = np.empty(L, dtype=x.dtype)  # thread-private: the max over groups, then folded
        n = n_valid[b]
        for f in range(F):
            # 1. element-wise max over the groups, and whether there is a NaN
            row = x[b, f]
            nan = 0
            for t in range(n):
                v = row[t]
                nan |= v != v
                acc[t] = v
            for g in range(1, groups):
                row = x[b, g * F + f]
                for t in range(n):
                    u = acc[t]  # both operands loaded first: a lazy select is a branch
                    v = row[t]
                    nan |= v != v
                    acc[t] = v if v > u else u
            # 2. the maximum m, folding acc in halves
            h = n
            while h > 16:
                half = h // 2
                off = h - half
                for t in range(half):
                    u = acc[t]
                    v = acc[t + off]
                    acc[t] = v if v > u else u
                h = off
            m = acc[0]
            for t in range(1, h):
                v = acc[t]
                m = v if v > m else m
            # 3. the flat index of the first m (of the last NaN if there is one)
            idx = -1
            if nan:
                for g in range(groups - 1, -1, -1):
                    row = x[b, g * F + f]
                    for t in range(n - 1, -1, -1):
                        if row[t] != row[t]:
                            idx = g * L + t
                            break
                    if idx >= 0:
                        break
            else:
                for g in range(groups):
                    row = x[b, g * F + f]
                    first = n
                    for t in range(n):
                        c = t if row[t] == m else n
                        first = c if c < first else first
                    if first < n:
                        idx = g * L + first
                        break
            argmax[b, f] = idx
            g = idx // L
            y[b, f] = x[b, g * F + f, idx - g * L]


def _backward_loops(dy, argmax, dx):
    # dy: (B, F)  argmax: (B, F)  dx: (B, G*F, L) ADDED to
    B, F = dy.shape
    L = dx.shape[2]
    for b in prange(B):
        for f in range(F):
            a = argmax[b, f]
            g = a // L
            dx[b, g * F + f, a - g * L] += dy[b, f]  # (B1)


_forward = SerialOrParallel(_forward_loops)
_backward = SerialOrParallel(_backward_loops)


def global_max_forward_into(x, n_valid, groups, y, argmax):
    """Fast (F1)-(F2), unchecked: writes ``y`` (B, F) and ``argmax`` (B, F) int64.

    x (B, groups*F, L) C-contiguous float; n_valid (B,) int64 with 1 <= n_valid[b] <= L.
    """
    _forward(x.size, x, n_valid, groups, y, argmax)


def global_max_backward_into(dy, argmax, dx):
    """Fast (B1), unchecked: ADDS ``dy`` into ``dx`` (B, groups*F, L) at the forward's maxima."""
    _backward(dy.size * 64, dy, argmax, dx)


# ----------------------------------------------------------------------------- 3. checked
def _check_n_valid(n_valid, B, L):
    if not isinstance(n_valid, np.ndarray) or n_valid.dtype != np.int64 or n_valid.shape != (B,):
        got = f"{n_valid.dtype} array of shape {n_valid.shape}" if isinstance(n_valid, np.ndarray) \
            else type(n_valid).__name__
        raise TypeError(f"n_valid must be a ({B},) int64 array (valid positions per sequence), got {got}")
    if B and (n_valid.min() < 1 or n_valid.max() > L):
        raise ValueError(f"n_valid must lie in [1, {L}] (every sequence needs a valid position, none "
                         f"past x's length), got values in [{n_valid.min()}, {n_valid.max()}]")


def global_max_forward(x: np.ndarray, n_valid: np.ndarray | None = None, groups: int = 1):
    """Max of each channel over the valid positions and the channel groups (strands).

    Parameters
    ----------
    x : ndarray (B, groups*F, L), float32 or float64, C-contiguous
    n_valid : int64 ndarray (B,), the number of valid positions of each sequence (the max
        ignores positions past it); None: all L
    groups : int >= 1, channel groups reduced together (2 for both strands)

    Returns
    -------
    y : ndarray (B, F), x's dtype
    argmax : int64 ndarray (B, F), flat index g*L + t of each maximum
    """
    check_float_array("x", x, ndim=3)
    groups = check_int("groups", groups, 1)
    B, GF, L = x.shape
    if GF % groups or GF == 0 or L == 0:
        raise ValueError(f"x must have shape (B, groups * F, L) with F, L >= 1; got {x.shape} for "
                         f"groups={groups}")
    if n_valid is None:
        n_valid = np.full(B, L, dtype=np.int64)
    _check_n_valid(n_valid, B, L)
    y = np.empty((B, GF // groups), dtype=x.dtype)
    argmax = np.empty((B, GF // groups), dtype=np.int64)
    global_max_forward_into(x, n_valid, groups, y, argmax)
    return y, argmax


def global_max_backward(dy: np.ndarray, argmax: np.ndarray, groups: int, length: int) -> np.ndarray:
    """Gradient of ``global_max_forward`` with respect to x: ``dx`` (B, groups*F, length)."""
    check_float_array("dy", dy, ndim=2)
    groups = check_int("groups", groups, 1)
    length = check_int("length", length, 1)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64 or argmax.shape != dy.shape:
        raise TypeError(f"argmax must be the int64 array of dy's shape {dy.shape} from global_max_forward")
    if argmax.size and (argmax.min() < 0 or argmax.max() >= groups * length):
        raise ValueError(f"argmax must lie in [0, {groups * length}) for groups={groups}, length={length}")
    dx = np.zeros((dy.shape[0], groups * dy.shape[1], length), dtype=dy.dtype)
    global_max_backward_into(dy, argmax, dx)
    return dx


# ----------------------------------------------------------------------------- DeepLIFT: 1. reference
def global_max_deeplift_backward_reference(m_y, x, x_ref, argmax, argmax_ref, groups):
    """(D1)-(D2) one (sequence, channel) at a time, in float64: ``m_x`` (B, groups*F, L).

    m_y: (B, F) multipliers of the output; x, x_ref: (B, groups*F, L) the inputs for the
    sequences and for their references; argmax, argmax_ref: their (F2).
    """
    B, F = m_y.shape
    L = x.shape[2]
    m_x = np.zeros(x.shape)
    for b in range(B):
        for f in range(F):
            g, t = divmod(int(argmax[b, f]), L)
            g_ref, t_ref = divmod(int(argmax_ref[b, f]), L)
            ca, cb = g * F + f, g_ref * F + f
            dy = float(x[b, ca, t]) - float(x_ref[b, cb, t_ref])
            d_a = float(x[b, ca, t]) - float(x_ref[b, ca, t])
            d_b = float(x[b, cb, t_ref]) - float(x_ref[b, cb, t_ref])
            lam = 1.0
            if (ca, t) != (cb, t_ref) and d_a - d_b > 0:
                lam = min(1.0, max(0.0, (dy - d_b) / (d_a - d_b)))
            m_x[b, ca, t] += lam * float(m_y[b, f])
            m_x[b, cb, t_ref] += (1.0 - lam) * float(m_y[b, f])
    return m_x


# ----------------------------------------------------------------------------- DeepLIFT: 2. fast
# Computes exactly the reference above, sequences as the unit of thread parallelism.

def _deeplift_backward_loops(m_y, x, x_ref, argmax, argmax_ref, m_x):
    # m_y: (B, F)  x, x_ref: (B, G*F, L)  argmax, argmax_ref: (B, F)  m_x: (B, G*F, L) ADDED to
    B, F = m_y.shape
    L = x.shape[2]
    zero = m_y.dtype.type(0)
    one = m_y.dtype.type(1)
    for b in prange(B):
        for f in range(F):
            i = argmax[b, f]
            i_ref = argmax_ref[b, f]
            g = i // L
            g_ref = i_ref // L
            ca, ta = g * F + f, i - g * L
            cb, tb = g_ref * F + f, i_ref - g_ref * L
            m = m_y[b, f]
            if i == i_ref:  # lam = 1: the gradient (B1)
                m_x[b, ca, ta] += m
                continue
            dy = x[b, ca, ta] - x_ref[b, cb, tb]
            d_a = x[b, ca, ta] - x_ref[b, ca, ta]
            d_b = x[b, cb, tb] - x_ref[b, cb, tb]
            spread = d_a - d_b
            lam = one
            if spread > zero:  # (D1)
                lam = min(one, max(zero, (dy - d_b) / spread))
            m_x[b, ca, ta] += lam * m  # (D2)
            m_x[b, cb, tb] += (one - lam) * m


_deeplift_backward = SerialOrParallel(_deeplift_backward_loops)


def global_max_deeplift_backward_into(m_y, x, x_ref, argmax, argmax_ref, m_x):
    """Fast (D1)-(D2), unchecked: ADDS the input's multipliers into ``m_x`` (B, groups*F, L).

    x, x_ref: the inputs for the sequences and their references; argmax, argmax_ref: the
    (F2) of each (``global_max_forward_into``'s, which fixes the groups); all C-contiguous,
    floats of one dtype.
    """
    _deeplift_backward(m_y.size * 64, m_y, x, x_ref, argmax, argmax_ref, m_x)


# ----------------------------------------------------------------------------- DeepLIFT: 3. checked
def global_max_deeplift_backward(m_y: np.ndarray, x: np.ndarray, x_ref: np.ndarray,
                                 n_valid: np.ndarray | None = None, groups: int = 1) -> np.ndarray:
    """DeepLIFT's max rule (D1)-(D2) through the masked global max.

    Parameters
    ----------
    m_y : ndarray (B, F), float32 or float64: multipliers of the output
    x, x_ref : ndarrays (B, groups*F, L) of m_y's dtype: the inputs for the sequences and
        for their references (each reference has its sequence's valid positions)
    n_valid, groups : as ``global_max_forward``

    Returns
    -------
    m_x : ndarray (B, groups*F, L); ``sum(m_x * (x - x_ref))`` equals
        ``sum(m_y * (y - y_ref))`` to rounding; 0 past each sequence's valid positions.
    """
    check_float_array("m_y", m_y, ndim=2)
    check_float_array("x", x, ndim=3, dtype=m_y.dtype)
    check_float_array("x_ref", x_ref, ndim=3, dtype=m_y.dtype)
    if x_ref.shape != x.shape:
        raise ValueError(f"x_ref must have the shape of x {x.shape}, got {x_ref.shape}")
    y, argmax = global_max_forward(x, n_valid, groups)
    _, argmax_ref = global_max_forward(x_ref, n_valid, groups)
    if m_y.shape != y.shape:
        raise ValueError(f"m_y must have the output's shape {y.shape}, got {m_y.shape}")
    m_x = np.zeros_like(x)
    global_max_deeplift_backward_into(m_y, x, x_ref, argmax, argmax_ref, m_x)
    return m_x
