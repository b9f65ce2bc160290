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

``motifnet gradcheck`` runs every registered case (see ``CASES``) on random
shapes and prints one row per (kernel, argument).
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
    ``inputs``.
    """

    kernel: str
    shape: str
    inputs: dict[str, np.ndarray]
    loss: Callable[[], float]
    analytic: Callable[[], dict[str, np.ndarray]]


@dataclass
class Result:
    kernel: str
    shape: str
    argument: str
    max_abs_err: float
    max_rel_err: float

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.max_rel_err)) and self.max_rel_err <= REL_TOL


def run_case(case: Case) -> list[Result]:
    """Compare the analytic gradient of every input of ``case`` with central differences."""
    analytic = case.analytic()
    results = []
    for name, x in case.inputs.items():
        numeric = numerical_gradient(case.loss, x)
        abs_err, rel_err = gradient_errors(analytic[name], numeric)
        results.append(Result(case.kernel, case.shape, name, abs_err, rel_err))
    return results


# ----------------------------------------------------------------------------------------
# The registry: one function per kernel (layers and models add theirs below), each taking a
# numpy Generator and returning a Case on random float64 inputs of a random shape.

def _projected(y_fn, g):
    return lambda: float(np.sum(g * y_fn()))


def conv1d_case(rng: np.random.Generator) -> Case:
    from motifnet.kernels.conv1d import conv1d_backward, conv1d_forward

    B, C_in, C_out = (int(v) for v in rng.integers(1, 5, size=3))
    K, stride, dilation = int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    padding = int(rng.integers(0, K))
    L = int(rng.integers(max(1, dilation * (K - 1) + 1 - 2 * padding), 40))
    inputs = dict(
        x=rng.standard_normal((B, C_in, L)),
        w=rng.standard_normal((C_out, C_in, K)),
        bias=rng.standard_normal(C_out),
    )
    conf = dict(stride=stride, padding=padding, dilation=dilation)
    y = conv1d_forward(**inputs, **conf)
    g = rng.standard_normal(y.shape)

    def analytic():
        dx, dw, db = conv1d_backward(g, inputs["x"], inputs["w"], **conf)
        return dict(x=dx, w=dw, bias=db)

    shape = f"x{(B, C_in, L)} w{(C_out, C_in, K)} s={stride} p={padding} d={dilation}"
    return Case("conv1d", shape, inputs, _projected(lambda: conv1d_forward(**inputs, **conf), g), analytic)


def maxpool1d_case(rng: np.random.Generator) -> Case:
    from motifnet.kernels.maxpool1d import maxpool1d_backward, maxpool1d_forward

    B, C = (int(v) for v in rng.integers(1, 5, size=2))
    K = int(rng.integers(1, 6))
    stride, dilation, padding = int(rng.integers(1, K + 2)), int(rng.integers(1, 3)), int(rng.integers(0, K // 2 + 1))
    L = int(rng.integers(max(1, dilation * (K - 1) + 1 - 2 * padding), 40))
    inputs = dict(x=rng.standard_normal((B, C, L)))
    conf = dict(kernel_size=K, stride=stride, padding=padding, dilation=dilation)
    y, argmax = maxpool1d_forward(inputs["x"], **conf)
    g = rng.standard_normal(y.shape)

    def analytic():
        _, idx = maxpool1d_forward(inputs["x"], **conf)
        return dict(x=maxpool1d_backward(g, idx, L))

    shape = f"x{(B, C, L)} k={K} s={stride} p={padding} d={dilation}"
    return Case("maxpool1d", shape, inputs, _projected(lambda: maxpool1d_forward(inputs["x"], **conf)[0], g), analytic)


def linear_case(rng: np.random.Generator) -> Case:
    from motifnet.kernels.linear import linear_backward, linear_forward

    lead = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 3))))
    n_in, n_out = (int(v) for v in rng.integers(1, 20, size=2))
    inputs = dict(x=rng.standard_normal(lead + (n_in,)), w=rng.standard_normal((n_out, n_in)), bias=rng.standard_normal(n_out))
    g = rng.standard_normal(lead + (n_out,))

    def analytic():
        dx, dw, db = linear_backward(g, inputs["x"], inputs["w"])
        return dict(x=dx, w=dw, bias=db)

    shape = f"x{lead + (n_in,)} w{(n_out, n_in)}"
    return Case("linear", shape, inputs, _projected(lambda: linear_forward(**inputs), g), analytic)


def relu_case(rng: np.random.Generator) -> Case:
    from motifnet.kernels.relu import relu_backward, relu_forward

    shape = tuple(int(v) for v in rng.integers(1, 8, size=3))
    # keep values away from the kink at 0, where the derivative does not exist
    x = rng.standard_normal(shape)
    x += np.where(x >= 0, 1e-3, -1e-3)
    inputs = dict(x=x)
    g = rng.standard_normal(shape)
    analytic = lambda: dict(x=relu_backward(g, relu_forward(inputs["x"])))  # noqa: E731
    return Case("relu", f"x{shape}", inputs, _projected(lambda: relu_forward(inputs["x"]), g), analytic)


def bce_with_logits_case(rng: np.random.Generator) -> Case:
    from motifnet.kernels.bce_with_logits import bce_with_logits_backward, bce_with_logits_forward

    n = int(rng.integers(1, 65))
    reduction = ("mean", "sum", "none")[int(rng.integers(0, 3))]
    pos_weight = None if rng.random() < 0.5 else np.array([float(rng.uniform(0.2, 5.0))])
    inputs = dict(logits=3.0 * rng.standard_normal(n))
    targets = (rng.random(n) < 0.5).astype(np.float64)
    g = rng.standard_normal(n) if reduction == "none" else 1.0

    def loss():
        out = bce_with_logits_forward(inputs["logits"], targets, pos_weight=pos_weight, reduction=reduction)
        return float(np.sum(g * out))

    def analytic():
        d = bce_with_logits_backward(inputs["logits"], targets, pos_weight=pos_weight, reduction=reduction, d_loss=g)
        return dict(logits=d)

    pw = "none" if pos_weight is None else f"{pos_weight[0]:.2f}"
    return Case("bce_with_logits", f"n={n} reduction={reduction} pos_weight={pw}", inputs, loss, analytic)


def attention_case(rng: np.random.Generator) -> Case:
    from motifnet.kernels.attention import attention_backward, attention_forward

    B, H, L = int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 12))
    inputs = dict(
        q=rng.standard_normal((B, H)),
        k=rng.standard_normal((B, H, L)),
        W=rng.standard_normal((H, 2 * H)) / np.sqrt(2 * H),
        b=0.1 * rng.standard_normal(H),
        v=rng.random(H),
    )
    g = rng.standard_normal((B, H))
    loss = _projected(lambda: attention_forward(**inputs)[0], g)

    def analytic():
        dq, dk, dW, db, dv = attention_backward(g, **inputs)
        return dict(q=dq, k=dk, W=dW, b=db, v=dv)

    return Case("attention", f"q{(B, H)} k{(B, H, L)}", inputs, loss, analytic)


CASES: list[Callable[[np.random.Generator], Case]] = [
    conv1d_case,
    maxpool1d_case,
    linear_case,
    relu_case,
    bce_with_logits_case,
    attention_case,
]


# ---------------------------------------------------------------------------------------
# Layers and models (motifnet/layers.py, motifnet/models.py): the same check through the
# layer objects (parameter grads accumulated by backward) and through whole models.

def _layer_case(name, shape, layers_forward, layers_backward, params, inputs, g):
    """A Case for ``loss = sum(g * forward(*inputs))``; params' grads come from backward."""
    all_inputs = dict(inputs) | {pname: p.data for pname, p in params.items()}

    def analytic():
        for p in params.values():
            p.grad[...] = 0.0
        layers_forward()
        d_inputs = layers_backward(g)
        return d_inputs | {pname: p.grad.copy() for pname, p in params.items()}

    return Case(name, shape, all_inputs, _projected(layers_forward, g), analytic)


