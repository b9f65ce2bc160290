"""Training loop, prediction, evaluation and input gradients.

The training step is the ~15 kernel calls of forward + loss + backward + one Adam
call and nothing else (for the cnn model on long sequences, all of them in one compiled
call that can use every thread: ``motifnet/compiled_step.py``): the data set is
validated once, each epoch gathers the shuffled data with ONE fancy index into buffers
made once and then takes contiguous slices (views) as batches, and evaluation runs
forward-only in large batches.

Training a user can trust:

* a validation set, evaluated after every epoch: the epoch with the lowest
  validation loss is kept (its weights are restored at the end), and with
  ``patience`` training stops once that many epochs pass without a better one;
* a non-finite loss stops training at once with a ``TrainingDiverged`` error
  (nothing half-trained is returned as if it were fine);
* ``stalled(...)`` recognises a run that learnt nothing (one class predicted for
  every sequence, the loss still at ln 2), so callers can say so or restart.
"""

from __future__ import annotations

import math
import time

import numpy as np

from motifnet.compiled_step import compiled_step_for
from motifnet.errors import UserError
from motifnet.layers import BCEWithLogitsLoss
from motifnet.optim import Adam

SALIENCY_MODES = ("sum", "max", "grad_x_input")
LN2 = math.log(2.0)

# Forward-only evaluation batch.  Measured (2000 sequences of 50, NUMBA_NUM_THREADS=1, thread
# CPU time, medians of 15): primer CNN 7.2/5.4/5.5/5.6/8.0/9.9 ms at batch 32/64/128/256/512/
# 2000, attention model 11.4/9.8/9.9/10.4/11.1/13.9 ms: mid-sized batches keep each layer's
# activations in cache.  At 64 the primer conv (3.8M multiply-adds) also stays below the
# kernels' threshold for going parallel, which costs more than it saves on a busy machine.
EVAL_BATCH_SIZE = 64


class TrainingDiverged(UserError):
    """The training loss became NaN or infinite: the run is stopped and nothing is kept."""


