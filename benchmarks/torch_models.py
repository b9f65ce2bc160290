"""The torch twins of motifnet's models and training loop: the one reference the tests and
the benchmarks share (imported only where torch is: the test suite and torch workers).

The models have the layer names of motifnet's models, so weights copy over by name
(``torch_twin``, ``load_weights``); ``SimpleAttention`` is the follow-up tutorial's
module verbatim (keys (B, L, H); motifnet's are (B, H, L), hence the ``permute``).
``fit_torch`` runs the same mini-batches (same seeded permutation), the same Adam
settings and the same per-epoch evaluation as ``motifnet.train.fit``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SimpleAttention(nn.Module):
    """The follow-up tutorial's additive attention; keys are (B, L, H) here."""

    def __init__(self, hidden):
        super().__init__()
        self.attn = nn.Linear(hidden * 2, hidden)
        self.v = nn.Parameter(torch.rand(hidden))

    def forward(self, hidden, encoder_outputs):
        L = encoder_outputs.size(1)
        hidden = hidden.unsqueeze(1).repeat(1, L, 1)
        energy = torch.tanh(self.attn(torch.cat((hidden, encoder_outputs), dim=2)))
        energy = energy.permute(0, 2, 1)
        v = self.v.repeat(encoder_outputs.size(0), 1).unsqueeze(1)
        w = F.softmax(torch.bmm(v, energy).squeeze(1), dim=1)
        context = torch.bmm(w.unsqueeze(1), encoder_outputs).squeeze(1)
        return context, w


def _pooled_length(seq_len, kernel_size, pool_size):
    return (seq_len - kernel_size + 1) // pool_size


class TorchCNN(nn.Module):
    """The primer's GenomicsCNN: conv -> ReLU -> maxpool -> flatten -> fc1 -> ReLU -> fc2."""

    def __init__(self, seq_len=50, n_filters=32, kernel_size=12, pool_size=4, hidden=16):
        super().__init__()
        self.conv = nn.Conv1d(4, n_filters, kernel_size)
        self.pool = nn.MaxPool1d(pool_size)
        self.fc1 = nn.Linear(n_filters * _pooled_length(seq_len, kernel_size, pool_size), hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x, lengths=None):
        h = self.pool(torch.relu(self.conv(x)))
        h = torch.relu(self.fc1(h.flatten(1)))
        return self.fc2(h).squeeze(1)


class TorchCNNWithAttention(nn.Module):
    """CNN + additive attention; the query is the pooled features' mean over positions."""

    def __init__(self, seq_len=50, n_filters=32, kernel_size=12, pool_size=4, hidden=16):
        super().__init__()
        self.conv = nn.Conv1d(4, n_filters, kernel_size)
        self.pool = nn.MaxPool1d(pool_size)
        self.fc1 = nn.Linear(n_filters * _pooled_length(seq_len, kernel_size, pool_size), hidden)
        self.attention = SimpleAttention(n_filters)
        self.fc_attn = nn.Linear(n_filters, hidden)
        self.fc2 = nn.Linear(2 * hidden, 1)

    def forward(self, x, lengths=None):
        pooled = self.pool(torch.relu(self.conv(x)))  # (B, H, L)
        cnn = torch.relu(self.fc1(pooled.flatten(1)))
        context, _ = self.attention(pooled.mean(dim=2), pooled.permute(0, 2, 1))
        attn = torch.relu(self.fc_attn(context))
        return self.fc2(torch.cat((cnn, attn), dim=1)).squeeze(1)


class StrandConv(nn.Module):
    """Conv1d(4 -> F, K) on both strands with shared filters: the forward strand convolved
    with [w ; reverse complement of w] (a flip of the channel and position axes)."""

    def __init__(self, n_filters, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_filters, 4, kernel_size))
        self.bias = nn.Parameter(torch.empty(n_filters))
        ref = nn.Conv1d(4, n_filters, kernel_size)  # torch's own initialisation
        with torch.no_grad():
            self.weight.copy_(ref.weight)
            self.bias.copy_(ref.bias)

    def forward(self, x):
        w2 = torch.cat((self.weight, torch.flip(self.weight, dims=(1, 2))))
        return F.conv1d(x, w2, torch.cat((self.bias, self.bias)))


