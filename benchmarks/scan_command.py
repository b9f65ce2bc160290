"""The `scan` part: the whole ``motifnet scan`` command, end to end, in Mbp/s.

The kernels part times ``kernels/scan.py`` on codes already in memory; a user runs the
command, which also reads and parses FASTA (plain or gzip), finds runs of N, calibrates
its threshold on shuffles of the input's first Mb, names the filters against JASPAR,
calls sites and writes a bedGraph and a BED.  This part times that, as a user would run
it, in its own process:

1. *A model*: ``motifnet train`` (deepbind, the model ``scan`` calls sites with) on
   generated FASTA, half of it with the primer's motif planted on either strand
   (``worker.planted_like``).  Its training is short: a scan's speed depends on the
   architecture (32 filters of 15 bp, windows of its training width), not on how well it
   learned.
2. *An input*: ``--scan-mbp`` Mbp of generated genome-like sequence (records of at most
   10 Mbp, 42% GC, a 50 kb run of N at the start of each record as assemblies have, the
   motif planted once in every 10 kb), written as plain FASTA and as gzip.
3. *Validation before timing*: one untimed run (it also loads or compiles the kernels);
   the bedGraph values of SCAN_VALID_WINDOWS sampled windows checked against the model's
   own layer-by-layer ``forward`` on each window (the reference the fused scan kernel must equal); every
   timed run's outputs must then be byte-for-byte those of the untimed run (at every
   thread count, from plain and gzip input).
4. *Timing*: rounds of (plain, gzip) x ``--scan-threads``, one process each
   (``NUMBA_NUM_THREADS`` and ``--threads``), wall time from ``benchmarks.peak_rss``; the
   command's own ``scan.json`` timing gives the streaming part (read, scan, call, write)
   apart from the fixed start (imports, model, threshold calibration).
"""

from __future__ import annotations

import gzip
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

SCAN_RECORD_BP = 10_000_000  # the generated input's records: at most this long
SCAN_GAP_BP = 50_000  # a run of N at the start of each record
SCAN_PLANT_EVERY = 10_000  # one planted motif per this many bases
SCAN_GC = 0.42
SCAN_TRAIN = {"quick": {"n": 400, "epochs": 2}, "full": {"n": 2000, "epochs": 10}}
SCAN_VALID_WINDOWS = 64  # bedGraph values checked against the model's forward
PRINT_ATOL = 5e-7  # bedGraph writes %.6g: half a unit of the 6th digit of a probability
LOGIT_RTOL = 1e-5  # the fused kernel's logit against the layers' (float32 sums in another order)
LINE = 60
HUMAN_GENOME_BP = 3.1e9


def _text(codes: np.ndarray) -> bytes:
    """FASTA lines of LINE bases for codes (A 0, C 1, G 2, T 3, N -1)."""
    from motifnet.data import decode

    seq = decode(codes[None])[0]
    return ("\n".join(seq[i:i + LINE] for i in range(0, len(seq), LINE)) + "\n").encode()


def write_fasta(path: Path, records: dict[str, np.ndarray], compress: bool) -> None:
    opener = (lambda p: gzip.open(p, "wb", compresslevel=6)) if compress else (lambda p: open(p, "wb"))
    with opener(path) as fh:
        for name, codes in records.items():
            fh.write(b">" + name.encode() + b"\n")
            fh.write(_text(codes))


