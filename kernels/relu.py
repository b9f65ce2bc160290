"""ReLU, forward and backward, on arrays of any rank.

Shape legend (element-wise, so every array has the caller's shape; the
unchecked kernels take the flat 1-D views ``x.reshape(-1)`` of C-contiguous
arrays):

    x: (...)   y: (...)   dy: (...)   dx: (...)

    forward:  y = x if not x <= 0 else 0        (a NaN passes through, as torch.relu)
    backward: dx = dy if not y <= 0 else 0      (torch's threshold_backward: the gradient
                                                 passes where the output is > 0, or NaN)

Unchecked entry points (all arguments positional, 1-D C-contiguous arrays of
one float dtype, no checks):

    _relu_forward(x1d) -> y1d
    _relu_backward(dy1d, y1d) -> dx1d
"""

from __future__ import annotations

import numpy as np

from motifnet.kernels._jit import jit
from motifnet.kernels._validate import check_float_array

__all__ = ["relu_forward", "relu_backward"]


@jit
def _relu_forward(x):
    """``_relu_forward(x1d) -> y1d``: y = max(x, 0) with NaN propagating; x: (n,)."""
    # x: (n,)  y: (n,)
    zero = x.dtype.type(0)
    y = np.empty_like(x)
    for i in range(x.shape[0]):
        v = x[i]
        # written as "not v <= 0" so that a NaN input gives a NaN output, as torch
        y[i] = zero if v <= zero else v
    return y


@jit
def _relu_backward(dy, y):
    """``_relu_backward(dy1d, y1d) -> dx1d``: dx = dy where y > 0 (or NaN), else 0."""
    # dy: (n,)  y: (n,)  dx: (n,)
    # backward inverts forward line: y[i] = x[i] if x[i] > 0 else 0  =>  dy/dx = [y > 0]
    zero = dy.dtype.type(0)
    dx = np.empty_like(dy)
    for i in range(dy.shape[0]):
        dx[i] = zero if y[i] <= zero else dy[i]
    return dx


def relu_forward(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit, ``y = max(x, 0)``.

    Parameters
    ----------
    x : ndarray, float32 or float64, C-contiguous, any shape

    Returns
    -------
    y : ndarray of ``x``'s shape and dtype.  A NaN in ``x`` stays NaN (as torch.relu).
    """
    check_float_array("x", x)
    return _relu_forward(x.reshape(-1)).reshape(x.shape)


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
    if y.shape != dy.shape:
        raise ValueError(f"y must have the shape of dy {dy.shape}, got {y.shape}")
    return _relu_backward(dy.reshape(-1), y.reshape(-1)).reshape(dy.shape)
