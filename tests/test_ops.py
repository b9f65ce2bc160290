"""Every op of the registry: forward and every gradient against its reference loops
(float64), central finite differences (float64) and torch (float32), on the primer
model's shapes ("seed") and on hypothesis-drawn shapes.

One test per (op, kind of check); the helpers in checks.py name the tensor, the first
mismatching index, expected and actual values when a check fails.
"""

import pytest
from hypothesis import given, settings

from checks import check_op_against_reference, check_op_against_torch, check_op_finite_differences
from motifnet.kernels.registry import OPS
from strategies import op_configs, seeds

OP_IDS = [op.name for op in OPS]
# the forward-only ops (the scan) have no gradient to compare with finite differences
GRAD_OPS = [op for op in OPS if op.has_backward]
GRAD_IDS = [op.name for op in GRAD_OPS]


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_seed_shape_against_torch(op):
    check_op_against_torch(op, op.shapes["seed"], seed=0)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_seed_shape_against_reference(op):
    check_op_against_reference(op, op.shapes["seed"], seed=0)


@pytest.mark.parametrize("op", GRAD_OPS, ids=GRAD_IDS)
def test_seed_shape_finite_differences(op):
    check_op_finite_differences(op, op.shapes["seed"], seed=0)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_drawn_shapes_against_torch(op):
    @settings(max_examples=20)
    @given(op_configs(op), seeds)
    def check(config, seed):
        check_op_against_torch(op, config, seed)

    check()


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_drawn_shapes_against_reference(op):
    @settings(max_examples=15)
    @given(op_configs(op), seeds)
    def check(config, seed):
        check_op_against_reference(op, config, seed)

    check()


@pytest.mark.parametrize("op", GRAD_OPS, ids=GRAD_IDS)
def test_drawn_shapes_finite_differences(op):
    @settings(max_examples=10)
    @given(op_configs(op), seeds)
    def check(config, seed):
        check_op_finite_differences(op, config, seed)

    check()
