"""kernels/conv1d.py against the naive reference, finite differences and torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

import naive
from checks import assert_close, assert_grad_fd
from motifnet.kernels.conv1d import (
    _backward_blocks,
    _backward_parallel,
    _conv1d_backward,
    _conv1d_forward,
    _forward_blocks,
    _forward_parallel,
    conv1d_backward,
    conv1d_forward,
)
from strategies import conv1d_configs, rng_from, seeds


def _conf(c):
    return dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])


def _inputs(c, rng, dtype=np.float64):
    x = rng.standard_normal((c["B"], c["C_in"], c["L"])).astype(dtype)
    w = (rng.standard_normal((c["C_out"], c["C_in"], c["K"])) / np.sqrt(c["C_in"] * c["K"])).astype(dtype)
    bias = rng.standard_normal(c["C_out"]).astype(dtype)
    L_out = naive.conv1d_out_len(c["L"], c["K"], c["stride"], c["padding"], c["dilation"])
    dy = rng.standard_normal((c["B"], c["C_out"], L_out)).astype(dtype)
    return x, w, bias, dy


# ---------------------------------------------------------------------- (a) naive reference
@given(conv1d_configs(), seeds)
def test_matches_naive_float64(c, seed):
    x, w, bias, dy = _inputs(c, rng_from(seed))
    conf = _conf(c)
    # float64 sums of at most C_out*K*... ~600 products in another order: 1e-13 of the max
    assert_close("y", conv1d_forward(x, w, bias, **conf), naive.conv1d_forward(x, w, bias, **conf), rtol=1e-13)
    assert_close("y (no bias)", conv1d_forward(x, w, None, **conf), naive.conv1d_forward(x, w, None, **conf),
                 rtol=1e-13)
    dx, dw, db = conv1d_backward(dy, x, w, **conf)
    dx_ref, dw_ref, db_ref = naive.conv1d_backward(dy, x, w, **conf)
    assert_close("dx", dx, dx_ref, rtol=1e-13)
    assert_close("dw", dw, dw_ref, rtol=1e-13)
    assert_close("db", db, db_ref, rtol=1e-13)
    dx_none, dw2, db2 = conv1d_backward(dy, x, w, **conf, need_dx=False)
    assert dx_none is None
    assert_close("dw (need_dx=False)", dw2, dw_ref, rtol=1e-13)
    assert_close("db (need_dx=False)", db2, db_ref, rtol=1e-13)


# ------------------------------------------------------------------ (b) finite differences
@settings(max_examples=10)
@given(conv1d_configs(), seeds)
def test_gradients_match_finite_differences(c, seed):
    x, w, bias, g = _inputs(c, rng_from(seed))
    conf = _conf(c)
    dx, dw, db = conv1d_backward(g, x, w, **conf)

    def loss():
        return float(np.sum(g * conv1d_forward(x, w, bias, **conf)))

    assert_grad_fd("x", dx, loss, x)
    assert_grad_fd("w", dw, loss, w)
    assert_grad_fd("bias", db, loss, bias)


# ---------------------------------------------------------------------------- (c) torch
def _check_against_torch(x, w, bias, dy, conf, rtol, need_dx=True):
    """Forward output and every gradient against torch's conv1d + autograd, same dtype."""
    y = conv1d_forward(x, w, bias, **conf)
    dx, dw, db = conv1d_backward(dy, x, w, **conf, need_dx=need_dx)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, bias))
    yt = F.conv1d(xt, wt, bt, **conf)
    yt.backward(torch.from_numpy(dy))
    assert_close("y", y, yt, rtol=rtol)
    if need_dx:
        assert_close("dx", dx, xt.grad, rtol=rtol)
    else:
        assert dx is None
    assert_close("dw", dw, wt.grad, rtol=rtol)
    assert_close("db", db, bt.grad, rtol=rtol)


# The primer model's convolution: 32 one-hot sequences of length 50, 32 filters of width 12.
# rtol 1e-5 of the max: float32 sums of <= 1248 terms (dw, db) in a different order than
# torch's; the observed error is ~1e-7 to 1e-6.
@pytest.mark.parametrize("need_dx", [False, True])
def test_torch_parity_float32_seed_shape(need_dx):
    c = dict(B=32, C_in=4, C_out=32, L=50, K=12, stride=1, padding=0, dilation=1)
    x, w, bias, dy = _inputs(c, rng_from(1), np.float32)
    x = np.eye(4, dtype=np.float32)[rng_from(2).integers(0, 4, size=(32, 50))].transpose(0, 2, 1).copy()
    _check_against_torch(x, w, bias, dy, _conf(c), rtol=1e-5, need_dx=need_dx)


