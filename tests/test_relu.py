"""kernels/relu.py against the naive reference, finite differences and torch."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings

import naive
from checks import assert_close, assert_grad_fd
from motifnet.kernels.relu import _relu_backward, _relu_forward, relu_backward, relu_forward
from strategies import linear_configs, rng_from, seeds

# relu only needs a shape: (..., n_in) from the linear strategy gives ranks 2 to 4
def _shape(config):
    return config["lead"] + (config["n_in"],)


def _away_from_kink(rng, shape):
    # the derivative does not exist at 0: keep every value at least 1e-2 from it
    x = rng.standard_normal(shape)
    return x + np.where(x >= 0, 1e-2, -1e-2)


@given(linear_configs(), seeds)
def test_matches_naive_float64(config, seed):
    rng = rng_from(seed)
    x = rng.standard_normal(_shape(config))
    dy = rng.standard_normal(x.shape)
    y = relu_forward(x)
    assert y.dtype == np.float64 and y.shape == x.shape
    assert_close("y", y, naive.relu_forward(x), rtol=0.0)
    assert_close("dx", relu_backward(dy, y), naive.relu_backward(dy, y), rtol=0.0)


@settings(max_examples=10)
@given(linear_configs(), seeds)
def test_gradient_matches_finite_differences(config, seed):
    rng = rng_from(seed)
    x = _away_from_kink(rng, _shape(config))
    g = rng.standard_normal(x.shape)
    analytic = relu_backward(g, relu_forward(x))
    assert_grad_fd("x", analytic, lambda: float(np.sum(g * relu_forward(x))), x)


def _torch_relu(x, dy):
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = torch.relu(xt)
    yt.backward(torch.from_numpy(dy))
    return yt, xt.grad


def _check_against_torch(x, dy):
    y = relu_forward(x)
    dx = relu_backward(dy, y)
    yt, dxt = _torch_relu(x, dy)
    # relu copies or zeroes values: the results must be identical, hence rtol 0
    assert_close("y", y, yt, rtol=0.0)
    assert_close("dx", dx, dxt, rtol=0.0)


@pytest.mark.parametrize("shape", [(32, 32, 39), (32, 16)])  # the primer model's activations
def test_torch_parity_float32_seed_shapes(shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    x.reshape(-1)[:5] = 0.0  # exactly 0: the gradient there is 0, as torch's
    _check_against_torch(x, rng.standard_normal(shape).astype(np.float32))


@settings(max_examples=15)
@given(linear_configs(), seeds)
def test_torch_parity_float32(config, seed):
    rng = rng_from(seed)
    shape = _shape(config)
    _check_against_torch(rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32))


def test_nan_and_signed_zero_follow_torch():
    x = np.array([[np.nan, -1.0, 0.0, -0.0, 2.0, -np.inf, np.inf]], dtype=np.float32)
    dy = np.arange(1, 8, dtype=np.float32).reshape(1, 7)
    y = relu_forward(x)
    yt, dxt = _torch_relu(x, dy)
    np.testing.assert_array_equal(y, yt.detach().numpy())  # NaN stays NaN in both
    np.testing.assert_array_equal(relu_backward(dy, y), dxt.numpy())


def test_any_rank_and_unchecked_entry_points():
    rng = np.random.default_rng(1)
    for shape in [(), (5,), (2, 3), (2, 1, 3, 4)]:
        x = np.asarray(rng.standard_normal(shape))
        y = relu_forward(x)
        assert y.shape == shape
        assert_close(f"y{shape}", y, np.maximum(x, 0.0), rtol=0.0)
    x = rng.standard_normal(7).astype(np.float32)
    y = _relu_forward(x)
    assert y.dtype == np.float32
    assert_close("unchecked dx", _relu_backward(np.ones_like(x), y), (x > 0).astype(np.float32), rtol=0.0)


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
