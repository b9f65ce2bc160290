"""kernels/attention.py: what the registry's generic checks (tests/test_ops.py) do not cover:
the tutorial's own torch module, weights summing to one, huge scores, NaN, the parallel loops,
the += contract, argument checks, the float32 tanh."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.torch_models import SimpleAttention  # the tutorial's module, verbatim
from checks import assert_close
from motifnet.kernels.attention import (
    _backward_parallel,
    _backward_serial,
    _forward,
    _forward_parallel,
    _forward_serial,
    _tanh_f32,
    attention_backward,
    attention_backward_into,
    attention_backward_reference,
    attention_forward,
    attention_forward_reference,
)

NAMES = ("q", "k", "W", "b", "v")


def rng_from(seed):
    return np.random.default_rng(seed)


def make_inputs(rng, B, H, L, dtype=np.float64, v_scale=1.0):
    """q, k, W, b, v like the model's (W scaled as torch's Linear init) and a projection g of context."""
    q = rng.standard_normal((B, H))
    k = rng.standard_normal((B, H, L))
    W = rng.standard_normal((H, 2 * H)) / np.sqrt(2 * H)
    b = 0.1 * rng.standard_normal(H)
    v = v_scale * rng.random(H)
    g = rng.standard_normal((B, H))
    return tuple(np.ascontiguousarray(a, dtype=dtype) for a in (q, k, W, b, v, g))


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
    context, weights, energy = _forward(q, k, W, b, v)
    scores = energy.astype(np.float64) @ v.astype(np.float64)
    assert np.abs(scores).max() > 5e3
    grads = attention_backward(g, q, k, W, b, v)
    for name, a in [("context", context), ("weights", weights)] + list(zip(NAMES, grads)):
        assert np.all(np.isfinite(a)), f"{name} has inf/NaN"
    n_context, n_weights = attention_forward_reference(*(a.astype(np.float64) for a in (q, k, W, b, v)))
    assert_close("weights", weights, n_weights, rtol=1e-4)
    assert_close("context", context, n_context, rtol=1e-4)


# ---------------------------------------------------------------- the float32 tanh
def test_float32_tanh_is_within_three_ulp_of_tanh():
    # _tanh_f32 (module docstring, F2) against float64 tanh: a grid over [-12, 12], normal
    # draws, magnitudes from 1e-30 to 30 (where a relative error shows), the clamp's edges
    rng = rng_from(11)
    x = np.concatenate([np.linspace(-12, 12, 40_001), 3 * rng.standard_normal(20_000),
                        rng.choice([-1.0, 1.0], 20_000) * 10.0 ** rng.uniform(-30, 1.5, 20_000),
                        [7.9, 7.99881172180175781, 8.0, 9.0, 1e30, -1e30]]).astype(np.float32)
    t = np.array([_tanh_f32(v) for v in x])  # Numba returns a float32 as a Python float
    assert np.array_equal(t.astype(np.float32), t), "not computed in float32"
    exact = np.tanh(x.astype(np.float64))
    err = np.abs(t.astype(np.float64) - exact)
    eps = float(np.finfo(np.float32).eps)  # = ulp(1)
    assert err.max() <= 3 * eps, f"worst absolute error {err.max():.3g} at x = {x[err.argmax()]}"
    rel = err[exact != 0] / np.abs(exact[exact != 0])
    assert rel.max() <= 3 * eps, f"worst relative error {rel.max():.3g}"
    assert np.all(np.abs(t) <= 1) and np.array_equal(np.array([_tanh_f32(-v) for v in x]), -t)


def test_float32_tanh_of_inf_nan_and_signed_zero():
    values = [np.float32(v) for v in (np.inf, -np.inf, np.nan, 0.0, -0.0)]
    t = [_tanh_f32(v) for v in values]
    assert t[0] == 1 and t[1] == -1 and np.isnan(t[2])
    assert t[3] == 0 and not np.signbit(t[3]) and t[4] == 0 and np.signbit(t[4])


def test_nan_propagates_float32():
    q, k, W, b, v, _ = make_inputs(rng_from(5), B=2, H=3, L=4, dtype=np.float32)
    k[1, 0, 2] = np.nan
    context, weights = attention_forward(q, k, W, b, v)
    assert np.all(np.isfinite(context[0])) and np.all(np.isnan(weights[1]))


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
        dq, dk = np.zeros((B, H), dtype), np.zeros((B, H, L), dtype)
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


def test_backward_adds_into_every_gradient_buffer():
    q, k, W, b, v, g = make_inputs(rng_from(8), B=3, H=4, L=5)
    context, weights, energy = _forward(q, k, W, b, v)
    ref = attention_backward_reference(g, q, k, W, b, v)
    grads = [np.full_like(a, 1.5) for a in (q, k, W, b, v)]
    attention_backward_into(g, q, k, W, v, weights, energy, *grads)
    for name, got, expected in zip(NAMES, grads, ref):
        assert_close("d" + name, got, expected + 1.5, rtol=1e-13)


def test_matches_the_tutorials_module_float32():
    # the follow-up tutorial's SimpleAttention, verbatim, at the model's shape
    q, k, W, b, v, g = make_inputs(rng_from(7), B=32, H=32, L=9, dtype=np.float32)
    module = SimpleAttention(32)
    with torch.no_grad():
        module.attn.weight.copy_(torch.from_numpy(W))
        module.attn.bias.copy_(torch.from_numpy(b))
        module.v.copy_(torch.from_numpy(v))
    qt = torch.from_numpy(q.copy()).requires_grad_()
    kt = torch.from_numpy(k.copy()).requires_grad_()
    context_t, weights_t = module(qt, kt.transpose(1, 2))
    context_t.backward(torch.from_numpy(g))
    context, weights = attention_forward(q, k, W, b, v)
    assert_close("context", context, context_t, rtol=1e-5)
    assert_close("weights", weights, weights_t, rtol=1e-5)
    expected = (qt.grad, kt.grad, module.attn.weight.grad, module.attn.bias.grad, module.v.grad)
    for name, ours, theirs in zip(NAMES, attention_backward(g, q, k, W, b, v), expected):
        assert_close("d" + name, ours, theirs, rtol=1e-5 if name == "k" else 1e-4)


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
