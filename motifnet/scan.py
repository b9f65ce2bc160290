"""Scan genomes with a trained model: window probabilities (bedGraph) and called sites (BED6).

``motifnet scan`` (motifnet/commands/scan.py) is a thin layer over this module: a
``Scanner`` turns FASTA records, streamed in chunks, into per-window scores; a
``SiteCaller`` turns the windows above a threshold into merged sites; the writers put
both into sorted bedGraph and BED files.  Every decision below is one a user of the
output files needs to know.

Windows
-------
Window j of a record of length L covers [s_j, e_j) with s_j = j * step and
e_j = min(s_j + W, L) (0-based, half-open, as BED).  For the position-invariant model
(DeepBind) windows are emitted until the first one that reaches the record's end, so
only a record's last window can be shorter than W (a record shorter than W is one
window), and each window holds at least one K-mer (records shorter than the filters
K have none).  The tutorials' fixed-length models (cnn, attention) read exactly
their training length: window = seq_len, whole windows only (the bases after the
last whole window are not scored), and no sites (their first layer has no
strand-and-position maximum to point at): bedGraph only.

The probability of window j is exactly ``sigmoid(model.forward(codes[s_j:e_j]))``:
the fused kernel (kernels/scan.py) computes the model's global max of both strands
over the window's K-mers, and the model's own layers compute the head from it
(tests/test_scan.py checks the equality on random windows, at record ends, with N).

bedGraph rows.  Overlapping windows cannot be bedGraph rows as they are (bedGraph
intervals must not overlap, and bedGraphToBigWig refuses them), so with step < W each
window's row is its central ``step`` bases, [s_j + (W - step) // 2, + step), the
record's first window's row starting at 0 and its last window's ending at the record's
end: the rows of a record without N tile it.  With step >= W a row is its window.

N.  An N contributes nothing to a filter's response, in the model and here.  A window
is scored when at least MIN_INFORMATIVE_FRACTION (half) of its bases are A, C, G or T;
a window that is mostly N gets no bedGraph row and calls no site (an assembly gap of
10 kb leaves a gap in the bedGraph, not 10 kb of the probability of nothing).

Chunks, exactly
---------------
A record is read in chunks of ``chunk_size`` bases overlapping by W - 1
(``motifnet.data.iter_fasta_chunks``), so that every window lies whole in a chunk;
window j is computed in the chunk where s_j falls before the next chunk's start (in
the record's last chunk, every remaining window).  Each window therefore sees exactly
the bases it would see in the whole record, and the results do not depend on
``chunk_size`` (tests/test_scan.py: tiny chunks against the whole record).  Memory is
one chunk and its per-window results, whatever the length of the input.

Sites
-----
For a window above the threshold, the site behind the decision is the first-layer
match of the filter that contributes most to the logit.  With m the window's F
maxima (kernels/scan.py, (F2)) and the head logit = w2 . relu(W1 relu(m) + b1) + b2,
the contribution of filter f is gradient times input:

    c_f = relu(m_f) * d logit / d m_f,   d logit / d m_f = [m_f > 0] sum_h w2[h] [z_h > 0] W1[h, f]

The head is piecewise linear, so within the window's linear region the c_f add up
to the logit minus the logit of m = 0 in that region: an exact split of the decision
among the filters (the largest share names the site).  The site is that filter's
best K-mer in the window, [t, t + K) on the strand where it scored (kernels/scan.py,
(F3)), with leading and trailing N trimmed (a site never starts or ends on N).  A
window whose largest contribution is not positive (its logit comes from biases, not
from a match) calls no site.

Strand and name.  DeepBind scans both strands with one set of filters, so which
orientation a filter learns is arbitrary (two models of one motif may learn it in
opposite orientations; of the five models trained for the README, two learned theirs
reverse-complemented).  So each filter that
calls a site is matched, once, against a motif database (Tomtom,
``motifnet.motif.compare``; the shipped JASPAR 2024 CORE by default): its PWM is the
softmax of its weights, columns mean-centred and scaled to unit standard deviation.
With a match of E-value <= MATCH_MAX_EVALUE the site's strand is given relative to
the matched motif (flipped when the filter is the motif's reverse complement) and
its BED name is the motif's ``ID_name``; without one, the strand is the filter's own
and the name ``filter<f>``.  The matching uses the weights only, so every shard of a
genome names and orients its sites identically.

Merging.  Overlapping windows find the same site, and several filters can see one
site.  Overlapping calls are merged by keeping the best: calls sorted by probability
(ties: the leftmost), each kept unless it overlaps a call already kept (greedy
non-maximum suppression, as peak callers merge summits).  Kept calls never overlap;
every dropped call overlaps a better kept one.

BED score: min(1000, round(100 * -log10(1 - p))), 100 per factor of ten in the odds of
a miss: p = 0.9 -> 100, 0.99 -> 200, 0.999 -> 300, and 1000 at p >= 1 - 1e-10.  (A
linear 1000 p would give every call above a useful threshold the same score, 990-1000.)
The probability itself is the window's bedGraph value.

The threshold
-------------
A window probability of 0.5 calls hundreds of false sites per Mb of real background.
The default threshold is instead calibrated to a number of false calls per Mb of
background (DEFAULT_FALSE_CALLS_PER_MB = 7): ``calibrate_threshold`` scans
dinucleotide shuffles of background sequence (motifnet.negatives; N kept in place)
with the scan's own windows, step and merging, and returns the lowest threshold at
which the shuffles yield at most that many merged calls per Mb.  Dinucleotide shuffles are a
fair stand-in for real background here: on five planted sets built on real fly
promoter sequence (README), the window-score quantiles 1e-3, 2e-3, 3e-3 of shuffled
validation negatives were 0.1-1.1 logit (median 0.36) from those of the contigs'
real background windows, on both sides, and the thresholds calibrated for 5 per Mb
gave 1, 7, 8, 8 and 9 false calls on the 1 Mb contigs.  The default of 7 per Mb was
chosen on the one contig whose motif is strong enough for 90 recoveries at 10 false calls
to be possible at all (Hnf4, MA2242.1, planted as ../shared/data/planted was; the
position-weight-matrix oracle reaches 92 recovered at 10 false calls there): 5, 6 and 7
per Mb gave 87/7, 88/9 and 90/10 (recovered with the right strand / false).  It is a
trade: on the CrebA contig the same setting gives 72 recovered and 1 false call (README).
``--false-per-mb`` moves it.  Where the threshold comes from, in order:

1. ``--threshold P`` (a probability);
2. the model file's metadata ``scan_threshold`` (``calibrate_threshold(...).as_metadata()``,
   for a model saved with one; ``motifnet train`` does not store one: the calibration
   on the input costs ~2.5 s at scan time, and every training run would pay 4-6 s for it),
   when its window and step are the scan's;
3. calibrated at scan time on shuffles of the first CALIBRATION_INPUT_BASES
   informative bases of the input itself (in windows of W; four shuffles each),
   whatever ``--region`` says, so that every shard of one input uses one threshold.

Regions, sorting, sharding
--------------------------
``--region chr:start-end`` is 1-based and inclusive, as samtools and genome browsers
write it (chr2L:1-1000 is the first thousand bases, BED [0, 1000)); ``chr`` alone is
a whole record.  A region selects the windows whose start lies in it, on the record's
own grid (starts at multiples of ``step``): a window starting near the region's end
reads bases past it, so a genome cut into regions at multiples of ``step`` and
scanned region by region gives exactly the windows of the whole scan.  Outputs are
sorted as ``LC_ALL=C sort -k1,1 -k2,2n`` sorts them (bedGraphToBigWig and
bedToBigBed need that order): records by name as bytes, then by start.

Sharding a genome over processes or machines: by record (``--region chrX``) or by
region (``--region chrX:START-END`` with START - 1 a multiple of ``step``), one output
folder per shard, all with one threshold (the model file's, or pass the same
``--threshold P``: calibrating at scan time samples the start of each shard's input
file, the same for shards of one file but not for a genome split into files).  A shard
streams its input from the start to its record (there is no index), about 100 Mbp/s
of parsing, so for many shards split the FASTA by record first.  Then::

    LC_ALL=C sort -m -k1,1 -k2,2n shard*/windows.bedgraph > windows.bedgraph
    python -c "import glob, motifnet.scan as s; s.merge_site_files(sorted(glob.glob('shard*/sites.bed')), 'sites.bed')"

``merge_site_files`` merges overlapping calls by keeping the best, as one scan does (a
site near a shard border may be called from both sides); tests/test_scan.py checks that
three region shards merge to exactly the whole scan's files.

Throughput and memory (measured on a shared 2-core machine, README): the fused kernel
takes 20-33 ms per Mbp on one core (torch's conv + max + max-pool 205-209, measured
alongside), the whole scan 34 ms per Mbp from plain FASTA and 43 from gzip (parsing,
the head, writing the bedGraph: serial), so a 3.1 Gbp genome takes about 2 minutes on
one core (1.8 plain, 2.2 gzip).  Peak RSS does not grow with the input: a few chunks
of DEFAULT_CHUNK_SIZE bases and their windows (216 MB for 1 Mb and for 100 Mb of input,
most of it the Numba and NumPy runtime).

Threads
-------
With N threads (``motifnet scan --threads N``, ``workers`` here) the scan kernel runs on
N worker threads, one chunk each, serially (``kernels/scan.py`` compiles it ``nogil``),
while the main thread reads and parses the next chunks and turns finished ones into
text and sites, in file order; up to 2N chunks are in flight.  The main thread's part
(parsing, the model's head, bedGraph text, site calls: ~35% of a one-thread scan) is
Python and holds the GIL, so it overlaps the kernels but not itself.  The same files
come out, byte for byte, at any N.  Before this, the kernel split each chunk over
Numba's threads and everything else waited: 1.10-1.37x from a second core.  Measured
on the 2-vCPU Intel VM, 50 Mbp, ``python -m benchmarks --parts scan``, two runs:
23.7 -> 38.2 and 25.7 -> 42.1 Mbp/s streaming from plain FASTA (1.61x, 1.64x), 23.9 ->
38.1 and 25.9 -> 33.4 from gzip (1.59x, 1.29x; the main thread also inflates).

With a pool, the main thread's own kernels (the model's head) run serially too, and the
threshold's calibration scans its shuffled replicates on the same pool, so a first scan
compiles only the serial kernels (the threaded versions of the scan kernel and the linear
layer had been 7.8 s of a first scan's ~13 s of compiling), and shares that with a helper
process (``motifnet.warmup``, ``Warmup.compile_for_scan``).

One thing kept a pipeline like this from paying before: NumPy's ``@`` on the site step's
(windows x hidden) @ (hidden x filters) went to OpenBLAS, whose threads then spin on
the other core after each call; a one-thread scan used two cores (process CPU time
twice the main thread's), and at two threads the kernel raced the spinning thread.
That product is an ``einsum`` now (NumPy's own loop, no BLAS threads).
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from motifnet.errors import UserError
from motifnet.train import sigmoid  # scanning loads a model, hence train's imports, anyway

DEFAULT_CHUNK_SIZE = 1 << 18          # bases per chunk: ~6 MB of working memory, as fast as 1-2 Mb chunks
MIN_INFORMATIVE_FRACTION = 0.5        # a window with more N than this is not scored
DEFAULT_FALSE_CALLS_PER_MB = 7.0      # what the default threshold allows on shuffled background
CALIBRATION_BASES = 4_000_000         # shuffled background scanned to calibrate a threshold
CALIBRATION_INPUT_BASES = 1_000_000   # bases of the input sampled when calibrating at scan time
MATCH_MAX_EVALUE = 0.05               # a filter is named after a database motif up to this E-value
PROGRESS_SECONDS = 2.0                # progress lines on long inputs, at most this often
BED_SCORE_MAX = 1000

__all__ = [
    "Region", "parse_region", "window_count", "WindowScores", "Scanner", "Calls", "SiteCaller",
    "merge_calls", "bed_score", "FilterMotif", "filter_pwm", "name_filters", "Calibration",
    "calibrate_threshold", "sample_background", "bedgraph_text", "bed_text", "SortedRecordFile",
    "merge_site_files", "ScanSummary", "scan_fasta_to_folder", "logit_of",
]


def logit_of(p: float) -> float:
    """The logit whose sigmoid is the probability ``p`` in (0, 1)."""
    return math.log(p) - math.log1p(-p)


# --------------------------------------------------------------------------- regions
class Region(NamedTuple):
    """A record, or part of one: 0-based half-open [start, end); end None means the record's end."""

    record: str
    start: int = 0
    end: int | None = None

    def __str__(self) -> str:  # back in the 1-based inclusive form the user wrote
        if self.start == 0 and self.end is None:
            return self.record
        return f"{self.record}:{self.start + 1}-{'' if self.end is None else self.end}"


