"""The one-hot convolution followed by the masked global max, as one op.

The deepbind model's first two stages, ``StrandConv1d`` on base codes
(``kernels/conv1d_onehot.py`` with the filters and their reverse complements,
``kernels/revcomp.py``) and ``GlobalMaxPool`` (``kernels/global_max.py``), computed in one
pass: each column of the convolution is reduced into a running maximum while it is in L1,
and the (B, groups*F, L_out) output is never written.  The two ops' files derive everything
used here; this file derives only what the composition adds.  The deepbind model uses it
for training and prediction on codes; the two separate ops remain for everything else
(one-hot floats, DeepLIFT, the filters' activations, scanning).

Shape legend
------------
    codes:   (B, L) int8           A0 C1 G2 T3, -1 for N or padding (conv1d_onehot's)
    w:       (groups*F, C_in, K)   torch's weight        dw: (groups*F, C_in, K)
    bias:    (groups*F,)                                  db: (groups*F,)
    c:       (B, groups*F, L_out)  the convolution's output, never stored; L_out = L - K + 1
                                   (stride 1, no padding, dilation 1: the model's)
    n_valid: (B,) int64            valid positions of c per sequence, 1 <= n_valid[b] <= L_out
    y:       (B, F)                output                 dy: (B, F)
    argmax:  (B, F) int64          flat index g*L_out + t of each maximum (global_max's)

Forward
-------
    c[b,o,t]     = bias[o] + sum_k w[o, codes[b, t + k], k]               conv1d_onehot (F1)
    y[b,f]       = max over g < groups, t < n_valid[b] of c[b, g*F + f, t]   global_max (F1)
    argmax[b,f]  = g*L_out + t of that maximum: the first in (g, t) order;   global_max (F2)
                   a NaN wins, the last of several

Backward, derived
-----------------
The chain rule through the two ops: global_max's (B1) sends dy[b,f] to the one element
(g, t) = argmax[b,f] of c, so dc is zero but for B*F entries, and conv1d_onehot's
(B1)-(B2), summed over the positions of c, keep one term per (b, f):

    db[g*F + f]         += sum_b dy[b,f]                                              (B1)
    dw[g*F + f, c, k]   += sum_{b : codes[b, t + k] = c} dy[b,f],   (g, t) = argmax[b,f]  (B2)

A code -1 (N, padding) reads no weight and gets no gradient.

How the fast loops compute exactly the reference, and why
---------------------------------------------------------
The reference (section 1) is the two ops' reference loops one after the other.  The
fast forward is conv1d_onehot's column loop (each column c[b,:,t] a sum of rows of its
group table, ``group_table``), on blocks of a sequence's valid columns, each column folded
into a running maximum per channel with global_max's select in increasing t
(``take = (v > best) | (v != v)``: the first maximum, the last NaN), across all channels
at once; the groups' maxima are then compared in group order with the same select.  The
values are conv1d_onehot's to the bit (the same table sums), so y and argmax are the
unfused pair's.  The unfused pair wrote c (2.3 MB at the model's batch 32 x 64 x 286)
and read it back in global_max's three passes.

The fast backward is (B1)-(B2) as written: B*F*K additions, against conv1d_onehot's
backward over every column of a dc that is zero but for B*F entries (and global_max's
backward, which first had to zero it).  At the model's shapes that is ~30,000 additions
against the ~420 us the dense backward took; it runs serially.  Its sums are the unfused
pair's in another order (float rounding only).

Threads split the forward's batch into slices of whole sequences, as in conv1d_onehot.

Layout of this file: 1. the reference loops; 2. the fast loops and their entry points
``conv1d_onehot_globalmax_forward_into`` and ``conv1d_onehot_globalmax_backward_into``;
3. the checked entry points.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from motifnet.kernels._jit import SerialOrParallel, jit
from motifnet.kernels._validate import check_float_array, check_int, check_shape
from motifnet.kernels.conv1d_onehot import (check_codes, check_weights, conv1d_onehot_forward_reference, group_codes,
                                            group_table, kept_part_arrays, plan, table_columns)
from motifnet.kernels.global_max import _check_n_valid, global_max_forward_reference

__all__ = [
    "conv1d_onehot_globalmax_forward_reference", "conv1d_onehot_globalmax_backward_reference",
    "conv1d_onehot_globalmax_forward_into", "conv1d_onehot_globalmax_backward_into",
    "conv1d_onehot_globalmax_forward", "conv1d_onehot_globalmax_backward",
]


# ----------------------------------------------------------------------------- 1. reference
def conv1d_onehot_globalmax_forward_reference(codes, w, bias, n_valid, groups):
    """conv1d_onehot's (F1), then global_max's (F1)-(F2), in float64: ``(y, argmax)``."""
    c = conv1d_onehot_forward_reference(codes, w, bias)
    return global_max_forward_reference(c, n_valid, groups)


def conv1d_onehot_globalmax_backward_reference(dy, codes, argmax, w_shape):
    """(B1)-(B2), one (sequence, filter) at a time, in float64: ``(dw, db)``."""
    C_out, C_in, K = (int(v) for v in w_shape)
    B, F = dy.shape
    L_out = codes.shape[1] - K + 1
    dw = np.zeros((C_out, C_in, K))
    db = np.zeros(C_out)
    for b in range(B):
        for f in range(F):
            g, t = divmod(int(argmax[b, f]), L_out)
            o = g * F + f
            db[o] += float(dy[b, f])                                      # (B1)
            for k in range(K):
                base = int(codes[b, t + k])
                if base >= 0:
                    dw[o, base, k] += float(dy[b, f])                     # (B2)
    return dw, db


# ----------------------------------------------------------------------------- 2. fast
_BLOCK = 32  # columns per block: (32, C_out) of the running block stays in L1


def _forward_loops(codes, w, bias, n_valid, y, argmax, groups, G, n_pass, n_pc, n_pos, n_parts, pcs, gcs):
    # codes: (B, L) int8  w: (C_out, C_in, K)  bias: (C_out,)  n_valid: (B,)
    # y: (B, F) and argmax: (B, F) int64 written.  G, n_pass, n_pc, n_pos: conv1d_onehot.plan's;
    # pcs, gcs: its part_arrays' (kernels/_jit.py, "allocation").
    B, L = codes.shape
    C_out, C_in, K = w.shape
    F = C_out // groups
    L_out = L - K + 1
    base = C_in + 1
    n_combos = base ** G
    table = group_table(w, G, n_pass)
    n_groups = (K + G - 1) // G  # real tap groups (plan's)
    for part in prange(n_parts):  # sequences are independent
        pc, gc = pcs[part], gcs[part]
        blk = np.empty((_BLOCK, C_out), dtype=w.dtype)     # columns c[b,:,t], t-major
        best = np.empty((1, C_out), dtype=w.dtype)[0]      # each channel's running maximum
        at = np.empty((1, C_out), dtype=np.int64)[0]       # and its position
        for b in range(part * B // n_parts, (part + 1) * B // n_parts):
            group_codes(codes, b, pc, gc, 0, G, 1, base)
            n = n_valid[b]
            for t0 in range(0, n, _BLOCK):
                nt = _BLOCK if n - t0 > _BLOCK else n - t0
                # conv1d_onehot (F1): c[b,:,t] = bias + sum_g table[g, gc[t + g*G], :]
                table_columns(table, bias, gc, blk, t0, nt, 1, G, n_groups, n_combos)
                first = 0
                if t0 == 0:  # the first column starts every channel's maximum
                    for o in range(C_out):
                        best[o] = blk[0, o]
                        at[o] = 0
                    first = 1
                for tt in range(first, nt):
                    # global_max (F1)-(F2) in increasing t, every channel at once: the first
                    # maximum wins, a NaN takes over
                    col = blk[tt]
                    t = t0 + tt
                    for o in range(C_out):
                        v = col[o]
                        take = (v > best[o]) | (v != v)
                        best[o] = v if take else best[o]
                        at[o] = t if take else at[o]
            for f in range(F):  # the groups in order, with the same select
                g_best, v_best = 0, best[f]
                for g in range(1, groups):
                    v = best[g * F + f]
                    if (v > v_best) | (v != v):
                        g_best, v_best = g, v
                y[b, f] = v_best
                argmax[b, f] = g_best * L_out + at[g_best * F + f]


# measured serial ns per unit of work (a table-row element: column x channel x group),
# float32, the deepbind model's batch 32 x 64 channels x 286 columns x 5 groups, 1 thread: 343 us
# for 2.9 million, 0.12
_forward = SerialOrParallel(_forward_loops, ns_per_work=0.12)


@jit
def _backward_loop(dy, codes, argmax, dw, db):
    # dy: (B, F)  codes: (B, L)  argmax: (B, F) int64; dw: (C_out, C_in, K), db: (C_out,) ADDED to
    B, F = dy.shape
    K = dw.shape[2]
    L_out = codes.shape[1] - K + 1
    for b in range(B):
        row = codes[b]
        for f in range(F):
            a = argmax[b, f]
            g = a // L_out
            t = a - g * L_out
            o = g * F + f
            d = dy[b, f]
            db[o] += d                      # (B1)
            for k in range(K):              # (B2)
                base = row[t + k]
                if base >= 0:
                    dw[o, base, k] += d


def conv1d_onehot_globalmax_forward_into(codes, w, bias, n_valid, groups, y, argmax):
    """Fast forward, unchecked: writes ``y`` (B, F) and ``argmax`` (B, F) int64.

    codes (B, L) int8 in [-1, C_in); w (groups*F, C_in, K), bias, y C-contiguous of one
    float dtype (bias zeros for no bias); n_valid (B,) int64 in [1, L - K + 1]; C_in <= 127.
    """
    B, L = codes.shape
    C_out, C_in, K = w.shape
    L_out = L - K + 1
    G, n_groups, n_pass, n_pc, n_pos = plan(C_in, K, L, L_out, 1, 0, 1)
    kernel, n_threads = _forward.choose(B * L_out * C_out * n_groups)
    n_parts = min(n_threads, B)
    pcs, gcs = kept_part_arrays(n_parts, n_pc, n_pos)
    kernel(codes, w, bias, n_valid, y, argmax, groups, G, n_pass, n_pc, n_pos, n_parts, pcs, gcs)


def conv1d_onehot_globalmax_backward_into(dy, codes, argmax, dw, db):
    """Fast (B1)-(B2), unchecked: ADDS into ``dw`` (C_out, C_in, K) and ``db`` (C_out,);
    ``argmax`` is the forward's."""
    _backward_loop(dy, codes, argmax, dw, db)


