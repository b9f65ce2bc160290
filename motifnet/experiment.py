"""The tutorials' experiments, written once: ``motifnet compare`` and ``python -m motifnet.reproduce``
both run them through ``train_and_track``.

* The follow-up's comparison: the plain CNN against the CNN with attention on the same
  generated data (2000 x 50 bp, the primer's motif planted in half, data seed 0) and
  the same 80/20 split, once per seed (the seed sets the initial weights and the batch
  order): test accuracy after every epoch, and the first epoch reaching 95%.
* The primer's result: its CNN (and the attention model) on the primer's own data,
  75/25 split, 50 epochs, batch 32, Adam 1e-3: the final test accuracy per seed.
"""

from __future__ import annotations

import math
import time

import numpy as np

from motifnet.constants import PRIMER_MOTIF

TARGET = 0.95
COMPARISON = dict(n=2000, length=50, motif=PRIMER_MOTIF, data_seed=0, test_size=0.2, epochs=30)
PRIMER = dict(test_size=0.25, epochs=50, batch_size=32, lr=1e-3)


def epochs_to(accuracies, target=TARGET):
    """First epoch (from 1) whose test accuracy is >= target, None if never."""
    for epoch, acc in enumerate(accuracies, start=1):
        if acc is not None and acc >= target:
            return epoch
    return None


def median_or_none(values):
    """Median with None (never reached) ranked above every number; None if the median run is one."""
    ranked = sorted(math.inf if v is None else v for v in values)
    m = float(np.median(ranked)) if ranked else math.inf
    return None if math.isinf(m) or math.isnan(m) else m


_compiled = set()  # (model, length, batch size) whose kernels this process has compiled


def train_and_track(name, codes, labels, train_idx, test_idx, seed, epochs, batch_size=32, lr=1e-3,
                    progress=None) -> dict:
    """Train model ``name`` from ``seed`` and follow its test accuracy after every epoch.

    The test split is evaluated after each epoch (the tutorials' protocol); it never
    chooses an epoch: the model kept is the last one.  Returns {"seed", "test_accuracy"
    (per epoch), "final_test_accuracy", "auroc", "auprc", "epochs_to_95", "seconds", "model"}.
    """
    from motifnet.models import build_model
    from motifnet.train import evaluate, fit

    model = build_model(name, seq_len=codes.shape[1], seed=seed)
    if (name, codes.shape[1], batch_size) not in _compiled:  # a first run compiles on two cores (motifnet.warmup)
        from motifnet.warmup import Warmup

        Warmup().compile_for(model, codes[train_idx], None, batch_size)
        _compiled.add((name, codes.shape[1], batch_size))
    start = time.perf_counter()  # so "seconds" is training, not compiling
    history = fit(model, codes[train_idx], labels[train_idx], codes[test_idx], labels[test_idx], epochs=epochs,
                  batch_size=batch_size, lr=lr, seed=seed, restore_best=False, progress=progress)
    seconds = time.perf_counter() - start
    accuracy = [float(r["valid_accuracy"]) for r in history]
    final = evaluate(model, codes[test_idx], labels[test_idx])
    return {"seed": seed, "test_accuracy": accuracy, "final_test_accuracy": float(final["accuracy"]),
            "auroc": final["auroc"], "auprc": final["auprc"], "epochs_to_95": epochs_to(accuracy),
            "seconds": round(seconds, 2), "model": model}


def _compile_ahead(names, x_train, warmup, saliency_examples, batch_size=32) -> None:
    from motifnet.models import build_model
    from motifnet.train import EVAL_BATCH_SIZE
    from motifnet.warmup import saliency_spec_of, spec_of

    specs = []
    for name in names:
        model = build_model(name, seq_len=x_train.shape[1], seed=0)
        specs.append(spec_of(model, x_train, None, batch_size, EVAL_BATCH_SIZE))
        if saliency_examples:
            specs.append(saliency_spec_of(model, np.zeros((saliency_examples, 4, x_train.shape[1]), np.float32)))
    warmup.compile_for_specs(specs)
    _compiled.update((name, x_train.shape[1], batch_size) for name in names)


