"""The models, composed from layers in plain sight.

``GenomicsCNN`` ("cnn"), the primer's network::

    x (N, 4, L) -> Conv1d(4 -> 32, 12) -> ReLU -> MaxPool1d(4) -> Flatten (288 at L=50)
                -> Linear(288 -> 16) -> ReLU -> Linear(16 -> 1) -> logits (N,)

  computed as Conv1d -> MaxPool1d -> ReLU, the same function with the same gradients at
  a quarter of the ReLU's cost (see DeepBind below for why; a window whose max is <= 0
  gives 0 and sends nothing back either way, whatever its argmax).  On base codes (training
  and prediction) the convolution and the max-pool are one kernel pair, ``conv_pool``
  (``layers.Conv1dMaxPool1d``, kernels/conv1d_onehot_maxpool.py), whose convolution output
  is pooled as it is computed and never stored; on one-hot floats (input gradients) they
  are the two layers.  Measured per training step (batch 32, 1 thread, the variants
  alternating in one process, 40 blocks of 10 steps, median ratio): ReLU after the pool
  1.05x at L = 1000, 1.03x at L = 200, 1.00x at L = 50; then the fused pair 1.61x, 1.37x
  and 1.49x.  (DeepLIFT's multipliers do depend on the order, so ``motifnet.attribution``
  applies the ReLU before the pool, as the primer wrote it.)

``GenomicsCNNWithAttention`` ("attention"), the follow-up tutorial's::

    pooled = MaxPool1d(4)(ReLU(Conv1d(x)))                      (N, 32, L_pool)
    cnn    = ReLU(Linear(288 -> 16)(Flatten(pooled)))          (N, 16)
    query  = mean of pooled over positions                     (N, 32)
    context, weights = AdditiveAttention(32)(query, pooled)    keys = values = pooled
    attn   = ReLU(Linear(32 -> 16)(context))                   (N, 16)
    logits = Linear(32 -> 1)([cnn ; attn])                     (N,)

``DeepBind`` ("deepbind"), position-invariant and reading both strands (Alipanahi
et al. 2015's design)::

    y = StrandConv1d(4 -> F, K)(x)           (N, 2F, L - K + 1)   F filters, both strands
    m = GlobalMaxPool(y, valid positions)    (N, F)   best match anywhere, either strand
    logits = Linear(H -> 1)(ReLU(Linear(F -> H)(ReLU(m))))

  ReLU is taken after the max, not before: max_t relu(y_t) = relu(max_t y_t) since
  ReLU never reorders values, and the gradients agree too (both send dL/dm to the
  argmax when the max is positive, nothing otherwise), at a (2L)-th of the cost.  It
  takes any length: each sequence's max covers its own L_b - K + 1 positions, so a
  batch padded to its longest member gives every sequence exactly its own answer.  On
  base codes the convolution and the max are one kernel pair, ``conv_pool``
  (``layers.StrandConv1dGlobalMax``, kernels/conv1d_onehot_globalmax.py): y is never
  stored, and the backward is one term per (sequence, filter) instead of a pass over a
  gradient of y that is zero but for those terms.

Every model reads x as base codes (N, L) int8 (``motifnet.data.encode``; the first
layer then sums looked-up weights) or as one-hot floats (N, 4, L) of the model's
dtype (needed for input gradients: saliency, DeepLIFT).  Each ``backward`` is its
``forward`` read backwards, one line per layer, so the chain rule is visible; there
is no tape.  Gradients are added (+=) into each layer's parameters, and where two
branches meet (the attention model's pooled features) into one shared buffer.  All
parameters live in one flat buffer (``flat_params``) and all gradients in another
(``flat_grads``), so the optimizer updates the whole model with one kernel call.

``dtype`` is float32 for training; float64 models exist for finite-difference checks.
"""

from __future__ import annotations

import numpy as np

from motifnet.constants import ALPHABET_SIZE
from motifnet.errors import UserError
from motifnet.layers import (AdditiveAttention, Buffers, Conv1d, Conv1dMaxPool1d, Flatten, GlobalMaxPool, Linear,
                             MaxPool1d, Parameter, ReLU, StrandConv1d, StrandConv1dGlobalMax, float_dtype,
                             pack_parameters)


