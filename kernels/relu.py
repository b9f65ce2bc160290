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

In place, when the caller's dy is read by nothing else afterwards, (B1) is written over it
instead of added into a zeroed dx:

    dy[i]  =  dy[i]  if not y[i] <= 0  else 0                                  (B1')

DeepLIFT's rescale rule: the backward with multipliers
------------------------------------------------------
DeepLIFT (Shrikumar et al. 2017) explains f(x) - f(x') for an input x and a reference
x' by a backward pass of *multipliers* m = d(contribution) / d(delta): each layer
passes the multipliers of its outputs to its inputs so that, layer by layer,

    sum_i m_x[i] (x[i] - x'[i]) = sum_o m_y[o] (y[o] - y'[o])                     (S)

(summation-to-delta), which chained from the logit (m = 1) down to the input says the
input's contributions m_x (x - x') sum exactly to f(x) - f(x').  Here x, x' are the
ReLU's inputs for the sequence and for its reference (the forward's x, twice), and
y = relu(x), y' = relu(x').  ReLU is element-wise, so (S) holds term by term when

    r[i] = (y[i] - y'[i]) / (x[i] - x'[i])          the rescale multiplier      (D1)
    m_x[i] += m_y[i] * r[i]                                                   (D2)

since then m_x[i] (x[i] - x'[i]) = m_y[i] (y[i] - y'[i]).  (D1) read case by case, from (F1):

    x > 0 and x' > 0:     y - y' = x - x'                    r = 1
    x <= 0 and x' <= 0:   y - y' = 0                         r = 0
    otherwise (one of them > 0, the other <= 0):             r = (y - y') / (x - x')

