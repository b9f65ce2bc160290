"""Training loop, prediction, evaluation and input gradients.

The training step is the ~15 kernel calls of forward + loss + backward + one
Adam call and nothing else: the data set is validated once, each epoch
gathers the shuffled data with ONE fancy index and then takes contiguous
slices (views) as batches, and evaluation runs forward-only in large batches.
"""

from __future__ import annotations

import time

import numpy as np

from motifnet.layers import BCEWithLogitsLoss
from motifnet.optim import Adam

SALIENCY_MODES = ("sum", "max", "grad_x_input")

# Forward-only evaluation batch.  Measured (2000 sequences of 50, NUMBA_NUM_THREADS=1, thread
# CPU time, medians of 15): primer CNN 7.2/5.4/5.5/5.6/8.0/9.9 ms at batch 32/64/128/256/512/
# 2000, attention model 11.4/9.8/9.9/10.4/11.1/13.9 ms: mid-sized batches keep each layer's
# activations in cache.  At 64 the primer conv (3.8M multiply-adds) also stays below the
# kernels' threshold for going parallel, which costs more than it saves on a busy machine.
EVAL_BATCH_SIZE = 64


def _check_labels(name, y, n) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one label per sequence), got {y.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return y


def fit(model, x_train, y_train, x_test=None, y_test=None, *, epochs=50, batch_size=32, lr=1e-3,
        seed=0, progress=None) -> list[dict]:
    """Train ``model`` with Adam on binary cross-entropy; return one history row per epoch.

    Mini-batches: ``rng = np.random.default_rng(seed)`` is made once and draws a
    fresh permutation of the training set at the start of each epoch; batches
    are taken in order, the last one partial.  After each epoch the model is
    evaluated (forward only) on the test set, if given.  Rows: {"epoch" (from
    1), "loss" (mean training loss over the epoch's batches, weighted by batch
    size), "train_accuracy" (of the logits the training batches produced during
    the epoch, as Keras reports it: no second pass over the training set),
    "test_accuracy" (None without test data), "seconds" (wall time of the
    epoch, evaluation included)}.
    ``progress(row)`` is called after each epoch.
    """
    x_train = model.check_input(x_train)
    y_train = _check_labels("y_train", y_train, x_train.shape[0])
    has_test = x_test is not None
    if has_test:
        x_test = model.check_input(x_test)
        y_test = _check_labels("y_test", y_test, x_test.shape[0])
    if batch_size < 1 or epochs < 0:
        raise ValueError(f"batch_size must be >= 1 and epochs >= 0, got {batch_size}, {epochs}")
    n = x_train.shape[0]
    if n == 0:
        raise ValueError("the training set is empty")
    targets = y_train.astype(model.dtype)
    loss_fn = BCEWithLogitsLoss()
    optimizer = Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    # the shuffled copy of the training set: batches are contiguous views of it.  np.take
    # into a buffer made once costs ~0.1 ms per epoch; x_train[perm] (a fresh 1.2 MB
    # array each epoch, page faults included) ~1 ms.
    xs, ts = np.empty_like(x_train), np.empty_like(targets)
    epoch_logits = np.empty(n, dtype=model.dtype)  # the training batches' logits, for train accuracy
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        perm = rng.permutation(n)
        np.take(x_train, perm, axis=0, out=xs)
        np.take(targets, perm, axis=0, out=ts)
        loss_sum = 0.0
        for b in range(0, n, batch_size):
            xb, tb = xs[b:b + batch_size], ts[b:b + batch_size]
            logits = model._forward(xb)
            epoch_logits[b:b + batch_size] = logits
            loss_sum += loss_fn.forward(logits, tb) * xb.shape[0]
            d_logits = loss_fn.backward()
            optimizer.zero_grad()
            model.backward(d_logits)
            optimizer.step()
        row = {
            "epoch": epoch,
            "loss": loss_sum / n,
            "train_accuracy": float(np.mean((epoch_logits > 0) == (ts == 1))),
            "test_accuracy": _accuracy(model, x_test, y_test) if has_test else None,
        }
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        if progress is not None:
            progress(row)
    return history


def _accuracy(model, x, y) -> float | None:
    if x.shape[0] == 0:
        return None
    return float(np.mean((_predict_logits(model, x) > 0) == (y == 1)))


def _predict_logits(model, x, batch_size=EVAL_BATCH_SIZE):
    out = np.empty(x.shape[0], dtype=model.dtype)
    for start in range(0, x.shape[0], batch_size):
        out[start:start + batch_size] = model._forward(x[start:start + batch_size])
    return out


def predict_logits(model, x, batch_size=EVAL_BATCH_SIZE) -> np.ndarray:
    """Logits (N,) for one-hot sequences x (N, 4, L), forward only, in batches."""
    return _predict_logits(model, model.check_input(x), batch_size)


def predict_proba(model, x, batch_size=EVAL_BATCH_SIZE) -> np.ndarray:
    """P(label 1) (N,) = sigmoid(logit), computed without overflow."""
    z = predict_logits(model, x, batch_size).astype(np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def auroc(scores, labels) -> float | None:
    """Area under the ROC curve by the rank statistic (Mann-Whitney U), ties averaged.

    None when only one class is present.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels) == 1
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size)
    # average rank (1-based) over each run of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [scores.size]))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def evaluate(model, x, y) -> dict:
    """{"accuracy", "confusion_matrix": [[TN, FP], [FN, TP]], "auroc", "n"} (threshold p=0.5)."""
    x = model.check_input(x)
    y = _check_labels("y", y, x.shape[0])
    logits = _predict_logits(model, x)
    pred = logits > 0
    truth = y == 1
    tn, fp = int(np.sum(~pred & ~truth)), int(np.sum(pred & ~truth))
    fn, tp = int(np.sum(~pred & truth)), int(np.sum(pred & truth))
    n = int(x.shape[0])
    return {
        "accuracy": (tp + tn) / n if n else None,
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "auroc": auroc(logits, y),
        "n": n,
    }


def input_gradient(model, x, batch_size=EVAL_BATCH_SIZE) -> np.ndarray:
    """d logit / d x (N, 4, L) through ``model.backward`` (the parameter grads are left zeroed)."""
    x = model.check_input(x)
    out = np.empty(x.shape, dtype=model.dtype)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        model._forward(xb)
        out[start:start + batch_size] = model.backward(np.ones(xb.shape[0], dtype=model.dtype),
                                                       need_input_grad=True)
    model.zero_grad()
    return out


def saliency(model, x, mode="sum") -> np.ndarray:
    """Per-position importance (N, L) from the input gradient.

    "sum": |grad| summed over the 4 channels; "max": |grad| max over channels;
    "grad_x_input": (grad * x) summed over channels, clipped at 0 (the primer's:
    for one-hot x it is the gradient at the base present, where positive).
    """
    if mode not in SALIENCY_MODES:
        raise ValueError(f"mode must be one of {', '.join(SALIENCY_MODES)}, got {mode!r}")
    grad = input_gradient(model, x)
    if mode == "sum":
        return np.abs(grad).sum(axis=1)
    if mode == "max":
        return np.abs(grad).max(axis=1)
    return np.maximum((grad * x).sum(axis=1), 0)