_REGION = re.compile(r"^(?P<record>.+):(?P<start>[\d,]+)-(?P<end>[\d,]+)$")


def parse_region(text: str) -> Region:
    """``chr``, or ``chr:start-end`` 1-based inclusive (samtools' form, commas allowed) -> Region.

    A record name may itself contain ':'; only a final ``:digits-digits`` is read as a range.
    """
    if not isinstance(text, str) or not text.strip() or any(c.isspace() for c in text):
        raise UserError(f"--region {text!r}: expected CHR or CHR:START-END (1-based, inclusive, as samtools)")
    m = _REGION.match(text)
    if m is None:
        return Region(text)
    start, end = int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))
    if start < 1 or end < start:
        raise UserError(f"--region {text}: expected 1 <= START <= END (1-based, inclusive, as samtools), "
                        f"got {start}-{end}")
    return Region(m["record"], start - 1, end)


# --------------------------------------------------------------------------- windows
def window_count(length: int, width: int, step: int, kernel_size: int, whole_only: bool) -> int:
    """The number of windows of a record of ``length`` bases (module docstring, "Windows")."""
    if whole_only:
        return (length - width) // step + 1 if length >= width else 0
    if length < kernel_size:
        return 0
    reaching_end = max(0, -(-(length - width) // step))   # the first window with s + W >= L
    return min(reaching_end, (length - kernel_size) // step) + 1


@dataclass
class WindowScores:
    """Consecutive windows of one record, as a ``Scanner`` scored them.

    All arrays have one entry per window; coordinates are 0-based in the record.
    ``logit`` is NaN for windows not scored (mostly N).  ``row_start``/``row_end`` are
    the window's bedGraph interval (``bedgraph_text``).  Site fields: ``site_filter``
    -1 when the window calls no site; ``site_strand`` 0 on the filter's own strand, 1 on
    its reverse complement; ``site_contribution`` the filter's c_f.
    """

    record: str
    start: np.ndarray
    end: np.ndarray
    informative: np.ndarray
    logit: np.ndarray
    row_start: np.ndarray
    row_end: np.ndarray
    site_filter: np.ndarray
    site_start: np.ndarray
    site_end: np.ndarray
    site_strand: np.ndarray
    site_contribution: np.ndarray
    next_start: int            # where the record's next window starts (no site of a later window starts before)
    record_done: bool          # the last windows of the record
    record_length: int | None  # known once the record is done

    @property
    def scored(self) -> np.ndarray:
        return ~np.isnan(self.logit)

    @property
    def probability(self) -> np.ndarray:
        return sigmoid(self.logit)

    def __len__(self) -> int:
        return int(self.start.size)


class Scanner:
    """Scores the windows of FASTA records with one model.

    Parameters
    ----------
    model : a motifnet model (``motifnet.models``): "deepbind" (fused kernel, sites) or a
        fixed-length tutorial model (its ``forward`` on whole windows, no sites)
    window : int, optional
        Window width W (deepbind: >= kernel_size; default ``default_window``).  The
        tutorial models take only their ``seq_len``.
    step : int, optional
        From one window's start to the next (default W // 2).
    min_informative : float
        Fraction of a window's bases that must be A/C/G/T for it to be scored.
    site_logit_min : float
        Sites are located only in windows whose logit is above this (the caller's
        threshold: the other windows' sites are never used; -inf: every window).

    Raises
    ------
    UserError
        A window or step the model cannot use.
    """

    def __init__(self, model, window: int | None = None, step: int | None = None,
                 min_informative: float = MIN_INFORMATIVE_FRACTION, default_window: int | None = None,
                 site_logit_min: float = -math.inf):
        from motifnet.kernels.scan import scan_table_into, scan_table_shape

        self.model = model
        self.fixed = model.fixed_length is not None
        self.sites = model.name == "deepbind"
        K = model.kernel_size
        if self.fixed:
            if window is not None and window != model.fixed_length:
                raise UserError(f"the {model.name} model reads windows of exactly {model.fixed_length} bp (its "
                                f"training length); --window {window} is not possible (leave it out)")
            window = model.fixed_length
        elif window is None:
            if default_window is None:
                raise UserError("the model file does not say its training width; pass --window N")
            window = max(int(default_window), K)
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < K:
            raise UserError(f"--window must be a whole number >= the model's filter width {K}, got {window!r}")
        step = max(1, int(window) // 2) if step is None else step
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise UserError(f"--step must be a whole number >= 1, got {step!r}")
        if not 0.0 <= min_informative <= 1.0:
            raise ValueError(f"min_informative must lie in [0, 1], got {min_informative}")
        self.window, self.step, self.kernel_size = int(window), int(step), K
        self.min_informative = float(min_informative)
        self.site_logit_min = float(site_logit_min)
        if self.sites:
            conv = model.conv
            self.table = np.empty(scan_table_shape(model.n_filters, K), dtype=model.dtype)
            scan_table_into(conv.weight.data, conv.bias.data, self.table)

    @property
    def overlap(self) -> int:
        """Bases consecutive chunks must share so that every window lies whole in one."""
        return self.window - 1

    def gaps_between_windows(self) -> bool:
        """Whether some K-mers lie in no window (step > W - K + 1): sites there cannot be called."""
        return self.step > self.window - self.kernel_size + 1

    def n_windows(self, length: int) -> int:
        return window_count(length, self.window, self.step, self.kernel_size, self.fixed)

    # ------------------------------------------------------------------ one stretch of codes
    def score(self, record: str, codes: np.ndarray, offset: int, j0: int, j1: int, record_length: int | None,
              n_total: int | None) -> WindowScores:
        """Windows j0 .. j1-1 of ``record``, all lying whole in ``codes`` = record[offset : offset + len].

        ``record_length`` and ``n_total`` (the record's number of windows) are given once
        known (the record's last chunk); the record's first and last windows extend their
        bedGraph rows to its ends.
        """
        return self.begin(record, codes, offset, j0, j1, record_length, n_total)()

    def begin(self, record: str, codes: np.ndarray, offset: int, j0: int, j1: int, record_length: int | None,
              n_total: int | None, pool=None) -> Callable[[], WindowScores]:
        """``score``, in two halves: the scan kernel starts now, on ``pool`` (a
        ``concurrent.futures`` executor) if given, and the function returned waits for it
        and finishes on the calling thread (the model's head and the sites, which use the
        model's layers: not thread-safe).  A fixed-length model's windows are all scored
        by the function returned."""
        W, S = self.window, self.step
        n = max(0, j1 - j0)
        start = (np.arange(j0, j0 + n, dtype=np.int64) * S)
        stop_at = offset + codes.shape[0] if record_length is None else record_length
        end = np.minimum(start + W, stop_at)
        informative = end - start
        if n and codes.min() < 0:  # most chunks of a genome hold no N: no prefix sums needed
            prefix = np.zeros(codes.shape[0] + 1, dtype=np.int32)
            np.cumsum(codes >= 0, out=prefix[1:])
            informative = (prefix[end - offset] - prefix[start - offset]).astype(np.int64)
        scored = (informative >= self.min_informative * (end - start)) & (informative > 0)
        maxima = None
        if n and scored.any() and not self.fixed:
            first = int(start[0] - offset)
            maxima = (pool.submit(self._window_maxima, codes, first, n) if pool is not None
                      else self._window_maxima(codes, first, n))

        def finish() -> WindowScores:
            logit = np.full(n, np.nan)
            site_filter = np.full(n, -1, dtype=np.int64)
            site_start = np.zeros(n, dtype=np.int64)
            site_end = np.zeros(n, dtype=np.int64)
            site_strand = np.zeros(n, dtype=np.int8)
            contribution = np.zeros(n)
            if n and scored.any():
                if self.fixed:
                    logit[scored] = self._fixed_logits(codes, start[scored] - offset)
                else:
                    found = maxima.result() if pool is not None else maxima
                    self._deepbind(codes, offset, found, scored, logit, site_filter, site_start, site_end,
                                   site_strand, contribution)
            row_start, row_end = self._rows(start, end, j0, n_total, record_length)
            next_start = (j0 + n) * S
            return WindowScores(record, start, end, informative, logit, row_start, row_end, site_filter,
                                site_start, site_end, site_strand, contribution, next_start,
                                record_length is not None, record_length)

        return finish

    def _rows(self, start, end, j0, n_total, record_length):
        # module docstring, "bedGraph rows": each window's central `step` bases, the record's
        # first window's row from base 0 and its last window's to the record's end
        W, S = self.window, self.step
        if S >= W:
            return start.copy(), end.copy()
        h = (W - S) // 2
        lo = np.maximum(start, np.minimum(start + h, end))
        hi = np.minimum(start + h + S, end)
        if start.size and j0 == 0:
            lo[0] = start[0]
        if start.size and n_total is not None and j0 + start.size == n_total:
            hi[-1] = end[-1]
        return lo, np.maximum(hi, lo)

    def _fixed_logits(self, codes, rel_starts, batch_size=1024):
        W = self.window
        view = np.lib.stride_tricks.sliding_window_view(codes, W)
        out = np.empty(rel_starts.size)
        for b in range(0, rel_starts.size, batch_size):
            x = np.ascontiguousarray(view[rel_starts[b:b + batch_size]])
            out[b:b + batch_size] = self.model.forward(x, check=False, need_backward=False)
        return out

    def _window_maxima(self, codes, first, n):
        # the scan kernel on n windows from codes[first]: (win_max, win_pos, win_strand).
        # Thread-safe (reads the table, writes arrays of its own): motifnet scan runs it on
        # worker threads, on which the kernel runs serially (Numba's thread count is per thread)
        from motifnet.kernels.scan import scan_forward_into

        F = self.model.n_filters
        win_max = np.empty((n, F), dtype=self.model.dtype)
        win_pos = np.empty((n, F), dtype=np.int64)
        win_strand = np.empty((n, F), dtype=np.int8)
        scan_forward_into(codes, self.table, self.kernel_size, self.window, self.step, first,
                          win_max, win_pos, win_strand)
        return win_max, win_pos, win_strand

    def head(self, m):
        """The deepbind model's own head on window maxima ``m`` (n, F), layer by layer as
        ``DeepBind._forward``: the logits (n,) and which hidden units are active (n, H)."""
        model = self.model
        r = model.pool_relu.forward(m)
        pre = model.fc1.forward(r)                       # W1 relu(m) + b1, (n, H)
        active = pre > 0
        z = model.fc1_relu.forward(pre)
        return model.fc2.forward(z).reshape(-1), active

    def _deepbind(self, codes, offset, maxima, scored, logit, site_filter, site_start, site_end, site_strand,
                  contribution):
        model, K = self.model, self.kernel_size
        win_max, win_pos, win_strand = maxima
        idx = np.flatnonzero(scored)
        m = np.ascontiguousarray(win_max[idx])
        logit[idx], active = self.head(m)
        wanted = logit[idx] > self.site_logit_min
        idx, m, active = idx[wanted], m[wanted], active[wanted]
        # c_f = relu(m_f) * d logit / d m_f (module docstring, "Sites")
        w1 = model.fc1.weight.data.astype(np.float64)    # (H, F)
        w2 = model.fc2.weight.data[0].astype(np.float64)  # (H,)
        # einsum, not `@`: a matrix product this size goes to OpenBLAS's threads, which then
        # spin on every other core for a while after each call; a scan at --threads 1 used
        # two cores (process CPU time 2x the main thread's), and at 2 its kernel threads
        # raced the spinning ones (benchmarks/HISTORY.md, "The scan command on two threads")
        grad = np.einsum("nh,hf->nf", active * w2, w1)
        c = np.maximum(m, 0).astype(np.float64) * grad
        best = np.argmax(c, axis=1)
        rows = np.arange(idx.size)
        c_best = c[rows, best]
        has = c_best > 0
        idx, best, c_best = idx[has], best[has], c_best[has]
        pos = win_pos[idx, best]                          # in codes
        kmers = codes[pos[:, None] + np.arange(K)[None, :]] >= 0
        any_base = kmers.any(axis=1)
        lead = np.argmax(kmers, axis=1)
        trail = K - np.argmax(kmers[:, ::-1], axis=1)
        idx, best, c_best, pos, lead, trail = (a[any_base] for a in (idx, best, c_best, pos, lead, trail))
        site_filter[idx] = best
        site_start[idx] = pos + lead + offset
        site_end[idx] = pos + trail + offset
        site_strand[idx] = win_strand[idx, best]
        contribution[idx] = c_best

    def scan_codes(self, record: str, codes: np.ndarray) -> WindowScores:
        """Every window of one whole record held in memory (``codes`` int8, A0 C1 G2 T3 N-1)."""
        codes = np.ascontiguousarray(codes, dtype=np.int8)
        n = self.n_windows(codes.shape[0])
        return self.score(record, codes, 0, 0, n, codes.shape[0], n)

    # ------------------------------------------------------------------ FASTA, streamed
    def scan_fasta(self, path, region: Region | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                   progress: Callable[[str, int], None] | None = None,
                   workers: int = 1) -> Iterator[WindowScores]:
        """Stream the windows of every record of ``path`` (or of ``region``), chunk by chunk.

        Yields one ``WindowScores`` per chunk with windows (possibly empty ones at record
        ends, so the caller learns each record's length).  ``progress(record, bases)`` is
        called with the bases read so far.  ``workers`` > 1 (the deepbind model): that
        many threads run the scan kernel on chunks at once while this one reads ahead and
        the caller consumes (module docstring, "Threads"); the results are the same, in
        the same order.  Close the generator (or exhaust it) to stop them.

        Raises
        ------
        UserError
            As ``motifnet.data.iter_fasta_chunks``; a chunk size below the window; two
            records with one name; a region naming no record, or starting past its end.
        """
        from motifnet.data import iter_fasta_chunks

        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise UserError(f"--chunk-size must be a whole number >= 1, got {chunk_size!r}")
        if chunk_size <= self.overlap:
            raise UserError(f"--chunk-size must be larger than the window ({self.window} bp), got {chunk_size}")
        S, advance = self.step, int(chunk_size) - self.overlap
        seen: set[str] = set()
        found = False
        bases = 0
        pending = None  # (record, start, codes): the chunk read ahead, to know if it is a record's last

        pool = _kernel_pool(workers) if workers > 1 and not self.fixed else None
        started = collections.deque()  # chunks whose kernel runs, oldest first: their finish()
        # chunks begun before the oldest is finished: enough for every worker to find one
        # when it is done with one; serially, each is finished at once
        in_flight = 2 * workers if pool is not None else 1

        def windows_of(rec, c, codes, last):
            # the windows this chunk owns: starts in [c, c + advance), or every later one in the last chunk
            j_lo = -(-c // S)
            if last:
                L = c + codes.shape[0]
                n_total = self.n_windows(L)
                j_hi = n_total
            else:
                L, n_total = None, None
                j_hi = -(-(c + advance) // S)
            if region is not None:
                j_lo = max(j_lo, -(-region.start // S))
                if region.end is not None:
                    j_hi = min(j_hi, -(-region.end // S))
            j_hi = max(j_hi, j_lo)
            if n_total is not None:
                j_lo = min(j_lo, n_total)
                j_hi = min(j_hi, n_total)
            return self.begin(rec, codes, c, j_lo, j_hi, L, n_total, pool)

        try:
            for rec, start, codes in iter_fasta_chunks(path, int(chunk_size), self.overlap):
                if start == 0:
                    if rec in seen:
                        raise UserError(f"{path}: two records are named {rec!r}; record names must be unique "
                                        f"(the outputs are sorted by them)")
                    seen.add(rec)
                bases += codes.shape[0] - (self.overlap if start else 0)
                if pending is not None:
                    p_rec, p_start, p_codes = pending
                    last = not (rec == p_rec and start == p_start + advance)
                    if region is None or p_rec == region.record:
                        started.append(windows_of(p_rec, p_start, p_codes, last))
                        while len(started) >= in_flight:
                            yield started.popleft()()
                    if region is not None and p_rec == region.record and last:
                        found = True
                        pending = None
                        break
                if progress is not None:
                    progress(rec, bases)
                pending = (rec, start, codes)
            if pending is not None:
                p_rec, p_start, p_codes = pending
                if region is None or p_rec == region.record:
                    started.append(windows_of(p_rec, p_start, p_codes, True))
                    found = found or region is not None
            while started:
                yield started.popleft()()
        finally:
            if pool is not None:  # an error, Ctrl-C or the caller closing: running kernels end their chunk
                pool.shutdown(wait=True, cancel_futures=True)
        if region is not None and not found:
            raise UserError(f"--region {region}: {path} has no record named {region.record!r}")


def _kernel_pool(workers: int):
    """Threads that run the scan kernel, serially each (Numba's thread count is per thread)."""
    from concurrent.futures import ThreadPoolExecutor

    import numba

    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="motifnet-scan",
                              initializer=numba.set_num_threads, initargs=(1,))


# --------------------------------------------------------------------------- site calls
class Calls(NamedTuple):
    """Called sites of one record, one entry per call (arrays of one length)."""

    start: np.ndarray     # int64
    end: np.ndarray       # int64
    strand: np.ndarray    # int8: 0 the filter's strand, 1 its reverse complement
    logit: np.ndarray     # float64: the window's logit
    filter: np.ndarray    # int64

    @staticmethod
    def empty() -> "Calls":
        return Calls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0),
                     np.zeros(0, np.int64))

    def take(self, idx) -> "Calls":
        return Calls(*(a[idx] for a in self))

    @staticmethod
    def concatenate(parts) -> "Calls":
        parts = list(parts)
        if not parts:
            return Calls.empty()
        return Calls(*(np.concatenate([getattr(p, f) for p in parts]) for f in Calls._fields))

    def __len__(self) -> int:
        return int(self.start.size)


def merge_calls(calls: Calls) -> Calls:
    """Overlapping calls merged by keeping the best (greedy non-maximum suppression), sorted by start.

    Calls are taken by decreasing logit (ties: smaller start, then end, strand, filter), each
    kept unless it overlaps a call already kept ([a, b) and [c, d) overlap when a < d and
    c < b).
    """
    n = len(calls)
    if n == 0:
        return calls
    order = np.lexsort((calls.filter, calls.strand, calls.end, calls.start, -calls.logit))
    kept_starts: list[int] = []   # sorted starts of the kept calls, and their ends
    kept_ends: list[int] = []
    keep = []
    for i in order.tolist():
        a, b = int(calls.start[i]), int(calls.end[i])
        k = bisect.bisect_left(kept_starts, b)    # kept calls starting before b ...
        if k and kept_ends[k - 1] > a:            # ... the last of them may reach past a
            continue
        # kept calls never overlap, so their ends are sorted too: only the one before k can overlap
        kept_starts.insert(k, a)
        kept_ends.insert(k, b)
        keep.append(i)
    keep = np.array(sorted(keep, key=lambda i: (calls.start[i], calls.end[i])), dtype=np.int64)
    return calls.take(keep)


class SiteCaller:
    """Windows above a threshold -> merged calls, finished as soon as no later window can change them.

    ``add(scores)`` returns ``(record, Calls)`` pairs that are final: a later window's site
    starts at or after that window's start, so a group of overlapping calls ending before
    the next window's start is complete.
    """

    def __init__(self, logit_threshold: float):
        self.logit_threshold = float(logit_threshold)
        self.record: str | None = None
        self.pending = Calls.empty()
        self.n_windows_above = 0

    def add(self, scores: WindowScores) -> list[tuple[str, Calls]]:
        done = []
        if self.record is not None and scores.record != self.record:
            done += self.finish()
        self.record = scores.record
        above = np.flatnonzero(scores.scored & (np.nan_to_num(scores.logit, nan=-np.inf) > self.logit_threshold))
        self.n_windows_above += int(above.size)
        with_site = above[scores.site_filter[above] >= 0]
        if with_site.size:
            new = Calls(scores.site_start[with_site], scores.site_end[with_site], scores.site_strand[with_site],
                        scores.logit[with_site], scores.site_filter[with_site])
            self.pending = Calls.concatenate([self.pending, new])
        if scores.record_done:
            done += self.finish()
        elif len(self.pending):
            # groups of overlapping calls, left to right: a group is final when it ends at or
            # before the next window's start (no later site can reach back into it)
            p = self.pending.take(np.argsort(self.pending.start, kind="stable"))
            reach = np.maximum.accumulate(p.end)
            group_ends = np.append(reach[:-1] <= p.start[1:], True)
            final = np.flatnonzero(group_ends & (reach <= scores.next_start))
            complete = int(final[-1]) + 1 if final.size else 0
            if complete:
                done.append((self.record, merge_calls(p.take(np.arange(complete)))))
                self.pending = p.take(np.arange(complete, len(p)))
        return done

    def finish(self) -> list[tuple[str, Calls]]:
        out = []
        if self.record is not None and len(self.pending):
            out.append((self.record, merge_calls(self.pending)))
        self.pending = Calls.empty()
        return out


def bed_score(logit) -> np.ndarray:
    """BED score of window probabilities given as logits: min(1000, round(100 * -log10(1 - p)))."""
    z = np.asarray(logit, dtype=np.float64)
    # -log10(1 - p) = log10(1 + e^z), computed without overflow
    miss = np.logaddexp(0.0, z) / math.log(10.0)
    return np.clip(np.round(100.0 * miss), 0, BED_SCORE_MAX).astype(np.int64)


# --------------------------------------------------------------------------- naming filters
@dataclass(frozen=True)
class FilterMotif:
    """How a filter's sites are named and oriented (module docstring, "Strand and name")."""

    filter: int
    name: str                 # the BED name: "ID_name" of the matched motif, or "filter<f>"
    flip: bool                # the filter is the matched motif's reverse complement
    motif_id: str | None = None
    motif_name: str | None = None
    e_value: float | None = None
    offset: int | None = None

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


def filter_pwm(weights: np.ndarray) -> np.ndarray:
    """A PWM (4, K) of one filter's weights: softmax of each column of the standardised weights."""
    w = np.asarray(weights, dtype=np.float64)
    w = w - w.mean(axis=0, keepdims=True)
    sd = w.std()
    w = w / sd if sd > 0 else w
    e = np.exp(w - w.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def name_filters(model, filters, database=None, max_evalue: float = MATCH_MAX_EVALUE) -> dict[int, FilterMotif]:
    """Match each filter in ``filters`` against ``database`` (None: no database, own names)."""
    out = {}
    weights = model.conv.weight.data
    for f in sorted(set(int(f) for f in filters)):
        entry = FilterMotif(f, f"filter{f}", False)
        if database:
            from motifnet.motif import compare
            from motifnet.motif.pwm import Motif

            matches = compare(Motif(f"filter{f}", "", filter_pwm(weights[f])), database)
            if matches and matches[0].e_value <= max_evalue:
                best = matches[0]
                label = re.sub(r"\s+", "_", f"{best.target_id}_{best.target_name}" if best.target_name
                               else best.target_id)
                entry = FilterMotif(f, label, best.orientation == "-", best.target_id, best.target_name,
                                    float(best.e_value), int(best.offset))
        out[f] = entry
    return out


# --------------------------------------------------------------------------- the threshold
@dataclass
class Calibration:
    """A threshold calibrated on shuffled background (module docstring, "The threshold")."""

    logit: float
    probability: float
    false_calls_per_mb: float
    window: int
    step: int
    background_bases: int
    replicates: int
    calls_at_threshold: int
    source: str

    def as_metadata(self) -> dict:
        """What ``motifnet train`` stores as the model file's ``metadata["scan_threshold"]``."""
        return dataclasses.asdict(self)

    @staticmethod
    def from_metadata(d: dict) -> "Calibration":
        names = {f.name for f in dataclasses.fields(Calibration)}
        missing = names - set(d)
        if missing:
            raise ValueError(f"scan_threshold metadata lacks {sorted(missing)}")
        c = Calibration(**{k: d[k] for k in names})
        if not (math.isfinite(c.logit) and 0 < c.probability < 1):
            raise ValueError("scan_threshold metadata: logit must be finite and probability in (0, 1)")
        return c


def calibrate_threshold(model, background, *, window: int, step: int | None = None,
                        false_calls_per_mb: float = DEFAULT_FALSE_CALLS_PER_MB,
                        total_bases: int = CALIBRATION_BASES, seed: int = 0,
                        source: str = "shuffled background", workers: int = 1) -> Calibration:
    """The lowest threshold at which shuffled ``background`` yields <= ``false_calls_per_mb`` merged calls.

    Parameters
    ----------
    model : a DeepBind model
    background : list of int8 code arrays (e.g. the validation negatives, unpadded)
    window, step : the scan's (step default window // 2)
    false_calls_per_mb : calls allowed per Mb of shuffled background
    total_bases : background scanned: ceil(total_bases / len(background)) dinucleotide shuffles
        of each sequence (N kept in place), each replicate scanned as one record
    seed : seeds the shuffles
    workers : threads scanning the replicates at once, each serially (as ``Scanner.scan_fasta``'s),
        while this one shuffles the next and finishes the scanned ones in order; the
        threshold is the same at any number

    Returns
    -------
    Calibration
    """
    from motifnet.kernels._jit import one_thread
    from motifnet.negatives import dinucleotide_shuffle

    scanner = Scanner(model, window=window, step=step)
    seqs = [np.asarray(s, dtype=np.int8) for s in background if len(s)]
    n_bases = int(sum(s.size for s in seqs))
    if n_bases < scanner.window:
        raise UserError(f"calibrating a scan threshold needs at least {scanner.window} bases of background, "
                        f"got {n_bases}")
    replicates = max(1, -(-int(total_bases) // n_bases))
    rng = np.random.default_rng(seed)
    per_replicate = []
    # one shuffle call per replicate: the pieces joined by an N each (an N splits the runs
    # that are shuffled apart, so this is each piece shuffled on its own, drawing from rng in
    # the same order), the Ns then taken out again
    joined = np.concatenate([part for s in seqs for part in (s, np.full(1, -1, np.int8))])
    pieces = np.ones(joined.size, dtype=bool)
    pieces[np.cumsum([s.size + 1 for s in seqs]) - 1] = False

    def collect(sc):
        ok = sc.scored & (sc.site_filter >= 0)
        per_replicate.append(Calls(sc.site_start[ok], sc.site_end[ok], sc.site_strand[ok], sc.logit[ok],
                                   sc.site_filter[ok]))

    pool = _kernel_pool(workers) if workers > 1 else None
    started = collections.deque()  # replicates whose kernel runs, oldest first: their finish()
    try:
        with one_thread(pool is not None):  # the pool's threads are the threads (module docstring, "Threads")
            for _ in range(replicates):
                shuffled = dinucleotide_shuffle(joined, rng)[pieces]
                n = scanner.n_windows(shuffled.size)
                started.append(scanner.begin("background", shuffled, 0, 0, n, shuffled.size, n, pool))
                while len(started) >= (2 * workers if pool is not None else 1):
                    collect(started.popleft()())
            while started:
                collect(started.popleft()())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    scanned = replicates * n_bases
    allowed = int(math.floor(false_calls_per_mb * scanned / 1e6))

    def n_calls(t):
        return sum(len(merge_calls(c.take(np.flatnonzero(c.logit > t)))) for c in per_replicate)

    candidates = np.unique(np.concatenate([c.logit for c in per_replicate] + [np.zeros(0)]))[::-1]
    # the lowest candidate whose count is within the allowance (counts grow as the threshold falls)
    lo, hi = 0, candidates.size  # candidates[:lo] known within, candidates[hi:] known over
    while lo < hi:
        mid = (lo + hi) // 2
        if n_calls(candidates[mid]) <= allowed:
            lo = mid + 1
        else:
            hi = mid
    t = float(candidates[lo - 1]) if lo else (float(candidates[0]) if candidates.size else 0.0)
    return Calibration(logit=t, probability=float(sigmoid(t)), false_calls_per_mb=float(false_calls_per_mb),
                       window=scanner.window, step=scanner.step, background_bases=int(scanned),
                       replicates=int(replicates), calls_at_threshold=int(n_calls(t)), source=source)


def sample_background(path, n_bases: int, window: int) -> list[np.ndarray]:
    """Windows of ``window`` bases from the start of FASTA ``path``, up to ``n_bases`` informative bases.

    Windows more than half N are left out; the last window of a record may be shorter.
    """
    from motifnet.data import iter_fasta_chunks

    out, got = [], 0
    for _, _, codes in iter_fasta_chunks(path, max(window, 1 << 16), 0):
        for i in range(0, codes.shape[0], window):
            w = codes[i:i + window]
            informative = int(np.count_nonzero(w >= 0))
            if informative >= MIN_INFORMATIVE_FRACTION * w.size and informative:
                out.append(w.copy())
                got += informative
                if got >= n_bases:
                    return out
    return out


# --------------------------------------------------------------------------- text
def bedgraph_text(scores: WindowScores) -> str:
    """bedGraph rows ``record start end probability`` of the scored windows (rows never overlap)."""
    ok = np.flatnonzero(scores.scored & (scores.row_end > scores.row_start))
    if ok.size == 0:
        return ""
    row = scores.record.replace("%", "%%") + "\t%d\t%d\t%.6g\n"  # %-formatting: 1.7x faster than f-strings
    rows = zip(scores.row_start[ok].tolist(), scores.row_end[ok].tolist(), sigmoid(scores.logit[ok]).tolist())
    return "".join([row % r for r in rows])


def bed_text(record: str, calls: Calls, names: dict[int, FilterMotif]) -> str:
    """BED6 rows ``record start end name score strand`` of merged calls (sorted by start)."""
    if not len(calls):
        return ""
    scores = bed_score(calls.logit).tolist()
    rows = []
    for a, b, s, f, sc in zip(calls.start.tolist(), calls.end.tolist(), calls.strand.tolist(),
                              calls.filter.tolist(), scores):
        nm = names[f]
        strand = "-" if (s == 1) != nm.flip else "+"
        rows.append(f"{record}\t{a}\t{b}\t{nm.name}\t{sc}\t{strand}\n")
    return "".join(rows)


class SortedRecordFile:
    """Text written record by record in any order, finished as one file sorted by record name (as bytes).

    Blocks are appended to a temporary file beside the destination; ``finish`` renames it
    when the records came in sorted order, and otherwise copies the blocks in sorted order
    (memory: the list of block offsets).  A record's blocks keep their order.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.tmp = self.path + ".unsorted"
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="\n")
        self.blocks: list[tuple[bytes, int, int, int]] = []  # (record name, sequence number, offset, size)
        self.offset = 0

    def write(self, record: str, text: str) -> None:
        if not text:
            return
        data = text.encode("utf-8")
        self.fh.write(text)
        self.blocks.append((record.encode("utf-8"), len(self.blocks), self.offset, len(data)))
        self.offset += len(data)

    def finish(self) -> None:
        self.fh.close()
        order = sorted(self.blocks)
        if [b[1] for b in order] == list(range(len(self.blocks))):
            os.replace(self.tmp, self.path)
            return
        with open(self.tmp, "rb") as src, open(self.path, "wb") as dst:
            for _, _, offset, size in order:
                src.seek(offset)
                dst.write(src.read(size))
        os.unlink(self.tmp)

    def discard(self) -> None:
        self.fh.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def merge_site_files(inputs, output) -> int:
    """Merge the sites.bed files of a sharded scan into one sorted BED: overlapping calls keep the best.

    Calls near a shard border can be found by both shards; as in one scan, of overlapping
    calls the one with the highest score is kept (ties: the leftmost).  Returns the number
    of calls written.
    """
    by_record: dict[str, list[tuple[int, int, str, int, str]]] = {}
    for path in inputs:
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip() or line.startswith(("#", "track", "browser")):
                    continue
                cols = line.rstrip("\n").split("\t")
                try:
                    rec, a, b, name, score, strand = cols[:6]
                    by_record.setdefault(rec, []).append((int(a), int(b), name, int(score), strand))
                except ValueError:
                    raise UserError(f"{path} line {number}: expected BED6 (chrom start end name score strand) "
                                    f"as motifnet scan writes it") from None
    n = 0
    with open(output, "w", encoding="utf-8", newline="\n") as out:
        for rec in sorted(by_record, key=lambda r: r.encode("utf-8")):
            rows = by_record[rec]
            calls = Calls(np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                          np.array([r[4] == "-" for r in rows], np.int8),
                          np.array([r[3] for r in rows], np.float64), np.arange(len(rows), dtype=np.int64))
            merged = merge_calls(calls)
            for i in merged.filter.tolist():  # "filter" carries the row index here
                a, b, name, score, strand = rows[i]
                out.write(f"{rec}\t{a}\t{b}\t{name}\t{score}\t{strand}\n")
                n += 1
    return n


# --------------------------------------------------------------------------- the whole scan
@dataclass
class ScanSummary:
    """What a scan did: written to scan.json."""

    settings: dict
    counts: dict = field(default_factory=dict)
    filters: list = field(default_factory=list)
    timing: dict = field(default_factory=dict)


class _Progress:
    """Progress lines on stderr for long inputs: bases read and Mbp/s, at most every PROGRESS_SECONDS."""

    def __init__(self, quiet: bool, stream=None):
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.printed = False

    def __call__(self, record: str, bases: int) -> None:
        now = time.perf_counter()
        if self.quiet or now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        rate = bases / 1e6 / max(now - self.t0, 1e-9)
        print(f"scan: {bases / 1e6:,.1f} Mbp read ({rate:.1f} Mbp/s), now in {record}", file=self.stream,
              flush=True)
        self.printed = True


def scan_fasta_to_folder(model, sequences, folder, *, window=None, step=None, default_window=None,
                         threshold: Calibration | None = None, region: Region | None = None,
                         chunk_size: int = DEFAULT_CHUNK_SIZE, motif_db=None, quiet: bool = False,
                         settings: dict | None = None, workers: int = 1) -> ScanSummary:
    """Scan FASTA ``sequences`` with ``model`` into ``folder``: windows.bedgraph, sites.bed.

    ``threshold`` is required for a model that calls sites; ``motif_db`` the motifs that
    name and orient the filters (a sequence of ``Motif``, or None for filter names);
    ``workers`` the threads running the scan kernel (``Scanner.scan_fasta``).
    Returns the summary (the caller writes scan.json).
    """
    from pathlib import Path

    from motifnet.kernels._jit import one_thread

    folder = Path(folder)
    scanner = Scanner(model, window=window, step=step, default_window=default_window,
                      site_logit_min=threshold.logit if threshold is not None else -math.inf)
    caller = SiteCaller(threshold.logit) if scanner.sites else None
    names: dict[int, FilterMotif] = {}
    progress = _Progress(quiet)
    graph = SortedRecordFile(folder / "windows.bedgraph")
    bed = SortedRecordFile(folder / "sites.bed") if scanner.sites else None
    counts = dict(records=0, bases=0, windows=0, windows_scored=0,
                  windows_mostly_n=0, windows_above_threshold=0, sites=0)
    t0 = time.perf_counter()
    scan_seconds = 0.0
    done_records = set()
    region_length = None

    def emit(pairs):
        for rec, calls in pairs:
            new = set(calls.filter.tolist()) - set(names)
            if new:
                names.update(name_filters(model, new, motif_db))
            bed.write(rec, bed_text(rec, calls, names))
            counts["sites"] += len(calls)

    stream = None
    # with a pool of scanning threads, the pool's threads are the threads: this one's kernels
    # (the model's head) run serially (module docstring, "Threads")
    with one_thread(workers > 1 and not scanner.fixed):
        try:
            stream = scanner.scan_fasta(sequences, region=region, chunk_size=chunk_size, progress=progress,
                                        workers=workers)
            while True:
                t_read = time.perf_counter()
                try:
                    scores = next(stream)
                except StopIteration:
                    break
                scan_seconds += time.perf_counter() - t_read
                if scores.record_done and scores.record not in done_records:
                    done_records.add(scores.record)
                    counts["bases"] += int(scores.record_length)
                    if region is not None:
                        region_length = int(scores.record_length)
                counts["windows"] += len(scores)
                counts["windows_scored"] += int(scores.scored.sum())
                counts["windows_mostly_n"] += int((~scores.scored).sum())
                graph.write(scores.record, bedgraph_text(scores))
                if caller is not None:
                    emit(caller.add(scores))
            if caller is not None:
                emit(caller.finish())
                counts["windows_above_threshold"] = caller.n_windows_above
            graph.finish()
            if bed is not None:
                bed.finish()
        except BaseException:
            if stream is not None:
                stream.close()  # its worker threads finish the chunk they scan, and stop
            graph.discard()
            if bed is not None:
                bed.discard()
            raise
    counts["records"] = len(done_records)
    seconds = time.perf_counter() - t0
    if region is not None and region_length is not None:
        end = region_length if region.end is None else min(region.end, region_length)
        if region.start >= region_length:
            raise UserError(f"--region {region}: {region.record} has {region_length} bases; the region starts "
                            f"past its end")
        scanned = end - region.start
    else:
        scanned = counts["bases"]
    summary = ScanSummary(settings=dict(settings or {}))
    summary.settings.update(window=scanner.window, step=scanner.step, kernel_size=scanner.kernel_size,
                            min_informative_fraction=scanner.min_informative, chunk_size=int(chunk_size),
                            region=None if region is None else {"record": region.record, "start": region.start,
                                                                "end": region.end, "as_given": str(region)},
                            threshold=None if threshold is None else threshold.as_metadata(),
                            sites=scanner.sites)
    if scanner.gaps_between_windows():
        summary.settings["warning"] = (f"step {scanner.step} > window - K + 1 = "
                                       f"{scanner.window - scanner.kernel_size + 1}: some K-mers lie in no window")
    summary.counts = counts
    summary.filters = [names[f].as_json() for f in sorted(names)]
    summary.timing = dict(seconds=seconds, scan_seconds=scan_seconds, bases_scanned=int(scanned),
                          mbp_per_s=(scanned / 1e6 / seconds) if seconds > 0 else None)
    return summary
