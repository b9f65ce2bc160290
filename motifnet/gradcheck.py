"""Central finite differences: the proof that every backward pass is right.

For a kernel with inputs ``x1, x2, ...`` and output ``y`` we pick a fixed random
projection ``g`` and check the gradient of the scalar ``loss = sum(g * y)``:
the backward kernel, fed ``dy = g``, must return ``d loss / d xi`` for every
input, and central differences compute the same numbers without it::

    d loss / d x[i]  ~=  (loss(x + eps e_i) - loss(x - eps e_i)) / (2 eps)

in float64 with ``eps = 1e-6`` (truncation error ~eps**2, rounding ~1e-16/eps).

Error norm (used everywhere in motifnet): for analytic gradient ``a`` and
numerical gradient ``n`` of one argument,

    max_abs_err = max_i |a_i - n_i|
    max_rel_err = max_abs_err / max(max_i |n_i|, 1e-12)

i.e. the max-norm of the error relative to the max-norm of the gradient.  A
check passes when ``max_rel_err <= 1e-6``.

``motifnet gradcheck`` runs every op of the registry (``motifnet.kernels.registry``)
and every model on random shapes and prints one row per (op, argument), with the
derivation in the op's file that the row checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

EPS = 1e-6
REL_TOL = 1e-6


def numerical_gradient(loss: Callable[[], float], x: np.ndarray, eps: float = EPS,
                       indices=None) -> np.ndarray:
    """Central-difference gradient of ``loss()`` with respect to ``x`` (perturbed in place).

    ``indices`` (flat) limits the work to those elements; the others stay 0.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)  # a view: perturbing it perturbs x
    gflat = grad.reshape(-1)
    for i in (range(flat.size) if indices is None else indices):
        original = flat[i]
        flat[i] = original + eps
        plus = loss()
        flat[i] = original - eps
        minus = loss()
        flat[i] = original
        gflat[i] = (plus - minus) / (2.0 * eps)
    return grad


def gradient_errors(analytic: np.ndarray, numeric: np.ndarray) -> tuple[float, float]:
    """(max_abs_err, max_rel_err) in the max-norm described in the module docstring."""
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"gradient shape {analytic.shape} != input shape {numeric.shape}")
    if analytic.size == 0:
        return 0.0, 0.0
    max_abs = float(np.max(np.abs(analytic - numeric)))
    scale = max(float(np.max(np.abs(numeric))), 1e-12)
    return max_abs, max_abs / scale


@dataclass
class Case:
    """One finite-difference check.

    ``loss()`` evaluates the scalar loss from the current contents of
    ``inputs`` (which ``numerical_gradient`` perturbs in place) and
    ``analytic()`` returns the backward pass's gradient for each name in
    ``inputs``.  ``derivation`` says where the gradients checked are derived.
    """

    kernel: str
    shape: str
    inputs: dict[str, np.ndarray]
    loss: Callable[[], float]
    analytic: Callable[[], dict[str, np.ndarray]]
    derivation: str = ""
    eps: float = EPS


@dataclass
class Result:
    kernel: str
    shape: str
    argument: str
    max_abs_err: float
    max_rel_err: float
    derivation: str = ""

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_rel_err)) and self.max_rel_err <= REL_TOL


def run_case(case: Case) -> list[Result]:
    """Compare the analytic gradient of every input of ``case`` with central differences."""
    analytic = case.analytic()
    results = []
    for name, x in case.inputs.items():
        numeric = numerical_gradient(case.loss, x, case.eps)
        abs_err, rel_err = gradient_errors(analytic[name], numeric)
        results.append(Result(case.kernel, case.shape, name, abs_err, rel_err, case.derivation))
    return results


# ----------------------------------------------------------------------------------------
# The cases: one per op of the registry (its shapes drawn as hypothesis draws them in the
# tests), and one per model (every parameter and the input of a small float64 model).

def op_case(op, rng: np.random.Generator) -> Case:
    """A Case for ``op`` on a random valid configuration, float64, away from kinks."""
    from motifnet.kernels.registry import projected_loss, random_d_outputs, run_fast, sample_config

    config = sample_config(op, rng)
    inputs = op.make_inputs(config, rng, np.float64, True)
    d_outputs = random_d_outputs(op, config, run_fast(op, config, inputs), rng)
    wanted = op.grad_inputs(config)

    def analytic():
        out = run_fast(op, config, inputs, d_outputs)
        return {name: out["d_" + name] for name in wanted}

    return Case(op.name, op.describe(config), {name: inputs[name] for name in wanted},
                lambda: projected_loss(op, config, inputs, d_outputs), analytic, op.derivation, op.fd_eps)


