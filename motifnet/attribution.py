"""Attributions: DeepLIFT with exact rules, and integrated gradients.

Both explain the change of a model's logit between a sequence x and a reference
x' (one-hot (4, L) each) as a sum of per-base contributions that add up to it:

    sum_{c,l} contributions[c, l] = f(x) - f(x')                         (completeness)

DeepLIFT (Shrikumar et al. 2017), rescale rule
----------------------------------------------
A forward pass on x and on x', then one backward pass of *multipliers*
m = d(contribution) / d(delta) from the logit (m = 1) to the input.  Every layer
passes them so that sum m_in (in - in') = sum m_out (out - out') holds exactly
(summation-to-delta), so the chain gives completeness exactly, up to rounding:

* linear layers (convolutions, Linear, Flatten, the query's mean, the concatenation)
  pass multipliers as their ordinary backward passes gradients (the same kernels);
* ReLU: the rescale multiplier (y - y') / (x - x'), computed by sign cases with no
  threshold (kernels/relu.py, (D1)-(D2));
* max-pooling and the global max: each maximum's change split between the argmax of
  x and that of x' with weights in [0, 1] (kernels/maxpool1d.py and
  kernels/global_max.py, (D1)-(D2)).  The plain gradient there, ``max_rule="gradient"``
  (kept for comparison only), credits the change at x's argmax, which misses by
  x'[a'] - x'[a] whenever the reference's maximum is elsewhere: that is the delta
  that does not vanish (tangermeme #48/#49, captum #1276 are variants of it);
* the attention model's additive attention: exact rules for tanh (its secant),
  the softmax (exp, sum, reciprocal and product, each exact) and the products
  a * k (the two-factor mean rule) (kernels/attention_deeplift.py, (D1)-(D8)).

So every model here is supported with exact rules; the convergence delta is rounding.

Integrated gradients (Sundararajan et al. 2017)
-----------------------------------------------
    IG = (x - x') * integral_0^1 grad f(x' + alpha (x - x')) d alpha

by an m-point rule along the straight path (the midpoint rule, or Gauss-Legendre),
with the models' own input gradient (``model.backward(..., need_input_grad=True)``
at one-hot floats).  The path integral is exact only as m -> oo; the convergence
delta ``|sum IG - (f(x) - f(x'))|`` is the quadrature's error and shrinks with m.
Along a line a ReLU network's gradient jumps (at every ReLU kink and argmax switch),
where Gauss-Legendre's high order for smooth integrands does not apply: measured on
DeepBind trained on the planted set (100 positives x 10 shuffles), max |delta| was
0.16 / 0.068 / 0.025 with the midpoint rule and 0.31 / 0.11 / 0.059 with Gauss-Legendre
at 20 / 50 / 100 steps, so the midpoint rule is the default.

References
----------
* ``"shuffle"`` (default): ``n_references`` dinucleotide shuffles of each sequence
  (``motifnet.negatives.dinucleotide_shuffle``, one seeded generator for the call,
  N kept in place); the attributions are averaged over them, as DeepSHAP does, so
  they sum to f(x) - mean_r f(x'_r);
* ``"uniform"``: the expected one-hot under equal base frequencies, 0.25 each;
* ``"composition"``: the expected one-hot under the base frequencies of the
  sequences passed; or any 4 frequencies (A, C, G, T), e.g. from a GC content;
* an array: codes (N, L) or (N, R, L) int8, or one-hot (N, 4, L) or (N, R, 4, L).

Composition references are 0 where x has an N or padding (there x is 0 too, so
nothing is attributed to an unknown base); shuffles keep N and padding in place.

Hypothetical contributions
--------------------------
What base b would contribute at l, given the multipliers:
``hypothetical[b, l] = mean_r (m_r[b, l] - sum_c m_r[c, l] x'_r[c, l])`` (the
contribution of a one-hot b there against the same reference), so at the observed
base it is the position's contribution ``sum_c contributions[c, l]``; motif
discovery (``motifnet.motif.discovery``) reads these.  For IG the multipliers are
the path-averaged gradients.

Precision
---------
``dtype=np.float64`` (default) runs a float64 copy of the model (a float32 model's
weights are exact in float64): the delta is rounding, ~1e-15 of the logit (measured:
max |delta| 5.3e-15 over the 1000 test sequences of the planted set, 10 shuffles each,
for a DeepBind whose f(x) - f(x') reaches 19).  With ``dtype=np.float32`` the forward
passes round every activation to 2^-24 of its size and the delta is that rounding
carried to the logit: measured |delta| <= 7.1 u S, S = |f(x)| + |f(x')| + sum
|contributions|, u = 2^-24, over random and trained models of all three kinds (the
tests assert 64 u S); 2.9e-6 at most on the planted DeepBind.  The plain-gradient max
rule misses by up to 21.9 there, at either precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motifnet.data import base_codes_of, one_hot_codes
from motifnet.kernels.attention_deeplift import attention_deeplift_backward_into
from motifnet.kernels.conv1d import conv1d_backward_into
from motifnet.kernels.global_max import global_max_backward_into, global_max_deeplift_backward_into
from motifnet.kernels.linear import linear_backward_into
from motifnet.kernels.maxpool1d import maxpool1d_backward_into, maxpool1d_deeplift_backward_into
from motifnet.kernels.relu import relu_deeplift_backward_into
from motifnet.layers import float_dtype
from motifnet.models import DeepBind, GenomicsCNN, GenomicsCNNWithAttention
from motifnet.negatives import dinucleotide_shuffle

__all__ = ["Attribution", "deeplift", "integrated_gradients", "shuffled_references", "composition_reference",
           "base_frequencies", "model_in_dtype", "MAX_RULES", "IG_METHODS"]

MAX_RULES = ("exact", "gradient")
IG_METHODS = ("midpoint", "gausslegendre")
PAIRS_PER_BATCH = 64   # (sequence, reference) pairs per forward pass
IG_ROWS_PER_BATCH = 128  # path points per forward + backward


@dataclass(frozen=True)
class Attribution:
    """Attributions of N sequences, averaged over their references.

    Attributes
    ----------
    contributions : float64 (N, 4, L)
        multipliers * (x - x'): their sum over bases and positions is f(x) - f_ref + delta.
    hypothetical : float64 (N, 4, L)
        What each base would contribute at each position (module docstring).
    multipliers : float64 (N, 4, L)
        The input's multipliers (DeepLIFT) or path-averaged gradients (IG), mean over references.
    delta : float64 (N,)
        ``contributions.sum((1, 2)) - (f_x - f_ref)``, the convergence delta (signed).
    f_x, f_ref : float64 (N,)
        The logit of each sequence and the mean logit of its references (in the
        computation's dtype).
    """

    contributions: np.ndarray
    hypothetical: np.ndarray
    multipliers: np.ndarray
    delta: np.ndarray
    f_x: np.ndarray
    f_ref: np.ndarray


# --------------------------------------------------------------------------- references
def shuffled_references(codes, lengths, n_references, seed=0) -> np.ndarray:
    """``n_references`` dinucleotide shuffles of each sequence: int8 codes (N, R, L).

    Each sequence's first ``lengths[i]`` bases are shuffled (N kept in place); padding
    stays -1.  One ``numpy.random.default_rng(seed)`` draws them in order (i, r).
    """
    codes = np.asarray(codes)
    N, L = codes.shape
    rng = np.random.default_rng(seed)
    out = np.full((N, n_references, L), -1, dtype=np.int8)
    for i in range(N):
        n = int(lengths[i])
        for r in range(n_references):
            out[i, r, :n] = dinucleotide_shuffle(codes[i, :n], rng)
    return out


def base_frequencies(codes, lengths) -> np.ndarray:
    """Frequencies of A, C, G, T (4,) over the valid, non-N positions of ``codes``."""
    codes = np.asarray(codes)
    valid = np.arange(codes.shape[1])[None, :] < np.asarray(lengths)[:, None]
    counts = np.array([np.count_nonzero((codes == c) & valid) for c in range(4)], dtype=np.float64)
    if counts.sum() == 0:
        raise ValueError("no base A, C, G or T among the sequences: no composition to use as a reference")
    return counts / counts.sum()


def composition_reference(codes, lengths, frequencies) -> np.ndarray:
    """The expected one-hot under ``frequencies`` (A, C, G, T): float64 (N, 4, L), 0 at N and padding."""
    codes = np.asarray(codes)
    known = (codes >= 0) & (np.arange(codes.shape[1])[None, :] < np.asarray(lengths)[:, None])
    return np.asarray(frequencies, dtype=np.float64)[None, :, None] * known[:, None, :]


_NOT_ONE_HOT = ("shuffled references need one-hot sequences (or base codes); for other inputs "
                "pass references as an array, 'uniform' or 4 base frequencies")


def _references(references, codes, lengths, n_references, seed, dtype):
    """The references as a function ``batch(idx) -> (len(idx), R, 4, L)`` of ``dtype``, and R."""
    N, L = codes.shape
    if isinstance(references, str):
        if references == "shuffle":
            if n_references < 1:
                raise ValueError(f"n_references must be >= 1, got {n_references}")
            shuffles = shuffled_references(codes, lengths, n_references, seed)
            return (lambda idx: one_hot_codes(shuffles[idx].reshape(-1, L)).astype(dtype)
                    .reshape(len(idx), n_references, 4, L)), n_references
        if references == "uniform":
            frequencies = np.full(4, 0.25)
        elif references == "composition":
            frequencies = base_frequencies(codes, lengths)
        else:
            raise ValueError(f"references must be 'shuffle', 'uniform', 'composition', 4 base frequencies "
                             f"or an array, got {references!r}")
    else:
        arr = np.asarray(references)
        if arr.shape == (4,) and arr.dtype.kind == "f":
            frequencies = arr.astype(np.float64)
            if np.any(frequencies < 0) or not np.isclose(frequencies.sum(), 1.0):
                raise ValueError(f"base frequencies must be >= 0 and sum to 1, got {frequencies.tolist()}")
        else:
            if arr.dtype == np.int8 and arr.ndim in (2, 3):
                arr = arr[:, None] if arr.ndim == 2 else arr
                if arr.shape[0] != N or arr.shape[2] != L:
                    raise ValueError(f"reference codes must have shape ({N}, {L}) or ({N}, R, {L}), "
                                     f"got {np.shape(references)}")
                R = arr.shape[1]
                return (lambda idx: one_hot_codes(arr[idx].reshape(-1, L)).astype(dtype)
                        .reshape(len(idx), R, 4, L)), R
            if arr.dtype.kind == "f" and arr.ndim in (3, 4):
                arr = arr[:, None] if arr.ndim == 3 else arr
                if arr.shape[0] != N or arr.shape[2:] != (4, L):
                    raise ValueError(f"one-hot references must have shape ({N}, 4, {L}) or ({N}, R, 4, {L}), "
                                     f"got {np.shape(references)}")
                return (lambda idx: np.ascontiguousarray(arr[idx], dtype=dtype)), arr.shape[1]
            raise ValueError(f"references must be 'shuffle', 'uniform', 'composition', 4 base frequencies, "
                             f"codes (N, L)/(N, R, L) int8 or one-hot (N, 4, L)/(N, R, 4, L) floats; got an "
                             f"array of {arr.dtype} and shape {arr.shape}")
    comp = composition_reference(codes, lengths, frequencies).astype(dtype)
    return (lambda idx: comp[idx][:, None]), 1


# --------------------------------------------------------------------------- inputs
def model_in_dtype(model, dtype):
    """``model`` itself if it computes in ``dtype``, else a copy with the same weights in ``dtype``."""
    dtype = float_dtype(dtype)
    if model.dtype == dtype:
        return model
    twin = type(model)(**model.hyperparameters(), dtype=dtype)
    twin.flat_params[...] = model.flat_params  # float32 -> float64 is exact
    return twin


def _prepare(model, x, lengths, dtype):
    """(model in dtype, x as checked (codes or one-hot), one-hot x (N, 4, L) in dtype, lengths (N,))."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy.ndarray (base codes or one-hot), got {type(x).__name__}")
    if x.dtype.kind == "f" and x.dtype != np.dtype(dtype):
        x = x.astype(dtype)
    work = model_in_dtype(model, dtype)
    x, lengths = work.check_input(np.ascontiguousarray(x), lengths)
    onehot = one_hot_codes(x).astype(dtype) if x.dtype == np.int8 else x
    return work, x, onehot, lengths


def _pair_rows(onehot, lengths, ref_batch, R, lo, hi):
    """For sequences lo..hi: x repeated per reference, the references, lengths: (P, 4, L) x 2, (P,)."""
    n = hi - lo
    X = np.repeat(onehot[lo:hi], R, axis=0)
    X_ref = ref_batch(np.arange(lo, hi)).reshape(n * R, 4, onehot.shape[2])
    return np.ascontiguousarray(X), np.ascontiguousarray(X_ref), np.repeat(lengths[lo:hi], R)


def _finish(multipliers_sum, hyp_sum, contrib_sum, f_x, f_ref_sum, R):
    contributions = contrib_sum / R
    f_ref = f_ref_sum / R
    return Attribution(contributions=contributions, hypothetical=hyp_sum / R, multipliers=multipliers_sum / R,
                       delta=contributions.sum(axis=(1, 2)) - (f_x - f_ref), f_x=f_x, f_ref=f_ref)


def _accumulate(out, lo, hi, onehot, m, refs):
    """Add one batch's multipliers ``m`` (n, R, 4, L) against ``refs`` (n, R, 4, L) into the sums."""
    mult, hyp, contrib = out
    m = m.astype(np.float64)
    refs = refs.astype(np.float64)
    mult[lo:hi] = m.sum(axis=1)
    contrib[lo:hi] = (m * (onehot[lo:hi, None].astype(np.float64) - refs)).sum(axis=1)
    hyp[lo:hi] = (m - (m * refs).sum(axis=2, keepdims=True)).sum(axis=1)  # one-hot b against x'


# --------------------------------------------------------------------------- DeepLIFT passes
class _Rows:
    """The rows of one forward pass: Z = [n sequences; their n * R references], the references of
    sequence i at rows n + i * R + r.  Each sequence is run once; its activations are repeated
    to pair it with each of its references (P = n * R pairs) for the backward."""

    def __init__(self, n, R):
        self.n, self.R = n, R

    def x(self, a):
        """The sequences' rows of activation ``a``, one per pair: (P, ...)."""
        return np.repeat(a[:self.n], self.R, axis=0)

    def ref(self, a):
        """The references' rows of ``a``, one per pair: (P, ...), a contiguous view."""
        return a[self.n:]


def _linear_multipliers(layer, m_y, x):
    """A Linear layer's input multipliers: its ordinary backward (B3) of ``m_y`` (P, out); ``x``
    (P, in), which (B3) does not read, feeds the weight gradient the kernel also computes."""
    w = layer.weight.data
    m_x = np.zeros((m_y.shape[0], layer.in_features), dtype=w.dtype)
    linear_backward_into(np.ascontiguousarray(m_y), x, w, m_x, np.zeros_like(w), np.zeros(layer.out_features, w.dtype))
    return m_x


def _conv_multipliers(m_y, X, w):
    """A convolution's (stride 1, no padding) input multipliers: its ordinary backward (B3)."""
    m_x = np.zeros_like(X)
    conv1d_backward_into(m_y, X, w, m_x, np.zeros_like(w), np.zeros(w.shape[0], w.dtype), 1, 0, 1)
    return m_x


def _relu_multipliers(m_y, pre, rows):
    """The rescale rule (kernels/relu.py (D1)-(D2)) of a ReLU whose input was ``pre`` (all rows)."""
    m_x = np.zeros(m_y.shape, dtype=pre.dtype)
    relu_deeplift_backward_into(np.ascontiguousarray(m_y), rows.x(pre), rows.ref(pre), m_x)
    return m_x


def _deeplift_deepbind(model, Z, lengths_z, rows, max_rule):
    # forward on Z, every layer's output kept (each is its layer's own buffer)
    y = model.conv.forward(Z)                                          # (n + P, 2F, L_conv)
    n_valid = lengths_z - (model.kernel_size - 1)
    g = model.pool.forward(y, n_valid)                                 # (n + P, F)
    argmax = model.pool.argmax
    m = model.pool_relu.forward(g)
    p1 = model.fc1.forward(m)                                          # (n + P, H)
    z = model.fc1_relu.forward(p1)
    logits = model.fc2.forward(z).reshape(-1)                          # (n + P,)
    # the multipliers, from the logit (m = 1) back to the input: the forward read backwards
    P = rows.n * rows.R
    m_z = _linear_multipliers(model.fc2, np.ones((P, 1), model.dtype), rows.x(z))
    m_m = _linear_multipliers(model.fc1, _relu_multipliers(m_z, p1, rows), rows.x(m))
    m_g = _relu_multipliers(m_m, g, rows)
    m_y = np.zeros((P,) + y.shape[1:], dtype=model.dtype)
    if max_rule == "exact":
        global_max_deeplift_backward_into(m_g, rows.x(y), rows.ref(y), rows.x(argmax), rows.ref(argmax), m_y)
    else:
        global_max_backward_into(m_g, rows.x(argmax), m_y)
    w2, _ = model.conv.both_strand_filters()
    return _conv_multipliers(m_y, rows.x(Z), w2), logits


def _trunk_forward(model, Z):
    """The CNN trunk on Z: conv, ReLU, pool; returns (pre-ReLU, post-ReLU, pooled, argmax)."""
    c = model.conv.forward(Z)                                          # (n + P, F, L_conv)
    h = model.conv_relu.forward(c)
    pooled = model.pool.forward(h, True)                               # (n + P, F, L_pool)
    return c, h, pooled, model.pool.argmax


def _trunk_multipliers(model, m_pooled, Z, c, h, argmax, rows, max_rule):
    m_h = np.zeros(m_pooled.shape[:2] + h.shape[2:], dtype=model.dtype)
    if max_rule == "exact":
        maxpool1d_deeplift_backward_into(m_pooled, rows.x(h), rows.ref(h), rows.x(argmax), rows.ref(argmax), m_h)
    else:
        maxpool1d_backward_into(m_pooled, rows.x(argmax), m_h)
    return _conv_multipliers(_relu_multipliers(m_h, c, rows), rows.x(Z), model.conv.weight.data)


def _deeplift_cnn(model, Z, lengths_z, rows, max_rule):
    c, h, pooled, argmax = _trunk_forward(model, Z)
    flat = model.flatten.forward(pooled)                               # (n + P, F * L_pool)
    p1 = model.fc1.forward(flat)
    z = model.fc1_relu.forward(p1)
    logits = model.fc2.forward(z).reshape(-1)
    P = rows.n * rows.R
    m_z = _linear_multipliers(model.fc2, np.ones((P, 1), model.dtype), rows.x(z))
    m_flat = _linear_multipliers(model.fc1, _relu_multipliers(m_z, p1, rows), rows.x(flat))
    m_pooled = m_flat.reshape((P,) + pooled.shape[1:])
    return _trunk_multipliers(model, m_pooled, Z, c, h, argmax, rows, max_rule), logits


def _deeplift_attention(model, Z, lengths_z, rows, max_rule):
    c, h, pooled, argmax = _trunk_forward(model, Z)
    flat = model.flatten.forward(pooled)
    cnn_pre = model.fc1.forward(flat)                                  # (n + P, hidden)
    cnn = model.fc1_relu.forward(cnn_pre)
    inv_length = model.dtype.type(1.0 / model.pool_length)
    query = np.ascontiguousarray(pooled.sum(axis=2) * inv_length)      # (n + P, F): the mean of pooled
    context, _ = model.attention.forward(query, pooled)                # (n + P, F)
    attn_pre = model.fc_attn.forward(context)                          # (n + P, hidden)
    attn = model.fc_attn_relu.forward(attn_pre)
    cat = np.concatenate((cnn, attn), axis=1)
    logits = model.fc2.forward(cat).reshape(-1)
    H, P = model.hidden, rows.n * rows.R
    m_cat = _linear_multipliers(model.fc2, np.ones((P, 1), model.dtype), rows.x(cat))
    m_ctx = _linear_multipliers(model.fc_attn, _relu_multipliers(m_cat[:, H:], attn_pre, rows), rows.x(context))
    att = model.attention
    m_query = np.zeros((P, pooled.shape[1]), dtype=model.dtype)
    m_pooled = np.zeros((P,) + pooled.shape[1:], dtype=model.dtype)   # where the three paths meet
    attention_deeplift_backward_into(m_ctx, rows.x(query), rows.ref(query), rows.x(pooled), rows.ref(pooled),
                                     att.W.data, att.b.data, att.v.data, m_query, m_pooled)  # keys and values
    m_pooled += m_query[:, :, None] * inv_length                       # query = mean of pooled
    m_cnn_pre = _relu_multipliers(m_cat[:, :H], cnn_pre, rows)         # the dense branch
    w1 = model.fc1.weight.data
    linear_backward_into(m_cnn_pre, rows.x(flat), w1, m_pooled.reshape(P, -1), np.zeros_like(w1),
                         np.zeros(w1.shape[0], w1.dtype))
    return _trunk_multipliers(model, m_pooled, Z, c, h, argmax, rows, max_rule), logits


def _deeplift_pass(model):
    # the subclass first: the attention model is a GenomicsCNN too
    if isinstance(model, GenomicsCNNWithAttention):
        return _deeplift_attention
    if isinstance(model, GenomicsCNN):
        return _deeplift_cnn
    if isinstance(model, DeepBind):
        return _deeplift_deepbind
    raise TypeError(f"deeplift supports the models of motifnet.models (cnn, attention, deepbind), "
                    f"got {type(model).__name__}")


def deeplift(model, x, lengths=None, *, references="shuffle", n_references: int = 10, seed: int = 0,
             dtype=np.float64, max_rule: str = "exact", pairs_per_batch: int = PAIRS_PER_BATCH) -> Attribution:
    """DeepLIFT attributions of each sequence's logit, exact rules (module docstring).

    Parameters
    ----------
    model : GenomicsCNN, GenomicsCNNWithAttention or DeepBind
    x : base codes (N, L) int8, or one-hot floats (N, 4, L)
    lengths : (N,) lengths of variable-length sequences (DeepBind), None for all L
    references : "shuffle", "uniform", "composition", 4 base frequencies, or an array
        (module docstring, "References")
    n_references : shuffles per sequence (``references="shuffle"`` only)
    seed : seeds the shuffles
    dtype : float64 (default: a float64 copy of a float32 model, delta ~1e-13) or float32
    max_rule : "exact" (the rule of kernels/maxpool1d.py (D1)-(D2)) or "gradient" (the
        plain gradient through the maxima, for comparison: its delta does not vanish)
    pairs_per_batch : (sequence, reference) pairs per forward pass

    Returns
    -------
    Attribution (float64 arrays; see its docstring).  The model's layers are run (their
    buffers hold this call's last batch afterwards, as after any forward); parameters and
    their gradients are not touched.
    """
    if max_rule not in MAX_RULES:
        raise ValueError(f"max_rule must be one of {', '.join(MAX_RULES)}, got {max_rule!r}")
    run = _deeplift_pass(model)
    work, x, onehot, lengths = _prepare(model, x, lengths, dtype)
    ref_batch, R = _references(references, base_codes_of(x, _NOT_ONE_HOT), lengths, n_references, seed, work.dtype)
    N, _, L = onehot.shape
    out = tuple(np.zeros((N, 4, L)) for _ in range(3))
    f_x, f_ref = np.zeros(N), np.zeros(N)
    per_batch = max(1, pairs_per_batch // R)
    for lo in range(0, N, per_batch):
        hi = min(N, lo + per_batch)
        n = hi - lo
        refs = ref_batch(np.arange(lo, hi))                            # (n, R, 4, L)
        Z = np.concatenate((onehot[lo:hi], refs.reshape(n * R, 4, L)))
        lengths_z = np.concatenate((lengths[lo:hi], np.repeat(lengths[lo:hi], R)))
        m_x, logits = run(work, Z, lengths_z, _Rows(n, R), max_rule)
        _accumulate(out, lo, hi, onehot, m_x.reshape(n, R, 4, L), refs)
        f_x[lo:hi] = logits[:n]
        f_ref[lo:hi] = logits[n:].astype(np.float64).reshape(n, R).sum(axis=1)
    return _finish(*out, f_x, f_ref, R)


# --------------------------------------------------------------------------- integrated gradients
def _quadrature(steps, method):
    """Nodes alpha in (0, 1) and weights summing to 1 of an ``steps``-point rule on [0, 1]."""
    if method == "midpoint":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    return (nodes + 1) / 2, weights / 2


def integrated_gradients(model, x, lengths=None, *, references="shuffle", n_references: int = 10, steps: int = 50,
                         method: str = "midpoint", seed: int = 0, dtype=np.float64,
                         rows_per_batch: int = IG_ROWS_PER_BATCH) -> Attribution:
    """Integrated gradients along the straight path from each reference to its sequence.

    Parameters
    ----------
    model : any motifnet model
    x, lengths, references, n_references, seed, dtype : as ``deeplift``
    steps : m, the points of the quadrature rule
    method : "midpoint" (the Riemann midpoint rule, alpha = (k + 1/2) / m) or
        "gausslegendre" (m-point Gauss-Legendre on [0, 1])
    rows_per_batch : path points per forward + backward pass

    Returns
    -------
    Attribution; ``delta`` is the quadrature's error, shrinking with ``steps``.  The
    model's parameter gradients are left zeroed (as ``motifnet.train.input_gradient``).
    """
    if method not in IG_METHODS:
        raise ValueError(f"method must be one of {', '.join(IG_METHODS)}, got {method!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    work, x, onehot, lengths = _prepare(model, x, lengths, dtype)
    ref_batch, R = _references(references, base_codes_of(x, _NOT_ONE_HOT), lengths, n_references, seed, work.dtype)
    alphas, weights = _quadrature(int(steps), method)
    N, _, L = onehot.shape
    out = tuple(np.zeros((N, 4, L)) for _ in range(3))
    f_x, f_ref = np.zeros(N), np.zeros(N)
    ones = np.ones(rows_per_batch, dtype=work.dtype)
    per_batch = max(1, rows_per_batch // (R * steps))
    for lo in range(0, N, per_batch):
        hi = min(N, lo + per_batch)
        X, X_ref, lengths_p = _pair_rows(onehot, lengths, ref_batch, R, lo, hi)
        P = X.shape[0]
        # every point of every pair's path: rows (pair, step), alpha innermost
        points = (X_ref[:, None] + alphas.astype(work.dtype)[None, :, None, None] * (X - X_ref)[:, None])
        points = np.ascontiguousarray(points.reshape(P * steps, 4, L))
        lengths_pts = np.repeat(lengths_p, steps)
        grads = np.empty(points.shape, dtype=work.dtype)
        for start in range(0, points.shape[0], rows_per_batch):
            stop = min(points.shape[0], start + rows_per_batch)
            work.forward(points[start:stop], lengths_pts[start:stop], check=False)
            grads[start:stop] = work.backward(ones[:stop - start], need_input_grad=True)
        work.zero_grad()
        G = (grads.astype(np.float64).reshape(P, steps, 4, L) * weights[None, :, None, None]).sum(axis=1)
        _accumulate(out, lo, hi, onehot, G.reshape(hi - lo, R, 4, L), X_ref.reshape(hi - lo, R, 4, L))
        ends = np.concatenate((X[::R][:, None], X_ref.reshape(hi - lo, R, 4, L)), axis=1).reshape(-1, 4, L)
        logits = np.asarray(work.forward(np.ascontiguousarray(ends), np.repeat(lengths[lo:hi], R + 1), check=False,
                                         need_backward=False), dtype=np.float64).reshape(hi - lo, R + 1)
        f_x[lo:hi] = logits[:, 0]
        f_ref[lo:hi] = logits[:, 1:].sum(axis=1)
    return _finish(*out, f_x, f_ref, R)
