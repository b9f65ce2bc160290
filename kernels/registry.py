"""The registry of ops: everything the checks, the CLI and the benchmarks know about an op.

One ``Op`` per op, in ``OPS``.  The tests (``tests/test_ops.py``: the forward and
every gradient against the reference loops, central finite differences and
torch), ``motifnet gradcheck``, ``motifnet explain`` and the benchmarks all
iterate this list, so adding an op touches its kernel file, this registry and
its layer.

An entry holds

* ``draw_config(draw)``: the op's valid shapes and settings, written once:
  ``draw(lo, hi)`` returns an int in [lo, hi].  The tests pass hypothesis'
  ``st.integers``, gradcheck and explain a seeded NumPy generator;
* ``shapes``: named configurations: ``"seed"`` (the primer model's shapes),
  ``"explain"`` (a few numbers, for ``motifnet explain``), ``"tiny"`` (quick
  benchmarks), ``"large"`` (batch 256, length 1000);
* ``make_inputs(config, rng, dtype, smooth)``: seeded inputs; ``smooth=True``
  keeps them away from the points where the op is not differentiable (ReLU's
  kink, max-pool ties), for finite differences;
* ``allocate`` / ``forward_into`` / ``backward_into``: the fast kernels under the
  one contract (outputs written into buffers the caller owns, gradients ADDED
  into zeroed buffers named ``"d_" + input``);
* ``reference(config, inputs, d_outputs)``: the reference loops of the op's file,
  float64, returning the outputs and the gradients;
* ``torch_forward(config, tensors)``: the same op in torch (imported lazily:
  torch is a test and benchmark dependency, never a runtime one);
* ``derivation``: where in which file the gradients are derived.

Nothing here imports torch or hypothesis at module level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from motifnet.kernels import (attention, bce_with_logits, conv1d, conv1d_onehot, conv1d_onehot_globalmax,
                              conv1d_onehot_maxpool, global_max, linear, maxpool1d, relu, revcomp, scan)


@dataclass(frozen=True)
class Op:
    name: str
    module: str                   # the op's file, e.g. "kernels/relu.py"
    summary: str
    torch_equivalent: str
    derivation: str               # where the backward is derived, e.g. "kernels/relu.py, (B1)"
    draw_config: Callable[[Callable[[int, int], int]], dict]
    shapes: dict[str, dict]
    make_inputs: Callable[..., dict[str, np.ndarray]]
    grad_inputs: Callable[[dict], tuple[str, ...]]   # inputs that get a gradient
    outputs: tuple[str, ...]      # differentiable outputs
    allocate: Callable[[dict, dict], dict[str, np.ndarray]]
    forward_into: Callable[[dict, dict, dict], None]
    backward_into: Callable[[dict, dict, dict, dict], None]
    reference: Callable[[dict, dict, dict], dict[str, np.ndarray]]
    torch_forward: Callable[[dict, dict], dict]
    describe: Callable[[dict], str]            # a short text of a config's shapes
    # float32 tolerances against torch (max-norm relative error, see tests/checks.py)
    rtol_forward: float = 1e-5
    rtol_grads: float | dict = 1e-5   # one for all gradients, or {"d_x": ..., ...}
    # finite differences (float64): step and max-norm relative tolerance
    fd_eps: float = 1e-6
    fd_rtol: float = 1e-6
    # non-differentiable outputs that must equal the reference's exactly (max-pool's argmax)
    exact_outputs: tuple[str, ...] = ()
    # outputs compared like ``outputs`` but not differentiated (attention's weights)
    extra_outputs: tuple[str, ...] = ()
    # False for a forward-only op (the scan): no gradient, so no finite-difference check
    has_backward: bool = True

    def grad_rtol(self, name: str) -> float:
        """The float32 tolerance against torch of gradient ``name`` ("d_x", ...)."""
        return self.rtol_grads[name] if isinstance(self.rtol_grads, dict) else self.rtol_grads


def distinct_values(rng: np.random.Generator, shape) -> np.ndarray:
    """Values in [-1, 1), all distinct and 2 / size apart, in random order (no ties for a max)."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * (2.0 / size) - 1.0).reshape(shape)


# ------------------------------------------------------------------------------ running
def run_fast(op: Op, config: dict, inputs: dict, d_outputs: dict | None = None) -> dict:
    """The op's fast kernels on fresh buffers: its outputs, and with ``d_outputs`` its gradients."""
    bufs = op.allocate(config, inputs)
    op.forward_into(config, inputs, bufs)
    if d_outputs is not None:
        op.backward_into(config, inputs, bufs, d_outputs)
    return bufs


def random_d_outputs(op: Op, config: dict, outputs: dict, rng: np.random.Generator) -> dict:
    """A seeded dL/d(output) for every differentiable output (the loss is sum(g * output))."""
    return {name: np.asarray(rng.standard_normal(np.shape(outputs[name])), dtype=outputs[name].dtype)
            for name in op.outputs}


def projected_loss(op: Op, config: dict, inputs: dict, d_outputs: dict) -> float:
    """sum over outputs of sum(g * output), in float64: the scalar the gradients are of."""
    out = run_fast(op, config, inputs)
    return float(sum(np.sum(np.asarray(d_outputs[n], np.float64) * out[n]) for n in op.outputs))


def run_torch(op: Op, config: dict, inputs: dict, d_outputs: dict) -> dict:
    """The op in torch, on copies of ``inputs``: outputs and gradients as float64 NumPy arrays."""
    import torch

    tensors = {}
    wanted = op.grad_inputs(config)
    for name, value in inputs.items():
        t = torch.from_numpy(np.array(value, copy=True))
        if name in wanted:
            t.requires_grad_(True)
        tensors[name] = t
    out = op.torch_forward(config, tensors)
    result = {name: out[name].detach().numpy().astype(np.float64) for name in out}
    if wanted:
        total = sum((out[n] * torch.from_numpy(np.array(d_outputs[n], copy=True))).sum() for n in op.outputs)
        grads = torch.autograd.grad(total, [tensors[n] for n in wanted])
        for name, g in zip(wanted, grads):
            result["d_" + name] = g.numpy().astype(np.float64)
    return result


def sample_config(op: Op, rng: np.random.Generator) -> dict:
    """A random valid configuration of ``op`` (the same ranges hypothesis draws from)."""
    return op.draw_config(lambda lo, hi: int(rng.integers(lo, hi + 1)))


# ------------------------------------------------------------------------------ relu
def _relu_draw(draw):
    rank = draw(1, 4)
    return {"shape": tuple(draw(1, 8) for _ in range(rank - 1)) + (draw(1, 64),)}


def _relu_inputs(config, rng, dtype=np.float64, smooth=False):
    x = rng.standard_normal(config["shape"])
    if smooth:  # the derivative does not exist at 0: keep every value at least 1e-2 from it
        x += np.where(x >= 0, 1e-2, -1e-2)
    else:  # some exact zeros, where the gradient must be 0 as torch's
        x.reshape(-1)[::7] = 0.0
    return {"x": x.astype(dtype)}


