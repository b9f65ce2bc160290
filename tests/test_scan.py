"""motifnet/scan.py and ``motifnet scan``: exact windows, exact chunking, sites, merging, outputs.

Every check compares the engine with something computed another way: the model's own
``forward`` on each window's codes, the same record scanned whole, brute-force merging,
planted sites at known places.  Data are generated here (no files outside tmp_path).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from motifnet.commands import scan as scan_command
from motifnet.data import decode
from motifnet.errors import UserError
from motifnet.model_io import save_model
from motifnet.models import DeepBind, GenomicsCNN
from motifnet.motif.pwm import Motif
from motifnet.scan import (Calibration, Calls, Region, Scanner, SiteCaller, bed_score, calibrate_threshold,
                           merge_calls, merge_site_files, parse_region, scan_fasta_to_folder, window_count)

MOTIF = "TGACCTAG"   # not its own reverse complement (CTAGGTCA)
K = len(MOTIF)


# --------------------------------------------------------------------------- helpers
def random_codes(rng, n, n_runs=0):
    codes = rng.integers(0, 4, n).astype(np.int8)
    for _ in range(n_runs):  # runs of N of every size, some making windows mostly N
        a = int(rng.integers(0, n))
        codes[a:a + int(rng.integers(1, 200))] = -1
    return codes


def write_fasta(path, records, gz=False):
    text = "".join(f">{name} some description\n" + "\n".join(decode(c[None])[0][i:i + 61]
                                                             for i in range(0, c.size, 61)) + "\n"
                   for name, c in records)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return str(path)


def random_model(seed=0, dtype=np.float32, n_filters=5, kernel_size=9, hidden=4):
    model = DeepBind(n_filters=n_filters, kernel_size=kernel_size, hidden=hidden, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    model.conv.weight.data[...] = rng.standard_normal(model.conv.weight.shape)  # a spread of logits
    model.fc2.bias.data[...] = -1.0
    return model


def planted_model():
    """Filter 0 scores +4 on MOTIF and at most 0 elsewhere; the head turns it into the logit 3 m_0 - 6."""
    model = DeepBind(n_filters=3, kernel_size=K, hidden=2, seed=0)
    w = np.full((3, 4, K), -2.0, np.float32)
    for k, base in enumerate(MOTIF):
        w[0, "ACGT".index(base), k] = 2.0
    w[1:] = np.random.default_rng(1).normal(0, 0.1, (2, 4, K))
    model.conv.weight.data[...] = w
    model.conv.bias.data[...] = [-(2.0 * K - 4.0), -3.0, -3.0]
    model.fc1.weight.data[...] = [[1.0, 0.0, 0.0], [0.0, 0.1, 0.1]]
    model.fc1.bias.data[...] = 0.0
    model.fc2.weight.data[...] = [[3.0, 0.0]]
    model.fc2.bias.data[...] = -6.0
    return model


def motif_pwm(seq, pseudo=0.02):
    p = np.full((4, len(seq)), pseudo)
    for k, base in enumerate(seq):
        p["ACGT".index(base), k] = 1.0
    return p / p.sum(axis=0)


def revcomp(seq):
    return seq.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def planted_record(rng, n, sites):
    """Random bases with MOTIF at (start, strand) for each site."""
    codes = random_codes(rng, n)
    for start, strand in sites:
        s = MOTIF if strand == "+" else revcomp(MOTIF)
        codes[start:start + K] = ["ACGT".index(b) for b in s]
    return codes


def read_rows(path):
    return [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]


def concat(parts, name):
    return np.concatenate([getattr(p, name) for p in parts])


FIELDS = ("start", "end", "informative", "logit", "row_start", "row_end", "site_filter", "site_start",
          "site_end", "site_strand", "site_contribution")


# --------------------------------------------------------------------------- windows are the model's
def test_each_window_is_model_forward_on_its_codes():
    model = random_model(seed=4)
    rng = np.random.default_rng(5)
    W, S = 97, 29                                    # P = 89 = 3 * 29 + 2: four blocks per window
    for length in (2500, 120, 97, 40, 9, 8):         # longer than W, just above, equal, shorter, = K, < K
        codes = random_codes(rng, length, n_runs=6 if length > 1000 else 1)
        sc = Scanner(model, window=W, step=S).scan_codes("r", codes)
        n = window_count(length, W, S, 9, whole_only=False)
        assert len(sc) == n
        if n == 0:
            continue
        assert sc.end[-1] == length and (sc.end[:-1] - sc.start[:-1] == W).all()   # only the last is cut
        assert (np.diff(sc.start) == S).all() and sc.start[0] == 0
        informative = np.array([np.count_nonzero(codes[a:b] >= 0) for a, b in zip(sc.start, sc.end)])
        np.testing.assert_array_equal(sc.informative, informative)
        np.testing.assert_array_equal(sc.scored, (informative >= 0.5 * (sc.end - sc.start)) & (informative > 0))
        if length > 1000:
            assert (~sc.scored).sum() >= 3 and ((informative < sc.end - sc.start) & sc.scored).sum() >= 3
        for j in np.flatnonzero(sc.scored):
            x = np.ascontiguousarray(codes[None, sc.start[j]:sc.end[j]])
            expected = float(model.forward(x)[0])
            assert math.isclose(sc.logit[j], expected, rel_tol=1e-5, abs_tol=1e-5), (length, j)
        assert np.isnan(sc.logit[~sc.scored]).all()


def test_site_is_the_top_contributing_filters_match():
    model = random_model(seed=2, dtype=np.float64)
    codes = random_codes(np.random.default_rng(3), 600, n_runs=2)
    sc = Scanner(model, window=80, step=40).scan_codes("r", codes)
    w1, w2 = model.fc1.weight.data, model.fc2.weight.data[0]
    checked = 0
    for j in np.flatnonzero(sc.scored):
        win = np.ascontiguousarray(codes[None, sc.start[j]:sc.end[j]])
        y = model.strand_activations(win)[0]                      # (2F, n)
        n_pos = y.shape[1]
        F = model.n_filters
        both = np.stack([y[:F], y[F:]], axis=2).reshape(F, -1)    # (position, strand) order
        m = both.max(axis=1)
        pre = w1 @ np.maximum(m, 0) + model.fc1.bias.data
        c = np.maximum(m, 0) * (((pre > 0) * w2) @ w1)
        if c.max() <= 0:
            assert sc.site_filter[j] == -1
            continue
        f = int(np.argmax(c))
        t, g = divmod(int(np.argmax(both[f])), 2)
        assert t < n_pos
        kmer = codes[sc.start[j] + t:sc.start[j] + t + model.kernel_size] >= 0
        lead, trail = int(np.argmax(kmer)), model.kernel_size - int(np.argmax(kmer[::-1]))
        assert (sc.site_filter[j], sc.site_strand[j]) == (f, g)
        assert (sc.site_start[j], sc.site_end[j]) == (sc.start[j] + t + lead, sc.start[j] + t + trail)
        assert math.isclose(sc.site_contribution[j], c[f], rel_tol=1e-9)
        checked += 1
    assert checked > 5


# --------------------------------------------------------------------------- chunks are exact
@pytest.mark.parametrize("chunk_size, workers", [(61, 1), (62, 1), (75, 1), (200, 1), (1 << 20, 1), (61, 3), (200, 2)])
def test_chunked_scan_equals_whole_records(tmp_path, chunk_size, workers):
    model = random_model(seed=1)
    rng = np.random.default_rng(11)
    records = [("chrA", random_codes(rng, 1733, n_runs=4)), ("tiny", random_codes(rng, 5)),
               ("short", random_codes(rng, 44)),
               ("exact", random_codes(rng, 122)), ("chrB", random_codes(rng, 977, n_runs=2))]
    path = write_fasta(tmp_path / "in.fa.gz", records, gz=True)
    scanner = Scanner(model, window=61, step=12)     # q = 4 whole blocks + a head per window
    parts = list(scanner.scan_fasta(path, chunk_size=chunk_size, workers=workers))
    for name, codes in records:
        mine = [p for p in parts if p.record == name]
        whole = scanner.scan_codes(name, codes)
        assert mine[-1].record_done and mine[-1].record_length == codes.size
        for f in FIELDS:
            np.testing.assert_array_equal(concat(mine, f), getattr(whole, f), err_msg=f"{name} {f}")
    # the sites called from streamed chunks are those of the whole records
    t = float(np.nanquantile(concat(parts, "logit"), 0.7))
    caller, streamed = SiteCaller(t), []
    for p in parts:
        streamed += caller.add(p)
    streamed += caller.finish()
    for name, codes in records:
        whole = scanner.scan_codes(name, codes)
        ok = whole.scored & (whole.logit > t) & (whole.site_filter >= 0)
        expected = merge_calls(Calls(whole.site_start[ok], whole.site_end[ok], whole.site_strand[ok],
                                     whole.logit[ok], whole.site_filter[ok]))
        got = Calls.concatenate([c for r, c in streamed if r == name])
        for f in Calls._fields:
            np.testing.assert_array_equal(getattr(got, f), getattr(expected, f), err_msg=f"{name} calls {f}")


def test_regions_select_windows_by_start_on_the_records_grid(tmp_path):
    model = random_model(seed=3)
    rng = np.random.default_rng(2)
    records = [("one", random_codes(rng, 900)), ("chr2:x", random_codes(rng, 1500, n_runs=2))]
    path = write_fasta(tmp_path / "in.fa", records)
    scanner = Scanner(model, window=70, step=20)
    whole = scanner.scan_codes("chr2:x", records[1][1])
    for text, (lo, hi) in [("chr2:x:101-1000", (100, 1000)), ("chr2:x:1-1,500", (0, 1500)),
                           ("chr2:x:1401-9999", (1400, 9999)), ("chr2:x", (0, 10**9))]:
        region = parse_region(text)
        parts = list(scanner.scan_fasta(path, region=region, chunk_size=300, workers=2))
        assert {p.record for p in parts} == {"chr2:x"}
        keep = (whole.start >= lo) & (whole.start < hi)
        for f in FIELDS:
            np.testing.assert_array_equal(concat(parts, f), getattr(whole, f)[keep], err_msg=f"{text} {f}")
    with pytest.raises(UserError, match="no record named 'two'"):
        list(scanner.scan_fasta(path, region=Region("two")))


def _scan_threads():
    return [t for t in threading.enumerate() if t.name.startswith("motifnet-scan")]


def test_worker_threads_yield_chunks_in_order_and_stop_with_the_stream(tmp_path, monkeypatch):
    # the chunks come back in file order, whichever worker scanned them
    model = random_model(seed=4)
    rng = np.random.default_rng(5)
    records = [("r1", random_codes(rng, 4000, n_runs=3)), ("r2", random_codes(rng, 2500))]
    path = write_fasta(tmp_path / "in.fa", records)
    scanner = Scanner(model, window=50, step=10)
    serial = list(scanner.scan_fasta(path, chunk_size=100))
    ran_on, window_maxima = [], Scanner._window_maxima

    def recorded(self, *args):
        ran_on.append(threading.current_thread().name)
        return window_maxima(self, *args)

    monkeypatch.setattr(Scanner, "_window_maxima", recorded)
    threaded = list(scanner.scan_fasta(path, chunk_size=100, workers=2))
    assert len(serial) == len(threaded) > 40
    assert len(ran_on) >= 40 and all(name.startswith("motifnet-scan") for name in ran_on)
    from motifnet.kernels.scan import _forward
    assert _forward.serial.targetoptions["nogil"] and _forward.parallel.targetoptions["nogil"]
    for a, b in zip(serial, threaded):
        assert (a.record, a.next_start, a.record_done) == (b.record, b.next_start, b.record_done)
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert not _scan_threads()
    # a consumer that stops early: closing the stream stops the threads
    stream = scanner.scan_fasta(path, chunk_size=100, workers=2)
    next(stream)
    assert _scan_threads()
    stream.close()
    assert not _scan_threads()
    # bad input half-way: the error, and no thread left behind
    text = open(path).read().splitlines()
    text.insert(len(text) // 2, "ACGT!")
    bad = tmp_path / "bad.fa"
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(UserError, match="bad.fa"):
        list(scanner.scan_fasta(bad, chunk_size=100, workers=2))
    assert not _scan_threads()


def test_parse_region_is_samtools_one_based_inclusive():
    assert parse_region("chr2L:1-1000") == Region("chr2L", 0, 1000)
    assert parse_region("chr2L:1,001-2,000") == Region("chr2L", 1000, 2000)
    assert parse_region("chrM") == Region("chrM", 0, None)
    assert parse_region("NM_1_f:1415-1640") == Region("NM_1_f", 1414, 1640)
    assert str(parse_region("chr2L:5-9")) == "chr2L:5-9"
    for bad in ("chr1:0-5", "chr1:9-5", "", "chr 1"):
        with pytest.raises(UserError, match="--region"):
            parse_region(bad)


# --------------------------------------------------------------------------- sites
def _planted_scan(tmp_path, database, name="out"):
    rng = np.random.default_rng(8)
    sites = {"c1": [(500, "+"), (1703, "-"), (2600, "+")], "c0": [(99, "-")]}
    records = [("c1", planted_record(rng, 3000, sites["c1"])), ("c0", planted_record(rng, 400, sites["c0"]))]
    records[0][1][1200:1400] = -1                      # an assembly gap between sites
    path = write_fasta(tmp_path / "in.fa", records)
    folder = tmp_path / name
    folder.mkdir()
    threshold = Calibration(logit=2.0, probability=float(1 / (1 + math.exp(-2.0))), false_calls_per_mb=math.nan,
                            window=100, step=50, background_bases=0, replicates=0, calls_at_threshold=0,
                            source="test")
    summary = scan_fasta_to_folder(planted_model(), path, folder, window=100, step=50, threshold=threshold,
                                   chunk_size=333, motif_db=database)
    return folder, sites, summary


def test_planted_sites_are_called_at_base_resolution_with_strand(tmp_path):
    folder, sites, summary = _planted_scan(tmp_path, [Motif("MA9999.1", "Test", motif_pwm(MOTIF))])
    rows = read_rows(folder / "sites.bed")
    expected = [(rec, str(s), str(s + K), "MA9999.1_Test", strand)
                for rec, ss in sorted(sites.items()) for s, strand in sorted(ss)]
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in rows] == expected   # sorted: c0 before c1
    assert all(int(r[4]) == round(100 * math.log10(1 + math.exp(3 * 4.0 - 6.0))) == 261 for r in rows)
    assert summary.counts["sites"] == 4 and summary.filters[0]["name"] == "MA9999.1_Test"


def test_strand_is_relative_to_the_matched_motif(tmp_path):
    # the database holds the motif's reverse complement: every strand flips, names follow the match
    folder, sites, _ = _planted_scan(tmp_path, [Motif("MA9998.1", "Rev", motif_pwm(revcomp(MOTIF)))])
    flip = {"+": "-", "-": "+"}
    got = [(r[0], int(r[1]), r[3], r[5]) for r in read_rows(folder / "sites.bed")]
    assert got == sorted((rec, s, "MA9998.1_Rev", flip[strand]) for rec, ss in sites.items() for s, strand in ss)
    folder, sites, summary = _planted_scan(tmp_path, None, name="plain")
    got = [(r[0], int(r[1]), r[3], r[5]) for r in read_rows(folder / "sites.bed")]
    assert got == sorted((rec, s, "filter0", strand) for rec, ss in sites.items() for s, strand in ss)
    assert summary.filters == [{"filter": 0, "name": "filter0", "flip": False, "motif_id": None,
                                "motif_name": None, "e_value": None, "offset": None}]


def test_bedgraph_rows_tile_records_and_skip_n(tmp_path):
    folder, _, summary = _planted_scan(tmp_path, None)
    rows = read_rows(folder / "windows.bedgraph")
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    by = {}
    for rec, a, b, p in rows:
        by.setdefault(rec, []).append((int(a), int(b), float(p)))
    c0 = by["c0"]                                      # 400 bp, no N: rows tile [0, 400) exactly
    assert c0[0][0] == 0 and c0[-1][1] == 400 and all(x[1] == y[0] for x, y in zip(c0, c0[1:]))
    c1 = by["c1"]
    assert all(a < b for a, b, _ in c1) and all(x[1] <= y[0] for x, y in zip(c1, c1[1:]))
    gaps = [(x[1], y[0]) for x, y in zip(c1, c1[1:]) if x[1] != y[0]]
    assert gaps and all(1150 <= a and b <= 1450 for a, b in gaps)   # only around the N run [1200, 1400)
    assert summary.counts["windows_mostly_n"] >= 2
    assert all(0 <= p <= 1 for _, _, p in c1)


def test_merge_calls_keeps_the_best_of_overlapping_calls():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(1, 60))
        start = rng.integers(0, 300, n)
        calls = Calls(start, start + rng.integers(1, 30, n), rng.integers(0, 2, n).astype(np.int8),
                      np.round(rng.standard_normal(n), 1), rng.integers(0, 4, n))
        merged = merge_calls(calls)
        # brute force: best first (ties: leftmost), drop what overlaps a kept call
        order = sorted(range(n), key=lambda i: (-calls.logit[i], calls.start[i], calls.end[i], calls.strand[i],
                                                calls.filter[i]))
        kept = []
        for i in order:
            if all(not (calls.start[i] < calls.end[k] and calls.start[k] < calls.end[i]) for k in kept):
                kept.append(i)
        kept.sort(key=lambda i: (calls.start[i], calls.end[i]))
        np.testing.assert_array_equal(merged.start, calls.start[kept])
        np.testing.assert_array_equal(merged.logit, calls.logit[kept])
        assert (merged.start[1:] >= merged.end[:-1]).all()          # kept calls never overlap


def test_bed_score_maps_probability_to_odds_of_a_miss():
    p = np.array([0.5, 0.9, 0.99, 0.999, 1 - 1e-12])
    np.testing.assert_array_equal(bed_score(np.log(p / (1 - p))), [30, 100, 200, 300, 1000])
    assert bed_score([-50.0, 800.0]).tolist() == [0, 1000]


# --------------------------------------------------------------------------- the threshold
def test_calibrated_threshold_allows_the_stated_false_calls():
    model = random_model(seed=6)
    rng = np.random.default_rng(6)
    background = [random_codes(rng, int(rng.integers(150, 300))) for _ in range(40)]
    c = calibrate_threshold(model, background, window=120, step=60, false_calls_per_mb=2000.0,
                            total_bases=60_000, seed=1)
    assert c.replicates == math.ceil(60_000 / sum(b.size for b in background)) and c.window == 120
    allowed = math.floor(2000.0 * c.background_bases / 1e6)
    assert 0 < c.calls_at_threshold <= allowed
    assert math.isclose(c.probability, 1 / (1 + math.exp(-c.logit)))
    again = calibrate_threshold(model, background, window=120, step=60, false_calls_per_mb=2000.0,
                                total_bases=60_000, seed=1)
    assert again == c and Calibration.from_metadata(c.as_metadata()) == c
    looser = calibrate_threshold(model, background, window=120, step=60, false_calls_per_mb=8000.0,
                                 total_bases=60_000, seed=1)
    assert looser.logit < c.logit
    with pytest.raises(UserError, match="at least 120 bases"):
        calibrate_threshold(model, [background[0][:50]], window=120, step=60)


def test_calibration_on_worker_threads_gives_the_same_threshold(monkeypatch):
    # the replicates are scanned on the pool, finished in order: the same calls, the same threshold
    model = random_model(seed=6)
    rng = np.random.default_rng(6)
    background = [random_codes(rng, int(rng.integers(150, 300))) for _ in range(40)]
    kw = dict(window=120, step=60, false_calls_per_mb=2000.0, total_bases=60_000, seed=1)
    serial = calibrate_threshold(model, background, **kw)
    ran_on, window_maxima = [], Scanner._window_maxima

    def recorded(self, *args):
        ran_on.append(threading.current_thread().name)
        return window_maxima(self, *args)

    monkeypatch.setattr(Scanner, "_window_maxima", recorded)
    threaded = calibrate_threshold(model, background, workers=3, **kw)
    assert threaded == serial and serial.replicates >= 6
    assert len(ran_on) == serial.replicates and all(name.startswith("motifnet-scan") for name in ran_on)
    assert not _scan_threads()


NO_THREADED_KERNEL = """
import json, sys, tempfile
from pathlib import Path
import numba
import numpy as np
sys.path.insert(0, sys.argv[1])
from test_scan import _scan_threads, planted_model, random_codes, write_fasta
from motifnet.kernels import _jit, linear
from motifnet.kernels import scan as scan_kernel
from motifnet.scan import Scanner, calibrate_threshold, scan_fasta_to_folder

