"""Reproduce the tutorials' results with motifnet, over several seeds.

    python -m motifnet.reproduce [--seeds 5] [--out DIR] [--primer-dir DIR]

1. The primer's data (``sequences.txt``/``labels.txt``, 2000 x 50; by default
   ``../shared/data/primer`` relative to the repository root) with the primer's
   settings: 75/25 split, 50 epochs, batch 32, Adam lr 1e-3.  Reported: the
   final test accuracy per seed and its median, for both models.
2. The synthetic planted-motif data (``generate_data(2000, 50)``), 80/20 split,
   30 epochs: the first epoch at which test accuracy reaches 95%, per seed and
   the median (None = not reached in 30 epochs), for both models.

Seed s drives everything of run s: the data generation (synthetic), the split,
the initial weights and the batch order.  Prints a markdown table and writes
``DIR/reproduce.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from motifnet._atomic import write_text
from motifnet.data import generate_data, load_primer, one_hot, train_test_split
from motifnet.errors import UserError
from motifnet.models import MODELS, build_model
from motifnet.train import fit

DEFAULT_PRIMER_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "primer"
PRIMER = dict(test_size=0.25, epochs=50, batch_size=32, lr=1e-3)
SYNTHETIC = dict(n=2000, length=50, test_size=0.2, epochs=30, batch_size=32, lr=1e-3, target=0.95)


def _split(x, y, test_size, seed):
    train, test = train_test_split(len(y), test_size, seed)
    return (np.ascontiguousarray(x[train]), y[train], np.ascontiguousarray(x[test]), y[test])


def _median(values):
    """Median with None (not reached) ranked above every number; None if the median is."""
    ranked = sorted(math.inf if v is None else v for v in values)
    m = float(np.median(ranked))
    return None if math.isinf(m) or math.isnan(m) else m


def run_primer(primer_dir, seeds, log):
    seqs, labels = load_primer(Path(primer_dir) / "sequences.txt", Path(primer_dir) / "labels.txt")
    x = one_hot(seqs)
    out = {}
    for name in MODELS:
        runs = []
        for seed in seeds:
            xtr, ytr, xte, yte = _split(x, labels, PRIMER["test_size"], seed)
            start = time.perf_counter()
            history = fit(build_model(name, seq_len=x.shape[2], seed=seed), xtr, ytr, xte, yte,
                          epochs=PRIMER["epochs"], batch_size=PRIMER["batch_size"], lr=PRIMER["lr"], seed=seed)
            runs.append({"seed": seed, "test_accuracy": history[-1]["test_accuracy"],
                         "seconds": time.perf_counter() - start})
            log(f"primer {name} seed {seed}: test accuracy {runs[-1]['test_accuracy']:.4f} "
                f"({runs[-1]['seconds']:.1f} s)")
        out[name] = {"runs": runs, "median_test_accuracy": _median([r["test_accuracy"] for r in runs])}
    return out


def run_synthetic(seeds, log):
    out = {}
    for name in MODELS:
        runs = []
        for seed in seeds:
            seqs, labels = generate_data(n=SYNTHETIC["n"], length=SYNTHETIC["length"], seed=seed)
            xtr, ytr, xte, yte = _split(one_hot(seqs), labels, SYNTHETIC["test_size"], seed)
            history = fit(build_model(name, seq_len=SYNTHETIC["length"], seed=seed), xtr, ytr, xte, yte,
                          epochs=SYNTHETIC["epochs"], batch_size=SYNTHETIC["batch_size"], lr=SYNTHETIC["lr"],
                          seed=seed)
            reached = [r["epoch"] for r in history if r["test_accuracy"] >= SYNTHETIC["target"]]
            runs.append({"seed": seed, "epoch_to_95": reached[0] if reached else None,
                         "final_test_accuracy": history[-1]["test_accuracy"]})
            log(f"synthetic {name} seed {seed}: 95% test accuracy at epoch {runs[-1]['epoch_to_95']}, "
                f"final {runs[-1]['final_test_accuracy']:.4f}")
        out[name] = {"runs": runs, "median_epoch_to_95": _median([r["epoch_to_95"] for r in runs])}
    return out


def markdown_table(primer, synthetic) -> str:
    def fmt(v, spec):
        return "not reached" if v is None else format(v, spec)

    lines = ["| model | primer test accuracy per seed | median | synthetic: epoch reaching 95% "
             "per seed | median |", "|---|---|---|---|---|"]
    for name in MODELS:
        accs = ", ".join(fmt(r["test_accuracy"], ".3f") for r in primer[name]["runs"])
        epochs = ", ".join(fmt(r["epoch_to_95"], "d") for r in synthetic[name]["runs"])
        lines.append(f"| {name} | {accs} | {fmt(primer[name]['median_test_accuracy'], '.3f')} | {epochs} | "
                     f"{fmt(synthetic[name]['median_epoch_to_95'], 'g')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motifnet.reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default 5)")
    parser.add_argument("--out", default="reproduce", help="folder for reproduce.json (default ./reproduce)")
    parser.add_argument("--primer-dir", default=str(DEFAULT_PRIMER_DIR),
                        help="folder with the primer's sequences.txt and labels.txt "
                             "(default ../shared/data/primer relative to the repository)")
    args = parser.parse_args(argv)
    try:
        if args.seeds < 1:
            raise UserError(f"--seeds must be >= 1, got {args.seeds}")
        seeds = list(range(args.seeds))
        log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
        start = time.perf_counter()
        primer = run_primer(args.primer_dir, seeds, log)
        synthetic = run_synthetic(seeds, log)
        table = markdown_table(primer, synthetic)
        print(table)
        result = {"settings": {"primer": PRIMER, "synthetic": SYNTHETIC, "seeds": seeds,
                               "primer_dir": str(Path(args.primer_dir).resolve())},
                  "primer": primer, "synthetic": synthetic, "table": table,
                  "seconds": time.perf_counter() - start}
        write_text(Path(args.out) / "reproduce.json", json.dumps(result, indent=2) + "\n")
    except UserError as exc:
        print(f"motifnet.reproduce: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
