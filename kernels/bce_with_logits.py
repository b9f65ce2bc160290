"""Binary cross-entropy on logits, forward and backward, torch's formula and semantics.

Shape legend (the kernels see flat C-order views, read as rows of P columns):

    logits:     (...)       any shape, flattened to (n,) = (n // P rows, P)
    targets:    (...)       the logits' shape; probabilities in [0, 1] (soft labels allowed,
                            not checked, as torch)
    pos_weight: (P,)        P = 1, or P = the logits' last dimension (torch broadcasting);
                            None means P = 1 with weight 1
    loss:       (...) for reduction "none", a float for "mean" and "sum"
    d_logits:   (...)

    forward:  w[j]    = 1 + (pos_weight[j % P] - 1) * t[j]
              loss[j] = (1 - t[j]) x[j] + w[j] softplus(-x[j]),
              softplus(z) = max(z, 0) + log1p(exp(-|z|))           (never overflows)
              mean: sum_j loss[j] / n    sum: sum_j loss[j]
    backward: d_logits[j] = (w[j] sigmoid(x[j]) - pos_weight[j % P] t[j]) * s[j],
              s = d_loss / n (mean), d_loss (sum), d_loss[j] (none)
              sigmoid(x) = 1 / (1 + exp(-x)) for x >= 0, exp(x) / (1 + exp(x)) for x < 0

Every exp() takes a non-positive argument, so the loss and its gradient stay
finite for any finite logit (checked at +-1e4 in float32).

Unchecked entry points (all arguments positional, no defaults, no checks;
1-D C-contiguous arrays of one float dtype):

    _bce_with_logits_forward(logits1d, targets1d, pos_weight1d, reduction_code) -> loss1d
    _bce_with_logits_backward(logits1d, targets1d, pos_weight1d, reduction_code, d_loss1d)
        -> d_logits1d

    pos_weight1d: (P,) with P dividing n (pass ``np.ones(1)`` for no pos_weight);
    reduction_code: REDUCTION_NONE = 0, REDUCTION_MEAN = 1, REDUCTION_SUM = 2;
    loss1d: (n,) for "none", (1,) holding the reduced loss for "mean"/"sum";
    d_loss1d: (n,) for "none", (1,) for "mean"/"sum".
"""

from __future__ import annotations

import numbers

import numpy as np

from motifnet.kernels._jit import jit
from motifnet.kernels._validate import check_float_array

__all__ = ["bce_with_logits_forward", "bce_with_logits_backward"]

REDUCTION_NONE = 0
REDUCTION_MEAN = 1
REDUCTION_SUM = 2
_REDUCTIONS = {"none": REDUCTION_NONE, "mean": REDUCTION_MEAN, "sum": REDUCTION_SUM}