# every call big enough for threads: the scan kernel's (by work), the head's linear layer's (by time)
_jit.PARALLEL_MIN_WORK = 1
_jit._parallel_min_ns = lambda: 0.0
threaded_calls = []

def recording(name, parallel):
    def recorded(*args):
        threaded_calls.append(name)
        return parallel(*args)
    return recorded

for name, kernel in (("scan", scan_kernel._forward), ("linear", linear._forward)):
    kernel.parallel = recording(name, kernel.parallel)
tmp = Path(tempfile.mkdtemp())
rng = np.random.default_rng(8)
path = write_fasta(tmp / "in.fa", [("r1", random_codes(rng, 3000, n_runs=1)), ("r2", random_codes(rng, 900))])
model = planted_model()
threads = numba.get_num_threads()
scanner = Scanner(model, window=100, step=50)
for _ in range(3):  # the linear layer's first call is its serial probe
    scanner.scan_codes("r2", random_codes(rng, 900))
outside = sorted(set(threaded_calls))
threaded_calls.clear()
background = [random_codes(rng, 300) for _ in range(10)]
threshold = calibrate_threshold(model, background, window=100, step=50, total_bases=6000, workers=2)
(tmp / "out").mkdir()
summary = scan_fasta_to_folder(model, path, tmp / "out", window=100, step=50, threshold=threshold,
                               chunk_size=500, workers=2)
