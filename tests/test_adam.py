"""kernels/adam.py against torch.optim.Adam (float32) and its float64 reference loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checks import assert_close
from motifnet.kernels.adam import adam_step, adam_step_into, adam_step_reference
from strategies import rng_from

SETTINGS = [
    # (lr, betas, eps, weight_decay); beta1 < 0.5 exercises the other branch of aten's lerp
    (1e-3, (0.9, 0.999), 1e-8, 0.0),
    (1e-3, (0.9, 0.999), 1e-8, 1e-2),
    (1e-2, (0.8, 0.99), 1e-6, 0.1),
    (3e-4, (0.3, 0.9), 1e-8, 0.0),
]


def run_torch(param, grads, lr, betas, eps, weight_decay):
    p = torch.from_numpy(param.copy()).requires_grad_()
    opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=False)
    for g in grads:
        p.grad = torch.from_numpy(g.copy())
        opt.step()
    state = opt.state[p]
    return p.detach().numpy(), state["exp_avg"].numpy(), state["exp_avg_sq"].numpy()


@pytest.mark.parametrize("lr, betas, eps, weight_decay", SETTINGS)
def test_matches_torch_float32_200_steps(lr, betas, eps, weight_decay):
    rng = rng_from(11)
    param = rng.standard_normal((37, 29)).astype(np.float32)
    # gradients of a few scales so some moments are tiny and eps matters
    grads = [(rng.standard_normal(param.shape) * 10.0 ** rng.integers(-4, 2)).astype(np.float32) for _ in range(200)]
    t_param, t_exp_avg, t_exp_avg_sq = run_torch(param, grads, lr, betas, eps, weight_decay)

    exp_avg, exp_avg_sq = np.zeros_like(param), np.zeros_like(param)
    for step, g in enumerate(grads, start=1):
        adam_step(param, g, exp_avg, exp_avg_sq, step, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    assert param.dtype == np.float32
    # torch's vectorised sqrt is not correctly rounded (differs from the IEEE
    # result in ~17% of elements here), so bitwise equality is out of reach;
    # measured differences are <= 1.2e-7 of max|param| after 200 steps.
    assert_close("param", param, t_param, rtol=1e-6)
    assert_close("exp_avg", exp_avg, t_exp_avg, rtol=1e-6)
    assert_close("exp_avg_sq", exp_avg_sq, t_exp_avg_sq, rtol=1e-6)


@pytest.mark.parametrize("lr, betas, eps, weight_decay", SETTINGS)
def test_matches_naive_float64(lr, betas, eps, weight_decay):
    rng = rng_from(12)
    param = rng.standard_normal((5, 12))
    ref_param, ref_m, ref_v = param.copy(), np.zeros_like(param), np.zeros_like(param)
    m, v = np.zeros_like(param), np.zeros_like(param)
    for step in range(1, 201):
        g = rng.standard_normal(param.shape)
        adam_step(param, g, m, v, step, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        adam_step_reference(ref_param, g, ref_m, ref_v, step, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    assert_close("param", param, ref_param, rtol=1e-13)
    assert_close("exp_avg", m, ref_m, rtol=1e-13)
    assert_close("exp_avg_sq", v, ref_v, rtol=1e-13)


def test_first_step_moves_every_parameter_by_lr():
    # step 1 with bias correction: m_hat = g, v_hat = g^2, so the update is lr * sign(g) (eps aside)
    param = np.zeros(6)
    grad = np.array([3.0, -2.0, 0.5, -1e-3, 7.0, -9.0])
    adam_step(param, grad, np.zeros(6), np.zeros(6), 1, lr=0.1, eps=0.0)
    assert_close("param", param, -0.1 * np.sign(grad), rtol=1e-14)


def test_unchecked_flat_buffer_matches_public():
    # the model's one flat buffer: the unchecked kernel on 1-D views == the wrapper on the 2-D array
    rng = rng_from(13)
    a = rng.standard_normal((8, 9)).astype(np.float32)
    b = a.copy()
    ma, va, mb, vb = (np.zeros_like(a) for _ in range(4))
    for step in range(1, 6):
        g = rng.standard_normal(a.shape).astype(np.float32)
        adam_step(a, g, ma, va, step, lr=1e-2, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.05)
        adam_step_into(b.reshape(-1), g.reshape(-1), mb.reshape(-1), vb.reshape(-1), step, 1e-2, 0.8, 0.99, 1e-7, 0.05)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    np.testing.assert_array_equal(va, vb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("eps", [1e-8, 0.0])
def test_moments_that_underflow_are_flushed_and_the_parameters_stay_torchs(dtype, eps):
    # (A2'), (A3'): a parameter whose gradient stops (a dead ReLU unit) has its exp_avg
    # decay by beta1 per step into the subnormals, where torch keeps it; the kernel
    # stores 0 instead (and exp_avg_sq too when eps > 0).  Betas of 0.6 get there within
    # 1,600 steps in float64 too (0.6^1460 < 4.9e-324); a factor above 0.5 keeps the
    # smallest subnormal where it is (below, it rounds to 0 by itself), as 0.9 and 0.999 do.
    rng = rng_from(14)
    betas, steps = (0.6, 0.6), 1600
    tiny = np.finfo(dtype).tiny
    param = rng.standard_normal((6, 7)).astype(dtype)
    start = param.copy()
    live = rng.standard_normal((steps,) + param.shape).astype(dtype)
    dead = np.s_[:, :3]  # columns whose gradient is 0 after step 5
    live[5:][(slice(None),) + dead] = 0
    grads = list(live)
    exp_avg, exp_avg_sq = np.zeros_like(param), np.zeros_like(param)
    ref_param, ref_m, ref_v = start.astype(np.float64), np.zeros(param.shape), np.zeros(param.shape)
    for step, g in enumerate(grads, start=1):
        adam_step(param, g, exp_avg, exp_avg_sq, step, lr=1e-2, betas=betas, eps=eps)
        if dtype == np.float64:
            adam_step_reference(ref_param, g, ref_m, ref_v, step, lr=1e-2, betas=betas, eps=eps)
    assert (exp_avg[dead] == 0).all()
    assert (exp_avg_sq[dead] == 0).all() if eps > 0 else (exp_avg_sq[dead] > 0).all()
    assert np.isfinite(param).all()
    for a in (exp_avg, exp_avg_sq) if eps > 0 else (exp_avg,):  # every flushed moment is 0 or normal
        assert not ((a != 0) & (np.abs(a) < tiny)).any()
    if dtype == np.float32:  # torch's float32 Adam keeps the subnormals: the parameters agree all the same
        t_param, t_m, t_v = run_torch(start, grads, 1e-2, betas, eps, 0.0)
        assert (t_m[dead] != 0).all() and (np.abs(t_m[dead]) < tiny).all()  # what the flush avoids
        assert_close("param", param, t_param, rtol=1e-6)
        assert_close("exp_avg", exp_avg, t_m, rtol=1e-6)
        assert_close("exp_avg_sq", exp_avg_sq, t_v, rtol=1e-6)
    else:  # the float64 reference flushes as the kernel does
        assert (ref_m[dead] == 0).all()
        assert_close("param", param, ref_param, rtol=1e-13)
        assert_close("exp_avg", exp_avg, ref_m, rtol=1e-13)
        assert_close("exp_avg_sq", exp_avg_sq, ref_v, rtol=1e-13)


def test_bad_arguments_name_the_argument():
    p = np.zeros((3, 4), np.float32)
    z = np.zeros_like(p)
    with pytest.raises(TypeError, match="grad has dtype float64"):
        adam_step(p, np.zeros((3, 4)), z, z.copy(), 1)
    with pytest.raises(ValueError, match="exp_avg must have the shape of param"):
        adam_step(p, z, np.zeros(12, np.float32), z.copy(), 1)
    with pytest.raises(TypeError, match="param must be float32 or float64"):
        adam_step(p.astype(np.int32), z, z, z, 1)
    with pytest.raises(ValueError, match="exp_avg_sq must be C-contiguous"):
        adam_step(p, z, z.copy(), np.asfortranarray(z), 1)
    with pytest.raises(ValueError, match="step must be >= 1"):
        adam_step(p, z, z.copy(), z.copy(), 0)
    with pytest.raises(TypeError, match="step must be an int"):
        adam_step(p, z, z.copy(), z.copy(), 1.0)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        adam_step(p, z, z.copy(), z.copy(), 1, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="betas must be a pair of floats"):
        adam_step(p, z, z.copy(), z.copy(), 1, betas=0.9)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        adam_step(p, z, z.copy(), z.copy(), 1, lr=-1e-3)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        adam_step(p, z, z.copy(), z.copy(), 1, weight_decay=float("nan"))
    with pytest.raises(TypeError, match="eps must be a float"):
        adam_step(p, z, z.copy(), z.copy(), 1, eps="1e-8")


def test_flat_state_is_one_buffer_or_none():
    # what the compiled step (motifnet/compiled_step.py) updates in its own call: the model's
    # flat buffers and this optimizer's moments; a subset of parameters has no single buffer
    from motifnet.models import GenomicsCNN
    from motifnet.optim import Adam

    model = GenomicsCNN(seq_len=50)
    opt = Adam(model.parameters())
    params, grads, exp_avg, exp_avg_sq = opt.flat_state()
    assert params is model.flat_params and grads is model.flat_grads
    assert exp_avg.shape == exp_avg_sq.shape == params.shape and not exp_avg.any()
    model.flat_grads[:] = 1.0
    opt.step()  # the moments flat_state gave are the ones step updates
    assert exp_avg.any() and exp_avg_sq.any()
    assert Adam([model.fc1.weight, model.fc2.weight]).flat_state() is None  # two separate buffers
    one = Adam([model.fc1.weight]).flat_state()[0]  # a single parameter: its own data
    assert one.size == model.fc1.weight.data.size and np.shares_memory(one, model.fc1.weight.data)
    before = opt.step_count
    opt.next_step_scalars()
    assert opt.step_count == before + 1
