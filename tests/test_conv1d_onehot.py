"""kernels/conv1d_onehot.py against the naive reference, finite differences and torch,
its detection of input that is not one-hot, and the Conv1d layer's two paths."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from checks import assert_close, assert_grad_fd
from motifnet.kernels.conv1d import conv1d_backward, conv1d_forward
from motifnet.kernels.conv1d_onehot import _conv1d_onehot_forward, conv1d_onehot_backward, conv1d_onehot_forward
from motifnet.layers import Conv1d
from strategies import conv1d_configs, rng_from, seeds


def _conf(c):
    return dict(stride=c["stride"], padding=c["padding"], dilation=c["dilation"])


def _onehot(rng, B, C_in, L, dtype=np.float64, n_fraction=0.15):
    """Random one-hot x (B, C_in, L) with about n_fraction all-zero columns, and its codes."""
    codes = rng.integers(0, C_in, size=(B, L))
    codes[rng.random((B, L)) < n_fraction] = -1
    x = np.zeros((B, C_in, L), dtype=dtype)
    b, i = np.nonzero(codes >= 0)
    x[b, codes[b, i], i] = 1
    return x, codes.astype(np.int8)


def _inputs(c, rng, dtype=np.float64):
    x, codes = _onehot(rng, c["B"], c["C_in"], c["L"], dtype)
    w = (rng.standard_normal((c["C_out"], c["C_in"], c["K"])) / np.sqrt(c["C_in"] * c["K"])).astype(dtype)
    bias = rng.standard_normal(c["C_out"]).astype(dtype)
    L_out = naive.conv1d_out_len(c["L"], c["K"], c["stride"], c["padding"], c["dilation"])
    dy = rng.standard_normal((c["B"], c["C_out"], L_out)).astype(dtype)
    return x, codes, w, bias, dy


# ---------------------------------------------------------------------- (a) naive reference
@given(conv1d_configs(), st.booleans(), seeds)
def test_matches_naive_float64(c, dna, seed):
    if dna:  # the layer's case; otherwise any C_in from 1 to 8 (group sizes 3 and 2)
        c = c | dict(C_in=4)
    x, codes, w, bias, dy = _inputs(c, rng_from(seed))
    conf = _conf(c)
    y, codes_out = conv1d_onehot_forward(x, w, bias, **conf)
    np.testing.assert_array_equal(codes_out, codes)
    assert_close("y", y, naive.conv1d_forward(x, w, bias, **conf), rtol=1e-13)
    y0, _ = conv1d_onehot_forward(x, w, None, **conf)
    assert_close("y (no bias)", y0, naive.conv1d_forward(x, w, None, **conf), rtol=1e-13)
    dw, db = conv1d_onehot_backward(dy, codes_out, w.shape, **conf)
    _, dw_ref, db_ref = naive.conv1d_backward(dy, x, w, **conf)
    assert_close("dw", dw, dw_ref, rtol=1e-13)
    assert_close("db", db, db_ref, rtol=1e-13)


@pytest.mark.parametrize("C_in", [1, 11, 20])  # group size 3 (1 channel) and 1 (more than 10)
def test_matches_naive_other_group_sizes(C_in):
    c = dict(B=3, C_in=C_in, C_out=5, L=30, K=7, stride=2, padding=3, dilation=2)
    x, codes, w, bias, dy = _inputs(c, rng_from(C_in))
    y, codes_out = conv1d_onehot_forward(x, w, bias, **_conf(c))
    assert_close("y", y, naive.conv1d_forward(x, w, bias, **_conf(c)), rtol=1e-13)
    dw, db = conv1d_onehot_backward(dy, codes_out, w.shape, **_conf(c))
    _, dw_ref, db_ref = naive.conv1d_backward(dy, x, w, **_conf(c))
    assert_close("dw", dw, dw_ref, rtol=1e-13)
    assert_close("db", db, db_ref, rtol=1e-13)


# ------------------------------------------------------------------ (b) finite differences
@settings(max_examples=10)
@given(conv1d_configs(), seeds)
def test_gradients_match_finite_differences(c, seed):
    c = c | dict(C_in=4)
    x, _, w, bias, g = _inputs(c, rng_from(seed))
    conf = _conf(c)
    y, codes = conv1d_onehot_forward(x, w, bias, **conf)
    dw, db = conv1d_onehot_backward(g, codes, w.shape, **conf)

    def loss():
        return float(np.sum(g * conv1d_onehot_forward(x, w, bias, **conf)[0]))

    assert_grad_fd("w", dw, loss, w)
    assert_grad_fd("bias", db, loss, bias)


# ---------------------------------------------------------------------------- (c) torch
def _check_against_torch(x, w, bias, dy, conf, rtol):
    """Forward output, dw and db against torch's conv1d + autograd, same dtype."""
    y, codes = conv1d_onehot_forward(x, w, bias, **conf)
    dw, db = conv1d_onehot_backward(dy, codes, w.shape, **conf)
    xt = torch.from_numpy(x.copy())
    wt, bt = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (w, bias))
    yt = F.conv1d(xt, wt, bt, **conf)
    yt.backward(torch.from_numpy(dy))
    assert_close("y", y, yt, rtol=rtol)
    assert_close("dw", dw, wt.grad, rtol=rtol)
    assert_close("db", db, bt.grad, rtol=rtol)