@settings(max_examples=15)
@given(conv1d_configs(), seeds)
def test_torch_parity_float32(c, seed):
    x, w, bias, dy = _inputs(c, rng_from(seed), np.float32)
    _check_against_torch(x, w, bias, dy, _conf(c), rtol=1e-5)


def test_torch_parity_float64_padding_larger_than_kernel():
    # padding > K and a window wholly in the padding at the ends: outputs equal the bias
    c = dict(B=2, C_in=3, C_out=5, L=4, K=2, stride=3, padding=6, dilation=2)
    x, w, bias, dy = _inputs(c, rng_from(3))
    _check_against_torch(x, w, bias, dy, _conf(c), rtol=1e-13)


# ---------------------------------------------------------- (d) the thread-parallel path
def test_parallel_path_matches_serial_and_torch():
    # several blocks of sequences (L + 2p = 506 positions, 4 sequences per block, 4 blocks)
    # split over 3 chunks; odd C_out and C_in exercise the unpaired last rows.
    B, C_in, C_out, L, K, stride, padding, dilation = 13, 5, 7, 500, 9, 2, 3, 2
    c = dict(B=B, C_in=C_in, C_out=C_out, L=L, K=K, stride=stride, padding=padding, dilation=dilation)
    per_block, n_chunks = 4, 3
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        x, w, bias, dy = _inputs(c, rng_from(4), dtype)
        args = (stride, padding, dilation, per_block)
        y_ser = np.empty_like(dy)
        _forward_blocks(x, w, bias, y_ser, *args, 0, 4)
        y_par = np.empty_like(dy)
        _forward_parallel(x, w, bias, y_par, *args, n_chunks)
        grads_ser = (np.empty_like(x), np.zeros_like(w), np.zeros_like(bias))
        _backward_blocks(dy, x, w, *grads_ser, *args, 0, 4, True)
        grads_par = (np.empty_like(x), np.zeros_like(w), np.zeros_like(bias))
        _backward_parallel(dy, x, w, *grads_par, *args, n_chunks, True)
        # y and dx come from the same loops in both paths; dw and db sum chunks in another order
        np.testing.assert_array_equal(y_par, y_ser)
        np.testing.assert_array_equal(grads_par[0], grads_ser[0])
        for name, par, ser in zip(("dw", "db"), grads_par[1:], grads_ser[1:]):
            assert_close(f"{name} parallel vs serial ({dtype.__name__})", par, ser, rtol=rtol)
        xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, bias))
        yt = F.conv1d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation)
        yt.backward(torch.from_numpy(dy))
        for name, ours, ref in zip(("y", "dx", "dw", "db"), (y_par,) + grads_par, (yt, xt.grad, wt.grad, bt.grad)):
            assert_close(f"{name} parallel vs torch ({dtype.__name__})", ours, ref, rtol=rtol)


def test_public_wrappers_take_the_parallel_path_when_told(monkeypatch):
    import kernels.conv1d as conv

    called = []
    real = conv._forward_parallel

    def spy(*args):
        called.append(args[-1])
        return real(*args)

    monkeypatch.setattr(conv, "use_parallel", lambda work: True)
    monkeypatch.setattr(conv, "_forward_parallel", spy)
    monkeypatch.setattr(conv.numba, "get_num_threads", lambda: 2)
    c = dict(B=90, C_in=4, C_out=6, L=50, K=12, stride=1, padding=0, dilation=1)  # 3 blocks of 40
    x, w, bias, dy = _inputs(c, rng_from(5))
    assert_close("y", conv1d_forward(x, w, bias), F.conv1d(*map(torch.from_numpy, (x, w, bias))), rtol=1e-12)
    assert called == [2]
    dx, dw, db = conv1d_backward(dy, x, w)
    dx_ref, dw_ref, db_ref = naive.conv1d_backward(dy, x, w)
    for name, got, ref in zip(("dx", "dw", "db"), (dx, dw, db), (dx_ref, dw_ref, db_ref)):
        assert_close(name, got, ref, rtol=1e-12)


def test_unchecked_entry_points():
    c = dict(B=3, C_in=2, C_out=3, L=20, K=5, stride=2, padding=1, dilation=2)
    x, w, bias, dy = _inputs(c, rng_from(6))
    y = _conv1d_forward(x, w, bias, 2, 1, 2)
    assert_close("y", y, naive.conv1d_forward(x, w, bias, 2, 1, 2), rtol=1e-13)
    dx, dw, db = _conv1d_backward(dy, x, w, 2, 1, 2, False)
    assert dx.shape == (0, 0, 0) and dx.dtype == x.dtype
    assert_close("dw", dw, naive.conv1d_backward(dy, x, w, 2, 1, 2)[1], rtol=1e-13)