No threshold is needed, and none is used.  In the third case x and x' lie on either
side of 0, so |x - x'| = |x| + |x'| >= |y - y'| and the quotient lies in [0, 1] whatever
the magnitudes (even subnormal): the division is never by a "small" number relative to
its numerator.  x == x' falls in the first two cases, where r is the gradient [x > 0]
of (B1) (the limit of (D1) as x' -> x, and at x = x' = 0 the 0 the backward takes);
its contribution m_x (x - x') is 0 whatever r.  Rounding: the first two cases are
exact (y - y' and x - x' are the same subtraction), the third is one division, so
r (x - x') = (y - y') (1 + e) with |e| <= one unit roundoff: the rule adds no error
beyond float precision.  (captum's rescale uses the gradient where |x - x'| < 1e-10,
which drops up to 1e-10 of a contribution for nothing: the split by sign makes the
quotient safe everywhere.)  A NaN in x or x' makes r NaN (third case), so it shows.

Layout
------
1. the reference loops: the formulas above, one element at a time, float64;
2. the fast kernels ``relu_forward_into``, ``relu_backward_into`` and
   ``relu_deeplift_backward_into``: the same loops compiled by Numba, writing into
   buffers the caller owns (the one contract of every fast kernel, see
   ``motifnet.kernels``);
3. the checked entry points ``relu_forward``, ``relu_backward`` and
   ``relu_deeplift_backward``.
"""

from __future__ import annotations

import numpy as np

from numba import prange

from motifnet.kernels._jit import SerialOrParallel, jit
from motifnet.kernels._validate import check_float_array, check_same_shape

__all__ = [
    "relu_forward_reference", "relu_backward_reference",
    "relu_forward_into", "relu_backward_into", "relu_backward_in_place_into",
    "relu_forward", "relu_backward",
    "relu_deeplift_backward_reference", "relu_deeplift_backward_into", "relu_deeplift_backward",
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
# with no branch in the body (a select), so LLVM vectorises them.  At a few bytes per
# element they run near memory speed; chunks of _CHUNK elements are the unit of thread
# parallelism, which pays from a few hundred thousand elements (2 threads vs 1, omp,
# 3 varying inputs, minima of 9 rounds: 32 x 32 x 189 float32 forward 19.4 -> 12.1 us,
# backward 24.4 -> 15.3 us; 32 x 32 x 989 forward 120 -> 56 us, backward 157 -> 72 us).

_CHUNK = 16384


def _forward_loop(x, y):
    # x: (n,)  y: (n,) written
    zero = x.dtype.type(0)
    n = x.shape[0]
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        xc = x[c * _CHUNK:(c + 1) * _CHUNK]
        yc = y[c * _CHUNK:(c + 1) * _CHUNK]
        for i in range(xc.shape[0]):
            v = xc[i]
            yc[i] = zero if v <= zero else v  # (F1)


def _backward_loop(dy, y, dx):
    # dy: (n,)  y: (n,)  dx: (n,) ADDED to
    zero = dy.dtype.type(0)
    n = dy.shape[0]
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        dyc = dy[c * _CHUNK:(c + 1) * _CHUNK]
        yc = y[c * _CHUNK:(c + 1) * _CHUNK]
        dxc = dx[c * _CHUNK:(c + 1) * _CHUNK]
        for i in range(dyc.shape[0]):
            dxc[i] += zero if yc[i] <= zero else dyc[i]  # (B1)


def _forward_in_place_loop(x):
    # x: (n,) overwritten with (F1).  The same loop with one array: with two that are
    # the same memory, LLVM's overlap check sends _forward_loop to its scalar version.
    zero = x.dtype.type(0)
    n = x.shape[0]
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        xc = x[c * _CHUNK:(c + 1) * _CHUNK]
        for i in range(xc.shape[0]):
            v = xc[i]
            xc[i] = zero if v <= zero else v  # (F1)


def _backward_in_place_loop(dy, y):
    # dy: (n,) overwritten with (B1')  y: (n,).  Against zeroing a dx and adding (B1) into
    # it, one array less to write and read: 32 x 32 x 989 float32, 1 thread, 400 -> 127 us
    # (the fill and the add against this loop; minima of 7).
    zero = dy.dtype.type(0)
    n = dy.shape[0]
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        dyc = dy[c * _CHUNK:(c + 1) * _CHUNK]
        yc = y[c * _CHUNK:(c + 1) * _CHUNK]
        for i in range(dyc.shape[0]):
            dyc[i] = zero if yc[i] <= zero else dyc[i]  # (B1')


# measured serial nanoseconds per element (1 thread): the threshold for threads is a time
_forward = SerialOrParallel(_forward_loop, ns_per_work=0.12)
_forward_in_place = SerialOrParallel(_forward_in_place_loop, ns_per_work=0.1)
_backward = SerialOrParallel(_backward_loop, ns_per_work=0.23)
_backward_in_place = SerialOrParallel(_backward_in_place_loop, ns_per_work=0.13)


def relu_forward_into(x, y):
    """Fast (F1), unchecked: writes ``y``.  x, y: C-contiguous, same shape and dtype; ``y``
    may be ``x`` itself (in place: the models' convolution output, which nothing else
    reads, saves a pass over a second array; at the CNN's B=32 x L=1000 a training step
    took 13-18% less, at L=200 6-8%)."""
    if y is x or (y.ctypes.data == x.ctypes.data and y.size == x.size):
        _forward_in_place(x.size, x.reshape(-1))
    else:
        _forward(x.size, x.reshape(-1), y.reshape(-1))


def relu_backward_into(dy, y, dx):
    """Fast (B1), unchecked: ADDS into ``dx``.  dy, y, dx: C-contiguous, same shape and dtype."""
    _backward(dy.size, dy.reshape(-1), y.reshape(-1), dx.reshape(-1))


def relu_backward_in_place_into(dy, y):
    """Fast (B1'), unchecked: OVERWRITES ``dy`` with the input gradient.  For a caller whose
    dy nothing else reads (the models' ReLUs: dy is the next layer's own input-gradient
    buffer, zeroed again at its next backward).  dy, y: C-contiguous, same shape and dtype."""
    _backward_in_place(dy.size, dy.reshape(-1), y.reshape(-1))


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


# ----------------------------------------------------------------------------- DeepLIFT: 1. reference
def relu_deeplift_backward_reference(m_y, x, x_ref):
    """(D1)-(D2) one element at a time, in float64: ``m_x`` (a fresh array).

    m_y: multipliers of the output; x, x_ref: the forward's inputs for the sequence and
    for its reference (all of one shape).
    """
    m_x = np.zeros(m_y.shape)
    for i in np.ndindex(m_y.shape):
        a, b = float(x[i]), float(x_ref[i])
        if a > 0 and b > 0:
            r = 1.0
        elif a <= 0 and b <= 0:
            r = 0.0
        else:  # either side of 0 (or a NaN): |a - b| >= |relu(a) - relu(b)|
            r = (max(a, 0.0) - max(b, 0.0)) / (a - b)
        m_x[i] = float(m_y[i]) * r
    return m_x


# ----------------------------------------------------------------------------- DeepLIFT: 2. fast
# Computes exactly the reference above: the same cases as selects on flat views.

@jit
def _deeplift_backward_loop(m_y, x, x_ref, m_x):
    # m_y, x, x_ref: (n,)  m_x: (n,) ADDED to
    zero = m_y.dtype.type(0)
    one = m_y.dtype.type(1)
    for i in range(m_y.shape[0]):
        a = x[i]
        b = x_ref[i]
        ya = a if a > zero else zero
        yb = b if b > zero else zero
        # (D1) by cases; the quotient is taken only where a and b straddle 0 (or a NaN)
        if a > zero and b > zero:
            r = one
        elif a <= zero and b <= zero:
            r = zero
        else:
            r = (ya - yb) / (a - b)
        m_x[i] += m_y[i] * r  # (D2)


def relu_deeplift_backward_into(m_y, x, x_ref, m_x):
    """Fast (D1)-(D2), unchecked: ADDS the input's multipliers into ``m_x``.

    m_y, x, x_ref, m_x: C-contiguous, same shape and dtype; x, x_ref are the ReLU's
    inputs (pre-activations) for the sequence and for its reference.
    """
    _deeplift_backward_loop(m_y.reshape(-1), x.reshape(-1), x_ref.reshape(-1), m_x.reshape(-1))


# ----------------------------------------------------------------------------- DeepLIFT: 3. checked
def relu_deeplift_backward(m_y: np.ndarray, x: np.ndarray, x_ref: np.ndarray) -> np.ndarray:
    """DeepLIFT's rescale rule through ReLU: the input's multipliers from the output's.

    Parameters
    ----------
    m_y : ndarray, float32 or float64, multipliers of the output (d contribution / d delta y)
    x, x_ref : ndarrays of ``m_y``'s shape and dtype: the ReLU's *inputs* for the
        sequence and for its reference

    Returns
    -------
    m_x : ndarray, ``m_y * (relu(x) - relu(x_ref)) / (x - x_ref)`` where x and x_ref lie
        either side of 0, ``m_y * [x > 0]`` elsewhere (see (D1)), so that
        ``m_x * (x - x_ref) == m_y * (relu(x) - relu(x_ref))`` to rounding.
    """
    check_float_array("m_y", m_y)
    check_float_array("x", x, dtype=m_y.dtype)
    check_float_array("x_ref", x_ref, dtype=m_y.dtype)
    check_same_shape("x", x, "m_y", m_y)
    check_same_shape("x_ref", x_ref, "m_y", m_y)
    m_x = np.zeros_like(m_y)
    relu_deeplift_backward_into(m_y, x, x_ref, m_x)
    return m_x
