"""The JAX twins of motifnet's models and training loop: a second reference for the benchmarks.

Imported only in a JAX worker (JAX is an optional benchmark dependency, never a runtime
or test one).  The models are pure functions of a dict of parameters under motifnet's own
names ("conv.weight", "attention.W", ...), so motifnet's initial weights copy straight in.
Layouts are torch's (N, C, L) as in motifnet and torch:

* ``cnn``:       conv -> ReLU -> maxpool(4) -> flatten -> fc1 -> ReLU -> fc2
* ``attention``: the same plus additive attention over the pooled features (query = their
  mean over positions), ``fc_attn``, and ``fc2`` on [cnn ; attention]
* ``deepbind``:  filters [w ; reverse complement of w] on the forward strand, positions past
  each sequence's length masked with -inf, max over (strand, position), ReLU, fc1, ReLU, fc2

The training step is ONE ``jax.jit`` of the whole step: the batch sliced out of the
epoch's shuffled arrays (``lax.dynamic_slice``, so no per-batch host work), forward, mean
BCE on logits, ``jax.value_and_grad``, and Adam written out by hand with torch's
semantics (amsgrad off, no weight decay); parameters and moments are donated.
``fit_jax`` runs ``motifnet.train.fit``'s schedule: one ``numpy`` Generator seeded with
``seed`` draws a permutation per epoch, batches in order, the last one partial (its
own compiled shape), evaluation on the validation set after every epoch.  Losses and
logits stay on the device until the epoch's end (one host transfer per epoch), as a
JAX user would write it.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

jax.config.update("jax_default_matmul_precision", "highest")  # float32 everywhere, as motifnet

_CONV_DIMS = ("NCH", "OIH", "NCH")


def _conv(x, w, b):
    """x (B, C, L), w (O, C, K), b (O,) -> (B, O, L - K + 1): torch's conv1d (cross-correlation)."""
    return lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=_CONV_DIMS) + b[None, :, None]


def _linear(x, p, name):
    return x @ p[name + ".weight"].T + p[name + ".bias"]


def _maxpool(h, k):
    B, C, L = h.shape
    L_out = L // k  # floor mode, stride = window
    return h[:, :, :L_out * k].reshape(B, C, L_out, k).max(axis=3)


def cnn_features(p, x, pool_size=4):
    pooled = _maxpool(jax.nn.relu(_conv(x, p["conv.weight"], p["conv.bias"])), pool_size)  # (B, F, L_pool)
    return pooled, jax.nn.relu(_linear(pooled.reshape(pooled.shape[0], -1), p, "fc1"))


def cnn_logits(p, x, lengths=None):
    _, h = cnn_features(p, x)
    return _linear(h, p, "fc2")[:, 0]


def attention_logits(p, x, lengths=None):
    pooled, cnn = cnn_features(p, x)                        # (B, H, L), (B, hidden)
    keys = pooled.transpose(0, 2, 1)                       # (B, L, H)
    query = jnp.broadcast_to(pooled.mean(axis=2)[:, None, :], keys.shape)
    energy = jnp.tanh(jnp.concatenate((query, keys), axis=2) @ p["attention.W"].T + p["attention.b"])
    weights = jax.nn.softmax(energy @ p["attention.v"], axis=1)  # (B, L)
    context = jnp.einsum("bl,blh->bh", weights, keys)
    attn = jax.nn.relu(_linear(context, p, "fc_attn"))
    return _linear(jnp.concatenate((cnn, attn), axis=1), p, "fc2")[:, 0]


def deepbind_logits(p, x, lengths):
    w, b = p["conv.weight"], p["conv.bias"]
    F, _, K = w.shape
    y = _conv(x, jnp.concatenate((w, w[:, ::-1, ::-1])), jnp.concatenate((b, b)))  # (B, 2F, L_out)
    B, _, L_out = y.shape
    padding = jnp.arange(L_out)[None, :] >= (lengths - (K - 1))[:, None]          # (B, L_out)
    y = jnp.where(padding[:, None, :], -jnp.inf, y)
    m = jax.nn.relu(y.reshape(B, 2, F, L_out).max(axis=(1, 3)))
    return _linear(jax.nn.relu(_linear(m, p, "fc1")), p, "fc2")[:, 0]


LOGITS = {"cnn": cnn_logits, "attention": attention_logits, "deepbind": deepbind_logits}


def bce_with_logits(z, t):
    """Mean binary cross-entropy on logits, overflow-free (torch's formula)."""
    return jnp.mean(jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z))))


