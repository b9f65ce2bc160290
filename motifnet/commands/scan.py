"""``motifnet scan``: window probabilities (bedGraph) and called sites (BED6) along genomes.

The output folder (``--out``)::

    windows.bedgraph   record, start, end, probability of the model for the window
                       (0-based half-open; rows of overlapping windows are their central
                       ``--step`` bases, so rows never overlap; sorted as LC_ALL=C sort -k1,1 -k2,2n)
    sites.bed          BED6 of called sites: record, start, end, name (the matched motif's
                       ID_name, or filter<f>), score (0-1000, 100 per factor of ten in the odds of
                       a miss), strand (relative to the matched motif); overlapping calls merged
    scan.json          settings (window, step, threshold and where it came from, region), counts,
                       the filters' names and orientations, time and Mbp/s

It is built in a hidden temporary folder beside ``--out`` and moved into place only when
complete (``motifnet.outputs.OutputFolder``).  The method, and every choice it makes, is
in ``motifnet/scan.py``'s docstring.  Only light modules are imported at module level.
"""

from __future__ import annotations

import json
import math
import sys

from motifnet.errors import UserError


def add_parser(subparsers):
    p = subparsers.add_parser(
        "scan",
        help="scan genomes: model probability in windows (bedGraph) and called sites (BED)",
        description="Scan FASTA sequences (plain or gzip, any number of records of any length, in "
        "bounded memory) with a trained model: writes DIR/windows.bedgraph (the model's probability "
        "for windows of --window bp every --step bp), DIR/sites.bed (for the position-invariant "
        "deepbind model: the first-layer match behind each window above --threshold, at base "
        "resolution, with strand; overlapping calls merged) and DIR/scan.json. Coordinates are "
        "0-based half-open (BED). The tutorials' fixed-length models (cnn, attention) are scanned "
        "at their training length, bedGraph only.",
    )
    p.add_argument("run_dir", metavar="RUN", help="run folder of 'motifnet train' (or its model.npz)")
    p.add_argument("sequences", metavar="SEQUENCES", help="FASTA file to scan (plain or gzip)")
    p.add_argument("--out", metavar="DIR", required=True, help="output folder to create")
    p.add_argument("--window", type=int, metavar="N",
                   help="window width in bp (default: the model's training width, the median length "
                   "of its training sequences)")
    p.add_argument("--step", type=int, metavar="N", help="bp from one window to the next (default window // 2)")
    p.add_argument("--threshold", type=float, metavar="P",
                   help="call sites in windows whose probability is above P (default: the model file's "
                   "calibrated threshold, else calibrated on shuffles of the input so that background "
                   "gives --false-per-mb calls per Mb)")
    p.add_argument("--false-per-mb", type=float, default=None, metavar="X",
                   help="calibrate the threshold (when there is no --threshold) for X false calls per Mb of "
                   "shuffled background (default 7)")
    p.add_argument("--region", metavar="CHR[:START-END]",
                   help="scan only windows starting in this region: 1-based, inclusive, as samtools "
                   "(chr2L:1-1000 is BED [0, 1000)); CHR alone is a whole record")
    p.add_argument("--chunk-size", type=int, default=None, metavar="N",
                   help="bases read at a time (default 262144); memory does not grow with the input")
    p.add_argument("--motif-db", metavar="FILE|none",
                   help="motifs (MEME or JASPAR) that name and orient the filters' sites (default: the shipped "
                   "JASPAR 2024 CORE); 'none': sites named filter<f>, strand the filter's own")
    p.add_argument("--threads", type=int, metavar="N", help="threads scanning chunks at once, beside the one reading and writing (default: all cores)")
    p.add_argument("--force", action="store_true",
                   help="replace --out if it exists and motifnet wrote it (never a folder of yours)")
    p.add_argument("--quiet", action="store_true", help="no progress or summary lines")
    return p


def prepare(args):
    """The scan's compile helper (``_common.warmup_of``)."""
    from motifnet.commands._common import warmup_of

    return warmup_of(args, "scan")


def _threshold(args, model, metadata, scanner_window, scanner_step, say, workers=1):
    """The Calibration the scan uses (module docstring of motifnet.scan, "The threshold")."""
    from motifnet import scan

    if args.threshold is not None:
        p = args.threshold
        if not (math.isfinite(p) and 0.0 < p < 1.0):
            raise UserError(f"--threshold must be a probability strictly between 0 and 1, got {p}")
        return scan.Calibration(logit=scan.logit_of(p), probability=p, false_calls_per_mb=math.nan,
                                window=scanner_window, step=scanner_step, background_bases=0, replicates=0,
                                calls_at_threshold=0, source="--threshold")
    stored = metadata.get("scan_threshold") if isinstance(metadata, dict) else None
    if stored is not None and args.false_per_mb is None:
        try:
            c = scan.Calibration.from_metadata(stored)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{args.run_dir}: the model file's scan_threshold metadata is unreadable ({exc})") from None
        if c.window == scanner_window and c.step == scanner_step:
            say(f"scan: threshold p > {c.probability:.6g} from the model file ({c.source}, "
                f"{c.false_calls_per_mb:g} false calls per Mb)")
            return c
        say(f"scan: the model file's threshold is for window {c.window}, step {c.step}; recalibrating for "
            f"window {scanner_window}, step {scanner_step}")
    target = scan.DEFAULT_FALSE_CALLS_PER_MB if args.false_per_mb is None else args.false_per_mb
    if not (math.isfinite(target) and target > 0):
        raise UserError(f"--false-per-mb must be a positive number, got {target}")
    background = scan.sample_background(args.sequences, scan.CALIBRATION_INPUT_BASES, scanner_window)
    if sum(len(b) for b in background) < scanner_window:
        raise UserError(f"{args.sequences}: too little sequence to calibrate a threshold on (give --threshold P)")
    c = scan.calibrate_threshold(model, background, window=scanner_window, step=scanner_step,
                                 false_calls_per_mb=target, source="shuffles of the input's first "
                                 f"{sum(len(b) for b in background):,} bases", workers=workers)
    say(f"scan: threshold p > {c.probability:.6g} (logit {c.logit:.3f}), calibrated for {target:g} false calls per "
        f"Mb on {c.background_bases / 1e6:.1f} Mb of shuffled input")
    return c


