"""kernels/relu.py: what the registry's generic checks (tests/test_ops.py) do not cover."""

import numpy as np
import pytest
import torch

from checks import assert_close
from motifnet.kernels.relu import (relu_backward, relu_backward_into, relu_backward_reference, relu_forward,
                                   relu_forward_into, relu_forward_reference)


def test_nan_infinities_and_signed_zero_follow_torch():
    x = np.array([[np.nan, -1.0, 0.0, -0.0, 2.0, -np.inf, np.inf]], dtype=np.float32)
    dy = np.arange(1, 8, dtype=np.float32).reshape(1, 7)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = torch.relu(xt)
    yt.backward(torch.from_numpy(dy))
    y = relu_forward(x)
    np.testing.assert_array_equal(y, yt.detach().numpy())  # NaN stays NaN in both
    np.testing.assert_array_equal(relu_backward(dy, y), xt.grad.numpy())


def test_any_rank():
    rng = np.random.default_rng(1)
    for shape in [(), (5,), (2, 3), (2, 1, 3, 4)]:
        x = np.asarray(rng.standard_normal(shape))
        y = relu_forward(x)
        assert y.shape == shape and y.dtype == np.float64
        assert_close(f"y{shape}", y, np.where(x > 0, x, 0.0), rtol=0.0)


def test_fast_kernels_write_outputs_and_add_gradients():
    x = np.array([-1.0, 2.0, 0.0, 3.0], dtype=np.float32)
    y = np.full(4, 99.0, dtype=np.float32)  # overwritten, not added to
    relu_forward_into(x, y)
    np.testing.assert_array_equal(y, [0.0, 2.0, 0.0, 3.0])
    dx = np.full(4, 10.0, dtype=np.float32)  # added to
    relu_backward_into(np.ones(4, dtype=np.float32), y, dx)
    np.testing.assert_array_equal(dx, [10.0, 11.0, 10.0, 11.0])
    assert y.dtype == dx.dtype == np.float32


def test_bad_arguments_raise():
    x = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        relu_forward([1.0, 2.0])
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        relu_forward(np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        relu_forward(np.ones((3, 4), dtype=np.float32).T)
    with pytest.raises(TypeError, match="y has dtype float64"):
        relu_backward(x, x.astype(np.float64))
    with pytest.raises(ValueError, match="y must have the shape of dy"):
        relu_backward(x, np.ones((3, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="dy must be float32 or float64"):
        relu_backward(np.ones((2, 3), dtype=np.int32), x)


@pytest.mark.parametrize("n", [1, 16384, 16385, 40000])  # chunk edges
def test_parallel_loops_match_serial_and_add(n):
    from motifnet.kernels.relu import _backward, _forward

    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    x[::7] = 0.0
    x[::11] = np.nan
    dy = rng.standard_normal(n).astype(np.float32)
    y_s, y_p = np.empty_like(x), np.empty_like(x)
    _forward.serial(x, y_s)
    _forward.parallel(x, y_p)
    np.testing.assert_array_equal(y_p, y_s)
    np.testing.assert_array_equal(y_s, relu_forward_reference(x).astype(np.float32))
    dx_s, dx_p = np.ones_like(x), np.ones_like(x)
    _backward.serial(dy, y_s, dx_s)
    _backward.parallel(dy, y_s, dx_p)
    np.testing.assert_array_equal(dx_p, dx_s)
    np.testing.assert_array_equal(dx_s, (relu_backward_reference(dy, y_s) + 1).astype(np.float32))


def _edge_input(n):
    """(rng, x (2, n) float32 with zeros, NaNs and -0.0 among normal values)."""
    rng = np.random.default_rng(n)
    x = rng.standard_normal((2, n)).astype(np.float32)
    x[:, ::7] = 0.0
    x[:, ::11] = np.nan
    x[:, ::13] = -0.0
    return rng, x


@pytest.mark.parametrize("n", [1, 16385, 40000])
def test_in_place_forward_equals_the_two_array_forward(n):
    _, x = _edge_input(n)
    y = np.empty_like(x)
    relu_forward_into(x, y)
    inplace = x.copy()
    relu_forward_into(inplace, inplace)
    np.testing.assert_array_equal(inplace, y)
    np.testing.assert_array_equal(np.signbit(inplace), np.signbit(y))  # -0.0 -> +0.0 in both
    view = x.copy()
    relu_forward_into(view, view.reshape(-1))  # another view of the same memory
    np.testing.assert_array_equal(view, y)


@pytest.mark.parametrize("n", [1, 16385, 40000])
def test_in_place_backward_equals_adding_into_zeros(n):
    # (B1') over dy must be (B1) added into a zeroed dx, NaN and signed zeros included, in
    # both compilations; and the layer's in_place option returns dy itself
    from motifnet.kernels.relu import _backward_in_place, relu_backward_in_place_into
    from motifnet.layers import ReLU

    rng, x = _edge_input(n)
    y = np.empty_like(x)
    relu_forward_into(x, y)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    dy[:, ::5] = -0.0
    dx = np.zeros_like(x)
    relu_backward_into(dy, y, dx)
    np.testing.assert_array_equal(dx, relu_backward_reference(dy, y).astype(np.float32))
    for kernel in (_backward_in_place.serial, _backward_in_place.parallel):
        over = dy.copy()
        kernel(over.reshape(-1), y.reshape(-1))
        np.testing.assert_array_equal(over, dx)
    over = dy.copy()
    relu_backward_in_place_into(over, y)
    np.testing.assert_array_equal(over, dx)
    layer = ReLU()
    layer.forward(x)
    over = dy.copy()
    assert layer.backward(over, in_place=True) is over
    np.testing.assert_array_equal(over, dx)
    with pytest.raises(ValueError, match="in_place"):
        layer.backward(over, dx=np.zeros_like(over), in_place=True)
