"""kernels/conv1d.py: what the registry's generic checks (tests/test_ops.py) do not cover:
the thread-parallel path, the += contract, float32, NaN, padding past the kernel, bad arguments."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from checks import assert_close
from motifnet.kernels.conv1d import (
    _backward_blocks,
    _backward_parallel,
    _forward_blocks,
    _forward_parallel,
    conv1d_backward,
    conv1d_backward_into,
    conv1d_backward_reference,
    conv1d_forward,
    conv1d_forward_into,
    conv1d_forward_reference,
    conv1d_output_length,
)


def rng_from(seed):
    return np.random.default_rng(seed)


def _inputs(c, rng, dtype=np.float64):
    x = rng.standard_normal((c["B"], c["C_in"], c["L"])).astype(dtype)
    w = (rng.standard_normal((c["C_out"], c["C_in"], c["K"])) / np.sqrt(c["C_in"] * c["K"])).astype(dtype)
    bias = rng.standard_normal(c["C_out"]).astype(dtype)
    L_out = conv1d_output_length(c["L"], c["K"], c["stride"], c["padding"], c["dilation"])
    dy = rng.standard_normal((c["B"], c["C_out"], L_out)).astype(dtype)
    return x, w, bias, dy


def test_torch_parity_float64_padding_larger_than_kernel():
    # padding > K and a window wholly in the padding at the ends: outputs equal the bias
    c = dict(B=2, C_in=3, C_out=5, L=4, K=2, stride=3, padding=6, dilation=2)
    x, w, bias, dy = _inputs(c, rng_from(3))
    conf = dict(stride=3, padding=6, dilation=2)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, w, bias))
    yt = F.conv1d(xt, wt, bt, **conf)
    yt.backward(torch.from_numpy(dy))
    dx, dw, db = conv1d_backward(dy, x, w, **conf)
    for name, ours, ref in (("y", conv1d_forward(x, w, bias, **conf), yt), ("dx", dx, xt.grad),
                            ("dw", dw, wt.grad), ("db", db, bt.grad)):
        assert_close(name, ours, ref, rtol=1e-13)


def test_no_bias_is_a_zero_bias():
    c = dict(B=2, C_in=3, C_out=4, L=11, K=3, stride=2, padding=1, dilation=1)
    x, w, _, _ = _inputs(c, rng_from(9))
    assert_close("y", conv1d_forward(x, w, None, 2, 1), conv1d_forward_reference(x, w, None, 2, 1), rtol=1e-13)


def test_fast_kernels_write_outputs_and_add_gradients():
    c = dict(B=3, C_in=2, C_out=3, L=20, K=5, stride=2, padding=1, dilation=2)
    x, w, bias, dy = _inputs(c, rng_from(6))
    y = np.full_like(dy, 123.0)  # overwritten
    conv1d_forward_into(x, w, bias, y, 2, 1, 2)
    assert_close("y", y, conv1d_forward_reference(x, w, bias, 2, 1, 2), rtol=1e-13)
    dx_ref, dw_ref, db_ref = conv1d_backward_reference(dy, x, w, 2, 1, 2)
    dx, dw, db = np.ones_like(x), np.ones_like(w), np.ones_like(bias)  # added to
    conv1d_backward_into(dy, x, w, dx, dw, db, 2, 1, 2)
    assert_close("dx", dx, dx_ref + 1, rtol=1e-13)
    assert_close("dw", dw, dw_ref + 1, rtol=1e-13)
    assert_close("db", db, db_ref + 1, rtol=1e-13)
    dw2 = np.zeros_like(w)
    conv1d_backward_into(dy, x, w, None, dw2, np.zeros_like(bias), 2, 1, 2)  # no dx: first layer
    assert_close("dw (dx=None)", dw2, dw_ref, rtol=1e-13)


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
        grads_ser = (np.zeros_like(x), np.zeros_like(w), np.zeros_like(bias))
        _backward_blocks(dy, x, w, *grads_ser, *args, 0, 4, True)
        grads_par = (np.zeros_like(x), np.zeros_like(w), np.zeros_like(bias))
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
    import motifnet.kernels.conv1d as conv

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
    dx_ref, dw_ref, db_ref = conv1d_backward_reference(dy, x, w)
    for name, got, ref in zip(("dx", "dw", "db"), (dx, dw, db), (dx_ref, dw_ref, db_ref)):
        assert_close(name, got, ref, rtol=1e-12)


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
