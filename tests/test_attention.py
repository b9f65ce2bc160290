"""kernels/attention.py against the naive float64 reference, finite differences and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import naive
from checks import assert_close, assert_grad_fd
from motifnet.kernels.attention import (
    _attention_backward,
    _attention_forward,
    _backward_parallel,
    _backward_serial,
    _forward_parallel,
    _forward_serial,
    attention_backward,
    attention_forward,
)
from strategies import attention_configs, rng_from, seeds
from torch_models import SimpleAttention  # the tutorial's module, verbatim

NAMES = ("q", "k", "W", "b", "v")


def make_inputs(rng, B, H, L, dtype=np.float64, v_scale=1.0):
    """q, k, W, b, v like the model's (W scaled as torch's Linear init) and a projection g of context."""
    q = rng.standard_normal((B, H))
    k = rng.standard_normal((B, H, L))
    W = rng.standard_normal((H, 2 * H)) / np.sqrt(2 * H)
    b = 0.1 * rng.standard_normal(H)
    v = v_scale * rng.random(H)
    g = rng.standard_normal((B, H))
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in (q, k, W, b, v, g))


# ---------------------------------------------------------------- torch reference
def torch_attention(q, k, W, b, v, g):
    """context, weights and (dq, dk, dW, db, dv) from torch, for loss = sum(g * context)."""
    module = SimpleAttention(q.shape[1]).to(torch.from_numpy(q).dtype)
    with torch.no_grad():
        module.attn.weight.copy_(torch.from_numpy(W))
        module.attn.bias.copy_(torch.from_numpy(b))
        module.v.copy_(torch.from_numpy(v))
    qt = torch.from_numpy(q.copy()).requires_grad_()
    kt = torch.from_numpy(k.copy()).requires_grad_()  # (B, H, L), transposed for the module below
    context, weights = module(qt, kt.transpose(1, 2))
    context.backward(torch.from_numpy(g))
    grads = (qt.grad, kt.grad, module.attn.weight.grad, module.attn.bias.grad, module.v.grad)
    return context, weights, grads


def assert_matches_torch(q, k, W, b, v, g, rtol_values, rtol_grads, rtol_softmax_grads=None):
    """Forward outputs and every gradient of our kernels against torch.

    ``rtol_softmax_grads`` (default ``rtol_grads``) is for dq, dW, db and dv,
    which reach the loss only through the softmax gradient (see RTOL32_SOFTMAX).
    """
    rtol_softmax_grads = rtol_grads if rtol_softmax_grads is None else rtol_softmax_grads
    context, weights = attention_forward(q, k, W, b, v)
    grads = attention_backward(g, q, k, W, b, v)
    t_context, t_weights, t_grads = torch_attention(q, k, W, b, v, g)
    assert_close("context", context, t_context, rtol=rtol_values)
    assert_close("weights", weights, t_weights, rtol=rtol_values)
    for name, ours, theirs in zip(NAMES, grads, t_grads):
        assert_close("d" + name, ours, theirs, rtol=rtol_grads if name == "k" else rtol_softmax_grads)


# float32 vs torch float32: both round every step, so context, weights and dk
# agree to a few ulp of their largest entry; 1e-5 leaves a margin.  dq, dW, db
# and dv are sums over positions of d_s[l] * (...) where sum_l d_s[l] = 0 (the
# softmax gradient), so their O(1) terms cancel: measured against the float64
# reference over 200 random small shapes, torch's own float32 error reaches
# 2.3e-5 and ours 1.6e-5 of max|grad|.  Hence 1e-4 for those; a flipped or
# dropped backward term still moves them by O(1).
RTOL32 = 1e-5
RTOL32_SOFTMAX = 1e-4


def test_matches_torch_float32_model_shape():
    q, k, W, b, v, g = make_inputs(rng_from(0), B=32, H=32, L=9, dtype=np.float32)
    assert_matches_torch(q, k, W, b, v, g, RTOL32, RTOL32, RTOL32_SOFTMAX)


@settings(max_examples=15)
@given(cfg=attention_configs(), seed=seeds)
def test_matches_torch_float32(cfg, seed):
    q, k, W, b, v, g = make_inputs(rng_from(seed), **cfg, dtype=np.float32)
    assert_matches_torch(q, k, W, b, v, g, RTOL32, RTOL32, RTOL32_SOFTMAX)


def test_matches_torch_float64_tight():
    q, k, W, b, v, g = make_inputs(rng_from(1), B=5, H=7, L=11)
    assert_matches_torch(q, k, W, b, v, g, 1e-12, 1e-12)


# ---------------------------------------------------------------- naive reference
def assert_matches_naive(q, k, W, b, v, g, rtol):
    context, weights = attention_forward(q, k, W, b, v)
    n_context, n_weights = naive.attention_forward(q, k, W, b, v)
    assert_close("context", context, n_context, rtol=rtol)
    assert_close("weights", weights, n_weights, rtol=rtol)
    for name, ours, ref in zip(NAMES, attention_backward(g, q, k, W, b, v), naive.attention_backward(g, q, k, W, b, v)):
        assert_close("d" + name, ours, ref, rtol=rtol)


@settings(max_examples=20)
@given(cfg=attention_configs(), seed=seeds)
def test_matches_naive_float64(cfg, seed):
    assert_matches_naive(*make_inputs(rng_from(seed), **cfg), rtol=1e-12)


@pytest.mark.parametrize("B, H, L", [(1, 1, 1), (3, 1, 5), (2, 6, 1), (1, 32, 16)])
def test_matches_naive_edge_shapes(B, H, L):
    assert_matches_naive(*make_inputs(rng_from(B * 100 + H * 10 + L), B, H, L), rtol=1e-12)


# ---------------------------------------------------------------- finite differences
def check_fd(q, k, W, b, v, g):
    inputs = dict(q=q, k=k, W=W, b=b, v=v)
    analytic = dict(zip(NAMES, attention_backward(g, q, k, W, b, v)))

    def loss():
        return float(np.sum(g * attention_forward(**inputs)[0]))

    for name in NAMES:
        assert_grad_fd(name, analytic[name], loss, inputs[name], rtol=1e-6)


@pytest.mark.parametrize("B, H, L", [(3, 5, 7), (1, 1, 1), (2, 1, 4), (2, 4, 1)])
def test_finite_differences(B, H, L):
    check_fd(*make_inputs(rng_from(7 + B + H + L), B, H, L))


@settings(max_examples=8)
@given(cfg=attention_configs(), seed=seeds)
def test_finite_differences_random_shapes(cfg, seed):
    cfg = dict(cfg, H=min(cfg["H"], 8))  # FD costs 2 forwards per element of W: keep W small
    check_fd(*make_inputs(rng_from(seed), **cfg))


# ---------------------------------------------------------------- properties
def test_weights_sum_to_one_float32():
    q, k, W, b, v, _ = make_inputs(rng_from(2), B=64, H=16, L=50, dtype=np.float32, v_scale=5.0)
    _, weights = attention_forward(q, k, W, b, v)
    assert weights.dtype == np.float32
    assert np.all(weights >= 0)
    assert_close("sum_l weights", weights.sum(axis=1, dtype=np.float64), np.ones(64), rtol=1e-6)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_huge_scores_stay_finite_float32(sign):
    # |v| = 3e4/H with energies ~ +-1: scores reach ~ +-1e4, exp would overflow without max-subtraction
    B, H, L = 4, 32, 9
    q, k, W, b, v, g = make_inputs(rng_from(3), B, H, L, dtype=np.float32)
    v = (sign * 3e4 / H * np.sign(np.random.default_rng(4).standard_normal(H))).astype(np.float32)
    W = (W * 10).astype(np.float32)  # saturate tanh so the scores really are ~1e4 apart
    context, weights, energy = _attention_forward(q, k, W, b, v)
    scores = energy.astype(np.float64) @ v.astype(np.float64)
    assert np.abs(scores).max() > 5e3
    grads = attention_backward(g, q, k, W, b, v)
    for name, a in [("context", context), ("weights", weights)] + list(zip(NAMES, grads)):
        assert np.all(np.isfinite(a)), f"{name} has inf/NaN"
    n_context, n_weights = naive.attention_forward(*(a.astype(np.float64) for a in (q, k, W, b, v)))
    assert_close("weights", weights, n_weights, rtol=1e-4)
    assert_close("context", context, n_context, rtol=1e-4)


def test_nan_propagates():
    q, k, W, b, v, _ = make_inputs(rng_from(5), B=2, H=3, L=4)
    k[1, 0, 2] = np.nan
    context, weights = attention_forward(q, k, W, b, v)
    assert np.all(np.isfinite(context[0])) and np.all(np.isnan(weights[1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_loop_nest_matches_serial(dtype):
    # call both loop nests directly: the wrapper only picks the parallel one above a work threshold
    q, k, W, b, v, g = make_inputs(rng_from(6), B=7, H=5, L=6, dtype=dtype)
    outs = []
    for n_chunks in (None, 3):
        B, H, L = k.shape
        context, weights, energy = (np.empty((B, H), dtype), np.empty((B, L), dtype), np.empty((B, L, H), dtype))
        dq, dk = np.empty((B, H), dtype), np.empty((B, H, L), dtype)
        dW, db, dv = np.zeros((H, 2 * H), dtype), np.zeros(H, dtype), np.zeros(H, dtype)
        if n_chunks is None:
            _forward_serial(q, k, W, b, v, context, weights, energy)
            _backward_serial(g, q, k, W, v, weights, energy, dq, dk, dW, db, dv)
        else:
            _forward_parallel(q, k, W, b, v, context, weights, energy, n_chunks)
            _backward_parallel(g, q, k, W, v, weights, energy, dq, dk, dW, db, dv, n_chunks)
        outs.append((context, weights, dq, dk, dW, db, dv))
    rtol = 1e-6 if dtype == np.float32 else 1e-13  # dW, db, dv are summed in another order
    for name, serial, parallel in zip(("context", "weights", "dq", "dk", "dW", "db", "dv"), *outs):
        assert_close(name, parallel, serial, rtol=rtol)


def test_unchecked_entry_points_match_public():
    q, k, W, b, v, g = make_inputs(rng_from(8), B=3, H=4, L=5, dtype=np.float32)
    context, weights, energy = _attention_forward(q, k, W, b, v)
    assert energy.shape == (3, 5, 4)
    ours = _attention_backward(g, q, k, W, v, weights, energy)
    ref = naive.attention_backward(*(a.astype(np.float64) for a in (g, q, k, W, b, v)))
    for name, a, e in zip(NAMES, ours, ref):
        assert a.dtype == np.float32
        assert_close("d" + name, a, e, rtol=1e-5)


# ---------------------------------------------------------------- argument checks
def test_bad_arguments_name_the_argument():
    q, k, W, b, v, g = make_inputs(rng_from(9), B=2, H=3, L=4)
    with pytest.raises(ValueError, match="q must have shape"):
        attention_forward(q[:1].copy(), k, W, b, v)
    with pytest.raises(ValueError, match="W must have shape"):
        attention_forward(q, k, W[:, :3].copy(), b, v)
    with pytest.raises(ValueError, match="b must have shape"):
        attention_forward(q, k, W, b[:2].copy(), v)
    with pytest.raises(ValueError, match="v must have 1 dimensions"):
        attention_forward(q, k, W, b, v[None])
    with pytest.raises(ValueError, match="k must have 3 dimensions"):
        attention_forward(q, k[0], W, b, v)
    with pytest.raises(ValueError, match="L >= 1"):
        attention_forward(q, k[:, :, :0].copy(), W, b, v)
    with pytest.raises(TypeError, match="W has dtype float32"):
        attention_forward(q, k, W.astype(np.float32), b, v)
    with pytest.raises(TypeError, match="k must be float32 or float64"):
        attention_forward(q, k.astype(np.int64), W, b, v)
    with pytest.raises(TypeError, match="q must be a numpy.ndarray"):
        attention_forward(q.tolist(), k, W, b, v)
    with pytest.raises(ValueError, match="k must be C-contiguous"):
        attention_forward(q, np.asfortranarray(k), W, b, v)
    with pytest.raises(ValueError, match="d_context must have shape"):
        attention_backward(g[:, :2].copy(), q, k, W, b, v)
    with pytest.raises(TypeError, match="d_context has dtype float32"):
        attention_backward(g.astype(np.float32), q, k, W, b, v)