class Model:
    """What every model shares: parameters in flat buffers, input checks, the public calls.

    Subclasses build their layers in ``__init__``, then call ``_finish()``, and define
    ``_layers()``, ``hyperparameters()``, ``_forward(x, lengths, need_backward)`` and
    ``backward(d_logits, need_input_grad)``.
    """

    name = "model"
    fixed_length: int | None = None  # the one length a model reads, or None for any length

    def _finish(self):
        self.flat_params, self.flat_grads = pack_parameters(self.parameters(), self.dtype)

    def parameters(self) -> dict[str, Parameter]:
        """Every parameter by name ("conv.weight", ...), in the flat buffer's order."""
        return {f"{lname}.{pname}": p for lname, layer in self._layers().items()
                for pname, p in layer.parameters().items()}

    def zero_grad(self) -> None:
        self.flat_grads.fill(0)

    @property
    def min_length(self) -> int:
        """The shortest sequence the model reads."""
        return self.fixed_length if self.fixed_length is not None else self.kernel_size

    # ---- input
    def check_input(self, x, lengths=None):
        """Validate x (codes (N, L) int8 or one-hot (N, 4, L) floats) and lengths; return both.

        Raises TypeError/ValueError saying what was expected.  ``lengths`` (N,) int64 is
        each sequence's own length (positions past it are padding); None means all L.
        """
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy.ndarray (base codes or one-hot sequences), got {type(x).__name__}")
        if x.dtype == np.int8:
            if x.ndim != 2:
                raise ValueError(f"base codes must have shape (N, L), got {x.shape}")
            if x.size and (int(x.min()) < -1 or int(x.max()) > 3):
                raise ValueError("base codes must lie in [-1, 3] (A, C, G, T; -1 for N or padding)")
        elif x.dtype == self.dtype:
            if x.ndim != 3 or x.shape[1] != ALPHABET_SIZE:
                raise ValueError(f"one-hot x must have shape (N, {ALPHABET_SIZE}, L), got {x.shape}")
        else:
            raise TypeError(f"x must be base codes (int8) or one-hot {self.dtype}, got {x.dtype}; "
                            f"use motifnet.data.encode or x.astype(np.{self.dtype})")
        if not x.flags.c_contiguous:
            raise ValueError("x must be C-contiguous; use np.ascontiguousarray(x)")
        L = x.shape[-1]
        if self.fixed_length is not None and L != self.fixed_length:
            raise ValueError(f"the {self.name} model reads sequences of length {self.fixed_length}, "
                             f"got length {L}")
        if L < self.min_length:
            raise ValueError(f"sequences of length {L} are shorter than the model's filters ({self.min_length})")
        if lengths is None:
            lengths = np.full(x.shape[0], L, dtype=np.int64)
        else:
            lengths = np.ascontiguousarray(lengths, dtype=np.int64)
            if lengths.shape != (x.shape[0],):
                raise ValueError(f"lengths must have shape ({x.shape[0]},), got {lengths.shape}")
            if lengths.size and (lengths.min() < self.min_length or lengths.max() > L):
                raise ValueError(f"lengths must lie in [{self.min_length}, {L}] (the model's shortest "
                                 f"sequence, the array's length), got [{lengths.min()}, {lengths.max()}]")
            if self.fixed_length is not None and lengths.size and lengths.min() != L:
                raise ValueError(f"the {self.name} model reads sequences of exactly length {L}")
        return x, lengths

    # ---- the public calls
    def forward(self, x, lengths=None, *, check=True, need_backward=True) -> np.ndarray:
        """Logits (N,) of x; keeps what ``backward`` needs.

        ``check=False`` skips the input checks (the training loop checks a data set once);
        ``need_backward=False`` (prediction) lets layers skip what only the backward needs.
        The array returned is the model's own buffer, valid until the next forward.
        """
        if check:
            x, lengths = self.check_input(x, lengths)
        elif lengths is None:
            lengths = np.full(x.shape[0], x.shape[-1], dtype=np.int64)
        return self._forward(x, lengths, need_backward)


