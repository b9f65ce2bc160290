"""kernels/maxpool1d.py against the naive reference, finite differences and torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings

import naive
from checks import assert_close, assert_grad_fd
from motifnet.kernels.maxpool1d import (
    _maxpool1d_backward,
    _maxpool1d_forward,
    _pool_parallel,
    _unpool_parallel,
    maxpool1d_backward,
    maxpool1d_forward,
)
from strategies import maxpool1d_configs, rng_from, seeds


def _conf(c):
    return dict(kernel_size=c["K"], stride=c["stride"], padding=c["padding"], dilation=c["dilation"])


def _distinct(rng, shape):
    # distinct values 0.01 apart: no ties, and a finite-difference step (1e-6) never
    # changes which element is the maximum
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1.0).astype(np.float64)


def _has_empty_window(c):
    # with dilation a window can fall wholly in the padding (e.g. L=1, K=2, d=2, p=1)
    L_out = naive.maxpool1d_out_len(c["L"], c["K"], c["stride"], c["padding"], c["dilation"])
    return any(
        not any(0 <= t * c["stride"] + k * c["dilation"] - c["padding"] < c["L"] for k in range(c["K"]))
        for t in range(L_out)
    )


def _no_empty_window_and_output(c):
    return naive.maxpool1d_out_len(c["L"], c["K"], c["stride"], c["padding"], c["dilation"]) >= 1 and not _has_empty_window(c)


@given(maxpool1d_configs(), seeds)
def test_matches_naive_float64(c, seed):
    assume(naive.maxpool1d_out_len(c["L"], c["K"], c["stride"], c["padding"], c["dilation"]) >= 1)
    rng = rng_from(seed)
    x = rng.standard_normal((c["B"], c["C"], c["L"]))
    x[..., ::3] = np.round(x[..., ::3])  # some ties, which the first maximum must win
    y, argmax = maxpool1d_forward(x, **_conf(c))
    y_ref, argmax_ref = naive.maxpool1d_forward(x, c["K"], c["stride"], c["padding"], c["dilation"])
    assert argmax.dtype == np.int64
    # pooling copies values, so they must be identical (assert_array_equal, not
    # assert_close: a window wholly in the padding gives -inf, and -inf - -inf is NaN)
    np.testing.assert_array_equal(y, y_ref, err_msg="y")
    np.testing.assert_array_equal(argmax, argmax_ref, err_msg="argmax")
    # the thread-parallel loop nest (used for large inputs) gives the same result
    y_par, argmax_par = _pool_parallel(x, c["K"], c["stride"], c["padding"], c["dilation"])
    np.testing.assert_array_equal(y_par, y_ref, err_msg="y (parallel)")
    np.testing.assert_array_equal(argmax_par, argmax_ref, err_msg="argmax (parallel)")
    if not _has_empty_window(c):  # the naive backward cannot take argmax = -1
        dy = rng.standard_normal(y.shape)
        dx_ref = naive.maxpool1d_backward(dy, argmax_ref, c["L"])
        assert_close("dx", maxpool1d_backward(dy, argmax, c["L"]), dx_ref, rtol=1e-15)
        assert_close("dx (parallel)", _unpool_parallel(dy, argmax, c["L"])[0], dx_ref, rtol=1e-15)


@settings(max_examples=10)
@given(maxpool1d_configs(), seeds)
def test_gradient_matches_finite_differences(c, seed):
    assume(_no_empty_window_and_output(c))
    rng = rng_from(seed)
    x = _distinct(rng, (c["B"], c["C"], c["L"]))
    conf = _conf(c)
    y, argmax = maxpool1d_forward(x, **conf)
    g = rng.standard_normal(y.shape)
    analytic = maxpool1d_backward(g, argmax, c["L"])
    assert_grad_fd("x", analytic, lambda: float(np.sum(g * maxpool1d_forward(x, **conf)[0])), x)


def _torch_pool(x, dy, conf):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt, it = F.max_pool1d(xt, conf["kernel_size"], conf["stride"], conf["padding"], conf["dilation"],
                          return_indices=True)
    yt.backward(torch.from_numpy(dy))
    return yt, it, xt.grad


def _check_against_torch(x, conf, rng):
    y, argmax = maxpool1d_forward(x, **conf)
    dy = rng.standard_normal(y.shape).astype(x.dtype)
    dx = maxpool1d_backward(dy, argmax, x.shape[2])
    yt, it, dxt = _torch_pool(x, dy, conf)
    # max pooling copies values and sums at most K gradients per element: the values
    # are exact and the only rounding is in overlapping windows' sums, hence tight
    # tolerances (1e-6 for dx covers a float32 sum of up to 12 terms in another order)
    assert_close("y", y, yt, rtol=0.0)
    np.testing.assert_array_equal(argmax, it.numpy(), err_msg="argmax differs from torch's indices")
    assert_close("dx", dx, dxt, rtol=1e-6)


@pytest.mark.parametrize("shape", [(32, 32, 39), (256, 32, 989)])  # the primer model, and length 1000
def test_torch_parity_float32_seed_shapes(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    _check_against_torch(x, dict(kernel_size=4, stride=4, padding=0, dilation=1), rng)


@settings(max_examples=20)
@given(maxpool1d_configs(), seeds)
def test_torch_parity_float32(c, seed):
    assume(_no_empty_window_and_output(c))  # torch returns an index >= L there, see below
    rng = rng_from(seed)
    x = rng.standard_normal((c["B"], c["C"], c["L"])).astype(np.float32)
    x[..., ::2] = np.round(x[..., ::2])  # ties
    _check_against_torch(x, _conf(c), rng)


@pytest.mark.parametrize("conf", [
    dict(kernel_size=3, stride=1, padding=1, dilation=1),
    dict(kernel_size=4, stride=2, padding=2, dilation=1),
    dict(kernel_size=2, stride=1, padding=1, dilation=2),
    dict(kernel_size=6, stride=6, padding=0, dilation=1),
])
def test_ties_nan_and_infinities_follow_torch(conf):
    # ties: the first maximum wins; NaN wins over everything, and of several NaNs in one
    # window the last one (torch's cpu_max_pool has no early exit); -inf vs padding
    rows = np.array([
        [2.0, 2.0, 1.0, 2.0, 2.0, 0.0, 2.0, 2.0],
        [1.0, np.nan, 3.0, np.nan, 2.0, 2.0, 5.0, 5.0],
        [-np.inf, -np.inf, -np.inf, 1.0, -np.inf, np.nan, -np.inf, -np.inf],
        [np.inf, 0.0, np.inf, np.nan, np.nan, np.inf, 1.0, 1.0],
    ], dtype=np.float32)
    x = np.ascontiguousarray(rows[None])  # (1, 4, 8)
    y, argmax = maxpool1d_forward(x, **conf)
    dy = np.arange(1, y.size + 1, dtype=np.float32).reshape(y.shape)
    yt, it, dxt = _torch_pool(x, dy, conf)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(argmax, it.numpy())
    np.testing.assert_array_equal(maxpool1d_backward(dy, argmax, 8), dxt.numpy())


def test_window_wholly_in_padding_gives_minus_inf_and_no_gradient():
    # L=1, K=2, d=2, p=1: the only window covers input indices -1 and 1, both padding.
    # torch returns -inf with index 1 (out of range); we return -inf with index -1.
    x = np.array([[[3.0]]])
    y, argmax = maxpool1d_forward(x, kernel_size=2, stride=1, padding=1, dilation=2)
    assert y.shape == (1, 1, 1) and y[0, 0, 0] == -np.inf and argmax[0, 0, 0] == -1
    assert float(F.max_pool1d(torch.from_numpy(x), 2, 1, 1, 2)[0, 0, 0]) == -np.inf
    np.testing.assert_array_equal(maxpool1d_backward(np.ones((1, 1, 1)), argmax, 1), np.zeros((1, 1, 1)))


def test_defaults_and_unchecked_entry_points():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 10)).astype(np.float32)
    y, argmax = maxpool1d_forward(x, 3)  # stride defaults to kernel_size: L_out = 3
    assert y.shape == (2, 3, 3) and y.dtype == np.float32
    y2, argmax2 = _maxpool1d_forward(x, 3, 3, 0, 1)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(argmax, argmax2)
    dy = np.ones_like(y)
    np.testing.assert_array_equal(_maxpool1d_backward(dy, argmax, 10), maxpool1d_backward(dy, argmax, 10))


def test_bad_arguments_raise():
    x = np.zeros((2, 3, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        maxpool1d_forward(np.zeros((3, 10), dtype=np.float32), 2)
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        maxpool1d_forward(np.zeros((2, 3, 10), dtype=np.int64), 2)
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        maxpool1d_forward(np.zeros((10, 3, 2), dtype=np.float32).T, 2)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        maxpool1d_forward(x, 0)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        maxpool1d_forward(x, 2.0)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        maxpool1d_forward(x, 2, stride=0)
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        maxpool1d_forward(x, 2, dilation=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        maxpool1d_forward(x, 2, padding=-1)
    with pytest.raises(ValueError, match="padding must be at most kernel_size // 2"):
        maxpool1d_forward(x, 3, padding=2)
    with pytest.raises(ValueError, match="x is too short"):
        maxpool1d_forward(x, 6, dilation=2)
    y, argmax = maxpool1d_forward(x, 2)
    with pytest.raises(TypeError, match="argmax must be an int64"):
        maxpool1d_backward(y, argmax.astype(np.int32), 10)
    with pytest.raises(ValueError, match="argmax must have the shape of dy"):
        maxpool1d_backward(y, argmax[:, :, :2].copy(), 10)
    with pytest.raises(ValueError, match="dy must have 3 dimensions"):
        maxpool1d_backward(y[0], argmax, 10)
    with pytest.raises(ValueError, match="input_length"):
        maxpool1d_backward(y, argmax, 5)  # argmax holds indices up to 9
    with pytest.raises(ValueError, match="input_length must be >= 1"):
        maxpool1d_backward(y, argmax, 0)
