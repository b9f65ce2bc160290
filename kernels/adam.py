"""Adam optimiser step, in place, with torch.optim.Adam's semantics.

Shape legend
------------
param, grad, exp_avg (m), exp_avg_sq (v): all (N,) for the fast kernel (motifnet
keeps all of a model's parameters in ONE flat buffer, and their gradients in
another, so a training step is one call); any (same) shape for the checked one.

The update
----------
Adam is not a layer: it has no backward.  It keeps two running moments of each
parameter's gradient, m (the mean) and v (the mean square), and moves the
parameter by lr * m / sqrt(v): a step of about lr whatever the gradient's scale.
Both moments start at 0, so early on they are biased towards 0 by the factors
1 - beta1^t and 1 - beta2^t (the weights that the geometric averages have put on
real gradients after t steps); dividing by them removes the bias.

Per element, at step t (counted from 1), as torch's ``_single_tensor_adam``
(amsgrad=False, maximize=False, weight_decay = L2 added to the gradient):

    g          = grad + weight_decay * param                          (A1)
    exp_avg    = lerp(exp_avg, g, 1 - beta1)                          (A2)
    exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g             (A3)
    denom      = sqrt(exp_avg_sq) / sqrt(1 - beta2**t) + eps          (A4)
    param      = param + (-lr / (1 - beta1**t)) * exp_avg / denom     (A5)

One deviation from torch, for speed: a moment that falls below the smallest normal
number of the dtype (float32: 1.2e-38) is stored as 0 (flushed), not as the subnormal
torch keeps:

    exp_avg    = 0 where |exp_avg| < tiny                             (A2')
    exp_avg_sq = 0 where exp_avg_sq < tiny, if eps > 0                (A3')

Why: a parameter whose gradient stays 0 (a ReLU unit that died) has its exp_avg
multiplied by beta1 every step, so after ~830 steps (0.9^830 ~ 1e-38) it is subnormal,
and stays there (the smallest subnormal times 0.9 rounds back to itself).  On Intel
CPUs every multiply or divide with a subnormal operand takes a microcode assist of
~100+ cycles.  Training the primer CNN at L = 200 (25,665 parameters, 14,589 of them
under dead units after one epoch), measured on a 2-core Intel Xeon, 1 thread: an epoch
of 20,000 sequences took 0.52-0.65 s before this flush and 0.33-0.50 s after (the two
versions alternating in separate processes, 3 rounds of 5 epochs).  What it
changes: torch would add step_size * exp_avg / denom to the parameter, at most
lr / (1 - beta1) * 1.2e-38 / eps = 1.2e-32 at the defaults: below half an ulp of any
parameter larger than ~2e-25, so the parameters come out as torch's.  exp_avg_sq
(decaying by beta2, ~100x slower) is flushed only when eps > 0, which keeps the
denominator of (A5) at least eps: with eps = 0, a 0 there would turn the update into
0 / 0.

To match torch in float32 the scalar factors (1 - beta1, lr / bias_correction1,
sqrt(bias_correction2), ...) are computed in Python float64 exactly as torch
computes them, then rounded once to the array dtype; the element-wise
operations run in the array dtype in torch's order.  torch's CPU lerp is
``self + w * (end - self)`` for |w| < 0.5 and ``end - (end - self) * (1 - w)``
otherwise (aten ``lerp``), mirrored in A2.

Layout of this file: 1. the reference loop, plain, float64; 2. the fast loop and its
entry point ``adam_step_into`` (updates the caller's buffers in place); 3. the
checked entry point ``adam_step``.
"""

from __future__ import annotations

import math

import numpy as np

from motifnet.kernels._jit import jit_exact
from motifnet.kernels._validate import check_float_array, check_int

__all__ = ["adam_step_reference", "adam_step_into", "adam_step"]


# ----------------------------------------------------------------------------- 1. reference
def adam_step_reference(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                        weight_decay=0.0):
    """(A1)-(A5) one element at a time, in float64, in place; ``step`` counts from 1."""
    beta1, beta2 = betas
    tiny = np.finfo(param.dtype).tiny
    for i in np.ndindex(param.shape):
        g = float(grad[i]) + weight_decay * float(param[i])                        # (A1)
        exp_avg[i] = beta1 * exp_avg[i] + (1.0 - beta1) * g                        # (A2)
        if abs(exp_avg[i]) < tiny:                                                 # (A2')
            exp_avg[i] = 0.0
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1.0 - beta2) * g * g              # (A3)
        if eps > 0 and exp_avg_sq[i] < tiny:                                       # (A3')
            exp_avg_sq[i] = 0.0
        denom = math.sqrt(exp_avg_sq[i]) / math.sqrt(1.0 - beta2**step) + eps       # (A4)
        param[i] -= lr / (1.0 - beta1**step) * exp_avg[i] / denom                  # (A5)


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above in the array's dtype, in torch's operation order.

_TINY32, _TINY64 = float(np.finfo(np.float32).tiny), float(np.finfo(np.float64).tiny)  # smallest normals


