"""``motifnet interpret``: what a trained model learned, and the motif it found.

Reads RUN/model.npz and, by default, the run's held-out test split
(RUN/test_sequences.txt, RUN/test_labels.txt); every method reads the
positive sequences only.  Writes to --out (default RUN/interpret):

    filter_weights.png            every first-layer filter as a 4 x K heatmap
    filter_weight_logos.png       the most variable filters as logos (ReLU, normalised)
    filter_activation_logos.png   Basset activation PWMs of the most informative filters
    saliency.png                  three saliency forms on example sequences
    attention.png, attention_motif_vs_background.png   (attention models; the bar with --motif)
    ism_examples.png, ism_logo.png                      in-silico mutagenesis
    motif_<method>.png, motifs.png                      the reconstructed motifs as logos
    motif.json                    per method: consensus, PWM, information content, and
                                  with --motif the matching positions at the best offset
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from motifnet.errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "interpret",
        help="find the motif a trained model learned (filters, saliency, attention, ISM)",
        description="Interpret a trained run: first-layer filters as heatmaps and logos, "
        "activation PWMs (Basset), saliency maps, attention (attention models), in-silico "
        "mutagenesis, and the motif reconstructed by each method as a PWM, consensus and "
        "logo. Reads the positive (label 1) sequences of the run's test split unless data "
        "options are given. Writes PNG figures and motif.json to --out.",
    )
    p.add_argument("run_dir", metavar="RUN", help="run folder written by 'motifnet train' (holds model.npz)")
    data = p.add_argument_group("data", "default: RUN/test_sequences.txt with RUN/test_labels.txt")
    data.add_argument("--sequences", metavar="PATH|URL", help="text file, one sequence per line")
    data.add_argument("--labels", metavar="PATH|URL", help="text file, one 0/1 label per line")
    data.add_argument("--pos-fasta", metavar="PATH|URL", help="FASTA of positive sequences")
    data.add_argument("--neg-fasta", metavar="PATH|URL",
                      help="FASTA of negative sequences (optional: only positives are interpreted)")
    p.add_argument("--motif", metavar="SEQ",
                   help="the known motif (A/C/G/T): shaded in the figures, attention on it measured, "
                   "and each reconstruction scored against it (forward strand)")
    p.add_argument("--out", metavar="DIR", help="output folder (default RUN/interpret)")
    p.add_argument("--max-sequences", metavar="N", type=int,
                   help="use only the first N positive sequences (default all)")
    return p


def _check_args(args) -> str | None:
    text_files = args.sequences is not None or args.labels is not None
    fasta_files = args.pos_fasta is not None or args.neg_fasta is not None
    if text_files and fasta_files:
        raise UserError("use either --sequences/--labels or --pos-fasta/--neg-fasta, not both")
    if (args.sequences is None) != (args.labels is None):
        raise UserError("--sequences and --labels go together (one 0/1 label per sequence)")
    if args.neg_fasta is not None and args.pos_fasta is None:
        raise UserError("--neg-fasta needs --pos-fasta (only positive sequences are interpreted)")
    if args.max_sequences is not None and args.max_sequences < 1:
        raise UserError(f"--max-sequences must be >= 1, got {args.max_sequences}")
    if args.motif is None:
        return None
    motif = args.motif.strip().upper()
    if not motif:
        raise UserError("--motif is empty; give the motif as A/C/G/T letters")
    for i, ch in enumerate(motif):
        if ch not in "ACGT":
            raise UserError(f"--motif {args.motif!r}: character {i + 1} is {args.motif.strip()[i]!r}; "
                            f"only A, C, G, T are allowed")
    return motif


def _load_sequences(args, run: Path):
    from motifnet import data

    if args.sequences is not None:
        return data.load_primer(args.sequences, args.labels)
    if args.pos_fasta is not None:
        if args.neg_fasta is not None:
            seqs, labels, _ = data.load_fasta_pair(args.pos_fasta, args.neg_fasta)
            return seqs, labels
        import numpy as np

        seqs = [s for _, s in data.read_fasta(args.pos_fasta)]
        return seqs, np.ones(len(seqs), dtype=np.int8)
    seq_file, label_file = run / "test_sequences.txt", run / "test_labels.txt"
    for f in (seq_file, label_file):
        if not f.is_file():
            raise UserError(f"{f} not found; give the sequences with --sequences/--labels or "
                            f"--pos-fasta")
    return data.load_primer(str(seq_file), str(label_file))


def run(args) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} not found; give the --out folder of 'motifnet train'")
    model_file = run_dir / "model.npz"
    if not model_file.is_file():
        raise UserError(f"{model_file} not found; is {run_dir} a run folder of 'motifnet train'?")
    motif = _check_args(args)
    seqs, labels = _load_sequences(args, run_dir)
    if len(motif or "") > len(seqs[0]):
        raise UserError(f"--motif has {len(motif)} bases, longer than the sequences ({len(seqs[0])})")

    from motifnet.interpret.report import StderrProgress, interpret_model
    from motifnet.model_io import load_model

    model = load_model(str(model_file), seq_len=len(seqs[0]))
    out = Path(args.out) if args.out else run_dir / "interpret"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None
    start = time.perf_counter()
    result = interpret_model(
        model, seqs, labels, out, motif=motif, max_sequences=args.max_sequences,
        log=lambda msg: print(msg, file=sys.stderr, flush=True), ism_progress=StderrProgress("ISM"))
    print(f"{result['model']} model, {result['n_positive_sequences']} positive sequences"
          + (f", known motif {motif} found in {result['motif_found_in']}" if motif else ""))
    for name, m in result["methods"].items():
        match = m.get("match")
        score = f"  {match['matches']}/{match['motif_length']} at offset {match['offset']:+d}" if match else ""
        print(f"  {name:<18} {m['consensus']}  {m['total_information_content']:5.1f} bits{score}")
    stats = result["attention_motif_vs_background"]
    if stats and stats["ratio"] is not None:
        print(f"  attention: motif {stats['motif_mean']:.4f} vs background {stats['background_mean']:.4f} "
              f"(x{stats['ratio']:.2f})")
        shift = stats.get("window_start_minus_motif_start")
        if shift:
            print(f"  attention window start - motif start: median {shift['median']:+g}, range "
                  f"{shift['min']:+d}..{shift['max']:+d}, exactly aligned in "
                  f"{shift['fraction_exactly_aligned']:.0%} of sequences")
    print(f"wrote {len(result['figures'])} files to {out} ({time.perf_counter() - start:.1f} s)")
    return 0
