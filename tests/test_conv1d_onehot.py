"""kernels/conv1d_onehot.py: what the registry's generic checks (tests/test_ops.py) do not
cover: large alphabets (table group size 1), agreement with the dense kernel on DNA, long
sequences (several column blocks), the batch split over threads, the += contract and
argument checks."""

import numpy as np
import pytest

from checks import assert_close
from motifnet import data
from motifnet.kernels.conv1d import conv1d_backward, conv1d_forward
from motifnet.kernels.conv1d_onehot import (
    _BLOCK,
    _backward,
    _forward,
    part_arrays,
    plan,
    conv1d_onehot_backward,
    conv1d_onehot_backward_into,
    conv1d_onehot_backward_reference,
    conv1d_onehot_forward,
    conv1d_onehot_forward_reference,
)


def _codes(rng, B, L, C_in):
    codes = rng.integers(0, C_in, size=(B, L))
    codes[rng.random((B, L)) < 0.15] = -1
    return codes.astype(np.int8)


def _one_hot(codes, C_in, dtype):
    x = np.zeros((codes.shape[0], C_in, codes.shape[1]), dtype=dtype)
    b, i = np.nonzero(codes >= 0)
    x[b, codes[b, i], i] = 1
    return x


@pytest.mark.parametrize("C_in", [1, 11, 20])  # group size 3 (1 channel) and 1 (more than 10)
def test_other_group_sizes_match_the_reference(C_in):
    rng = np.random.default_rng(C_in)
    codes = _codes(rng, 3, 30, C_in)
    w, bias = rng.standard_normal((5, C_in, 7)), rng.standard_normal(5)
    conf = dict(stride=2, padding=3, dilation=2)
    y = conv1d_onehot_forward(codes, w, bias, **conf)
    assert_close("y", y, conv1d_onehot_forward_reference(codes, w, bias, **conf), rtol=1e-13)
    dy = rng.standard_normal(y.shape)
    dw, db = conv1d_onehot_backward(dy, codes, w.shape, **conf)
    dw_ref, db_ref = conv1d_onehot_backward_reference(dy, codes, w.shape, **conf)
    assert_close("dw", dw, dw_ref, rtol=1e-13)
    assert_close("db", db, db_ref, rtol=1e-13)


def test_dna_matches_the_dense_kernel_on_its_one_hot_floats():
    seqs, _ = data.generate_data(64, 50, seed=3)
    codes = data.encode(seqs)[0]
    rng = np.random.default_rng(5)
    for dtype, rtol in ((np.float32, 1e-5), (np.float64, 1e-13)):
        x = data.one_hot(seqs).astype(dtype)
        w = (rng.standard_normal((32, 4, 12)) / 7).astype(dtype)
        bias = rng.standard_normal(32).astype(dtype)
        y = conv1d_onehot_forward(codes, w, bias)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dw, db = conv1d_onehot_backward(dy, codes, w.shape)
        _, dw_ref, db_ref = conv1d_backward(dy, x, w, need_dx=False)
        assert_close(f"y ({dtype.__name__})", y, conv1d_forward(x, w, bias), rtol=rtol)
        assert_close(f"dw ({dtype.__name__})", dw, dw_ref, rtol=rtol)
        assert_close(f"db ({dtype.__name__})", db, db_ref, rtol=rtol)


