"""kernels/maxpool1d.py: what the registry's generic checks (tests/test_ops.py) do not cover:
torch's tie, NaN and infinity rules and indices, windows in the padding, the parallel loops,
the forward without argmax, the += contract and argument checks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from motifnet.kernels.maxpool1d import (
    _pool,
    _tiled_pool,
    _unpool,
    maxpool1d_backward,
    maxpool1d_backward_into,
    maxpool1d_forward,
    maxpool1d_forward_into,
    maxpool1d_forward_reference,
    maxpool1d_output_length,
)


def _torch_pool(x, dy, conf):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt, it = F.max_pool1d(xt, conf["kernel_size"], conf["stride"], conf["padding"], conf["dilation"],
                          return_indices=True)
    yt.backward(torch.from_numpy(dy))
    return yt, it, xt.grad


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
    # the forward without argmax gives the same values
    y_only = np.empty_like(y)
    maxpool1d_forward_into(x, y_only, None, conf["kernel_size"], conf["stride"], conf["padding"], conf["dilation"])
    np.testing.assert_array_equal(y_only, y)


@pytest.mark.parametrize("shape", [(32, 32, 39), (4, 32, 989)])
def test_indices_equal_torchs_on_ties(shape):
    rng = np.random.default_rng(0)
    x = np.round(rng.standard_normal(shape), 1).astype(np.float32)  # many ties
    _, argmax = maxpool1d_forward(x, 4)
    _, it, _ = _torch_pool(x, np.zeros((shape[0], shape[1], shape[2] // 4), np.float32),
                           dict(kernel_size=4, stride=4, padding=0, dilation=1))
    np.testing.assert_array_equal(argmax, it.numpy())


def test_window_wholly_in_padding_gives_minus_inf_and_no_gradient():
    # L=1, K=2, d=2, p=1: the only window covers input indices -1 and 1, both padding.
    # torch returns -inf with index 1 (out of range); we return -inf with index -1.
    x = np.array([[[3.0]]])
    y, argmax = maxpool1d_forward(x, kernel_size=2, stride=1, padding=1, dilation=2)
    assert y.shape == (1, 1, 1) and y[0, 0, 0] == -np.inf and argmax[0, 0, 0] == -1
    assert float(F.max_pool1d(torch.from_numpy(x), 2, 1, 1, 2)[0, 0, 0]) == -np.inf
    np.testing.assert_array_equal(maxpool1d_backward(np.ones((1, 1, 1)), argmax, 1), np.zeros((1, 1, 1)))
    y_ref, argmax_ref = maxpool1d_forward_reference(x, 2, 1, 1, 2)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_loops_match_serial(dtype):
    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal((3, 5, 101)), 1).astype(dtype)
    conf = (5, 3, 2, 2)
    L_out = maxpool1d_output_length(101, *conf)
    y_s, a_s = np.empty((3, 5, L_out), dtype), np.empty((3, 5, L_out), np.int64)
    y_p, a_p = np.empty_like(y_s), np.empty_like(a_s)
    _pool.serial(x, y_s, a_s, *conf)
    _pool.parallel(x, y_p, a_p, *conf)
    np.testing.assert_array_equal(y_p, y_s)
    np.testing.assert_array_equal(a_p, a_s)
    dy = rng.standard_normal(y_s.shape).astype(dtype)
    dx_s, dx_p = np.zeros_like(x), np.zeros_like(x)
    assert _unpool.serial(dy, a_s, dx_s) == 0 and _unpool.parallel(dy, a_s, dx_p) == 0
    np.testing.assert_array_equal(dx_p, dx_s)


def _tiled_case(rng, shape, dtype):
    # ties (rounded values), runs of equal values, NaNs (alone, several in one window),
    # +-inf, and -inf next to NaN: every rule of (F1)-(F2) inside tiling windows
    x = np.round(rng.standard_normal(shape) * 2) / 2
    flat = x.reshape(-1)
    n = flat.size
    for value, fraction in ((np.nan, 0.05), (np.inf, 0.02), (-np.inf, 0.05)):
        flat[rng.random(n) < fraction] = value
    flat[: min(n, 7)] = 1.0  # a run of equal values: the first one wins
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [1, 2, 3, 4, 5, 7])
def test_tiling_windows_match_the_reference_and_torch(K, dtype):
    # stride == kernel_size, no padding or dilation: the loop of its own (K a compile-time constant)
    rng = np.random.default_rng(K)
    for L in (K, 4 * K + K - 1, 61):  # L_out * K == L, and a tail the windows leave out
        if L < K:
            continue
        x = _tiled_case(rng, (3, 4, L), dtype)
        y, argmax = maxpool1d_forward(x, K)
        y_ref, argmax_ref = maxpool1d_forward_reference(x, K)
        np.testing.assert_array_equal(y, y_ref.astype(dtype))
        np.testing.assert_array_equal(argmax, argmax_ref)
        yt, it, _ = _torch_pool(x, np.zeros(y.shape, dtype), dict(kernel_size=K, stride=K, padding=0, dilation=1))
        np.testing.assert_array_equal(y, yt.detach().numpy())
        np.testing.assert_array_equal(argmax, it.numpy())
        y_p, a_p = np.empty_like(y), np.empty_like(argmax)
        _tiled_pool(K).parallel(x, y_p, a_p)
        np.testing.assert_array_equal(y_p, y)
        np.testing.assert_array_equal(a_p, argmax)
        y_only = np.empty_like(y)  # without argmax: the same values
        maxpool1d_forward_into(x, y_only, None, K, K, 0, 1)
        np.testing.assert_array_equal(y_only, y)


def test_tiling_and_general_loops_agree():
    # the same windows through both loops: stride == K goes to the tiling loop, the
    # general loop computes it when called directly
    rng = np.random.default_rng(11)
    for K in (2, 3, 4, 6):
        x = _tiled_case(rng, (2, 5, 50), np.float32)
        y, argmax = maxpool1d_forward(x, K)
        y_g, a_g = np.empty_like(y), np.empty_like(argmax)
        _pool.serial(x, y_g, a_g, K, K, 0, 1)
        np.testing.assert_array_equal(y_g, y)
        np.testing.assert_array_equal(a_g, argmax)


def test_backward_adds_into_dx():
    x = np.array([[[1.0, 3.0, 2.0, 0.0]]], dtype=np.float32)
    y, argmax = maxpool1d_forward(x, 2)
    dx = np.full_like(x, 5.0)
    maxpool1d_backward_into(np.array([[[1.0, 2.0]]], dtype=np.float32), argmax, dx)
    np.testing.assert_array_equal(dx, [[[5.0, 6.0, 7.0, 5.0]]])


def test_defaults():
    x = np.random.default_rng(2).standard_normal((2, 3, 10)).astype(np.float32)
    y, argmax = maxpool1d_forward(x, 3)  # stride defaults to kernel_size: L_out = 3
    assert y.shape == argmax.shape == (2, 3, 3) and y.dtype == np.float32 and argmax.dtype == np.int64


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
