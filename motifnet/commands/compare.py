"""``motifnet compare``: the plain CNN against the CNN with attention, on the same data.

The follow-up tutorial's experiment (``motifnet.experiment.compare``): both models on
the same generated data set (2000 random 50 bp sequences, the primer's motif planted
in half, data seed 0) and the same 80/20 split, once per seed (the seed sets the
initial weights and the batch order of both).  Writes to --out:

    accuracy.png        test accuracy per epoch: one thin line per run, the median bold
    epochs_to_95.png    median over runs of the first epoch with test accuracy >= 95%
    saliency.png        the two models' saliency maps, one above the other, on the same
                        positive test sequences (motif shaded)
    compare.json        every run's history and the summary numbers
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from motifnet.commands._common import add_output_arguments, info, plots_ready, warmup_of
from motifnet.constants import PRIMER_MOTIF, TUTORIAL_MODELS
from motifnet.errors import UserError

TARGET = 0.95


def add_parser(subparsers):
    p = subparsers.add_parser(
        "compare",
        help="train the plain CNN and the CNN with attention side by side and compare them",
        description=f"Train the plain CNN and the CNN + attention on the same generated data (2000 x 50 bp, "
        f"motif {PRIMER_MOTIF} in half, data seed 0) and the same 80/20 split, once per seed; plot test "
        f"accuracy per epoch, the epochs needed to reach {TARGET:.0%} test accuracy (median over seeds), and "
        f"both models' saliency maps; write compare.json with the numbers.",
    )
    p.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                       help="seeds of the initial weights and batch order, one run per model each (default 0)")
    seeds.add_argument("--repeats", type=int, metavar="N", help="use seeds 0 .. N-1")
    add_output_arguments(p, "runs/compare-<timestamp>")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress on stderr")
    return p


def prepare(args):
    """The comparison's compile helper (``_common.warmup_of``); its figures come last."""
    return warmup_of(args, "compare", plots_ready)


SALIENCY_EXAMPLES = 3  # positive test sequences in saliency.png


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
    out = Path(args.out) if args.out else Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    from motifnet.outputs import OutputFolder, check_output_folder

    check_output_folder(out, args.force)

    import json

    import numpy as np

    from motifnet import experiment, plots
    from motifnet._atomic import write_text
    from motifnet.data import one_hot_codes
    from motifnet.interpret.motifs import find_motif
    from motifnet.train import saliency

    c = experiment.COMPARISON
    info(f"data: {c['n']} generated sequences x {c['length']} bp, motif {c['motif']}, 80/20 split; seeds {seeds}; "
         f"{args.epochs} epochs")

    def progress_for(name, seed):
        def progress(row):
            if not args.quiet:
                print(f"\r{name} seed {seed}: epoch {row['epoch']}/{args.epochs} loss {row['loss']:.4f} "
                      f"test accuracy {row['valid_accuracy']:.3f}", end="", file=sys.stderr, flush=True)
                if row["epoch"] == args.epochs:
                    print(file=sys.stderr)
        return progress

    # a first comparison's kernels, both models' and their saliency maps', compile on two cores
    warmup = prepare(args)
    result = experiment.compare(TUTORIAL_MODELS, seeds, args.epochs, log=info, progress_for=progress_for,
                                warmup=warmup, saliency_examples=SALIENCY_EXAMPLES)
    runs, summary = result["runs"], result["summary"]

    with OutputFolder(out, force=args.force, command="compare") as folder:
        files = []

        def saved(fname):
            files.append(fname)
            return folder / fname

        plots.accuracy_curves(saved("accuracy.png"), {n: [r["test_accuracy"] for r in rs] for n, rs in runs.items()},
                              target=TARGET, title=f"test accuracy per epoch ({len(seeds)} seed(s))")
        meds = [summary[n]["median_epochs_to_95"] for n in TUTORIAL_MODELS]
        plots.bar_chart(saved("epochs_to_95.png"), list(TUTORIAL_MODELS), meds,
                        f"epochs to {TARGET:.0%} test accuracy",
                        f"median over {len(seeds)} seed(s); runs reaching {TARGET:.0%}: "
                        + ", ".join(f"{n} {summary[n]['runs_reaching_95']}/{len(seeds)}" for n in TUTORIAL_MODELS)
                        + ("" if all(m is not None for m in meds) else " (no bar: median run never got there)"),
                        annotate_fmt="{:g}")
        seqs, labels, test_idx = result["seqs"], result["labels"], result["test_idx"]
        pos = [i for i in test_idx if labels[i] == 1][:SALIENCY_EXAMPLES]
        ex_seqs = [seqs[i] for i in pos]
        from motifnet.data import encode

        x_ex = one_hot_codes(encode(ex_seqs)[0])
        maps, colors = {}, {}
        for name, color in zip(TUTORIAL_MODELS, ("#4c72b0", "#dd8452")):
            for mode in ("sum", "grad_x_input"):
                label = f"{name}\n{plots.SALIENCY_LABELS[mode]}"
                maps[label] = np.asarray(saliency(result["first_models"][name], x_ex, mode=mode))
                colors[label] = color
        plots.saliency_grid(saved("saliency.png"), ex_seqs, maps, find_motif(ex_seqs, PRIMER_MOTIF), len(PRIMER_MOTIF),
                            suptitle=f"saliency, plain CNN (blue) vs CNN + attention (orange), seed {seeds[0]}; "
                                     f"motif shaded", colors=colors)
        report = {"data": result["data"], "settings": {"epochs": args.epochs, "seeds": seeds, "target_accuracy": TARGET},
                  "summary": summary, "runs": runs, "figures": sorted(files + ["compare.json"])}
        write_text(folder / "compare.json", json.dumps(report, indent=2) + "\n")
    for name in TUTORIAL_MODELS:
        s = summary[name]
        print(f"{name:<10} median epochs to {TARGET:.0%}: {s['median_epochs_to_95']}, "
              f"median final test accuracy {s['median_final_test_accuracy']:.3f}")
    print(f"wrote {len(files) + 1} files to {out}")
    return 0
