"""``motifnet train``: train a model and write a run folder.

The run folder (``--out``, default ``runs/<model>-<timestamp>``)::

    model.npz            the trained model (motifnet.model_io), with what training knew
                         (lengths, data) in its metadata
    metrics.json         test and validation metrics (accuracy, AUROC, auPRC, confusion
                         matrix, loss), per-epoch history, best epoch, restarts, warnings,
                         data description, settings
    loss.png accuracy.png confusion_matrix.png roc_pr.png
    test_sequences.txt   the held-out test split in the primer's format, so
    test_labels.txt      ``motifnet interpret RUN`` can reuse it

It is written through ``motifnet.outputs.OutputFolder``: complete or not at all.
Only light modules are imported at module level: ``motifnet --help`` must not pay for
numba or matplotlib.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from motifnet.commands._common import (add_data_arguments, add_output_arguments, add_split_arguments, data_spec,
                                       has_data_arguments, info, plain_json, plots_ready, warmup_of, warn)
from motifnet.errors import UserError

from motifnet.constants import MODEL_NAMES  # noqa: E402
TUTORIAL_EPOCHS, DEEPBIND_EPOCHS, DEEPBIND_PATIENCE = 50, 30, 5


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a model on DNA sequences and write a run folder",
        description="Train a model to tell sequences with a binding site (label 1) from those without "
        "(label 0). Without data options it runs the primer's demo: 2000 random 50 bp sequences, the "
        "motif CGACCGAACTCC planted in half of them (generated with --seed), and its CNN. Your data: "
        "FASTA files (plain or gzip, any lengths) or BED intervals on a genome, with negatives given or "
        "generated; the default model for them is deepbind (both strands, any length). Writes "
        "model.npz, metrics.json, loss/accuracy/confusion/ROC-PR figures and the test split to --out.",
    )
    add_data_arguments(p, training=True, description="one kind of input; default: the generated primer data")
    add_split_arguments(p)
    model = p.add_argument_group("model and training")
    model.add_argument("--model", choices=MODEL_NAMES, default=None,
                       help="deepbind: both strands, any length (the default for FASTA and BED input); "
                       "cnn: the primer's CNN (the default for the demo and --sequences); attention: the "
                       "follow-up tutorial's CNN + attention")
    model.add_argument("--epochs", type=int, help=f"passes over the training set (default {TUTORIAL_EPOCHS}, "
                       f"{DEEPBIND_EPOCHS} for deepbind)")
    model.add_argument("--patience", type=int,
                       help=f"stop after this many epochs without a better validation loss (default "
                       f"{DEEPBIND_PATIENCE} for deepbind, none for the tutorials' models)")
    model.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    model.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    model.add_argument("--seed", type=int, default=0,
                       help="seed of the generated data, the split, the initial weights and the batch order "
                       "(default 0)")
    model.add_argument("--restarts", type=int, default=0, metavar="N",
                       help="if a run learns nothing (one class predicted, loss at ln 2), restart up to N "
                       "times from new seeds (default 0: report it)")
    model.add_argument("--rc-augment", action="store_true",
                       help="add the reverse complement of every training sequence (for the tutorials' "
                       "one-strand models; deepbind reads both strands already)")
    model.add_argument("--n-filters", type=int, help="first-layer filters (default 32)")
    model.add_argument("--kernel-size", type=int, help="filter width (default 12 for the tutorials' models, "
                       "15 for deepbind)")
    model.add_argument("--hidden", type=int, help="dense layer width (default 16, 32 for deepbind)")
    add_output_arguments(p, "runs/<model>-<timestamp>", "run folder")
    p.add_argument("--quiet", action="store_true", help="do not print a line per epoch")
    return p


# --------------------------------------------------------------------------- settings
def _model_name(args) -> str:
    """--model, or the default for the data given: deepbind for the user's own data."""
    user_data = args.sequences is None and has_data_arguments(args)
    return args.model or ("deepbind" if user_data else "cnn")


