"""kernels/conv1d_onehot_maxpool.py: what the registry's generic checks (tests/test_ops.py)
do not cover: agreement with the two ops it fuses (conv1d_onehot then maxpool1d) on long
sequences and large alphabets, the batch split over threads, torch's NaN and infinity
rules, the += contract, the layer, and argument checks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import assert_close
from motifnet.kernels.conv1d_onehot import conv1d_onehot_backward, conv1d_onehot_forward, part_arrays, plan
from motifnet.kernels.conv1d_onehot_maxpool import (
    _backward,
    _loops_of,
    argmax_of,
    conv1d_onehot_maxpool_backward,
    conv1d_onehot_maxpool_backward_into,
    conv1d_onehot_maxpool_forward,
    conv1d_onehot_maxpool_forward_into,
)
from motifnet.kernels.maxpool1d import maxpool1d_backward_reference, maxpool1d_forward
from motifnet.layers import Conv1d, Conv1dMaxPool1d, MaxPool1d


def _codes(rng, B, L, C_in, n_fraction=0.1):
    codes = rng.integers(0, C_in, size=(B, L))
    codes[rng.random((B, L)) < n_fraction] = -1
    return codes.astype(np.int8)


def _unfused(codes, w, bias, pool, d_pooled, geometry=(1, 0, 1)):
    """The two ops the kernel fuses, their checked entry points one after the other."""
    c = conv1d_onehot_forward(codes, w, bias, *geometry)
    pooled, argmax = maxpool1d_forward(c, pool)
    dc = maxpool1d_backward_reference(d_pooled, argmax, c.shape[2]).astype(w.dtype)
    dw, db = conv1d_onehot_backward(dc, codes, w.shape, *geometry)
    return pooled, argmax, dw, db


@settings(max_examples=25, deadline=None)
@given(pool=st.integers(1, 9), L=st.integers(20, 700), C_in=st.sampled_from([4, 4, 2, 11]),
       stride=st.integers(1, 3), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_equals_the_two_ops_it_fuses(pool, L, C_in, stride, dtype, seed):
    # several blocks of windows (64 columns each), window counts that leave a partial block,
    # columns past the last window, N codes, group sizes 3, 2 and 1; the pooled values and
    # argmax bit for bit (the same column sums), the gradients up to the order of the sums
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 16))
    codes = _codes(rng, 3, L, C_in)
    w = rng.standard_normal((5, C_in, K)).astype(dtype)
    bias = rng.standard_normal(5).astype(dtype)
    geometry = (stride, int(rng.integers(0, 3)), 1)
    L_out = (L + 2 * geometry[1] - (K - 1) - 1) // stride + 1
    if L_out < pool:
        return
    pooled, argmax = conv1d_onehot_maxpool_forward(codes, w, bias, pool, *geometry)
    d_pooled = rng.standard_normal(pooled.shape).astype(dtype)
    ref_pooled, ref_argmax, ref_dw, ref_db = _unfused(codes, w, bias, pool, d_pooled, geometry)
    np.testing.assert_array_equal(pooled, ref_pooled)
    np.testing.assert_array_equal(argmax, ref_argmax)
    dw, db = conv1d_onehot_maxpool_backward(d_pooled, codes, argmax, w.shape, pool, *geometry)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close("dw", dw, ref_dw, rtol=rtol)
    assert_close("db", db, ref_db, rtol=rtol)


@pytest.mark.parametrize("n_parts", [1, 2, 3])
def test_batch_slices_in_both_compilations(n_parts):
    # the loops as the threads run them: 1, 2 or 3 slices of sequences, serial and parallel
    rng = np.random.default_rng(n_parts)
    B, L, K, pool = 5, 300, 12, 4
    codes = _codes(rng, B, L, 4)
    w, bias = rng.standard_normal((6, 4, K)), rng.standard_normal(6)
    L_pool = (L - K + 1) // pool
    d_pooled = rng.standard_normal((B, 6, L_pool))
    ref_pooled, ref_argmax, ref_dw, ref_db = _unfused(codes, w, bias, pool, d_pooled)
    forward, backward = _loops_of(pool), _backward
    G, _, n_pass, n_pc, n_pos = plan(4, K, L, L_pool * pool, 1, 0, 1)
    for kind in ("serial", "parallel"):
        pooled, offsets = np.empty((B, 6, L_pool)), np.empty((B, L_pool, 6), np.int8)
        work = [np.full_like(a, -1) for a in part_arrays(n_parts, n_pc, n_pos)]  # written before read
        getattr(forward, kind)(codes, w, bias, pooled, offsets, 1, 0, 1, G, n_pass, n_pc, n_pos, n_parts, *work)
        np.testing.assert_array_equal(pooled, ref_pooled)
        np.testing.assert_array_equal(argmax_of(offsets, pool), ref_argmax)
        dw, db = np.zeros_like(w), np.zeros_like(bias)
        getattr(backward, kind)(d_pooled, codes, offsets, dw, db, pool, 1, 0, 1, G, n_pc, n_pos, n_parts, *work)
        assert_close(f"dw ({kind}, {n_parts} slices)", dw, ref_dw, rtol=1e-12)
        assert_close(f"db ({kind}, {n_parts} slices)", db, ref_db, rtol=1e-12)


def test_nan_and_infinite_responses_pool_as_torch():
    # infinite weights make +-inf responses, and inf - inf = NaN where both signs meet; the
    # windows over them pool as torch's max_pool1d pools the same responses (first maximum,
    # a NaN wins, the last of several NaNs).  (The responses themselves are conv1d_onehot's:
    # a look-up reads only the weight of the base present, where torch's dense convolution
    # also multiplies the others by 0, and 0 * inf is NaN.)
    rng = np.random.default_rng(7)
    codes = _codes(rng, 4, 80, 4, n_fraction=0.0)
    w = rng.standard_normal((6, 4, 5)).astype(np.float32)
    w[0, 1, 2], w[1, 2, 0], w[1, 3, 4] = np.inf, np.inf, -np.inf
    w[2, 0, 1] = np.nan
    bias = rng.standard_normal(6).astype(np.float32)
    pooled, argmax = conv1d_onehot_maxpool_forward(codes, w, bias, 4)
    assert np.isnan(pooled).any() and np.isinf(pooled).any()
    c = conv1d_onehot_forward(codes, w, bias)
    tp, ti = F.max_pool1d(torch.from_numpy(c), 4, return_indices=True)
    np.testing.assert_array_equal(pooled, tp.numpy())
    np.testing.assert_array_equal(argmax, ti.numpy())


def test_backward_adds_into_dw_and_db():
    rng = np.random.default_rng(3)
    codes = _codes(rng, 2, 40, 4)
    w, bias = rng.standard_normal((3, 4, 6)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    pooled = np.empty((2, 3, 35 // 4), np.float32)
    offsets = np.empty((2, 35 // 4, 3), np.int8)
    conv1d_onehot_maxpool_forward_into(codes, w, bias, pooled, offsets, 4, 1, 0, 1)
    d_pooled = rng.standard_normal(pooled.shape).astype(np.float32)
    dw, db = conv1d_onehot_maxpool_backward(d_pooled, codes, argmax_of(offsets, 4), w.shape, 4)
    dw_acc, db_acc = np.full_like(w, 2.0), np.full_like(bias, -1.0)
    conv1d_onehot_maxpool_backward_into(d_pooled, codes, offsets, dw_acc, db_acc, 4, 1, 0, 1)
    assert_close("dw", dw_acc, dw + 2.0, rtol=1e-6)
    assert_close("db", db_acc, db - 1.0, rtol=1e-6)


def test_layer_trains_the_conv_layers_parameters():
    conv, pool = Conv1d(4, 5, 7, rng=np.random.default_rng(1)), MaxPool1d(3)
    layer = Conv1dMaxPool1d(conv, pool)
    assert layer.parameters() == {}
    codes = _codes(np.random.default_rng(2), 3, 60, 4)
    pooled = layer.forward(codes)
    d_pooled = np.random.default_rng(3).standard_normal(pooled.shape).astype(np.float32)
    layer.backward(d_pooled)
    ref_pooled, _, ref_dw, ref_db = _unfused(codes, conv.weight.data, conv.bias.data, 3, d_pooled)
    np.testing.assert_array_equal(pooled, ref_pooled)
    assert_close("conv.weight.grad", conv.weight.grad, ref_dw, rtol=1e-5)
    assert_close("conv.bias.grad", conv.bias.grad, ref_db, rtol=1e-5)
    for bad in (MaxPool1d(3, stride=2), MaxPool1d(3, padding=1), MaxPool1d(3, dilation=2)):
        with pytest.raises(ValueError, match="tiling windows"):
            Conv1dMaxPool1d(conv, bad)


def test_bad_arguments_raise():
    rng = np.random.default_rng(0)
    codes = _codes(rng, 2, 30, 4)
    w = rng.standard_normal((3, 4, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="fewer than one window"):
        conv1d_onehot_maxpool_forward(codes, w, None, 27)
    with pytest.raises(ValueError, match="at most 127"):
        conv1d_onehot_maxpool_forward(_codes(rng, 1, 200, 4), w, None, 128)
    with pytest.raises(TypeError, match="int8"):
        conv1d_onehot_maxpool_forward(codes.astype(np.int64), w, None, 2)
    pooled, argmax = conv1d_onehot_maxpool_forward(codes, w, None, 4)
    d = np.ones_like(pooled)
    bad = argmax.copy()
    bad[0, 0, 1] = 0  # window 1's argmax in window 0
    with pytest.raises(ValueError, match="forward's argmax"):
        conv1d_onehot_maxpool_backward(d, codes, bad, w.shape, 4)
    with pytest.raises(ValueError, match="int64"):
        conv1d_onehot_maxpool_backward(d, codes, argmax.astype(np.int32), w.shape, 4)
