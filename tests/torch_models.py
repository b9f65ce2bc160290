"""The tutorials' models written in torch: the reference for motifnet's layers and models.

``torch_twin(model)`` builds the torch module with motifnet's architecture and
copies motifnet's initial weights into it, so both start from the same point.
The attention module is the follow-up tutorial's ``SimpleAttention`` verbatim
(keys (B, L, H)); motifnet's keys are (B, H, L), hence the ``permute``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class SimpleAttention(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.attn = nn.Linear(hidden * 2, hidden)
        self.v = nn.Parameter(torch.rand(hidden))

    def forward(self, hidden, encoder_outputs):  # (B, H), (B, L, H)
        L = encoder_outputs.size(1)
        hidden = hidden.unsqueeze(1).repeat(1, L, 1)
        energy = torch.tanh(self.attn(torch.cat((hidden, encoder_outputs), dim=2)))
        energy = energy.permute(0, 2, 1)  # (B, H, L)
        v = self.v.repeat(encoder_outputs.size(0), 1).unsqueeze(1)
        w = F.softmax(torch.bmm(v, energy).squeeze(1), dim=1)
        context = torch.bmm(w.unsqueeze(1), encoder_outputs).squeeze(1)
        return context, w


class TorchCNN(nn.Module):
    def __init__(self, seq_len, n_filters, kernel_size, pool_size, hidden):
        super().__init__()
        self.conv = nn.Conv1d(4, n_filters, kernel_size)
        self.pool = nn.MaxPool1d(pool_size)
        pool_length = (seq_len - kernel_size + 1) // pool_size
        self.fc1 = nn.Linear(n_filters * pool_length, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, x):
        pooled = self.pool(F.relu(self.conv(x)))
        return self.fc2(F.relu(self.fc1(pooled.flatten(1)))).squeeze(1)


class TorchCNNWithAttention(TorchCNN):
    def __init__(self, seq_len, n_filters, kernel_size, pool_size, hidden):
        super().__init__(seq_len, n_filters, kernel_size, pool_size, hidden)
        self.attention = SimpleAttention(n_filters)
        self.fc_attn = nn.Linear(n_filters, hidden)
        self.fc2 = nn.Linear(2 * hidden, 1)

    def forward(self, x):
        pooled = self.pool(F.relu(self.conv(x)))  # (B, F, L_pool)
        cnn = F.relu(self.fc1(pooled.flatten(1)))
        context, _ = self.attention(pooled.mean(dim=2), pooled.permute(0, 2, 1))
        attn = F.relu(self.fc_attn(context))
        return self.fc2(torch.cat((cnn, attn), dim=1)).squeeze(1)


# motifnet parameter name -> torch parameter name
TORCH_NAMES = {
    "attention.W": "attention.attn.weight",
    "attention.b": "attention.attn.bias",
    "attention.v": "attention.v",
}


def torch_name(name: str) -> str:
    return TORCH_NAMES.get(name, name)


def torch_twin(model) -> nn.Module:
    """The torch module of ``model``'s architecture holding a copy of its current weights."""
    cls = {"cnn": TorchCNN, "attention": TorchCNNWithAttention}[model.name]
    h = model.hyperparameters()
    net = cls(h["seq_len"], h["n_filters"], h["kernel_size"], h["pool_size"], h["hidden"])
    net = net.to(torch.float64 if model.dtype == np.float64 else torch.float32)
    tparams = dict(net.named_parameters())
    assert set(tparams) == {torch_name(n) for n in model.parameters()}
    with torch.no_grad():
        for name, p in model.parameters().items():
            tparams[torch_name(name)].copy_(torch.from_numpy(p.data.copy()))
    return net


def torch_params(net) -> dict[str, np.ndarray]:
    return {n: p.detach().numpy().copy() for n, p in net.named_parameters()}


def check_layer_against_torch(name, output, expected_output, grads, expected_grads, rtol=1e-5, grad_rtol=1e-5):
    """Compare a layer's forward output and every gradient with torch's (assert_close each).

    ``grads`` and ``expected_grads`` map the same names to arrays / torch tensors (or
    torch parameters, whose ``.grad`` is used).
    """
    from checks import assert_close

    assert_close(f"{name} forward", output, expected_output, rtol=rtol)
    assert set(grads) == set(expected_grads), (sorted(grads), sorted(expected_grads))
    for gname, g in grads.items():
        e = expected_grads[gname]
        e = e.grad if isinstance(e, torch.Tensor) and e.grad is not None else e
        assert_close(f"{name} d/d {gname}", g, e, rtol=grad_rtol)