def _resolve(args):
    """The model and its training settings, defaults filled in; UserError for bad values."""
    model_name = _model_name(args)
    deep = model_name == "deepbind"
    epochs = args.epochs if args.epochs is not None else (DEEPBIND_EPOCHS if deep else TUTORIAL_EPOCHS)
    valid_fraction = args.valid_fraction if args.valid_fraction is not None else (0.1 if deep else 0.0)
    patience = args.patience if args.patience is not None else (DEEPBIND_PATIENCE if deep else None)
    checks = [
        (epochs >= 1, f"--epochs must be >= 1, got {epochs}"),
        (args.batch_size >= 1, f"--batch-size must be >= 1, got {args.batch_size}"),
        (math.isfinite(args.lr) and args.lr > 0, f"--lr must be a positive number, got {args.lr}"),
        (args.seed >= 0, f"--seed must be >= 0, got {args.seed}"),
        (args.restarts >= 0, f"--restarts must be >= 0, got {args.restarts}"),
        (patience is None or patience >= 1, f"--patience must be >= 1, got {patience}"),
        (0.0 <= valid_fraction < 1.0, f"--valid-fraction must be in [0, 1), got {valid_fraction}"),
        (0.0 < args.test_fraction < 1.0 or args.test_chroms,
         f"--test-fraction must be a fraction between 0 and 1 (exclusive), got {args.test_fraction}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    if patience is not None and valid_fraction == 0 and not args.valid_chroms:
        raise UserError("--patience needs a validation set (--valid-fraction or --valid-chroms)")
    if args.rc_augment and deep:
        raise UserError("--rc-augment is for the tutorials' one-strand models; deepbind scans both strands")
    hyper = {k: getattr(args, k) for k in ("n_filters", "kernel_size", "hidden") if getattr(args, k) is not None}
    for k, v in hyper.items():
        if v < 1:
            raise UserError(f"--{k.replace('_', '-')} must be >= 1, got {v}")
    return model_name, epochs, valid_fraction, patience, hyper


def _build(model_name, length, seed, hyper, data_name):
    from motifnet.models import build_model

    try:
        return build_model(model_name, seq_len=length, seed=seed, **hyper)
    except ValueError as exc:
        raise UserError(f"{data_name}: sequences of length {length} do not fit the {model_name} model: "
                        f"{exc}") from None


def _print_epoch(epochs: int, quiet: bool):
    width = len(str(epochs))

    def progress(row):
        valid = "" if row["valid_loss"] is None else (
            f"  valid loss {row['valid_loss']:.4f} acc {row['valid_accuracy']:.4f}"
            + ("" if row["valid_auroc"] is None else f" AUROC {row['valid_auroc']:.4f}")
            + (" *" if row["best"] else ""))
        info(f"epoch {row['epoch']:>{width}}/{epochs}  loss {row['loss']:.4f}  train acc "
             f"{row['train_accuracy']:.4f}{valid}  {row['seconds']:.2f} s", quiet)

    return progress


def _fmt(value, spec=".4f"):
    return "n/a" if value is None else format(value, spec)


# --------------------------------------------------------------------------- the command
def prepare(args):
    """The run's compile helper (``_common.warmup_of``), named after its model; the run's
    figures come last."""
    return warmup_of(args, _model_name, plots_ready)


def run(args) -> int:
    model_name, epochs, valid_fraction, patience, hyper = _resolve(args)
    spec = data_spec(args, valid_fraction=valid_fraction)
    out = Path(args.out) if args.out else Path("runs") / f"{model_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    from motifnet.outputs import OutputFolder, check_output_folder

    check_output_folder(out, args.force)  # before any work, not after it
    warmup = prepare(args)

    import json

    import numpy as np

    from motifnet import __version__
    from motifnet._atomic import write_text
    from motifnet.data import reverse_complement
    from motifnet.dataset import load_dataset
    from motifnet.model_io import save_model
    from motifnet.train import evaluate, fit, predict_logits, stalled

    min_length = (hyper.get("kernel_size", 15) if model_name == "deepbind" else None)
    ds = load_dataset(spec, seed=args.seed, log=warn, min_length=min_length)
    data_name = ds.info["name"]
    info(ds.describe(), args.quiet)
    length = ds.length
    if model_name != "deepbind" and length is None:
        raise UserError(f"{data_name}: sequences have lengths {int(ds.lengths.min())} to {int(ds.lengths.max())} "
                        f"bp, but the {model_name} model reads one length; use --model deepbind, or --bed with "
                        f"--width to cut windows of one length")
    codes, lengths, labels = ds.codes, ds.lengths, ds.labels
    tr, va, te = ds.train_idx, ds.valid_idx, ds.test_idx
    x_train, y_train, l_train = codes[tr], labels[tr], lengths[tr]
    if args.rc_augment:
        x_train = np.concatenate([x_train, reverse_complement(x_train, l_train)])
        y_train, l_train = np.concatenate([y_train, y_train]), np.concatenate([l_train, l_train])
    valid = (codes[va], labels[va], lengths[va]) if va.size else (None, None, None)
    warnings = list(ds.info.get("warnings", []))

    attempts, seed = [], args.seed
    start = time.perf_counter()
    while True:
        model = _build(model_name, length, seed, hyper, data_name)
        if not attempts:  # a first run's kernels compile on two cores (motifnet.warmup)
            warmup.compile_for(model, x_train, l_train, args.batch_size, log=warn)
        if model_name == "deepbind" and int(lengths.min()) < model.min_length:
            raise UserError(f"{data_name}: the shortest sequence has {int(lengths.min())} bp, shorter than the "
                            f"filters ({model.min_length} bp); use a smaller --kernel-size")
        history = fit(model, x_train, y_train, valid[0], valid[1], lengths_train=l_train, lengths_valid=valid[2],
                      epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=seed, patience=patience,
                      progress=_print_epoch(epochs, args.quiet))
        check = evaluate(model, *(valid if va.size else (x_train, y_train, l_train)))
        attempts.append({"seed": seed, "epochs_run": len(history), "stalled": stalled(history, check)})
        if not attempts[-1]["stalled"] or len(attempts) > args.restarts:
            break
        warn(f"the run with seed {seed} learnt nothing (one class predicted, loss {history[-1]['loss']:.4f} "
             f"~ ln 2); restarting with seed {seed + 1}")
        seed += 1
    seconds = time.perf_counter() - start
    if attempts[-1]["stalled"]:
        warnings.append(f"the model learnt nothing: it predicts one class for every "
                        f"{'validation' if va.size else 'training'} sequence and its loss stayed at ln 2 "
                        f"({len(attempts)} attempt(s)); try --restarts N, another --lr or --model")
        warn(warnings[-1])

    result = evaluate(model, codes[te], labels[te], lengths[te])
    valid_result = evaluate(model, *valid) if va.size else None
    if result["predicted_one_class"]:
        which = "positive" if result["confusion_matrix"][1][1] + result["confusion_matrix"][0][1] else "negative"
        warnings.append(f"the model predicts one class ({which}) for every one of the {result['n']} test "
                        f"sequences")
        warn(warnings[-1])
    best = [r["epoch"] for r in history if r["best"]]
    metrics = plain_json({
        "model": model_name,
        "test": result,
        "validation": valid_result,
        # the top-level keys of earlier versions, kept for scripts that read them
        "test_accuracy": result["accuracy"], "auroc": result["auroc"], "auprc": result["auprc"],
        "confusion_matrix": result["confusion_matrix"],
        "history": history,
        "best_epoch": best[-1] if best else None,
        "attempts": attempts,
        "seconds": seconds,
        "warnings": warnings,
        "data": ds.info,
        "settings": {
            "model": model_name, "epochs": epochs, "patience": patience, "batch_size": args.batch_size,
            "lr": args.lr, "seed": args.seed, "final_seed": seed, "restarts": args.restarts,
            "rc_augment": args.rc_augment, "hyperparameters": model.hyperparameters(),
            "motifnet_version": __version__,
        },
    })
    train_lengths = lengths[tr]
    metadata = plain_json({"model": model_name, "data": data_name,
                       "train_lengths": {"min": int(train_lengths.min()), "median": float(np.median(train_lengths)),
                                         "max": int(train_lengths.max())}})
    test_logits = predict_logits(model, codes[te], lengths[te])

    with OutputFolder(out, force=args.force, command="train") as folder:
        from motifnet import plots

        save_model(model, folder / "model.npz", metadata=metadata)
        write_text(folder / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False) + "\n")
        seqs = ds.sequences(te)
        write_text(folder / "test_sequences.txt", "".join(s + "\n" for s in seqs))
        write_text(folder / "test_labels.txt", "".join(f"{int(v)}\n" for v in labels[te]))
        plots.plot_loss(history, folder / "loss.png")
        plots.plot_accuracy(history, folder / "accuracy.png")
        plots.plot_confusion_matrix(result["confusion_matrix"], folder / "confusion_matrix.png")
        plots.plot_roc_pr(test_logits, labels[te], folder / "roc_pr.png")

    (tn, fp), (fn, tp) = result["confusion_matrix"]
    print(f"test accuracy {_fmt(result['accuracy'])}  AUROC {_fmt(result['auroc'])}  auPRC "
          f"{_fmt(result['auprc'])}  ({result['n']} test sequences, {seconds:.1f} s training"
          + (f", best epoch {best[-1]} of {len(history)}" if best else "") + ")")
    print("confusion matrix    predicted 0  predicted 1")
    print(f"  true 0 (no motif) {tn:>11}  {fp:>11}")
    print(f"  true 1 (motif)    {fn:>11}  {tp:>11}")
    print(f"run folder: {out}", flush=True)
    return 0
