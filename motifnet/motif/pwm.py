"""Position weight matrices: counts to probabilities, information content, consensus, strands.

A PWM here is a ``(4, W)`` float64 array of letter probabilities, rows A, C, G, T
(``motifnet.data.ALPHABET``), every column summing to 1.  A one-hot sequence is
``(4, L)`` in the same order.

    counts[b, j]  = number of sites with base b at position j
    pwm[b, j]     = (counts[b, j] + pc) / (sum_b counts[b, j] + 4 pc)
    IC[j]         = 2 - H[j] = 2 + sum_b pwm[b, j] log2 pwm[b, j]      (bits, in [0, 2])
    consensus[j]  = the base with the largest pwm[b, j]
    rc[b, j]      = pwm[3 - b, W - 1 - j]        (A<->T, C<->G, read backwards)

``Motif`` is a PWM with its identity (id, name, number of sites, where it came
from); the readers and writers of motif files are in ``motifnet.motif.io``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motifnet.constants import ALPHABET as BASES  # noqa: E402
_BASE_INDEX = {b: i for i, b in enumerate(BASES)}
_LETTERS = np.frombuffer(BASES.encode(), dtype="S1")
COLUMN_SUM_TOLERANCE = 1e-6  # a Motif's columns must sum to 1 within this


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
    return _LETTERS[np.argmax(np.asarray(pwm), axis=0)].tobytes().decode()


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


def reverse_complement_pwm(pwm: np.ndarray) -> np.ndarray:
    """The PWM of the other strand: ``rc[b, j] = pwm[3 - b, W - 1 - j]``, ``(4, W)`` float64.

    Rows are A, C, G, T, so complementing a base is reversing the row order.
    """
    pwm = np.asarray(pwm, dtype=np.float64)
    if pwm.ndim != 2 or pwm.shape[0] != 4:
        raise ValueError(f"pwm must have shape (4, W), got {pwm.shape}")
    return np.ascontiguousarray(pwm[::-1, ::-1])


def trim_bounds(pwm: np.ndarray, min_ic: float) -> tuple[int, int]:
    """``(start, stop)`` of the columns left when flanks with IC below ``min_ic`` bits are cut.

    Only the two ends are cut: a weak column between informative ones stays
    (it is part of the site's spacing).  When no column reaches ``min_ic``,
    ``start == stop`` (nothing is left).
    """
    keep = np.flatnonzero(information_content(pwm) >= min_ic)
    if keep.size == 0:
        return 0, 0
    return int(keep[0]), int(keep[-1]) + 1


def trim(pwm: np.ndarray, min_ic: float) -> np.ndarray:
    """``pwm`` without its flanks of columns below ``min_ic`` bits: ``(4, W')``, ``W'`` may be 0."""
    start, stop = trim_bounds(pwm, min_ic)
    return np.ascontiguousarray(np.asarray(pwm, dtype=np.float64)[:, start:stop])


@dataclass(frozen=True, eq=False)
class Motif:
    """A named PWM.

    Attributes
    ----------
    id : str
        The identifier (``MA0139.2``; MEME's first word after ``MOTIF``).
    name : str
        The alternative name (``CTCF``), ``""`` when there is none.
    pwm : ndarray, shape (4, W), float64
        Letter probabilities, rows A, C, G, T, every column summing to 1
        (within ``COLUMN_SUM_TOLERANCE``).  Stored read-only, so one motif can
        be shared (the cached default database) without being changed under
        another user's feet.
    nsites : float or None
        The number of sites the matrix was estimated from, when known.
    url : str or None
        A page describing the motif (MEME's ``URL`` line).
    source : str or None
        Where the motif was read from (a file) or what made it.
    """

    id: str
    name: str
    pwm: np.ndarray
    nsites: float | None = None
    url: str | None = None
    source: str | None = None

    def __post_init__(self):
        pwm = np.array(self.pwm, dtype=np.float64)  # a private copy
        if pwm.ndim != 2 or pwm.shape[0] != 4 or pwm.shape[1] < 1:
            raise ValueError(f"motif {self.id!r}: pwm must have shape (4, W) with W >= 1, got {pwm.shape}")
        if not np.all(np.isfinite(pwm)) or pwm.min() < 0:
            raise ValueError(f"motif {self.id!r}: pwm entries must be finite and >= 0")
        worst = float(np.max(np.abs(pwm.sum(axis=0) - 1.0)))
        if worst > COLUMN_SUM_TOLERANCE:
            raise ValueError(f"motif {self.id!r}: pwm columns must sum to 1, one is off by {worst:.3g}; "
                             f"normalise with pwm / pwm.sum(axis=0)")
        if self.nsites is not None and not (np.isfinite(self.nsites) and self.nsites > 0):
            raise ValueError(f"motif {self.id!r}: nsites must be > 0 or None, got {self.nsites}")
        pwm.flags.writeable = False
        object.__setattr__(self, "pwm", pwm)

    @property
    def width(self) -> int:
        return self.pwm.shape[1]

    @property
    def consensus(self) -> str:
        return consensus(self.pwm)

    def reverse_complement(self) -> "Motif":
        """The same motif read on the other strand (same id, name, sites)."""
        return Motif(self.id, self.name, reverse_complement_pwm(self.pwm), self.nsites, self.url, self.source)

    def trimmed(self, min_ic: float) -> "Motif | None":
        """This motif without flanks below ``min_ic`` bits; None if no column reaches ``min_ic``."""
        start, stop = trim_bounds(self.pwm, min_ic)
        if start == stop:
            return None
        return Motif(self.id, self.name, self.pwm[:, start:stop], self.nsites, self.url, self.source)

    def __repr__(self) -> str:
        return f"Motif(id={self.id!r}, name={self.name!r}, width={self.width}, consensus={self.consensus!r})"


def window_sums(scores: np.ndarray, width: int) -> np.ndarray:
    """Sums of ``width`` consecutive scores: ``(N, L)`` -> ``(N, L - width + 1)``."""
    scores = np.asarray(scores, dtype=np.float64)
    if not 1 <= width <= scores.shape[-1]:
        raise ValueError(f"window width {width} must be in [1, {scores.shape[-1]}]")
    c = np.concatenate([np.zeros(scores.shape[:-1] + (1,)), np.cumsum(scores, axis=-1)], axis=-1)
    return c[..., width:] - c[..., :-width]
