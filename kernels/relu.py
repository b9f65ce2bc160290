"""ReLU, forward and backward, on arrays of any shape.

Shape legend (element-wise: every array has the caller's shape; the kernels see
the flat views ``a.reshape(-1)`` of C-contiguous arrays, of n elements)

    x:  (...)   input          dx: (...)   gradient of the loss with respect to x
    y:  (...)   output         dy: (...)   gradient of the loss with respect to y

Forward
-------
    y[i] = x[i]  if x[i] > 0                                                  (F1)
           0     otherwise
    (written ``0 if x <= 0 else x``, so a NaN input gives a NaN output, as torch.relu)

Backward, derived
-----------------
L is the loss and dy[i] = dL/dy[i] is given.  y[i] depends on x[i] alone, so the
chain rule has one term:

    dL/dx[i] = dL/dy[i] * dy[i]/dx[i]
    dy[i]/dx[i] = 1 where x[i] > 0 (F1's first line), 0 where x[i] < 0 (its second)
                                                      (undefined at 0: we take 0, as torch)
    =>  dx[i] = dy[i] * [x[i] > 0]

[x > 0] can be read off the output, [y > 0] (y = x where x > 0, and 0 elsewhere),
so the backward needs y, not x; a NaN output lets the gradient through, as
torch's ``threshold_backward``:

    dx[i] += dy[i]  if not y[i] <= 0  else 0                                  (B1)

Layout
------
1. the reference loops: the formulas above, one element at a time, float64;
2. the fast kernels ``relu_forward_into`` and ``relu_backward_into``: the same
   loops compiled by Numba, writing into buffers the caller owns (the one
   contract of every fast kernel, see ``motifnet.kernels``);
3. the checked entry points ``relu_forward`` and ``relu_backward``.
"""

from __future__ import annotations

import numpy as np

from motifnet.kernels._jit import jit
from motifnet.kernels._validate import check_float_array, check_same_shape

__all__ = [
    "relu_forward_reference", "relu_backward_reference",
    "relu_forward_into", "relu_backward_into",
    "relu_forward", "relu_backward",
]


# ----------------------------------------------------------------------------- 1. reference
def relu_forward_reference(x):
    """(F1) one element at a time, in float64: ``y``."""
    y = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        y[i] = 0.0 if x[i] <= 0 else float(x[i])
    return y


def relu_backward_reference(dy, y):
    """(B1) one element at a time, in float64: ``dx`` (a fresh array, nothing to add to)."""
    dx = np.zeros(dy.shape)
    for i in np.ndindex(dy.shape):
        dx[i] = 0.0 if y[i] <= 0 else float(dy[i])
    return dx


# ----------------------------------------------------------------------------- 2. fast
# Computes exactly the reference above.  The loops are the reference's, on flat views,
# with no branch in the body (a select), so LLVM vectorises them; they are serial: at
# a few bytes per element they run at memory speed, where a second thread gains little.

@jit
def _forward_loop(x, y):
    # x: (n,)  y: (n,) written
    zero = x.dtype.type(0)
    for i in range(x.shape[0]):
        v = x[i]
        y[i] = zero if v <= zero else v  # (F1)


@jit
def _backward_loop(dy, y, dx):
    # dy: (n,)  y: (n,)  dx: (n,) ADDED to
    zero = dy.dtype.type(0)
    for i in range(dy.shape[0]):
        dx[i] += zero if y[i] <= zero else dy[i]  # (B1)


def relu_forward_into(x, y):
    """Fast (F1), unchecked: writes ``y``.  x, y: C-contiguous, same shape and dtype."""
    _forward_loop(x.reshape(-1), y.reshape(-1))


def relu_backward_into(dy, y, dx):
    """Fast (B1), unchecked: ADDS into ``dx``.  dy, y, dx: C-contiguous, same shape and dtype."""
    _backward_loop(dy.reshape(-1), y.reshape(-1), dx.reshape(-1))


# ----------------------------------------------------------------------------- 3. checked
def relu_forward(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit, ``y = max(x, 0)``, as ``torch.relu``.

    Parameters
    ----------
    x : ndarray, float32 or float64, C-contiguous, any shape

    Returns
    -------
    y : ndarray of ``x``'s shape and dtype.  A NaN in ``x`` stays NaN (as torch.relu).
    """
    check_float_array("x", x)
    y = np.empty_like(x)
    relu_forward_into(x, y)
    return y


def relu_backward(dy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of ReLU with respect to its input, from the forward's *output* ``y``.

    Parameters
    ----------
    dy : ndarray, gradient of the loss with respect to ``y``
    y : ndarray of ``dy``'s shape and dtype, the output of ``relu_forward``

    Returns
    -------
    dx : ndarray, ``dy`` where ``y > 0`` and 0 elsewhere (torch's threshold_backward,
        so the gradient at exactly 0 is 0).
    """
    check_float_array("dy", dy)
    check_float_array("y", y, dtype=dy.dtype)
    check_same_shape("y", y, "dy", dy)
    dx = np.zeros_like(dy)
    relu_backward_into(dy, y, dx)
    return dx
