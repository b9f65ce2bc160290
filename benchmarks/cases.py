"""The kernel benchmark cases: shapes, seeded inputs, and each library's calls.

A case is one kernel at one shape.  Both libraries build the same float32
inputs from the same seed (NumPy only, so neither worker needs the other
library), then expose three timed phases:

* ``fwd``    the forward pass (torch: with ``requires_grad`` inputs, i.e. what
             training runs: the autograd graph is recorded);
* ``bwd``    the backward pass alone (torch: ``autograd.grad(..., retain_graph=True)``
             on one recorded graph, called repeatedly);
* ``fwdbwd`` both, what one training step pays.

(``adam`` has a single ``step`` phase.)  ``outputs()`` returns the forward
outputs and every gradient as float32/float64 NumPy arrays under shared names;
the parent compares motifnet's against torch's before anything is timed.

motifnet is called through the kernels' UNCHECKED entry points
(``_conv1d_forward`` ...), which is what motifnet's layers call on the hot
path; ``api="public"`` times the validating public wrappers instead.

Shapes (``SIZES``): "primer" = the primer's model (batch 32, length 50,
4->32 channels, width 12, pool 4, 288->16->1; attention B=32, L=9, H=32);
"large" = batch 256, length 1000 (conv x (256,4,1000), pool (256,32,989),
linear 7904->16, attention L=247, H=32); "tiny" = the quick mode's shapes.
"""

from __future__ import annotations

import zlib

import numpy as np

# kernel -> size -> shape parameters
SIZES = {
    "conv1d": {
        "tiny": dict(B=2, C_in=4, L=20, C_out=3, K=5),
        "primer": dict(B=32, C_in=4, L=50, C_out=32, K=12),
        "large": dict(B=256, C_in=4, L=1000, C_out=32, K=12),
    },
    # the model's first layer: its input is the data, so backward skips dx (need_dx=False)
    "conv1d_nodx": None,  # conv1d's shapes, filled in below
    # the same on one-hot DNA (2% N), with the one-hot kernel motifnet's first Conv1d uses
    "conv1d_onehot": None,
    "relu": {
        "tiny": dict(shape=(2, 3, 16)),
        "primer": dict(shape=(32, 32, 39)),  # after the primer's conv
        "large": dict(shape=(256, 32, 989)),
    },
    "maxpool1d": {
        "tiny": dict(B=2, C=3, L=16, kernel_size=4),
        "primer": dict(B=32, C=32, L=39, kernel_size=4),
        "large": dict(B=256, C=32, L=989, kernel_size=4),
    },
    "linear": {
        "tiny": dict(N=4, n_in=12, n_out=3),
        "primer": dict(N=32, n_in=288, n_out=16),
        "large": dict(N=256, n_in=7904, n_out=16),
    },
    "bce_with_logits": {
        "tiny": dict(N=4),
        "primer": dict(N=32),
        "large": dict(N=256),
    },
    "attention": {
        "tiny": dict(B=2, H=4, L=3),
        "primer": dict(B=32, H=32, L=9),
        "large": dict(B=256, H=32, L=247),
    },
    "adam": {
        # parameter counts of the primer CNN at length 50 and at length 1000
        "tiny": dict(n=50),
        "primer": dict(n=4 * 32 * 12 + 32 + 288 * 16 + 16 + 16 + 1),
        "large": dict(n=4 * 32 * 12 + 32 + 7904 * 16 + 16 + 16 + 1),
    },
}

SIZES["conv1d_nodx"] = SIZES["conv1d_onehot"] = SIZES["conv1d"]
KERNELS = tuple(SIZES)
PHASES = ("fwd", "bwd", "fwdbwd")
ADAM_PHASES = ("step",)
ADAM_STEPS = 3  # steps taken before the parameters are compared
F64_PREFIX = "f64/"  # torch's float64 results in the outputs file: "f64/<kernel>/<size>/<name>"
ADAM_HYPER = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)


def phases_of(kernel: str) -> tuple[str, ...]:
    return ADAM_PHASES if kernel == "adam" else PHASES


