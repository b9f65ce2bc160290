"""Fast in-silico mutagenesis: every single-base substitution's effect on the logit.

    delta[n, b, l] = logit(x[n] with base b at l) - logit(x[n])

(0 where b is already the base at l and past each sequence's length), the quantity of
``motifnet.interpret.ism.in_silico_mutagenesis``, which runs 3 L full forward passes per
sequence.  Here the two models whose first layer is followed by a max (the CNN and
DeepBind) recompute only what a substitution changes (kernels/ism.py, (C1)-(C3)): the
K convolution outputs over the substituted base, the maxima they can move (DeepBind:
from prefix and suffix maxima; the CNN: at most ceil(K / P) + 1 pooled cells), and the
dense layer's pre-activation by the columns of the moved features.  The attention
model's query is the mean of all pooled cells and its softmax mixes every position, so a
substitution moves every attention weight: it falls back to batched full forward passes
on base codes (no saving in the number of forwards, only in their cost per row).

Any N in a sequence (code -1) has four substitutions.  The result is float64: the fast
paths compute in float64 from the model's weights whatever its dtype.
"""

from __future__ import annotations

import numpy as np

from motifnet.data import base_codes_of
from motifnet.kernels.ism import cnn_ism_into, deepbind_ism_into
from motifnet.models import DeepBind, GenomicsCNN, GenomicsCNNWithAttention

__all__ = ["fast_ism", "MUTANTS_PER_BATCH"]

MUTANTS_PER_BATCH = 2048  # rows per forward pass of the attention model's fallback


def _ism_by_forwards(model, codes, lengths, mutants_per_batch):
    """delta (N, 4, L) from full forward passes of every mutant, in batches of base codes."""
    N, L = codes.shape
    delta = np.zeros((N, 4, L))
    per_seq = 4 * L
    chunk = max(1, mutants_per_batch // per_seq)
    for lo in range(0, N, chunk):
        hi = min(N, lo + chunk)
        S = hi - lo
        # (S, L positions, 4 bases, L) variants; keep those whose new base differs
        variants = np.repeat(codes[lo:hi, None, None, :], L, axis=1).repeat(4, axis=2)
        ll = np.arange(L)
        variants[:, ll, :, ll] = np.arange(4, dtype=np.int8)[None, None, :]
        valid = ll[None, :] < lengths[lo:hi, None]                              # (S, L)
        is_mutant = (codes[lo:hi, :, None] != np.arange(4)[None, None, :]) & valid[:, :, None]
        mutants = np.ascontiguousarray(variants[is_mutant])                     # (M, L)
        mutant_lengths = np.repeat(lengths[lo:hi], is_mutant.sum(axis=(1, 2)))
        logits = np.empty(mutants.shape[0])
        for start in range(0, mutants.shape[0], mutants_per_batch):
            stop = start + mutants_per_batch
            logits[start:stop] = model.forward(mutants[start:stop], mutant_lengths[start:stop], check=False,
                                               need_backward=False)
        base = np.asarray(model.forward(codes[lo:hi], lengths[lo:hi], check=False, need_backward=False),
                          dtype=np.float64)
        d = np.zeros((S, L, 4))
        d[is_mutant] = logits - np.repeat(base, is_mutant.sum(axis=(1, 2)))
        delta[lo:hi] = d.transpose(0, 2, 1)
    return delta


def fast_ism(model, x, lengths=None, *, mutants_per_batch: int = MUTANTS_PER_BATCH) -> np.ndarray:
    """In-silico mutagenesis of every sequence: ``delta`` (N, 4, L) float64.

    Parameters
    ----------
    model : DeepBind, GenomicsCNN (incremental, kernels/ism.py) or GenomicsCNNWithAttention
        (batched full forwards)
    x : base codes (N, L) int8 (-1 for N and padding), or one-hot floats (N, 4, L)
    lengths : (N,) lengths of variable-length sequences (DeepBind); None for all L
    mutants_per_batch : rows per forward pass of the attention model's fallback

    Returns
    -------
    delta : float64 (N, 4, L), ``logit(mutant) - logit(x)``; 0 at the base present and past
        each sequence's length.
    """
    x, lengths = model.check_input(x, lengths)
    codes = np.ascontiguousarray(base_codes_of(x, "ISM substitutes bases: x must be base codes or one-hot "
                                                  "sequences"))
    N, L = codes.shape
    delta = np.zeros((N, 4, L))
    if N == 0:
        return delta
    if isinstance(model, GenomicsCNNWithAttention):
        return _ism_by_forwards(model, codes, lengths, mutants_per_batch)
    if isinstance(model, GenomicsCNN):
        cnn_ism_into(codes, model.conv.weight.data, model.conv.bias.data, model.pool_size, model.fc1.weight.data,
                     model.fc1.bias.data, model.fc2.weight.data[0], float(model.fc2.bias.data[0]), delta)
        return delta
    if isinstance(model, DeepBind):
        w2, b2 = model.conv.both_strand_filters()
        deepbind_ism_into(codes, lengths, w2, b2, model.fc1.weight.data, model.fc1.bias.data,
                          model.fc2.weight.data[0], float(model.fc2.bias.data[0]), delta)
        return delta
    raise TypeError(f"fast_ism supports the models of motifnet.models (cnn, attention, deepbind), "
                    f"got {type(model).__name__}")
