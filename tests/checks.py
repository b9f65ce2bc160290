"""Comparison helpers shared by the tests.

Tolerance norm: ``assert_close`` passes when every element satisfies
``|actual - expected| <= atol + rtol * max|expected|``, i.e. the error is
measured relative to the largest magnitude of the expected tensor (the
max-norm), not element by element: float32 sums of products near zero cancel,
and an element-wise relative error there says nothing about the kernel.
"""

from __future__ import annotations

import numpy as np

from motifnet.gradcheck import gradient_errors, numerical_gradient  # noqa: F401  (re-exported)


def to_numpy(t) -> np.ndarray:
    """A torch tensor (or anything array-like) as a NumPy array."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t)


def assert_close(name: str, actual, expected, rtol: float, atol: float = 0.0) -> None:
    """Assert ``actual`` matches ``expected``; on failure name the tensor and the first bad index."""
    actual = to_numpy(actual).astype(np.float64)
    expected = to_numpy(expected).astype(np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: shape {actual.shape} != expected {expected.shape}")
    if actual.size == 0:
        return
    scale = float(np.max(np.abs(expected)))
    diff = np.abs(actual - expected)
    bad = ~(diff <= atol + rtol * scale)  # also catches NaN
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {actual.size} elements differ; first at {idx}: "
            f"expected {expected[idx]!r}, got {actual[idx]!r}; max |diff| {np.nanmax(diff):.3e} "
            f"vs allowed {atol + rtol * scale:.3e} (rtol={rtol:g} x max|expected|={scale:.3e}, atol={atol:g})"
        )


def assert_grad_fd(name: str, analytic, loss, x: np.ndarray, rtol: float = 1e-6, eps: float = 1e-6) -> None:
    """Assert an analytic gradient matches central finite differences of ``loss()`` w.r.t. ``x``."""
    numeric = numerical_gradient(loss, x, eps)
    abs_err, rel_err = gradient_errors(np.asarray(analytic), numeric)
    if not rel_err <= rtol:
        idx = np.unravel_index(int(np.argmax(np.abs(np.asarray(analytic) - numeric))), numeric.shape)
        raise AssertionError(
            f"d loss / d {name}: max rel err {rel_err:.3e} > {rtol:g} (max abs {abs_err:.3e}); "
            f"worst at {tuple(int(i) for i in idx)}: analytic {np.asarray(analytic)[idx]!r}, "
            f"finite difference {numeric[idx]!r}"
        )