def run(args) -> int:
    from motifnet.commands._common import absolute, load_run_model, plain_json, warn

    say = (lambda message: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    import numba

    if args.threads is not None:
        if args.threads < 1 or args.threads > numba.config.NUMBA_NUM_THREADS:
            raise UserError(f"--threads must lie in [1, {numba.config.NUMBA_NUM_THREADS}] (this machine's "
                            f"Numba threads), got {args.threads}")
        numba.set_num_threads(args.threads)
    workers = numba.get_num_threads()  # threads scanning chunks at once (motifnet.scan, "Threads")
    from motifnet import scan
    from motifnet.outputs import OutputFolder

    model, metadata, model_path = load_run_model(args.run_dir)
    region = scan.parse_region(args.region) if args.region is not None else None
    chunk_size = scan.DEFAULT_CHUNK_SIZE if args.chunk_size is None else args.chunk_size
    lengths = metadata.get("train_lengths") if isinstance(metadata, dict) else None
    default_window = None
    if isinstance(lengths, dict) and isinstance(lengths.get("median"), (int, float)) and lengths["median"] >= 1:
        default_window = int(round(lengths["median"]))
    scanner = scan.Scanner(model, window=args.window, step=args.step, default_window=default_window)
    if scanner.gaps_between_windows():
        say(f"warning: --step {scanner.step} > window - K + 1 = {scanner.window - scanner.kernel_size + 1}: "
            f"sites in K-mers between windows cannot be called")
    warmup = prepare(args)
    threshold, database, db_name = None, None, None
    if scanner.sites:
        # a first scan's kernels compile on two cores (motifnet.warmup)
        warmup.compile_for_scan(model, scanner.window, scanner.step, calibrate=args.threshold is None, log=warn)
        threshold = _threshold(args, model, metadata, scanner.window, scanner.step, say, workers)
        if args.motif_db is None:
            from motifnet.motif import load_default_database
            from motifnet.motif.database import DEFAULT_DATABASE_NAME

            database, db_name = load_default_database(), DEFAULT_DATABASE_NAME
        elif args.motif_db.lower() != "none":
            from motifnet.motif import load_database

            database, db_name = load_database(args.motif_db), absolute(args.motif_db)
    else:
        warmup.stop()  # a fixed-length model's forward: the layers' kernels, compiled as they are called
        say(f"scan: the {model.name} model reads {scanner.window} bp windows and has no per-site maximum: "
            f"writing windows.bedgraph only (no sites.bed)")
        if args.threshold is not None:
            raise UserError(f"--threshold calls sites, which the {model.name} model cannot; leave it out")
    settings = {"model": absolute(str(model_path)), "architecture": model.name,
                "hyperparameters": model.hyperparameters(), "sequences": absolute(args.sequences),
                "motif_db": db_name, "threads": workers}
    with OutputFolder(args.out, force=args.force, command="scan") as tmp:
        summary = scan.scan_fasta_to_folder(model, args.sequences, tmp, window=scanner.window, step=scanner.step,
                                            threshold=threshold, region=region, chunk_size=chunk_size,
                                            motif_db=database, quiet=args.quiet, settings=settings,
                                            workers=workers)
        summary.settings["outputs"] = ["windows.bedgraph"] + (["sites.bed"] if scanner.sites else [])
        text = json.dumps(plain_json(dataclass_dict(summary)), indent=2, allow_nan=False) + "\n"
        (tmp / "scan.json").write_text(text, encoding="utf-8")
    c, t = summary.counts, summary.timing
    rate = f"{t['mbp_per_s']:.1f} Mbp/s" if t["mbp_per_s"] else "-"
    say(f"scanned {t['bases_scanned'] / 1e6:,.3f} Mbp in {t['seconds']:.1f} s ({rate}): {c['records']} record(s), "
        f"{c['windows_scored']:,} windows scored ({c['windows_mostly_n']:,} mostly N, skipped)"
        + (f", {c['windows_above_threshold']:,} above the threshold, {c['sites']:,} sites" if scanner.sites else ""))
    say(f"output folder: {args.out}")
    return 0


def dataclass_dict(summary) -> dict:
    return {"settings": summary.settings, "counts": summary.counts, "filters": summary.filters,
            "timing": summary.timing}
