"""What several commands share: the data flags (one set, one meaning, for every command), the
output flags, loading a run's model, and printing.

Only light modules are imported at module level: ``motifnet --help`` must not pay for numba
or matplotlib.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from motifnet.errors import UserError


# --------------------------------------------------------------------------- data flags
def add_data_arguments(parser, *, training: bool, description: str):
    """The data flags of ``motifnet.dataset.DataSpec``, in one argument group.

    ``training`` adds the flags that make negatives and split the data.
    """
    data = parser.add_argument_group("data", description)
    data.add_argument("--sequences", metavar="PATH|URL",
                      help="text file, one sequence (A/C/G/T/N) per line (the primer's format)")
    data.add_argument("--labels", metavar="PATH|URL", help="text file, one 0/1 label per line, with --sequences")
    data.add_argument("--pos-fasta", metavar="PATH|URL",
                      help="FASTA (plain or gzip) of positive sequences (label 1), any lengths")
    data.add_argument("--neg-fasta", metavar="PATH|URL", help="FASTA of negative sequences (label 0)")
    data.add_argument("--bed", metavar="PATH", help="BED or narrowPeak of positive intervals (with --genome)")
    data.add_argument("--genome", metavar="PATH", help="genome FASTA (plain or gzip) the BED refers to")
    data.add_argument("--width", type=int, metavar="BP",
                      help="window width centred on each interval's summit or midpoint (BED input; "
                      "default 200)")
    if training:
        data.add_argument("--neg-bed", metavar="PATH", help="BED of negative intervals (with --bed)")
        data.add_argument("--negatives", choices=("shuffle", "genome"),
                          help="generate the negatives: dinucleotide shuffles of the positives, or "
                          "GC-matched genome windows overlapping no positive (BED input)")
        data.add_argument("--neg-per-pos", type=int, default=1, metavar="N",
                          help="generated negatives per positive (default 1)")
        data.add_argument("--stranded", action="store_true",
                          help="BED input: reverse-complement the windows of '-' strand intervals")
    data.add_argument("--max-length", type=int, default=100_000, metavar="BP",
                      help="longest sequence accepted (default 100000; scan genomes with 'motifnet scan')")
    return data


def add_split_arguments(parser):
    split = parser.add_argument_group("split", "held-out sets; the validation set picks the best epoch")
    split.add_argument("--test-fraction", type=float, default=0.25, metavar="F",
                       help="fraction of the sequences held out for testing (default 0.25)")
    split.add_argument("--valid-fraction", type=float, default=None, metavar="F",
                       help="fraction held out for validation (default 0.1 for deepbind, 0 for the "
                       "tutorials' models, as the tutorials)")
    split.add_argument("--test-chroms", metavar="CHR[,CHR...]",
                       help="BED input: hold out these chromosomes for testing instead of --test-fraction")
    split.add_argument("--valid-chroms", metavar="CHR[,CHR...]",
                       help="BED input: hold out these chromosomes for validation")
    return split


def data_spec(args, *, test_fraction=0.0, valid_fraction=0.0):
    """The ``DataSpec`` of the parsed flags (validated: one-line errors naming the flags)."""
    from motifnet.dataset import DataSpec

    width = args.width
    if width is None and args.bed is not None:
        width = 200
    spec = DataSpec(
        sequences=args.sequences, labels=args.labels, pos_fasta=args.pos_fasta, neg_fasta=args.neg_fasta,
        bed=args.bed, genome=args.genome, width=width, neg_bed=getattr(args, "neg_bed", None),
        negatives=getattr(args, "negatives", None), neg_per_pos=getattr(args, "neg_per_pos", 1),
        stranded=getattr(args, "stranded", False), max_length=args.max_length,
        test_fraction=getattr(args, "test_fraction", test_fraction), valid_fraction=valid_fraction, test_chroms=getattr(args, "test_chroms", None),
        valid_chroms=getattr(args, "valid_chroms", None))
    spec.validate()
    return spec


def has_data_arguments(args) -> bool:
    return any(getattr(args, name, None) is not None for name in ("sequences", "labels", "pos_fasta", "neg_fasta",
                                                                   "bed", "genome", "neg_bed"))


# --------------------------------------------------------------------------- runs and models
def model_path_of(run_or_file: str) -> Path:
    """RUN/model.npz for a run folder, the path itself for a file."""
    path = Path(run_or_file)
    if path.is_dir():
        path = path / "model.npz"
        if not path.is_file():
            raise UserError(f"{path} not found; is {run_or_file} a run folder of 'motifnet train'?")
    return path


def load_run_model(run_or_file: str):
    """``(model, metadata, model_path)`` of a run folder or model file."""
    from motifnet.model_io import load_model

    path = model_path_of(run_or_file)
    model, metadata = load_model(path, with_metadata=True)
    return model, metadata, path


# --------------------------------------------------------------------------- output flags
def add_output_arguments(parser, default: str, what: str = "output folder"):
    parser.add_argument("--out", metavar="DIR", help=f"{what} to create (default {default})")
    parser.add_argument("--force", action="store_true",
                        help="replace --out if it exists and motifnet wrote it (never a folder of yours)")


def info(message: str, quiet: bool = False) -> None:
    """A progress or result line on stdout (nothing with --quiet)."""
    if not quiet:
        print(message, flush=True)


def warn(message: str) -> None:
    """A warning on stderr, where it is seen even when stdout is piped."""
    print(message if message.startswith("warning:") else f"warning: {message}", file=sys.stderr, flush=True)


def warmup_of(args, name, *chores):
    """The command's ``motifnet.warmup.Warmup``: its first run's compiling, shared with a
    helper process.  Made on the first call and kept in ``args.warmup``: by the command's
    ``prepare``, which ``motifnet.cli`` calls before Numba is imported so that the helper's
    start-up overlaps ours, or by ``run`` when it is called without that.  ``name``: the
    name of the kernels' note, or a function of ``args`` that gives it (called only then);
    ``chores``: ``Warmup.meanwhile``'s."""
    warmup = getattr(args, "warmup", None)
    if warmup is None:
        from motifnet.warmup import Warmup

        warmup = args.warmup = Warmup(name if isinstance(name, str) else name(args))
        for chore in chores:
            warmup.meanwhile(chore)
    return warmup


def plots_ready() -> None:
    """``motifnet.plots.ready``, imported when called: a chore for a first run's compiling
    (``motifnet.warmup.Warmup.meanwhile``) that ``prepare`` can name before numpy is imported."""
    from motifnet import plots

    plots.ready()


def absolute(path: str) -> str:
    return path if "://" in path else os.path.abspath(path)


def plain_json(value):
    """``value`` with numpy scalars/arrays as Python numbers/lists, NaN/inf as None (plain JSON)."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return plain_json(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
