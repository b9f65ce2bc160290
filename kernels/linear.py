"""Fully connected layer ``y = x W^T + b``, forward and backward, torch's layouts.

Shape legend
------------
    x:  (..., I)    any leading batch shape; the kernels see the 2-D view (N, I),
                    N = product of the leading sizes
    w:  (O, I)      torch.nn.Linear's weight layout (out, in)
    b:  (O,)
    y:  (..., O)    dy: (..., O)   dx: (..., I)   dw: (O, I)   db: (O,)

Forward
-------
    y[n,o] = b[o] + sum_i x[n,i] * w[o,i]                                               (F1)

Backward, derived
-----------------
L is the loss and dy[n,o] = dL/dy[n,o] is given.  b[o] appears in every row's
output o with coefficient 1; w[o,i] in every row's output o with coefficient
x[n,i]; x[n,i] in every output o of row n with coefficient w[o,i]:

    db[o]   += sum_n dy[n,o]                                                            (B1)
    dw[o,i] += sum_n dy[n,o] * x[n,i]          (dw = dy^T x)                            (B2)
    dx[n,i] += sum_o dy[n,o] * w[o,i]          (dx = dy w)                              (B3)

How the fast loops compute exactly (F1)-(B3), and why
-----------------------------------------------------
No BLAS: explicit loops whose innermost loop runs along a contiguous row, so LLVM
vectorises it (the fastmath set in ``_jit`` allows reassociating the sums).  Every
product is computed in tiles of 4 x 4: the forward keeps 16 sums y[n..n+3, o..o+3]
in registers while it reads 4 rows of x and 4 rows of w (8 loads per 16
multiply-adds, where one x row against one w row is 2 per 1, and the earlier 4 rows
of x per w row 5 per 4); dx[n..n+3, :] and dw[o..o+3, block] take 4 x 4 terms per
read-modify-write of each of their 4 rows.  Tiles past N or O are padded, not cut:
their missing rows of x and w read a zero row, dy is copied into a zero-padded
(N4, O4) array, and the rows of dx and dw that do not exist are written into a
scratch row that nothing reads.  So every tile runs the same loop (no remainder
loops to compile), and a padded term is 0 * 0, never 0 * w (which would turn an
infinite weight's infinite gradient into NaN).  Measured at the CNN's fc1 (batch 32,
16 outputs; 1 thread, 4 varying inputs, minima of 9 interleaved rounds, load ~1):

    in_features                 7904 (L=1000)     1504 (L=200)     288 (L=50)
    forward   before -> tiles   191 -> 82 us      29 -> 17 us      6.2 -> 3.9 us
    backward  before -> tiles   322 -> 226 us     62 -> 45 us      11.8 -> 11.5 us

(before: 4 rows of x per weight row in the forward, 8 weight rows per pass over a
row of dx, 4 rows of x per pass over a block of dw).  At the heads' tiny shapes
(16 -> 1, 32 -> 32) both take 1-5 us.  The two input gradients are one product,
out[r, :] += sum_s coef[r, s] src[s, :] (dx = dy w, dw = dy^T x), so one compiled
function computes both (``_add_tile_products``): the backward compiled in 1.06 s
instead of 1.41 s with a loop nest each (which ran 201 us at L=1000).  Output row
tiles are independent slices, the unit of thread parallelism.

Layout of this file: 1. the reference loops, plain, float64; 2. the fast loops and
their entry points ``linear_forward_into`` and ``linear_backward_into`` (the one
contract of every fast kernel, see ``motifnet.kernels``); 3. the checked entry points.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from motifnet.kernels._jit import SerialOrParallel, jit
from motifnet.kernels._validate import check_float_array, check_shape

__all__ = [
    "linear_forward_reference", "linear_backward_reference",
    "linear_forward_into", "linear_backward_into",
    "linear_forward", "linear_backward",
]


# ----------------------------------------------------------------------------- 1. reference
def linear_forward_reference(x, w, bias):
    """(F1), one output element at a time, in float64: ``y`` (..., O).  ``bias`` may be None."""
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    y = np.zeros((x2.shape[0], w.shape[0]))
    for n in range(x2.shape[0]):
        for o in range(w.shape[0]):
            acc = 0.0 if bias is None else float(bias[o])
            for i in range(w.shape[1]):
                acc += float(w[o, i]) * float(x2[n, i])
            y[n, o] = acc
    return y.reshape(lead + (w.shape[0],))


def linear_backward_reference(dy, x, w):
    """(B1)-(B3) in float64: ``(dx, dw, db)``, visiting every term of (F1) once."""
    x2 = x.reshape(-1, x.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    dx = np.zeros(x2.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(w.shape[0])
    for n in range(x2.shape[0]):
        for o in range(w.shape[0]):
            g = float(dy2[n, o])
            db[o] += g                                   # (B1)
            for i in range(w.shape[1]):
                dw[o, i] += g * float(x2[n, i])          # (B2)
                dx[n, i] += g * float(w[o, i])           # (B3)
    return dx.reshape(x.shape), dw, db


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above (up to the order of the float sums); the
# layout differs for the reasons in the module docstring.

# The input gradients are computed in column blocks of this many inputs: a (4, 256)
# tile of dx or dw stays in L1 while the rows of w or x stream past it.
_DW_BLOCK = 256


def _forward_loops(x, w, bias, y):
    # x: (N, I)  w: (O, I)  bias: (O,)  y: (N, O) written
    # (F1) in 4 x 4 tiles: y[n..n+3, o..o+3] summed in 16 registers over i.
    N, I = x.shape
    O = w.shape[0]
    zero = x.dtype.type(0)
    zrow = np.empty((1, I), dtype=x.dtype)[0]  # the rows of x and w past N and O (_jit: "allocation")
    for i in range(I):
        zrow[i] = zero
    for q in prange((N + 3) // 4):  # independent tiles of output rows
        n = 4 * q
        x0 = x[n]
        x1 = x[n + 1] if n + 1 < N else zrow
        x2 = x[n + 2] if n + 2 < N else zrow
        x3 = x[n + 3] if n + 3 < N else zrow
        for o in range(0, O, 4):
            w0 = w[o]
            w1 = w[o + 1] if o + 1 < O else zrow
            w2 = w[o + 2] if o + 2 < O else zrow
            w3 = w[o + 3] if o + 3 < O else zrow
            a00 = a01 = a02 = a03 = a10 = a11 = a12 = a13 = zero
            a20 = a21 = a22 = a23 = a30 = a31 = a32 = a33 = zero
            for i in range(I):  # contiguous in x and w: vectorised
                p0 = x0[i]
                p1 = x1[i]
                p2 = x2[i]
                p3 = x3[i]
                u = w0[i]
                a00 += p0 * u
                a10 += p1 * u
                a20 += p2 * u
                a30 += p3 * u
                u = w1[i]
                a01 += p0 * u
                a11 += p1 * u
                a21 += p2 * u
                a31 += p3 * u
                u = w2[i]
                a02 += p0 * u
                a12 += p1 * u
                a22 += p2 * u
                a32 += p3 * u
                u = w3[i]
                a03 += p0 * u
                a13 += p1 * u
                a23 += p2 * u
                a33 += p3 * u
            tile = ((a00, a01, a02, a03), (a10, a11, a12, a13), (a20, a21, a22, a23), (a30, a31, a32, a33))
            for j in range(4 if N - n > 4 else N - n):
                for m in range(4 if O - o > 4 else O - o):
                    y[n + j, o + m] = tile[j][m] + bias[o + m]


@jit
def _add_tile_products(out, coef, src, q, zrow, sink):
    # out: (R, I) ADDED to, rows 4q..4q+3: out[r, :] += sum_s coef[r, s] src[s, :]
    # coef: (R4, S4) zero-padded; src: (S, I); zrow: (I,) zeros; sink: (3, I) scratch rows,
    # one per output row that may lie past R (one row for all three would alias the loop's
    # outputs, and LLVM's runtime alias check then runs the scalar loop: linear's backward
    # at N = 1 took 30 us against 8 us at N = 4).
    # Both input gradients are this product: (B3) dx = dy w (coef = dy, src = w) and
    # (B2) dw = dy^T x (coef = dy^T, src = x).  In blocks of _DW_BLOCK inputs, so the 4
    # output rows' block stays in L1 while every src row streams past it.
    R, I = out.shape
    S = src.shape[0]
    S4 = coef.shape[1]
    r = 4 * q
    for i0 in range(0, I, _DW_BLOCK):
        i1 = I if i0 + _DW_BLOCK > I else i0 + _DW_BLOCK
        e0 = out[r, i0:i1]
        e1 = out[r + 1, i0:i1] if r + 1 < R else sink[0, i0:i1]
        e2 = out[r + 2, i0:i1] if r + 2 < R else sink[1, i0:i1]
        e3 = out[r + 3, i0:i1] if r + 3 < R else sink[2, i0:i1]
        for s in range(0, S4, 4):
            v0 = src[s, i0:i1]
            v1 = src[s + 1, i0:i1] if s + 1 < S else zrow[i0:i1]
            v2 = src[s + 2, i0:i1] if s + 2 < S else zrow[i0:i1]
            v3 = src[s + 3, i0:i1] if s + 3 < S else zrow[i0:i1]
            c00, c01, c02, c03 = coef[r, s], coef[r, s + 1], coef[r, s + 2], coef[r, s + 3]
            c10, c11, c12, c13 = coef[r + 1, s], coef[r + 1, s + 1], coef[r + 1, s + 2], coef[r + 1, s + 3]
            c20, c21, c22, c23 = coef[r + 2, s], coef[r + 2, s + 1], coef[r + 2, s + 2], coef[r + 2, s + 3]
            c30, c31, c32, c33 = coef[r + 3, s], coef[r + 3, s + 1], coef[r + 3, s + 2], coef[r + 3, s + 3]
            for i in range(i1 - i0):  # contiguous: vectorised
                u0 = v0[i]
                u1 = v1[i]
                u2 = v2[i]
                u3 = v3[i]
                e0[i] += (c00 * u0 + c01 * u1) + (c02 * u2 + c03 * u3)
                e1[i] += (c10 * u0 + c11 * u1) + (c12 * u2 + c13 * u3)
                e2[i] += (c20 * u0 + c21 * u1) + (c22 * u2 + c23 * u3)
                e3[i] += (c30 * u0 + c31 * u1) + (c32 * u2 + c33 * u3)


def _backward_loops(dy, x, w, dx, dw, db, need_dx):
    # dy: (N, O)  x: (N, I)  w: (O, I); dx: (N, I) (if need_dx), dw: (O, I), db: (O,) ADDED to
    N, I = x.shape
    O = w.shape[0]
    N4, O4 = (N + 3) // 4 * 4, (O + 3) // 4 * 4
    zero = x.dtype.type(0)
    # (_jit: "allocation": np.empty, 2-D, is the one allocation the kernels compile)
    g = np.empty((N4, O4), dtype=dy.dtype)   # dy, zero-padded to whole tiles
    gT = np.empty((O4, N4), dtype=dy.dtype)  # and its transpose
    for n in range(N4):
        for o in range(O4):
            v = dy[n, o] if n < N and o < O else zero
            g[n, o] = v
            gT[o, n] = v
    zrow = np.empty((1, I), dtype=x.dtype)[0]  # the rows of x and w past N and O
    for i in range(I):
        zrow[i] = zero
    sink = np.empty((3, I), dtype=x.dtype)  # the rows of dx and dw past N and O: written, never read
    if need_dx:
        for q in prange(N4 // 4):  # (B3): dx[n, :] += sum_o dy[n,o] w[o, :]; row tiles are independent
            _add_tile_products(dx, g, w, q, zrow, sink)
    for q in prange(O4 // 4):  # (B2): dw[o, :] += sum_n dy[n,o] x[n, :]
        _add_tile_products(dw, gT, x, q, zrow, sink)
    for n in range(N):  # (B1)
        for o in range(O):
            db[o] += dy[n, o]


# measured serial nanoseconds per multiply-add (1 thread, 4 x 4 tiles): the threshold for
# threads is a time (_jit.use_threads)
_forward = SerialOrParallel(_forward_loops, ns_per_work=0.02)
_backward = SerialOrParallel(_backward_loops, ns_per_work=0.025)  # per product of dx or dw
_EMPTY = {np.dtype(np.float32): np.zeros((0, 0), np.float32), np.dtype(np.float64): np.zeros((0, 0), np.float64)}


def linear_forward_into(x, w, bias, y):
    """Fast (F1), unchecked: writes ``y`` (N, O).  x (N, I), w (O, I), bias (O,) (zeros for
    no bias), y: C-contiguous 2-D views of one float dtype."""
    _forward(x.shape[0] * w.size, x, w, bias, y)


def linear_backward_into(dy, x, w, dx, dw, db):
    """Fast (B1)-(B3), unchecked: ADDS into ``dx`` (N, I) (skipped when None), ``dw`` and ``db``."""
    need_dx = dx is not None
    _backward((2 if need_dx else 1) * x.shape[0] * w.size, dy, x, w, dx if need_dx else _EMPTY[x.dtype], dw, db, need_dx)


# ----------------------------------------------------------------------------- 3. checked
def _check_x_w(x, w):
    check_float_array("x", x)
    if x.ndim < 1:
        raise ValueError("x must have at least 1 dimension (..., in_features), got a 0-d array")
    check_float_array("w", w, ndim=2, dtype=x.dtype)
    if x.shape[-1] != w.shape[1]:
        raise ValueError(f"x's last dimension ({x.shape[-1]}) must equal w's in_features "
                         f"(w.shape[1] = {w.shape[1]}); w has torch's (out, in) layout")


def linear_forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Affine map over the last axis, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    x : ndarray (..., in), float32 or float64, C-contiguous
    w : ndarray (out, in), ``x``'s dtype
    bias : ndarray (out,) of ``x``'s dtype, or None for no bias

    Returns
    -------
    y : ndarray (..., out), ``y = x @ w.T + bias``
    """
    _check_x_w(x, w)
    out_features, in_features = w.shape
    if bias is None:
        bias = np.zeros(out_features, dtype=x.dtype)
    else:
        check_float_array("bias", bias, ndim=1, dtype=x.dtype)
        check_shape("bias", bias, (out_features,))
    lead = x.shape[:-1]
    n_rows = math.prod(lead)
    y = np.empty((n_rows, out_features), dtype=x.dtype)
    linear_forward_into(x.reshape(n_rows, in_features), w, bias, y)
    return y.reshape(lead + (out_features,))