def _model_case(name: str, rng: np.random.Generator) -> Case:
    """``sum(g * logits)`` of a small float64 model on random inputs: every parameter and x.

    (A projection rather than the BCE: its value is small next to its gradients, so the
    finite differences' rounding error (~1e-16 * |loss| / eps) stays far below 1e-6 of
    even the attention parameters' small gradients; the BCE has its own case above.)
    """
    from motifnet.models import build_model

    n_filters, kernel_size, pool_size, hidden = (int(rng.integers(2, 5)), int(rng.integers(2, 6)),
                                                 int(rng.integers(2, 4)), int(rng.integers(2, 5)))
    seq_len = int(rng.integers(kernel_size + 3 * pool_size, 26))  # >= 4 pooled positions
    hyper = dict(n_filters=n_filters, kernel_size=kernel_size, hidden=hidden, dtype=np.float64)
    if name != "deepbind":
        hyper["pool_size"] = pool_size
    model = build_model(name, seq_len=seq_len, seed=int(rng.integers(1 << 30)), **hyper)
    if name == "attention":
        # larger than torch's init: the bias reaches the scores only through tanh's
        # curvature, and the attention's gradients would otherwise come within a factor of
        # a few of the finite differences' rounding (~1e-10 |logit|)
        H = model.attention.hidden
        model.attention.W.data[...] = rng.standard_normal((H, 2 * H)) / np.sqrt(2 * H)
        model.attention.b.data[...] = 0.5 * rng.standard_normal(H)
        model.fc_attn.weight.data[...] *= 3.0  # the attention branch's share of the logit
    B = int(rng.integers(1, 4))
    # not one-hot (every input entry gets a gradient), and wide enough that the attention
    # weights differ between positions
    x = 3.0 * rng.standard_normal((B, 4, seq_len))
    lengths = None
    if name == "deepbind":  # sequences of their own lengths in one padded batch
        lengths = rng.integers(kernel_size, seq_len + 1, size=B).astype(np.int64)
        lengths[0] = seq_len
    g = rng.standard_normal(B)
    params = model.parameters()
    inputs = dict(x=x) | {pname: p.data for pname, p in params.items()}

    def analytic():
        model.forward(x, lengths)
        model.zero_grad()
        dx = model.backward(g, need_input_grad=True)
        return dict(x=dx.copy()) | {pname: p.grad.copy() for pname, p in params.items()}

    shape = f"x{x.shape} filters={n_filters} k={kernel_size} hidden={hidden}"
    shape += "" if name == "deepbind" else f" pool={pool_size}"
    return Case(f"model {name}", shape, inputs, lambda: float(np.sum(g * model.forward(x, lengths))), analytic,
                f"motifnet/models.py, {name}: backward, the forward read backwards")


def _model_case_with_live_gradients(name: str, rng: np.random.Generator, tries: int = 50) -> Case:
    """A model case in which every parameter has a nonzero gradient.

    A small random model can draw a dead unit (a ReLU that is off for every input, say the
    attention branch's): its parameters' gradients are exactly 0 and so are their finite
    differences, and the check would pass without checking anything.  Such draws are
    redrawn.
    """
    for _ in range(tries):
        case = _model_case(name, rng)
        if all(np.any(g != 0) for g in case.analytic().values()):
            return case
    raise RuntimeError(f"no model case for {name} with every gradient nonzero in {tries} draws")


def model_cases(live_gradients: bool = True):
    """A case maker per model; without ``live_gradients``, the first draw as it is (dead units
    or not: what motifnet.warmup's recording needs, which cannot run the kernels to see)."""
    from motifnet.models import MODELS

    draw = _model_case_with_live_gradients if live_gradients else _model_case
    return {f"model_{name}": (lambda rng, name=name: draw(name, rng)) for name in MODELS}


def cases(live_gradients: bool = True) -> dict:
    """Every check by name: the registry's ops, then the models (``model_cases``)."""
    from motifnet.kernels.registry import OPS

    return ({op.name: (lambda rng, op=op: op_case(op, rng)) for op in OPS if op.has_backward}
            | model_cases(live_gradients))
