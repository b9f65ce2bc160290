"""``motifnet train``: train a model and write a run folder.

The run folder (``--out``, default ``runs/<model>-<timestamp>``)::

    model.npz            the trained model (motifnet.model_io)
    metrics.json         test accuracy, confusion matrix, AUROC, per-epoch history,
                         training seconds, data source, settings
    loss.png accuracy.png confusion_matrix.png
    test_sequences.txt   the held-out test split in the primer's format, so
    test_labels.txt      ``motifnet interpret RUN`` can reuse it

It is built in a hidden temporary folder beside ``--out`` and renamed into
place only when complete, so an error or Ctrl-C never leaves half a run.
Only light modules are imported at module level: ``motifnet --help`` must not
pay for numba or matplotlib.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from pathlib import Path

from motifnet.errors import UserError

MODEL_NAMES = ("cnn", "attention")  # motifnet.models.MODELS, without importing it
DEFAULT_N, DEFAULT_LENGTH, DEFAULT_MOTIF = 2000, 50, "CGACCGAACTCC"


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a CNN on DNA sequences and write a run folder",
        description="Train a model to tell sequences with a binding site (label 1) from those "
        "without (label 0). Without data options it trains on the primer's simulated data: "
        f"{DEFAULT_N} random {DEFAULT_LENGTH} bp sequences, the motif {DEFAULT_MOTIF} planted "
        "in half of them (generated with --seed). Writes model.npz, metrics.json, loss.png, "
        "accuracy.png, confusion_matrix.png, test_sequences.txt and test_labels.txt to --out.",
    )
    data = p.add_argument_group(
        "data", "either --sequences with --labels, or --pos-fasta with --neg-fasta; "
        "default: the generated primer data")
    data.add_argument("--sequences", metavar="PATH|URL",
                      help="text file, one sequence (A/C/G/T/N) per line, all one length")
    data.add_argument("--labels", metavar="PATH|URL", help="text file, one 0/1 label per line")
    data.add_argument("--pos-fasta", metavar="PATH|URL", help="FASTA of positive sequences (label 1)")
    data.add_argument("--neg-fasta", metavar="PATH|URL", help="FASTA of negative sequences (label 0)")
    p.add_argument("--model", choices=MODEL_NAMES, default="cnn",
                   help="architecture: the primer's CNN or the CNN with additive attention "
                   "(default cnn)")
    p.add_argument("--epochs", type=int, default=50, help="passes over the training set (default 50)")
    p.add_argument("--batch-size", type=int, default=32, help="mini-batch size (default 32)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the generated data, the split, the initial weights and the "
                   "batch order (default 0)")
    p.add_argument("--test-size", type=float, default=0.25,
                   help="fraction of the sequences held out for testing (default 0.25)")
    p.add_argument("--out", metavar="DIR",
                   help="run folder to create (default runs/<model>-<timestamp>)")
    p.add_argument("--force", action="store_true",
                   help="replace --out if it exists (only once the new run is complete)")
    p.add_argument("--quiet", action="store_true", help="do not print a line per epoch")
    return p


# --------------------------------------------------------------------------- checks

def _check_settings(args) -> None:
    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise UserError(f"--lr must be a positive number, got {args.lr}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    if not 0.0 < args.test_size < 1.0:
        raise UserError(f"--test-size must be a fraction between 0 and 1 (exclusive), "
                        f"got {args.test_size}")
    text_files = args.sequences is not None or args.labels is not None
    fasta_files = args.pos_fasta is not None or args.neg_fasta is not None
    if text_files and fasta_files:
        raise UserError("use either --sequences/--labels or --pos-fasta/--neg-fasta, not both")
    for given, needed, what in (("sequences", "labels", "one 0/1 label per line"),
                                ("labels", "sequences", "one sequence per line"),
                                ("pos_fasta", "neg_fasta", "the negative sequences"),
                                ("neg_fasta", "pos_fasta", "the positive sequences")):
        if getattr(args, given) is not None and getattr(args, needed) is None:
            flag, other = given.replace("_", "-"), needed.replace("_", "-")
            raise UserError(f"--{flag} needs --{other} ({what})")


def _check_out(out: Path, force: bool) -> None:
    # fail before training, not after, if the folder cannot be made there
    ancestor = Path(os.path.abspath(out)).parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: cannot create a folder in {ancestor} "
                        f"({'not a folder' if not ancestor.is_dir() else 'permission denied'})")
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise UserError(f"--out {out} exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not force:
            raise UserError(f"--out {out} exists and is not empty; choose another --out or "
                            f"pass --force to replace it")
        cwd = Path.cwd().resolve()
        if force and (out.resolve() == cwd or out.resolve() in cwd.parents):
            raise UserError(f"--out {out} contains the current folder; refusing to replace it")


# --------------------------------------------------------------------------- data

def _source_name(source: str) -> str:
    return source if "://" in source else os.path.abspath(source)


def _load_data(args):
    """(seqs, labels, description dict) from the options."""
    from motifnet import data

    if args.sequences is not None:
        seqs, labels = data.load_primer(args.sequences, args.labels)
        info = {"source": "files", "sequences": _source_name(args.sequences),
                "labels": _source_name(args.labels)}
        name = args.sequences
    elif args.pos_fasta is not None:
        seqs, labels, _ = data.load_fasta_pair(args.pos_fasta, args.neg_fasta)
        info = {"source": "fasta", "pos_fasta": _source_name(args.pos_fasta),
                "neg_fasta": _source_name(args.neg_fasta)}
        name = args.pos_fasta
    else:
        seqs, labels = data.generate_data(DEFAULT_N, DEFAULT_LENGTH, DEFAULT_MOTIF, args.seed)
        info = {"source": "generated", "motif": DEFAULT_MOTIF, "seed": args.seed}
        name = "generated data"
    n_pos = int(labels.sum())
    info.update(n_sequences=len(seqs), length=len(seqs[0]), n_positive=n_pos,
                n_negative=len(seqs) - n_pos)
    return seqs, labels, info, name


def _describe(info: dict) -> str:
    where = {"files": lambda: f"{info['sequences']} + {info['labels']}",
             "fasta": lambda: f"{info['pos_fasta']} (label 1) + {info['neg_fasta']} (label 0)",
             "generated": lambda: f"generated, motif {info['motif']}, seed {info['seed']}"}
    return (f"data: {info['n_sequences']} sequences x {info['length']} bp "
            f"({info['n_positive']} positive, {info['n_negative']} negative), "
            f"{where[info['source']]()}")


# --------------------------------------------------------------------------- run folder

def _plain(value):
    """``value`` with numpy scalars/arrays as Python numbers/lists, NaN/inf as None (plain JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _hidden_sibling(out: Path, tag: str) -> Path:
    """A new, empty, hidden folder beside ``out`` (os.mkdir, so the umask applies)."""
    while True:
        path = out.parent / f".{out.name}.{tag}-{os.getpid()}-{os.urandom(3).hex()}"
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue


def _move_into_place(tmp: Path, out: Path, force: bool) -> None:
    """Rename the complete run ``tmp`` to ``out``; with ``force`` replace a non-empty ``out``."""
    _check_out(out, force)  # again: it may have appeared while we trained
    if out.is_dir() and any(out.iterdir()):
        old = _hidden_sibling(out, "old")
        os.rename(out, old / "run")  # out disappears for a moment, never half-written
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old / "run", out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, out)  # onto a missing or empty folder: atomic


