"""Fully connected layer ``y = x W^T + b``, forward and backward, torch's layouts.

Shape legend:

    x:  (..., I)    any leading batch shape; the kernels see the 2-D view (N, I),
                    N = product of the leading sizes
    w:  (O, I)      torch.nn.Linear's weight layout (out, in)
    b:  (O,)
    y:  (..., O)    dy: (..., O)   dx: (..., I)   dw: (O, I)   db: (O,)

    forward:  y[n,o] = sum_i x[n,i] * w[o,i] + b[o]
    backward: dx[n,i] = sum_o dy[n,o] * w[o,i]
              dw[o,i] = sum_n dy[n,o] * x[n,i]
              db[o]   = sum_n dy[n,o]

No BLAS: explicit loops whose innermost loop runs along a contiguous row, so
LLVM vectorises it (the fastmath set in ``kernels._jit`` allows reassociating
the sums).  The forward's dot products take two rows of x at a time, so each
load of a weight row feeds two sums.

Unchecked entry points (all arguments positional, no defaults, no checks;
C-contiguous arrays of one float dtype; a missing bias is passed as zeros):

    _linear_forward(x2d, w, bias) -> y2d
    _linear_backward(dy2d, x2d, w, need_dx) -> (dx2d, dw, db)
        dx2d is an empty (0, 0) array when need_dx is False

Each picks a serial or a thread-parallel loop nest by the number of
multiply-adds, see ``kernels._jit.use_parallel``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from kernels._jit import jit, jit_parallel, use_parallel
from kernels._validate import check_float_array, check_shape

__all__ = ["linear_forward", "linear_backward"]

# dw is computed in column blocks of this many inputs: a (O, 256) block of dw stays in
# L1 while all N rows of x stream past it once, and the blocks are independent slices
# of dw for the threads.
_DW_BLOCK = 256


def _forward_loops(x, w, bias):
    # x: (N, I)  w: (O, I)  bias: (O,)  y: (N, O)
    N, I = x.shape
    O = w.shape[0]
    zero = x.dtype.type(0)
    y = np.empty((N, O), dtype=x.dtype)
    for pair in prange((N + 1) // 2):  # rows n0 and n0+1: independent output rows
        n0 = 2 * pair
        if n0 + 1 < N:
            for o in range(O):
                acc0 = zero
                acc1 = zero
                for i in range(I):  # contiguous in x and w: vectorised
                    acc0 += x[n0, i] * w[o, i]
                    acc1 += x[n0 + 1, i] * w[o, i]
                y[n0, o] = acc0 + bias[o]
                y[n0 + 1, o] = acc1 + bias[o]
        else:
            for o in range(O):
                acc0 = zero
                for i in range(I):
                    acc0 += x[n0, i] * w[o, i]
                y[n0, o] = acc0 + bias[o]
    return y


def _backward_loops(dy, x, w, need_dx):
    # dy: (N, O)  x: (N, I)  w: (O, I)  dx: (N, I)  dw: (O, I)  db: (O,)
    # backward inverts forward line: y[n,o] = sum_i x[n,i] * w[o,i] + b[o]
    N, I = x.shape
    O = w.shape[0]
    zero = x.dtype.type(0)
    if need_dx:
        dx = np.zeros((N, I), dtype=x.dtype)
        for n in prange(N):  # dx[n, :] = sum_o dy[n,o] w[o, :]
            dx_row = dx[n]
            for o in range(O):
                g = dy[n, o]
                w_row = w[o]
                for i in range(I):  # contiguous: vectorised
                    dx_row[i] += g * w_row[i]
    else:
        dx = np.empty((0, 0), dtype=x.dtype)
    dw = np.zeros((O, I), dtype=x.dtype)
    n_blocks = (I + _DW_BLOCK - 1) // _DW_BLOCK
    for blk in prange(n_blocks):  # dw[:, block] = sum_n dy[n, :]^T x[n, block]
        i0 = blk * _DW_BLOCK
        i1 = min(I, i0 + _DW_BLOCK)
        for n in range(N):
            x_blk = x[n, i0:i1]
            for o in range(O):
                g = dy[n, o]
                dw_blk = dw[o, i0:i1]
                for i in range(i1 - i0):  # contiguous: vectorised
                    dw_blk[i] += g * x_blk[i]
    db = np.zeros(O, dtype=x.dtype)
    for n in range(N):
        for o in range(O):
            db[o] += dy[n, o]
    return dx, dw, db


_forward_serial = jit(_forward_loops)
_forward_parallel = jit_parallel(_forward_loops)
_backward_serial = jit(_backward_loops)
_backward_parallel = jit_parallel(_backward_loops)


def _linear_forward(x, w, bias):
    """``_linear_forward(x2d, w, bias) -> y2d``, unchecked; bias is never None."""
    if use_parallel(x.shape[0] * w.size):
        return _forward_parallel(x, w, bias)
    return _forward_serial(x, w, bias)


def _linear_backward(dy, x, w, need_dx):
    """``_linear_backward(dy2d, x2d, w, need_dx) -> (dx2d or empty (0, 0), dw, db)``, unchecked."""
    if use_parallel(x.shape[0] * w.size):
        return _backward_parallel(dy, x, w, need_dx)
    return _backward_serial(dy, x, w, need_dx)


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
    y = _linear_forward(x.reshape(n_rows, in_features), w, bias)
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
    dx, dw, db = _linear_backward(dy.reshape(n_rows, out_features), x.reshape(n_rows, in_features),
                                  w, bool(need_dx))
    return (dx.reshape(x.shape) if need_dx else None), dw, db
