"""What the first-layer filters learned: weight logos and activation PWMs (Basset).

Activation PWM of filter f (Kelley et al. 2016, Basset), over a set of sequences:

    a = activations[:, f, :]                      (N, L_conv), after ReLU
    threshold = mu + 0.5 * (max - mu)             mu, max of a over the whole set
    sites = every (n, t) with a[n, t] > threshold
    window of site (n, t) = input positions t*stride - padding + k*dilation, k < K
    PWM = column-normalised base counts of the windows + pseudocount

A filter with fewer than ``min_sites`` sites gets no PWM.  The *best* filter is
the one with the largest total information content among those with a PWM:
it is chosen from the data alone, never from a known motif.
"""

from __future__ import annotations

import numpy as np

from motifnet.interpret.motifs import consensus, gather_columns, information_content, pwm_from_windows

MIN_SITES = 10


def top_filters_by_variance(weights: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` filters ``(F, 4, K)`` with the largest weight variance, largest first."""
    var = np.asarray(weights, dtype=np.float64).reshape(len(weights), -1).var(axis=1)
    return np.argsort(-var, kind="stable")[:n]


def activation_sites(activations: np.ndarray, fraction: float = 0.5):
    """Sites of each filter: list over filters of ``(seq_index, conv_position)`` arrays."""
    act = np.asarray(activations, dtype=np.float64)
    sites = []
    for f in range(act.shape[1]):
        a = act[:, f, :]
        mu, top = a.mean(), a.max()
        if not top > mu:  # a constant map (dead filter) has no site
            sites.append((np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        n_idx, t_idx = np.nonzero(a > mu + fraction * (top - mu))
        sites.append((n_idx.astype(np.int64), t_idx.astype(np.int64)))
    return sites


def activation_pwms(
    activations: np.ndarray,
    x: np.ndarray,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    pseudocount: float = 0.5,
    min_sites: int = MIN_SITES,
    fraction: float = 0.5,
) -> list[dict]:
    """One record per filter: ``{"filter", "n_sites", "pwm" (4, K) | None, "consensus", "ic"}``.

    ``activations`` ``(N, F, L_conv)`` are the filters' ReLU outputs on the
    one-hot ``x`` ``(N, 4, L)``; the conv geometry maps a site back to its window.
    ``ic`` is the total information content in bits (None without a PWM).
    """
    x = np.asarray(x)
    offsets = np.arange(kernel_size) * dilation
    out = []
    for f, (n_idx, t_idx) in enumerate(activation_sites(activations, fraction)):
        rec = {"filter": f, "n_sites": int(n_idx.size), "pwm": None, "consensus": None, "ic": None}
        if n_idx.size >= min_sites:
            pos = (t_idx * stride - padding)[:, None] + offsets[None, :]
            pwm = pwm_from_windows(gather_columns(x, n_idx, pos), pseudocount)
            rec.update(pwm=pwm, consensus=consensus(pwm), ic=float(information_content(pwm).sum()))
        out.append(rec)
    return out


def best_filter(records: list[dict]) -> dict | None:
    """The record with the largest total information content (None if no filter has a PWM)."""
    ok = [r for r in records if r["pwm"] is not None]
    return max(ok, key=lambda r: r["ic"]) if ok else None
