"""The kernel benchmark cases, read off the registry of ops (``kernels/registry.py``).

A case is one op of ``registry.OPS`` at one of its named shapes, or Adam (not an op
of the registry: it has no backward) at one parameter count.  Adding an op to the
registry adds its benchmark: nothing here names an op.

Both workers build the same float32 inputs from the same seed with the op's own
``make_inputs`` (NumPy only), and the same upstream gradients (``random_d_outputs``
with a second seeded generator), then expose three timed phases:

* ``fwd``    the forward pass (torch: the registry's ``torch_forward`` on
             ``requires_grad`` inputs, i.e. what training runs: the graph is recorded);
* ``bwd``    the backward pass alone (motifnet: ``backward_into``, which ADDS into the
             same gradient buffers call after call, fine for timing; torch:
             ``autograd.grad(..., retain_graph=True)`` on one recorded graph);
* ``fwdbwd`` both, what one training step pays.

(``adam`` has a single ``step`` phase.)  ``outputs()`` returns the forward outputs and
every gradient, computed on freshly allocated (zeroed) buffers, as NumPy arrays under
the registry's names (``y``, ``d_x``, ...); the parent compares motifnet's with torch's
before anything is timed.  motifnet runs the fast kernels of the registry
(``forward_into`` / ``backward_into``: the unchecked entry points the layers call).

Sizes: ``--sizes tiny seed large`` selects every shape of an op whose name is the size
or starts with it (``seed`` also takes ``seed_first_layer``).  ``primer`` is accepted
for ``seed`` (the primer model's shapes).
"""

from __future__ import annotations

import zlib

import numpy as np

from motifnet.kernels import registry as R

SIZE_CHOICES = ("tiny", "seed", "large")
SIZE_ALIASES = {"primer": "seed"}
PHASES = ("fwd", "bwd", "fwdbwd")
ADAM_PHASES = ("step",)
ADAM = "adam"
ADAM_STEPS = 3  # steps taken before the parameters are compared
ADAM_HYPER = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
# parameter counts of the primer CNN at length 50 and at length 1000
ADAM_SIZES = {"tiny": 50, "seed": 4 * 32 * 12 + 32 + 288 * 16 + 16 + 16 + 1,
              "large": 4 * 32 * 12 + 32 + 7904 * 16 + 16 + 16 + 1}
F64_PREFIX = "f64/"  # torch's float64 results in the outputs file: "f64/<kernel>/<shape>/<name>"

KERNELS = tuple(op.name for op in R.OPS) + (ADAM,)


FORWARD_PHASES = ("fwd",)  # an op without a backward (the genome scan) is timed forward only


def phases_of(kernel: str) -> tuple[str, ...]:
    if kernel == ADAM:
        return ADAM_PHASES
    return PHASES if R.BY_NAME[kernel].has_backward else FORWARD_PHASES


def shapes_of(kernel: str, sizes) -> list[str]:
    """The named shapes of ``kernel`` that the requested sizes select, in the registry's order."""
    sizes = [SIZE_ALIASES.get(s, s) for s in sizes]
    names = list(ADAM_SIZES) if kernel == ADAM else list(R.BY_NAME[kernel].shapes)
    return [n for n in names if any(n == s or n.startswith(s + "_") for s in sizes)]


def case_list(kernels, sizes) -> list[list[str]]:
    return [[k, s] for k in kernels for s in shapes_of(k, sizes)]


def size_class(shape: str) -> str:
    """"seed_first_layer" -> "seed": the size a named shape belongs to."""
    return shape.split("_", 1)[0]


def config_of(kernel: str, shape: str) -> dict:
    return R.BY_NAME[kernel].shapes[shape]


def shape_label(kernel: str, shape: str) -> str:
    """The registry's description of the case's shapes."""
    if kernel == ADAM:
        return f"{ADAM_SIZES[shape]} params"
    return R.BY_NAME[kernel].describe(config_of(kernel, shape))