# The primer model's convolution: 32 sequences of length 50, 32 filters of width 12.
# rtol 1e-5 of the max: float32 sums of <= 1248 terms (dw, db) in another order than torch's.
def test_torch_parity_float32_seed_shape():
    c = dict(B=32, C_in=4, C_out=32, L=50, K=12, stride=1, padding=0, dilation=1)
    x, _, w, bias, dy = _inputs(c, rng_from(1), np.float32)
    _check_against_torch(x, w, bias, dy, _conf(c), rtol=1e-5)


@settings(max_examples=15)
@given(conv1d_configs(), seeds)
def test_torch_parity_float32(c, seed):
    x, _, w, bias, dy = _inputs(c, rng_from(seed), np.float32)
    _check_against_torch(x, w, bias, dy, _conf(c), rtol=1e-5)


def test_primer_data_matches_dense_kernel():
    # real sequences, in both dtypes: the one-hot kernel against the dense one
    from motifnet import data
    seqs, _ = data.load_primer("/work/shared/data/primer/sequences.txt", "/work/shared/data/primer/labels.txt")
    rng = rng_from(5)
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-13)):
        x = data.one_hot(seqs[:64]).astype(dtype)
        w = (rng.standard_normal((32, 4, 12)) / 7).astype(dtype)
        bias = rng.standard_normal(32).astype(dtype)
        y, codes = conv1d_onehot_forward(x, w, bias)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dw, db = conv1d_onehot_backward(dy, codes, w.shape)
        _, dw_ref, db_ref = conv1d_backward(dy, x, w, need_dx=False)
        assert_close(f"y ({dtype.__name__})", y, conv1d_forward(x, w, bias), rtol=rtol)
        assert_close(f"dw ({dtype.__name__})", dw, dw_ref, rtol=rtol)
        assert_close(f"db ({dtype.__name__})", db, db_ref, rtol=rtol)


# ------------------------------------------------------------ (d) input that is not one-hot
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", ["0.5", "two ones", "2.0", "-1.0", "nan", "inf", "1 then nan"])
@pytest.mark.parametrize("where", ["first", "last"])
def test_not_onehot_is_detected(dtype, bad, where):
    B, C_in, L = 5, 4, 20
    x, _ = _onehot(rng_from(7), B, C_in, L, dtype)
    b, i = (0, 0) if where == "first" else (B - 1, L - 1)
    x[b, :, i] = 0
    if bad == "two ones":
        x[b, 1, i] = x[b, 3, i] = 1
    elif bad == "1 then nan":
        x[b, 0, i], x[b, 2, i] = 1, np.nan
    else:
        x[b, 2, i] = float(bad)
    w = np.ones((3, C_in, 5), dtype=dtype)
    bias = np.zeros(3, dtype=dtype)
    _, _, ok = _conv1d_onehot_forward(x, w, bias, 1, 0, 1)
    assert ok is False
    with pytest.raises(ValueError, match="x is not one-hot"):
        conv1d_onehot_forward(x, w, bias)
    x[b, :, i] = 0  # repaired: an N column
    x[b, 1, i] = 1
    _, _, ok = _conv1d_onehot_forward(x, w, bias, 1, 0, 1)
    assert ok is True


