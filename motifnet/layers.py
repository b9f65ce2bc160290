"""Layers: thin stateful wrappers around the kernels, torch's names and layouts.

Every layer has ``forward(...)``, which keeps what its backward needs, and
``backward(dy, ...)``, which ADDS the parameter gradients into ``param.grad``
(torch's accumulate semantics; the optimizer's ``zero_grad`` clears them) and
returns the input gradient.  The input gradient is added into the caller's
buffer when one is passed (``dx=...``: a model whose branches meet, such as the
attention model's pooled features, lets every branch add into one buffer) and
into the layer's own zeroed buffer otherwise.

The contract with the kernels is theirs (``motifnet.kernels``): outputs written
into buffers the caller owns, gradients added.  A layer keeps its buffers between
calls of the same shape, so a training step allocates nothing; the arrays a layer
returns are its own, valid until its next call (copy them to keep them).  Layers
validate their arguments once, at construction, and then call the unchecked
kernels; the model validates the data once.

Parameters start life as separate arrays; a model then packs all of its
parameters into ONE flat buffer (and their gradients into another) with
``pack_parameters``, rebinding each ``Parameter.data``/``.grad`` to a view of it.
That makes an Adam step one kernel call over the whole model.  Layers therefore
always read ``self.weight.data`` at call time, never a cached array.

Initialisation follows torch: ``nn.Conv1d``/``nn.Linear`` use
``kaiming_uniform_(a=sqrt(5))``, i.e. weight and bias ~ U(-1/sqrt(fan_in),
1/sqrt(fan_in)) with fan_in = in_channels * kernel_size (conv) or in_features
(linear); the attention's ``v`` ~ U(0, 1) (``torch.rand``).  Values are drawn from
a seeded NumPy Generator, so they are reproducible but not torch's numbers.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from motifnet.kernels.attention import attention_backward_into, attention_forward_into
from motifnet.kernels.bce_with_logits import (REDUCTION_NONE, bce_with_logits_backward_into,
                                              bce_with_logits_forward_into, reduction_code)
from motifnet.kernels.conv1d import conv1d_backward_into, conv1d_forward_into, conv1d_output_length
from motifnet.kernels.conv1d_onehot import (MAX_CHANNELS, conv1d_onehot_backward_into,
                                            conv1d_onehot_forward_into)
from motifnet.kernels.conv1d_onehot_maxpool import (MAX_POOL, conv1d_onehot_maxpool_backward_into,
                                                    conv1d_onehot_maxpool_forward_into)
from motifnet.kernels.conv1d_onehot_globalmax import (conv1d_onehot_globalmax_backward_into,
                                                      conv1d_onehot_globalmax_forward_into)
from motifnet.kernels.global_max import global_max_backward_into, global_max_forward_into
from motifnet.kernels.linear import linear_backward_into, linear_forward_into
from motifnet.kernels.maxpool1d import maxpool1d_backward_into, maxpool1d_forward_into, maxpool1d_output_length
from motifnet.kernels.relu import relu_backward_in_place_into, relu_backward_into, relu_forward_into
from motifnet.kernels.revcomp import revcomp_backward_into, revcomp_forward_into

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------- parameters
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


class Buffers:
    """A layer's arrays, kept between calls while their shape and dtype stay the same."""

    __slots__ = ("_arrays",)

    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` (contents undefined): the last one, or a new one."""
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype=dtype)
        return a

    def zeros(self, name, shape, dtype) -> np.ndarray:
        a = self.get(name, shape, dtype)
        a.fill(0)
        return a


# --------------------------------------------------------------------------- checks
def _positive_int(name, value, minimum=1, maximum=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def float_dtype(dtype) -> np.dtype:
    """``np.dtype(dtype)`` if it is float32 or float64 (what every layer and model computes in)."""
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _uniform(rng: np.random.Generator, bound: float, shape, dtype) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _accumulator(buffers, name, dx, shape, dtype):
    """The buffer an input gradient is added into: the caller's ``dx``, or our own zeroed one."""
    if dx is not None:
        return dx
    return buffers.zeros(name, shape, dtype)


NO_CODES_GRADIENT = ("an input gradient needs the one-hot floats, not base codes: "
                     "pass motifnet.data.one_hot_codes(codes) to forward")


# --------------------------------------------------------------------------- layers
class Conv1d:
    """``nn.Conv1d``: x (B, C_in, L) -> y (B, C_out, L_out); weight (C_out, C_in, K).

    The first layer of a DNA model reads the data's own encoding: base codes, an int8
    array (B, L) (``motifnet.data.encode``; -1 for N or padding), for which the
    convolution is a sum of looked-up weights (``kernels/conv1d_onehot.py``, about 1.4x
    faster forward and backward at the primer's shape than multiply-adds).  A float
    input (B, C_in, L) takes the dense kernel (``kernels/conv1d.py``), which also gives
    the input gradient a saliency map needs.  The data says which: nothing is scanned.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, rng=None, dtype=np.float32):
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.stride = _positive_int("stride", stride)
        self.padding = _positive_int("padding", padding, minimum=0)
        self.dilation = _positive_int("dilation", dilation)
        dtype = float_dtype(dtype)
        rng = _rng(rng)
        bound = 1.0 / math.sqrt(in_channels * kernel_size)
        self.weight = Parameter(_uniform(rng, bound, (out_channels, in_channels, kernel_size), dtype))
        self.bias = Parameter(_uniform(rng, bound, (out_channels,), dtype)) if bias else None
        self._zero_bias = np.zeros(out_channels, dtype=dtype)
        self._buffers = Buffers()
        self.x = None

    def output_length(self, length: int) -> int:
        return conv1d_output_length(length, self.kernel_size, self.stride, self.padding, self.dilation)

    def parameters(self) -> dict[str, Parameter]:
        return {"weight": self.weight} | ({"bias": self.bias} if self.bias is not None else {})

    def forward(self, x):
        """x: (B, C_in, L) float, or (B, L) int8 base codes; returns y (B, C_out, L_out)."""
        self.x = x
        w = self.weight.data
        bias = self.bias.data if self.bias is not None else self._zero_bias
        geometry = (self.stride, self.padding, self.dilation)
        y = self._buffers.get("y", (x.shape[0], self.out_channels, self.output_length(x.shape[-1])), w.dtype)
        if x.dtype == np.int8:
            conv1d_onehot_forward_into(x, w, bias, y, *geometry)
        else:
            conv1d_forward_into(x, w, bias, y, *geometry)
        return y

    def backward(self, dy, dx=None, need_input_grad=True):
        """Add dL/dweight, dL/dbias; return dL/dx (None without ``need_input_grad``)."""
        w = self.weight.data
        db = self.bias.grad if self.bias is not None else self._buffers.zeros("db", (self.out_channels,), w.dtype)
        geometry = (self.stride, self.padding, self.dilation)
        if self.x.dtype == np.int8:
            if need_input_grad:
                raise ValueError(NO_CODES_GRADIENT)
            conv1d_onehot_backward_into(dy, self.x, self.weight.grad, db, *geometry)
            return None
        if need_input_grad:
            dx = _accumulator(self._buffers, "dx", dx, self.x.shape, w.dtype)
        else:
            dx = None
        conv1d_backward_into(dy, self.x, w, dx, self.weight.grad, db, *geometry)
        return dx


class StrandConv1d:
    """Conv1d(4 -> F, K) over both strands of DNA with the same filters (DeepBind's design).

    ``weight`` (F, 4, K) and ``bias`` (F,) are the filters; the forward turns them into
    [w ; rc(w)] (``kernels/revcomp.py``) and convolves the forward strand with all 2F,
    which is the same as convolving both strands with F (see that file).  Output
    (B, 2F, L_out): channels [0, F) are the forward strand's, [F, 2F) the reverse
    strand's in mirrored positions (position t there is the reverse-strand window that
    starts at forward position L_out - 1 - t).  Input as ``Conv1d``: base codes or floats.
    """

    def __init__(self, out_channels, kernel_size, rng=None, dtype=np.float32):
        self.in_channels = 4
        self.out_channels = _positive_int("out_channels", out_channels)
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        dtype = float_dtype(dtype)
        rng = _rng(rng)
        bound = 1.0 / math.sqrt(4 * kernel_size)
        self.weight = Parameter(_uniform(rng, bound, (out_channels, 4, kernel_size), dtype))
        self.bias = Parameter(_uniform(rng, bound, (out_channels,), dtype))
        self._buffers = Buffers()
        self.x = None

    def output_length(self, length: int) -> int:
        return length - self.kernel_size + 1

    def parameters(self) -> dict[str, Parameter]:
        return {"weight": self.weight, "bias": self.bias}

    def both_strand_filters(self):
        """(w2 (2F, 4, K), b2 (2F,)): the filters and their reverse complements."""
        F, K, dt = self.out_channels, self.kernel_size, self.weight.data.dtype
        w2 = self._buffers.get("w2", (2 * F, 4, K), dt)
        b2 = self._buffers.get("b2", (2 * F,), dt)
        revcomp_forward_into(self.weight.data, self.bias.data, w2, b2)
        return w2, b2

    def forward(self, x):
        self.x = x
        w2, b2 = self.both_strand_filters()
        y = self._buffers.get("y", (x.shape[0], 2 * self.out_channels, self.output_length(x.shape[-1])), w2.dtype)
        if x.dtype == np.int8:
            conv1d_onehot_forward_into(x, w2, b2, y, 1, 0, 1)
        else:
            conv1d_forward_into(x, w2, b2, y, 1, 0, 1)
        return y

    def backward(self, dy, dx=None, need_input_grad=True):
        F, K, dt = self.out_channels, self.kernel_size, self.weight.data.dtype
        w2 = self._buffers.get("w2", (2 * F, 4, K), dt)  # as the forward left them
        dw2 = self._buffers.zeros("dw2", (2 * F, 4, K), dt)
        db2 = self._buffers.zeros("db2", (2 * F,), dt)
        if self.x.dtype == np.int8:
            if need_input_grad:
                raise ValueError(NO_CODES_GRADIENT)
            conv1d_onehot_backward_into(dy, self.x, dw2, db2, 1, 0, 1)
            dx = None
        else:
            dx = _accumulator(self._buffers, "dx", dx, self.x.shape, dt) if need_input_grad else None
            conv1d_backward_into(dy, self.x, w2, dx, dw2, db2, 1, 0, 1)
        revcomp_backward_into(dw2, db2, self.weight.grad, self.bias.grad)
        return dx


class MaxPool1d:
    """``nn.MaxPool1d``: x (B, C, L) -> y (B, C, L_out); keeps the argmax for backward."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else _positive_int("stride", stride)
        self.padding = _positive_int("padding", padding, minimum=0, maximum=self.kernel_size // 2)
        self.dilation = _positive_int("dilation", dilation)
        self._buffers = Buffers()
        self.argmax = None
        self.input_shape = None

    def output_length(self, length: int) -> int:
        return maxpool1d_output_length(length, self.kernel_size, self.stride, self.padding, self.dilation)

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def forward(self, x, need_backward=True):
        """``need_backward=False`` (prediction): no backward may follow (the argmax is not kept)."""
        shape = (x.shape[0], x.shape[1], self.output_length(x.shape[2]))
        y = self._buffers.get("y", shape, x.dtype)
        argmax = self._buffers.get("argmax", shape, np.int64)  # also when not kept: no scratch array per call
        maxpool1d_forward_into(x, y, argmax, self.kernel_size, self.stride, self.padding, self.dilation)
        self.argmax = argmax if need_backward else None
        self.input_shape = x.shape
        return y

    def backward(self, dy, dx=None):
        if self.argmax is None:
            raise RuntimeError("MaxPool1d.backward after forward(need_backward=False)")
        dx = _accumulator(self._buffers, "dx", dx, self.input_shape, dy.dtype)
        maxpool1d_backward_into(dy, self.argmax, dx)
        return dx


class Conv1dMaxPool1d:
    """``MaxPool1d(pool)(Conv1d(...)(x))`` for base codes, in one kernel pair
    (``kernels/conv1d_onehot_maxpool.py``): the convolution's output is pooled as it is
    computed and never stored.  It reads and trains ``conv``'s own parameters, so a model
    holds one set of weights and uses this layer where its input is codes and the two
    layers (``conv``, then ``pool``) where it is one-hot floats.
    """

    def __init__(self, conv: Conv1d, pool: MaxPool1d):
        if pool.stride != pool.kernel_size or pool.padding or pool.dilation != 1:
            raise ValueError("Conv1dMaxPool1d needs tiling windows: a MaxPool1d with stride = kernel_size, "
                             "no padding, dilation 1")
        if pool.kernel_size > MAX_POOL:
            raise ValueError(f"Conv1dMaxPool1d takes windows of at most {MAX_POOL}, got {pool.kernel_size}")
        self.conv, self.pool_size = conv, pool.kernel_size
        self._buffers = Buffers()
        self.codes = self.offsets = None

    def parameters(self) -> dict[str, Parameter]:
        return {}  # conv's: the model lists them under the conv layer

    def output_length(self, length: int) -> int:
        return self.conv.output_length(length) // self.pool_size

    def forward(self, codes):
        """codes (B, L) int8; returns pooled (B, C_out, L_pool)."""
        conv = self.conv
        w = conv.weight.data
        bias = conv.bias.data if conv.bias is not None else conv._zero_bias
        B, L_pool = codes.shape[0], self.output_length(codes.shape[1])
        pooled = self._buffers.get("pooled", (B, conv.out_channels, L_pool), w.dtype)
        self.offsets = self._buffers.get("offsets", (B, L_pool, conv.out_channels), np.int8)
        conv1d_onehot_maxpool_forward_into(codes, w, bias, pooled, self.offsets, self.pool_size,
                                           conv.stride, conv.padding, conv.dilation)
        self.codes = codes
        return pooled

    def backward(self, d_pooled, need_input_grad=False):
        """Add dL/dweight, dL/dbias into ``conv``'s parameters (codes are data: no dx)."""
        if need_input_grad:
            raise ValueError(NO_CODES_GRADIENT)
        conv = self.conv
        w = conv.weight.data
        db = conv.bias.grad if conv.bias is not None else self._buffers.zeros("db", (conv.out_channels,), w.dtype)
        conv1d_onehot_maxpool_backward_into(d_pooled, self.codes, self.offsets, conv.weight.grad, db,
                                            self.pool_size, conv.stride, conv.padding, conv.dilation)


class GlobalMaxPool:
    """Max of each channel over a sequence's valid positions and over ``groups`` (strands).

    x (B, groups * F, L), n_valid (B,) int64 -> y (B, F) (``kernels/global_max.py``).
    The input gradient is zero except where a maximum was taken, so without a caller's
    buffer the layer keeps its own zero between calls by clearing just the B * F entries
    the last backward set, not the whole (B, groups * F, L) array; the caller must not
    write into the returned gradient.
    """

    def __init__(self, groups=2):
        self.groups = _positive_int("groups", groups)
        self._buffers = Buffers()
        self.argmax = None
        self.input_shape = None
        self._dirty = None  # (our dx buffer, the (b, channel, t) entries the last backward set)

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def forward(self, x, n_valid):
        B, GF, L = x.shape
        y = self._buffers.get("y", (B, GF // self.groups), x.dtype)
        self.argmax = self._buffers.get("argmax", (B, GF // self.groups), np.int64)
        global_max_forward_into(x, n_valid, self.groups, y, self.argmax)
        self.input_shape = x.shape
        return y

    def _entries(self):
        B, F = self.argmax.shape
        L = self.input_shape[2]
        g, t = np.divmod(self.argmax, L)
        return np.arange(B)[:, None], g * F + np.arange(F)[None, :], t

    def backward(self, dy, dx=None):
        if dx is None:
            dx = self._buffers.get("dx", self.input_shape, dy.dtype)
            if self._dirty is not None and self._dirty[0] is dx:
                dx[self._dirty[1]] = 0  # all zero again
            else:
                dx.fill(0)
            self._dirty = (dx, self._entries())
        global_max_backward_into(dy, self.argmax, dx)
        return dx


class StrandConv1dGlobalMax:
    """``GlobalMaxPool(groups=2)(StrandConv1d(...)(codes), n_valid)`` for base codes, in one
    kernel pair (``kernels/conv1d_onehot_globalmax.py``): the convolution's output is reduced
    as it is computed and never stored.  It reads and trains ``conv``'s own parameters (the
    model lists them under the conv layer), as ``Conv1dMaxPool1d`` does for the CNNs.
    """

    def __init__(self, conv: StrandConv1d, pool: GlobalMaxPool):
        if pool.groups != 2:
            raise ValueError("StrandConv1dGlobalMax reduces both strands: a GlobalMaxPool(groups=2)")
        self.conv = conv
        self._buffers = Buffers()
        self.codes = self.argmax = None

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def forward(self, codes, n_valid):
        """codes (B, L) int8, n_valid (B,) int64 in [1, L - K + 1]; returns y (B, F)."""
        conv = self.conv
        w2, b2 = conv.both_strand_filters()
        B, F = codes.shape[0], conv.out_channels
        y = self._buffers.get("y", (B, F), w2.dtype)
        self.argmax = self._buffers.get("argmax", (B, F), np.int64)
        conv1d_onehot_globalmax_forward_into(codes, w2, b2, n_valid, 2, y, self.argmax)
        self.codes = codes
        return y

    def backward(self, dy, need_input_grad=False):
        """Add dL/dweight, dL/dbias into ``conv``'s parameters (codes are data: no dx)."""
        if need_input_grad:
            raise ValueError(NO_CODES_GRADIENT)
        conv = self.conv
        F, K, dt = conv.out_channels, conv.kernel_size, conv.weight.data.dtype
        dw2 = self._buffers.zeros("dw2", (2 * F, 4, K), dt)
        db2 = self._buffers.zeros("db2", (2 * F,), dt)
        conv1d_onehot_globalmax_backward_into(dy, self.codes, self.argmax, dw2, db2)
        revcomp_backward_into(dw2, db2, conv.weight.grad, conv.bias.grad)


class Linear:
    """``nn.Linear``: x (..., in) -> y (..., out); weight (out, in)."""

    def __init__(self, in_features, out_features, bias=True, rng=None, dtype=np.float32):
        self.in_features = _positive_int("in_features", in_features)
        self.out_features = _positive_int("out_features", out_features)
        dtype = float_dtype(dtype)
        rng = _rng(rng)
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(_uniform(rng, bound, (out_features, in_features), dtype))
        self.bias = Parameter(_uniform(rng, bound, (out_features,), dtype)) if bias else None
        self._zero_bias = np.zeros(out_features, dtype=dtype)
        self._buffers = Buffers()
        self.x2d = None
        self.input_shape = None

    def parameters(self) -> dict[str, Parameter]:
        return {"weight": self.weight} | ({"bias": self.bias} if self.bias is not None else {})

    def forward(self, x):
        self.input_shape = x.shape
        self.x2d = x.reshape(-1, self.in_features)  # a view: x is C-contiguous
        bias = self.bias.data if self.bias is not None else self._zero_bias
        y = self._buffers.get("y", x.shape[:-1] + (self.out_features,), self.weight.data.dtype)
        linear_forward_into(self.x2d, self.weight.data, bias, y.reshape(-1, self.out_features))
        return y

    def backward(self, dy, dx=None, need_input_grad=True):
        w = self.weight.data
        db = self.bias.grad if self.bias is not None else self._buffers.zeros("db", (self.out_features,), w.dtype)
        if need_input_grad:
            dx = _accumulator(self._buffers, "dx", dx, self.input_shape, w.dtype)
        else:
            dx = None
        linear_backward_into(dy.reshape(-1, self.out_features), self.x2d, w,
                             None if dx is None else dx.reshape(-1, self.in_features), self.weight.grad, db)
        return dx


class ReLU:
    """``nn.ReLU``; backward lets the gradient through where the output is > 0."""

    def __init__(self):
        self._buffers = Buffers()
        self.y = None

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def forward(self, x, out=None):
        """``out``: the array to write the output into instead of the layer's own; it may
        be ``x`` itself (in place), when nothing else reads ``x`` afterwards."""
        self.y = self._buffers.get("y", x.shape, x.dtype) if out is None else out
        relu_forward_into(x, self.y)
        return self.y

    def backward(self, dy, dx=None, in_place=False):
        """Add the input gradient into ``dx`` (the layer's own zeroed buffer by default); or,
        ``in_place``, write it over ``dy`` and return ``dy``, when nothing else reads ``dy``
        afterwards (a layer's own input-gradient buffer: one array less to zero and read)."""
        if in_place:
            if dx is not None:
                raise ValueError("ReLU.backward: in_place writes over dy; dx must be None")
            relu_backward_in_place_into(dy, self.y)
            return dy
        dx = _accumulator(self._buffers, "dx", dx, dy.shape, dy.dtype)
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
        self.hidden = _positive_int("hidden", hidden)
        dtype = float_dtype(dtype)
        rng = _rng(rng)
        bound = 1.0 / math.sqrt(2 * hidden)
        self.W = Parameter(_uniform(rng, bound, (hidden, 2 * hidden), dtype))
        self.b = Parameter(_uniform(rng, bound, (hidden,), dtype))
        self.v = Parameter(rng.uniform(0.0, 1.0, size=hidden).astype(dtype))
        self._buffers = Buffers()
        self.q = self.k = self.weights = self.energy = None

    def parameters(self) -> dict[str, Parameter]:
        return {"W": self.W, "b": self.b, "v": self.v}

    def forward(self, q, k):
        self.q, self.k = q, k
        B, H, L = k.shape
        context = self._buffers.get("context", (B, H), k.dtype)
        self.weights = self._buffers.get("weights", (B, L), k.dtype)
        self.energy = self._buffers.get("energy", (B, L, H), k.dtype)
        attention_forward_into(q, k, self.W.data, self.b.data, self.v.data, context, self.weights, self.energy)
        return context, self.weights

    def backward(self, d_context, dq=None, dk=None):
        """Add the parameter gradients; return (dq, dk), added into the given buffers if any."""
        dq = _accumulator(self._buffers, "dq", dq, self.q.shape, self.q.dtype)
        dk = _accumulator(self._buffers, "dk", dk, self.k.shape, self.k.dtype)
        attention_backward_into(d_context, self.q, self.k, self.W.data, self.v.data, self.weights, self.energy,
                                dq, dk, self.W.grad, self.b.grad, self.v.grad)
        return dq, dk


class BCEWithLogitsLoss:
    """``nn.BCEWithLogitsLoss``: forward(logits, targets) -> float ("mean"/"sum") or array ("none").

    ``pos_weight``: None, a positive number, or a 1-D array of positive numbers, one per
    column of the logits' last dimension (torch's broadcasting); its length is checked
    against the logits at every forward.  ``backward(d_loss=1.0)`` returns d_logits.
    """

    def __init__(self, pos_weight=None, reduction="mean"):
        self._code = reduction_code(reduction)
        self.reduction = reduction
        if pos_weight is None:
            self.pos_weight = None
        else:
            if isinstance(pos_weight, bool):
                raise TypeError("pos_weight must be a number or a 1-D array of numbers, got bool")
            pw = np.asarray(pos_weight)
            if pw.dtype.kind not in "iuf" or pw.ndim > 1 or pw.size == 0:
                raise TypeError(f"pos_weight must be a number or a non-empty 1-D array of numbers, "
                                f"got {pw.dtype} of shape {pw.shape}")
            pw = np.atleast_1d(pw).astype(np.float64)
            if not np.all(np.isfinite(pw)) or np.any(pw <= 0):
                raise ValueError(f"pos_weight must be positive and finite, got {pw.tolist()}")
            self.pos_weight = pw
        self._per_dtype = {}  # dtype -> (pos_weight (P,), one-element d_loss buffer)
        self._buffers = Buffers()
        self.logits = self.targets = None

    def parameters(self) -> dict[str, Parameter]:
        return {}

    def _pos_weight_for(self, logits):
        bufs = self._per_dtype.get(logits.dtype)
        if bufs is None:
            pw = np.ones(1, logits.dtype) if self.pos_weight is None else self.pos_weight.astype(logits.dtype)
            bufs = self._per_dtype[logits.dtype] = (pw, np.ones(1, logits.dtype))
        P = bufs[0].shape[0]
        last = logits.shape[-1] if logits.ndim else 1
        if P not in (1, last):
            raise ValueError(f"pos_weight has {P} values but the logits' last dimension is {last}; "
                             f"give one value, or one per column")
        return bufs

    def forward(self, logits, targets):
        if targets.shape != logits.shape or targets.dtype != logits.dtype:
            raise ValueError(f"targets must have the logits' shape {logits.shape} and dtype {logits.dtype}, "
                             f"got {targets.shape} {targets.dtype}")
        pos_weight, _ = self._pos_weight_for(logits)
        self.logits, self.targets = logits, targets
        loss = self._buffers.get("loss", logits.shape if self._code == REDUCTION_NONE else (), logits.dtype)
        bce_with_logits_forward_into(logits, targets, pos_weight, self._code, loss)
        return loss.copy() if self._code == REDUCTION_NONE else float(loss)

    def backward(self, d_loss=1.0):
        pos_weight, d_loss1 = self._pos_weight_for(self.logits)
        if self._code == REDUCTION_NONE:
            d_loss1 = np.ascontiguousarray(np.broadcast_to(d_loss, self.logits.shape), self.logits.dtype)
        else:
            if isinstance(d_loss, bool) or not isinstance(d_loss, numbers.Real):
                raise TypeError(f"d_loss must be a real number for reduction={self.reduction!r}")
            d_loss1[0] = d_loss
        d_logits = self._buffers.zeros("d_logits", self.logits.shape, self.logits.dtype)
        bce_with_logits_backward_into(self.logits, self.targets, pos_weight, self._code, d_loss1, d_logits)
        return d_logits


__all__ = ["Parameter", "pack_parameters", "Buffers", "Conv1d", "StrandConv1d", "MaxPool1d", "Conv1dMaxPool1d",
           "GlobalMaxPool",
           "Linear", "ReLU", "Flatten", "AdditiveAttention", "BCEWithLogitsLoss", "MAX_CHANNELS"]
