"""``motifnet compare``: the plain CNN against the CNN with attention, on the same data.

Both models are trained on the same generated data set (2000 random 50 bp
sequences, the primer's motif planted in half, data seed 0) and the same
80/20 split, once per seed (the seed sets the initial weights and the batch
order of both).  Writes to --out:

    accuracy.png        test accuracy per epoch: one thin line per run, the median bold
    epochs_to_95.png    median over runs of the first epoch with test accuracy >= 95%
    saliency.png        the two models' saliency maps, one above the other, on the same
                        positive test sequences (motif shaded)
    compare.json        every run's history and the summary numbers
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from motifnet.errors import UserError

N_SEQUENCES, LENGTH, MOTIF, DATA_SEED, TEST_SIZE = 2000, 50, "CGACCGAACTCC", 0, 0.2
TARGET = 0.95
MODEL_NAMES = ("cnn", "attention")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "compare",
        help="train the plain CNN and the CNN with attention side by side and compare them",
        description=f"Train the plain CNN and the CNN + attention on the same generated data "
        f"({N_SEQUENCES} x {LENGTH} bp, motif {MOTIF} in half, data seed {DATA_SEED}) and the same "
        f"80/20 split, once per seed; plot test accuracy per epoch, the epochs needed to reach "
        f"{TARGET:.0%} test accuracy (median over seeds), and both models' saliency maps; "
        f"write compare.json with the numbers.",
    )
    p.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                       help="seeds of the initial weights and batch order, one run per model each "
                       "(default 0)")
    seeds.add_argument("--repeats", type=int, metavar="N", help="use seeds 0 .. N-1")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/compare-<timestamp>)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress on stderr")
    return p


def epochs_to(accuracies, target=TARGET):
    """First epoch (from 1) whose test accuracy is >= target, None if never."""
    for epoch, acc in enumerate(accuracies, start=1):
        if acc is not None and acc >= target:
            return epoch
    return None


def median_epochs(values):
    """Median of epochs-to-target where a run that never got there counts as infinitely late.

    None when the median run never reached the target.
    """
    import numpy as np

    med = float(np.median([np.inf if v is None else v for v in values]))
    return None if not np.isfinite(med) else med


def run(args) -> int:
    if args.epochs < 1:
        raise UserError(f"--epochs must be >= 1, got {args.epochs}")
    if args.repeats is not None and args.repeats < 1:
        raise UserError(f"--repeats must be >= 1, got {args.repeats}")
    seeds = list(range(args.repeats)) if args.repeats else (args.seeds or [0])
    if any(s < 0 for s in seeds):
        raise UserError(f"--seeds must be >= 0, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"--seeds has duplicates: {seeds}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else Path("runs") / f"compare-{stamp}"
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None

    import numpy as np

    from motifnet import data
    from motifnet._atomic import write_text
    from motifnet.interpret import plots
    from motifnet.interpret.motifs import find_motif
    from motifnet.models import build_model
    from motifnet.train import evaluate, fit, saliency

    seqs, labels = data.generate_data(N_SEQUENCES, LENGTH, MOTIF, DATA_SEED)
    train_idx, test_idx = data.train_test_split(len(seqs), TEST_SIZE, DATA_SEED)
    x = data.one_hot(seqs)
    y = np.asarray(labels)
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    print(f"data: {N_SEQUENCES} generated sequences x {LENGTH} bp, motif {MOTIF}, "
          f"{len(train_idx)} train / {len(test_idx)} test; seeds {seeds}; {args.epochs} epochs")

    runs = {name: [] for name in MODEL_NAMES}
    first_models = {}
    for seed in seeds:
        for name in MODEL_NAMES:
            model = build_model(name, seq_len=LENGTH, seed=seed)
            label = f"{name} seed {seed}"

            def progress(row, label=label):
                if not args.quiet:
                    print(f"\r{label}: epoch {row['epoch']}/{args.epochs} loss {row['loss']:.4f} "
                          f"test accuracy {row['test_accuracy']:.3f}", end="", file=sys.stderr, flush=True)

            start = time.perf_counter()
            history = fit(model, x_train, y_train, x_test, y_test, epochs=args.epochs, seed=seed,
                          progress=progress)
            seconds = time.perf_counter() - start
            if not args.quiet:
                print(file=sys.stderr)
            acc = [float(r["test_accuracy"]) for r in history]
            final = evaluate(model, x_test, y_test)
            rec = {"seed": seed, "test_accuracy": acc, "final_test_accuracy": float(final["accuracy"]),
                   "auroc": final["auroc"], "epochs_to_95": epochs_to(acc), "seconds": round(seconds, 2)}
            runs[name].append(rec)
            if seed == seeds[0]:
                first_models[name] = model
            reached = rec["epochs_to_95"]
            print(f"{label}: final test accuracy {rec['final_test_accuracy']:.3f}, "
                  f"{TARGET:.0%} at epoch {reached if reached else 'never'}, {seconds:.1f} s", flush=True)

    summary = {}
    for name, rs in runs.items():
        summary[name] = {
            "median_epochs_to_95": median_epochs([r["epochs_to_95"] for r in rs]),
            "runs_reaching_95": sum(r["epochs_to_95"] is not None for r in rs),
            "median_final_test_accuracy": float(np.median([r["final_test_accuracy"] for r in rs])),
            "median_seconds": float(np.median([r["seconds"] for r in rs])),
        }

    files = []

    def saved(fname):
        files.append(fname)
        return out / fname

    plots.accuracy_curves(saved("accuracy.png"), {n: [r["test_accuracy"] for r in rs] for n, rs in runs.items()},
                          target=TARGET, title=f"test accuracy per epoch ({len(seeds)} seed(s))")
    meds = [summary[n]["median_epochs_to_95"] for n in MODEL_NAMES]
    plots.bar_chart(saved("epochs_to_95.png"), list(MODEL_NAMES), meds, f"epochs to {TARGET:.0%} test accuracy",
                    f"median over {len(seeds)} seed(s); runs reaching {TARGET:.0%}: "
                    + ", ".join(f"{n} {summary[n]['runs_reaching_95']}/{len(seeds)}" for n in MODEL_NAMES)
                    + ("" if all(m is not None for m in meds) else " (no bar: median run never got there)"),
                    annotate_fmt="{:g}")
    test_seqs = [seqs[i] for i in test_idx]
    pos = [i for i, lab in enumerate(y_test) if lab == 1][:3]
    ex_seqs = [test_seqs[i] for i in pos]
    x_ex = np.ascontiguousarray(x_test[pos])
    maps, colors = {}, {}
    for name, color in zip(MODEL_NAMES, ("#4c72b0", "#dd8452")):
        for mode in ("sum", "grad_x_input"):
            label = f"{name}\n{plots.SALIENCY_LABELS[mode]}"
            maps[label] = np.asarray(saliency(first_models[name], x_ex, mode=mode))
            colors[label] = color
    plots.saliency_grid(saved("saliency.png"), ex_seqs, maps, find_motif(ex_seqs, MOTIF), len(MOTIF),
                        suptitle=f"saliency, plain CNN (blue) vs CNN + attention (orange), seed {seeds[0]}; "
                                 f"motif shaded", colors=colors)
    result = {
        "data": {"n_sequences": N_SEQUENCES, "length": LENGTH, "motif": MOTIF, "data_seed": DATA_SEED,
                 "n_train": int(len(train_idx)), "n_test": int(len(test_idx))},
        "settings": {"epochs": args.epochs, "seeds": seeds, "target_accuracy": TARGET},
        "summary": summary,
        "runs": runs,
        "figures": sorted(files + ["compare.json"]),
    }
    write_text(out / "compare.json", json.dumps(result, indent=2) + "\n")
    for name in MODEL_NAMES:
        s = summary[name]
        print(f"{name:<10} median epochs to {TARGET:.0%}: {s['median_epochs_to_95']}, "
              f"median final test accuracy {s['median_final_test_accuracy']:.3f}")
    print(f"wrote {len(files) + 1} files to {out}")
    return 0