print(json.dumps({"threads": threads, "outside": outside, "inside": threaded_calls,
                  "windows": summary.counts["windows"], "threads_after": numba.get_num_threads(),
                  "scan_threads_left": len(_scan_threads())}))
"""


def test_with_a_pool_of_scanning_threads_no_kernel_runs_threaded():
    # the pool's threads are the scan's threads: the calling thread's kernels (the model's
    # head, the calibration's) run serially, so a first scan never compiles a threaded
    # version (which had taken 7.8 s of a first `motifnet scan`'s compiling).  In a process
    # of its own with two Numba threads, whatever this machine's number of CPUs.
    tests = Path(__file__).resolve().parent
    proc = subprocess.run([sys.executable, "-c", NO_THREADED_KERNEL, str(tests)], capture_output=True, text=True,
                          env=dict(os.environ, NUMBA_NUM_THREADS="2"), timeout=600, cwd=tests.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["threads"] == 2
    # the test sees threaded calls: outside the scan and its calibration, they are made
    assert out["outside"] == ["linear", "scan"]
    assert out["windows"] > 0 and out["inside"] == []
    assert out["threads_after"] == 2  # the caller's thread count, given back
    assert out["scan_threads_left"] == 0

# --------------------------------------------------------------------------- sharding
def test_regions_at_multiples_of_the_step_merge_to_the_whole_scan(tmp_path):
    rng = np.random.default_rng(4)
    sites = [(int(s), "+-"[i % 2]) for i, s in enumerate(range(140, 2900, 237))]
    path = write_fasta(tmp_path / "in.fa", [("c", planted_record(rng, 3000, sites))])
    threshold = Calibration(2.0, 0.88, math.nan, 100, 50, 0, 0, 0, "test")
    model = planted_model()

    def run(name, region):
        folder = tmp_path / name
        folder.mkdir()
        scan_fasta_to_folder(model, path, folder, window=100, step=50, threshold=threshold, region=region)
        return folder

    whole = run("whole", None)
    # worker threads (motifnet scan --threads N) write the same files, byte for byte
    (tmp_path / "threaded").mkdir()
    scan_fasta_to_folder(model, path, tmp_path / "threaded", window=100, step=50, threshold=threshold,
                         chunk_size=400, workers=3)
    for name in ("windows.bedgraph", "sites.bed"):
        assert (tmp_path / "threaded" / name).read_bytes() == (whole / name).read_bytes()
    shards = [run(f"s{i}", Region("c", a, b)) for i, (a, b) in enumerate([(0, 1000), (1000, 2050), (2050, None)])]
    graph = "".join((s / "windows.bedgraph").read_text() for s in shards)
    assert graph == (whole / "windows.bedgraph").read_text()
    n = merge_site_files([s / "sites.bed" for s in shards], tmp_path / "merged.bed")
    assert (tmp_path / "merged.bed").read_text() == (whole / "sites.bed").read_text() and n == len(sites)


# --------------------------------------------------------------------------- the command
def _run_cli(argv):
    """``motifnet scan`` as the command line runs it (motifnet.cli registers it by name)."""
    parser = argparse.ArgumentParser(prog="motifnet")
    sub = parser.add_subparsers(dest="command")
    scan_command.add_parser(sub).set_defaults(run=scan_command.run)
    args = parser.parse_args(argv)
    return args.run(args)


def test_command_writes_the_folder(tmp_path, capsys):
    rng = np.random.default_rng(9)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_model(planted_model(), run_dir / "model.npz", metadata={"train_lengths": {"median": 100.4}})
    fasta = write_fasta(tmp_path / "g.fa", [("chr2", planted_record(rng, 1500, [(300, "-")])),
                                            ("chr10", planted_record(rng, 700, [(50, "+")])),
                                            ("chr1", random_codes(rng, 300))])
    assert _run_cli(["scan", str(run_dir), fasta, "--out", str(tmp_path / "o"), "--threshold", "0.9",
                     "--motif-db", "none", "--chunk-size", "256"]) == 0
    out = tmp_path / "o"
    info = json.loads((out / "scan.json").read_text())
    assert info["settings"]["window"] == 100 and info["settings"]["step"] == 50   # the training width
    assert info["settings"]["threshold"]["source"] == "--threshold" and info["counts"]["records"] == 3
    assert info["counts"]["bases"] == 2500 and info["counts"]["sites"] == 2
    recs = [r[0] for r in read_rows(out / "windows.bedgraph")]
    assert list(dict.fromkeys(recs)) == ["chr1", "chr10", "chr2"]                 # LC_ALL=C order
    assert [(r[0], r[1], r[5]) for r in read_rows(out / "sites.bed")] == [("chr10", "50", "+"), ("chr2", "300", "-")]
    assert "scanned 0.003 Mbp" in capsys.readouterr().err
    # no --threshold and none in the model file: calibrated on shuffles of the input
    assert _run_cli(["scan", str(run_dir), fasta, "--out", str(tmp_path / "o2"), "--motif-db", "none",
                     "--quiet", "--false-per-mb", "400"]) == 0
    t = json.loads((tmp_path / "o2" / "scan.json").read_text())["settings"]["threshold"]
    assert t["source"].startswith("shuffles of the input") and t["false_calls_per_mb"] == 400
    assert capsys.readouterr().err == ""


def test_command_scans_fixed_length_models_at_their_length(tmp_path):
    model = GenomicsCNN(seq_len=50, n_filters=4, kernel_size=6, hidden=3, seed=2)
    save_model(model, tmp_path / "model.npz")
    codes = random_codes(np.random.default_rng(1), 260)
    fasta = write_fasta(tmp_path / "g.fa", [("c", codes)])
    assert _run_cli(["scan", str(tmp_path / "model.npz"), fasta, "--out", str(tmp_path / "o"), "--step", "20",
                     "--quiet"]) == 0
    rows = read_rows(tmp_path / "o" / "windows.bedgraph")
    assert not (tmp_path / "o" / "sites.bed").exists() and len(rows) == (260 - 50) // 20 + 1
    x = np.stack([codes[j * 20:j * 20 + 50] for j in range(len(rows))])
    p = 1 / (1 + np.exp(-model.forward(x).astype(np.float64)))
    np.testing.assert_allclose([float(r[3]) for r in rows], p, rtol=2e-5)
    with pytest.raises(UserError, match="exactly 50 bp"):
        _run_cli(["scan", str(tmp_path / "model.npz"), fasta, "--out", str(tmp_path / "o3"), "--window", "60"])


@pytest.mark.parametrize("extra, message", [
    (["--threshold", "1.5"], "--threshold must be a probability"),
    (["--region", "chr9:1-10"], "has no record named 'chr9'"),
    (["--region", "c:5000-6000"], "starts past its end"),
    (["--region", "c:0-10"], "1 <= START <= END"),
    (["--window", "3"], "--window must be a whole number >= the model's filter width 8"),
    (["--chunk-size", "50"], "--chunk-size must be larger than the window"),
    (["--step", "0"], "--step must be a whole number >= 1"),
])
def test_command_errors_are_one_line(tmp_path, extra, message):
    save_model(planted_model(), tmp_path / "model.npz")
    fasta = write_fasta(tmp_path / "g.fa", [("c", random_codes(np.random.default_rng(0), 400))])
    with pytest.raises(UserError, match=message) as exc:
        _run_cli(["scan", str(tmp_path / "model.npz"), fasta, "--out", str(tmp_path / "o"), "--window", "100",
                  "--threshold", "0.9", "--motif-db", "none", "--quiet"] + extra)
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "o").exists()


def test_duplicate_record_names_and_missing_width_are_errors(tmp_path):
    save_model(planted_model(), tmp_path / "model.npz")
    codes = random_codes(np.random.default_rng(0), 300)
    fasta = write_fasta(tmp_path / "g.fa", [("c", codes), ("c", codes)])
    with pytest.raises(UserError, match="two records are named 'c'"):
        _run_cli(["scan", str(tmp_path / "model.npz"), fasta, "--out", str(tmp_path / "o"), "--window", "100",
                  "--threshold", "0.9", "--motif-db", "none", "--quiet"])
    with pytest.raises(UserError, match="pass --window N"):
        _run_cli(["scan", str(tmp_path / "model.npz"), fasta, "--out", str(tmp_path / "o"), "--quiet"])


def test_progress_reports_bases_and_rate(tmp_path, monkeypatch, capsys):
    import motifnet.scan as scan_module

    monkeypatch.setattr(scan_module, "PROGRESS_SECONDS", 0.0)   # every chunk, instead of every 2 s
    rng = np.random.default_rng(3)
    path = write_fasta(tmp_path / "g.fa", [("c", random_codes(rng, 5000))])
    folder = tmp_path / "o"
    folder.mkdir()
    threshold = Calibration(2.0, 0.88, math.nan, 100, 50, 0, 0, 0, "test")
    scan_fasta_to_folder(planted_model(), path, folder, window=100, step=50, threshold=threshold, chunk_size=1000)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("scan: ")]
    assert len(lines) >= 4 and all("Mbp read (" in line and "Mbp/s), now in c" in line for line in lines)
    scan_fasta_to_folder(planted_model(), path, tmp_path, window=100, step=50, threshold=threshold,
                         chunk_size=1000, quiet=True)
    assert capsys.readouterr().err == ""