def case_seed(kernel: str, shape: str) -> int:
    return zlib.crc32(f"{kernel}/{shape}".encode())


def make_inputs(kernel: str, shape: str) -> dict[str, np.ndarray]:
    """The case's inputs: float32 arrays (and the op's integer ones), identical in every worker."""
    rng = np.random.default_rng(case_seed(kernel, shape))
    if kernel == ADAM:
        n = ADAM_SIZES[shape]
        return dict(param=rng.uniform(-0.1, 0.1, n).astype(np.float32),
                    grads=rng.uniform(-0.01, 0.01, (ADAM_STEPS, n)).astype(np.float32))
    op = R.BY_NAME[kernel]
    inputs = op.make_inputs(config_of(kernel, shape), rng, dtype=np.float32, smooth=False)
    return {n: np.ascontiguousarray(a) for n, a in inputs.items()}


def make_d_outputs(kernel: str, shape: str, outputs: dict) -> dict[str, np.ndarray]:
    """dL/d(output) of every differentiable output, seeded, float32 (shapes from ``outputs``)."""
    op = R.BY_NAME[kernel]
    rng = np.random.default_rng(case_seed(kernel, shape) + 1)
    like = {n: np.empty(np.shape(outputs[n]), np.float32) for n in op.outputs}
    return R.random_d_outputs(op, config_of(kernel, shape), like, rng)


def as_dtype(inputs: dict, dtype) -> dict:
    """Floating arrays converted to ``dtype`` (exactly: float32 values widen to float64); others kept."""
    return {n: a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a for n, a in inputs.items()}


def compared_names(kernel: str, config: dict) -> tuple[str, ...]:
    """What both libraries report: the outputs torch also gives, and every input gradient."""
    op = R.BY_NAME[kernel]
    return tuple(op.outputs) + tuple(op.extra_outputs) + tuple("d_" + n for n in op.grad_inputs(config))


def tolerance_of(kernel: str, name: str) -> float:
    """The registry's float32 tolerance (against torch) of output or gradient ``name``."""
    if kernel == ADAM:
        return 1e-6  # element-wise, in torch's operation order
    op = R.BY_NAME[kernel]
    return op.grad_rtol(name) if name.startswith("d_") else op.rtol_forward


# ----------------------------------------------------------------------------- motifnet
class Case:
    """A case bound to one library: ``phases[name]()`` runs one call; ``outputs()`` the results."""

    def __init__(self, phases: dict, outputs):
        self.phases = phases
        self.outputs = outputs


def motifnet_case(kernel: str, shape: str, api: str = "unchecked") -> Case:
    """The case through the registry's fast kernels (``api="public"``: not available any more)."""
    if api != "unchecked":
        raise ValueError("the registry times the fast kernels (forward_into/backward_into) only")
    inp = make_inputs(kernel, shape)
    if kernel == ADAM:
        return _motifnet_adam(inp)
    op, config = R.BY_NAME[kernel], config_of(kernel, shape)
    bufs = op.allocate(config, inp)
    op.forward_into(config, inp, bufs)
    d = make_d_outputs(kernel, shape, bufs)
    names = compared_names(kernel, config)

    def fwd():
        op.forward_into(config, inp, bufs)

    def bwd():  # adds into the same buffers again and again: fine for timing
        op.backward_into(config, inp, bufs, d)

    def fwdbwd():
        op.forward_into(config, inp, bufs)
        op.backward_into(config, inp, bufs, d)

    def outputs():  # fresh, zeroed buffers
        fresh = R.run_fast(op, config, inp, d if op.has_backward else None)
        return {n: np.array(fresh[n], copy=True) for n in names}

    phases = dict(fwd=fwd, bwd=bwd, fwdbwd=fwdbwd)
    return Case({p: phases[p] for p in phases_of(kernel)}, outputs)