def conv_relu_pool_layers_case(rng: np.random.Generator) -> Case:
    from motifnet.layers import Conv1d, MaxPool1d, ReLU

    B, C_in, C_out = (int(v) for v in rng.integers(1, 4, size=3))
    K, stride, padding = int(rng.integers(1, 6)), int(rng.integers(1, 3)), int(rng.integers(0, 3))
    pool_k = int(rng.integers(1, 4))
    conv = Conv1d(C_in, C_out, K, stride=stride, padding=padding, bias=bool(rng.random() < 0.8),
                  rng=rng, dtype=np.float64)
    relu, pool = ReLU(), MaxPool1d(pool_k)
    L = int(rng.integers(max(1, K - 2 * padding) + stride * pool_k, 30))
    x = rng.standard_normal((B, C_in, L))
    y_shape = (B, C_out, pool.output_length(conv.output_length(L)))
    g = rng.standard_normal(y_shape)
    forward = lambda: pool.forward(relu.forward(conv.forward(x)))  # noqa: E731
    backward = lambda dy: dict(x=conv.backward(relu.backward(pool.backward(dy))))  # noqa: E731
    params = {f"conv.{n}": p for n, p in conv.parameters().items()}
    shape = f"x{(B, C_in, L)} conv k={K} s={stride} p={padding} bias={conv.bias is not None} pool {pool_k}"
    return _layer_case("Conv1d+ReLU+MaxPool1d", shape, forward, backward, params, dict(x=x), g)


def linear_layer_case(rng: np.random.Generator) -> Case:
    from motifnet.layers import Linear

    lead = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 3))))
    n_in, n_out = (int(v) for v in rng.integers(1, 12, size=2))
    layer = Linear(n_in, n_out, bias=bool(rng.random() < 0.8), rng=rng, dtype=np.float64)
    x = rng.standard_normal(lead + (n_in,))
    g = rng.standard_normal(lead + (n_out,))
    params = {f"linear.{n}": p for n, p in layer.parameters().items()}
    return _layer_case("Linear", f"x{lead + (n_in,)} out={n_out}", lambda: layer.forward(x),
                       lambda dy: dict(x=layer.backward(dy)), params, dict(x=x), g)


