"""Layers: thin stateful wrappers around the kernels, torch's names and layouts.

Every layer has ``forward(x)``, which keeps what its backward needs, and
``backward(dy)``, which ADDS the parameter gradients into ``param.grad`` (torch's
accumulate semantics; the optimizer's ``zero_grad`` clears them) and returns
``dx``.  Layers call the kernels' UNCHECKED entry points: the shapes are right
by construction and the model validates its input once, so the hot path does no
argument checking.

Parameters start life as separate arrays; a model then packs all of its
parameters into ONE flat buffer (and their gradients into another) with
``pack_parameters``, rebinding each ``Parameter.data``/``.grad`` to a view of
it.  That makes an Adam step one kernel call over the whole model.  Layers
therefore always read ``self.weight.data`` at call time, never a cached array.

Initialisation follows torch: ``nn.Conv1d``/``nn.Linear`` use
``kaiming_uniform_(a=sqrt(5))``, i.e. weight and bias ~ U(-1/sqrt(fan_in),
1/sqrt(fan_in)) with fan_in = in_channels * kernel_size (conv) or in_features
(linear); the attention's ``v`` ~ U(0, 1) (``torch.rand``).  Values are drawn
from a seeded NumPy Generator, so they are reproducible but not torch's numbers.
"""

from __future__ import annotations

import math

import numpy as np

from motifnet.kernels.attention import _attention_backward, _attention_forward
from motifnet.kernels.bce_with_logits import (REDUCTION_MEAN, REDUCTION_NONE, REDUCTION_SUM, _bce_with_logits_backward,
                                     _bce_with_logits_forward)
from motifnet.kernels.conv1d import _conv1d_backward, _conv1d_forward
from motifnet.kernels.conv1d_onehot import _conv1d_onehot_backward, _conv1d_onehot_forward
from motifnet.kernels.linear import _linear_backward, _linear_forward
from motifnet.kernels.maxpool1d import _maxpool1d_backward, _maxpool1d_forward
from motifnet.kernels.relu import relu_backward_into, relu_forward_into


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape and dtype).

    After ``pack_parameters`` both are views into the model's flat buffers
    ``flat_data``/``flat_grad`` starting at ``offset``.
    """

    __slots__ = ("data", "grad", "flat_data", "flat_grad", "offset")

    def __init__(self, data: np.ndarray):
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)
        self.flat_data = None
        self.flat_grad = None
        self.offset = 0

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def pack_parameters(params: dict[str, Parameter], dtype) -> tuple[np.ndarray, np.ndarray]:
    """Move every parameter into one flat data buffer and one flat grad buffer (in order)."""
    total = sum(p.data.size for p in params.values())
    flat_data = np.zeros(total, dtype=dtype)
    flat_grad = np.zeros(total, dtype=dtype)
    offset = 0
    for p in params.values():
        n = p.data.size
        flat_data[offset:offset + n] = p.data.reshape(-1)
        p.data = flat_data[offset:offset + n].reshape(p.data.shape)
        p.grad = flat_grad[offset:offset + n].reshape(p.data.shape)
        p.flat_data, p.flat_grad, p.offset = flat_data, flat_grad, offset
        offset += n
    return flat_data, flat_grad


def _uniform(rng: np.random.Generator, bound: float, shape, dtype) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Conv1d:
    """``nn.Conv1d``: x (B, C_in, L) -> y (B, C_out, L_out); weight (C_out, C_in, K).

    A first layer on DNA sees one-hot input, where the convolution is a sum of looked-up
    weights instead of multiply-adds (``kernels/conv1d_onehot.py``, ~1.4x faster forward
    and backward at the primer's shape).  So with 4 input channels ``forward`` tries the
    one-hot kernel first: it scans x as it encodes it and reports a column that is not
    one-hot, and the layer then uses the dense kernel (same result up to the order of the
    float sums).  ``backward`` needs the dense kernel for an input gradient (saliency).
    ``use_onehot = False`` forces the dense path.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, rng=None, dtype=np.float32):
        rng = _rng(rng)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation = stride, padding, dilation
        bound = 1.0 / math.sqrt(in_channels * kernel_size)
        self.weight = Parameter(_uniform(rng, bound, (out_channels, in_channels, kernel_size), dtype))
        # no bias = a bias of zeros that is never trained (the kernels take no None)
        self.bias = Parameter(_uniform(rng, bound, (out_channels,), dtype)) if bias else None
        self._zero_bias = np.zeros(out_channels, dtype=dtype)
        self.use_onehot = in_channels == 4  # A, C, G, T
        self.x = None
        self.codes = None  # the one-hot forward's codes (B, L) int8, None after a dense forward

    def output_length(self, length: int) -> int:
        return (length + 2 * self.padding - self.dilation * (self.kernel_size - 1) - 1) // self.stride + 1

    def parameters(self) -> dict[str, Parameter]:
        return {"weight": self.weight} | ({"bias": self.bias} if self.bias is not None else {})

    def forward(self, x):
        self.x = x
        self.codes = None
        bias = self.bias.data if self.bias is not None else self._zero_bias
        args = (self.weight.data, bias, self.stride, self.padding, self.dilation)
        if self.use_onehot:
            y, codes, ok = _conv1d_onehot_forward(x, *args)
            if ok:
                self.codes = codes
                return y
        return _conv1d_forward(x, *args)  # x is not one-hot (or use_onehot is off)

    def backward(self, dy, need_input_grad=True):
        conf = (self.stride, self.padding, self.dilation)
        if self.codes is not None and not need_input_grad:
            dx = None
            dw, db = _conv1d_onehot_backward(dy, self.codes, self.in_channels, self.kernel_size, *conf)
        else:
            dx, dw, db = _conv1d_backward(dy, self.x, self.weight.data, *conf, need_input_grad)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        return dx if need_input_grad else None


