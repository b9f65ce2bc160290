"""kernels/conv1d_onehot_globalmax.py: what the registry's generic checks (tests/test_ops.py)
do not cover: agreement with the two ops it fuses (conv1d_onehot then global_max) on long
sequences, many positions and large alphabets, the batch split over threads, the NaN and
tie rules, the += contract, the layer and the deepbind model, and argument checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import assert_close
from motifnet.kernels.conv1d_onehot import conv1d_onehot_backward, conv1d_onehot_forward, part_arrays, plan
from motifnet.kernels.conv1d_onehot_globalmax import (
    _forward,
    conv1d_onehot_globalmax_backward,
    conv1d_onehot_globalmax_backward_into,
    conv1d_onehot_globalmax_backward_reference,
    conv1d_onehot_globalmax_forward,
    conv1d_onehot_globalmax_forward_reference,
)
from motifnet.kernels.global_max import global_max_backward, global_max_forward
from motifnet.layers import GlobalMaxPool, StrandConv1d, StrandConv1dGlobalMax
from motifnet.models import DeepBind


def _codes(rng, B, L, C_in, n_fraction=0.1):
    codes = rng.integers(0, C_in, size=(B, L))
    codes[rng.random((B, L)) < n_fraction] = -1
    return codes.astype(np.int8)


def _unfused(codes, w, bias, n_valid, groups, dy):
    """The two ops the kernel fuses, their checked entry points one after the other."""
    c = conv1d_onehot_forward(codes, w, bias)
    y, argmax = global_max_forward(c, n_valid, groups)
    dc = global_max_backward(dy, argmax, groups, c.shape[2])
    dw, db = conv1d_onehot_backward(dc, codes, w.shape)
    return y, argmax, dw, db


@settings(max_examples=25, deadline=None)
@given(L=st.integers(16, 700), C_in=st.sampled_from([4, 4, 2, 11]), groups=st.integers(1, 2),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_equals_the_two_ops_it_fuses(L, C_in, groups, dtype, seed):
    # several blocks of 32 columns and a partial one, each sequence's own valid length, N
    # codes, group sizes 3, 2 and 1: y and argmax bit for bit (the same column sums), the
    # gradients up to the order of the sums
    rng = np.random.default_rng(seed)
    K = int(rng.integers(1, 16))
    B, F = 4, 3
    codes = _codes(rng, B, L, C_in)
    w = rng.standard_normal((groups * F, C_in, K)).astype(dtype)
    bias = rng.standard_normal(groups * F).astype(dtype)
    n_valid = rng.integers(1, L - K + 2, size=B).astype(np.int64)
    y, argmax = conv1d_onehot_globalmax_forward(codes, w, bias, n_valid, groups)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dw, db = conv1d_onehot_globalmax_backward(dy, codes, argmax, w.shape)
    y_u, argmax_u, dw_u, db_u = _unfused(codes, w, bias, n_valid, groups, dy)
    np.testing.assert_array_equal(y, y_u)
    np.testing.assert_array_equal(argmax, argmax_u)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close("dw", dw, dw_u, rtol=rtol)
    assert_close("db", db, db_u, rtol=rtol)


def test_ties_go_to_the_first_position_and_group_and_nan_to_the_last():
    # one filter of one tap on a one-letter alphabet: every position scores the same, so the
    # first position of group 0 must win; a NaN weight in group 1 then wins everywhere
    # (the last NaN in (g, t) order: group 1's last valid position)
    codes = np.zeros((2, 9), np.int8)
    n_valid = np.array([9, 4], np.int64)
    w = np.ones((2, 1, 1), np.float32)
    bias = np.zeros(2, np.float32)
    y, argmax = conv1d_onehot_globalmax_forward(codes, w, bias, n_valid, 2)
    np.testing.assert_array_equal(argmax, [[0], [0]])
    w[1, 0, 0] = np.nan
    y, argmax = conv1d_onehot_globalmax_forward(codes, w, bias, n_valid, 2)
    assert np.isnan(y).all()
    np.testing.assert_array_equal(argmax, [[9 + 8], [9 + 3]])
    y_r, argmax_r = conv1d_onehot_globalmax_forward_reference(codes, w, bias, n_valid, 2)
    np.testing.assert_array_equal(argmax, argmax_r)


def test_positions_past_n_valid_are_never_seen():
    # the best column lies past sequence 1's valid length: it must pick the best valid one
    rng = np.random.default_rng(3)
    codes = _codes(rng, 2, 40, 4, n_fraction=0.0)
    codes[:, 30:] = 3
    w = np.zeros((1, 4, 5), np.float64)
    w[0, 3, :] = 10.0  # T-runs score 50; only positions 30.. reach it
    n_valid = np.array([36, 20], np.int64)
    y, argmax = conv1d_onehot_globalmax_forward(codes, w, None, n_valid, 1)
    assert y[0, 0] == 50.0 and 30 <= argmax[0, 0] < 36
    assert y[1, 0] < 50.0 and argmax[1, 0] < 20
    y_r, argmax_r = conv1d_onehot_globalmax_forward_reference(codes, w, np.zeros(1), n_valid, 1)
    np.testing.assert_array_equal(argmax, argmax_r)


def test_threads_split_the_batch_into_the_same_result():
    rng = np.random.default_rng(1)
    codes = _codes(rng, 9, 120, 4)
    w = rng.standard_normal((8, 4, 11)).astype(np.float32)
    bias = rng.standard_normal(8).astype(np.float32)
    n_valid = rng.integers(1, 111, size=9).astype(np.int64)
    L_out = 110
    G, _, n_pass, n_pc, n_pos = plan(4, 11, 120, L_out, 1, 0, 1)
    out = {}
    for n_parts in (1, 2, 4):
        y = np.empty((9, 4), np.float32)
        argmax = np.empty((9, 4), np.int64)
        work = [np.full_like(a, -1) for a in part_arrays(n_parts, n_pc, n_pos)]  # written before read
        _forward.parallel(codes, w, bias, n_valid, y, argmax, 2, G, n_pass, n_pc, n_pos, n_parts, *work)
        out[n_parts] = (y, argmax)
    for n_parts in (2, 4):
        np.testing.assert_array_equal(out[n_parts][0], out[1][0])
        np.testing.assert_array_equal(out[n_parts][1], out[1][1])


def test_backward_adds_into_the_gradients():
    rng = np.random.default_rng(2)
    codes = _codes(rng, 3, 30, 4)
    w = rng.standard_normal((4, 4, 6))
    y, argmax = conv1d_onehot_globalmax_forward(codes, w, None, None, 2)
    dy = rng.standard_normal(y.shape)
    dw, db = np.full(w.shape, 1.5), np.full(4, -2.0)
    conv1d_onehot_globalmax_backward_into(dy, codes, argmax, dw, db)
    dw_r, db_r = conv1d_onehot_globalmax_backward_reference(dy, codes, argmax, w.shape)
    assert_close("dw", dw, dw_r + 1.5, rtol=1e-12)
    assert_close("db", db, db_r - 2.0, rtol=1e-12)


def test_the_layer_equals_the_two_layers_and_the_model_takes_it_on_codes():
    rng = np.random.default_rng(4)
    codes = _codes(rng, 6, 80, 4)
    n_valid = rng.integers(1, 67, size=6).astype(np.int64)
    grads = {}
    for fused in (True, False):
        conv = StrandConv1d(5, 14, rng=np.random.default_rng(0))
        pool = GlobalMaxPool(groups=2)
        dy = np.random.default_rng(5).standard_normal((6, 5)).astype(np.float32)
        if fused:
            layer = StrandConv1dGlobalMax(conv, pool)
            y = layer.forward(codes, n_valid).copy()
            layer.backward(dy)
        else:
            y = pool.forward(conv.forward(codes), n_valid).copy()
            conv.backward(pool.backward(dy), need_input_grad=False)
        grads[fused] = (y, conv.weight.grad.copy(), conv.bias.grad.copy())
    np.testing.assert_array_equal(grads[True][0], grads[False][0])
    assert_close("d weight", grads[True][1], grads[False][1], rtol=1e-5)
    assert_close("d bias", grads[True][2], grads[False][2], rtol=1e-5)
    with pytest.raises(ValueError, match="one-hot floats"):
        StrandConv1dGlobalMax(StrandConv1d(2, 3), GlobalMaxPool(2)).backward(np.zeros((1, 2), np.float32),
                                                                          need_input_grad=True)

    # the model: on codes its logits are those of the one-hot floats (another convolution
    # kernel: rounding only), through the fused layer
    model = DeepBind(n_filters=5, kernel_size=14)
    lengths = n_valid + 13
    on_codes = model.forward(codes, lengths).copy()
    assert model._fused and model.conv_pool.argmax is not None
    onehot = np.zeros((6, 4, 80), np.float32)
    b, t = np.nonzero(codes >= 0)
    onehot[b, codes[b, t], t] = 1
    assert_close("logits", on_codes, model.forward(onehot, lengths), rtol=1e-5)


def test_bad_arguments_name_the_argument():
    codes = np.zeros((2, 10), np.int8)
    w = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="groups"):
        conv1d_onehot_globalmax_forward(codes, w, None, None, 3)
    with pytest.raises(ValueError, match="n_valid"):
        conv1d_onehot_globalmax_forward(codes, w, None, np.array([0, 8], np.int64), 2)
    with pytest.raises(ValueError, match="shorter than the filters"):
        conv1d_onehot_globalmax_forward(np.zeros((2, 2), np.int8), w, None, None, 2)
    y, argmax = conv1d_onehot_globalmax_forward(codes, w, None, None, 2)
    with pytest.raises(ValueError, match="argmax"):
        conv1d_onehot_globalmax_backward(np.zeros_like(y), codes, argmax + 100, w.shape)