@jit_exact  # no fast-math: the compiled step's inlined copy must round as this one (_jit.jit_exact)
def _adam_loop(param, grad, exp_avg, exp_avg_sq, weight_decay, lerp_weight, beta2, one_minus_beta2,
               neg_step_size, bias_correction2_sqrt, eps):
    # param, grad, exp_avg, exp_avg_sq: (N,); the scalars arrive as float64 and
    # are rounded once to the array dtype, as torch rounds a Python scalar.
    # Serial on purpose: a memory-bound loop over a model's few thousand to
    # few hundred thousand parameters finishes in microseconds, less than a
    # thread-pool dispatch would cost.
    dt = param.dtype.type
    wd = dt(weight_decay)
    w = dt(lerp_weight)
    one_minus_w = dt(1) - w  # aten lerp works with the weight already rounded to the dtype
    small_weight = abs(w) < dt(0.5)
    has_weight_decay = weight_decay != 0.0  # torch skips A1 then (0 * inf would turn into NaN)
    b2 = dt(beta2)
    c2 = dt(one_minus_beta2)
    neg_step = dt(neg_step_size)
    bc2_sqrt = dt(bias_correction2_sqrt)
    eps_ = dt(eps)
    tiny = dt(_TINY32) if param.itemsize == 4 else dt(_TINY64)  # np.finfo would compile its overload: 70 ms
    flush_sq = eps > 0.0
    for n in range(param.size):
        g = grad[n]
        if has_weight_decay:
            g = g + wd * param[n]  # A1: grad.add(param, alpha=weight_decay)
        m = exp_avg[n]
        if small_weight:  # A2, aten lerp
            m = m + w * (g - m)
        else:
            m = g - (g - m) * one_minus_w
        if abs(m) < tiny:  # A2': a subnormal would cost a microcode assist at every step
            m = dt(0)
        exp_avg[n] = m
        s = exp_avg_sq[n] * b2 + c2 * g * g  # A3: mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if flush_sq and s < tiny:  # A3'
            s = dt(0)
        exp_avg_sq[n] = s
        denom = math.sqrt(s) / bc2_sqrt + eps_  # A4
        param[n] = param[n] + neg_step * m / denom  # A5: addcdiv_(exp_avg, denom, value=-step_size)


def adam_scalars(step, lr, beta1, beta2, eps, weight_decay):
    """The scalar arguments of ``_adam_loop`` after ``param, grad, exp_avg, exp_avg_sq``, for
    step ``step`` (counted from 1): the bias corrections in Python float64, as torch
    computes them.  (Also what ``motifnet/compiled_step.py`` passes to the loop.)"""
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    return (float(weight_decay), 1 - beta1, float(beta2), 1 - beta2, -step_size, bias_correction2_sqrt, float(eps))


def adam_step_into(param1d, grad1d, m1d, v1d, step, lr, beta1, beta2, eps, weight_decay):
    """Fast (A1)-(A5), unchecked: updates ``param1d``, ``m1d`` (exp_avg), ``v1d`` (exp_avg_sq) in place.

    1-D C-contiguous arrays of one float dtype; ``step`` is the number of this step,
    counted from 1; the scalars are Python floats.  The bias corrections are computed
    here in Python float64 (as torch does), then one njit loop does the rest.
    """
    _adam_loop(param1d, grad1d, m1d, v1d, *adam_scalars(step, lr, beta1, beta2, eps, weight_decay))


# ----------------------------------------------------------------------------- 3. checked
def adam_step(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One Adam step, in place, as ``torch.optim.Adam`` (amsgrad=False, maximize=False).

    Parameters
    ----------
    param, grad, exp_avg, exp_avg_sq : ndarray
        Same shape, same dtype (float32 or float64), C-contiguous.  ``param``,
        ``exp_avg`` and ``exp_avg_sq`` are updated in place; start the moments at zeros.
    step : int
        Number of this step, counted from 1 (torch increments its state before using it).
    lr : float
        Learning rate, >= 0.
    betas : (float, float)
        Decay rates of the moment estimates, each in [0, 1).
    eps : float
        Added to the denominator, >= 0.
    weight_decay : float
        L2 penalty added to the gradient (torch.optim.Adam, not AdamW), >= 0.

    Raises
    ------
    TypeError, ValueError
        Naming the argument that is wrong.
    """
    param = check_float_array("param", param)
    for name, a in (("grad", grad), ("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)):
        check_float_array(name, a, dtype=param.dtype)
        if a.shape != param.shape:
            raise ValueError(f"{name} must have the shape of param {param.shape}, got {a.shape}")
    step = check_int("step", step, 1)
    try:
        beta1, beta2 = (float(x) for x in betas)
    except (TypeError, ValueError):
        raise TypeError(f"betas must be a pair of floats, got {betas!r}") from None
    for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a float, got {type(value).__name__}")
        if not value >= 0.0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    for name, value in (("betas[0]", beta1), ("betas[1]", beta2)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    adam_step_into(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
                   step, float(lr), beta1, beta2, float(eps), float(weight_decay))
