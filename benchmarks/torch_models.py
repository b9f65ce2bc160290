"""The torch counterparts of motifnet's models and training loop (benchmark reference only).

Imported only by torch worker processes.  The models are the primer's
``GenomicsCNN`` and the follow-up tutorial's CNN + additive attention, with the
layer names of motifnet's models so weights copy over by name; ``fit_torch``
runs the same mini-batches (same seeded permutation), the same Adam settings
and the same per-epoch evaluation as ``motifnet.train.fit``.
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

    @classmethod
    def from_arrays(cls, W, b, v):
        m = cls(W.shape[0]).to(torch.from_numpy(W).dtype)
        with torch.no_grad():
            m.attn.weight.copy_(torch.from_numpy(W))
            m.attn.bias.copy_(torch.from_numpy(b))
            m.v.copy_(torch.from_numpy(v))
        return m


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

    def forward(self, x):
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

    def forward(self, x):
        pooled = self.pool(torch.relu(self.conv(x)))  # (B, H, L)
        cnn = torch.relu(self.fc1(pooled.flatten(1)))
        context, _ = self.attention(pooled.mean(dim=2), pooled.permute(0, 2, 1))
        attn = torch.relu(self.fc_attn(context))
        return self.fc2(torch.cat((cnn, attn), dim=1)).squeeze(1)


TORCH_MODELS = {"cnn": TorchCNN, "attention": TorchCNNWithAttention}

# motifnet parameter name -> torch state_dict name, where they differ
_NAME_MAP = {"attention.W": "attention.attn.weight", "attention.b": "attention.attn.bias"}


def load_weights(model: nn.Module, weights: dict[str, np.ndarray]) -> None:
    """Copy motifnet's parameters (by name, shapes must agree) into the torch model."""
    state = model.state_dict()
    if len(weights) != len(state):
        raise ValueError(f"motifnet has {len(weights)} parameters, torch {len(state)}: {sorted(weights)} vs {sorted(state)}")
    new = {}
    for name, value in weights.items():
        tname = _NAME_MAP.get(name, name)
        if tname not in state:
            raise KeyError(f"motifnet parameter {name!r} has no torch counterpart {tname!r} in {sorted(state)}")
        if tuple(state[tname].shape) != value.shape:
            raise ValueError(f"{name}: motifnet shape {value.shape} != torch {tuple(state[tname].shape)}")
        new[tname] = torch.from_numpy(np.array(value, dtype=np.float32))
    model.load_state_dict(new)


@torch.no_grad()
def predict_logits_torch(model, x: torch.Tensor, batch_size=512) -> torch.Tensor:
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)])


def accuracy_torch(model, x, y) -> float:
    logits = predict_logits_torch(model, x)
    return float(((logits > 0).to(y.dtype) == y).float().mean())


def fit_torch(model, x_train, y_train, x_test=None, y_test=None, *, epochs=50, batch_size=32, lr=1e-3, seed=0):
    """motifnet.train.fit's loop in torch: same batches, same Adam, same per-epoch evaluation."""
    xt = torch.from_numpy(x_train)
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
    xv = None if x_test is None else torch.from_numpy(x_test)
    yv = None if y_test is None else torch.from_numpy(np.asarray(y_test, dtype=np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(seed)
    n = xt.shape[0]
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(n))
        xe, ye = xt[perm], yt[perm]  # one gather per epoch, then contiguous slices
        model.train()
        total = 0.0
        epoch_logits = []  # train accuracy from the training batches' logits, as motifnet's fit
        for i in range(0, n, batch_size):
            xb, yb = xe[i : i + batch_size], ye[i : i + batch_size]
            opt.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
            epoch_logits.append(logits.detach())
        model.eval()
        history.append(
            {
                "epoch": epoch,
                "loss": total / n,
                "train_accuracy": float(((torch.cat(epoch_logits) > 0).float() == ye).float().mean()),
                "test_accuracy": None if xv is None else accuracy_torch(model, xv, yv),
                "seconds": time.perf_counter() - t0,
            }
        )
    return history