@jit
def _bce_with_logits_forward(logits, targets, pos_weight, reduction_code):
    """``(logits1d, targets1d, pos_weight1d, reduction_code) -> loss1d``, unchecked."""
    # logits: (n,)  targets: (n,)  pos_weight: (P,)  loss: (n,) or (1,)
    n = logits.shape[0]
    P = pos_weight.shape[0]
    zero = logits.dtype.type(0)
    one = logits.dtype.type(1)
    loss = np.empty(n if reduction_code == 0 else 1, dtype=logits.dtype)
    total = zero
    for r in range(n // P):
        for p in range(P):
            j = r * P + p
            x = logits[j]
            t = targets[j]
            weight = one + (pos_weight[p] - one) * t
            # softplus(-x) = max(-x, 0) + log1p(exp(-|x|))
            softplus_neg_x = max(-x, zero) + np.log1p(np.exp(-abs(x)))
            value = (one - t) * x + weight * softplus_neg_x
            if reduction_code == 0:
                loss[j] = value
            else:
                total += value
    if reduction_code == 1:
        loss[0] = total / logits.dtype.type(n)
    elif reduction_code == 2:
        loss[0] = total
    return loss


@jit
def _bce_with_logits_backward(logits, targets, pos_weight, reduction_code, d_loss):
    """``(logits1d, targets1d, pos_weight1d, reduction_code, d_loss1d) -> d_logits1d``, unchecked."""
    # logits: (n,)  targets: (n,)  pos_weight: (P,)  d_loss: (n,) or (1,)  d_logits: (n,)
    # backward inverts forward line: loss[j] = (1 - t) x + w softplus(-x)
    #   d/dx = (1 - t) - w sigmoid(-x) = w sigmoid(x) - pw t     (using w = 1 - t + pw t)
    n = logits.shape[0]
    P = pos_weight.shape[0]
    zero = logits.dtype.type(0)
    one = logits.dtype.type(1)
    scale = d_loss[0] if d_loss.shape[0] > 0 else zero
    if reduction_code == 1:
        scale = scale / logits.dtype.type(n)
    d_logits = np.empty(n, dtype=logits.dtype)
    for r in range(n // P):
        for p in range(P):
            j = r * P + p
            x = logits[j]
            t = targets[j]
            pw = pos_weight[p]
            weight = one + (pw - one) * t
            e = np.exp(-abs(x))  # in (0, 1]: no overflow for any x
            sig = one / (one + e) if x >= zero else e / (one + e)
            g = weight * sig - pw * t
            d_logits[j] = g * (d_loss[j] if reduction_code == 0 else scale)
    return d_logits


def _check_inputs(logits, targets, pos_weight, reduction):
    check_float_array("logits", logits)
    check_float_array("targets", targets, dtype=logits.dtype)
    if targets.shape != logits.shape:
        raise ValueError(f"targets must have the logits' shape {logits.shape}, got {targets.shape}")
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of 'mean', 'sum', 'none', got {reduction!r}")
    if pos_weight is None:
        pos_weight = np.ones(1, dtype=logits.dtype)
    else:
        check_float_array("pos_weight", pos_weight, ndim=1, dtype=logits.dtype)
        last = logits.shape[-1] if logits.ndim else 1
        if pos_weight.shape[0] not in (1, last):
            raise ValueError(f"pos_weight must have shape (1,) or ({last},) (the logits' last "
                             f"dimension), got {pos_weight.shape}")
    return pos_weight, _REDUCTIONS[reduction]


def bce_with_logits_forward(logits: np.ndarray, targets: np.ndarray, pos_weight: np.ndarray | None = None,
                            reduction: str = "mean"):
    """Binary cross-entropy of ``sigmoid(logits)`` against ``targets``, as torch's
    ``binary_cross_entropy_with_logits``.

    Parameters
    ----------
    logits : ndarray, float32 or float64, C-contiguous, any shape
    targets : ndarray of the logits' shape and dtype, probabilities in [0, 1]
    pos_weight : ndarray (1,) or (C,) with C the logits' last dimension, or None;
        weight of the positive term of each column (torch's pos_weight)
    reduction : "mean" (default), "sum" or "none"

    Returns
    -------
    loss : float for "mean" and "sum"; ndarray of the logits' shape for "none"
    """
    pos_weight, code = _check_inputs(logits, targets, pos_weight, reduction)
    loss = _bce_with_logits_forward(logits.reshape(-1), targets.reshape(-1), pos_weight, code)
    if code == REDUCTION_NONE:
        return loss.reshape(logits.shape)
    return float(loss[0])


def bce_with_logits_backward(logits: np.ndarray, targets: np.ndarray, pos_weight: np.ndarray | None = None,
                             reduction: str = "mean", d_loss=1.0) -> np.ndarray:
    """Gradient of ``bce_with_logits_forward`` with respect to the logits.

    Parameters
    ----------
    logits, targets, pos_weight, reduction : as in ``bce_with_logits_forward``
    d_loss : the gradient of the final loss with respect to this loss: a real number
        for "mean" and "sum" (default 1.0); an ndarray of the logits' shape and dtype
        for "none"

    Returns
    -------
    d_logits : ndarray of the logits' shape and dtype
    """
    pos_weight, code = _check_inputs(logits, targets, pos_weight, reduction)
    if code == REDUCTION_NONE:
        check_float_array("d_loss", d_loss, dtype=logits.dtype)
        if d_loss.shape != logits.shape:
            raise ValueError(f"d_loss must have the logits' shape {logits.shape} for reduction='none', "
                             f"got {d_loss.shape}")
        d_loss = d_loss.reshape(-1)
    else:
        if isinstance(d_loss, np.ndarray) and d_loss.size == 1:
            d_loss = d_loss.reshape(-1)[0]
        if isinstance(d_loss, bool) or not isinstance(d_loss, numbers.Real):
            raise TypeError(f"d_loss must be a real number for reduction={reduction!r}, "
                            f"got {type(d_loss).__name__}")
        d_loss = np.full(1, d_loss, dtype=logits.dtype)
    d_logits = _bce_with_logits_backward(logits.reshape(-1), targets.reshape(-1), pos_weight, code, d_loss)
    return d_logits.reshape(logits.shape)