def _relu_allocate(config, inputs):
    x = inputs["x"]
    return {"y": np.empty_like(x), "d_x": np.zeros_like(x)}


def _relu_reference(config, inputs, d_outputs):
    y = relu.relu_forward_reference(inputs["x"])
    return {"y": y, "d_x": relu.relu_backward_reference(d_outputs["y"], y)}


def _relu_torch(config, t):
    import torch

    return {"y": torch.relu(t["x"])}


RELU = Op(
    name="relu",
    module="kernels/relu.py",
    summary="ReLU: y = max(x, 0), NaN propagating",
    torch_equivalent="torch.relu",
    derivation="kernels/relu.py, 'Backward, derived': (B1) dx += dy * [y > 0]",
    draw_config=_relu_draw,
    shapes={
        "explain": {"shape": (6,)},
        "tiny": {"shape": (2, 5)},
        "seed": {"shape": (32, 32, 39)},      # after the primer's convolution
        "large": {"shape": (256, 32, 989)},   # the same at batch 256, length 1000
    },
    make_inputs=_relu_inputs,
    grad_inputs=lambda config: ("x",),
    outputs=("y",),
    allocate=_relu_allocate,
    forward_into=lambda config, inputs, bufs: relu.relu_forward_into(inputs["x"], bufs["y"]),
    backward_into=lambda config, inputs, bufs, d: relu.relu_backward_into(d["y"], bufs["y"], bufs["d_x"]),
    reference=_relu_reference,
    torch_forward=_relu_torch,
    describe=lambda config: "x(" + ",".join(map(str, config["shape"])) + ")",
    rtol_forward=0.0,  # relu copies or zeroes values: results are identical to torch's
    rtol_grads=0.0,
)


# ------------------------------------------------------------------------------ conv1d
def _conv_draw(draw):
    K, stride, dilation, padding = draw(1, 12), draw(1, 4), draw(1, 3), draw(0, 6)
    span = dilation * (K - 1) + 1
    return {"B": draw(1, 8), "C_in": draw(1, 8), "C_out": draw(1, 8), "K": K, "stride": stride,
            "padding": padding, "dilation": dilation, "L": draw(max(1, span - 2 * padding), 64),
            "need_dx": bool(draw(0, 1))}


def _conv_geometry(c):
    return c.get("stride", 1), c.get("padding", 0), c.get("dilation", 1)


def _one_hot(rng, B, L, dtype, n_fraction=0.02):
    """One-hot DNA (B, 4, L), a fraction of all-zero (N) columns."""
    bases = rng.integers(0, 4, size=(B, L))
    x = np.zeros((B, 4, L), dtype=dtype)
    b, i = np.nonzero(rng.random((B, L)) >= n_fraction)
    x[b, bases[b, i], i] = 1
    return x


def _conv_inputs(c, rng, dtype=np.float64, smooth=False):
    if c.get("onehot"):
        x = _one_hot(rng, c["B"], c["L"], dtype)
    else:
        x = rng.standard_normal((c["B"], c["C_in"], c["L"])).astype(dtype)
    w = rng.standard_normal((c["C_out"], c["C_in"], c["K"])) / np.sqrt(c["C_in"] * c["K"])
    return {"x": x, "w": w.astype(dtype), "bias": rng.standard_normal(c["C_out"]).astype(dtype)}


def _conv_allocate(c, inputs):
    x, w = inputs["x"], inputs["w"]
    L_out = conv1d.conv1d_output_length(c["L"], c["K"], *_conv_geometry(c))
    return {"y": np.empty((c["B"], c["C_out"], L_out), dtype=x.dtype),
            "d_x": np.zeros_like(x), "d_w": np.zeros_like(w), "d_bias": np.zeros_like(inputs["bias"])}


def _conv_backward_into(c, inputs, bufs, d):
    dx = bufs["d_x"] if c.get("need_dx", True) else None
    conv1d.conv1d_backward_into(d["y"], inputs["x"], inputs["w"], dx, bufs["d_w"], bufs["d_bias"],
                                *_conv_geometry(c))


def _conv_reference(c, inputs, d):
    geometry = _conv_geometry(c)
    y = conv1d.conv1d_forward_reference(inputs["x"], inputs["w"], inputs["bias"], *geometry)
    dx, dw, db = conv1d.conv1d_backward_reference(d["y"], inputs["x"], inputs["w"], *geometry)
    return {"y": y, "d_x": dx, "d_w": dw, "d_bias": db}


def _conv_torch(c, t):
    import torch.nn.functional as F

    stride, padding, dilation = _conv_geometry(c)
    return {"y": F.conv1d(t["x"], t["w"], t["bias"], stride=stride, padding=padding, dilation=dilation)}


def _conv_describe(c):
    s, p, d = _conv_geometry(c)
    text = f"x({c['B']},{c['C_in']},{c['L']}) w({c['C_out']},{c['C_in']},{c['K']})"
    text += "".join(f" {k}={v}" for k, v in (("s", s), ("p", p), ("d", d)) if v != (0 if k == "p" else 1))
    return text + ("" if c.get("need_dx", True) else " no dx")


_PRIMER_CONV = {"B": 32, "C_in": 4, "L": 50, "C_out": 32, "K": 12}
_LARGE_CONV = {"B": 256, "C_in": 4, "L": 1000, "C_out": 32, "K": 12}

CONV1D = Op(
    name="conv1d",
    module="kernels/conv1d.py",
    summary="1-D convolution (cross-correlation) with stride, zero padding and dilation",
    torch_equivalent="torch.nn.functional.conv1d",
    derivation="kernels/conv1d.py, 'Backward, derived': (B1) db, (B2) dw, (B3) dx",
    draw_config=_conv_draw,
    shapes={
        "explain": {"B": 1, "C_in": 1, "L": 5, "C_out": 1, "K": 3},
        "tiny": {"B": 2, "C_in": 2, "L": 6, "C_out": 2, "K": 3},
        "seed": _PRIMER_CONV | {"onehot": True},
        # a network's first layer: its input is data, no dx
        "seed_first_layer": _PRIMER_CONV | {"onehot": True, "need_dx": False},
        "large": _LARGE_CONV | {"onehot": True},
        "large_first_layer": _LARGE_CONV | {"onehot": True, "need_dx": False},
    },
    make_inputs=_conv_inputs,
    grad_inputs=lambda c: ("x", "w", "bias") if c.get("need_dx", True) else ("w", "bias"),
    outputs=("y",),
    allocate=_conv_allocate,
    forward_into=lambda c, inputs, bufs: conv1d.conv1d_forward_into(
        inputs["x"], inputs["w"], inputs["bias"], bufs["y"], *_conv_geometry(c)),
    backward_into=_conv_backward_into,
    reference=_conv_reference,
    torch_forward=_conv_torch,
    describe=_conv_describe,
    # float32 sums of up to C_in*K (forward) or B*L_out (dw, db) products in another order than
    # torch's; the observed error is ~1e-7 to 1e-6 of the largest value
    rtol_forward=1e-5,
    rtol_grads=1e-5,
)