def shape_label(kernel: str, size: str) -> str:
    """A short human-readable description of the case's shape."""
    p = SIZES[kernel][size]
    if kernel == "conv1d_nodx":
        return shape_label("conv1d", size) + " no dx"
    if kernel == "conv1d_onehot":
        return shape_label("conv1d", size) + " one-hot, no dx"
    if kernel == "conv1d":
        return f"x({p['B']},{p['C_in']},{p['L']}) w({p['C_out']},{p['C_in']},{p['K']})"
    if kernel == "relu":
        return "x(" + ",".join(map(str, p["shape"])) + ")"
    if kernel == "maxpool1d":
        return f"x({p['B']},{p['C']},{p['L']}) k={p['kernel_size']}"
    if kernel == "linear":
        return f"x({p['N']},{p['n_in']}) w({p['n_out']},{p['n_in']})"
    if kernel == "bce_with_logits":
        return f"logits({p['N']},) mean"
    if kernel == "attention":
        return f"B={p['B']} L={p['L']} H={p['H']}"
    if kernel == "adam":
        return f"{p['n']} params"
    raise KeyError(kernel)


def case_seed(kernel: str, size: str) -> int:
    return zlib.crc32(f"{kernel}/{size}".encode())


def _uniform(rng, shape, bound=1.0):
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def make_inputs(kernel: str, size: str) -> dict[str, np.ndarray]:
    """The case's float32 inputs (and upstream gradient ``dy``), identical in every worker."""
    if kernel == "conv1d_nodx":
        return make_inputs("conv1d", size)
    if kernel == "conv1d_onehot":
        inp = make_inputs("conv1d", size)
        B, C, L = inp["x"].shape
        rng = np.random.default_rng(case_seed(kernel, size))
        base = rng.integers(0, C, size=(B, L))
        x = np.zeros((B, C, L), dtype=np.float32)
        x[np.arange(B)[:, None], base, np.arange(L)[None, :]] = 1.0
        x[:, :, rng.random(L) < 0.02] = 0.0  # a few N columns
        return {**inp, "x": x}
    p = SIZES[kernel][size]
    rng = np.random.default_rng(case_seed(kernel, size))
    if kernel == "conv1d":
        bound = 1.0 / np.sqrt(p["C_in"] * p["K"])
        L_out = p["L"] - p["K"] + 1
        return dict(
            x=(rng.random((p["B"], p["C_in"], p["L"])) < 0.25).astype(np.float32),  # one-hot-like
            w=_uniform(rng, (p["C_out"], p["C_in"], p["K"]), bound),
            b=_uniform(rng, (p["C_out"],), bound),
            dy=_uniform(rng, (p["B"], p["C_out"], L_out)),
        )
    if kernel == "relu":
        return dict(x=_uniform(rng, p["shape"]), dy=_uniform(rng, p["shape"]))
    if kernel == "maxpool1d":
        L_out = p["L"] // p["kernel_size"]
        return dict(
            x=_uniform(rng, (p["B"], p["C"], p["L"])),
            dy=_uniform(rng, (p["B"], p["C"], L_out)),
        )
    if kernel == "linear":
        bound = 1.0 / np.sqrt(p["n_in"])
        return dict(
            x=_uniform(rng, (p["N"], p["n_in"])),
            w=_uniform(rng, (p["n_out"], p["n_in"]), bound),
            b=_uniform(rng, (p["n_out"],), bound),
            dy=_uniform(rng, (p["N"], p["n_out"])),
        )
    if kernel == "bce_with_logits":
        return dict(
            logits=_uniform(rng, (p["N"],), 3.0),
            targets=(rng.random(p["N"]) < 0.5).astype(np.float32),
        )
    if kernel == "attention":
        B, H, L = p["B"], p["H"], p["L"]
        bound = 1.0 / np.sqrt(2 * H)
        return dict(
            q=rng.random((B, H)).astype(np.float32),  # mean of ReLU features: >= 0
            k=rng.random((B, H, L)).astype(np.float32),
            W=_uniform(rng, (H, 2 * H), bound),
            b=_uniform(rng, (H,), bound),
            v=rng.random(H).astype(np.float32),
            d_context=_uniform(rng, (B, H)),
        )
    if kernel == "adam":
        n = p["n"]
        return dict(
            param=_uniform(rng, (n,), 0.1),
            grads=_uniform(rng, (ADAM_STEPS, n), 0.01),
        )
    raise KeyError(kernel)


# ----------------------------------------------------------------------------- motifnet
class Case:
    """A case bound to one library: ``phases[name]()`` runs one call; ``outputs()`` the results."""

    def __init__(self, phases: dict, outputs):
        self.phases = phases
        self.outputs = outputs


