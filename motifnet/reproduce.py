"""Reproduce the tutorials' results with motifnet, over several seeds.

    python -m motifnet.reproduce [--seeds 5] [--out DIR] [--primer-data DIR|URL]

1. The primer's data (``sequences.txt``/``labels.txt``, 2000 x 50) with the primer's
   settings (``motifnet.experiment.PRIMER``: 75/25 split, 50 epochs, batch 32, Adam
   lr 1e-3): the final test accuracy per seed and its median, for both models.  The
   files are not shipped (they carry no licence): pass ``--primer-data`` a folder
   holding them, or a URL prefix such as the tutorial's repository
   (``motifnet.constants.PRIMER_DATA_URL``); without it this part is skipped, and said so.
2. The follow-up's comparison (``motifnet.experiment.compare``: generated data, 80/20,
   30 epochs): the first epoch at which test accuracy reaches 95%, per seed and the
   median (None = not reached in 30 epochs), for both models.

Seed s drives run s: the split (primer data), the initial weights and the batch order.
Prints a markdown table and writes ``DIR/reproduce.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from motifnet.constants import PRIMER_DATA_URL, TUTORIAL_MODELS
from motifnet.errors import UserError


def _primer_files(where: str) -> tuple[str, str]:
    if "://" in where:
        return where.rstrip("/") + "/sequences.txt", where.rstrip("/") + "/labels.txt"
    return str(Path(where) / "sequences.txt"), str(Path(where) / "labels.txt")


def markdown_table(primer, synthetic) -> str:
    def fmt(v, spec):
        return "not reached" if v is None else format(v, spec)

    lines = ["| model | primer test accuracy per seed | median | synthetic: epoch reaching 95% per seed | median |",
             "|---|---|---|---|---|"]
    for name in TUTORIAL_MODELS:
        if primer is None:
            accs, med = "(primer data not given)", "-"
        else:
            accs = ", ".join(fmt(r["test_accuracy"], ".3f") for r in primer[name]["runs"])
            med = fmt(primer[name]["median_test_accuracy"], ".3f")
        epochs = ", ".join(fmt(r["epochs_to_95"], "d") for r in synthetic["runs"][name])
        lines.append(f"| {name} | {accs} | {med} | {epochs} | {fmt(synthetic['summary'][name]['median_epochs_to_95'], 'g')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motifnet.reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default 5)")
    parser.add_argument("--out", default="reproduce", help="folder for reproduce.json (default ./reproduce)")
    parser.add_argument("--primer-data", metavar="DIR|URL",
                        help=f"folder or URL prefix holding the primer's sequences.txt and labels.txt (e.g. "
                             f"{PRIMER_DATA_URL}); without it the primer part is skipped")
    args = parser.parse_args(argv)
    from motifnet.cli import install_signal_handlers

    install_signal_handlers()
    try:
        if args.seeds < 1:
            raise UserError(f"--seeds must be >= 1, got {args.seeds}")
        seeds = list(range(args.seeds))

        def log(msg):
            print(msg, file=sys.stderr, flush=True)

        from motifnet import experiment
        from motifnet._atomic import write_text
        from motifnet.data import encode, load_primer

        start = time.perf_counter()
        primer = None
        if args.primer_data:
            seqs_file, labels_file = _primer_files(args.primer_data)
            seqs, labels = load_primer(seqs_file, labels_file)
            primer = experiment.primer_runs(encode(seqs)[0], labels, TUTORIAL_MODELS, seeds, log)
        else:
            log(f"--primer-data not given: the primer part is skipped (its sequences.txt and labels.txt are at "
                f"{PRIMER_DATA_URL})")
        synthetic = experiment.compare(TUTORIAL_MODELS, seeds, experiment.COMPARISON["epochs"], log=log)
        table = markdown_table(primer, synthetic)
        print(table)
        result = {"settings": {"primer": experiment.PRIMER, "comparison": experiment.COMPARISON, "seeds": seeds,
                               "primer_data": args.primer_data},
                  "primer": primer, "synthetic": {"runs": synthetic["runs"], "summary": synthetic["summary"]},
                  "table": table, "seconds": time.perf_counter() - start}
        write_text(Path(args.out) / "reproduce.json", json.dumps(result, indent=2) + "\n")
    except UserError as exc:
        print(f"motifnet.reproduce: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("motifnet.reproduce: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