# ------------------------------------------------------------------------------ conv1d_onehot
def _onehot_draw(draw):
    c = _conv_draw(draw)
    c["C_in"] = (4, draw(1, 12))[draw(0, 1)]  # DNA, or any small alphabet (table group sizes 3, 2, 1)
    del c["need_dx"]
    return c


def _codes(rng, B, L, C_in, n_fraction=0.1):
    codes = rng.integers(0, C_in, size=(B, L))
    codes[rng.random((B, L)) < n_fraction] = -1  # N: an all-zero column
    return codes.astype(np.int8)


def _onehot_inputs(c, rng, dtype=np.float64, smooth=False):
    w = rng.standard_normal((c["C_out"], c["C_in"], c["K"])) / np.sqrt(c["C_in"] * c["K"])
    return {"codes": _codes(rng, c["B"], c["L"], c["C_in"]), "w": w.astype(dtype),
            "bias": rng.standard_normal(c["C_out"]).astype(dtype)}


def _onehot_allocate(c, inputs):
    w = inputs["w"]
    L_out = conv1d.conv1d_output_length(c["L"], c["K"], *_conv_geometry(c))
    return {"y": np.empty((c["B"], c["C_out"], L_out), dtype=w.dtype),
            "d_w": np.zeros_like(w), "d_bias": np.zeros_like(inputs["bias"])}


def _onehot_reference(c, inputs, d):
    geometry = _conv_geometry(c)
    y = conv1d_onehot.conv1d_onehot_forward_reference(inputs["codes"], inputs["w"], inputs["bias"], *geometry)
    dw, db = conv1d_onehot.conv1d_onehot_backward_reference(d["y"], inputs["codes"], inputs["w"].shape,
                                                            *geometry)
    return {"y": y, "d_w": dw, "d_bias": db}


def torch_one_hot(codes, channels, dtype):
    """The (B, channels, L) one-hot tensor of int8 ``codes`` (-1: an all-zero column)."""
    import torch

    codes = codes.long()
    x = torch.zeros(codes.shape[0], channels + 1, codes.shape[1], dtype=dtype)
    x.scatter_(1, torch.where(codes < 0, channels, codes).unsqueeze(1), 1.0)
    return x[:, :channels]


def _onehot_torch(c, t):
    import torch.nn.functional as F

    stride, padding, dilation = _conv_geometry(c)
    x = torch_one_hot(t["codes"], c["C_in"], t["w"].dtype)
    return {"y": F.conv1d(x, t["w"], t["bias"], stride=stride, padding=padding, dilation=dilation)}


CONV1D_ONEHOT = Op(
    name="conv1d_onehot",
    module="kernels/conv1d_onehot.py",
    summary="the first layer's convolution on one-hot DNA given as base codes: weight look-ups",
    torch_equivalent="torch.nn.functional.conv1d on the one-hot tensor",
    derivation="kernels/conv1d_onehot.py, 'Backward, derived': (B1) db, (B2) dw (no dx: codes are data)",
    draw_config=_onehot_draw,
    shapes={
        "explain": {"B": 1, "C_in": 4, "L": 5, "C_out": 1, "K": 2},
        "tiny": {"B": 1, "C_in": 4, "L": 6, "C_out": 2, "K": 3},
        "seed": dict(_PRIMER_CONV),
        "large": dict(_LARGE_CONV),
    },
    make_inputs=_onehot_inputs,
    grad_inputs=lambda c: ("w", "bias"),
    outputs=("y",),
    allocate=_onehot_allocate,
    forward_into=lambda c, inputs, bufs: conv1d_onehot.conv1d_onehot_forward_into(
        inputs["codes"], inputs["w"], inputs["bias"], bufs["y"], *_conv_geometry(c)),
    backward_into=lambda c, inputs, bufs, d: conv1d_onehot.conv1d_onehot_backward_into(
        d["y"], inputs["codes"], bufs["d_w"], bufs["d_bias"], *_conv_geometry(c)),
    reference=_onehot_reference,
    torch_forward=_onehot_torch,
    describe=lambda c: f"codes({c['B']},{c['L']}) " + _conv_describe(c).split(") ", 1)[1],
)


# ------------------------------------------------------------------------------ conv1d_onehot_maxpool
def _convpool_draw(draw):
    c = _onehot_draw(draw)
    c["pool"] = draw(1, 6)
    L_out = conv1d.conv1d_output_length(c["L"], c["K"], *_conv_geometry(c))
    c["L"] += max(0, c["pool"] - L_out) * c["stride"]  # at least one window
    return c


def _pooled_length(c):
    return conv1d.conv1d_output_length(c["L"], c["K"], *_conv_geometry(c)) // c["pool"]


def _convpool_inputs(c, rng, dtype=np.float64, smooth=False):
    inputs = _onehot_inputs(c, rng, dtype)
    if smooth:  # no window whose two largest values a finite-difference step could swap
        for _ in range(100):
            pooled_gap = _smallest_window_gap(c, inputs)
            if pooled_gap > 1e-3:
                break
            inputs = _onehot_inputs(c, rng, dtype)
    return inputs


def _smallest_window_gap(c, inputs):
    y = conv1d_onehot.conv1d_onehot_forward_reference(inputs["codes"], inputs["w"], inputs["bias"],
                                                      *_conv_geometry(c))
    P, L_pool = c["pool"], _pooled_length(c)
    if P == 1:
        return np.inf
    windows = np.sort(y[:, :, :L_pool * P].reshape(y.shape[0], y.shape[1], L_pool, P), axis=-1)
    return float((windows[..., -1] - windows[..., -2]).min())


def _convpool_allocate(c, inputs):
    w = inputs["w"]
    L_pool = _pooled_length(c)
    return {"pooled": np.empty((c["B"], c["C_out"], L_pool), dtype=w.dtype),
            "offsets": np.empty((c["B"], L_pool, c["C_out"]), dtype=np.int8),
            "d_w": np.zeros_like(w), "d_bias": np.zeros_like(inputs["bias"])}


def _convpool_forward_into(c, inputs, bufs):
    conv1d_onehot_maxpool.conv1d_onehot_maxpool_forward_into(
        inputs["codes"], inputs["w"], inputs["bias"], bufs["pooled"], bufs["offsets"], c["pool"], *_conv_geometry(c))
    bufs["argmax"] = conv1d_onehot_maxpool.argmax_of(bufs["offsets"], c["pool"])


def _convpool_reference(c, inputs, d):
    geometry = _conv_geometry(c)
    pooled, argmax = conv1d_onehot_maxpool.conv1d_onehot_maxpool_forward_reference(
        inputs["codes"], inputs["w"], inputs["bias"], c["pool"], *geometry)
    dw, db = conv1d_onehot_maxpool.conv1d_onehot_maxpool_backward_reference(
        d["pooled"], inputs["codes"], argmax, inputs["w"].shape, c["pool"], *geometry)
    return {"pooled": pooled, "argmax": argmax, "d_w": dw, "d_bias": db}