def motifnet_case(kernel: str, size: str, api: str = "unchecked") -> Case:
    """The case's calls into motifnet's kernels (unchecked entry points or public wrappers)."""
    inp = make_inputs(kernel, size)
    public = api == "public"

    if kernel in ("conv1d", "conv1d_nodx"):
        from motifnet.kernels import conv1d as m

        x, w, b, dy = inp["x"], inp["w"], inp["b"], inp["dy"]
        need_dx = kernel == "conv1d"
        if public:
            fwd = lambda: m.conv1d_forward(x, w, b)  # noqa: E731
            bwd = lambda: m.conv1d_backward(dy, x, w, need_dx=need_dx)  # noqa: E731
        else:
            fwd = lambda: m._conv1d_forward(x, w, b, 1, 0, 1)  # noqa: E731
            bwd = lambda: m._conv1d_backward(dy, x, w, 1, 0, 1, need_dx)  # noqa: E731

        def outputs():
            dx, dw, db = bwd()
            return dict(y=fwd(), dx=dx, dw=dw, db=db) if need_dx else dict(y=fwd(), dw=dw, db=db)

        return Case(dict(fwd=fwd, bwd=bwd, fwdbwd=lambda: (fwd(), bwd())), outputs)

    if kernel == "conv1d_onehot":
        from motifnet.kernels import conv1d_onehot as m

        x, w, b, dy = inp["x"], inp["w"], inp["b"], inp["dy"]
        C_in, K = w.shape[1], w.shape[2]
        if public:
            fwd = lambda: m.conv1d_onehot_forward(x, w, b)  # noqa: E731
            bk = lambda codes: m.conv1d_onehot_backward(dy, codes, w.shape)  # noqa: E731
        else:
            fwd = lambda: m._conv1d_onehot_forward(x, w, b, 1, 0, 1)  # noqa: E731  (y, codes, ok)
            bk = lambda codes: m._conv1d_onehot_backward(dy, codes, C_in, K, 1, 0, 1)  # noqa: E731
        codes0 = fwd()[1]

        def outputs():
            y, codes = fwd()[:2]
            dw, db = bk(codes)
            return dict(y=y, dw=dw, db=db)

        return Case(dict(fwd=fwd, bwd=lambda: bk(codes0), fwdbwd=lambda: bk(fwd()[1])), outputs)

    if kernel == "relu":
        from motifnet.kernels import relu as m

        x, dy = inp["x"], inp["dy"]
        if public:
            f, bk = m.relu_forward, m.relu_backward
        else:  # the unchecked kernels take 1-D views, as motifnet.layers.ReLU passes them
            f = lambda a: m._relu_forward(a.reshape(-1)).reshape(a.shape)  # noqa: E731
            bk = lambda d, y: m._relu_backward(d.reshape(-1), y.reshape(-1)).reshape(d.shape)  # noqa: E731
        y0 = f(x)
        fwd = lambda: f(x)  # noqa: E731
        bwd = lambda: bk(dy, y0)  # noqa: E731
        return Case(
            dict(fwd=fwd, bwd=bwd, fwdbwd=lambda: bk(dy, f(x))),
            lambda: dict(y=f(x), dx=bk(dy, f(x))),
        )

    if kernel == "maxpool1d":
        from motifnet.kernels import maxpool1d as m

        x, dy, k = inp["x"], inp["dy"], SIZES[kernel][size]["kernel_size"]
        L = x.shape[2]
        if public:
            f = lambda: m.maxpool1d_forward(x, k)  # noqa: E731
            bk = lambda idx: m.maxpool1d_backward(dy, idx, L)  # noqa: E731
        else:
            f = lambda: m._maxpool1d_forward(x, k, k, 0, 1)  # noqa: E731
            bk = lambda idx: m._maxpool1d_backward(dy, idx, L)  # noqa: E731
        _, idx0 = f()

        def outputs():
            y, idx = f()
            return dict(y=y, dx=bk(idx))

        return Case(dict(fwd=f, bwd=lambda: bk(idx0), fwdbwd=lambda: bk(f()[1])), outputs)

    if kernel == "linear":
        from motifnet.kernels import linear as m

        x, w, b, dy = inp["x"], inp["w"], inp["b"], inp["dy"]
        if public:
            fwd = lambda: m.linear_forward(x, w, b)  # noqa: E731
            bwd = lambda: m.linear_backward(dy, x, w)  # noqa: E731
        else:
            fwd = lambda: m._linear_forward(x, w, b)  # noqa: E731
            bwd = lambda: m._linear_backward(dy, x, w, True)  # noqa: E731

        def outputs():
            dx, dw, db = bwd()
            return dict(y=fwd(), dx=dx, dw=dw, db=db)

        return Case(dict(fwd=fwd, bwd=bwd, fwdbwd=lambda: (fwd(), bwd())), outputs)

    if kernel == "bce_with_logits":
        from motifnet.kernels import bce_with_logits as m

        logits, targets = inp["logits"], inp["targets"]
        if public:
            fwd = lambda: m.bce_with_logits_forward(logits, targets)  # noqa: E731
            bwd = lambda: m.bce_with_logits_backward(logits, targets)  # noqa: E731
        else:
            fwd, bwd = _bce_unchecked(m, logits, targets)
        return Case(
            dict(fwd=fwd, bwd=bwd, fwdbwd=lambda: (fwd(), bwd())),
            lambda: dict(loss=np.asarray(fwd(), dtype=np.float32).reshape(()), d_logits=bwd()),
        )

    if kernel == "attention":
        from motifnet.kernels import attention as m

        q, k, W, b, v, dc = (inp[n] for n in ("q", "k", "W", "b", "v", "d_context"))
        if public:
            fwd = lambda: m.attention_forward(q, k, W, b, v)  # noqa: E731
            bwd = lambda: m.attention_backward(dc, q, k, W, b, v)  # noqa: E731
            fwdbwd = lambda: (fwd(), bwd())  # noqa: E731
            grads = bwd
        else:
            fwd, bwd, fwdbwd, grads = _attention_unchecked(m, q, k, W, b, v, dc)

        def outputs():
            context, weights = fwd()[:2]
            dq, dk, dW, db, dv = grads()
            return dict(context=context, weights=weights, dq=dq, dk=dk, dW=dW, db=db, dv=dv)

        return Case(dict(fwd=fwd, bwd=bwd, fwdbwd=fwdbwd), outputs)

    if kernel == "adam":
        from motifnet.kernels import adam as m

        h = ADAM_HYPER
        param = inp["param"].copy()
        m1, m2 = np.zeros_like(param), np.zeros_like(param)
        grad = inp["grads"][0].copy()
        state = {"step": 0}

        def step():
            state["step"] += 1
            if public:
                m.adam_step(param, grad, m1, m2, state["step"], **h)
            else:
                m._adam_step(param, grad, m1, m2, state["step"], h["lr"], h["betas"][0], h["betas"][1], h["eps"], h["weight_decay"])

        def outputs():
            p, a, s = inp["param"].copy(), np.zeros_like(param), np.zeros_like(param)
            for i in range(ADAM_STEPS):
                g = np.ascontiguousarray(inp["grads"][i])
                if public:
                    m.adam_step(p, g, a, s, i + 1, **h)
                else:
                    m._adam_step(p, g, a, s, i + 1, h["lr"], h["betas"][0], h["betas"][1], h["eps"], h["weight_decay"])
            return dict(param=p, exp_avg=a, exp_avg_sq=s)

        return Case(dict(step=step), outputs)

    raise KeyError(kernel)


