"""Each motifnet layer against torch's module: forward and every gradient, float32.

The layers are thin, so these tests check the wiring: the right kernel, the
right cached arrays, gradients landing in the right Parameter (added, as torch
accumulates), torch's initialisation ranges, and the flat parameter buffer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from benchmarks.torch_models import SimpleAttention, StrandConv
from checks import assert_close, check_layer_against_torch

from motifnet.layers import (AdditiveAttention, BCEWithLogitsLoss, Conv1d, Flatten, GlobalMaxPool, Linear, MaxPool1d,
                             Parameter, ReLU, StrandConv1d, pack_parameters)
from motifnet.optim import Adam

T = torch.from_numpy


def _leaf(a):
    return T(a.copy()).requires_grad_(True)


@pytest.mark.parametrize("conf", [
    dict(C_in=4, C_out=32, K=12, L=50, stride=1, padding=0, dilation=1, bias=True),  # the primer's
    dict(C_in=3, C_out=5, K=4, L=23, stride=2, padding=3, dilation=2, bias=True),
    dict(C_in=2, C_out=3, K=1, L=7, stride=3, padding=0, dilation=1, bias=False),
])
def test_conv1d_layer(conf):
    rng = np.random.default_rng(0)
    layer = Conv1d(conf["C_in"], conf["C_out"], conf["K"], conf["stride"], conf["padding"], conf["dilation"],
                   bias=conf["bias"], rng=rng)
    x = rng.standard_normal((6, conf["C_in"], conf["L"])).astype(np.float32)
    y = layer.forward(x)
    assert y.shape == (6, conf["C_out"], layer.output_length(conf["L"]))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    tx, tw = _leaf(x), _leaf(layer.weight.data)
    tb = _leaf(layer.bias.data) if conf["bias"] else None
    ty = F.conv1d(tx, tw, tb, conf["stride"], conf["padding"], conf["dilation"])
    ty.backward(T(dy))
    grads = dict(x=dx, weight=layer.weight.grad) | (dict(bias=layer.bias.grad) if conf["bias"] else {})
    expected = dict(x=tx.grad, weight=tw.grad) | (dict(bias=tb.grad) if conf["bias"] else {})
    check_layer_against_torch("Conv1d", y, ty, grads, expected)
    assert layer.backward(dy, need_input_grad=False) is None


def test_maxpool_relu_flatten_layers():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 7, 39)).astype(np.float32)
    relu, pool, flat = ReLU(), MaxPool1d(4), Flatten()
    y = flat.forward(pool.forward(relu.forward(x)))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = relu.backward(pool.backward(flat.backward(dy)))
    tx = _leaf(x)
    ty = F.max_pool1d(F.relu(tx), 4).flatten(1)
    ty.backward(T(dy))
    check_layer_against_torch("ReLU+MaxPool1d+Flatten", y, ty, dict(x=dx), dict(x=tx.grad))
    pool2 = MaxPool1d(3, stride=2, padding=1, dilation=2)
    y2 = pool2.forward(x)
    dx2 = pool2.backward(dy2 := rng.standard_normal(y2.shape).astype(np.float32))
    tx2 = _leaf(x)
    ty2 = F.max_pool1d(tx2, 3, 2, 1, 2)
    ty2.backward(T(dy2))
    check_layer_against_torch("MaxPool1d(3, 2, 1, 2)", y2, ty2, dict(x=dx2), dict(x=tx2.grad))


@pytest.mark.parametrize("lead,bias", [((32,), True), ((3, 5), True), ((4,), False)])
def test_linear_layer(lead, bias):
    rng = np.random.default_rng(2)
    layer = Linear(288, 16, bias=bias, rng=rng)
    x = rng.standard_normal(lead + (288,)).astype(np.float32)
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    tx, tw = _leaf(x), _leaf(layer.weight.data)
    tb = _leaf(layer.bias.data) if bias else None
    ty = F.linear(tx, tw, tb)
    ty.backward(T(dy))
    grads = dict(x=dx, weight=layer.weight.grad) | (dict(bias=layer.bias.grad) if bias else {})
    expected = dict(x=tx.grad, weight=tw.grad) | (dict(bias=tb.grad) if bias else {})
    check_layer_against_torch("Linear", y, ty, grads, expected)


@pytest.mark.parametrize("B,H,L", [(32, 32, 9), (3, 5, 1), (2, 1, 6)])
def test_attention_layer(B, H, L):
    rng = np.random.default_rng(3)
    layer = AdditiveAttention(H, rng=rng)
    q = rng.standard_normal((B, H)).astype(np.float32)
    k = rng.standard_normal((B, H, L)).astype(np.float32)
    context, weights = layer.forward(q, k)
    d_context = rng.standard_normal(context.shape).astype(np.float32)
    dq, dk = layer.backward(d_context)
    ref = SimpleAttention(H)
    with torch.no_grad():
        ref.attn.weight.copy_(T(layer.W.data)), ref.attn.bias.copy_(T(layer.b.data)), ref.v.copy_(T(layer.v.data))
    tq, tk = _leaf(q), _leaf(k)
    t_context, t_weights = ref(tq, tk.permute(0, 2, 1))
    t_context.backward(T(d_context))
    assert_close("attention weights", weights, t_weights, rtol=1e-5)
    check_layer_against_torch("AdditiveAttention", context, t_context,
                              dict(q=dq, k=dk, W=layer.W.grad, b=layer.b.grad, v=layer.v.grad),
                              dict(q=tq.grad, k=tk.grad, W=ref.attn.weight, b=ref.attn.bias, v=ref.v),
                              grad_rtol=1e-4)  # sums over B*L*H terms with tanh/exp in float32


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [None, 2.5])
def test_bce_layer(reduction, pos_weight):
    rng = np.random.default_rng(4)
    logits = (3 * rng.standard_normal(32)).astype(np.float32)
    targets = (rng.random(32) < 0.5).astype(np.float32)
    loss_fn = BCEWithLogitsLoss(pos_weight=pos_weight, reduction=reduction)
    loss = loss_fn.forward(logits, targets)
    d_loss = rng.standard_normal(32).astype(np.float32) if reduction == "none" else 0.7
    d_logits = loss_fn.backward(d_loss)
    t_logits = _leaf(logits)
    pw = None if pos_weight is None else torch.tensor([pos_weight])
    t_loss = F.binary_cross_entropy_with_logits(t_logits, T(targets), pos_weight=pw, reduction=reduction)
    t_loss.backward(T(d_loss) if reduction == "none" else torch.tensor(d_loss))
    assert isinstance(loss, float) == (reduction != "none")
    check_layer_against_torch("BCEWithLogitsLoss", loss, t_loss, dict(logits=d_logits), dict(logits=t_logits.grad))


def test_backward_accumulates_like_torch():
    rng = np.random.default_rng(5)
    layer = Linear(6, 3, rng=rng)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    dy = rng.standard_normal((4, 3)).astype(np.float32)
    layer.forward(x)
    layer.backward(dy)
    once = layer.weight.grad.copy()
    layer.backward(dy)
    assert_close("twice accumulated", layer.weight.grad, 2 * once, rtol=1e-6)


def test_initialisation_follows_torch():
    """kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)) for weight and bias; v ~ U(0, 1)."""
    conv = Conv1d(4, 300, 12, rng=0)
    lin = Linear(288, 400, rng=0)
    att = AdditiveAttention(64, rng=0)
    for name, p, fan_in in [("conv.weight", conv.weight, 48), ("conv.bias", conv.bias, 48),
                            ("linear.weight", lin.weight, 288), ("linear.bias", lin.bias, 288),
                            ("attention.W", att.W, 128), ("attention.b", att.b, 128)]:
        bound = 1 / math.sqrt(fan_in)
        assert p.data.dtype == np.float32
        assert np.abs(p.data).max() <= bound, name
        assert np.abs(p.data).max() > 0.9 * bound, name  # spans the range, not a narrower one
        if p.data.size > 1000:  # uniform: the std is bound / sqrt(3)
            assert abs(p.data.std() - bound / math.sqrt(3)) < 0.05 * bound, name
    assert att.v.data.min() >= 0 and att.v.data.max() < 1 and att.v.data.max() > 0.8
    np.testing.assert_array_equal(Conv1d(4, 8, 3, rng=7).weight.data, Conv1d(4, 8, 3, rng=7).weight.data)
    assert not np.array_equal(Conv1d(4, 8, 3, rng=7).weight.data, Conv1d(4, 8, 3, rng=8).weight.data)
    assert Conv1d(4, 8, 3, rng=0, dtype=np.float64).weight.data.dtype == np.float64


def test_flat_buffers_and_adam_fallback():
    """Packed parameters are views of one buffer; Adam over it = Adam per parameter = torch."""
    rng = np.random.default_rng(6)
    a = {"w": Parameter(rng.standard_normal((3, 4)).astype(np.float32)),
         "b": Parameter(rng.standard_normal(3).astype(np.float32))}
    b = {k: Parameter(p.data.copy()) for k, p in a.items()}  # not packed: per-parameter path
    flat, flat_grad = pack_parameters(a, np.float32)
    assert flat.size == 15 and np.shares_memory(a["w"].data, flat) and np.shares_memory(a["b"].grad, flat_grad)
    ta = {k: torch.nn.Parameter(T(p.data.copy())) for k, p in b.items()}
    opt_a, opt_b = Adam(a, lr=1e-2), Adam(list(b.values()), lr=1e-2)
    opt_t = torch.optim.Adam(ta.values(), lr=1e-2)
    assert len(opt_a._segments) == 1 and len(opt_b._segments) == 2
    for _ in range(20):
        for k in a:
            g = rng.standard_normal(a[k].data.shape).astype(np.float32)
            a[k].grad[...], b[k].grad[...] = g, g
            ta[k].grad = T(g.copy())
        opt_a.step(), opt_b.step(), opt_t.step()
    for k in a:
        np.testing.assert_array_equal(a[k].data, b[k].data)
        assert_close(f"Adam {k} vs torch", a[k].data, ta[k].detach(), rtol=1e-6)
    opt_a.zero_grad()
    assert not flat_grad.any()


def test_conv1d_layer_on_base_codes_matches_its_dense_path():
    rng = np.random.default_rng(7)
    codes = rng.integers(-1, 4, size=(5, 40)).astype(np.int8)
    x = np.zeros((5, 4, 40), np.float32)
    b, i = np.nonzero(codes >= 0)
    x[b, codes[b, i], i] = 1
    a, d = Conv1d(4, 6, 5, stride=2, padding=3, dilation=2, rng=0), Conv1d(4, 6, 5, stride=2, padding=3, dilation=2, rng=0)
    y_codes, y_dense = a.forward(codes), d.forward(x)
    assert_close("y codes vs dense", y_codes, y_dense, rtol=1e-5)
    dy = rng.standard_normal(y_codes.shape).astype(np.float32)
    assert a.backward(dy, need_input_grad=False) is None
    d.backward(dy, need_input_grad=False)
    assert_close("dw codes vs dense", a.weight.grad, d.weight.grad, rtol=1e-5)
    assert_close("db codes vs dense", a.bias.grad, d.bias.grad, rtol=1e-5)
    with pytest.raises(ValueError, match="one-hot floats"):
        a.backward(dy)  # an input gradient of base codes does not exist


def test_strand_conv_and_global_max_layers_match_torch():
    rng = np.random.default_rng(8)
    conv, pool = StrandConv1d(5, 7, rng=rng), GlobalMaxPool(groups=2)
    x = rng.standard_normal((3, 4, 30)).astype(np.float32)
    lengths = np.array([30, 12, 25])
    y = pool.forward(conv.forward(x), lengths - 6)
    dm = rng.standard_normal(y.shape).astype(np.float32)
    dx = conv.backward(pool.backward(dm))
    ref = StrandConv(5, 7)
    with torch.no_grad():
        ref.weight.copy_(T(conv.weight.data)), ref.bias.copy_(T(conv.bias.data))
    tx = _leaf(x)
    ty = ref(tx)
    masked = ty.masked_fill((torch.arange(24)[None, :] >= T(lengths - 6)[:, None])[:, None, :], float("-inf"))
    tm = masked.view(3, 2, 5, 24).permute(0, 2, 1, 3).reshape(3, 5, 48).max(dim=2).values
    tm.backward(T(dm))
    check_layer_against_torch("StrandConv1d + GlobalMaxPool", y, tm,
                              dict(x=dx, weight=conv.weight.grad, bias=conv.bias.grad),
                              dict(x=tx.grad, weight=ref.weight, bias=ref.bias))
    # a second backward through the layer's own (re-zeroed) buffer gives the same input gradient
    first = pool.backward(dm).copy()
    x2 = rng.standard_normal(x.shape).astype(np.float32)  # maxima elsewhere: the old entries must go
    pool.forward(conv.forward(x2), lengths - 6)
    second = pool.backward(dm)
    assert np.count_nonzero(second) == dm.size and not np.array_equal(second, first)
    pool.forward(conv.forward(x), lengths - 6)
    np.testing.assert_array_equal(pool.backward(dm), first)  # re-zeroed, not accumulated


def test_layers_reuse_their_buffers_and_add_into_a_given_dx():
    rng = np.random.default_rng(9)
    layer = Linear(6, 3, rng=rng)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    y1 = layer.forward(x)
    y2 = layer.forward(x)
    assert y1 is y2  # no allocation in a training step
    dy = rng.standard_normal((4, 3)).astype(np.float32)
    own = layer.backward(dy).copy()
    given = np.full((4, 6), 2.0, np.float32)
    assert layer.backward(dy, dx=given) is given
    assert_close("dx added into the caller's buffer", given, own + 2.0, rtol=1e-6)


@pytest.mark.parametrize("pos_weight, message", [
    (np.ones(3), "pos_weight has 3 values but the logits' last dimension is 32"),
    (np.ones((2, 2)), "1-D array"),
    (-1.0, "positive"),
    (np.nan, "positive and finite"),
    ("2", "number"),
    (True, "bool"),
])
def test_bce_layer_validates_pos_weight(pos_weight, message):
    # the hole: 3 pos_weight values on 32 logits used to read past the array
    logits, targets = np.zeros(32, np.float32), np.ones(32, np.float32)
    with pytest.raises((TypeError, ValueError), match=message):
        BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none").forward(logits, targets)


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduction"):
        BCEWithLogitsLoss(reduction="avg")
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        Conv1d(4, 8, 0)
    with pytest.raises(TypeError, match="out_channels must be an int"):
        Conv1d(4, 8.0, 3)
    with pytest.raises(ValueError, match="padding must be in"):
        MaxPool1d(3, padding=2)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        Linear(3, 2, dtype=np.int32)
    with pytest.raises(TypeError, match="params"):
        Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="betas"):
        Adam([Parameter(np.zeros(3, np.float32))], betas=(0.9, 1.0))
