"""kernels/global_max.py: what the registry's generic checks (tests/test_ops.py) do not cover.

The fast forward finds the maximum and then its first position in separate passes; these
tests pin it to the reference loops where that could differ: NaNs (the last one wins),
infinities, signed zeros (equal to the comparisons, but y must be the element's own value),
ties across strands, rows of one position, the fold's odd lengths around 16 and 32.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet.kernels.global_max import global_max_forward_into, global_max_forward_reference

SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, np.nan])


def _fast(x, n_valid, groups):
    B, GF, _ = x.shape
    y = np.full((B, GF // groups), 7.0, dtype=x.dtype)  # overwritten
    argmax = np.full((B, GF // groups), -5, dtype=np.int64)
    global_max_forward_into(x, n_valid, groups, y, argmax)
    return y, argmax


def _assert_same(x, n_valid, groups):
    y, argmax = _fast(x, n_valid, groups)
    y_ref, argmax_ref = global_max_forward_reference(x, n_valid, groups)
    np.testing.assert_array_equal(argmax, argmax_ref)
    np.testing.assert_array_equal(y.astype(np.float64), y_ref)  # NaN == NaN here
    np.testing.assert_array_equal(np.signbit(y), np.signbit(y_ref))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 70),
       st.sampled_from([np.float32, np.float64]), st.integers(0, 2**32 - 1), st.booleans())
def test_special_values_match_the_reference(B, F, groups, L, dtype, seed, special):
    rng = np.random.default_rng(seed)
    if special:  # few distinct values: ties, NaNs, infinities and signed zeros everywhere
        x = rng.choice(SPECIAL, size=(B, groups * F, L))
    else:
        x = rng.standard_normal((B, groups * F, L))
    x = np.ascontiguousarray(x, dtype=dtype)
    n_valid = rng.integers(1, L + 1, size=B).astype(np.int64)
    _assert_same(x, n_valid, groups)


@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 31, 32, 33, 47, 386])
def test_the_first_maximum_wins_at_every_fold_length(n):
    # the maximum planted once, twice (the first must win) and on the second strand only
    L = n + 3
    for where in ([n - 1], [0, n - 1], [n // 2, n // 3]):
        x = np.zeros((1, 2, L), dtype=np.float32)
        x[0, 0, n:] = 9.0  # past n_valid: never seen
        for t in where:
            x[0, 0, t] = 5.0
        _assert_same(x, np.array([n], dtype=np.int64), 2)
        x[0, 1, where[-1]] = 6.0  # a larger value on the other strand
        _assert_same(x, np.array([n], dtype=np.int64), 2)
    x = np.full((1, 2, L), -0.0, dtype=np.float32)
    x[0, 1, 0] = 0.0  # equal to -0.0: the first (strand 0, position 0, -0.0) wins
    y, argmax = _fast(x, np.array([n], dtype=np.int64), 2)
    assert argmax[0, 0] == 0 and np.signbit(y[0, 0])