class GenomicsCNN(Model):
    """The primer's CNN (model name "cnn").

    Parameters
    ----------
    seq_len : int
        Length of the sequences the model reads.
    n_filters, kernel_size : int
        Convolution filters ("motif detectors") and their width.
    pool_size : int
        Max-pool window and stride.
    hidden : int
        Width of the dense layer.
    seed : int
        Seed of the initial weights.
    dtype : np.float32 or np.float64
    """

    name = "cnn"

    def __init__(self, seq_len=50, n_filters=32, kernel_size=12, pool_size=4, hidden=16, seed=0,
                 dtype=np.float32):
        self.seq_len, self.n_filters, self.kernel_size = int(seq_len), int(n_filters), int(kernel_size)
        self.pool_size, self.hidden, self.seed = int(pool_size), int(hidden), int(seed)
        self.fixed_length = self.seq_len
        self.dtype = float_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.conv = Conv1d(ALPHABET_SIZE, n_filters, kernel_size, rng=rng, dtype=self.dtype)
        self.conv_relu = ReLU()
        self.pool = MaxPool1d(pool_size)
        self.conv_pool = Conv1dMaxPool1d(self.conv, self.pool)  # the two on base codes, in one pass
        self.conv_length = self.conv.output_length(self.seq_len)
        if self.conv_length < 1:
            raise ValueError(f"seq_len={seq_len} is shorter than kernel_size={kernel_size}")
        self.pool_length = self.pool.output_length(self.conv_length)
        if self.pool_length < 1:
            raise ValueError(f"seq_len={seq_len} leaves {self.conv_length} conv positions, "
                             f"fewer than pool_size={pool_size}")
        self.flatten = Flatten()
        self.fc1 = Linear(n_filters * self.pool_length, hidden, rng=rng, dtype=self.dtype)
        self.fc1_relu = ReLU()
        self._build_head(rng)
        self._finish()

    def _build_head(self, rng):
        self.fc2 = Linear(self.hidden, 1, rng=rng, dtype=self.dtype)

    def _layers(self) -> dict:
        return {"conv": self.conv, "fc1": self.fc1, "fc2": self.fc2}

    def hyperparameters(self) -> dict:
        """Everything ``__init__`` needs to rebuild this architecture (not the dtype)."""
        return dict(seq_len=self.seq_len, n_filters=self.n_filters, kernel_size=self.kernel_size,
                    pool_size=self.pool_size, hidden=self.hidden, seed=self.seed)

    def _trunk_forward(self, x, need_backward):
        """conv -> max-pool -> ReLU: the pooled features (N, F, L_pool).  Base codes take the
        fused pair (conv1d_onehot_maxpool), one-hot floats the two layers."""
        self._fused = x.dtype == np.int8
        if self._fused:
            p = self.conv_pool.forward(x)                       # (N, F, L_pool)
        else:
            p = self.pool.forward(self.conv.forward(x), need_backward)
        return self.conv_relu.forward(p, out=p)                 # in place: nothing else reads p

    def _trunk_backward(self, d_pooled, need_input_grad):
        d_p = self.conv_relu.backward(d_pooled, in_place=True)
        if self._fused:
            return self.conv_pool.backward(d_p, need_input_grad=need_input_grad)
        return self.conv.backward(self.pool.backward(d_p), need_input_grad=need_input_grad)

    def _forward(self, x, lengths, need_backward):
        pooled = self._trunk_forward(x, need_backward)          # (N, F, L_pool)
        h = self.fc1.forward(self.flatten.forward(pooled))
        z = self.fc1_relu.forward(h, out=h)                     # (N, hidden); in place, as conv_relu
        return self.fc2.forward(z).reshape(-1)                  # (N,)

    def backward(self, d_logits: np.ndarray, need_input_grad: bool = False):
        """Add d loss / d parameter into the grads; return d loss / d x (N, 4, L) if asked."""
        dz = self.fc2.backward(d_logits.reshape(-1, 1))
        # the ReLUs' gradients in place: dz and d_pooled are fc2's and fc1's own input-gradient
        # buffers, which nothing reads afterwards (zeroed again at their next backward)
        d_pooled = self.flatten.backward(self.fc1.backward(self.fc1_relu.backward(dz, in_place=True)))
        return self._trunk_backward(d_pooled, need_input_grad)

    def conv_activations(self, x: np.ndarray) -> np.ndarray:
        """The filters' responses after ReLU, before pooling: (N, n_filters, L_conv), a copy."""
        x, _ = self.check_input(x)
        y = self.conv.forward(x)
        return self.conv_relu.forward(y, out=y).copy()