def attention_layer_case(rng: np.random.Generator) -> Case:
    from motifnet.layers import AdditiveAttention

    B, H, L = int(rng.integers(1, 4)), int(rng.integers(2, 7)), int(rng.integers(1, 10))
    layer = AdditiveAttention(H, rng=rng, dtype=np.float64)
    # W as in attention_case, larger than torch's init: q reaches the scores only through
    # tanh's curvature, and a tiny dq would sit at the finite differences' rounding level
    layer.W.data[...] = rng.standard_normal(layer.W.data.shape) / np.sqrt(2 * H)
    q, k = rng.standard_normal((B, H)), rng.standard_normal((B, H, L))
    g = rng.standard_normal((B, H))

    def backward(dy):
        dq, dk = layer.backward(dy)
        return dict(q=dq, k=dk)

    params = {f"attention.{n}": p for n, p in layer.parameters().items()}
    return _layer_case("AdditiveAttention", f"q{(B, H)} k{(B, H, L)}", lambda: layer.forward(q, k)[0],
                       backward, params, dict(q=q, k=k), g)


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
    model = build_model(name, seq_len=seq_len, seed=int(rng.integers(1 << 30)), n_filters=n_filters,
                        kernel_size=kernel_size, pool_size=pool_size, hidden=hidden, dtype=np.float64)
    if name == "attention":
        # larger than torch's init, as in attention_layer_case: the bias reaches the scores
        # only through tanh's curvature, and the attention's gradients would otherwise come
        # within a factor of a few of the finite differences' rounding (~1e-10 |logit|)
        H = model.attention.hidden
        model.attention.W.data[...] = rng.standard_normal((H, 2 * H)) / np.sqrt(2 * H)
        model.attention.b.data[...] = 0.5 * rng.standard_normal(H)
        model.fc_attn.weight.data[...] *= 3.0  # the attention branch's share of the logit
    B = int(rng.integers(1, 4))
    # not one-hot (every input entry gets a gradient), and wide enough that the attention
    # weights differ between positions
    x = 3.0 * rng.standard_normal((B, 4, seq_len))
    g = rng.standard_normal(B)
    params = model.parameters()
    inputs = dict(x=x) | {pname: p.data for pname, p in params.items()}

    def analytic():
        model.forward(x)
        model.zero_grad()
        dx = model.backward(g, need_input_grad=True)
        return dict(x=dx) | {pname: p.grad.copy() for pname, p in params.items()}

    shape = (f"x{x.shape} filters={n_filters} k={kernel_size} pool={pool_size} hidden={hidden}")
    return Case(f"model {name}", shape, inputs, _projected(lambda: model.forward(x), g), analytic)


def cnn_model_case(rng: np.random.Generator) -> Case:
    return _model_case("cnn", rng)


def attention_model_case(rng: np.random.Generator) -> Case:
    return _model_case("attention", rng)


CASES += [
    conv_relu_pool_layers_case,
    linear_layer_case,
    attention_layer_case,
    cnn_model_case,
    attention_model_case,
]


def conv1d_onehot_case(rng: np.random.Generator) -> Case:
    """kernels/conv1d_onehot.py on one-hot DNA with N columns: w and bias (x is data)."""
    from motifnet.kernels.conv1d_onehot import conv1d_onehot_backward, conv1d_onehot_forward

    B, C_out = (int(v) for v in rng.integers(1, 5, size=2))
    K, stride, dilation = int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
    padding = int(rng.integers(0, K))
    L = int(rng.integers(max(1, dilation * (K - 1) + 1 - 2 * padding), 40))
    bases = rng.integers(-1, 4, size=(B, L))  # -1: an N, an all-zero column
    x = np.zeros((B, 4, L))
    b, i = np.nonzero(bases >= 0)
    x[b, bases[b, i], i] = 1.0
    inputs = dict(w=rng.standard_normal((C_out, 4, K)), bias=rng.standard_normal(C_out))
    conf = dict(stride=stride, padding=padding, dilation=dilation)
    y, codes = conv1d_onehot_forward(x, **inputs, **conf)
    g = rng.standard_normal(y.shape)

    def analytic():
        dw, db = conv1d_onehot_backward(g, codes, inputs["w"].shape, **conf)
        return dict(w=dw, bias=db)

    shape = f"x{(B, 4, L)} one-hot w{(C_out, 4, K)} s={stride} p={padding} d={dilation}"
    return Case("conv1d_onehot", shape, inputs,
                _projected(lambda: conv1d_onehot_forward(x, **inputs, **conf)[0], g), analytic)


CASES.append(conv1d_onehot_case)