@pytest.mark.parametrize("conf", [(1, 0, 1), (2, 3, 2), (3, 1, 1)])
def test_long_sequences_and_batch_slices_match_the_reference(conf):
    # several _BLOCK-column blocks with a partial last one; the batch cut into 1-3 slices
    # (one per thread) by both the serial and the parallel compilation
    stride, padding, dilation = conf
    rng = np.random.default_rng(sum(conf))
    B, L, C_out, K = 5, 3 * _BLOCK * stride + 17, 6, 12
    codes = _codes(rng, B, L, 4)
    w, bias = rng.standard_normal((C_out, 4, K)), rng.standard_normal(C_out)
    y_ref = conv1d_onehot_forward_reference(codes, w, bias, stride, padding, dilation)
    assert y_ref.shape[2] > 2 * _BLOCK
    dy = rng.standard_normal(y_ref.shape)
    dw_ref, db_ref = conv1d_onehot_backward_reference(dy, codes, w.shape, stride, padding, dilation)
    G, _, n_pass, n_pc, n_pos = plan(4, K, L, y_ref.shape[2], stride, padding, dilation)
    args = (stride, padding, dilation, G, n_pass, n_pc, n_pos)
    for kernel in ("serial", "parallel"):
        for n_parts in (1, 2, 3):
            y = np.empty_like(y_ref)
            work = [np.full_like(a, -1) for a in part_arrays(n_parts, n_pc, n_pos)]  # written before read
            getattr(_forward, kernel)(codes, w, bias, y, *args, n_parts, *work)
            assert_close(f"y ({kernel}, {n_parts} slices)", y, y_ref, rtol=1e-13)
            dw, db = np.zeros_like(w), np.zeros_like(bias)
            getattr(_backward, kernel)(dy, codes, dw, db, *args, n_parts, *work)
            assert_close(f"dw ({kernel}, {n_parts} slices)", dw, dw_ref, rtol=1e-13)
            assert_close(f"db ({kernel}, {n_parts} slices)", db, db_ref, rtol=1e-13)


def test_backward_adds_into_the_gradient_buffers():
    rng = np.random.default_rng(4)
    codes = _codes(rng, 2, 20, 4)
    w = rng.standard_normal((3, 4, 5)).astype(np.float32)
    dy = rng.standard_normal((2, 3, 16)).astype(np.float32)
    dw_ref, db_ref = conv1d_onehot_backward_reference(dy, codes, w.shape)
    dw, db = np.full_like(w, 2.0), np.full(3, 2.0, np.float32)
    conv1d_onehot_backward_into(dy, codes, dw, db, 1, 0, 1)
    assert_close("dw", dw, dw_ref + 2, rtol=1e-5)
    assert_close("db", db, db_ref + 2, rtol=1e-5)


def test_all_n_gives_the_bias():
    codes = np.full((2, 10), -1, np.int8)
    y = conv1d_onehot_forward(codes, np.ones((3, 4, 4)), np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(y, np.broadcast_to(np.array([1.0, 2.0, 3.0])[None, :, None], y.shape))


def test_wrappers_validate_arguments():
    codes = _codes(np.random.default_rng(8), 2, 20, 4)
    w = np.ones((3, 4, 5))
    with pytest.raises(TypeError, match="bias has dtype float64"):
        conv1d_onehot_forward(codes, w.astype(np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="codes must lie in"):
        conv1d_onehot_forward(codes, np.ones((3, 2, 5)), None)  # code 3 with 2 channels
    with pytest.raises(TypeError, match="codes must be a \\(B, L\\) int8 array"):
        conv1d_onehot_forward(_one_hot(codes, 4, np.float64), w, None)
    with pytest.raises(ValueError, match="shorter than the kernel"):
        conv1d_onehot_forward(codes, np.ones((3, 4, 25)), None)
    with pytest.raises(ValueError, match="at most 127 input channels"):
        conv1d_onehot_forward(codes, np.ones((3, 128, 5)), None)
    y = conv1d_onehot_forward(codes, w, None)
    with pytest.raises(TypeError, match="codes must be"):
        conv1d_onehot_backward(y, codes.astype(np.int64), w.shape)
    with pytest.raises(ValueError, match="dy must have shape"):
        conv1d_onehot_backward(y[:, :2].copy(), codes, w.shape)
    with pytest.raises(ValueError, match="codes must lie in"):
        conv1d_onehot_backward(y, codes + 2, w.shape)
    with pytest.raises(ValueError, match="w_shape"):
        conv1d_onehot_backward(y, codes, (3, 4))