def _bce_unchecked(m, logits, targets):
    """bce's unchecked entry points as motifnet.layers.BCEWithLogitsLoss calls them.

    ``_bce_with_logits_forward(logits1d, targets1d, pos_weight1d, reduction_code) -> loss1d``
    and ``_bce_with_logits_backward(..., reduction_code, d_loss1d)``; no pos_weight is a
    one-element array of ones, the reduced loss and d_loss are one-element arrays.
    """
    pos_weight = np.ones(1, logits.dtype)
    d_loss = np.ones(1, logits.dtype)
    code = m.REDUCTION_MEAN
    fwd = lambda: m._bce_with_logits_forward(logits, targets, pos_weight, code)[0]  # noqa: E731
    bwd = lambda: m._bce_with_logits_backward(logits, targets, pos_weight, code, d_loss)  # noqa: E731
    return fwd, bwd


def _attention_unchecked(m, q, k, W, b, v, dc):
    """Attention's unchecked entry points: the forward returns its cache, the backward takes it.

    ``_attention_forward(q, k, W, bias, v) -> (context, weights, energy)`` and
    ``_attention_backward(d_context, q, k, W, v, weights, energy) -> (dq, dk, dW, db, dv)``.
    """
    f, bk = m._attention_forward, m._attention_backward
    fwd = lambda: f(q, k, W, b, v)  # noqa: E731
    _, weights0, energy0 = fwd()
    bwd = lambda: bk(dc, q, k, W, v, weights0, energy0)  # noqa: E731

    def fwdbwd():
        _, weights, energy = fwd()
        return bk(dc, q, k, W, v, weights, energy)

    return fwd, bwd, fwdbwd, bwd