class MaxPool1d:
    """``nn.MaxPool1d``: x (B, C, L) -> y (B, C, L_out); keeps the argmax for backward."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.argmax = None
        self.input_length = 0

    def output_length(self, length: int) -> int:
        return (length + 2 * self.padding - self.dilation * (self.kernel_size - 1) - 1) // self.stride + 1

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def forward(self, x):
        y, self.argmax = _maxpool1d_forward(x, self.kernel_size, self.stride, self.padding, self.dilation)
        self.input_length = x.shape[2]
        return y

    def backward(self, dy):
        return _maxpool1d_backward(dy, self.argmax, self.input_length)


class Linear:
    """``nn.Linear``: x (..., in) -> y (..., out); weight (out, in)."""

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        rng = _rng(rng)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(_uniform(rng, bound, (out_features, in_features), dtype))
        self.bias = Parameter(_uniform(rng, bound, (out_features,), dtype)) if bias else None
        self._zero_bias = np.zeros(out_features, dtype=dtype)
        self.x2d = None

    def parameters(self) -> dict[str, Parameter]:
        return {"weight": self.weight} | ({"bias": self.bias} if self.bias is not None else {})

    def forward(self, x):
        self.x2d = x.reshape(-1, self.in_features)  # a view: x is C-contiguous
        bias = self.bias.data if self.bias is not None else self._zero_bias
        y2d = _linear_forward(self.x2d, self.weight.data, bias)
        return y2d if x.ndim == 2 else y2d.reshape(x.shape[:-1] + (self.out_features,))

    def backward(self, dy, need_input_grad=True):
        dx2d, dw, db = _linear_backward(dy.reshape(-1, self.out_features), self.x2d, self.weight.data,
                                        need_input_grad)
        self.weight.grad += dw
        if self.bias is not None:
            self.bias.grad += db
        if not need_input_grad:
            return None
        return dx2d if dy.ndim == 2 else dx2d.reshape(dy.shape[:-1] + (self.in_features,))


class ReLU:
    """``nn.ReLU``; backward lets the gradient through where the output is > 0."""

    def __init__(self):
        self.y = None

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def forward(self, x):
        self.y = np.empty_like(x)
        relu_forward_into(x, self.y)
        return self.y

    def backward(self, dy):
        dx = np.zeros_like(dy)
        relu_backward_into(dy, self.y, dx)
        return dx


class Flatten:
    """``nn.Flatten``: (B, C, L) -> (B, C*L), a view."""

    def __init__(self):
        self.shape = None

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self.shape)


class AdditiveAttention:
    """Additive (Bahdanau) attention, the follow-up tutorial's ``SimpleAttention``.

    q (B, H), keys = values k (B, H, L) (the pooled conv features as they are);
    ``W`` (H, 2H) and ``b`` (H,) are ``nn.Linear(2H, H)`` acting on [q ; k_l],
    ``v`` (H,).  Returns context (B, H) and weights (B, L).
    """

    def __init__(self, hidden, rng=None, dtype=np.float32):
        rng = _rng(rng)
        self.hidden = hidden
        bound = 1.0 / math.sqrt(2 * hidden)
        self.W = Parameter(_uniform(rng, bound, (hidden, 2 * hidden), dtype))
        self.b = Parameter(_uniform(rng, bound, (hidden,), dtype))
        self.v = Parameter(rng.uniform(0.0, 1.0, size=hidden).astype(dtype))
        self.q = self.k = self.weights = self.energy = None

    def parameters(self) -> dict[str, Parameter]:
        return {"W": self.W, "b": self.b, "v": self.v}

    def forward(self, q, k):
        self.q, self.k = q, k
        # the kernel's cache: weights (B, L) and energy (B, L, H), so backward skips recomputing them
        context, self.weights, self.energy = _attention_forward(q, k, self.W.data, self.b.data, self.v.data)
        return context, self.weights

    def backward(self, d_context):
        dq, dk, dW, db, dv = _attention_backward(d_context, self.q, self.k, self.W.data, self.v.data,
                                                 self.weights, self.energy)
        self.W.grad += dW
        self.b.grad += db
        self.v.grad += dv
        return dq, dk


class BCEWithLogitsLoss:
    """``nn.BCEWithLogitsLoss``: forward(logits, targets) -> float ("mean"/"sum") or array ("none").

    ``pos_weight``: None, a float, or an array broadcastable over the logits' last
    dimension, as torch.  ``backward(d_loss=1.0)`` returns d_logits (logits' shape).
    """

    def __init__(self, pos_weight=None, reduction="mean"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")
        self.pos_weight = None if pos_weight is None else np.atleast_1d(np.asarray(pos_weight)).reshape(-1)
        self.reduction = reduction
        self._code = _REDUCTIONS[reduction]
        self.logits1d = self.targets1d = None
        self.shape = None
        self._per_dtype = {}  # dtype -> (pos_weight1d, one-element d_loss buffer)

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def _buffers(self, dtype):
        bufs = self._per_dtype.get(dtype)
        if bufs is None:
            pw = np.ones(1, dtype) if self.pos_weight is None else self.pos_weight.astype(dtype)
            bufs = self._per_dtype[dtype] = (pw, np.ones(1, dtype))
        return bufs

    def forward(self, logits, targets):
        self.shape = logits.shape
        self.logits1d, self.targets1d = logits.reshape(-1), targets.reshape(-1)
        loss = _bce_with_logits_forward(self.logits1d, self.targets1d, self._buffers(logits.dtype)[0],
                                        self._code)
        return loss.reshape(self.shape) if self._code == REDUCTION_NONE else float(loss[0])

    def backward(self, d_loss=1.0):
        pos_weight, d_loss1 = self._buffers(self.logits1d.dtype)
        if self._code == REDUCTION_NONE:
            d_loss1 = np.ascontiguousarray(np.broadcast_to(d_loss, self.shape), self.logits1d.dtype).reshape(-1)
        else:
            d_loss1[0] = d_loss
        return _bce_with_logits_backward(self.logits1d, self.targets1d, pos_weight, self._code,
                                         d_loss1).reshape(self.shape)


_REDUCTIONS = {"none": REDUCTION_NONE, "mean": REDUCTION_MEAN, "sum": REDUCTION_SUM}
