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
  ``"tiny"`` (explain, quick benchmarks), ``"large"`` (batch 256, length 1000);
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

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from motifnet.kernels import relu


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
    rtol_grads: float = 1e-5
    # finite differences (float64): step and max-norm relative tolerance
    fd_eps: float = 1e-6
    fd_rtol: float = 1e-6
    notes: dict = field(default_factory=dict)


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


OPS: list[Op] = [RELU]
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