def _check_labels(name, y, n) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) (one label per sequence), got {y.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return y


def fit(model, x_train, y_train, x_valid=None, y_valid=None, *, lengths_train=None, lengths_valid=None,
        epochs=50, batch_size=32, lr=1e-3, seed=0, patience=None, restore_best=True,
        progress=None) -> list[dict]:
    """Train ``model`` with Adam on binary cross-entropy; return one history row per epoch.

    Parameters
    ----------
    model : a motifnet model (``motifnet.models``)
    x_train, y_train : sequences (base codes (N, L) int8 or one-hot (N, 4, L)) and 0/1 labels
    x_valid, y_valid : optional validation set, evaluated (forward only) after every epoch
    lengths_train, lengths_valid : optional (N,) lengths of variable-length sequences
    epochs, batch_size, lr : as usual; Adam with torch's defaults otherwise
    seed : ``rng = np.random.default_rng(seed)`` is made once and draws a fresh permutation
        of the training set at the start of each epoch; batches are taken in order, the
        last one partial
    patience : stop after this many epochs without a lower validation loss (None: never)
    restore_best : with a validation set, end with the weights of the epoch of lowest
        validation loss (``row["best"]`` marks it)

    History rows: {"epoch" (from 1), "loss" (mean training loss over the epoch's batches,
    weighted by batch size), "train_accuracy" (of the logits the training batches produced
    during the epoch, as Keras reports it), "valid_loss", "valid_accuracy", "valid_auroc"
    (None without validation data), "seconds", "best"}.  ``progress(row)`` is called
    after each epoch.

    Raises
    ------
    TrainingDiverged
        as soon as a batch's loss is NaN or infinite (the model's weights are then garbage).
    """
    x_train, lengths_train = model.check_input(x_train, lengths_train)
    y_train = _check_labels("y_train", y_train, x_train.shape[0])
    has_valid = x_valid is not None
    if has_valid:
        x_valid, lengths_valid = model.check_input(x_valid, lengths_valid)
        y_valid = _check_labels("y_valid", y_valid, x_valid.shape[0])
    if batch_size < 1 or epochs < 0:
        raise ValueError(f"batch_size must be >= 1 and epochs >= 0, got {batch_size}, {epochs}")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    n = x_train.shape[0]
    if n == 0:
        raise ValueError("the training set is empty")
    targets = y_train.astype(model.dtype)
    loss_fn = BCEWithLogitsLoss()
    optimizer = Adam(model.parameters(), lr=lr)
    # long sequences on the cnn model: forward, loss, backward and Adam's update in one
    # compiled call, split over threads (motifnet/compiled_step.py); None: layer by layer
    step = compiled_step_for(model, x_train, batch_size, optimizer)
    rng = np.random.default_rng(seed)
    # the shuffled copy of the training set: batches are contiguous views of it.  np.take
    # into a buffer made once costs ~0.1 ms per epoch; x_train[perm] (a fresh 1.2 MB
    # array each epoch, page faults included) ~1 ms.
    xs, ts, ls = np.empty_like(x_train), np.empty_like(targets), np.empty_like(lengths_train)
    epoch_logits = np.empty(n, dtype=model.dtype)  # the training batches' logits, for train accuracy
    history, best_loss, best_params, since_best = [], math.inf, None, 0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        perm = rng.permutation(n)
        np.take(x_train, perm, axis=0, out=xs)
        np.take(targets, perm, axis=0, out=ts)
        np.take(lengths_train, perm, axis=0, out=ls)
        loss_sum = 0.0
        for b in range(0, n, batch_size):
            xb, tb = xs[b:b + batch_size], ts[b:b + batch_size]
            if step is not None:  # the same step as the lines below, Adam's included, in one compiled call
                loss, logits = step(xb, tb)
            else:
                logits = model.forward(xb, ls[b:b + batch_size], check=False)
                loss = loss_fn.forward(logits, tb)
            epoch_logits[b:b + batch_size] = logits
            if not math.isfinite(loss):
                raise TrainingDiverged(
                    f"the training loss became {loss} at epoch {epoch}, batch {b // batch_size + 1} "
                    f"(learning rate {lr:g}; a smaller --lr usually helps); nothing was saved")
            loss_sum += loss * xb.shape[0]
            if step is None:
                d_logits = loss_fn.backward()
                optimizer.zero_grad()
                model.backward(d_logits)
                optimizer.step()
        row = {"epoch": epoch, "loss": loss_sum / n,
               "train_accuracy": float(np.mean((epoch_logits > 0) == (ts == 1))),
               "valid_loss": None, "valid_accuracy": None, "valid_auroc": None, "best": False}
        if has_valid and x_valid.shape[0]:
            logits = predict_logits(model, x_valid, lengths_valid, check=False)
            row["valid_loss"] = mean_bce(logits, y_valid)
            row["valid_accuracy"] = float(np.mean((logits > 0) == (y_valid == 1)))
            row["valid_auroc"] = auroc(logits, y_valid)
            if row["valid_loss"] < best_loss:
                best_loss, since_best, row["best"] = row["valid_loss"], 0, True
                if restore_best:
                    best_params = model.flat_params.copy()
            else:
                since_best += 1
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        if progress is not None:
            progress(row)
        if patience is not None and has_valid and since_best >= patience:
            break
    if best_params is not None:
        model.flat_params[...] = best_params
    return history


def mean_bce(logits, labels) -> float:
    """Mean binary cross-entropy of logits against 0/1 labels, in float64, overflow-free."""
    z = np.asarray(logits, dtype=np.float64)
    t = np.asarray(labels, dtype=np.float64)
    return float(np.mean((1 - t) * z + np.logaddexp(0.0, -z))) if z.size else math.nan


def predict_logits(model, x, lengths=None, batch_size=EVAL_BATCH_SIZE, check=True) -> np.ndarray:
    """Logits (N,) for sequences x (base codes or one-hot), forward only, in batches."""
    if check:
        x, lengths = model.check_input(x, lengths)
    elif lengths is None:
        lengths = np.full(x.shape[0], x.shape[-1], dtype=np.int64)
    out = np.empty(x.shape[0], dtype=model.dtype)
    for start in range(0, x.shape[0], batch_size):
        out[start:start + batch_size] = model.forward(x[start:start + batch_size], lengths[start:start + batch_size],
                                                      check=False, need_backward=False)
    return out


def sigmoid(z) -> np.ndarray:
    """1 / (1 + exp(-z)) in float64, computed without overflow."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def predict_proba(model, x, lengths=None, batch_size=EVAL_BATCH_SIZE) -> np.ndarray:
    """P(label 1) (N,) = sigmoid(logit)."""
    return sigmoid(predict_logits(model, x, lengths, batch_size))


# --------------------------------------------------------------------------- metrics
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


def _thresholds(scores, labels):
    """Cumulative true and false positives at each distinct score, highest first."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels) == 1
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # the last index of each run of ties
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    return tp, fp, s[last]


def roc_curve(scores, labels):
    """(false positive rate, true positive rate, thresholds), from (0, 0) to (1, 1); None for one class."""
    n_pos = int(np.sum(np.asarray(labels) == 1))
    n_neg = int(np.asarray(labels).size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    tp, fp, thr = _thresholds(scores, labels)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos], np.r_[np.inf, thr]


def precision_recall_curve(scores, labels):
    """(precision, recall, thresholds) at each distinct score, highest first; None without positives."""
    n_pos = int(np.sum(np.asarray(labels) == 1))
    if n_pos == 0:
        return None
    tp, fp, thr = _thresholds(scores, labels)
    return tp / (tp + fp), tp / n_pos, thr


def auprc(scores, labels) -> float | None:
    """Area under the precision-recall curve as average precision (scikit-learn's definition):
    sum over thresholds of (recall_k - recall_{k-1}) * precision_k, ties as one threshold.

    None when only one class is present.
    """
    labels = np.asarray(labels)
    if np.all(labels == 1) or np.all(labels != 1):
        return None
    precision, recall, _ = precision_recall_curve(scores, labels)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def evaluate(model, x, y, lengths=None) -> dict:
    """Metrics of ``model`` on (x, y) at threshold p = 0.5.

    {"accuracy", "confusion_matrix": [[TN, FP], [FN, TP]], "auroc", "auprc", "loss", "n",
    "n_positive", "predicted_one_class": True when every sequence got the same prediction}.
    """
    x, lengths = model.check_input(x, lengths)
    y = _check_labels("y", y, x.shape[0])
    logits = predict_logits(model, x, lengths, check=False)
    pred = logits > 0
    truth = y == 1
    tn, fp = int(np.sum(~pred & ~truth)), int(np.sum(pred & ~truth))
    fn, tp = int(np.sum(~pred & truth)), int(np.sum(pred & truth))
    n = int(x.shape[0])
    return {
        "accuracy": (tp + tn) / n if n else None,
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "auroc": auroc(logits, y),
        "auprc": auprc(logits, y),
        "loss": mean_bce(logits, y),
        "n": n,
        "n_positive": int(truth.sum()),
        "predicted_one_class": bool(n and (pred.all() or not pred.any())),
    }


def stalled(history, result, tolerance=0.02, chance_auroc=0.6) -> bool:
    """True when a run learnt nothing: one class predicted for every sequence of ``result``
    (an ``evaluate`` dict), the final training loss within ``tolerance`` of ln 2 (the loss of
    predicting p = 0.5 for a balanced set), and the scores no better than chance at ranking
    (AUROC below ``chance_auroc``: a model one epoch into learning also predicts one class at
    a loss near ln 2, but already ranks the sequences)."""
    ranking = result.get("auroc")
    return bool(result["predicted_one_class"] and history and abs(history[-1]["loss"] - LN2) < tolerance
                and (ranking is None or ranking < chance_auroc))


# --------------------------------------------------------------------------- input gradients
def input_gradient(model, x, lengths=None, batch_size=EVAL_BATCH_SIZE) -> np.ndarray:
    """d logit / d x (N, 4, L) through ``model.backward``, at one-hot x (the parameter grads
    are left zeroed).  Base codes are expanded to one-hot floats first."""
    from motifnet.data import one_hot_codes

    if isinstance(x, np.ndarray) and x.dtype == np.int8:
        x = one_hot_codes(x).astype(model.dtype)
    x, lengths = model.check_input(x, lengths)
    out = np.empty(x.shape, dtype=model.dtype)
    ones = np.ones(batch_size, dtype=model.dtype)
    for start in range(0, x.shape[0], batch_size):
        xb = x[start:start + batch_size]
        model.forward(xb, lengths[start:start + batch_size], check=False)
        out[start:start + batch_size] = model.backward(ones[:xb.shape[0]], need_input_grad=True)
    model.zero_grad()
    return out


def saliency(model, x, mode="sum", lengths=None) -> np.ndarray:
    """Per-position importance (N, L) from the input gradient.

    "sum": |grad| summed over the 4 channels; "max": |grad| max over channels;
    "grad_x_input": (grad * x) summed over channels, clipped at 0 (the primer's:
    for one-hot x it is the gradient at the base present, where positive).
    """
    return saliency_maps(model, x, lengths, modes=(mode,))[mode]  # which checks the mode


def saliency_maps(model, x, lengths=None, modes=SALIENCY_MODES) -> dict:
    """``{mode: saliency(model, x, mode)}`` for several modes from ONE input gradient."""
    from motifnet.data import one_hot_codes

    for mode in modes:
        if mode not in SALIENCY_MODES:
            raise ValueError(f"mode must be one of {', '.join(SALIENCY_MODES)}, got {mode!r}")
    if isinstance(x, np.ndarray) and x.dtype == np.int8:
        x = one_hot_codes(x).astype(model.dtype)
    grad = input_gradient(model, x, lengths)
    out = {}
    for mode in modes:
        if mode == "sum":
            out[mode] = np.abs(grad).sum(axis=1)
        elif mode == "max":
            out[mode] = np.abs(grad).max(axis=1)
        else:
            out[mode] = np.maximum((grad * x).sum(axis=1), 0)
    return out