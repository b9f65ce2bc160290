"""``motifnet gradcheck``: finite-difference proof of every backward pass."""

from __future__ import annotations

import sys
import time


def add_parser(subparsers):
    p = subparsers.add_parser(
        "gradcheck",
        help="check every kernel's backward pass against central finite differences",
        description="Run every op's backward pass (and every model's) on random float64 inputs "
        "of random shapes and compare each gradient with central finite differences (eps=1e-6, "
        "1e-4 for the loss). Error norm: max|analytic - numeric| / max|numeric|; a row passes at "
        "<= 1e-6. Each row names the derivation, in the op's file, that it checks. Exit status 1 "
        "if any row fails.",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random shapes and values (default 0)")
    p.add_argument("--trials", type=int, default=3, help="random shapes per op (default 3)")
    p.add_argument("--only", metavar="NAME", action="append", default=None,
                   help="check only this op or model (repeatable; e.g. conv1d, model_deepbind)")
    return p


def prepare(args):
    """The check's compile helper (``_common.warmup_of``)."""
    from motifnet.commands._common import warmup_of

    return warmup_of(args, "gradcheck")


def run(args) -> int:
    import numpy as np

    from motifnet.errors import UserError
    from motifnet.gradcheck import REL_TOL, cases, run_case

    if args.trials < 1:
        raise UserError(f"--trials must be >= 1, got {args.trials}")
    if args.seed < 0:
        raise UserError(f"--seed must be >= 0, got {args.seed}")
    available = cases()
    names = list(available)
    if args.only:
        unknown = [n for n in args.only if n not in available]
        if unknown:
            raise UserError(f"unknown --only {unknown[0]!r}; choose from {', '.join(available)}")
        names = args.only
    # a first check's kernels (every op's, in float64) compile on two cores (motifnet.warmup)
    from motifnet.commands._common import warn
    from motifnet.warmup import gradcheck_spec_of

    warmup = prepare(args)
    warmup.compile_for_specs([gradcheck_spec_of(names, args.seed, args.trials)], trust_note=True, log=warn)
    rng = np.random.default_rng(args.seed)
    header = f"{'op':<18} {'argument':<14} {'max abs err':>12} {'max rel err':>12}  result  shape"
    print(header)
    print("-" * len(header))
    failed = 0
    derivations = {}
    start = time.perf_counter()
    for name in names:
        for _ in range(args.trials):
            case = available[name](rng)
            derivations[case.kernel] = case.derivation
            for r in run_case(case):
                failed += not r.passed
                print(f"{r.kernel:<18} {r.argument:<14} {r.max_abs_err:12.3e} {r.max_rel_err:12.3e}  "
                      f"{'pass' if r.passed else 'FAIL':<6}  {r.shape}")
                sys.stdout.flush()
    print("\nwhat each row checks:")
    for kernel, derivation in derivations.items():
        print(f"  {kernel:<18} {derivation}")
    print(f"\n{'all passed' if not failed else f'{failed} FAILED'} "
          f"(relative tolerance {REL_TOL:g}, float64, {time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0
