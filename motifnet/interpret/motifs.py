"""Windows of one-hot sequences and simple motif matching, for interpreting a model.

Everything here works on plain arrays, no model: a one-hot batch ``x`` is
``(N, 4, L)`` in the order A, C, G, T (``motifnet.data.ALPHABET``), a PWM is
``(4, W)`` with columns that sum to 1, and a window is ``W`` consecutive
columns of one sequence.  The PWM maths (counts to PWM, information content,
consensus, logo heights, one-hot encoding) is in ``motifnet.motif.pwm`` and is
re-exported from here.
"""

from __future__ import annotations

import numpy as np

# The PWM maths lives in motifnet.motif.pwm (with the motif files and matching);
# these names are imported back so every caller of motifnet.interpret.motifs keeps working.
from motifnet.motif.pwm import (BASES, consensus, decode, encode_motif, window_sums,  # noqa: F401  (re-exported)
                                information_content, logo_heights, pwm_from_counts, pwm_from_windows,
                                relu_normalise)


def match_motif(found: str, motif: str) -> dict:
    """How well ``found`` (a consensus) matches the known ``motif``, forward strand only.

    Slides ``found`` along ``motif`` over every offset at which they overlap
    and counts equal bases; ``offset`` is the position of ``found[0]`` relative
    to ``motif[0]`` at the best offset (the smallest |offset| among ties).
    ``exact`` is True when ``found`` contains ``motif``.
    """
    found, motif = found.upper(), motif.upper()
    best = (-1, 0)
    for offset in range(-(len(found) - 1), len(motif)):
        matches = sum(
            1 for j, ch in enumerate(found) if 0 <= offset + j < len(motif) and motif[offset + j] == ch
        )
        if matches > best[0] or (matches == best[0] and abs(offset) < abs(best[1])):
            best = (matches, offset)
    return {
        "matches": int(best[0]),
        "motif_length": len(motif),
        "offset": int(best[1]),
        "exact": motif in found,
    }


def best_window_starts(scores: np.ndarray, width: int) -> np.ndarray:
    """Start of the width-``width`` window with the largest summed score in each row: ``(N,)`` int64."""
    return np.argmax(window_sums(scores, width), axis=-1).astype(np.int64)


def centred_starts(centres: np.ndarray, width: int, length: int) -> np.ndarray:
    """Starts of width-``width`` windows around ``centres`` (positions ``c - width//2 ...``),
    shifted to lie inside ``[0, length)``."""
    return np.clip(np.asarray(centres, dtype=np.int64) - width // 2, 0, length - width)


def stack_windows(x: np.ndarray, starts: np.ndarray, width: int, seq_index=None) -> np.ndarray:
    """One-hot windows ``x[n, :, s : s + width]`` for each start: ``(M, 4, width)``.

    ``seq_index`` (default ``arange(len(starts))``) says which sequence each
    start belongs to.  Columns outside ``[0, L)`` are zero (count nothing).
    """
    x = np.asarray(x)
    starts = np.asarray(starts, dtype=np.int64)
    seq_index = np.arange(len(starts)) if seq_index is None else np.asarray(seq_index, dtype=np.int64)
    pos = starts[:, None] + np.arange(width)[None, :]  # (M, W)
    return gather_columns(x, seq_index, pos)


def gather_columns(x: np.ndarray, seq_index: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``out[m, :, j] = x[seq_index[m], :, pos[m, j]]``, zero where ``pos`` is outside ``[0, L)``."""
    L = x.shape[-1]
    valid = (pos >= 0) & (pos < L)
    cols = x[seq_index[:, None], :, np.clip(pos, 0, L - 1)]  # (M, W, 4)
    return np.ascontiguousarray(np.moveaxis(cols * valid[..., None], -1, 1))


def find_motif(seqs: list[str], motif: str) -> np.ndarray:
    """0-based start of the first exact (forward-strand) occurrence of ``motif`` in each sequence, -1 if none."""
    motif = motif.upper()
    return np.array([s.upper().find(motif) for s in seqs], dtype=np.int64)
