"""``motifnet predict``: P(binding site) for each sequence, as a TSV table.

Output: a header ``id<TAB>probability`` then one row per sequence in input
order; the id is the FASTA id, or the 1-based line number for a sequences file.
Written to stdout, or atomically to ``--out``.
"""

from __future__ import annotations

import os
import sys

from motifnet.errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "predict",
        help="predict the probability of a binding site for each sequence",
        description="Score sequences with a trained model: prints a TSV table with a header "
        "'id<TAB>probability' and one row per sequence (the id is the FASTA id, or the 1-based "
        "line number of a sequences file). Sequences must have the length the model was "
        "trained on.",
    )
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="model file written by 'motifnet train' (RUN/model.npz, or the RUN folder)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--sequences", metavar="PATH|URL",
                        help="text file, one sequence (A/C/G/T/N) per line")
    source.add_argument("--fasta", metavar="PATH|URL", help="FASTA file")
    p.add_argument("--out", metavar="FILE", help="write the table to FILE instead of stdout")
    return p


def format_table(ids, probabilities) -> str:
    """The TSV text: header, then ``id<TAB>probability`` (6 significant digits) per row."""
    rows = ["id\tprobability"]
    rows += [f"{i}\t{p:.6g}" for i, p in zip(ids, probabilities)]
    return "\n".join(rows) + "\n"


def run(args) -> int:
    if args.out is not None and os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a folder; expected a file name")
    model_path = args.model
    if os.path.isdir(model_path):
        model_path = os.path.join(model_path, "model.npz")

    from motifnet.data import one_hot, read_fasta, read_sequences
    from motifnet.model_io import load_model
    from motifnet.train import predict_proba

    model = load_model(model_path)
    if args.fasta is not None:
        name = args.fasta
        records = read_fasta(name)
        ids = [rec_id for rec_id, _ in records]
        seqs = [seq for _, seq in records]
    else:
        name = args.sequences
        seqs = read_sequences(name)
        ids = [str(i) for i in range(1, len(seqs) + 1)]
    if len(seqs[0]) != model.seq_len:
        raise UserError(f"{name}: sequences have length {len(seqs[0])}, but the model "
                        f"{model_path} was trained on length {model.seq_len}")
    table = format_table(ids, predict_proba(model, one_hot(seqs)))

    if args.out is not None:
        from motifnet._atomic import write_text

        try:
            write_text(args.out, table)
        except OSError as exc:
            raise UserError(f"--out {args.out}: cannot write: {exc.strerror or exc}") from None
        return 0
    try:
        sys.stdout.write(table)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `motifnet predict ... | head`: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
