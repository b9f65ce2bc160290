"""1-D max pooling, forward and backward, in torch's (N, C, L) layout.

Shape legend
------------
    x:      (B, C, L)       input                 dx: (B, C, L)
    y:      (B, C, L_out)   pooled output         dy: (B, C, L_out)
    argmax: (B, C, L_out)   int64, index into the UNPADDED input's last axis

    K = kernel_size, s = stride (default K), p = padding, d = dilation
    L_out = (L + 2 p - d (K - 1) - 1) // s + 1          (floor mode, as torch's default)

Forward
-------
    y[b,c,t]      = max_{k < K, 0 <= i < L} x[b,c,i],   i = t*s + k*d - p               (F1)
    argmax[b,c,t] = the i at which the maximum is taken                                (F2)

Padding is an implicit -inf.  The first maximum wins a tie; a NaN wins, and among
several NaNs the last one, exactly as torch's CPU kernel.  A window lying wholly in
the padding (possible with dilation, e.g. L=1, K=2, d=2, p=1) has no input element:
its output is -inf and its argmax -1 (torch returns -inf too, with an index >= L).

Backward, derived
-----------------
Within the window of output t, y[b,c,t] = x[b,c,argmax[b,c,t]] (F2): it depends on
that one element, with derivative 1, and on no other (moving another element a
little does not change the maximum, where the maximum is unique).  So the chain rule
sends each dy to the element its window took:

    dx[b,c,i] += sum_{t : argmax[b,c,t] = i} dy[b,c,t]                                 (B1)

Windows overlap when s < K, so one element can collect several terms.  At a tie
the maximum is not differentiable; the gradient goes to the element the forward
chose (the first), as torch does.

How the fast loops compute exactly (F1)-(B1), and why
-----------------------------------------------------
The window offset k is the outer loop and the output position t the inner one:
y[b,c,:] is updated K times with a branch-free select, instead of one loop per
window whose "new maximum?" branch is mispredicted about once per window on random
data (that made the window-by-window version ~1.5x slower).  Updating in increasing
k keeps each window's order: first maximum wins, the last NaN wins.  Rows (b, c) are
independent output slices, the unit of thread parallelism.  A forward pass that no
backward follows (prediction, scanning) can skip the argmax: ``argmax=None`` runs
the same loop storing one array instead of two.

Layout of this file: 1. the reference loops, plain, float64; 2. the fast loops and
their entry points ``maxpool1d_forward_into`` and ``maxpool1d_backward_into`` (the one
contract of every fast kernel, see ``motifnet.kernels``); 3. the checked entry points.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from motifnet.kernels._jit import SerialOrParallel
from motifnet.kernels._validate import check_float_array, check_int

__all__ = [
    "maxpool1d_output_length",
    "maxpool1d_forward_reference", "maxpool1d_backward_reference",
    "maxpool1d_forward_into", "maxpool1d_backward_into",
    "maxpool1d_forward", "maxpool1d_backward",
]


def maxpool1d_output_length(L, kernel_size, stride=None, padding=0, dilation=1):
    """L_out = (L + 2 p - d (K - 1) - 1) // s + 1, s = K by default."""
    stride = kernel_size if stride is None else stride
    return (L + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


# ----------------------------------------------------------------------------- 1. reference
def maxpool1d_forward_reference(x, kernel_size, stride=None, padding=0, dilation=1):
    """(F1)-(F2), one window at a time, in float64: ``(y, argmax)``."""
    stride = kernel_size if stride is None else stride
    B, C, L = x.shape
    L_out = maxpool1d_output_length(L, kernel_size, stride, padding, dilation)
    y = np.zeros((B, C, L_out))
    argmax = np.zeros((B, C, L_out), dtype=np.int64)
    for b in range(B):
        for c in range(C):
            for t in range(L_out):
                best, best_i = -math.inf, -1
                for k in range(kernel_size):
                    i = t * stride + k * dilation - padding
                    if 0 <= i < L:  # else: the padding's -inf
                        v = float(x[b, c, i])
                        if best_i < 0 or v > best or math.isnan(v):
                            best, best_i = v, i
                y[b, c, t] = best
                argmax[b, c, t] = best_i
    return y, argmax


def maxpool1d_backward_reference(dy, argmax, input_length):
    """(B1) in float64: ``dx``; a window wholly in the padding (argmax -1) sends nothing."""
    B, C, L_out = dy.shape
    dx = np.zeros((B, C, input_length))
    for b in range(B):
        for c in range(C):
            for t in range(L_out):
                if argmax[b, c, t] >= 0:
                    dx[b, c, argmax[b, c, t]] += float(dy[b, c, t])
    return dx


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above; the layout differs for the reasons in the
# module docstring.

def _pool_loops(x, y, argmax, kernel_size, stride, padding, dilation):
    # x: (B, C, L)  y: (B, C, L_out) and argmax: (B, C, L_out) written
    # The window offset k is the outer loop and the output position t the inner one:
    # y[b,c,:] is updated K times with a branch-free select, instead of one loop per
    # window whose "new maximum?" branch is mispredicted about once per window on
    # random data (that made the window-by-window version ~1.5x slower).  Updating in
    # increasing k keeps the window's order: first maximum wins, the last NaN wins.
    B, C, L = x.shape
    L_out = y.shape[2]
    neg_inf = x.dtype.type(-np.inf)
    # t_lo[k] <= t < t_hi[k]: the outputs whose k-th window element i = t*s + k*d - p
    # lies inside the input (0 <= i < L), the others see the implicit -inf padding
    t_lo = np.empty(kernel_size, dtype=np.int64)
    t_hi = np.empty(kernel_size, dtype=np.int64)
    for k in range(kernel_size):
        offset = k * dilation - padding
        t_lo[k] = min(L_out, 0 if offset >= 0 else (-offset + stride - 1) // stride)
        t_hi[k] = max(t_lo[k], min(L_out, (L - 1 - offset) // stride + 1)) if offset <= L - 1 else t_lo[k]
    # flat views indexed with unsigned offsets: no negative-index wraparound code in the loop
    x_flat = x.reshape(-1)
    y_flat = y.reshape(-1)
    a_flat = argmax.reshape(-1)
    for row in prange(B * C):  # rows are independent output slices
        x0 = np.uint64(row * L)
        y0 = np.uint64(row * L_out)
        # k = 0 initialises; outputs whose first element is padding start at (-inf, -1)
        for t in range(L_out):
            if t < t_lo[0] or t >= t_hi[0]:
                y_flat[y0 + np.uint64(t)] = neg_inf
                a_flat[y0 + np.uint64(t)] = -1
        for t in range(t_lo[0], t_hi[0]):
            i = t * stride - padding
            y_flat[y0 + np.uint64(t)] = x_flat[x0 + np.uint64(i)]
            a_flat[y0 + np.uint64(t)] = i
        for k in range(1, kernel_size):
            offset = k * dilation - padding
            for t in range(t_lo[k], t_hi[k]):
                i = t * stride + offset
                v = x_flat[x0 + np.uint64(i)]
                best = y_flat[y0 + np.uint64(t)]
                best_i = a_flat[y0 + np.uint64(t)]
                # strict ">" keeps the first maximum; a NaN (v != v) always takes over,
                # so the last NaN wins, as torch's cpu_max_pool; best_i < 0: the first
                # in-range element replaces the padding even when it is -inf (as torch)
                take = (v > best) | (v != v) | (best_i < 0)
                y_flat[y0 + np.uint64(t)] = v if take else best
                a_flat[y0 + np.uint64(t)] = i if take else best_i


def _unpool_loops(dy, argmax, dx):
    # dy: (B, C, L_out)  argmax: (B, C, L_out)  dx: (B, C, L) ADDED to
    # (B1), inverting (F2) y[b,c,t] = x[b,c,argmax[b,c,t]]
    B, C, L_out = dy.shape
    input_length = dx.shape[2]
    dy_flat = dy.reshape(-1)
    a_flat = argmax.reshape(-1)
    dx_flat = dx.reshape(-1)
    out_of_range = 0  # counted here, where it is free, so the wrapper need not scan argmax
    for row in prange(B * C):  # each row of dx is written by one iteration only
        x0 = row * input_length
        y0 = row * L_out
        for t in range(L_out):
            i = a_flat[y0 + t]
            if i < 0:  # -1: a window wholly in the padding has no input
                continue
            if i >= input_length:
                out_of_range += 1
                continue
            dx_flat[np.uint64(x0 + i)] += dy_flat[y0 + t]
    return out_of_range


def _pool_values_loops(x, y, kernel_size, stride, padding, dilation):
    # x: (B, C, L)  y: (B, C, L_out) written; (F1) alone, for a forward pass that no
    # backward follows (prediction, scanning): the same select without the argmax, so
    # the loop stores one array instead of two.  Kept in step with _pool_loops.
    B, C, L = x.shape
    L_out = y.shape[2]
    neg_inf = x.dtype.type(-np.inf)
    t_lo = np.empty(kernel_size, dtype=np.int64)
    t_hi = np.empty(kernel_size, dtype=np.int64)
    for k in range(kernel_size):
        offset = k * dilation - padding
        t_lo[k] = min(L_out, 0 if offset >= 0 else (-offset + stride - 1) // stride)
        t_hi[k] = max(t_lo[k], min(L_out, (L - 1 - offset) // stride + 1)) if offset <= L - 1 else t_lo[k]
    x_flat = x.reshape(-1)
    y_flat = y.reshape(-1)
    for row in prange(B * C):
        x0 = np.uint64(row * L)
        y0 = np.uint64(row * L_out)
        for t in range(L_out):
            y_flat[y0 + np.uint64(t)] = neg_inf
        for k in range(kernel_size):
            offset = k * dilation - padding
            for t in range(t_lo[k], t_hi[k]):
                v = x_flat[x0 + np.uint64(t * stride + offset)]
                best = y_flat[y0 + np.uint64(t)]
                # as _pool_loops: a NaN always takes over; -inf replaces the padding's -inf
                y_flat[y0 + np.uint64(t)] = v if (v > best) | (v != v) else best


_pool = SerialOrParallel(_pool_loops)
_pool_values = SerialOrParallel(_pool_values_loops)
_unpool = SerialOrParallel(_unpool_loops)


def maxpool1d_forward_into(x, y, argmax, kernel_size, stride, padding, dilation):
    """Fast (F1)-(F2), unchecked: writes ``y`` and ``argmax`` (int64), or only ``y`` when
    ``argmax`` is None (a forward pass that no backward follows).

    x, y, argmax C-contiguous; y of x's dtype and shape (B, C, L_out); ints validated.
    """
    if argmax is None:
        _pool_values(x.size, x, y, kernel_size, stride, padding, dilation)
    else:
        _pool(x.size, x, y, argmax, kernel_size, stride, padding, dilation)


def maxpool1d_backward_into(dy, argmax, dx):
    """Fast (B1), unchecked: ADDS into ``dx`` (B, C, L).  Returns the number of argmax
    indices >= L it skipped (0 for the forward's own argmax)."""
    return _unpool(dx.size, dy, argmax, dx)


# ----------------------------------------------------------------------------- 3. checked
def maxpool1d_forward(x: np.ndarray, kernel_size: int, stride: int | None = None, padding: int = 0,
                      dilation: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling over the last axis, as ``torch.nn.functional.max_pool1d(..., return_indices=True)``.

    Parameters
    ----------
    x : ndarray (B, C, L), float32 or float64, C-contiguous
    kernel_size : int >= 1, window size K
    stride : int >= 1 or None (default: ``kernel_size``)
    padding : int, 0 <= padding <= kernel_size // 2; implicit -inf on both sides
    dilation : int >= 1, spacing between window elements

    Returns
    -------
    y : ndarray (B, C, L_out), ``x``'s dtype, L_out = (L + 2p - d(K-1) - 1) // s + 1
    argmax : int64 ndarray (B, C, L_out), index into the unpadded input of each maximum
        (first maximum on ties; a NaN wins; -1 for a window wholly in the padding)
    """
    check_float_array("x", x, ndim=3)
    kernel_size = check_int("kernel_size", kernel_size, 1)
    stride = kernel_size if stride is None else check_int("stride", stride, 1)
    padding = check_int("padding", padding, 0)
    dilation = check_int("dilation", dilation, 1)
    if padding > kernel_size // 2:
        raise ValueError(f"padding must be at most kernel_size // 2 = {kernel_size // 2} "
                         f"(as torch), got padding={padding}")
    B, C, L = x.shape
    L_out = maxpool1d_output_length(L, kernel_size, stride, padding, dilation)
    if L_out < 1:
        raise ValueError(f"x is too short: length {L} with padding={padding} gives no window of "
                         f"kernel_size={kernel_size}, dilation={dilation}; need length >= "
                         f"{dilation * (kernel_size - 1) + 1 - 2 * padding}")
    y = np.empty((B, C, L_out), dtype=x.dtype)
    argmax = np.empty((B, C, L_out), dtype=np.int64)
    maxpool1d_forward_into(x, y, argmax, kernel_size, stride, padding, dilation)
    return y, argmax


def maxpool1d_backward(dy: np.ndarray, argmax: np.ndarray, input_length: int) -> np.ndarray:
    """Gradient of max pooling with respect to its input.

    Parameters
    ----------
    dy : ndarray (B, C, L_out), float32 or float64, C-contiguous
    argmax : int64 ndarray (B, C, L_out), as returned by ``maxpool1d_forward``
    input_length : int, the forward input's length L

    Returns
    -------
    dx : ndarray (B, C, L), ``dy``'s dtype; ``dy`` summed into the positions of the maxima.
    """
    check_float_array("dy", dy, ndim=3)
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64:
        got = argmax.dtype if isinstance(argmax, np.ndarray) else type(argmax).__name__
        raise TypeError(f"argmax must be an int64 numpy.ndarray from maxpool1d_forward, got {got}")
    if argmax.shape != dy.shape:
        raise ValueError(f"argmax must have the shape of dy {dy.shape}, got {argmax.shape}")
    if not argmax.flags.c_contiguous:
        raise ValueError("argmax must be C-contiguous; use np.ascontiguousarray(argmax)")
    input_length = check_int("input_length", input_length, 1)
    dx = np.zeros(dy.shape[:2] + (input_length,), dtype=dy.dtype)
    out_of_range = maxpool1d_backward_into(dy, argmax, dx)
    if out_of_range:
        raise ValueError(f"argmax holds {out_of_range} indices >= input_length={input_length}; "
                         f"pass the length of the forward's input")
    return dx
