"""Attention weights at sequence resolution, and whether they sit on the motif.

The attention layer weighs the pooled positions ``(N, L_pool)``; to lay them
over the sequence they are upsampled to ``L`` by linear interpolation exactly
as ``torch.nn.functional.interpolate(a[:, None], size=L, mode="linear",
align_corners=False)`` does (the follow-up's method):

    src    = max(0, (i + 0.5) * L_pool / L - 0.5)        for output position i
    i0     = floor(src),  i1 = min(i0 + 1, L_pool - 1),  t = src - i0
    out[i] = (1 - t) * a[i0] + t * a[i1]
"""

from __future__ import annotations

import numpy as np


def upsample_linear(a: np.ndarray, size: int) -> np.ndarray:
    """Linear upsampling of the last axis of ``a`` to ``size`` (torch's align_corners=False)."""
    a = np.asarray(a)
    n_in = a.shape[-1]
    if n_in < 1 or size < 1:
        raise ValueError(f"cannot interpolate length {n_in} to {size}")
    src = (np.arange(size, dtype=np.float64) + 0.5) * (n_in / size) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = (src - i0).astype(a.dtype if a.dtype.kind == "f" else np.float64)
    return (1 - t) * a[..., i0] + t * a[..., i1]


def motif_enrichment(attention: np.ndarray, motif_starts: np.ndarray, motif_length: int) -> dict:
    """Mean attention on motif positions vs on the other positions.

    ``attention`` is ``(N, L)`` at sequence resolution, ``motif_starts`` the
    0-based motif start in each sequence (-1: motif not found, row ignored).
    Means are over all (sequence, position) pairs of each kind; ``ratio`` is
    motif / background.
    """
    attention = np.asarray(attention, dtype=np.float64)
    motif_starts = np.asarray(motif_starts)
    rows = np.flatnonzero(motif_starts >= 0)
    if rows.size == 0:
        return {"n_sequences": 0, "motif_mean": None, "background_mean": None, "ratio": None}
    L = attention.shape[1]
    pos = np.arange(L)[None, :]
    on = (pos >= motif_starts[rows, None]) & (pos < motif_starts[rows, None] + motif_length)
    att = attention[rows]
    motif_mean = float(att[on].mean())
    background_mean = float(att[~on].mean()) if (~on).any() else None
    ratio = motif_mean / background_mean if background_mean else None
    return {
        "n_sequences": int(rows.size),
        "motif_mean": motif_mean,
        "background_mean": background_mean,
        "ratio": ratio,
    }