def test_wrappers_validate_arguments():
    x, _ = _onehot(rng_from(8), 2, 4, 20)
    w = np.ones((3, 4, 5))
    with pytest.raises(TypeError, match="w has dtype float32"):
        conv1d_onehot_forward(x, w.astype(np.float32), None)
    with pytest.raises(ValueError, match="w.shape\\[1\\]"):
        conv1d_onehot_forward(x, np.ones((3, 5, 5)), None)
    with pytest.raises(ValueError, match="shorter than the kernel"):
        conv1d_onehot_forward(x, np.ones((3, 4, 25)), None)
    y, codes = conv1d_onehot_forward(x, w, None)
    with pytest.raises(TypeError, match="codes must be"):
        conv1d_onehot_backward(y, codes.astype(np.int64), w.shape)
    with pytest.raises(ValueError, match="dy must have shape"):
        conv1d_onehot_backward(y[:, :2].copy(), codes, w.shape)
    with pytest.raises(ValueError, match="codes must lie in"):
        conv1d_onehot_backward(y, codes + 1, w.shape)
    with pytest.raises(ValueError, match="w_shape"):
        conv1d_onehot_backward(y, codes, (3, 4))


# -------------------------------------------------------------------- (e) the Conv1d layer
def _layer_pair(dtype, **conf):
    onehot = Conv1d(4, 6, 5, rng=0, dtype=dtype, **conf)
    dense = Conv1d(4, 6, 5, rng=0, dtype=dtype, **conf)
    dense.use_onehot = False
    assert onehot.use_onehot
    return onehot, dense


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-13)])
def test_layer_paths_agree(dtype, rtol):
    onehot, dense = _layer_pair(dtype, stride=2, padding=3, dilation=2)
    x, _ = _onehot(rng_from(9), 3, 4, 40, dtype)
    y1, y2 = onehot.forward(x), dense.forward(x)
    assert onehot.codes is not None and dense.codes is None
    assert_close("y one-hot vs dense", y1, y2, rtol=rtol)
    dy = rng_from(10).standard_normal(y1.shape).astype(dtype)
    assert onehot.backward(dy, need_input_grad=False) is None
    dense.backward(dy, need_input_grad=False)
    assert_close("dw one-hot vs dense", onehot.weight.grad, dense.weight.grad, rtol=rtol)
    assert_close("db one-hot vs dense", onehot.bias.grad, dense.bias.grad, rtol=rtol)
    # an input gradient (saliency) takes the dense backward, after a one-hot forward
    dx = onehot.backward(dy, need_input_grad=True)
    dx_ref, _, _ = conv1d_backward(dy, x, onehot.weight.data, 2, 3, 2)
    assert_close("dx", dx, dx_ref, rtol=rtol)
    assert_close("dw accumulated twice", onehot.weight.grad, 2 * dense.weight.grad, rtol=rtol)


def test_layer_falls_back_on_dense_input():
    onehot, dense = _layer_pair(np.float32)
    x = rng_from(11).standard_normal((3, 4, 30)).astype(np.float32)
    y1 = onehot.forward(x)
    assert onehot.codes is None
    assert_close("y fallback", y1, dense.forward(x), rtol=1e-6)
    dy = rng_from(12).standard_normal(y1.shape).astype(np.float32)
    onehot.backward(dy, need_input_grad=False)
    dense.backward(dy, need_input_grad=False)
    assert_close("dw fallback", onehot.weight.grad, dense.weight.grad, rtol=1e-6)
    # and back to the one-hot path for the next one-hot batch
    x1, _ = _onehot(rng_from(13), 3, 4, 30, np.float32)
    onehot.forward(x1)
    assert onehot.codes is not None
