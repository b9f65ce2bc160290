"""kernels/linear.py: what the registry's generic checks (tests/test_ops.py) do not cover:
the parallel loops, the padded 4 x 4 tiles (every remainder of N and O, infinite
weights), the += contract, no bias, 1-D input, argument checks."""

import numpy as np
import pytest

from checks import assert_close
from motifnet.kernels.linear import (
    _backward,
    _forward,
    linear_backward,
    linear_backward_into,
    linear_backward_reference,
    linear_forward,
    linear_forward_into,
    linear_forward_reference,
)


@pytest.mark.parametrize("N", [1, 3, 4, 9])  # the 4-row groups and the remainder
def test_parallel_loops_match_serial(N):
    rng = np.random.default_rng(N)
    x = rng.standard_normal((N, 300)).astype(np.float32)
    w = rng.standard_normal((11, 300)).astype(np.float32)
    b = rng.standard_normal(11).astype(np.float32)
    dy = rng.standard_normal((N, 11)).astype(np.float32)
    y_s, y_p = np.empty((N, 11), np.float32), np.empty((N, 11), np.float32)
    _forward.serial(x, w, b, y_s)
    _forward.parallel(x, w, b, y_p)
    np.testing.assert_array_equal(y_p, y_s)
    grads_s = [np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)]
    grads_p = [np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)]
    _backward.serial(dy, x, w, *grads_s, True)
    _backward.parallel(dy, x, w, *grads_p, True)
    for name, s, p in zip(("dx", "dw", "db"), grads_s, grads_p):
        np.testing.assert_array_equal(p, s, err_msg=name)


@pytest.mark.parametrize("N", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("O", [1, 2, 3, 4, 6])
def test_padded_tiles_match_the_reference(N, O):
    # every remainder of the 4 x 4 tiles, with a block edge in dw (I > 256)
    rng = np.random.default_rng(10 * N + O)
    x, w, b = rng.standard_normal((N, 261)), rng.standard_normal((O, 261)), rng.standard_normal(O)
    dy = rng.standard_normal((N, O))
    y = np.empty((N, O))
    linear_forward_into(x, w, b, y)
    assert_close("y", y, linear_forward_reference(x, w, b), rtol=1e-13)
    dx_ref, dw_ref, db_ref = linear_backward_reference(dy, x, w)
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros_like(b)
    linear_backward_into(dy, x, w, dx, dw, db)
    assert_close("dx", dx, dx_ref, rtol=1e-13)
    assert_close("dw", dw, dw_ref, rtol=1e-13)
    assert_close("db", db, db_ref, rtol=1e-13)


def test_infinite_weights_give_infinite_not_nan_gradients_in_padded_tiles():
    # a padded tile's missing terms are 0 * 0: an infinite weight next to a missing output
    # or row must give dx = +-inf as the reference (0 * inf would make it NaN)
    x = np.ones((3, 5), np.float32)
    w = np.ones((3, 5), np.float32)
    w[1, 2] = np.inf
    dy = np.ones((3, 3), np.float32)
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros(3, np.float32)
    linear_backward_into(dy, x, w, dx, dw, db)
    np.testing.assert_array_equal(dx, linear_backward_reference(dy, x, w)[0].astype(np.float32))
    assert np.isinf(dx[:, 2]).all() and np.isfinite(np.delete(dx, 2, axis=1)).all()


def test_fast_kernels_write_outputs_and_add_gradients():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((2, 5)), rng.standard_normal(2)
    dy = rng.standard_normal((6, 2))
    y = np.full((6, 2), 7.0)
    linear_forward_into(x, w, b, y)
    assert_close("y", y, linear_forward_reference(x, w, b), rtol=1e-14)
    dx_ref, dw_ref, db_ref = linear_backward_reference(dy, x, w)
    dx, dw, db = np.ones_like(x), np.ones_like(w), np.ones_like(b)
    linear_backward_into(dy, x, w, dx, dw, db)
    assert_close("dx", dx, dx_ref + 1, rtol=1e-14)
    assert_close("dw", dw, dw_ref + 1, rtol=1e-14)
    assert_close("db", db, db_ref + 1, rtol=1e-14)
    dw2 = np.zeros_like(w)
    linear_backward_into(dy, x, w, None, dw2, np.zeros_like(b))
    assert_close("dw (dx=None)", dw2, dw_ref, rtol=1e-14)


def test_no_bias_need_dx_false_and_1d_input():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    w = rng.standard_normal((2, 5)).astype(np.float32)
    y = linear_forward(x, w, None)
    assert y.shape == (4, 3, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y, linear_forward(x, w, np.zeros(2, np.float32)))
    dx, dw, db = linear_backward(np.ones((4, 3, 2), np.float32), x, w, need_dx=False)
    assert dx is None and dw.shape == (2, 5) and db.shape == (2,)
    # a 1-D input is a single row, as torch
    assert_close("y (1-D x)", linear_forward(x[0, 0], w, None), y[0, 0], rtol=0.0)


def test_bad_arguments_raise():
    x = np.zeros((4, 5), dtype=np.float32)
    w = np.zeros((3, 5), dtype=np.float32)
    b = np.zeros(3, dtype=np.float32)
    dy = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        linear_forward(x.astype(np.int64), w, b)
    with pytest.raises(ValueError, match="x must have at least 1 dimension"):
        linear_forward(np.zeros((), np.float32), w, b)
    with pytest.raises(TypeError, match="w has dtype float64"):
        linear_forward(x, w.astype(np.float64), b)
    with pytest.raises(ValueError, match="w must have 2 dimensions"):
        linear_forward(x, w[None], b)
    with pytest.raises(ValueError, match="x's last dimension"):
        linear_forward(x, np.zeros((3, 6), np.float32), b)
    with pytest.raises(ValueError, match="bias must have shape"):
        linear_forward(x, w, np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="bias has dtype"):
        linear_forward(x, w, b.astype(np.float64))
    with pytest.raises(ValueError, match="w must be C-contiguous"):
        linear_forward(x, np.zeros((5, 3), np.float32).T, b)
    with pytest.raises(ValueError, match="dy must have shape"):
        linear_backward(np.zeros((4, 2), np.float32), x, w)
    with pytest.raises(TypeError, match="dy has dtype"):
        linear_backward(dy.astype(np.float64), x, w)
    with pytest.raises(TypeError, match="need_dx must be a bool"):
        linear_backward(dy, x, w, need_dx=1)