def test_float32_stays_float32():
    c = dict(B=2, C_in=3, C_out=4, L=30, K=5, stride=1, padding=2, dilation=1)
    x, w, bias, dy = _inputs(c, rng_from(7), np.float32)
    assert conv1d_forward(x, w, bias, padding=2).dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv1d_backward(dy, x, w, padding=2))


def test_nan_in_input_reaches_only_its_windows():
    # zero padding, not NaN: a NaN at x[..., 0] reaches outputs 0..(K-1) only (as torch)
    x = np.zeros((1, 1, 10))
    x[0, 0, 0] = np.nan
    y = conv1d_forward(x, np.ones((1, 1, 3)), None, padding=2)
    assert np.isnan(y[0, 0, :3]).all() and not np.isnan(y[0, 0, 3:]).any()


# ---------------------------------------------------------------------- (e) bad arguments
def _good():
    rng = rng_from(8)
    x = rng.standard_normal((2, 3, 10)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3)).astype(np.float32)
    bias = np.zeros(4, np.float32)
    dy = np.zeros((2, 4, 8), np.float32)
    return x, w, bias, dy


@pytest.mark.parametrize("change, exc, match", [
    (dict(x=np.zeros((3, 10), np.float32)), ValueError, "x must have 3 dimensions"),
    (dict(w=np.zeros((4, 3), np.float32)), ValueError, "w must have 3 dimensions"),
    (dict(x=np.zeros((2, 3, 10), np.int64)), TypeError, "x must be float32 or float64"),
    (dict(w=np.zeros((4, 3, 3), np.float64)), TypeError, "w has dtype float64"),
    (dict(bias=np.zeros(4, np.float64)), TypeError, "bias has dtype float64"),
    (dict(bias=np.zeros(5, np.float32)), ValueError, "bias must have shape"),
    (dict(x=[[[0.0]]]), TypeError, "x must be a numpy.ndarray"),
    (dict(x=np.zeros((2, 10, 3), np.float32).transpose(0, 2, 1)), ValueError, "x must be C-contiguous"),
    (dict(w=np.zeros((4, 5, 3), np.float32)), ValueError, r"w.shape\[1\]"),
    (dict(stride=0), ValueError, "stride must be >= 1"),
    (dict(stride=1.0), TypeError, "stride must be an int"),
    (dict(padding=-1), ValueError, "padding must be >= 0"),
    (dict(dilation=0), ValueError, "dilation must be >= 1"),
    (dict(dilation=True), TypeError, "dilation must be an int"),
    (dict(w=np.zeros((4, 3, 11), np.float32)), ValueError, "input length L = 10 of x is shorter"),
    (dict(dilation=5), ValueError, "input length L = 10 of x is shorter"),
])
def test_forward_rejects_bad_arguments(change, exc, match):
    x, w, bias, _ = _good()
    args = dict(x=x, w=w, bias=bias, stride=1, padding=0, dilation=1)
    args.update(change)
    with pytest.raises(exc, match=match):
        conv1d_forward(**args)


@pytest.mark.parametrize("change, exc, match", [
    (dict(dy=np.zeros((2, 4, 9), np.float32)), ValueError, r"dy must have shape \(2, 4, 8\)"),
    (dict(dy=np.zeros((2, 5, 8), np.float32)), ValueError, "dy must have shape"),
    (dict(dy=np.zeros((2, 4, 8), np.float64)), TypeError, "dy has dtype float64"),
    (dict(dy=np.zeros((4, 8), np.float32)), ValueError, "dy must have 3 dimensions"),
    (dict(dy=np.zeros((2, 8, 4), np.float32).transpose(0, 2, 1)), ValueError, "dy must be C-contiguous"),
    (dict(stride=2), ValueError, r"dy must have shape \(2, 4, 4\)"),
    (dict(padding=-2), ValueError, "padding must be >= 0"),
    (dict(x=np.zeros((2, 3, 2), np.float32)), ValueError, "input length L = 2 of x is shorter"),
    (dict(need_dx=1), TypeError, "need_dx must be a bool"),
])
def test_backward_rejects_bad_arguments(change, exc, match):
    x, w, _, dy = _good()
    args = dict(dy=dy, x=x, w=w, stride=1, padding=0, dilation=1, need_dx=True)
    args.update(change)
    with pytest.raises(exc, match=match):
        conv1d_backward(**args)