def _convpool_torch(c, t):
    import torch.nn.functional as F

    stride, padding, dilation = _conv_geometry(c)
    x = torch_one_hot(t["codes"], c["C_in"], t["w"].dtype)
    y = F.conv1d(x, t["w"], t["bias"], stride=stride, padding=padding, dilation=dilation)
    return {"pooled": F.max_pool1d(y, c["pool"])}


CONV1D_ONEHOT_MAXPOOL = Op(
    name="conv1d_onehot_maxpool",
    module="kernels/conv1d_onehot_maxpool.py",
    summary="conv1d_onehot then max pooling over tiling windows, fused: the CNN models' first two layers on codes",
    torch_equivalent="torch.nn.functional.max_pool1d(torch.nn.functional.conv1d(one-hot, w, bias), pool)",
    derivation="kernels/conv1d_onehot_maxpool.py, 'Backward, derived': (B1) db, (B2) dw, one term per window",
    draw_config=_convpool_draw,
    shapes={
        "explain": {"B": 1, "C_in": 4, "L": 6, "C_out": 1, "K": 2, "pool": 2},
        "tiny": {"B": 1, "C_in": 4, "L": 8, "C_out": 2, "K": 3, "pool": 2},
        "seed": dict(_PRIMER_CONV, pool=4),
        "large": dict(_LARGE_CONV, pool=4),
    },
    make_inputs=_convpool_inputs,
    grad_inputs=lambda c: ("w", "bias"),
    outputs=("pooled",),
    allocate=_convpool_allocate,
    forward_into=_convpool_forward_into,
    backward_into=lambda c, inputs, bufs, d: conv1d_onehot_maxpool.conv1d_onehot_maxpool_backward_into(
        d["pooled"], inputs["codes"], bufs["offsets"], bufs["d_w"], bufs["d_bias"], c["pool"], *_conv_geometry(c)),
    reference=_convpool_reference,
    torch_forward=_convpool_torch,
    describe=lambda c: (f"codes({c['B']},{c['L']}) " + _conv_describe(c).split(") ", 1)[1].replace(" no dx", "")
                        + f" pool={c['pool']}"),
    exact_outputs=("argmax",),
)


# ------------------------------------------------------------------------------ conv1d_onehot_globalmax
def _convgmax_draw(draw):
    K = draw(1, 8)
    return {"B": draw(1, 6), "C_in": (4, draw(1, 12))[draw(0, 1)], "F": draw(1, 6), "groups": draw(1, 2),
            "K": K, "L": K + draw(0, 40)}


def _convgmax_n_valid(c, rng):
    n_valid = c.get("n_valid")
    if n_valid is None:
        n_valid = rng.integers(1, c["L"] - c["K"] + 2, size=c["B"])
    return np.asarray(n_valid, dtype=np.int64)


def _convgmax_inputs(c, rng, dtype=np.float64, smooth=False):
    C_out = c["groups"] * c["F"]
    onehot = {"B": c["B"], "C_in": c["C_in"], "L": c["L"], "C_out": C_out, "K": c["K"]}
    for _ in range(100):
        inputs = _onehot_inputs(onehot, rng, dtype)
        inputs["n_valid"] = _convgmax_n_valid(c, rng)
        if not smooth or _smallest_max_gap(c, inputs) > 1e-4:
            break  # smooth: no (sequence, filter) whose two best positions a finite-difference step could swap
    return inputs


def _smallest_max_gap(c, inputs):
    y = conv1d_onehot.conv1d_onehot_forward_reference(inputs["codes"], inputs["w"], inputs["bias"])
    B, F, G = c["B"], c["F"], c["groups"]
    gaps = []
    for b in range(B):
        n = int(inputs["n_valid"][b])
        cand = np.sort(y[b, :, :n].reshape(G, F, n).transpose(1, 0, 2).reshape(F, G * n), axis=1)
        if cand.shape[1] > 1:
            gaps.append((cand[:, -1] - cand[:, -2]).min())
    return float(min(gaps)) if gaps else np.inf


def _convgmax_allocate(c, inputs):
    w = inputs["w"]
    return {"y": np.empty((c["B"], c["F"]), dtype=w.dtype), "argmax": np.empty((c["B"], c["F"]), dtype=np.int64),
            "d_w": np.zeros_like(w), "d_bias": np.zeros_like(inputs["bias"])}


def _convgmax_reference(c, inputs, d):
    y, argmax = conv1d_onehot_globalmax.conv1d_onehot_globalmax_forward_reference(
        inputs["codes"], inputs["w"], inputs["bias"], inputs["n_valid"], c["groups"])
    dw, db = conv1d_onehot_globalmax.conv1d_onehot_globalmax_backward_reference(
        d["y"], inputs["codes"], argmax, inputs["w"].shape)
    return {"y": y, "argmax": argmax, "d_w": dw, "d_bias": db}


def _convgmax_torch(c, t):
    import torch
    import torch.nn.functional as F

    x = torch_one_hot(t["codes"], c["C_in"], t["w"].dtype)
    y = F.conv1d(x, t["w"], t["bias"])                                      # (B, groups*F, L_out)
    B, GF, L_out = y.shape
    padding = torch.arange(L_out)[None, :] >= t["n_valid"][:, None]
    masked = y.masked_fill(padding[:, None, :], float("-inf"))
    by_filter = masked.view(B, c["groups"], c["F"], L_out).permute(0, 2, 1, 3).reshape(B, c["F"], -1)
    return {"y": by_filter.max(dim=2).values}


CONV1D_ONEHOT_GLOBALMAX = Op(
    name="conv1d_onehot_globalmax",
    module="kernels/conv1d_onehot_globalmax.py",
    summary="conv1d_onehot then the masked global max over positions and strands, fused: the deepbind model's "
            "first two stages on codes",
    torch_equivalent="conv1d(one-hot, w, bias), masked_fill(padding, -inf), then max over (strand, position)",
    derivation="kernels/conv1d_onehot_globalmax.py, 'Backward, derived': (B1) db, (B2) dw, one term per "
               "(sequence, filter)",
    draw_config=_convgmax_draw,
    shapes={
        "explain": {"B": 1, "C_in": 4, "L": 5, "F": 1, "groups": 2, "K": 2},
        "tiny": {"B": 2, "C_in": 4, "L": 8, "F": 2, "groups": 2, "K": 3},
        # the deepbind model's: 32 filters on both strands, K = 15, batch 32 of 300 bp
        "seed": {"B": 32, "C_in": 4, "L": 300, "F": 32, "groups": 2, "K": 15},
        "large": {"B": 256, "C_in": 4, "L": 1000, "F": 32, "groups": 2, "K": 15},
    },
    make_inputs=_convgmax_inputs,
    grad_inputs=lambda c: ("w", "bias"),
    outputs=("y",),
    allocate=_convgmax_allocate,
    forward_into=lambda c, inputs, bufs: conv1d_onehot_globalmax.conv1d_onehot_globalmax_forward_into(
        inputs["codes"], inputs["w"], inputs["bias"], inputs["n_valid"], c["groups"], bufs["y"], bufs["argmax"]),
    backward_into=lambda c, inputs, bufs, d: conv1d_onehot_globalmax.conv1d_onehot_globalmax_backward_into(
        d["y"], inputs["codes"], bufs["argmax"], bufs["d_w"], bufs["d_bias"]),
    reference=_convgmax_reference,
    torch_forward=_convgmax_torch,
    describe=lambda c: (f"codes({c['B']},{c['L']}) w({c['groups'] * c['F']},{c['C_in']},{c['K']}) "
                        f"groups={c['groups']}"),
    exact_outputs=("argmax",),
)