class TorchDeepBind(nn.Module):
    """Both strands, global max over each sequence's valid positions, then two dense layers.

    ``forward(x, lengths)``: x (B, 4, L) one-hot, lengths (B,) (None: all L); positions
    past a sequence's length are masked with -inf before the max.
    """

    def __init__(self, n_filters=32, kernel_size=15, hidden=32):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = StrandConv(n_filters, kernel_size)
        self.fc1 = nn.Linear(n_filters, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x, lengths=None):
        y = self.conv(x)  # (B, 2F, L - K + 1)
        B, F2, L_out = y.shape
        if lengths is not None:
            n_valid = torch.as_tensor(lengths) - (self.kernel_size - 1)
            y = y.masked_fill((torch.arange(L_out)[None, :] >= n_valid[:, None])[:, None, :], float("-inf"))
        m = torch.relu(y.view(B, 2, F2 // 2, L_out).permute(0, 2, 1, 3).reshape(B, F2 // 2, -1).max(dim=2).values)
        return self.fc2(torch.relu(self.fc1(m))).squeeze(1)


TORCH_MODELS = {"cnn": TorchCNN, "attention": TorchCNNWithAttention, "deepbind": TorchDeepBind}

# motifnet parameter name -> torch parameter name, where they differ
_NAME_MAP = {"attention.W": "attention.attn.weight", "attention.b": "attention.attn.bias"}


def torch_name(name: str) -> str:
    return _NAME_MAP.get(name, name)


def build_torch_model(name: str, hyperparameters: dict) -> nn.Module:
    """The torch twin of architecture ``name`` with motifnet's hyper-parameters (seed ignored)."""
    h = {k: v for k, v in hyperparameters.items() if k != "seed"}
    return TORCH_MODELS[name](**h)


def load_weights(net: nn.Module, weights: dict[str, np.ndarray]) -> None:
    """Copy motifnet's parameters (by name, shapes must agree) into the torch model."""
    params = dict(net.named_parameters())
    if len(weights) != len(params):
        raise ValueError(f"motifnet has {len(weights)} parameters, torch {len(params)}: "
                         f"{sorted(weights)} vs {sorted(params)}")
    with torch.no_grad():
        for name, value in weights.items():
            target = params.get(torch_name(name))
            if target is None:
                raise KeyError(f"motifnet parameter {name!r} has no torch counterpart in {sorted(params)}")
            if tuple(target.shape) != value.shape:
                raise ValueError(f"{name}: motifnet shape {value.shape} != torch {tuple(target.shape)}")
            target.copy_(torch.from_numpy(np.array(value, dtype=target.detach().numpy().dtype)))


def torch_twin(model) -> nn.Module:
    """The torch module of ``model``'s architecture holding a copy of its current weights."""
    net = build_torch_model(model.name, model.hyperparameters())
    net = net.to(torch.float64 if model.dtype == np.float64 else torch.float32)
    load_weights(net, {n: p.data for n, p in model.parameters().items()})
    return net


def torch_params(net) -> dict[str, np.ndarray]:
    return {n: p.detach().numpy().copy() for n, p in net.named_parameters()}


def one_hot_tensor(codes: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """(N, 4, L) one-hot of base codes (N, L) int8 (-1: an all-zero column)."""
    c = torch.from_numpy(codes.astype(np.int64))
    x = torch.zeros(c.shape[0], 5, c.shape[1], dtype=dtype)
    x.scatter_(1, torch.where(c < 0, 4, c).unsqueeze(1), 1.0)
    return x[:, :4].contiguous()


@torch.no_grad()
def predict_logits_torch(model, x: torch.Tensor, lengths=None, batch_size=512) -> torch.Tensor:
    return torch.cat([model(x[i:i + batch_size], None if lengths is None else lengths[i:i + batch_size])
                      for i in range(0, x.shape[0], batch_size)])


def accuracy_torch(model, x, y, lengths=None) -> float:
    logits = predict_logits_torch(model, x, lengths)
    return float(((logits > 0).to(y.dtype) == y).float().mean())


def fit_torch(model, x_train, y_train, x_valid=None, y_valid=None, *, lengths_train=None, lengths_valid=None,
              epochs=50, batch_size=32, lr=1e-3, seed=0):
    """motifnet.train.fit's loop in torch: same batches, same Adam, same per-epoch evaluation.

    x arrays are one-hot float32 (N, 4, L); lengths (N,) int64 or None.
    """
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
    lt = None if lengths_train is None else torch.from_numpy(np.asarray(lengths_train, dtype=np.int64))
    xv = None if x_valid is None else torch.from_numpy(x_valid)
    yv = None if y_valid is None else torch.from_numpy(np.asarray(y_valid, dtype=np.float32))
    lv = None if lengths_valid is None else torch.from_numpy(np.asarray(lengths_valid, dtype=np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(seed)
    n = xt.shape[0]
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(n))
        xe, ye = xt[perm], yt[perm]  # one gather per epoch, then contiguous slices
        le = None if lt is None else lt[perm]
        model.train()
        total = 0.0
        epoch_logits = []  # train accuracy from the training batches' logits, as motifnet's fit
        for i in range(0, n, batch_size):
            xb, yb = xe[i:i + batch_size], ye[i:i + batch_size]
            opt.zero_grad()
            logits = model(xb, None if le is None else le[i:i + batch_size])
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
            epoch_logits.append(logits.detach())
        model.eval()
        history.append({
            "epoch": epoch,
            "loss": total / n,
            "train_accuracy": float(((torch.cat(epoch_logits) > 0).float() == ye).float().mean()),
            "valid_accuracy": None if xv is None else accuracy_torch(model, xv, yv, lv),
            "seconds": time.perf_counter() - t0,
        })
    return history