def generated_input(mbp: float, motif: str, seed: int) -> tuple[dict[str, np.ndarray], list[tuple[str, int, int]]]:
    """(records, planted sites (record, start, end)): genome-like sequence, module docstring 2."""
    rng = np.random.default_rng(seed)
    site = np.array(["ACGT".index(c) for c in motif], dtype=np.int8)
    total = int(round(mbp * 1e6))
    p_at, p_gc = (1 - SCAN_GC) / 2, SCAN_GC / 2
    records, planted = {}, []
    i = 0
    while total > 0:
        n = min(SCAN_RECORD_BP, total)
        codes = rng.choice(4, size=n, p=[p_at, p_gc, p_gc, p_at]).astype(np.int8)
        gap = min(SCAN_GAP_BP, n // 10)
        codes[:gap] = -1
        name = f"chr{i + 1}"
        for block in range(gap, n - SCAN_PLANT_EVERY + 1, SCAN_PLANT_EVERY):
            start = block + int(rng.integers(0, SCAN_PLANT_EVERY - site.size))
            codes[start:start + site.size] = site if rng.random() < 0.5 else 3 - site[::-1]
            planted.append((name, start, start + site.size))
        records[name] = codes
        total -= n
        i += 1
    return records, planted


def _bedgraph_rows(path: Path):
    for line in path.read_text().splitlines():
        rec, a, b, v = line.split("\t")
        yield rec, int(a), int(b), float(v)


def validate_windows(folder: Path, model_path: Path, records: dict[str, np.ndarray], seed: int = 0) -> dict:
    """Sampled bedGraph values against the model's own ``forward`` on their windows.

    Inside a record (not its first or last window) a row is window [s, s + W)'s central
    ``step`` bases, starting at s + (W - step) // 2 (motifnet/scan.py, "bedGraph rows")."""
    from motifnet.model_io import load_model
    from motifnet.train import sigmoid

    settings = json.loads((folder / "scan.json").read_text())["settings"]
    W, S = settings["window"], settings["step"]
    h = (W - S) // 2
    rows = [r for r in _bedgraph_rows(folder / "windows.bedgraph")
            if r[1] - h > 0 and r[1] - h + W < records[r[0]].size]
    if not rows:
        return {"passed": False, "message": "no bedGraph row inside a record to check"}
    rng = np.random.default_rng(seed)
    picked = [rows[i] for i in sorted(rng.choice(len(rows), size=min(SCAN_VALID_WINDOWS, len(rows)), replace=False))]
    model = load_model(model_path)
    worst, worst_row = -1.0, None
    for rec, a, _, value in picked:
        x = np.ascontiguousarray(records[rec][None, a - h:a - h + W])
        logit = float(model.forward(x)[0])
        expected = float(sigmoid(logit))  # as motifnet/scan.py writes its bedGraph values
        # %.6g's rounding, plus the logit's float32 error (rel 1e-5, as tests/test_scan.py) through the sigmoid
        allowed = PRINT_ATOL + expected * (1 - expected) * LOGIT_RTOL * max(1.0, abs(logit))
        ratio = abs(value - expected) / allowed
        if ratio > worst:
            worst, worst_row = ratio, (rec, a - h, value, expected, allowed)
    passed = worst <= 1.0
    out = {"passed": passed, "windows_checked": len(picked), "worst_error_over_allowed": worst,
           "print_atol": PRINT_ATOL, "logit_rtol": LOGIT_RTOL, "window": W, "step": S}
    if not passed:
        rec, s, v, e, allowed = worst_row
        out["message"] = (f"scan: window {rec}:{s}-{s + W}: bedGraph {v:.6g}, the model's forward {e:.6g} "
                          f"(|diff| {abs(v - e):.2e} > {allowed:.2e})")
    return out


def _recovered(sites_bed: Path, planted: list[tuple[str, int, int]]) -> int:
    """Planted sites overlapped by a called site."""
    from motifnet.genome import merge_intervals, read_bed

    calls = merge_intervals(read_bed(sites_bed) if sites_bed.stat().st_size else [])  # read_bed refuses an empty file
    hit = 0
    for rec, a, b in planted:
        if rec in calls:
            starts, ends = calls[rec]
            k = int(np.searchsorted(starts, b)) - 1  # the last merged call starting before the site's end
            hit += k >= 0 and ends[k] > a
    return hit


def _same_outputs(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in ("windows.bedgraph", "sites.bed"))


def bench_scan(args, workdir: Path, log) -> dict:
    from benchmarks.suite import run_process, thread_env
    from benchmarks.worker import planted_like
    from motifnet.constants import PRIMER_MOTIF

    out: dict = {"errors": {}, "runs": [], "rows": []}
    train = SCAN_TRAIN["quick" if args.quick else "full"]
    # 1. the model
    codes, lengths, labels = planted_like(train["n"], 200, 400, 0, PRIMER_MOTIF)
    fasta = {}
    for label, name in ((1, "pos"), (0, "neg")):
        idx = np.flatnonzero(labels == label)
        fasta[name] = workdir / f"scan-train-{name}.fa"
        write_fasta(fasta[name], {f"{name}{i}": codes[i, :lengths[i]] for i in idx}, compress=False)
    model_dir = workdir / "scan-model"
    log(f"scan: training the deepbind model to scan with ({train['n']} sequences, {train['epochs']} epochs)")
    r = run_process([sys.executable, "-m", "motifnet", "train", "--pos-fasta", str(fasta["pos"]), "--neg-fasta",
                     str(fasta["neg"]), "--epochs", str(train["epochs"]), "--quiet", "--out", str(model_dir)],
                    thread_env(1), workdir)
    if r["returncode"] != 0:
        out["errors"]["train"] = r["stderr"]
        return out
    # 2. the input
    records, planted = generated_input(args.scan_mbp, PRIMER_MOTIF, seed=1)
    bases = int(sum(c.size for c in records.values()))
    inputs = {"plain": workdir / "scan-input.fa", "gzip": workdir / "scan-input.fa.gz"}
    for fmt, path in inputs.items():
        write_fasta(path, records, compress=fmt == "gzip")
    out["input"] = {"bases": bases, "records": len(records), "n_bases": int(sum((c < 0).sum() for c in records.values())),
                    "planted_sites": len(planted), "gc": SCAN_GC,
                    "bytes": {fmt: path.stat().st_size for fmt, path in inputs.items()},
                    "model_training": {**train, "lengths": "200-400", "motif": PRIMER_MOTIF}}

    def scan(fmt, threads, folder):
        cmd = [sys.executable, "-m", "motifnet", "scan", str(model_dir), str(inputs[fmt]), "--out", str(folder),
               "--threads", str(threads), "--quiet"]
        return run_process(cmd, thread_env(threads), workdir)

    # 3. validation, on an untimed run
    ref = workdir / "scan-reference"
    log(f"scan: untimed reference run ({bases / 1e6:.1f} Mbp) and its validation")
    r = scan("plain", 1, ref)
    if r["returncode"] != 0:
        out["errors"]["reference run"] = r["stderr"]
        return out
    out["validation"] = validate_windows(ref, model_dir / "model.npz", records)
    summary = json.loads((ref / "scan.json").read_text())
    out["counts"] = summary["counts"]
    out["recovered_planted_sites"] = _recovered(ref / "sites.bed", planted)
    if not out["validation"]["passed"]:
        return out  # nothing is timed whose result is wrong
    # 4. timing, in rounds
    for i in range(args.scan_repeats):
        for fmt in inputs:
            for threads in args.scan_threads:
                log(f"scan: {fmt} FASTA, {threads} thread{'s' * (threads > 1)} (round {i + 1}/{args.scan_repeats})")
                folder = workdir / f"scan-{fmt}-{threads}-{time.monotonic_ns()}"
                r = scan(fmt, threads, folder)
                run = {"format": fmt, "threads": threads, "round": i, "seconds": r["seconds"],
                       "returncode": r["returncode"], "peak_rss_mb": r["peak_rss_mb"]}
                if r["returncode"] == 0:
                    timing = json.loads((folder / "scan.json").read_text())["timing"]
                    run.update(stream_seconds=timing["seconds"], scanner_seconds=timing["scan_seconds"],
                               same_output=_same_outputs(ref, folder))
                else:
                    out["errors"][f"{fmt} {threads} threads round {i}"] = r["stderr"]
                out["runs"].append(run)
                shutil.rmtree(folder, ignore_errors=True)
    for fmt in inputs:
        for threads in args.scan_threads:
            ok = [r for r in out["runs"] if r["format"] == fmt and r["threads"] == threads and r["returncode"] == 0]
            if not ok:
                continue
            wall = statistics.median(r["seconds"] for r in ok)
            stream = statistics.median(r["stream_seconds"] for r in ok)
            out["rows"].append({
                "format": fmt, "threads": threads, "runs": len(ok), "validated": all(r["same_output"] for r in ok),
                "seconds": wall, "mbp_per_s": bases / 1e6 / wall, "stream_seconds": stream,
                "stream_mbp_per_s": bases / 1e6 / stream, "fixed_seconds": wall - stream,
                "peak_rss_mb": max(r["peak_rss_mb"] for r in ok),
                "genome_minutes": HUMAN_GENOME_BP / (bases / stream) / 60 + (wall - stream) / 60,
            })
    return out