# ------------------------------------------------------------------------------ maxpool1d
def _has_empty_window(c):
    # with dilation a window can fall wholly in the padding (e.g. L=1, K=2, d=2, p=1): its
    # output is -inf and torch's index for it is out of range; op-specific tests cover it
    L_out = maxpool1d.maxpool1d_output_length(c["L"], c["K"], c["stride"], c["padding"], c["dilation"])
    return any(all(not 0 <= t * c["stride"] + k * c["dilation"] - c["padding"] < c["L"] for k in range(c["K"]))
               for t in range(L_out))


def _pool_draw(draw):
    K, stride, dilation = draw(1, 12), draw(1, 12), draw(1, 3)
    padding = draw(0, K // 2)  # torch: padding <= kernel_size / 2
    span = dilation * (K - 1) + 1
    c = {"B": draw(1, 8), "C": draw(1, 8), "K": K, "stride": stride, "padding": padding,
         "dilation": dilation, "L": draw(max(1, span - 2 * padding), 64)}
    if _has_empty_window(c):
        c["padding"] = 0
        c["L"] = max(c["L"], span)
    return c


def _pool_inputs(c, rng, dtype=np.float64, smooth=False):
    shape = (c["B"], c["C"], c["L"])
    if smooth:  # distinct values in [-1, 1], at least 2 / size > 2 eps apart: no ties, and a
        # finite-difference step never changes which element is the maximum
        x = distinct_values(rng, shape)
    else:
        x = rng.standard_normal(shape)
        x[..., ::3] = np.round(x[..., ::3])  # ties, which the first maximum must win
    return {"x": x.astype(dtype)}


def _pool_geometry(c):
    return c["K"], c.get("stride", c["K"]), c.get("padding", 0), c.get("dilation", 1)


def _pool_allocate(c, inputs):
    x = inputs["x"]
    L_out = maxpool1d.maxpool1d_output_length(c["L"], *_pool_geometry(c))
    shape = (c["B"], c["C"], L_out)
    return {"y": np.empty(shape, dtype=x.dtype), "argmax": np.empty(shape, dtype=np.int64),
            "d_x": np.zeros_like(x)}


def _pool_reference(c, inputs, d):
    y, argmax = maxpool1d.maxpool1d_forward_reference(inputs["x"], *_pool_geometry(c))
    return {"y": y, "argmax": argmax, "d_x": maxpool1d.maxpool1d_backward_reference(d["y"], argmax, c["L"])}


def _pool_torch(c, t):
    import torch.nn.functional as F

    K, stride, padding, dilation = _pool_geometry(c)
    return {"y": F.max_pool1d(t["x"], K, stride, padding, dilation)}


def _pool_describe(c):
    K, s, p, d = _pool_geometry(c)
    text = f"x({c['B']},{c['C']},{c['L']}) k={K}"
    return text + "".join(f" {n}={v}" for n, v, default in (("s", s, K), ("p", p, 0), ("d", d, 1)) if v != default)


MAXPOOL1D = Op(
    name="maxpool1d",
    module="kernels/maxpool1d.py",
    summary="1-D max pooling (floor mode) with stride, padding and dilation; torch's tie and NaN rules",
    torch_equivalent="torch.nn.functional.max_pool1d",
    derivation="kernels/maxpool1d.py, 'Backward, derived': (B1) dx[argmax] += dy",
    draw_config=_pool_draw,
    shapes={
        "explain": {"B": 1, "C": 1, "L": 6, "K": 2},
        "tiny": {"B": 1, "C": 2, "L": 8, "K": 2},
        "seed": {"B": 32, "C": 32, "L": 39, "K": 4},      # after the primer's convolution
        "large": {"B": 256, "C": 32, "L": 989, "K": 4},
    },
    make_inputs=_pool_inputs,
    grad_inputs=lambda c: ("x",),
    outputs=("y",),
    allocate=_pool_allocate,
    forward_into=lambda c, inputs, bufs: maxpool1d.maxpool1d_forward_into(
        inputs["x"], bufs["y"], bufs["argmax"], *_pool_geometry(c)),
    backward_into=lambda c, inputs, bufs, d: maxpool1d.maxpool1d_backward_into(d["y"], bufs["argmax"], bufs["d_x"]),
    reference=_pool_reference,
    torch_forward=_pool_torch,
    describe=_pool_describe,
    # pooling copies values: exact; dx sums at most K float32 gradients per element in another order
    rtol_forward=0.0,
    rtol_grads=1e-6,
    exact_outputs=("argmax",),
)


# ------------------------------------------------------------------------------ linear
def _linear_draw(draw):
    return {"lead": tuple(draw(1, 8) for _ in range(draw(1, 3))), "n_in": draw(1, 64),
            "n_out": draw(1, 64), "need_dx": bool(draw(0, 1))}


def _linear_inputs(c, rng, dtype=np.float64, smooth=False):
    x = rng.standard_normal(c["lead"] + (c["n_in"],))
    w = rng.standard_normal((c["n_out"], c["n_in"])) / np.sqrt(c["n_in"])
    return {"x": x.astype(dtype), "w": w.astype(dtype), "bias": rng.standard_normal(c["n_out"]).astype(dtype)}


def _linear_allocate(c, inputs):
    x, w = inputs["x"], inputs["w"]
    return {"y": np.empty(c["lead"] + (c["n_out"],), dtype=x.dtype), "d_x": np.zeros_like(x),
            "d_w": np.zeros_like(w), "d_bias": np.zeros_like(inputs["bias"])}


def _rows(a):
    return a.reshape(-1, a.shape[-1])


def _linear_backward_into(c, inputs, bufs, d):
    dx = _rows(bufs["d_x"]) if c.get("need_dx", True) else None
    linear.linear_backward_into(_rows(d["y"]), _rows(inputs["x"]), inputs["w"], dx, bufs["d_w"], bufs["d_bias"])


def _linear_reference(c, inputs, d):
    y = linear.linear_forward_reference(inputs["x"], inputs["w"], inputs["bias"])
    dx, dw, db = linear.linear_backward_reference(d["y"], inputs["x"], inputs["w"])
    return {"y": y, "d_x": dx, "d_w": dw, "d_bias": db}


def _linear_torch(c, t):
    import torch.nn.functional as F

    return {"y": F.linear(t["x"], t["w"], t["bias"])}


LINEAR = Op(
    name="linear",
    module="kernels/linear.py",
    summary="fully connected layer y = x W^T + b over any leading shape",
    torch_equivalent="torch.nn.functional.linear",
    derivation="kernels/linear.py, 'Backward, derived': (B1) db, (B2) dw = dy^T x, (B3) dx = dy W",
    draw_config=_linear_draw,
    shapes={
        "explain": {"lead": (2,), "n_in": 3, "n_out": 2},
        "tiny": {"lead": (2,), "n_in": 3, "n_out": 2},
        "seed": {"lead": (32,), "n_in": 288, "n_out": 16},          # the primer's fc1
        "large": {"lead": (256,), "n_in": 7904, "n_out": 16},       # fc1 at length 1000
    },
    make_inputs=_linear_inputs,
    grad_inputs=lambda c: ("x", "w", "bias") if c.get("need_dx", True) else ("w", "bias"),
    outputs=("y",),
    allocate=_linear_allocate,
    forward_into=lambda c, inputs, bufs: linear.linear_forward_into(
        _rows(inputs["x"]), inputs["w"], inputs["bias"], _rows(bufs["y"])),
    backward_into=_linear_backward_into,
    reference=_linear_reference,
    torch_forward=_linear_torch,
    describe=lambda c: f"x({','.join(map(str, c['lead'] + (c['n_in'],)))}) w({c['n_out']},{c['n_in']})"
    + ("" if c.get("need_dx", True) else " no dx"),
)


# ------------------------------------------------------------------------------ bce_with_logits
_BCE_REDUCTIONS = ("mean", "sum", "none")


def _bce_draw(draw):
    return {"shape": tuple(draw(1, 8) for _ in range(draw(0, 2))) + (draw(1, 16),),
            "reduction": _BCE_REDUCTIONS[draw(0, 2)],
            "pos_weight": ("none", "scalar", "per_column")[draw(0, 2)], "soft": bool(draw(0, 1))}


def _bce_inputs(c, rng, dtype=np.float64, smooth=False):
    shape = c["shape"]
    inputs = {"logits": (3.0 * rng.standard_normal(shape)).astype(dtype),
              "targets": (rng.random(shape) if c.get("soft") else rng.random(shape) < 0.5).astype(dtype)}
    kind = c.get("pos_weight", "none")
    if kind != "none":
        inputs["pos_weight"] = rng.uniform(0.2, 5.0, size=1 if kind == "scalar" else shape[-1]).astype(dtype)
    return inputs


def _bce_pos_weight(inputs):
    return inputs.get("pos_weight", np.ones(1, dtype=inputs["logits"].dtype))


def _bce_code(c):
    return bce_with_logits.reduction_code(c.get("reduction", "mean"))


def _bce_allocate(c, inputs):
    logits = inputs["logits"]
    loss_shape = logits.shape if c.get("reduction", "mean") == "none" else ()
    return {"loss": np.empty(loss_shape, dtype=logits.dtype), "d_logits": np.zeros_like(logits)}


def _bce_reference(c, inputs, d):
    reduction = c.get("reduction", "mean")
    args = (inputs["logits"], inputs["targets"], inputs.get("pos_weight"), reduction)
    d_loss = d["loss"] if reduction == "none" else float(d["loss"])
    return {"loss": np.asarray(bce_with_logits.bce_with_logits_forward_reference(*args)),
            "d_logits": bce_with_logits.bce_with_logits_backward_reference(*args, d_loss)}


def _bce_torch(c, t):
    import torch.nn.functional as F

    return {"loss": F.binary_cross_entropy_with_logits(t["logits"], t["targets"], pos_weight=t.get("pos_weight"),
                                                       reduction=c.get("reduction", "mean"))}


BCE_WITH_LOGITS = Op(
    name="bce_with_logits",
    module="kernels/bce_with_logits.py",
    summary="binary cross-entropy on logits, mean/sum/none, pos_weight; finite for any logit",
    torch_equivalent="torch.nn.functional.binary_cross_entropy_with_logits",
    derivation="kernels/bce_with_logits.py, 'Backward, derived': (B1) d_logits = (w sigmoid(x) - p t) s",
    draw_config=_bce_draw,
    shapes={
        "explain": {"shape": (4,)},
        "tiny": {"shape": (4,)},
        "seed": {"shape": (32,)},       # one batch of the primer's logits
        "large": {"shape": (256,)},
    },
    make_inputs=_bce_inputs,
    grad_inputs=lambda c: ("logits",),
    outputs=("loss",),
    allocate=_bce_allocate,
    forward_into=lambda c, inputs, bufs: bce_with_logits.bce_with_logits_forward_into(
        inputs["logits"], inputs["targets"], _bce_pos_weight(inputs), _bce_code(c), bufs["loss"]),
    backward_into=lambda c, inputs, bufs, d: bce_with_logits.bce_with_logits_backward_into(
        inputs["logits"], inputs["targets"], _bce_pos_weight(inputs), _bce_code(c), d["loss"], bufs["d_logits"]),
    reference=_bce_reference,
    torch_forward=_bce_torch,
    describe=lambda c: (f"logits({','.join(map(str, c['shape']))}) {c.get('reduction', 'mean')}"
                        + ("" if c.get("pos_weight", "none") == "none" else f" pos_weight {c['pos_weight']}")
                        + (" soft targets" if c.get("soft") else "")),
    # a mean's O(1/n) gradients drown in the loss's rounding at eps = 1e-6 (1.1e-6 relative at
    # n = 3040): a larger step, whose truncation error (eps^2) is still far below 1e-6
    fd_eps=1e-4,
)


# ------------------------------------------------------------------------------ attention
def _attention_draw(draw):
    return {"B": draw(1, 8), "H": draw(1, 32), "L": draw(1, 16)}


def _attention_inputs(c, rng, dtype=np.float64, smooth=False):
    B, H, L = c["B"], c["H"], c["L"]
    return {"q": rng.standard_normal((B, H)).astype(dtype), "k": rng.standard_normal((B, H, L)).astype(dtype),
            # W as torch's Linear(2H, H) init scale; v ~ U(0, 1) as the tutorial's torch.rand
            "W": (rng.standard_normal((H, 2 * H)) / np.sqrt(2 * H)).astype(dtype),
            "bias": (0.1 * rng.standard_normal(H)).astype(dtype), "v": rng.random(H).astype(dtype)}


def _attention_allocate(c, inputs):
    B, H, L = inputs["k"].shape
    dt = inputs["k"].dtype
    bufs = {"context": np.empty((B, H), dt), "weights": np.empty((B, L), dt), "energy": np.empty((B, L, H), dt)}
    for name in ("q", "k", "W", "bias", "v"):
        bufs["d_" + name] = np.zeros_like(inputs[name])
    return bufs


def _attention_reference(c, inputs, d):
    args = [inputs[n] for n in ("q", "k", "W", "bias", "v")]
    context, weights = attention.attention_forward_reference(*args)
    grads = attention.attention_backward_reference(d["context"], *args)
    return {"context": context, "weights": weights} | {"d_" + n: g for n, g in zip(("q", "k", "W", "bias", "v"), grads)}


def _attention_torch(c, t):
    import torch

    q, k, W, b, v = (t[n] for n in ("q", "k", "W", "bias", "v"))
    keys = k.transpose(1, 2)                                   # (B, L, H)
    query = q.unsqueeze(1).expand(-1, keys.shape[1], -1)       # (B, L, H)
    energy = torch.tanh(torch.cat((query, keys), dim=2) @ W.T + b)
    weights = torch.softmax(energy @ v, dim=1)
    return {"context": (weights.unsqueeze(2) * keys).sum(dim=1), "weights": weights}


ATTENTION = Op(
    name="attention",
    module="kernels/attention.py",
    summary="additive (Bahdanau) attention: tanh energy, softmax over positions, context",
    torch_equivalent="the follow-up tutorial's SimpleAttention (cat, Linear, tanh, softmax)",
    derivation="kernels/attention.py, 'Backward, derived': (B1) context, (B2) softmax, (B3) scores, "
               "(B4) tanh, (B5)-(B6) the energy layer, (B7) dk = value + key path",
    draw_config=_attention_draw,
    shapes={
        "explain": {"B": 1, "H": 2, "L": 3},
        "tiny": {"B": 1, "H": 2, "L": 3},
        "seed": {"B": 32, "H": 32, "L": 9},      # the attention model on the primer's data
        "large": {"B": 256, "H": 32, "L": 247},  # the same at length 1000
    },
    make_inputs=_attention_inputs,
    grad_inputs=lambda c: ("q", "k", "W", "bias", "v"),
    outputs=("context",),
    extra_outputs=("weights",),
    allocate=_attention_allocate,
    forward_into=lambda c, inputs, bufs: attention.attention_forward_into(
        *(inputs[n] for n in ("q", "k", "W", "bias", "v")), bufs["context"], bufs["weights"], bufs["energy"]),
    backward_into=lambda c, inputs, bufs, d: attention.attention_backward_into(
        d["context"], inputs["q"], inputs["k"], inputs["W"], inputs["v"], bufs["weights"], bufs["energy"],
        *(bufs["d_" + n] for n in ("q", "k", "W", "bias", "v"))),
    reference=_attention_reference,
    torch_forward=_attention_torch,
    describe=lambda c: f"q({c['B']},{c['H']}) k({c['B']},{c['H']},{c['L']})",
    # dq, dW, db, dv reach the loss only through the softmax gradient, whose terms cancel:
    # torch's own float32 error there reaches 2.3e-5 of the max (measured against float64)
    rtol_grads={"d_k": 1e-5, "d_q": 1e-4, "d_W": 1e-4, "d_bias": 1e-4, "d_v": 1e-4},
)


# ------------------------------------------------------------------------------ revcomp
def _revcomp_inputs(c, rng, dtype=np.float64, smooth=False):
    return {"w": rng.standard_normal((c["F"], 4, c["K"])).astype(dtype),
            "b": rng.standard_normal(c["F"]).astype(dtype)}


def _revcomp_allocate(c, inputs):
    w = inputs["w"]
    return {"w2": np.empty((2 * c["F"], 4, c["K"]), w.dtype), "b2": np.empty(2 * c["F"], w.dtype),
            "d_w": np.zeros_like(w), "d_b": np.zeros_like(inputs["b"])}


def _revcomp_reference(c, inputs, d):
    w2, b2 = revcomp.revcomp_forward_reference(inputs["w"], inputs["b"])
    dw, db = revcomp.revcomp_backward_reference(d["w2"], d["b2"])
    return {"w2": w2, "b2": b2, "d_w": dw, "d_b": db}


def _revcomp_torch(c, t):
    import torch

    w, b = t["w"], t["b"]
    return {"w2": torch.cat((w, torch.flip(w, dims=(1, 2)))), "b2": torch.cat((b, b))}


REVCOMP = Op(
    name="revcomp",
    module="kernels/revcomp.py",
    summary="reverse-complement weight tying: filters [w ; rc(w)] scan both strands in one convolution",
    torch_equivalent="torch.cat((w, torch.flip(w, dims=(1, 2))))",
    derivation="kernels/revcomp.py, 'Backward, derived': (B1) dw = dw2[f] + rc(dw2[F + f]), (B2) db",
    draw_config=lambda draw: {"F": draw(1, 16), "K": draw(1, 24)},
    shapes={"explain": {"F": 1, "K": 3}, "tiny": {"F": 2, "K": 3}, "seed": {"F": 32, "K": 15},
            "large": {"F": 128, "K": 24}},
    make_inputs=_revcomp_inputs,
    grad_inputs=lambda c: ("w", "b"),
    outputs=("w2", "b2"),
    allocate=_revcomp_allocate,
    forward_into=lambda c, inputs, bufs: revcomp.revcomp_forward_into(inputs["w"], inputs["b"], bufs["w2"], bufs["b2"]),
    backward_into=lambda c, inputs, bufs, d: revcomp.revcomp_backward_into(d["w2"], d["b2"], bufs["d_w"], bufs["d_b"]),
    reference=_revcomp_reference,
    torch_forward=_revcomp_torch,
    describe=lambda c: f"w({c['F']},4,{c['K']})",
    rtol_forward=0.0,  # copies
    rtol_grads=1e-6,   # sums of two terms
)


# ------------------------------------------------------------------------------ global_max
def _global_max_draw(draw):
    return {"B": draw(1, 8), "F": draw(1, 8), "groups": draw(1, 2), "L": draw(1, 64)}


def _global_max_inputs(c, rng, dtype=np.float64, smooth=False):
    shape = (c["B"], c["groups"] * c["F"], c["L"])
    if smooth:  # distinct values in [-1, 1], at least 2 / size > 2 eps apart: a finite-difference
        # step never changes which element is the max
        x = distinct_values(rng, shape)
    else:
        x = rng.standard_normal(shape)
        x[..., ::2] = np.round(x[..., ::2])  # ties, which the first maximum must win
    n_valid = c.get("n_valid")
    if n_valid is None:
        n_valid = rng.integers(1, c["L"] + 1, size=c["B"])
    return {"x": x.astype(dtype), "n_valid": np.asarray(n_valid, dtype=np.int64)}


def _global_max_allocate(c, inputs):
    x = inputs["x"]
    return {"y": np.empty((c["B"], c["F"]), x.dtype), "argmax": np.empty((c["B"], c["F"]), np.int64),
            "d_x": np.zeros_like(x)}


def _global_max_reference(c, inputs, d):
    y, argmax = global_max.global_max_forward_reference(inputs["x"], inputs["n_valid"], c["groups"])
    return {"y": y, "argmax": argmax,
            "d_x": global_max.global_max_backward_reference(d["y"], argmax, c["groups"], c["L"])}


def _global_max_torch(c, t):
    import torch

    x, n_valid = t["x"], t["n_valid"]
    B, GF, L = x.shape
    F = GF // c["groups"]
    padding = torch.arange(L)[None, :] >= n_valid[:, None]                  # (B, L)
    masked = x.masked_fill(padding[:, None, :], float("-inf"))
    by_channel = masked.view(B, c["groups"], F, L).permute(0, 2, 1, 3).reshape(B, F, c["groups"] * L)
    return {"y": by_channel.max(dim=2).values}


GLOBAL_MAX = Op(
    name="global_max",
    module="kernels/global_max.py",
    summary="max of each filter over a sequence's valid positions and both strands (padding never seen)",
    torch_equivalent="masked_fill(padding, -inf), then max over (strand, position)",
    derivation="kernels/global_max.py, 'Backward, derived': (B1) dx[argmax] += dy",
    draw_config=_global_max_draw,
    shapes={
        "explain": {"B": 1, "F": 2, "groups": 2, "L": 4},
        "tiny": {"B": 2, "F": 2, "groups": 2, "L": 5},
        # the deepbind model's first stage: 32 filters on both strands of 200-400 bp sequences
        "seed": {"B": 32, "F": 32, "groups": 2, "L": 386},
        "large": {"B": 256, "F": 32, "groups": 2, "L": 986},
    },
    make_inputs=_global_max_inputs,
    grad_inputs=lambda c: ("x",),
    outputs=("y",),
    allocate=_global_max_allocate,
    forward_into=lambda c, inputs, bufs: global_max.global_max_forward_into(
        inputs["x"], inputs["n_valid"], c["groups"], bufs["y"], bufs["argmax"]),
    backward_into=lambda c, inputs, bufs, d: global_max.global_max_backward_into(d["y"], bufs["argmax"], bufs["d_x"]),
    reference=_global_max_reference,
    torch_forward=_global_max_torch,
    describe=lambda c: f"x({c['B']},{c['groups'] * c['F']},{c['L']}) groups={c['groups']}",
    rtol_forward=0.0,  # a max copies a value
    rtol_grads=0.0,    # and its gradient one
    exact_outputs=("argmax",),
)


# ------------------------------------------------------------------------------ scan (forward only)
def _scan_draw(draw):
    K = draw(1, 20)
    return {"F": draw(1, 6), "K": K, "W": K + draw(0, 40), "S": draw(1, 50), "L": K + draw(0, 140)}


def _scan_inputs(c, rng, dtype=np.float64, smooth=False):
    w = rng.standard_normal((c["F"], 4, c["K"])) / np.sqrt(4 * c["K"])
    return {"codes": rng.integers(-1, 4, size=c["L"]).astype(np.int8), "w": w.astype(dtype),
            "bias": rng.standard_normal(c["F"]).astype(dtype)}


def _scan_windows(c):
    return scan.scan_window_count(c["L"], c["W"], c["S"], c["K"])


def _scan_allocate(c, inputs):
    J, F = _scan_windows(c), c["F"]
    return {"win_max": np.empty((J, F), inputs["w"].dtype), "win_pos": np.empty((J, F), np.int64),
            "win_strand": np.empty((J, F), np.int8),
            "table": np.empty(scan.scan_table_shape(F, c["K"]), inputs["w"].dtype)}


def _scan_forward_into(c, inputs, bufs):
    scan.scan_table_into(inputs["w"], inputs["bias"], bufs["table"])
    scan.scan_forward_into(inputs["codes"], bufs["table"], c["K"], c["W"], c["S"], 0, bufs["win_max"],
                           bufs["win_pos"], bufs["win_strand"])


def _scan_reference(c, inputs, d):
    win_max, win_pos, win_strand = scan.scan_forward_reference(inputs["codes"], inputs["w"], inputs["bias"], c["W"],
                                                               c["S"], 0, _scan_windows(c))
    return {"win_max": win_max, "win_pos": win_pos, "win_strand": win_strand}


def _scan_torch(c, t):
    import torch
    import torch.nn.functional as F

    codes, w, b = t["codes"].long(), t["w"], t["bias"]
    K, W, S, L = c["K"], c["W"], c["S"], c["L"]
    x = torch.zeros(1, 5, L, dtype=w.dtype)
    x[0, torch.where(codes < 0, 4, codes), torch.arange(L)] = 1
    y = F.conv1d(x[:, :4], torch.cat([w, w.flip(1).flip(2)]), torch.cat([b, b]))[0]  # (2F, L - K + 1)
    both = torch.maximum(y[:c["F"]], y[c["F"]:])                                      # max over strands
    starts = range(0, _scan_windows(c) * S, S)
    return {"win_max": torch.stack([both[:, a:min(a + W, L) - K + 1].max(dim=1).values for a in starts])}


SCAN = Op(
    name="scan",
    module="kernels/scan.py",
    summary="window scan (forward only): one-hot conv of both strands, max over strands and each window's K-mers",
    torch_equivalent="F.conv1d(one_hot, cat[w, rc(w)]) -> max over strands -> max over each window",
    derivation="kernels/scan.py: forward only, (F1)-(F3); the model's head then runs on the windows' maxima",
    draw_config=_scan_draw,
    shapes={"explain": {"F": 1, "K": 3, "W": 6, "S": 3, "L": 12}, "tiny": {"F": 2, "K": 5, "W": 20, "S": 5, "L": 100},
            # the deepbind model's filters over 2 kb (the reference loops run in Python)
            "seed": {"F": 32, "K": 15, "W": 299, "S": 149, "L": 2_000},
            "large": {"F": 32, "K": 15, "W": 299, "S": 149, "L": 1_000_000}},
    make_inputs=_scan_inputs,
    grad_inputs=lambda c: (),
    outputs=(),
    extra_outputs=("win_max",),
    allocate=_scan_allocate,
    forward_into=_scan_forward_into,
    backward_into=lambda c, inputs, bufs, d: None,
    reference=_scan_reference,
    torch_forward=_scan_torch,
    describe=lambda c: f"codes({c['L']},) w({c['F']},4,{c['K']}) window {c['W']} step {c['S']}",
    rtol_forward=1e-5,
    # (positions and strands are compared in tests/test_scan_kernel.py only where the maximum is
    # clear: a K-mer that is its own reverse complement ties exactly but rounds differently per strand)
    has_backward=False,
)


OPS: list[Op] = [RELU, CONV1D, CONV1D_ONEHOT, CONV1D_ONEHOT_MAXPOOL, CONV1D_ONEHOT_GLOBALMAX, MAXPOOL1D, LINEAR,
                 BCE_WITH_LOGITS, ATTENTION, REVCOMP, GLOBAL_MAX, SCAN]
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
