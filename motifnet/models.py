"""The two models of the tutorials, composed from layers in plain sight.

``GenomicsCNN`` ("cnn"), the primer's network::

    x (N, 4, L) -> Conv1d(4 -> 32, 12) -> ReLU -> MaxPool1d(4) -> Flatten (288 at L=50)
                -> Linear(288 -> 16) -> ReLU -> Linear(16 -> 1) -> logits (N,)

``GenomicsCNNWithAttention`` ("attention"), the follow-up tutorial's::

    pooled = MaxPool1d(4)(ReLU(Conv1d(x)))                      (N, 32, L_pool)
    cnn    = ReLU(Linear(288 -> 16)(Flatten(pooled)))          (N, 16)
    query  = mean of pooled over positions                     (N, 32)
    context, weights = AdditiveAttention(32)(query, pooled)    keys = values = pooled
    attn   = ReLU(Linear(32 -> 16)(context))                   (N, 16)
    logits = Linear(32 -> 1)([cnn ; attn])                     (N,)

Each ``backward`` is its ``forward`` read backwards, one line per layer, so the
chain rule is visible; there is no tape.  All parameters live in one flat
buffer (``flat_params``) and all gradients in another (``flat_grads``), so the
optimizer updates the whole model with one kernel call.

``dtype`` is float32 for training; float64 models exist for finite-difference
checks (``motifnet gradcheck``).
"""

from __future__ import annotations

import numpy as np

from motifnet.errors import UserError
from motifnet.layers import (AdditiveAttention, Conv1d, Flatten, Linear, MaxPool1d, Parameter, ReLU,
                             pack_parameters)

ALPHABET_SIZE = 4