# -------------------------------------------------------------------------------- torch
def torch_case(kernel: str, size: str, dtype=np.float32) -> Case:
    """The same case in torch: functional ops, forward + backward through autograd.

    ``dtype=np.float64`` runs it on the same inputs converted to float64: the
    near-exact answer the validation measures both float32 results against.
    """
    import torch
    import torch.nn.functional as F

    inp = {n: a.astype(dtype) for n, a in make_inputs(kernel, size).items()}
    T = {n: torch.from_numpy(a) for n, a in inp.items()}

    def leaf(name):
        return T[name].clone().requires_grad_(True)

    def autograd_case(forward, leaves: dict, grad_outputs, out_names, leaf_names, grad_names=None):
        """forward() -> tuple of outputs; the first is differentiated with grad_outputs."""
        grad_names = grad_names or ["d" + n for n in leaf_names]
        params = [leaves[n] for n in leaf_names]
        graph = {"out": forward()}

        def fwd():
            return forward()

        def bwd():
            return torch.autograd.grad(graph["out"][0], params, grad_outputs, retain_graph=True)

        def fwdbwd():
            out = forward()
            return torch.autograd.grad(out[0], params, grad_outputs)

        def outputs():
            out = forward()
            grads = torch.autograd.grad(out[0], params, grad_outputs)
            res = {n: o.detach().numpy() for n, o in zip(out_names, out)}
            res.update({n: g.numpy() for n, g in zip(grad_names, grads)})
            return res

        return Case(dict(fwd=fwd, bwd=bwd, fwdbwd=fwdbwd), outputs)

    if kernel == "conv1d":
        L = dict(x=leaf("x"), w=leaf("w"), b=leaf("b"))
        return autograd_case(lambda: (F.conv1d(L["x"], L["w"], L["b"]),), L, T["dy"], ["y"], ["x", "w", "b"])
    if kernel in ("conv1d_nodx", "conv1d_onehot"):  # x is data: autograd computes only dw and db
        L = dict(w=leaf("w"), b=leaf("b"))
        return autograd_case(lambda: (F.conv1d(T["x"], L["w"], L["b"]),), L, T["dy"], ["y"], ["w", "b"])
    if kernel == "relu":
        L = dict(x=leaf("x"))
        return autograd_case(lambda: (torch.relu(L["x"]),), L, T["dy"], ["y"], ["x"])
    if kernel == "maxpool1d":
        k = SIZES[kernel][size]["kernel_size"]
        L = dict(x=leaf("x"))
        return autograd_case(lambda: (F.max_pool1d(L["x"], k),), L, T["dy"], ["y"], ["x"])
    if kernel == "linear":
        L = dict(x=leaf("x"), w=leaf("w"), b=leaf("b"))
        return autograd_case(lambda: (F.linear(L["x"], L["w"], L["b"]),), L, T["dy"], ["y"], ["x", "w", "b"])
    if kernel == "bce_with_logits":
        L = dict(logits=leaf("logits"))
        targets = T["targets"]
        return autograd_case(
            lambda: (F.binary_cross_entropy_with_logits(L["logits"], targets),),
            L, None, ["loss"], ["logits"], ["d_logits"],
        )
    if kernel == "attention":
        from benchmarks.torch_models import SimpleAttention

        attn = SimpleAttention.from_arrays(inp["W"], inp["b"], inp["v"])
        q = leaf("q")
        # the tutorial's module takes keys as (B, L, H); ours are (B, H, L)
        k_blh = torch.from_numpy(np.ascontiguousarray(inp["k"].transpose(0, 2, 1))).requires_grad_(True)
        L = dict(q=q, k=k_blh)
        params = [q, k_blh, attn.attn.weight, attn.attn.bias, attn.v]
        dc = T["d_context"]

        def forward():
            return attn(q, k_blh)

        graph = {"out": forward()}

        def outputs():
            context, weights = forward()
            dq, dk, dW, db, dv = torch.autograd.grad(context, params, dc)
            return dict(
                context=context.detach().numpy(), weights=weights.detach().numpy(), dq=dq.numpy(),
                dk=np.ascontiguousarray(dk.numpy().transpose(0, 2, 1)), dW=dW.numpy(), db=db.numpy(), dv=dv.numpy(),
            )

        return Case(
            dict(
                fwd=forward,
                bwd=lambda: torch.autograd.grad(graph["out"][0], params, dc, retain_graph=True),
                fwdbwd=lambda: torch.autograd.grad(forward()[0], params, dc),
            ),
            outputs,
        )
    if kernel == "adam":
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
    raise KeyError(kernel)
