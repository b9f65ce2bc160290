"""``motifnet interpret``: what a trained model learned, and which factor it is.

Reads RUN/model.npz and, by default, the run's held-out test split
(RUN/test_sequences.txt, RUN/test_labels.txt).  Writes to --out (default
RUN/interpret), complete or not at all (``motifnet.outputs.OutputFolder``):

    report.md, report.json        the motifs found (support, best database matches), DeepLIFT's
                                  convergence, each method's reconstruction and its best match
    motifs.meme                   every motif found or reconstructed, flanks under 0.3 bits trimmed
    matches.tsv                   the top database matches of each motif found (Tomtom's columns)
    motifnet-<i>.png, motifnet-<i>_contribution.png, motifnet-<i>_match.png
                                  each motif found, its contributions, and its best match aligned
    deeplift.png saliency.png filter_weights.png filter_weight_logos.png filter_activation_logos.png
    ism_examples.png ism_logo.png motif_<method>.png motifs.png
    attention.png attention_motif_vs_background.png     (attention models; the bar with --motif)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from motifnet.errors import UserError

SIGNIFICANT_Q = 0.05  # a match with a larger q-value is shown as not significant


def add_parser(subparsers):
    p = subparsers.add_parser(
        "interpret",
        help="find the motifs a trained model learned and name them against JASPAR",
        description="Interpret a trained run: DeepLIFT attributions with exact rules, motifs discovered from "
        "them (seqlets on both strands, clustered, width found) and matched Tomtom-style against a motif "
        "database (JASPAR 2024 CORE, shipped; or --motif-db), then the tutorials' methods: filters as heatmaps "
        "and logos, activation PWMs, saliency, attention (attention models), in-silico mutagenesis, each "
        "reconstruction matched too. Reads the positive sequences of the run's test split unless data options "
        "are given. Writes report.md, report.json, motifs.meme, matches.tsv and PNG figures to --out.",
    )
    p.add_argument("run_dir", metavar="RUN", help="run folder written by 'motifnet train' (holds model.npz)")
    data = p.add_argument_group("data", "default: RUN/test_sequences.txt with RUN/test_labels.txt")
    data.add_argument("--sequences", metavar="PATH|URL", help="text file, one sequence per line (with --labels)")
    data.add_argument("--labels", metavar="PATH|URL", help="text file, one 0/1 label per line")
    data.add_argument("--pos-fasta", metavar="PATH|URL", help="FASTA (plain or gzip) of positive sequences")
    data.add_argument("--neg-fasta", metavar="PATH|URL",
                      help="FASTA of negative sequences (optional: the motif discovery's null)")
    p.add_argument("--motif", metavar="SEQ",
                   help="a known motif (A/C/G/T): shaded in the figures, attention on it measured, and each "
                   "reconstruction scored against it")
    p.add_argument("--motif-db", metavar="FILE",
                   help="MEME or JASPAR file of motifs to name the learnt ones against (default: the shipped "
                   "JASPAR 2024 CORE, 2,346 motifs)")
    p.add_argument("--max-sequences", metavar="N", type=int, default=1000,
                   help="use only the first N positive sequences (default 1000)")
    p.add_argument("--references", choices=("shuffle", "uniform", "composition"), default="shuffle",
                   help="DeepLIFT's references: dinucleotide shuffles of each sequence (default), or the expected "
                   "one-hot of equal or the data's base frequencies")
    p.add_argument("--n-references", type=int, default=10, metavar="N", help="shuffles per sequence (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffles and of the discovery (default 0)")
    p.add_argument("--out", metavar="DIR", help="output folder (default RUN/interpret)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists and motifnet wrote it")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
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
    for flag, value, lo in (("--max-sequences", args.max_sequences, 1), ("--n-references", args.n_references, 1),
                            ("--seed", args.seed, 0)):
        if value < lo:
            raise UserError(f"{flag} must be >= {lo}, got {value}")
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


def _load(args, run: Path):
    """(positive codes, lengths, negative codes or None, lengths or None, source description)."""
    import numpy as np

    from motifnet import data

    def split(seqs, labels):
        codes, lengths = data.encode(seqs)
        pos, neg = labels == 1, labels == 0
        if not pos.any():
            raise UserError("no positive (label 1) sequences to interpret")
        return codes[pos], lengths[pos], (codes[neg] if neg.any() else None), (lengths[neg] if neg.any() else None)

    if args.pos_fasta is not None:
        pos = data.encode([s for _, s in data.read_fasta(args.pos_fasta)])
        neg = data.encode([s for _, s in data.read_fasta(args.neg_fasta)]) if args.neg_fasta else (None, None)
        return (*pos, *neg, args.pos_fasta)
    if args.sequences is not None:
        seqs, labels = data.load_primer(args.sequences, args.labels)
        return (*split(seqs, np.asarray(labels)), args.sequences)
    seq_file, label_file = run / "test_sequences.txt", run / "test_labels.txt"
    for f in (seq_file, label_file):
        if not f.is_file():
            raise UserError(f"{f} not found; give the sequences with --sequences/--labels or --pos-fasta")
    seqs, labels = data.load_primer(str(seq_file), str(label_file))
    return (*split(seqs, np.asarray(labels)), f"{run}'s test split")


def _warmup_name(args) -> str:
    """Which kernels an interpretation calls depends on the model, named in the run's
    metrics.json (read as text: nothing is imported for it)."""
    import json

    try:
        name = str(json.loads((Path(args.run_dir) / "metrics.json").read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError, TypeError):
        name = "model"
    if not (name.isascii() and name.isalnum() and len(name) <= 32):  # it names a file (warmup._note_file)
        name = "model"
    return f"interpret-{name}"


def prepare(args):
    """The interpretation's compile helper (``_common.warmup_of``), named after its model."""
    from motifnet.commands._common import warmup_of

    return warmup_of(args, _warmup_name)