def comparison_data():
    """The comparison's generated data set and its 80/20 split: (seqs, codes, labels, train_idx, test_idx)."""
    from motifnet.data import encode, generate_data, train_test_split

    c = COMPARISON
    seqs, labels = generate_data(c["n"], c["length"], c["motif"], c["data_seed"])
    train_idx, test_idx = train_test_split(len(seqs), c["test_size"], c["data_seed"])
    return seqs, encode(seqs)[0], labels, train_idx, test_idx


def compare(names, seeds, epochs, log=None, progress_for=None, warmup=None, saliency_examples=0) -> dict:
    """The follow-up's experiment: every model once per seed on the comparison data.

    Returns {"data", "runs": {name: [run]}, "summary": {name: {...}}, "first_models", "seqs",
    "test_idx"}; runs keep their histories, not their models (``first_models`` has the
    models of the first seed).  With a ``motifnet.warmup.Warmup``, every model's kernels
    compile first, together (on two cores), and so do those of its saliency maps on
    ``saliency_examples`` one-hot sequences, when the caller draws them.
    """
    seqs, codes, labels, train_idx, test_idx = comparison_data()
    if warmup is not None:
        _compile_ahead(names, codes[train_idx], warmup, saliency_examples)
    runs, first = {n: [] for n in names}, {}
    for seed in seeds:
        for name in names:
            rec = train_and_track(name, codes, labels, train_idx, test_idx, seed, epochs,
                                  progress=progress_for(name, seed) if progress_for else None)
            model = rec.pop("model")
            if seed == seeds[0]:
                first[name] = model
            runs[name].append(rec)
            if log:
                reached = rec["epochs_to_95"]
                log(f"{name} seed {seed}: final test accuracy {rec['final_test_accuracy']:.3f}, "
                    f"{TARGET:.0%} at epoch {reached if reached else 'never'}, {rec['seconds']:.1f} s")
    summary = {name: {
        "median_epochs_to_95": median_or_none([r["epochs_to_95"] for r in rs]),
        "runs_reaching_95": sum(r["epochs_to_95"] is not None for r in rs),
        "median_final_test_accuracy": float(np.median([r["final_test_accuracy"] for r in rs])),
        "median_seconds": float(np.median([r["seconds"] for r in rs])),
    } for name, rs in runs.items()}
    c = COMPARISON
    data = {"n_sequences": c["n"], "length": c["length"], "motif": c["motif"], "data_seed": c["data_seed"],
            "n_train": int(len(train_idx)), "n_test": int(len(test_idx))}
    return {"data": data, "runs": runs, "summary": summary, "first_models": first, "seqs": seqs,
            "labels": labels, "test_idx": test_idx}


def primer_runs(codes, labels, names, seeds, log=None) -> dict:
    """The primer's protocol on its data: per model, per seed (which also draws the split)."""
    from motifnet.data import train_test_split

    out = {}
    for name in names:
        runs = []
        for seed in seeds:
            train_idx, test_idx = train_test_split(len(labels), PRIMER["test_size"], seed)
            rec = train_and_track(name, codes, labels, train_idx, test_idx, seed, PRIMER["epochs"],
                                  PRIMER["batch_size"], PRIMER["lr"])
            rec.pop("model")
            runs.append({"seed": seed, "test_accuracy": rec["final_test_accuracy"], "seconds": rec["seconds"]})
            if log:
                log(f"primer {name} seed {seed}: test accuracy {rec['final_test_accuracy']:.4f} "
                    f"({rec['seconds']:.1f} s)")
        out[name] = {"runs": runs, "median_test_accuracy": median_or_none([r["test_accuracy"] for r in runs])}
    return out
