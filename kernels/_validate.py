"""Argument checks shared by the public kernel wrappers.

The ``@njit`` bodies assume valid input (a wrong shape there would read out of
bounds or return garbage), so every public wrapper runs its arguments through
these checks first and raises a ``TypeError``/``ValueError`` that names the
argument and says what to do.
"""

from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_array(name: str, a, ndim: int | None = None, dtype=None) -> np.ndarray:
    """Check that ``a`` is a C-contiguous float32/float64 ndarray of rank ``ndim``.

    ``dtype``, when given, is the dtype ``a`` must share with the other
    arguments (kernels never mix float32 and float64).
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64, got {a.dtype}; use {name}.astype(np.float32)"
        )
    if dtype is not None and a.dtype != np.dtype(dtype):
        raise TypeError(
            f"{name} has dtype {a.dtype} but the other arguments are {np.dtype(dtype)}; "
            f"convert all arrays to one dtype"
        )
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; use np.ascontiguousarray({name})")
    return a


def check_shape(name: str, a: np.ndarray, expected: tuple) -> None:
    """Check ``a.shape == expected``; ``None`` in ``expected`` matches any size."""
    ok = a.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, a.shape))
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{name} must have shape {want}, got {a.shape}")


def check_int(name: str, value, minimum: int) -> int:
    """Check that ``value`` is an integer >= ``minimum`` (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_same_shape(name: str, a: np.ndarray, other_name: str, other: np.ndarray) -> None:
    """Check ``a.shape == other.shape``, naming both arrays."""
    if a.shape != other.shape:
        raise ValueError(f"{name} must have the shape of {other_name} {other.shape}, got {a.shape}")