def run(args) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir} not found; give the --out folder of 'motifnet train'")
    motif = _check_args(args)
    out = Path(args.out) if args.out else run_dir / "interpret"
    from motifnet.outputs import OutputFolder, check_output_folder

    check_output_folder(out, args.force)
    from motifnet.commands._common import load_run_model, plots_ready, warn

    model, _, _ = load_run_model(str(run_dir))
    pos_codes, pos_lengths, neg_codes, neg_lengths, source = _load(args, run_dir)
    if model.fixed_length is not None and (pos_lengths != model.fixed_length).any():
        raise UserError(f"{source}: sequences of {int(pos_lengths.min())}-{int(pos_lengths.max())} bp, but the "
                        f"{model.name} model reads length {model.fixed_length}")
    if (pos_lengths < model.min_length).any():
        raise UserError(f"{source}: a sequence of {int(pos_lengths.min())} bp is shorter than the model's filters "
                        f"({model.min_length} bp)")
    if motif and len(motif) > int(pos_lengths.max()):
        raise UserError(f"--motif has {len(motif)} bases, longer than the sequences ({int(pos_lengths.max())})")
    pos_codes, pos_lengths = pos_codes[:args.max_sequences], pos_lengths[:args.max_sequences]
    if neg_codes is not None:
        keep = neg_lengths >= model.min_length
        if model.fixed_length is not None:
            keep &= neg_lengths == model.fixed_length
        neg_codes, neg_lengths = neg_codes[keep], neg_lengths[keep]
    from motifnet.motif.database import DEFAULT_DATABASE_NAME, load_database, load_default_database

    # a first interpretation's kernels compile on two cores (motifnet.warmup); meanwhile this
    # process reads the shipped motif database (0.27 s) and starts matplotlib
    warmup = prepare(args)
    if args.motif_db is None:
        warmup.meanwhile(load_default_database)  # read once per process, kept
    else:
        database = load_database(args.motif_db)  # the user's file: its errors before any work
    warmup.meanwhile(plots_ready)
    database_name = args.motif_db or DEFAULT_DATABASE_NAME

    from motifnet.interpret.report import background_count, interpret_model

    def log(msg):
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    background = None
    if neg_codes is not None and len(neg_codes):
        background = (background_count(len(pos_codes), len(neg_codes)), neg_codes.shape[1])
    warmup.compile_for_interpret(model, pos_codes, background, args.references, args.n_references, log=warn)
    if args.motif_db is None:
        database = load_default_database()

    start = time.perf_counter()
    with OutputFolder(out, force=args.force, command="interpret") as folder:
        result = interpret_model(model, pos_codes, pos_lengths, folder, neg_codes=neg_codes, neg_lengths=neg_lengths,
                                 motif=motif, database=database, database_name=database_name,
                                 references=args.references, n_references=args.n_references, seed=args.seed,
                                 log=log)
    motifs = result["discovery"]["motifs"]
    print(f"{result['model']} model, {result['n_positive_sequences']} positive sequences"
          + (f", known motif {motif} found in {result['motif_found_in']}" if motif else ""))
    if not motifs:
        print(f"  {result['discovery']['reason'] or 'no motif found'}")
    for m in motifs[:5]:
        best = (m.get("matches") or [None])[0]
        named = "no database match" if best is None else (
            f"best match {best['target_id']} {best['target_name']} (p {best['p_value']:.2g}, "
            f"E {best['e_value']:.2g}, q {best['q_value']:.2g}"
            + ("" if best["q_value"] <= SIGNIFICANT_Q else ": not significant") + ")")
        print(f"  motif {m['id']:<11} {m['consensus']:<20} {m['n_seqlets']:>5} seqlets  {named}")
    print(f"  DeepLIFT convergence: max |sum of contributions - (f(x) - f(ref))| = "
          f"{result['deeplift']['max_abs_delta']:.1e}")
    for name, m in result["methods"].items():
        match = m.get("match")
        score = f"  {match['matches']}/{match['motif_length']} of the known motif" if match else ""
        print(f"  {name:<18} {m['consensus']}  {m['total_information_content']:5.1f} bits{score}")
    stats = result["attention_motif_vs_background"]
    if stats and stats["ratio"] is not None:
        print(f"  attention: motif {stats['motif_mean']:.4f} vs background {stats['background_mean']:.4f} "
              f"(x{stats['ratio']:.2f})")
    print(f"wrote {len(result['figures'])} files to {out} ({time.perf_counter() - start:.1f} s)")
    return 0
