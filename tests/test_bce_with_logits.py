"""kernels/bce_with_logits.py: what the registry's generic checks (tests/test_ops.py) do not
cover: extreme logits, the += contract, argument checks."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from checks import assert_close
from motifnet.kernels.bce_with_logits import (
    REDUCTION_MEAN,
    REDUCTION_NONE,
    bce_with_logits_backward,
    bce_with_logits_backward_into,
    bce_with_logits_backward_reference,
    bce_with_logits_forward,
    bce_with_logits_forward_into,
    bce_with_logits_forward_reference,
)

REDUCTIONS = ("mean", "sum", "none")


def _check_against_torch(logits, targets, pw, reduction, d_loss, rtol=1e-5):
    loss = bce_with_logits_forward(logits, targets, pw, reduction)
    d_logits = bce_with_logits_backward(logits, targets, pw, reduction, d_loss)
    xt = torch.from_numpy(logits.copy()).requires_grad_(True)
    lt = F.binary_cross_entropy_with_logits(xt, torch.from_numpy(targets), reduction=reduction,
                                            pos_weight=None if pw is None else torch.from_numpy(pw))
    lt.backward(torch.from_numpy(np.asarray(d_loss, dtype=logits.dtype)) if reduction == "none" else None)
    assert_close("loss", loss, lt, rtol=rtol)
    assert_close("d_logits", d_logits, xt.grad * (1.0 if reduction == "none" else float(d_loss)), rtol=rtol)


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


def test_fast_kernels_write_the_loss_and_add_gradients():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal(6)
    targets = (rng.random(6) < 0.5).astype(np.float64)
    ones = np.ones(1)
    loss = np.empty(())
    bce_with_logits_forward_into(logits, targets, ones, REDUCTION_MEAN, loss)
    assert float(loss) == pytest.approx(bce_with_logits_forward_reference(logits, targets), rel=1e-14)
    per_element = np.empty(6)
    bce_with_logits_forward_into(logits, targets, ones, REDUCTION_NONE, per_element)
    assert_close("loss (none)", per_element, bce_with_logits_forward_reference(logits, targets, reduction="none"),
                 rtol=1e-14)
    d = np.ones(6)
    bce_with_logits_backward_into(logits, targets, ones, REDUCTION_MEAN, np.array([2.0]), d)
    assert_close("d_logits", d, 1 + bce_with_logits_backward_reference(logits, targets, d_loss=2.0), rtol=1e-14)


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
