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
independent output slices, the unit of thread parallelism.

Tiling windows (s = K, p = 0, d = 1: the models' MaxPool1d(K), whose stride defaults to
K) take a loop of their own, window by window: window t is x[tK : tK + K], its K
elements compared in increasing k by the same branch-free select.  That loop
vectorises over t when K is a compile-time constant (the K loads of a window are
then one interleaved load of K vectors, split by shuffles), so it is compiled once
per kernel size a run uses, with K a constant of the loop (``_tiled_pool(K)``;
Numba's cache keeps one entry per K).  Measured on varying (32, 32, 989) float32
inputs, 1 thread, minima of 9 interleaved rounds: K = 4 1.30 ms -> 0.40 ms, K = 2
1.27 -> 0.38, K = 3 1.20 -> 0.37; the general loop, with K a variable, vectorises
nothing (its loads are K apart).  At the seed shape (32, 32, 39) both take ~52 us:
rows of 9 windows are too short for the vector loop.  One compilation per K costs
~0.3 s; calling one loop with the literals 2, 3, 4 and a variable K cost 1.2 s, in
every fresh process.

A forward pass that no backward follows (prediction, scanning) still computes the
argmax: ``argmax=None`` gives the loops a scratch array.  A second, values-only copy
of each loop saved little once the tiling loop vectorised, and cost ~0.4 s of
compilation in every fresh process that evaluates a model.

DeepLIFT's max rule: multipliers whose contributions sum exactly to each change of a maximum
------------------------------------------------------------------------------------------
DeepLIFT passes *multipliers* m backward (kernels/relu.py, "DeepLIFT's rescale rule"):
each layer must give its inputs multipliers with

    sum_i m_x[b,c,i] (x[b,c,i] - x'[b,c,i]) = sum_t m_y[b,c,t] (y[b,c,t] - y'[b,c,t])      (S)

where x' is the reference's input and y' = maxpool(x').  Take one window (b, c, t), drop
the indices b, c, and write a = argmax[t] and a' = argmax_ref[t] (the maxima of x and
of x' in that window, (F2) run on each), so y = x[a], y' = x'[a'] and

    dy  = y - y' = x[a] - x'[a']
    d_a = x[a]  - x'[a]       the change at x's maximum
    d_b = x[a'] - x'[a']      the change at the reference's maximum

The plain gradient (B1) gives a multiplier 1 at a, a contribution d_a: that is dy only
when a = a'.  Otherwise x'[a] < x'[a'] and the difference d_a - dy = x'[a'] - x'[a] is
the convergence delta that does not vanish at any precision.  But x[a] >= x[a'] (a is
x's maximum) and x'[a'] >= x'[a] (a' is x''s), so

    d_a = x[a] - x'[a] >= x[a] - x'[a'] = dy >= x[a'] - x'[a'] = d_b

and dy is a convex combination of the two changes:

    dy = lam d_a + (1 - lam) d_b,      lam = (dy - d_b) / (d_a - d_b) in [0, 1]           (D1)

(when d_a = d_b both equal dy and lam = 1 is taken; a = a' gives d_a = dy and lam = 1,
the gradient).  The window's multipliers are lam at a and 1 - lam at a', 0 elsewhere:

    m_x[a]  += lam       * m_y[t]                                                       (D2)
    m_x[a'] += (1 - lam) * m_y[t]

so its contributions sum to m_y[t] dy, and (S) follows by summing over the windows
(overlapping windows add, as (B1): assigning instead of adding, as ``max_unpool``
does, loses the overlaps: tangermeme PR #95).  The rule divides only by d_a - d_b =
dy - d_b + d_a - dy, a sum of two non-negative terms, never by a change that may be
~0 (captum's rule puts max(y, y') - y' at x's argmax and y - max(y, y') at the
reference's, divides each by the input's change there, falls back to the gradient
where that change is below 1e-10, and unpools with ``max_unpool``, which assigns);
each multiplier lies in [0, 1] like the max's
gradient; swapping x and x' swaps lam and 1 - lam; and where the references agree
with x on the argmax it is (B1).  lam is clipped to [0, 1], which rounding can
leave by an ulp; then lam d_a + (1 - lam) d_b = dy (1 + e), e at float precision.

Layout of this file: 1. the reference loops, plain, float64; 2. the fast loops and
their entry points ``maxpool1d_forward_into`` and ``maxpool1d_backward_into`` (the one
contract of every fast kernel, see ``motifnet.kernels``); 3. the checked entry points;
then DeepLIFT's rule (D1)-(D2) in the same three parts:
``maxpool1d_deeplift_backward_reference``, ``maxpool1d_deeplift_backward_into``,
``maxpool1d_deeplift_backward``.
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
    "maxpool1d_deeplift_backward_reference", "maxpool1d_deeplift_backward_into", "maxpool1d_deeplift_backward",
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


def _tiled_loops_for(K):
    """The tiling loop for one kernel size K, a compile-time constant of the loop."""

    H = max(1, K // 2)  # the window's first half: [0, H), its second: [H, K)

    def _pool_tiled_loops(x, y, argmax):
        # x: (B, C, L)  y: (B, C, L_out) and argmax: (B, C, L_out) written; stride = K,
        # padding 0, dilation 1, so L_out * K <= L and no window reaches the padding.
        # Window t is x[b, c, tK : tK + K]: (F1)-(F2), the same select in the same order
        # as _pool_loops.
        B, C, L = x.shape
        L_out = y.shape[2]
        x_flat = x.reshape(-1)
        y_flat = y.reshape(-1)
        a_flat = argmax.reshape(-1)
        for row in prange(B * C):  # rows are independent output slices
            xr = x_flat[row * L:(row + 1) * L]
            yr = y_flat[row * L_out:(row + 1) * L_out]
            ar = a_flat[row * L_out:(row + 1) * L_out]
            for t in range(L_out):
                i0 = t * K
                # the window's two halves in two independent chains of selects (half the
                # latency), then one select between them: the right half wins if its
                # maximum is greater (so the first maximum wins) or NaN (so the last NaN
                # wins); a NaN on the left only stays if the right has none, as it should
                best = xr[i0]
                best_i = i0
                for k in range(1, H):
                    v = xr[i0 + k]
                    take = (v > best) | (v != v)  # first maximum wins, a NaN takes over
                    best = v if take else best
                    best_i = i0 + k if take else best_i
                if K > 1:
                    right = xr[i0 + H]
                    right_i = i0 + H
                    for k in range(H + 1, K):
                        v = xr[i0 + k]
                        take = (v > right) | (v != v)
                        right = v if take else right
                        right_i = i0 + k if take else right_i
                    take = (right > best) | (right != right)
                    best = right if take else best
                    best_i = right_i if take else best_i
                yr[t] = best
                ar[t] = best_i

    return SerialOrParallel(_pool_tiled_loops, ns_per_work=0.3)  # measured serial ns per input element


_tiled = {}  # kernel size -> its tiling loop, compiled on first use


def _tiled_pool(K):
    """The tiling loop of kernel size K (made, and compiled, once per K that a run uses)."""
    pool = _tiled.get(K)
    if pool is None:
        pool = _tiled[K] = _tiled_loops_for(K)
    return pool


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


# measured serial nanoseconds per unit of work (1 thread): the threshold for threads is a
# time.  _pool: per window element (output x K); _unpool: per element of dx.
_pool = SerialOrParallel(_pool_loops, ns_per_work=2.0)
_unpool = SerialOrParallel(_unpool_loops, ns_per_work=0.15)


def maxpool1d_forward_into(x, y, argmax, kernel_size, stride, padding, dilation):
    """Fast (F1)-(F2), unchecked: writes ``y`` and ``argmax`` (int64), or only ``y`` when
    ``argmax`` is None (a forward pass that no backward follows; the argmax then goes to a
    scratch array).

    x, y, argmax C-contiguous; y of x's dtype and shape (B, C, L_out); ints validated.
    """
    if argmax is None:
        argmax = np.empty(y.shape, dtype=np.int64)
    if stride == kernel_size and padding == 0 and dilation == 1:
        _tiled_pool(kernel_size)(x.size, x, y, argmax)
    else:
        _pool(y.size * kernel_size, x, y, argmax, kernel_size, stride, padding, dilation)


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


# ----------------------------------------------------------------------------- DeepLIFT: 1. reference
def _deeplift_share(y_change, d_a, d_b):
    """lam of (D1): dy = lam d_a + (1 - lam) d_b, lam in [0, 1]."""
    spread = d_a - d_b
    if not spread > 0:  # d_a = d_b (= dy): one element carries it
        return 1.0
    return min(1.0, max(0.0, (y_change - d_b) / spread))


def maxpool1d_deeplift_backward_reference(m_y, x, x_ref, argmax, argmax_ref):
    """(D1)-(D2) one window at a time, in float64: ``m_x`` (B, C, L), a fresh array.

    m_y: (B, C, L_out) multipliers of the output; x, x_ref: (B, C, L) the forward's
    inputs for the sequences and their references; argmax, argmax_ref: their (F2).
    """
    B, C, L_out = m_y.shape
    m_x = np.zeros(x.shape)
    for b in range(B):
        for c in range(C):
            for t in range(L_out):
                a, a_ref = int(argmax[b, c, t]), int(argmax_ref[b, c, t])
                if a < 0 or a_ref < 0:  # a window wholly in the padding: no input
                    continue
                d_a = float(x[b, c, a]) - float(x_ref[b, c, a])
                d_b = float(x[b, c, a_ref]) - float(x_ref[b, c, a_ref])
                dy = float(x[b, c, a]) - float(x_ref[b, c, a_ref])
                lam = 1.0 if a == a_ref else _deeplift_share(dy, d_a, d_b)
                m_x[b, c, a] += lam * float(m_y[b, c, t])
                m_x[b, c, a_ref] += (1.0 - lam) * float(m_y[b, c, t])
    return m_x


# ----------------------------------------------------------------------------- DeepLIFT: 2. fast
# Computes exactly the reference above: the same loop over windows, rows (b, c) as the
# unit of thread parallelism (each row of m_x is written by one iteration only).

def _deeplift_unpool_loops(m_y, x, x_ref, argmax, argmax_ref, m_x):
    # m_y: (B, C, L_out)  x, x_ref: (B, C, L)  argmax, argmax_ref: (B, C, L_out)
    # m_x: (B, C, L) ADDED to
    B, C, L_out = m_y.shape
    L = x.shape[2]
    zero = m_y.dtype.type(0)
    one = m_y.dtype.type(1)
    x_flat = x.reshape(-1)
    r_flat = x_ref.reshape(-1)
    m_y_flat = m_y.reshape(-1)
    a_flat = argmax.reshape(-1)
    ar_flat = argmax_ref.reshape(-1)
    m_x_flat = m_x.reshape(-1)
    for row in prange(B * C):
        x0 = row * L
        y0 = row * L_out
        for t in range(L_out):
            a = a_flat[y0 + t]
            a_ref = ar_flat[y0 + t]
            if a < 0 or a_ref < 0:
                continue
            m = m_y_flat[y0 + t]
            if a == a_ref:  # lam = 1: the gradient
                m_x_flat[x0 + a] += m
                continue
            d_a = x_flat[x0 + a] - r_flat[x0 + a]
            d_b = x_flat[x0 + a_ref] - r_flat[x0 + a_ref]
            dy = x_flat[x0 + a] - r_flat[x0 + a_ref]
            spread = d_a - d_b
            lam = one
            if spread > zero:  # (D1)
                lam = (dy - d_b) / spread
                lam = min(one, max(zero, lam))
            m_x_flat[x0 + a] += lam * m  # (D2)
            m_x_flat[x0 + a_ref] += (one - lam) * m


_deeplift_unpool = SerialOrParallel(_deeplift_unpool_loops)


def maxpool1d_deeplift_backward_into(m_y, x, x_ref, argmax, argmax_ref, m_x):
    """Fast (D1)-(D2), unchecked: ADDS the input's multipliers into ``m_x`` (B, C, L).

    x, x_ref (B, C, L): the pool's inputs for the sequences and their references;
    argmax, argmax_ref: the int64 (F2) of each (``maxpool1d_forward_into``'s); m_y, m_x of
    x's dtype; all C-contiguous.
    """
    _deeplift_unpool(x.size, m_y, x, x_ref, argmax, argmax_ref, m_x)


# ----------------------------------------------------------------------------- DeepLIFT: 3. checked
def maxpool1d_deeplift_backward(m_y: np.ndarray, x: np.ndarray, x_ref: np.ndarray, kernel_size: int,
                                stride: int | None = None, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """DeepLIFT's max rule (D1)-(D2): the pool input's multipliers from the output's.

    Parameters
    ----------
    m_y : ndarray (B, C, L_out), float32 or float64: multipliers of the pooled output
    x, x_ref : ndarrays (B, C, L) of m_y's dtype: the pool's inputs for the sequences and
        for their references
    kernel_size, stride, padding, dilation : the pooling's, as ``maxpool1d_forward``

    Returns
    -------
    m_x : ndarray (B, C, L); ``sum(m_x * (x - x_ref))`` equals
        ``sum(m_y * (maxpool(x) - maxpool(x_ref)))`` to rounding, and each window's two
        multipliers lie in [0, 1].
    """
    check_float_array("m_y", m_y, ndim=3)
    check_float_array("x", x, ndim=3, dtype=m_y.dtype)
    check_float_array("x_ref", x_ref, ndim=3, dtype=m_y.dtype)
    if x_ref.shape != x.shape:
        raise ValueError(f"x_ref must have the shape of x {x.shape}, got {x_ref.shape}")
    _, argmax = maxpool1d_forward(x, kernel_size, stride, padding, dilation)
    _, argmax_ref = maxpool1d_forward(x_ref, kernel_size, stride, padding, dilation)
    if m_y.shape != argmax.shape:
        raise ValueError(f"m_y must have the pooled shape {argmax.shape}, got {m_y.shape}")
    m_x = np.zeros_like(x)
    maxpool1d_deeplift_backward_into(m_y, x, x_ref, argmax, argmax_ref, m_x)
    return m_x
