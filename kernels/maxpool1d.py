"""1-D max pooling, forward and backward, in torch's (N, C, L) layout.

Shape legend:

    x:      (B, C, L)       input
    y:      (B, C, L_out)   pooled output
    argmax: (B, C, L_out)   int64, index into the UNPADDED input's last axis
    dy:     (B, C, L_out)   dx: (B, C, L)

    L_out = (L + 2 p - d (K - 1) - 1) // s + 1          (floor mode, as torch's default)

    forward:  y[b,c,t] = max_{k < K, 0 <= i < L} x[b,c,i],  i = t*s + k*d - p
              (padding is implicit -inf; the first maximum wins a tie; a NaN wins,
              and among several NaNs the last one, exactly as torch's CPU kernel)
    backward: dx[b,c,argmax[b,c,t]] += dy[b,c,t]       (adds where windows overlap)

A window lying wholly in the padding (possible with dilation, e.g. L=1, K=2, d=2,
p=1) has no input element: its output is -inf and its argmax is -1, and the
backward gives it no gradient.  (torch returns -inf too, with an index >= L.)

Unchecked entry points (all arguments positional, no defaults, no checks;
x C-contiguous float32/float64, argmax C-contiguous int64):

    _maxpool1d_forward(x, kernel_size, stride, padding, dilation) -> (y, argmax)
    _maxpool1d_backward(dy, argmax, input_length) -> dx
        (indices < 0 or >= input_length are skipped; the public wrapper reports the latter)

Each picks a serial or a thread-parallel loop nest (over the B*C rows) by the
amount of work, see ``kernels._jit.use_parallel``.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from motifnet.kernels._jit import jit, jit_parallel, use_parallel
from motifnet.kernels._validate import check_float_array, check_int

__all__ = ["maxpool1d_forward", "maxpool1d_backward"]


def _pool_loops(x, kernel_size, stride, padding, dilation):
    # x: (B, C, L)  y: (B, C, L_out)  argmax: (B, C, L_out)
    # The window offset k is the outer loop and the output position t the inner one:
    # y[b,c,:] is updated K times with a branch-free select, instead of one loop per
    # window whose "new maximum?" branch is mispredicted about once per window on
    # random data (that made the window-by-window version ~1.5x slower).  Updating in
    # increasing k keeps the window's order: first maximum wins, the last NaN wins.
    B, C, L = x.shape
    L_out = (L + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    y = np.empty((B, C, L_out), dtype=x.dtype)
    argmax = np.empty((B, C, L_out), dtype=np.int64)
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
    return y, argmax


def _unpool_loops(dy, argmax, input_length):
    # dy: (B, C, L_out)  argmax: (B, C, L_out)  dx: (B, C, L)
    # backward inverts forward line: y[b,c,t] = x[b,c,argmax[b,c,t]]
    B, C, L_out = dy.shape
    dx = np.zeros((B, C, input_length), dtype=dy.dtype)
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
    return dx, out_of_range


_pool_serial = jit(_pool_loops)
_pool_parallel = jit_parallel(_pool_loops)
_unpool_serial = jit(_unpool_loops)
_unpool_parallel = jit_parallel(_unpool_loops)


def _maxpool1d_forward(x, kernel_size, stride, padding, dilation):
    """``_maxpool1d_forward(x, kernel_size, stride, padding, dilation) -> (y, argmax)``, unchecked."""
    if use_parallel(x.size):
        return _pool_parallel(x, kernel_size, stride, padding, dilation)
    return _pool_serial(x, kernel_size, stride, padding, dilation)


def _maxpool1d_backward(dy, argmax, input_length):
    """``_maxpool1d_backward(dy, argmax, input_length) -> dx``, unchecked."""
    if use_parallel(dy.shape[0] * dy.shape[1] * input_length):
        return _unpool_parallel(dy, argmax, input_length)[0]
    return _unpool_serial(dy, argmax, input_length)[0]


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
    L = x.shape[2]
    L_out = (L + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    if L_out < 1:
        raise ValueError(f"x is too short: length {L} with padding={padding} gives no window of "
                         f"kernel_size={kernel_size}, dilation={dilation}; need length >= "
                         f"{dilation * (kernel_size - 1) + 1 - 2 * padding}")
    return _maxpool1d_forward(x, kernel_size, stride, padding, dilation)


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
    loops = _unpool_parallel if use_parallel(dy.shape[0] * dy.shape[1] * input_length) else _unpool_serial
    dx, out_of_range = loops(dy, argmax, input_length)
    if out_of_range:
        raise ValueError(f"argmax holds {out_of_range} indices >= input_length={input_length}; "
                         f"pass the length of the forward's input")
    return dx