# ----------------------------------------------------------------------------- 3. checked
def _check_groups(groups, C_out) -> int:
    groups = check_int("groups", groups, 1)
    if C_out % groups:
        raise ValueError(f"w's {C_out} output channels do not split into {groups} groups")
    return groups


def conv1d_onehot_globalmax_forward(codes: np.ndarray, w: np.ndarray, bias: np.ndarray | None,
                                    n_valid: np.ndarray | None = None, groups: int = 1):
    """``conv1d(one_hot(codes), w, bias)`` masked to each sequence's ``n_valid`` positions
    and reduced by its max over positions and ``groups`` channel groups (strands), in
    torch's terms; ``(y, argmax)`` as ``kernels/global_max.py``'s.

    Parameters
    ----------
    codes : int8 ndarray (B, L), values in [-1, C_in): base codes, -1 for N or padding
    w : ndarray (groups*F, C_in, K), float32 or float64, C-contiguous; K <= L
    bias : ndarray (groups*F,) of w's dtype, or None
    n_valid : int64 ndarray (B,), valid positions of the convolution's output per sequence,
        in [1, L - K + 1]; None: all
    groups : int >= 1, channel groups reduced together (2: a filter and its reverse complement)

    Returns
    -------
    y : ndarray (B, F), w's dtype
    argmax : int64 ndarray (B, F), flat index g*L_out + t of each maximum
    """
    bias = check_weights(w, bias)
    C_out, C_in, K = w.shape
    check_codes(codes, C_in)
    groups = _check_groups(groups, C_out)
    B, L = codes.shape
    if K > L:
        raise ValueError(f"sequences of length {L} are shorter than the filters ({K})")
    L_out = L - K + 1
    if n_valid is None:
        n_valid = np.full(B, L_out, dtype=np.int64)
    _check_n_valid(n_valid, B, L_out)
    y = np.empty((B, C_out // groups), dtype=w.dtype)
    argmax = np.empty((B, C_out // groups), dtype=np.int64)
    conv1d_onehot_globalmax_forward_into(codes, w, bias, n_valid, groups, y, argmax)
    return y, argmax


def conv1d_onehot_globalmax_backward(dy: np.ndarray, codes: np.ndarray, argmax: np.ndarray, w_shape: tuple):
    """Gradients ``(dw, db)`` of the loss with respect to w and bias, given ``dy`` (B, F)
    and the forward's ``argmax``; ``w_shape`` = (groups*F, C_in, K)."""
    C_out, C_in, K = (int(v) for v in w_shape)
    check_float_array("dy", dy, ndim=2)
    check_codes(codes, C_in)
    B, F = dy.shape
    if F == 0 or C_out % F:
        raise ValueError(f"dy must have shape (B, F) with F dividing w's {C_out} output channels, got {dy.shape}")
    check_shape("dy", dy, (codes.shape[0], F))
    L_out = codes.shape[1] - K + 1
    if not isinstance(argmax, np.ndarray) or argmax.dtype != np.int64 or argmax.shape != dy.shape:
        raise ValueError(f"argmax must be the forward's int64 array of shape {dy.shape}")
    if argmax.size and (argmax.min() < 0 or argmax.max() >= (C_out // F) * L_out):
        raise ValueError(f"argmax must hold flat indices g*{L_out} + t in [0, {(C_out // F) * L_out}): "
                         f"pass the forward's argmax")
    dw = np.zeros((C_out, C_in, K), dtype=dy.dtype)
    db = np.zeros(C_out, dtype=dy.dtype)
    conv1d_onehot_globalmax_backward_into(dy, codes, np.ascontiguousarray(argmax), dw, db)
    return dw, db
