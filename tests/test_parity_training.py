"""Training parity with torch: the same model, weights and batches give the same run.

Both models train for 120 Adam steps (batch 32, lr 1e-3, float32) on planted-motif
data in motifnet and in torch (benchmarks/torch_models.py, weights copied from
motifnet's initialisation).  The loss must agree at every step to 1e-4 and the
final parameters to 1e-3 (relative to each tensor's max-norm), and every
gradient at the first step to 1e-4 and at the last step to 1e-3.  The gradient
checks matter: Adam is invariant to a constant rescaling of one tensor's
gradient (m / sqrt(v) does not change), so a gradient wrong by a constant
factor would leave the loss and parameter trajectories intact; a wrong
direction drifts them well beyond these tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from benchmarks.torch_models import torch_name, torch_params, torch_twin
from checks import assert_close

from motifnet.data import generate_data, one_hot
from motifnet.layers import BCEWithLogitsLoss
from motifnet.models import build_model
from motifnet.optim import Adam
from motifnet.train import fit

N_SEQS, BATCH, STEPS, LR = 512, 32, 120, 1e-3


def _data(seed=0):
    seqs, labels = generate_data(n=N_SEQS, length=50, seed=seed)
    return one_hot(seqs), labels.astype(np.float32)


def _batches(n, batch_size, steps, seed):
    """fit's schedule: one Generator, a fresh permutation per epoch, batches in order."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < steps:
        perm = rng.permutation(n)
        out += [perm[b:b + batch_size] for b in range(0, n, batch_size)]
    return out[:steps]


def _train_motifnet(model, x, y, batches):
    """Losses per step, and the gradients at the first and at the last step."""
    loss_fn, opt = BCEWithLogitsLoss(), Adam(model.parameters(), lr=LR)
    losses, grads = [], []
    for step, idx in enumerate(batches):
        xb, yb = np.ascontiguousarray(x[idx]), np.ascontiguousarray(y[idx])
        logits = model.forward(xb)
        losses.append(loss_fn.forward(logits, yb))
        opt.zero_grad()
        model.backward(loss_fn.backward())
        if step in (0, len(batches) - 1):
            grads.append({torch_name(n): p.grad.copy() for n, p in model.parameters().items()})
        opt.step()
    return np.array(losses), grads


def _train_torch(net, x, y, batches):
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    losses, grads = [], []
    for step, idx in enumerate(batches):
        loss = loss_fn(net(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        if step in (0, len(batches) - 1):
            grads.append({n: p.grad.numpy().copy() for n, p in net.named_parameters()})
        opt.step()
        losses.append(loss.item())
    return np.array(losses), grads


@pytest.mark.parametrize("name", ["cnn", "attention", "deepbind"])
def test_training_matches_torch(name):
    x, y = _data()
    model = build_model(name, seed=3)
    net = torch_twin(model)
    batches = _batches(N_SEQS, BATCH, STEPS, seed=1)
    ours, our_grads = _train_motifnet(model, x, y, batches)
    theirs, their_grads = _train_torch(net, x, y, batches)
    # the run must actually learn something, or agreeing would prove little
    assert theirs[-20:].mean() < 0.9 * theirs[:5].mean(), theirs
    for step, (a, e) in enumerate(zip(ours, theirs)):
        assert_close(f"{name} loss at step {step}", a, e, rtol=1e-4)
    for when, rtol, ours_g, theirs_g in [("first", 1e-4, our_grads[0], their_grads[0]),
                                         ("last", 1e-3, our_grads[1], their_grads[1])]:
        for pname, g in ours_g.items():
            assert_close(f"{name} d loss / d {pname} at the {when} step", g, theirs_g[pname], rtol=rtol)
    final = torch_params(net)
    for pname, p in model.parameters().items():
        assert_close(f"{name} {pname} after {STEPS} steps", p.data, final[torch_name(pname)], rtol=1e-3)


@pytest.mark.parametrize("name", ["cnn", "attention"])
def test_fit_is_the_training_loop(name):
    """fit's batches and steps are exactly the schedule above (bitwise the same parameters)."""
    x, y = _data(seed=5)
    x, y = x[:200], y[:200].astype(np.int8)
    epochs, bs = 2, 32
    steps = epochs * -(-200 // bs)
    manual = build_model(name, seed=7)
    _train_motifnet(manual, x, y.astype(np.float32), _batches(200, bs, steps, seed=11))
    fitted = build_model(name, seed=7)
    history = fit(fitted, x, y, x[:50], y[:50], epochs=epochs, batch_size=bs, lr=LR, seed=11, restore_best=False)
    np.testing.assert_array_equal(fitted.flat_params, manual.flat_params)
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) == {"epoch", "loss", "train_accuracy", "valid_loss", "valid_accuracy", "valid_auroc",
                               "seconds", "best"}


def test_train_accuracy_is_that_of_the_epochs_own_training_logits():
    # the definition pinned: the logits the training batches produced, against the targets in
    # the same (shuffled) order; a second pass after the epoch, or unshuffled targets, differ
    x, y = _data(seed=6)
    x, y = x[:96], y[:96].astype(np.int8)
    model = build_model("cnn", seed=2)
    logits = []
    real_forward = model.forward

    def recording_forward(xb, lengths=None, **kw):
        out = real_forward(xb, lengths, **kw)
        logits.append(out.copy())
        return out

    model.forward = recording_forward
    history = fit(model, x, y, epochs=6, batch_size=32, seed=4, lr=1e-2, restore_best=False)
    rng = np.random.default_rng(4)
    for epoch in range(6):
        perm = rng.permutation(96)
        epoch_logits = np.concatenate(logits[3 * epoch:3 * epoch + 3])
        expected = np.mean((epoch_logits > 0) == (y[perm] == 1))
        assert history[epoch]["train_accuracy"] == expected
    assert expected > 0.7  # learning: the check below can tell the orders apart
    assert expected != np.mean((epoch_logits > 0) == (y == 1))  # the order matters