def write_run_folder(out: Path, force: bool, write_contents) -> None:
    """Call ``write_contents(tmp_folder)`` and move the folder to ``out`` when it returns."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = _hidden_sibling(out, "tmp")
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create a folder there: "
                        f"{exc.strerror or exc}") from None
    try:
        write_contents(tmp)
        _move_into_place(tmp, out, force)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"--out {out}: cannot write the run folder: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------- the command

def _print_epoch(epochs: int):
    width = len(str(epochs))

    def progress(row):
        test = row["test_accuracy"]
        print(f"epoch {row['epoch']:>{width}}/{epochs}  loss {row['loss']:.4f}  "
              f"train acc {row['train_accuracy']:.4f}  "
              f"test acc {'-' if test is None else f'{test:.4f}'}  {row['seconds']:.2f} s",
              flush=True)

    return progress


def run(args) -> int:
    _check_settings(args)
    out = Path(args.out) if args.out else Path("runs") / f"{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    _check_out(out, args.force)

    import json

    from motifnet import __version__
    from motifnet._atomic import write_text
    from motifnet.data import one_hot, train_test_split

    seqs, labels, data_info, data_name = _load_data(args)
    train_idx, test_idx = train_test_split(len(seqs), args.test_size, args.seed)
    data_info.update(n_train=len(train_idx), n_test=len(test_idx), test_size=args.test_size,
                     split_seed=args.seed)
    if not args.quiet:
        print(_describe(data_info))
        print(f"split: {len(train_idx)} train, {len(test_idx)} test (seed {args.seed})", flush=True)

    from motifnet.model_io import save_model
    from motifnet.models import build_model
    from motifnet.train import evaluate, fit

    length = data_info["length"]
    try:
        model = build_model(args.model, seq_len=length, seed=args.seed)
    except ValueError as exc:
        raise UserError(f"{data_name}: sequences of length {length} do not fit the "
                        f"{args.model} model: {exc}") from None
    x = one_hot(seqs)
    x_train, y_train = x[train_idx], labels[train_idx]
    x_test, y_test = x[test_idx], labels[test_idx]

    start = time.perf_counter()
    history = fit(model, x_train, y_train, x_test, y_test, epochs=args.epochs,
                  batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                  progress=None if args.quiet else _print_epoch(args.epochs))
    seconds = time.perf_counter() - start
    result = evaluate(model, x_test, y_test)

    metrics = _plain({
        "model": args.model,
        "test_accuracy": result["accuracy"],
        "confusion_matrix": result["confusion_matrix"],
        "auroc": result["auroc"],
        "history": history,
        "seconds": seconds,
        "data": data_info,
        "settings": {
            "model": args.model, "epochs": args.epochs, "batch_size": args.batch_size,
            "lr": args.lr, "seed": args.seed, "test_size": args.test_size,
            "hyperparameters": model.hyperparameters(), "motifnet_version": __version__,
        },
    })

    def write_contents(folder: Path) -> None:
        from motifnet import plots

        save_model(model, folder / "model.npz")
        write_text(folder / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False) + "\n")
        write_text(folder / "test_sequences.txt", "".join(seqs[i] + "\n" for i in test_idx))
        write_text(folder / "test_labels.txt", "".join(f"{labels[i]}\n" for i in test_idx))
        plots.plot_loss(history, folder / "loss.png")
        plots.plot_accuracy(history, folder / "accuracy.png")
        plots.plot_confusion_matrix(result["confusion_matrix"], folder / "confusion_matrix.png")

    write_run_folder(Path(os.path.abspath(out)), args.force, write_contents)  # "." has no name

    (tn, fp), (fn, tp) = result["confusion_matrix"]
    auroc = "n/a (one class)" if result["auroc"] is None else f"{result['auroc']:.4f}"
    print(f"test accuracy {result['accuracy']:.4f}  AUROC {auroc}  "
          f"({result['n']} test sequences, {seconds:.1f} s training)")
    print("confusion matrix    predicted 0  predicted 1")
    print(f"  true 0 (no motif) {tn:>11}  {fp:>11}")
    print(f"  true 1 (motif)    {fn:>11}  {tp:>11}")
    print(f"run folder: {out}")
    sys.stdout.flush()
    return 0
