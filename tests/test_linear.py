"""kernels/linear.py against the naive reference, finite differences and torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import naive
from checks import assert_close, assert_grad_fd
from motifnet.kernels.linear import (
    _backward_parallel,
    _backward_serial,
    _forward_parallel,
    _linear_backward,
    _linear_forward,
    linear_backward,
    linear_forward,
)
from strategies import linear_configs, rng_from, seeds


def _inputs(c, rng, dtype=np.float64):
    x = rng.standard_normal(c["lead"] + (c["n_in"],)).astype(dtype)
    w = (rng.standard_normal((c["n_out"], c["n_in"])) / np.sqrt(c["n_in"])).astype(dtype)
    bias = rng.standard_normal(c["n_out"]).astype(dtype)
    dy = rng.standard_normal(c["lead"] + (c["n_out"],)).astype(dtype)
    return x, w, bias, dy


@given(linear_configs(), seeds)
def test_matches_naive_float64(c, seed):
    x, w, bias, dy = _inputs(c, rng_from(seed))
    # float64 sums of at most 64 products in another order: 1e-13 of the largest value
    assert_close("y", linear_forward(x, w, bias), naive.linear_forward(x, w, bias), rtol=1e-13)
    assert_close("y (no bias)", linear_forward(x, w, None), naive.linear_forward(x, w, None), rtol=1e-13)
    dx, dw, db = linear_backward(dy, x, w)
    dx_ref, dw_ref, db_ref = naive.linear_backward(dy, x, w)
    assert_close("dx", dx, dx_ref, rtol=1e-13)
    assert_close("dw", dw, dw_ref, rtol=1e-13)
    assert_close("db", db, db_ref, rtol=1e-13)
    # the thread-parallel loop nests (used for large layers) give the same numbers
    x2, dy2 = x.reshape(-1, c["n_in"]), dy.reshape(-1, c["n_out"])
    assert_close("y (parallel)", _forward_parallel(x2, w, bias), naive.linear_forward(x2, w, bias), rtol=1e-13)
    for name, got, ref in zip(("dx", "dw", "db"), _backward_parallel(dy2, x2, w, True), (dx_ref, dw_ref, db_ref)):
        assert_close(f"{name} (parallel)", got.reshape(ref.shape), ref, rtol=1e-13)


@settings(max_examples=10)
@given(linear_configs(), seeds)
def test_gradients_match_finite_differences(c, seed):
    rng = rng_from(seed)
    x, w, bias, g = _inputs(c, rng)
    dx, dw, db = linear_backward(g, x, w)

    def loss():
        return float(np.sum(g * linear_forward(x, w, bias)))

    assert_grad_fd("x", dx, loss, x)
    assert_grad_fd("w", dw, loss, w)
    assert_grad_fd("bias", db, loss, bias)


def _check_against_torch(x, w, bias, dy, rtol):
    y = linear_forward(x, w, bias)
    dx, dw, db = linear_backward(dy, x, w)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, bias))
    yt = F.linear(xt, wt, bt)
    yt.backward(torch.from_numpy(dy))
    assert_close("y", y, yt, rtol=rtol)
    assert_close("dx", dx, xt.grad, rtol=rtol)
    assert_close("dw", dw, wt.grad, rtol=rtol)
    assert_close("db", db, bt.grad, rtol=rtol)


# (batch, in, out): the primer model's dense layer 288->16 and output 16->1, the attention
# model's 32->16, and the length-1000 model's 32*247 = 7904 -> 16 at batch 256
@pytest.mark.parametrize("n, n_in, n_out", [(32, 288, 16), (32, 16, 1), (32, 32, 16), (256, 7904, 16)])
def test_torch_parity_float32_seed_shapes(n, n_in, n_out):
    c = dict(lead=(n,), n_in=n_in, n_out=n_out)
    # float32 sums in a different order than MKL's: 1e-5 of the largest value holds
    # for sums of up to a few thousand terms of mixed sign
    _check_against_torch(*_inputs(c, np.random.default_rng(0), np.float32), rtol=1e-5)


@settings(max_examples=20)
@given(linear_configs(), seeds)
def test_torch_parity_float32(c, seed):
    _check_against_torch(*_inputs(c, rng_from(seed), np.float32), rtol=1e-5)


def test_need_dx_false_bias_none_and_unchecked_entry_points():
    rng = np.random.default_rng(3)
    c = dict(lead=(4, 3), n_in=5, n_out=2)
    x, w, bias, dy = _inputs(c, rng, np.float32)
    dx, dw, db = linear_backward(dy, x, w, need_dx=False)
    assert dx is None
    _, dw_full, db_full = linear_backward(dy, x, w)
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)
    y = linear_forward(x, w, None)
    assert y.shape == (4, 3, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y, linear_forward(x, w, np.zeros(2, np.float32)))
    x2, dy2 = x.reshape(12, 5), dy.reshape(12, 2)
    np.testing.assert_array_equal(_linear_forward(x2, w, bias), linear_forward(x, w, bias).reshape(12, 2))
    dx_u, dw_u, db_u = _linear_backward(dy2, x2, w, False)
    assert dx_u.shape == (0, 0)
    np.testing.assert_array_equal(dw_u, dw)
    assert _backward_serial(dy2, x2, w, True)[0].shape == (12, 5)
    # a 1-D input is a single row, as torch
    assert_close("y (1-D x)", linear_forward(x2[0], w, bias), linear_forward(x2[:1], w, bias)[0], rtol=0.0)


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