class GenomicsCNNWithAttention(GenomicsCNN):
    """The follow-up tutorial's CNN with an additive-attention branch (model name "attention").

    Same hyper-parameters as ``GenomicsCNN``; the attention's hidden size is
    ``n_filters`` (it reads the pooled features), ``fc_attn`` maps its context
    to ``hidden``, and ``fc2`` reads the concatenation [cnn ; attention] (2*hidden).
    """

    name = "attention"

    def _build_head(self, rng):
        self._inv_pool_length = self.dtype.type(1.0 / self.pool_length)
        self.attention = AdditiveAttention(self.n_filters, rng=rng, dtype=self.dtype)
        self.fc_attn = Linear(self.n_filters, self.hidden, rng=rng, dtype=self.dtype)
        self.fc_attn_relu = ReLU()
        self.fc2 = Linear(2 * self.hidden, 1, rng=rng, dtype=self.dtype)
        self._buffers = Buffers()

    def _layers(self) -> dict:
        return {"conv": self.conv, "fc1": self.fc1, "attention": self.attention,
                "fc_attn": self.fc_attn, "fc2": self.fc2}

    def _forward(self, x, lengths, need_backward):
        pooled = self._trunk_forward(x, need_backward)          # (N, F, L_pool)
        h = self.fc1.forward(self.flatten.forward(pooled))
        cnn = self.fc1_relu.forward(h, out=h)                   # (N, hidden); in place
        # query = mean over positions; einsum's loop is ~4x faster than .mean(axis=2) here
        query = np.einsum("nfl->nf", pooled) * self._inv_pool_length  # (N, F)
        context, self.attn_weights = self.attention.forward(query, pooled)  # (N, F), (N, L_pool)
        a = self.fc_attn.forward(context)
        attn = self.fc_attn_relu.forward(a, out=a)              # (N, hidden); in place
        return self.fc2.forward(np.concatenate((cnn, attn), axis=1)).reshape(-1)

    def backward(self, d_logits: np.ndarray, need_input_grad: bool = False):
        H = self.hidden
        d_cat = self.fc2.backward(d_logits.reshape(-1, 1))                  # (N, 2*hidden)
        d_cnn, d_attn = np.ascontiguousarray(d_cat[:, :H]), np.ascontiguousarray(d_cat[:, H:])
        # the ReLUs' gradients in place: d_cnn and d_attn are disjoint copies (or views) of
        # fc2's own input-gradient buffer, d_pooled is the model's; nothing reads them afterwards
        d_context = self.fc_attn.backward(self.fc_attn_relu.backward(d_attn, in_place=True))
        pooled_shape = self.attention.k.shape  # the pooled features were the keys
        d_pooled = self._buffers.zeros("d_pooled", pooled_shape, self.dtype)  # where three paths meet:
        d_query, _ = self.attention.backward(d_context, dk=d_pooled)          # keys = values
        d_pooled += d_query[:, :, None] * self._inv_pool_length               # query = mean of pooled
        self.fc1.backward(self.fc1_relu.backward(d_cnn, in_place=True),       # the dense branch
                          dx=d_pooled.reshape(pooled_shape[0], -1))
        return self._trunk_backward(d_pooled, need_input_grad)

    def attention_weights(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Attention over the pooled positions for each sequence: (N, L_pool), rows sum to 1."""
        x, _ = self.check_input(x)
        out = np.empty((x.shape[0], self.pool_length), dtype=self.dtype)
        for start in range(0, x.shape[0], batch_size):
            self.forward(x[start:start + batch_size], check=False, need_backward=False)
            out[start:start + batch_size] = self.attn_weights
        return out


class DeepBind(Model):
    """Both strands, any length: the position-invariant model (model name "deepbind").

    Parameters
    ----------
    n_filters : int
        Filters F, each scanning both strands.
    kernel_size : int
        Filter width K (the shortest sequence the model reads).
    hidden : int
        Width of the dense layer.
    seed : int
        Seed of the initial weights.
    dtype : np.float32 or np.float64
    """

    name = "deepbind"
    fixed_length = None

    def __init__(self, n_filters=32, kernel_size=15, hidden=32, seed=0, dtype=np.float32):
        self.n_filters, self.kernel_size, self.hidden, self.seed = (int(n_filters), int(kernel_size),
                                                                    int(hidden), int(seed))
        self.dtype = float_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.conv = StrandConv1d(n_filters, kernel_size, rng=rng, dtype=self.dtype)
        self.pool = GlobalMaxPool(groups=2)
        self.conv_pool = StrandConv1dGlobalMax(self.conv, self.pool)  # the two on base codes, in one pass
        self.pool_relu = ReLU()
        self.fc1 = Linear(n_filters, hidden, rng=rng, dtype=self.dtype)
        self.fc1_relu = ReLU()
        self.fc2 = Linear(hidden, 1, rng=rng, dtype=self.dtype)
        self._finish()

    def _layers(self) -> dict:
        return {"conv": self.conv, "fc1": self.fc1, "fc2": self.fc2}

    def hyperparameters(self) -> dict:
        return dict(n_filters=self.n_filters, kernel_size=self.kernel_size, hidden=self.hidden, seed=self.seed)

    def _forward(self, x, lengths, need_backward):
        self.n_valid = lengths - (self.kernel_size - 1)            # each sequence's own positions
        self._fused = x.dtype == np.int8
        if self._fused:  # conv_pool: the convolution's output is never stored
            p = self.conv_pool.forward(x, self.n_valid)            # (N, F)
        else:
            y = self.conv.forward(x)                               # (N, 2F, L - K + 1), both strands
            p = self.pool.forward(y, self.n_valid)                 # (N, F)
        m = self.pool_relu.forward(p, out=p)                       # in place: nothing else reads p
        h = self.fc1.forward(m)
        z = self.fc1_relu.forward(h, out=h)                        # (N, hidden); in place
        return self.fc2.forward(z).reshape(-1)                     # (N,)

    def backward(self, d_logits: np.ndarray, need_input_grad: bool = False):
        dz = self.fc2.backward(d_logits.reshape(-1, 1))
        # ReLUs in place: dz and fc1's result are fc2's and fc1's own input-gradient buffers
        dm = self.pool_relu.backward(self.fc1.backward(self.fc1_relu.backward(dz, in_place=True)), in_place=True)
        if self._fused:
            return self.conv_pool.backward(dm, need_input_grad=need_input_grad)
        dy = self.pool.backward(dm)
        return self.conv.backward(dy, need_input_grad=need_input_grad)

    def strand_activations(self, x, lengths=None):
        """The filters' responses on both strands: (N, 2F, L - K + 1), a copy (see StrandConv1d)."""
        x, _ = self.check_input(x, lengths)
        return self.conv.forward(x).copy()


MODELS = {"cnn": GenomicsCNN, "attention": GenomicsCNNWithAttention, "deepbind": DeepBind}


def build_model(name: str, seq_len: int | None = 50, seed: int = 0, **hyper):
    """Build the model called ``name`` ("cnn", "attention" or "deepbind").

    ``seq_len`` is the tutorials' models' one length (ignored by "deepbind", which
    reads any length); ``hyper`` as the model's ``__init__``.
    """
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    if name == "deepbind":
        return DeepBind(seed=seed, **hyper)
    return MODELS[name](seq_len=seq_len, seed=seed, **hyper)
