"""In-silico mutagenesis: the change in logit of every single-base substitution.

    delta[n, b, l] = logit(x[n] with position l set to base b) - logit(x[n])

(0 where b is already the base at l).  Each sequence costs 3 L forward passes
(4 L at an N), batched across sequences into large calls of ``predict``.
The mean-centred form subtracts each position's mean over the four bases, so
a logo of it shows above the axis the bases that raise the logit there.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from motifnet.interpret.motifs import best_window_starts, gather_columns


def in_silico_mutagenesis(
    predict: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    max_batch: int = 8192,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Every single-base substitution's effect on ``predict``: ``(N, 4, L)`` float64.

    ``predict(batch (M, 4, L)) -> (M,)`` logits; ``x`` is one-hot ``(N, 4, L)``.
    Mutants of several sequences go into one call of at most ``max_batch`` rows
    (at least one sequence's worth).  ``progress(done, total)`` is called after
    each chunk of sequences.
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"x must be one-hot (N, 4, L), got shape {x.shape}")
    N, _, L = x.shape
    delta = np.zeros((N, 4, L), dtype=np.float64)
    if N == 0:
        return delta
    base_logits = np.asarray(predict(x), dtype=np.float64)
    per_seq = 4 * L
    chunk = max(1, max_batch // per_seq)
    eye = np.eye(4, dtype=x.dtype)
    for lo in range(0, N, chunk):
        seqs = x[lo : lo + chunk]  # (S, 4, L)
        S = seqs.shape[0]
        # all 4 L variants of each sequence: (S, L, 4 new bases, 4, L)
        variants = np.broadcast_to(seqs[:, None, None], (S, L, 4, 4, L)).copy()
        ll = np.arange(L)
        variants[:, ll, :, :, ll] = eye  # column l of variant (l, b) := one-hot b
        # keep only real substitutions (the new base differs from the old one)
        is_mutant = seqs.transpose(0, 2, 1) != 1  # (S, L, 4): base b is not already at l
        mutants = variants[is_mutant]  # (M, 4, L)
        logits = np.asarray(predict(np.ascontiguousarray(mutants)), dtype=np.float64)
        d = np.zeros((S, L, 4))
        d[is_mutant] = logits - np.repeat(base_logits[lo : lo + S], is_mutant.sum(axis=(1, 2)))
        delta[lo : lo + S] = d.transpose(0, 2, 1)
        if progress is not None:
            progress(min(lo + S, N), N)
    return delta


def mean_centre(delta: np.ndarray) -> np.ndarray:
    """Subtract each position's mean over the four bases: ``(..., 4, L)``."""
    delta = np.asarray(delta, dtype=np.float64)
    return delta - delta.mean(axis=-2, keepdims=True)


def reference_importance(delta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """How much the base present at each position matters: ``(N, L)``.

    The mean-centred value of the reference base, i.e. ``-mean(delta over the
    4 bases)``: the average drop in logit when the base is mutated.
    """
    return np.sum(mean_centre(delta) * (np.asarray(x) > 0), axis=1)


def aligned_windows(delta: np.ndarray, x: np.ndarray, width: int):
    """Align sequences on their max-effect window (largest summed reference importance).

    Returns ``(starts (N,), one_hot_windows (N, 4, width), centred_delta_windows (N, 4, width))``.
    """
    starts = best_window_starts(reference_importance(delta, x), width)
    pos = starts[:, None] + np.arange(width)[None, :]
    idx = np.arange(len(starts))
    return starts, gather_columns(np.asarray(x), idx, pos), gather_columns(mean_centre(delta), idx, pos)
