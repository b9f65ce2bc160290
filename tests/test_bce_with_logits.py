"""kernels/bce_with_logits.py against the naive reference, finite differences and torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from checks import assert_close, assert_grad_fd
from motifnet.kernels.bce_with_logits import (
    REDUCTION_MEAN,
    REDUCTION_NONE,
    _bce_with_logits_backward,
    _bce_with_logits_forward,
    bce_with_logits_backward,
    bce_with_logits_forward,
)
from strategies import linear_configs, rng_from, seeds

REDUCTIONS = ("mean", "sum", "none")
reductions = st.sampled_from(REDUCTIONS)
pos_weight_kinds = st.sampled_from(("none", "scalar", "per_column"))


def _inputs(c, rng, pos_weight_kind, dtype=np.float64, soft=False):
    # logits of shape (..., C): the linear strategy's leading shape and n_out columns
    shape = c["lead"] + (c["n_out"],)
    logits = (3.0 * rng.standard_normal(shape)).astype(dtype)
    targets = (rng.random(shape) if soft else (rng.random(shape) < 0.5)).astype(dtype)
    pos_weight = {
        "none": None,
        "scalar": rng.uniform(0.2, 5.0, size=1).astype(dtype),
        "per_column": rng.uniform(0.2, 5.0, size=shape[-1]).astype(dtype),
    }[pos_weight_kind]
    return logits, targets, pos_weight


def _d_loss(rng, reduction, logits):
    if reduction == "none":
        return rng.standard_normal(logits.shape).astype(logits.dtype)
    return float(rng.uniform(0.5, 2.0))


@given(linear_configs(), seeds, reductions, pos_weight_kinds, st.booleans())
def test_matches_naive_float64(c, seed, reduction, pw_kind, soft):
    rng = rng_from(seed)
    logits, targets, pw = _inputs(c, rng, pw_kind, soft=soft)
    d_loss = _d_loss(rng, reduction, logits)
    loss = bce_with_logits_forward(logits, targets, pw, reduction)
    assert isinstance(loss, float) if reduction != "none" else loss.shape == logits.shape
    # a reduced loss sums up to 8**3 * 64 = 32768 terms in another order than NumPy's
    # pairwise sum (sequentially when the JIT is off): 1e-12 of the total
    assert_close("loss", loss, naive.bce_with_logits_forward(logits, targets, pw, reduction), rtol=1e-12)
    assert_close("d_logits", bce_with_logits_backward(logits, targets, pw, reduction, d_loss),
                 naive.bce_with_logits_backward(logits, targets, pw, reduction, d_loss), rtol=1e-14)


@settings(max_examples=15)
@given(linear_configs(), seeds, reductions, pos_weight_kinds, st.booleans())
def test_gradient_matches_finite_differences(c, seed, reduction, pw_kind, soft):
    rng = rng_from(seed)
    logits, targets, pw = _inputs(c, rng, pw_kind, soft=soft)
    d_loss = _d_loss(rng, reduction, logits)
    analytic = bce_with_logits_backward(logits, targets, pw, reduction, d_loss)

    def loss():
        return float(np.sum(d_loss * bce_with_logits_forward(logits, targets, pw, reduction)))

    # A mean over n elements is O(1) while each of its gradients is O(1/n): at the default
    # eps=1e-6 the rounding of the loss (~1e-16 * |loss| * n_terms / eps) reached 1.1e-6 of
    # the largest gradient at n=3040.  The loss is smooth (softplus), so eps=1e-4 keeps the
    # truncation error (~eps**2 * |third derivative| / 6, < 1e-9 relative) far below tolerance.
    assert_grad_fd("logits", analytic, loss, logits, eps=1e-4)


def _check_against_torch(logits, targets, pw, reduction, d_loss, rtol=1e-5):
    loss = bce_with_logits_forward(logits, targets, pw, reduction)
    d_logits = bce_with_logits_backward(logits, targets, pw, reduction, d_loss)
    xt = torch.from_numpy(logits.copy()).requires_grad_(True)
    lt = F.binary_cross_entropy_with_logits(xt, torch.from_numpy(targets), reduction=reduction,
                                            pos_weight=None if pw is None else torch.from_numpy(pw))
    lt.backward(torch.as_tensor(d_loss, dtype=xt.dtype).expand_as(lt) if reduction != "none" else torch.from_numpy(d_loss))
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(d_logits))
    assert_close("loss", loss, lt, rtol=rtol)
    assert_close("d_logits", d_logits, xt.grad, rtol=rtol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pw_kind", ["none", "scalar"])
def test_torch_parity_float32_seed_shape(reduction, pw_kind):
    # the primer model: 32 logits (batch 32, one output), targets 0/1
    rng = np.random.default_rng(0)
    c = dict(lead=(32,), n_out=1)
    logits, targets, pw = _inputs(c, rng, pw_kind, np.float32)
    logits, targets = logits.reshape(32), targets.reshape(32)
    _check_against_torch(logits, targets, pw, reduction, _d_loss(rng, reduction, logits))


@settings(max_examples=20)
@given(linear_configs(), seeds, reductions, pos_weight_kinds, st.booleans())
def test_torch_parity_float32(c, seed, reduction, pw_kind, soft):
    rng = rng_from(seed)
    logits, targets, pw = _inputs(c, rng, pw_kind, np.float32, soft=soft)
    _check_against_torch(logits, targets, pw, reduction, _d_loss(rng, reduction, logits))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", [None, np.array([3.0], np.float32)])
def test_extreme_logits_are_finite_and_match_torch_float32(reduction, pos_weight):
    # every exp() sees a non-positive argument: no overflow at +-1e4 (exp(1e4) = inf in
    # float32 and float64), and the losses of confidently wrong logits are exactly 1e4-ish
    logits = np.array([1e4, -1e4, 1e4, -1e4, 88.0, -88.0, 0.0, 30.0, -30.0], np.float32)
    targets = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.5, 0.3, 0.7], np.float32)
    d_loss = np.ones_like(logits) if reduction == "none" else 1.0
    _check_against_torch(logits, targets, pos_weight, reduction, d_loss)
    loss = bce_with_logits_forward(logits, targets, pos_weight, "none")
    assert loss[0] == 0.0 and loss[3] == 0.0  # confidently right: no loss
    assert loss[1] == pytest.approx(1e4 * (1.0 if pos_weight is None else 3.0))


def test_unchecked_entry_points_return_arrays():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal(6)
    targets = (rng.random(6) < 0.5).astype(np.float64)
    ones = np.ones(1)
    loss = _bce_with_logits_forward(logits, targets, ones, REDUCTION_MEAN)
    assert loss.shape == (1,)
    assert loss[0] == pytest.approx(naive.bce_with_logits_forward(logits, targets), rel=1e-14)
    per_element = _bce_with_logits_forward(logits, targets, ones, REDUCTION_NONE)
    assert per_element.shape == (6,)
    d = _bce_with_logits_backward(logits, targets, ones, REDUCTION_MEAN, np.array([2.0]))
    assert_close("d_logits", d, naive.bce_with_logits_backward(logits, targets, d_loss=2.0), rtol=1e-14)


def test_bad_arguments_raise():
    logits = np.zeros((4, 3), np.float32)
    targets = np.zeros((4, 3), np.float32)
    with pytest.raises(TypeError, match="logits must be float32 or float64"):
        bce_with_logits_forward(logits.astype(np.int64), targets)
    with pytest.raises(TypeError, match="targets has dtype float64"):
        bce_with_logits_forward(logits, targets.astype(np.float64))
    with pytest.raises(ValueError, match="targets must have the logits' shape"):
        bce_with_logits_forward(logits, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="reduction must be one of"):
        bce_with_logits_forward(logits, targets, reduction="average")
    with pytest.raises(ValueError, match=r"pos_weight must have shape \(1,\) or \(3,\)"):
        bce_with_logits_forward(logits, targets, pos_weight=np.ones(4, np.float32))
    with pytest.raises(ValueError, match="pos_weight must have 1 dimensions"):
        bce_with_logits_forward(logits, targets, pos_weight=np.ones((1, 3), np.float32))
    with pytest.raises(TypeError, match="pos_weight has dtype"):
        bce_with_logits_forward(logits, targets, pos_weight=np.ones(3))
    with pytest.raises(TypeError, match="d_loss must be a real number"):
        bce_with_logits_backward(logits, targets, d_loss="1")
    with pytest.raises(TypeError, match="d_loss must be a numpy.ndarray"):
        bce_with_logits_backward(logits, targets, reduction="none", d_loss=1.0)
    with pytest.raises(ValueError, match="d_loss must have the logits' shape"):
        bce_with_logits_backward(logits, targets, reduction="none", d_loss=np.ones(3, np.float32))
