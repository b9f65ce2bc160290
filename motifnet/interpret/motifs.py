"""Position weight matrices, information content, consensus, windows and motif matching.

Everything here works on plain arrays, no model: a one-hot batch ``x`` is
``(N, 4, L)`` in the order A, C, G, T (``motifnet.data.ALPHABET``), a PWM is
``(4, W)`` with columns that sum to 1, and a window is ``W`` consecutive
columns of one sequence.

    counts[b, j]  = number of windows with base b at position j
    pwm[b, j]     = (counts[b, j] + pc) / (sum_b counts[b, j] + 4 pc)
    IC[j]         = 2 - H[j] = 2 + sum_b pwm[b, j] log2 pwm[b, j]      (bits, in [0, 2])
    consensus[j]  = the base with the largest pwm[b, j]
"""

from __future__ import annotations

import numpy as np

BASES = "ACGT"
_BASE_INDEX = {b: i for i, b in enumerate(BASES)}


def pwm_from_counts(counts: np.ndarray, pseudocount: float = 0.5) -> np.ndarray:
    """Column-normalised ``(counts + pseudocount)``: a ``(4, W)`` float64 PWM."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2 or counts.shape[0] != 4:
        raise ValueError(f"counts must have shape (4, W), got {counts.shape}")
    if pseudocount < 0:
        raise ValueError(f"pseudocount must be >= 0, got {pseudocount}")
    total = counts + pseudocount
    col = total.sum(axis=0, keepdims=True)
    # A column with no observation and no pseudocount says nothing: uniform.
    return np.divide(total, col, out=np.full_like(total, 0.25), where=col > 0)


def pwm_from_windows(windows: np.ndarray, pseudocount: float = 0.5) -> np.ndarray:
    """PWM of stacked one-hot windows ``(N, 4, W)`` (all-zero columns, i.e. N or padding, count nothing)."""
    windows = np.asarray(windows)
    if windows.ndim != 3 or windows.shape[1] != 4:
        raise ValueError(f"windows must have shape (N, 4, W), got {windows.shape}")
    return pwm_from_counts(windows.sum(axis=0, dtype=np.float64), pseudocount)


def information_content(pwm: np.ndarray) -> np.ndarray:
    """Bits per position, ``2 - H`` (0 for a uniform column, 2 for a single base): ``(W,)``."""
    p = np.asarray(pwm, dtype=np.float64)
    plogp = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return np.clip(2.0 + plogp.sum(axis=0), 0.0, 2.0)


def consensus(pwm: np.ndarray) -> str:
    """The most probable base at each position (ties: the first of A, C, G, T)."""
    return "".join(BASES[i] for i in np.argmax(np.asarray(pwm), axis=0))


def relu_normalise(weights: np.ndarray) -> np.ndarray:
    """The primer's filter-to-PWM rule: ReLU, then make every column sum to 1.

    ``weights`` is one first-layer filter ``(4, K)``; a column with no positive
    weight becomes uniform (0 bits).
    """
    w = np.maximum(np.asarray(weights, dtype=np.float64), 0.0)
    col = w.sum(axis=0, keepdims=True)
    return np.divide(w, col, out=np.full_like(w, 0.25), where=col > 0)


def logo_heights(pwm: np.ndarray) -> np.ndarray:
    """Letter heights of an information-content logo: ``pwm * IC`` (bits), ``(4, W)``."""
    return np.asarray(pwm, dtype=np.float64) * information_content(pwm)[None, :]


def encode_motif(motif: str) -> np.ndarray:
    """One-hot ``(4, W)`` float64 of an A/C/G/T string (either case); ValueError names a bad character."""
    out = np.zeros((4, len(motif)))
    for j, ch in enumerate(motif.upper()):
        if ch not in _BASE_INDEX:
            raise ValueError(f"motif character {j + 1} is {ch!r}; only A, C, G, T are allowed")
        out[_BASE_INDEX[ch], j] = 1.0
    return out


def decode(x: np.ndarray) -> str:
    """One one-hot sequence ``(4, L)`` back to a string (an all-zero column is N)."""
    x = np.asarray(x)
    letters = np.array(list(BASES))[np.argmax(x, axis=0)]
    letters[x.max(axis=0) <= 0] = "N"
    return "".join(letters)


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


def window_sums(scores: np.ndarray, width: int) -> np.ndarray:
    """Sums of ``width`` consecutive scores: ``(N, L)`` -> ``(N, L - width + 1)``."""
    scores = np.asarray(scores, dtype=np.float64)
    if not 1 <= width <= scores.shape[-1]:
        raise ValueError(f"window width {width} must be in [1, {scores.shape[-1]}]")
    c = np.concatenate([np.zeros(scores.shape[:-1] + (1,)), np.cumsum(scores, axis=-1)], axis=-1)
    return c[..., width:] - c[..., :-width]


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