class GenomicsCNN:
    """The primer's CNN (model name "cnn").

    Parameters
    ----------
    seq_len : int
        Length of the one-hot sequences the model reads (x is (N, 4, seq_len)).
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
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        rng = np.random.default_rng(seed)
        self.conv = Conv1d(ALPHABET_SIZE, n_filters, kernel_size, rng=rng, dtype=self.dtype)
        self.conv_relu = ReLU()
        self.pool = MaxPool1d(pool_size)
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
        self.flat_params, self.flat_grads = pack_parameters(self.parameters(), self.dtype)

    def _build_head(self, rng):
        self.fc2 = Linear(self.hidden, 1, rng=rng, dtype=self.dtype)

    def _layers(self) -> dict:
        return {"conv": self.conv, "fc1": self.fc1, "fc2": self.fc2}

    def parameters(self) -> dict[str, Parameter]:
        """Every parameter by name ("conv.weight", ...), in the flat buffer's order."""
        return {f"{lname}.{pname}": p for lname, layer in self._layers().items()
                for pname, p in layer.parameters().items()}

    def zero_grad(self) -> None:
        self.flat_grads.fill(0)

    def hyperparameters(self) -> dict:
        """Everything ``__init__`` needs to rebuild this architecture (not the dtype)."""
        return dict(seq_len=self.seq_len, n_filters=self.n_filters, kernel_size=self.kernel_size,
                    pool_size=self.pool_size, hidden=self.hidden, seed=self.seed)

    def check_input(self, x) -> np.ndarray:
        """Raise a TypeError/ValueError unless x is a C-contiguous (N, 4, seq_len) array of our dtype."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy.ndarray (one-hot sequences), got {type(x).__name__}")
        if x.dtype != self.dtype:
            raise TypeError(f"x must be {self.dtype}, got {x.dtype}; use x.astype(np.{self.dtype})")
        if x.ndim != 3 or x.shape[1] != ALPHABET_SIZE or x.shape[2] != self.seq_len:
            raise ValueError(f"x must have shape (N, {ALPHABET_SIZE}, {self.seq_len}) (one-hot "
                             f"sequences of length {self.seq_len}), got {x.shape}")
        if not x.flags.c_contiguous:
            raise ValueError("x must be C-contiguous; use np.ascontiguousarray(x)")
        return x

    # ---- forward / backward
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Logits (N,) of one-hot sequences x (N, 4, seq_len); keeps what backward needs."""
        return self._forward(self.check_input(x))

    def _forward(self, x):
        # unchecked: the training loop validates the whole data set once
        h = self.conv_relu.forward(self.conv.forward(x))        # (N, F, L_conv)
        pooled = self.pool.forward(h)                           # (N, F, L_pool)
        z = self.fc1_relu.forward(self.fc1.forward(self.flatten.forward(pooled)))  # (N, hidden)
        return self.fc2.forward(z).reshape(-1)                  # (N,)

    def backward(self, d_logits: np.ndarray, need_input_grad: bool = False):
        """Add d loss / d parameter into the grads; return d loss / d x (N, 4, L) if asked."""
        dz = self.fc2.backward(d_logits.reshape(-1, 1))
        d_pooled = self.flatten.backward(self.fc1.backward(self.fc1_relu.backward(dz)))
        dh = self.pool.backward(d_pooled)
        return self.conv.backward(self.conv_relu.backward(dh), need_input_grad)

    def conv_activations(self, x: np.ndarray) -> np.ndarray:
        """The filters' responses after ReLU, before pooling: (N, n_filters, L_conv)."""
        return self.conv_relu.forward(self.conv.forward(self.check_input(x)))


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

    def _layers(self) -> dict:
        return {"conv": self.conv, "fc1": self.fc1, "attention": self.attention,
                "fc_attn": self.fc_attn, "fc2": self.fc2}

    def _forward(self, x):
        h = self.conv_relu.forward(self.conv.forward(x))        # (N, F, L_conv)
        pooled = self.pool.forward(h)                           # (N, F, L_pool)
        cnn = self.fc1_relu.forward(self.fc1.forward(self.flatten.forward(pooled)))  # (N, hidden)
        # query = mean over positions; einsum's loop is ~4x faster than .mean(axis=2) here
        query = np.einsum("nfl->nf", pooled) * self._inv_pool_length  # (N, F)
        context, self.attn_weights = self.attention.forward(query, pooled)  # (N, F), (N, L_pool)
        attn = self.fc_attn_relu.forward(self.fc_attn.forward(context))     # (N, hidden)
        return self.fc2.forward(np.concatenate((cnn, attn), axis=1)).reshape(-1)

    def backward(self, d_logits: np.ndarray, need_input_grad: bool = False):
        H = self.hidden
        d_cat = self.fc2.backward(d_logits.reshape(-1, 1))                  # (N, 2*hidden)
        d_cnn, d_attn = np.ascontiguousarray(d_cat[:, :H]), np.ascontiguousarray(d_cat[:, H:])
        d_context = self.fc_attn.backward(self.fc_attn_relu.backward(d_attn))
        d_query, d_pooled = self.attention.backward(d_context)              # keys = values: one dk
        d_pooled += d_query[:, :, None] * self._inv_pool_length         # query = mean of pooled
        d_pooled += self.flatten.backward(self.fc1.backward(self.fc1_relu.backward(d_cnn)))
        dh = self.pool.backward(d_pooled)
        return self.conv.backward(self.conv_relu.backward(dh), need_input_grad)

    def attention_weights(self, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Attention over the pooled positions for each sequence: (N, L_pool), rows sum to 1."""
        x = self.check_input(x)
        out = np.empty((x.shape[0], self.pool_length), dtype=self.dtype)
        for start in range(0, x.shape[0], batch_size):
            self._forward(x[start:start + batch_size])
            out[start:start + batch_size] = self.attn_weights
        return out


MODELS = {"cnn": GenomicsCNN, "attention": GenomicsCNNWithAttention}


def build_model(name: str, seq_len: int = 50, seed: int = 0, **hyper):
    """Build the model called ``name`` ("cnn" or "attention"); ``hyper`` as its ``__init__``."""
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name](seq_len=seq_len, seed=seed, **hyper)
