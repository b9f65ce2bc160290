"""``motifnet gradcheck``: finite-difference proof of every backward pass."""

from __future__ import annotations

import sys
import time

import numpy as np


def add_parser(subparsers):
    p = subparsers.add_parser(
        "gradcheck",
        help="check every kernel's backward pass against central finite differences",
        description="Run every kernel's (and layer's and model's) backward pass on random "
        "float64 inputs of random shapes and compare each gradient with central finite "
        "differences (eps=1e-6). Error norm: max|analytic - numeric| / max|numeric|; a row "
        "passes at <= 1e-6. Exit status 1 if any row fails.",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random shapes and values (default 0)")
    p.add_argument("--trials", type=int, default=3, help="random shapes per kernel (default 3)")
    p.add_argument("--only", metavar="NAME", action="append", default=None,
                   help="check only this kernel/layer/model (repeatable)")
    return p


def run(args) -> int:
    from motifnet.errors import UserError
    from motifnet.gradcheck import CASES, REL_TOL, run_case

    if args.trials < 1:
        raise UserError(f"--trials must be >= 1, got {args.trials}")
    cases = CASES
    if args.only:
        names = {fn.__name__.removesuffix("_case"): fn for fn in CASES}
        unknown = [n for n in args.only if n not in names]
        if unknown:
            raise UserError(f"unknown --only {unknown[0]!r}; choose from {', '.join(names)}")
        cases = [names[n] for n in args.only]
    rng = np.random.default_rng(args.seed)
    header = f"{'kernel':<22} {'argument':<10} {'max abs err':>12} {'max rel err':>12}  result  shape"
    print(header)
    print("-" * len(header))
    failed = 0
    start = time.perf_counter()
    for make_case in cases:
        for _ in range(args.trials):
            case = make_case(rng)
            for r in run_case(case):
                failed += not r.passed
                print(f"{r.kernel:<22} {r.argument:<10} {r.max_abs_err:12.3e} {r.max_rel_err:12.3e}  "
                      f"{'pass' if r.passed else 'FAIL':<6}  {r.shape}")
                sys.stdout.flush()
    print(f"\n{'all passed' if not failed else f'{failed} FAILED'} "
          f"(relative tolerance {REL_TOL:g}, float64, {time.perf_counter() - start:.1f} s)")
    return 1 if failed else 0
