"""The cnn model's compiled training step against the layer-by-layer one, in one process.

    python -m benchmarks.compiled_step_ab L N ROUNDS      e.g. 200 4000 15

Generated data (N sequences of length L, the primer motif in half), batch 32, Adam.  Each
round times one epoch of each variant, alternating: the layer-by-layer step (model.forward,
BCEWithLogitsLoss, backward, Adam.step) at 1 thread, then the compiled step
(motifnet/compiled_step.py) at 1 thread and at 2 (``numba.set_num_threads``).  Prints the
medians of the per-step times and of the per-round ratios: on a shared machine the speed
moves from minute to minute, and alternating in one process compares like with like.
Needs NUMBA_NUM_THREADS >= 2 for the 2-thread column.
"""

import sys
import time

import numba
import numpy as np

from motifnet import compiled_step
from motifnet.data import encode, generate_data
from motifnet.layers import BCEWithLogitsLoss
from motifnet.models import GenomicsCNN
from motifnet.optim import Adam

BATCH = 32


def main(L: int, N: int, rounds: int) -> None:
    seqs, y = generate_data(N, L, seed=0)
    x, t = encode(seqs)[0], y.astype(np.float32)
    model = GenomicsCNN(seq_len=L)
    optimizer = Adam(model.parameters())
    loss_fn = BCEWithLogitsLoss()
    step = compiled_step.CNNTrainingStep(model, BATCH, optimizer)

    def layers():
        for b in range(0, N, BATCH):
            xb, tb = x[b:b + BATCH], t[b:b + BATCH]
            loss_fn.forward(model.forward(xb, check=False), tb)
            d_logits = loss_fn.backward()
            optimizer.zero_grad()
            model.backward(d_logits)
            optimizer.step()

    def compiled():
        for b in range(0, N, BATCH):
            step(x[b:b + BATCH], t[b:b + BATCH])

    def timed(epoch, threads):
        numba.set_num_threads(threads)
        start = time.perf_counter()
        epoch()
        return time.perf_counter() - start

    for threads in (1, 2):  # compile or load everything, untimed
        timed(layers, threads), timed(compiled, threads), timed(compiled, threads)
    runs = {"layers1": [], "compiled1": [], "compiled2": []}
    for _ in range(rounds):
        runs["layers1"].append(timed(layers, 1))
        runs["compiled1"].append(timed(compiled, 1))
        runs["compiled2"].append(timed(compiled, 2))
    us = {k: np.array(v) / -(-N // BATCH) * 1e6 for k, v in runs.items()}
    threads = us["compiled1"] / us["compiled2"]
    print(f"L={L}: per step layers {np.median(us['layers1']):.0f} us, compiled {np.median(us['compiled1']):.0f} us "
          f"(1 thread), {np.median(us['compiled2']):.0f} us (2 threads); layers/compiled at 1 thread "
          f"{np.median(us['layers1'] / us['compiled1']):.2f}x; compiled 1->2 threads {np.median(threads):.2f}x "
          f"(quartiles {np.percentile(threads, 25):.2f}-{np.percentile(threads, 75):.2f})")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python -m benchmarks.compiled_step_ab L N ROUNDS")
    main(*(int(a) for a in sys.argv[1:4]))