def linear_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, need_dx: bool = True):
    """Gradients of ``y = x @ w.T + bias`` with respect to x, w and bias.

    Parameters
    ----------
    dy : ndarray (..., out), gradient of the loss with respect to y
    x : ndarray (..., in), the forward's input (same leading shape as dy)
    w : ndarray (out, in), the forward's weight
    need_dx : bool, False skips dx (a network's first layer needs no input gradient)

    Returns
    -------
    dx : ndarray (..., in) or None when ``need_dx`` is False
    dw : ndarray (out, in)
    db : ndarray (out,)
    """
    _check_x_w(x, w)
    check_float_array("dy", dy, dtype=x.dtype)
    out_features, in_features = w.shape
    lead = x.shape[:-1]
    if dy.shape != lead + (out_features,):
        raise ValueError(f"dy must have shape {lead + (out_features,)} (x's leading shape, "
                         f"out_features), got {dy.shape}")
    if not isinstance(need_dx, (bool, np.bool_)):
        raise TypeError(f"need_dx must be a bool, got {type(need_dx).__name__}")
    n_rows = math.prod(lead)
    dx = np.zeros((n_rows, in_features), dtype=x.dtype) if need_dx else None
    dw = np.zeros_like(w)
    db = np.zeros(out_features, dtype=x.dtype)
    linear_backward_into(dy.reshape(n_rows, out_features), x.reshape(n_rows, in_features), w, dx, dw, db)
    return (dx.reshape(x.shape) if need_dx else None), dw, db
