"""motifnet's benchmark suite against torch (a test/benchmark dependency, never a runtime one).

    python -m benchmarks                      # everything: ~10 min on 2 cores
    python -m benchmarks --quick              # smoke test: tiny shapes, 1 repeat, 1 thread
    python -m benchmarks --threads 1 --parts kernels --sizes primer --repeats 41

Writes ``results.md`` (tables), ``results.json`` (everything, incl. raw samples)
and ``ratios.png`` to ``--out`` (default ``benchmarks/results/``, git-ignored),
and prints the tables.  See ``benchmarks/README.md`` for what is measured and how.

Modules: ``suite`` (driver, validation), ``worker`` (one library per process),
``cases`` (kernel shapes, seeded inputs, each library's calls), ``torch_models``
(the torch reference models and training loop), ``train_torch`` (the torch
counterpart of a whole ``motifnet train`` process), ``report`` (md/json/png).
"""

import os

# The benchmarks time the threaded kernels and the threaded training step as a machine runs
# them once they are compiled: each compiles at its first call (the validation run), not
# after the serial time that pays for it on a user's machine (kernels/_jit.py, ThreadsGate).
# Every worker process inherits this.
os.environ.setdefault("MOTIFNET_THREADS_PAYBACK_S", "0")