def adam(params, grads, m, v, step, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """torch.optim.Adam's update (amsgrad=False, weight_decay=0), ``step`` counted from 1."""
    bc1 = 1 - beta1 ** step
    bc2_sqrt = jnp.sqrt(1 - beta2 ** step)
    m = jax.tree.map(lambda m_, g: beta1 * m_ + (1 - beta1) * g, m, grads)
    v = jax.tree.map(lambda v_, g: beta2 * v_ + (1 - beta2) * g * g, v, grads)
    params = jax.tree.map(lambda p_, m_, v_: p_ - (lr / bc1) * m_ / (jnp.sqrt(v_) / bc2_sqrt + eps), params, m, v)
    return params, m, v


@partial(jax.jit, static_argnames=("model", "batch_size"), donate_argnums=(0, 1, 2))
def train_step(params, m, v, step, xe, ye, le, start, lr, *, model, batch_size):
    """One whole training step on rows [start, start + batch_size) of the epoch's arrays."""
    xb = lax.dynamic_slice_in_dim(xe, start, batch_size)
    yb = lax.dynamic_slice_in_dim(ye, start, batch_size)
    lb = lax.dynamic_slice_in_dim(le, start, batch_size)

    def loss_fn(p):
        logits = LOGITS[model](p, xb, lb)
        return bce_with_logits(logits, yb), logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    params, m, v = adam(params, grads, m, v, step, lr)
    return params, m, v, loss, logits


@partial(jax.jit, static_argnames=("model",))
def predict(params, x, lengths, *, model):
    return LOGITS[model](params, x, lengths)


@partial(jax.jit, static_argnames=())
def _gather(x, perm):
    return jnp.take(x, perm, axis=0)


def to_params(weights: dict) -> dict:
    return {k: jnp.asarray(np.asarray(v, dtype=np.float32)) for k, v in weights.items()}


def params_to_numpy(params: dict) -> dict:
    return {k: np.asarray(v) for k, v in params.items()}


def fit_jax(model, weights, x_train, y_train, x_valid=None, y_valid=None, *, lengths_train=None,
            lengths_valid=None, epochs=50, batch_size=32, lr=1e-3, seed=0, eval_batch=512):
    """``motifnet.train.fit``'s schedule in JAX; returns (history, final parameters as NumPy).

    x arrays are one-hot float32 (N, 4, L); lengths (N,) or None (all L).
    """
    n, L = x_train.shape[0], x_train.shape[2]
    lt = np.full(n, L, np.int32) if lengths_train is None else np.asarray(lengths_train, np.int32)
    xt, yt, lt = jnp.asarray(x_train), jnp.asarray(np.asarray(y_train, np.float32)), jnp.asarray(lt)
    has_valid = x_valid is not None and len(x_valid)
    if has_valid:
        lv = np.full(len(x_valid), x_valid.shape[2], np.int32) if lengths_valid is None else lengths_valid
        xv, lv = jnp.asarray(x_valid), jnp.asarray(np.asarray(lv, np.int32))
        yv = np.asarray(y_valid, np.float32)
    params = to_params(weights)
    m = jax.tree.map(jnp.zeros_like, params)
    v = jax.tree.map(jnp.zeros_like, params)
    rng = np.random.default_rng(seed)
    lr32 = jnp.float32(lr)
    step, history = 0, []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm = jnp.asarray(rng.permutation(n).astype(np.int32))
        xe, ye, le = _gather(xt, perm), _gather(yt, perm), _gather(lt, perm)
        losses, logits_all, sizes = [], [], []
        for start in range(0, n, batch_size):
            bs = min(batch_size, n - start)
            step += 1
            params, m, v, loss, logits = train_step(params, m, v, jnp.float32(step), xe, ye, le, jnp.int32(start),
                                                    lr32, model=model, batch_size=bs)
            losses.append(loss)
            logits_all.append(logits)
            sizes.append(bs)
        losses_h = np.asarray(jnp.stack(losses))
        logits_h = np.asarray(jnp.concatenate(logits_all))
        row = {"epoch": epoch, "loss": float(np.dot(losses_h.astype(np.float64), sizes) / n),
               "train_accuracy": float(np.mean((logits_h > 0) == (np.asarray(ye) == 1))),
               "valid_accuracy": None}
        if has_valid:
            vl = np.concatenate([np.asarray(predict(params, xv[i:i + eval_batch], lv[i:i + eval_batch], model=model))
                                 for i in range(0, xv.shape[0], eval_batch)])
            row["valid_accuracy"] = float(np.mean((vl > 0) == (yv == 1)))
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
    return history, params_to_numpy(params)


def first_step_seconds(model, weights, x, y, lengths=None) -> tuple[float, float]:
    """(first, second) call of the jitted step on one batch: trace + compile, then steady state."""
    params = to_params(weights)
    m = jax.tree.map(jnp.zeros_like, params)
    v = jax.tree.map(jnp.zeros_like, params)
    le = jnp.asarray(np.full(x.shape[0], x.shape[2], np.int32) if lengths is None else lengths.astype(np.int32))
    xe, ye = jnp.asarray(x), jnp.asarray(y.astype(np.float32))
    out = []
    for step in (1, 2):
        t0 = time.perf_counter()
        params, m, v, loss, _ = train_step(params, m, v, jnp.float32(step), xe, ye, le, jnp.int32(0),
                                           jnp.float32(1e-3), model=model, batch_size=x.shape[0])
        loss.block_until_ready()
        out.append(time.perf_counter() - t0)
    return out[0], out[1]


def param_shapes(model: str, seq_len: int = 50) -> dict[str, tuple]:
    """motifnet's default architectures' parameter shapes (for a JAX worker, which has no motifnet)."""
    if model == "deepbind":
        return {"conv.weight": (32, 4, 15), "conv.bias": (32,), "fc1.weight": (32, 32), "fc1.bias": (32,),
                "fc2.weight": (1, 32), "fc2.bias": (1,)}
    shapes = {"conv.weight": (32, 4, 12), "conv.bias": (32,), "fc1.weight": (16, 32 * ((seq_len - 11) // 4)),
              "fc1.bias": (16,)}
    if model == "attention":
        shapes.update({"attention.W": (32, 64), "attention.b": (32,), "attention.v": (32,),
                       "fc_attn.weight": (16, 32), "fc_attn.bias": (16,), "fc2.weight": (1, 32)})
    else:
        shapes["fc2.weight"] = (1, 16)
    shapes["fc2.bias"] = (1,)
    return shapes


def init_like(model: str, seq_len: int = 50, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded uniform weights of the model's shapes (the first-step timing needs no particular values)."""
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(-0.1, 0.1, s).astype(np.float32) for k, s in param_shapes(model, seq_len).items()}
