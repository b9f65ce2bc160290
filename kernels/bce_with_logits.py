"""Binary cross-entropy on logits, forward and backward, torch's formula and semantics.

Shape legend (the kernels see flat C-order views, read as rows of P columns)
------------
    logits:     (...)       any shape, flattened to (n,) = (n // P rows, P)
    targets:    (...)       the logits' shape; probabilities in [0, 1] (soft labels allowed,
                            not checked, as torch)
    pos_weight: (P,)        P = 1, or P = the logits' last dimension (torch broadcasting);
                            None means P = 1 with weight 1
    loss:       (...) for reduction "none", a float for "mean" and "sum"
    d_logits:   (...)       d_loss: the reduced loss's gradient (a number), or (...) for "none"

Forward
-------
torch's BCEWithLogitsLoss, with p = pos_weight[j % P], t = targets[j], x = logits[j]:

    loss[j] = -[ p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)) ]

Since log sigmoid(x) = -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x)
= -(x + softplus(-x)), with softplus(z) = log(1 + e^z):

    loss[j] = (1 - t) x + w softplus(-x),      w = 1 + (p - 1) t                      (F1)
    softplus(z) = max(z, 0) + log1p(exp(-|z|))                  (never overflows)
    mean: sum_j loss[j] / n        sum: sum_j loss[j]        none: loss itself           (F2)

Backward, derived
-----------------
d softplus(z)/dz = sigmoid(z), so from (F1):

    d loss[j] / dx = (1 - t) - w sigmoid(-x) = (1 - t) - w (1 - sigmoid(x))
                   = w sigmoid(x) - p t              (since 1 - t - w = -p t)

and (F2) scales it by the reduction:

    d_logits[j] += (w sigmoid(x) - p t) * s[j],   s = d_loss / n (mean), d_loss (sum),
                                                   d_loss[j] (none)                        (B1)
    sigmoid(x) = 1 / (1 + exp(-x)) for x >= 0,  exp(x) / (1 + exp(x)) for x < 0

Every exp() takes a non-positive argument, so the loss and its gradient stay
finite for any finite logit (checked at +-1e4 in float32).

Layout of this file: 1. the reference loops, plain, float64; 2. the fast loops and
their entry points ``bce_with_logits_forward_into`` and ``bce_with_logits_backward_into``
(the one contract of every fast kernel, see ``motifnet.kernels``); 3. the checked
entry points.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from motifnet.kernels._jit import jit
from motifnet.kernels._validate import check_float_array

__all__ = [
    "bce_with_logits_forward_reference", "bce_with_logits_backward_reference",
    "bce_with_logits_forward_into", "bce_with_logits_backward_into",
    "bce_with_logits_forward", "bce_with_logits_backward",
    "REDUCTION_NONE", "REDUCTION_MEAN", "REDUCTION_SUM",
]

REDUCTION_NONE = 0
REDUCTION_MEAN = 1
REDUCTION_SUM = 2
_REDUCTIONS = {"none": REDUCTION_NONE, "mean": REDUCTION_MEAN, "sum": REDUCTION_SUM}


# ----------------------------------------------------------------------------- 1. reference
def _softplus(z):
    return max(z, 0.0) + math.log1p(math.exp(-abs(z)))


def _pos_weights(pos_weight, shape):
    return np.ones(shape) if pos_weight is None else np.broadcast_to(np.asarray(pos_weight, np.float64), shape)


def bce_with_logits_forward_reference(logits, targets, pos_weight=None, reduction="mean"):
    """(F1)-(F2) one element at a time, in float64: a float, or an array for "none"."""
    pw = _pos_weights(pos_weight, logits.shape)
    loss = np.zeros(logits.shape)
    for j in np.ndindex(logits.shape):
        x, t = float(logits[j]), float(targets[j])
        loss[j] = (1.0 - t) * x + (1.0 + (pw[j] - 1.0) * t) * _softplus(-x)
    if reduction == "mean":
        return float(loss.sum() / loss.size)
    if reduction == "sum":
        return float(loss.sum())
    return loss


def bce_with_logits_backward_reference(logits, targets, pos_weight=None, reduction="mean", d_loss=1.0):
    """(B1) one element at a time, in float64: ``d_logits``."""
    pw = _pos_weights(pos_weight, logits.shape)
    d_logits = np.zeros(logits.shape)
    for j in np.ndindex(logits.shape):
        x, t = float(logits[j]), float(targets[j])
        sig = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        g = (1.0 + (pw[j] - 1.0) * t) * sig - pw[j] * t
        if reduction == "mean":
            g *= float(d_loss) / logits.size
        elif reduction == "sum":
            g *= float(d_loss)
        else:
            g *= float(d_loss[j])
        d_logits[j] = g
    return d_logits


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above, on flat views; serial (a loss over one batch
# of logits is microseconds of work).

@jit
def _forward_loop(logits, targets, pos_weight, reduction_code, loss):
    # logits, targets: (n,)  pos_weight: (P,)  loss: (n,) for "none", (1,) otherwise; written
    n = logits.shape[0]
    P = pos_weight.shape[0]
    zero = logits.dtype.type(0)
    one = logits.dtype.type(1)
    total = zero
    for r in range(n // P):
        for p in range(P):
            j = r * P + p
            x = logits[j]
            t = targets[j]
            weight = one + (pos_weight[p] - one) * t
            softplus_neg_x = (-x if -x > zero else zero) + np.log1p(np.exp(-abs(x)))
            value = (one - t) * x + weight * softplus_neg_x  # (F1)
            if reduction_code == 0:
                loss[j] = value
            else:
                total += value
    if reduction_code == 1:  # (F2)
        loss[0] = total / logits.dtype.type(n)
    elif reduction_code == 2:
        loss[0] = total


@jit
def _backward_loop(logits, targets, pos_weight, reduction_code, d_loss, d_logits):
    # logits, targets: (n,)  pos_weight: (P,)  d_loss: (n,) or (1,)  d_logits: (n,) ADDED to
    n = logits.shape[0]
    P = pos_weight.shape[0]
    zero = logits.dtype.type(0)
    one = logits.dtype.type(1)
    scale = d_loss[0] if d_loss.shape[0] > 0 else zero
    if reduction_code == 1:
        scale = scale / logits.dtype.type(n)
    for r in range(n // P):
        for p in range(P):
            j = r * P + p
            x = logits[j]
            t = targets[j]
            pw = pos_weight[p]
            weight = one + (pw - one) * t
            e = np.exp(-abs(x))  # in (0, 1]: no overflow for any x
            sig = one / (one + e) if x >= zero else e / (one + e)
            g = weight * sig - pw * t  # (B1)
            d_logits[j] += g * (d_loss[j] if reduction_code == 0 else scale)


def bce_with_logits_forward_into(logits, targets, pos_weight, reduction_code, loss):
    """Fast (F1)-(F2), unchecked: writes ``loss`` (the logits' shape for REDUCTION_NONE,
    a 0-d or 1-element array otherwise).

    logits, targets: C-contiguous, one shape and float dtype; pos_weight (P,) with P = 1
    or the logits' last dimension (``np.ones(1)`` for none).
    """
    _forward_loop(logits.reshape(-1), targets.reshape(-1), pos_weight, reduction_code, loss.reshape(-1))


def bce_with_logits_backward_into(logits, targets, pos_weight, reduction_code, d_loss, d_logits):
    """Fast (B1), unchecked: ADDS into ``d_logits`` (the logits' shape).

    ``d_loss``: an array of the logits' shape for REDUCTION_NONE, a 1-element array otherwise.
    """
    _backward_loop(logits.reshape(-1), targets.reshape(-1), pos_weight, reduction_code,
                   d_loss.reshape(-1), d_logits.reshape(-1))


# ----------------------------------------------------------------------------- 3. checked
def check_pos_weight(pos_weight, last_dim, dtype):
    """Check ``pos_weight`` is None or a (1,) or (last_dim,) array of ``dtype``; return it as (P,).

    A (P,) array applies weight j to column j of the logits' last dimension, as torch
    broadcasts it; any other length would leave logits without a weight.
    """
    if pos_weight is None:
        return np.ones(1, dtype=dtype)
    check_float_array("pos_weight", pos_weight, ndim=1, dtype=dtype)
    if pos_weight.shape[0] not in (1, last_dim):
        raise ValueError(f"pos_weight must have shape (1,) or ({last_dim},) (the logits' last "
                         f"dimension), got {pos_weight.shape}")
    return pos_weight


def reduction_code(reduction) -> int:
    """REDUCTION_NONE, _MEAN or _SUM for "none", "mean", "sum"; ValueError otherwise."""
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of 'mean', 'sum', 'none', got {reduction!r}")
    return _REDUCTIONS[reduction]


def _check_inputs(logits, targets, pos_weight, reduction):
    check_float_array("logits", logits)
    check_float_array("targets", targets, dtype=logits.dtype)
    if targets.shape != logits.shape:
        raise ValueError(f"targets must have the logits' shape {logits.shape}, got {targets.shape}")
    code = reduction_code(reduction)
    return check_pos_weight(pos_weight, logits.shape[-1] if logits.ndim else 1, logits.dtype), code


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
    loss = np.empty(logits.shape if code == REDUCTION_NONE else (), dtype=logits.dtype)
    bce_with_logits_forward_into(logits, targets, pos_weight, code, loss)
    if code == REDUCTION_NONE:
        return loss
    return float(loss)


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
    else:
        if isinstance(d_loss, np.ndarray) and d_loss.size == 1:
            d_loss = d_loss.reshape(-1)[0]
        if isinstance(d_loss, bool) or not isinstance(d_loss, numbers.Real):
            raise TypeError(f"d_loss must be a real number for reduction={reduction!r}, "
                            f"got {type(d_loss).__name__}")
        d_loss = np.full(1, d_loss, dtype=logits.dtype)
    d_logits = np.zeros_like(logits)
    bce_with_logits_backward_into(logits, targets, pos_weight, code, d_loss, d_logits)
    return d_logits
