"""``motifnet explain OP``: an op's formulas and a tiny worked example, gradient against finite differences."""

from __future__ import annotations

OPS = ("conv1d", "conv1d_onehot", "conv1d_onehot_maxpool", "conv1d_onehot_globalmax", "maxpool1d", "linear", "relu",
       "bce", "attention", "revcomp", "global_max", "scan", "adam")  # motifnet.kernels.registry's ops and Adam, without importing them


def add_parser(subparsers):
    p = subparsers.add_parser(
        "explain",
        help="show an op's forward and backward formulas, worked on a tiny example",
        description="Print the forward formulas and the derivation of the backward of one op (from its file "
        "in kernels/), then run it on a tiny seeded example with one-decimal numbers: the inputs, the output, "
        "and for every input the analytic gradient beside the central finite difference and their difference. "
        "--torch adds torch's numbers. Ops: " + ", ".join(OPS) + ".",
    )
    p.add_argument("op", metavar="OP", help="the op: " + ", ".join(OPS))
    p.add_argument("--torch", action="store_true", help="add torch's forward and gradients (needs torch installed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the example's numbers (default 0)")
    return p


def run(args) -> int:
    from motifnet.errors import UserError
    from motifnet.explain import explain_op
    from motifnet.outputs import write_stdout

    if args.torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise UserError("--torch needs torch installed (pip install 'motifnet[test]')") from None
    write_stdout(explain_op(args.op, use_torch=args.torch, seed=args.seed))
    return 0
