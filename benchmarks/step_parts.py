"""Inside the cnn's compiled step: how long each part of the batch takes on its thread.

    python -m benchmarks.step_parts [L] [SECONDS]       e.g. 200 20  (the defaults)

The compiled step (motifnet/compiled_step.py) splits a batch of 32 sequences into one part
per thread and runs the parts in one parallel region, then sums their gradients and runs
Adam in a second one.  Timing whole steps says how much a second core gains, not why it
gains less than 2x.  This runs a copy of the step's two loops that reads the CPU's cycle
counter (LLVM's ``readcyclecounter``: ``rdtsc`` on x86) where each part starts and ends,
around the second region, and at the step's start and end, around the same compiled
parts (``compiled_step._part_loops`` for this pool size, ``sum_and_update``).

For SECONDS it alternates half-second windows of 1 thread (one part of 32 sequences) and
2 threads (two parts of 16), the same batch and arguments throughout (Adam's scalars
fixed), and prints each window pair's medians: the parts, the second region, the whole
step, and the 1-thread step over the 2-thread one.  A part that takes much longer than the
other on 2 threads while 1 thread runs at its usual speed is a core that was slower than
the other for that window (on a shared VM, another tenant on it).  Needs
NUMBA_NUM_THREADS >= 2.  Not part of the suite: the suite times whole training runs.
"""

import sys
import time

import numba
import numpy as np
from llvmlite import ir
from numba import prange
from numba.core import cgutils, types
from numba.extending import intrinsic

from motifnet import compiled_step
from motifnet.data import encode, generate_data
from motifnet.models import GenomicsCNN
from motifnet.optim import Adam

BATCH = 32
WINDOW_S = 0.5


@intrinsic
def _cycles(typingctx):
    """The CPU's cycle counter (x86: the time-stamp counter, which ticks at a fixed rate)."""
    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(64), []),
                                            "llvm.readcyclecounter")
        return builder.call(fn, [])
    return types.int64(), codegen


@numba.njit
def cycles():
    return _cycles()


def _timed_loops(codes, targets, wc, bc, w1, b1, w2, b2, grads, part_grads, offs, geo, plan_, pos_weight,
                 d_loss, pooled, offsets, z, logits, d_logits, dz, d_pooled, losses, n_parts,
                 params, exp_avg, exp_avg_sq, adam, do_adam, marks):
    # compiled_step._step_loops with cycle counts in marks: [0] the step's start and the
    # first region's end, [1 + part] each part's start and end, [n_parts + 1, 0] the
    # step's end (so the second region runs from marks[0, 1] to it)
    marks[0, 0] = _cycles()
    for part in prange(n_parts):
        start = _cycles()
        part_step(np.int64(part), n_parts, codes, targets, wc, bc, w1, b1, w2, b2, grads, part_grads, offs, geo,
                  plan_, pos_weight, d_loss, pooled, offsets, z, logits, d_logits, dz, d_pooled, losses)
        marks[1 + part, 0] = start
        marks[1 + part, 1] = _cycles()
    marks[0, 1] = _cycles()
    for c in prange(n_parts):
        sum_and_update(np.int64(c), n_parts, grads, part_grads, params, exp_avg, exp_avg_sq, adam, do_adam)
    marks[n_parts + 1, 0] = _cycles()


def _cycles_per_us() -> float:
    cycles()  # compiled before the clock starts
    t0, c0 = time.perf_counter_ns(), cycles()
    time.sleep(0.2)
    t1, c1 = time.perf_counter_ns(), cycles()
    return (c1 - c0) / (t1 - t0) * 1e3


def main(L: int, seconds: float) -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:
        sys.exit("needs NUMBA_NUM_THREADS >= 2")
    seqs, y = generate_data(BATCH, L, seed=0)
    x, t = encode(seqs)[0], y.astype(np.float32)
    model = GenomicsCNN(seq_len=L)
    step = compiled_step.CNNTrainingStep(model, BATCH, Adam(model.parameters()))
    step.run(x, t, 1, True, True)  # compiles (or loads) the step's parts for this pool size
    glob = dict(compiled_step._step_loops.__globals__, part_step=compiled_step._compiled[model.pool_size],
                _cycles=_cycles)
    loops = numba.njit(parallel=True)(type(_timed_loops)(_timed_loops.__code__, glob, "_timed_loops"))
    args = {n: step.arguments(x, t, n, update=True) for n in (1, 2)}
    marks = np.zeros((4, 2), np.int64)
    for n in (1, 2):
        numba.set_num_threads(n)
        loops(*args[n], marks)
    per_us = _cycles_per_us()

    def window(n):
        numba.set_num_threads(n)
        rows, end = [], time.perf_counter() + WINDOW_S
        while time.perf_counter() < end:
            loops(*args[n], marks)
            rows.append([marks[1 + p, 1] - marks[1 + p, 0] for p in range(n)]
                        + [marks[n + 1, 0] - marks[0, 1], marks[n + 1, 0] - marks[0, 0]])
        return np.median(np.array(rows), axis=0) / per_us

    print(f"L = {L}, batch {BATCH}, cycle counter {per_us:.0f} per us; medians per window of {WINDOW_S} s, us")
    print("  1 thread: part (32 seq), sum+adam, step | 2 threads: part 0, part 1 (16 seq each), sum+adam, step"
          " | 1->2 threads")
    ratios, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        one, two = window(1), window(2)
        ratios.append(one[-1] / two[-1])
        print(f"  {one[0]:6.1f} {one[1]:5.1f} {one[2]:6.1f} | {two[0]:6.1f} {two[1]:6.1f} {two[2]:5.1f} {two[3]:6.1f}"
              f" | {ratios[-1]:.2f}x")
    print(f"1->2 threads: median {np.median(ratios):.2f}x over {len(ratios)} window pairs "
          f"(quartiles {np.percentile(ratios, 25):.2f}-{np.percentile(ratios, 75):.2f})")


if __name__ == "__main__":
    if len(sys.argv) > 3:
        sys.exit("usage: python -m benchmarks.step_parts [L] [SECONDS]")
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, float(sys.argv[2]) if len(sys.argv) > 2 else 20.0)
