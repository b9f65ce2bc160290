"""``motifnet predict``: P(binding site) for each sequence, as a TSV table.

Output: a header ``id<TAB>length<TAB>probability`` then one row per sequence in input
order; the id is the FASTA id, or the 1-based line number for a sequences file.
Written to stdout, or atomically to ``--out`` (an existing file only with --force).
The deepbind model scores sequences of any length (streamed, a batch at a time);
the tutorials' models the one length they were trained on.
"""

from __future__ import annotations

from motifnet.errors import UserError

BATCH = 256


def add_parser(subparsers):
    p = subparsers.add_parser(
        "predict",
        help="predict the probability of a binding site for each sequence",
        description="Score sequences with a trained model: a TSV table with a header "
        "'id<TAB>length<TAB>probability' and one row per sequence (the id is the FASTA id, or the "
        "1-based line number of a sequences file). deepbind models score any length; the tutorials' "
        "models the length they were trained on. For long sequences (chromosomes) use 'motifnet scan'.",
    )
    p.add_argument("--model", required=True, metavar="RUN|MODEL",
                   help="run folder of 'motifnet train', or its model.npz")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--sequences", metavar="PATH|URL", help="text file, one sequence (A/C/G/T/N) per line")
    source.add_argument("--fasta", metavar="PATH|URL", help="FASTA file (plain or gzip)")
    p.add_argument("--max-length", type=int, default=100_000, metavar="BP",
                   help="longest sequence accepted (default 100000; use 'motifnet scan' for genomes)")
    p.add_argument("--out", metavar="FILE", help="write the table to FILE instead of stdout")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    return p


def _records(args):
    """(id, codes, where) of each input sequence, streamed."""
    from motifnet.data import encode, iter_fasta_records, read_sequences

    if args.fasta is not None:
        for rec in iter_fasta_records(args.fasta, max_length=args.max_length):
            yield rec.id, rec.codes, f"{args.fasta} line {rec.line} (record {rec.id!r})"
    else:
        for i, seq in enumerate(read_sequences(args.sequences), start=1):
            if len(seq) > args.max_length:
                raise UserError(f"{args.sequences} line {i}: {len(seq)} bases, longer than --max-length "
                                f"{args.max_length}")
            yield str(i), encode([seq])[0][0], f"{args.sequences} line {i}"


def prepare(args):
    """The prediction's compile helper (``_common.warmup_of``)."""
    from motifnet.commands._common import warmup_of

    return warmup_of(args, "predict")


def _table(model, model_path, args):
    import numpy as np

    from motifnet.commands._common import warn
    from motifnet.train import predict_proba

    rows, batch = ["id\tlength\tprobability"], []
    warmup = prepare(args)

    def flush():
        L = max(len(c) for _, c, _ in batch)
        codes = np.full((len(batch), L), -1, dtype=np.int8)
        for i, (_, c, _) in enumerate(batch):
            codes[i, :len(c)] = c
        lengths = np.array([len(c) for _, c, _ in batch], dtype=np.int64)
        if len(rows) == 1:  # the first batch's kernels compile on two cores (motifnet.warmup)
            warmup.compile_for_predict(model, codes, log=warn)
        for (rec_id, c, _), p in zip(batch, predict_proba(model, codes, lengths)):
            rows.append(f"{rec_id}\t{len(c)}\t{p:.6g}")
        batch.clear()

    n = 0
    for rec_id, codes, where in _records(args):
        n += 1
        if model.fixed_length is not None and len(codes) != model.fixed_length:
            raise UserError(f"{where}: {len(codes)} bases, but the {model.name} model {model_path} reads sequences "
                            f"of exactly {model.fixed_length}; a deepbind model reads any length")
        if len(codes) < model.min_length:
            raise UserError(f"{where}: {len(codes)} bases, shorter than the model's filters ({model.min_length})")
        batch.append((rec_id, codes, where))
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    if n == 0:
        warmup.stop()
        raise UserError(f"{args.fasta or args.sequences}: no sequences to score")
    return "\n".join(rows) + "\n"


def run(args) -> int:
    from motifnet.commands._common import load_run_model
    from motifnet.outputs import OutputFile, write_stdout

    if args.max_length < 1:
        raise UserError(f"--max-length must be >= 1, got {args.max_length}")
    if args.out is not None:  # refuse an existing file before the work, not after it
        from pathlib import Path

        if Path(args.out).is_dir():
            raise UserError(f"--out {args.out} is a folder; expected a file name")
        if Path(args.out).exists() and not args.force:
            raise UserError(f"--out {args.out} exists; choose another name or pass --force to replace it")
    model, _, model_path = load_run_model(args.model)
    table = _table(model, model_path, args)
    if args.out is None:
        write_stdout(table)
        return 0
    with OutputFile(args.out, args.force) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(table)
    return 0