def _motifnet_adam(inp) -> Case:
    from motifnet.kernels.adam import adam_step_into

    h = ADAM_HYPER
    args = (h["lr"], h["betas"][0], h["betas"][1], h["eps"], h["weight_decay"])
    param = inp["param"].copy()
    m1, m2 = np.zeros_like(param), np.zeros_like(param)
    grad = inp["grads"][0].copy()
    state = {"step": 0}

    def step():
        state["step"] += 1
        adam_step_into(param, grad, m1, m2, state["step"], *args)

    def outputs():
        p, a, s = inp["param"].copy(), np.zeros_like(param), np.zeros_like(param)
        for i in range(ADAM_STEPS):
            adam_step_into(p, np.ascontiguousarray(inp["grads"][i]), a, s, i + 1, *args)
        return dict(param=p, exp_avg=a, exp_avg_sq=s)

    return Case(dict(step=step), outputs)


# -------------------------------------------------------------------------------- torch
def torch_case(kernel: str, shape: str, dtype=np.float32) -> Case:
    """The same case in torch: the registry's ``torch_forward``, differentiated by autograd.

    ``dtype=np.float64`` runs it on the same inputs widened to float64: the near-exact
    answer the validation measures both float32 results against.  An op may give the
    registry a ``torch_prepare(config, tensors)`` for data-only conversions (base codes ->
    one-hot) done once, outside the timed calls; without one, ``torch_forward`` does all.
    """
    import torch

    inp = as_dtype(make_inputs(kernel, shape), dtype)
    if kernel == ADAM:
        return _torch_adam(inp)
    op, config = R.BY_NAME[kernel], config_of(kernel, shape)
    wanted = op.grad_inputs(config)
    tensors = {}
    for name, value in inp.items():
        t = torch.from_numpy(np.array(value, copy=True))
        tensors[name] = t.requires_grad_(True) if name in wanted else t
    prepare = getattr(op, "torch_prepare", None)
    if prepare is not None:
        tensors = prepare(config, tensors)
    leaves = [tensors[n] for n in wanted]
    out0 = op.torch_forward(config, tensors)
    d32 = make_d_outputs(kernel, shape, {n: out0[n].detach().numpy() for n in op.outputs})
    d = [torch.from_numpy(d32[n].astype(dtype)) for n in op.outputs]
    graph = {"out": out0}

    def fwd():
        return op.torch_forward(config, tensors)

    def grads(out, retain):
        return torch.autograd.grad([out[n] for n in op.outputs], leaves, d, retain_graph=retain)

    def outputs():
        out = op.torch_forward(config, tensors)
        res = {n: out[n].detach().numpy().copy() for n in tuple(op.outputs) + tuple(op.extra_outputs)}
        if op.has_backward:  # autograd.grad refuses an empty list of inputs
            for name, g in zip(wanted, grads(out, False)):
                res["d_" + name] = g.numpy().copy()
        return res

    phases = dict(fwd=fwd, bwd=lambda: grads(graph["out"], True), fwdbwd=lambda: grads(fwd(), False))
    return Case({p: phases[p] for p in phases_of(kernel)}, outputs)


def _torch_adam(inp) -> Case:
    import torch

    h = ADAM_HYPER
    p = torch.from_numpy(inp["param"].copy()).requires_grad_(True)
    p.grad = torch.from_numpy(inp["grads"][0].copy())
    opt = torch.optim.Adam([p], **h)

    def outputs():
        q = torch.from_numpy(inp["param"].copy()).requires_grad_(True)
        o = torch.optim.Adam([q], **h)
        for i in range(ADAM_STEPS):
            q.grad = torch.from_numpy(np.ascontiguousarray(inp["grads"][i]))
            o.step()
        st = o.state[q]
        return dict(param=q.detach().numpy(), exp_avg=st["exp_avg"].numpy(), exp_avg_sq=st["exp_avg_sq"].numpy())

    return Case(dict(step=opt.step), outputs)
