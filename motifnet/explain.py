"""``motifnet explain OP``: one op's formulas, then a tiny example whose numbers can be followed by hand.

For an op of the registry (``motifnet.kernels.registry``) it prints, in order:

1. the forward formulas and the derivation of the backward, from the op's own file
   (its "Forward" and "Backward, derived" sections: the text a learner reads there);
2. a tiny example (the registry's ``"explain"`` shape, seeded, values rounded to one
   decimal so that a sum of three products can be done on paper): the inputs, the
   outputs, dL/d(output) (a fixed random projection: the loss is sum(g * output));
3. for every input that has a gradient: the analytic gradient from the fast backward
   kernel, the central finite difference (loss(x + eps) - loss(x - eps)) / (2 eps) in
   float64, and their difference, element by element, then the max-norm relative error
   (as ``motifnet gradcheck`` measures it);
4. with ``torch=True``, torch's forward and gradients for the same numbers beside them.

Adam has no backward: ``explain("adam")`` prints its update formulas and three steps on
six parameters next to the plain reference loop (and torch.optim.Adam).
"""

from __future__ import annotations

import importlib
import re

import numpy as np

from motifnet.errors import UserError

ALIASES = {"bce": "bce_with_logits", "conv": "conv1d", "maxpool": "maxpool1d", "onehot": "conv1d_onehot"}


def _sections(module_path: str) -> dict[str, str]:
    """The module docstring's sections (a title line underlined with dashes), by title."""
    module = importlib.import_module("motifnet." + module_path.removesuffix(".py").replace("/", "."))
    doc = module.__doc__ or ""
    heads = list(re.finditer(r"^(.+)\n-{3,}\n", doc, re.M))
    out = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(doc)
        out[m.group(1).strip()] = doc[m.end():end].strip("\n")
    return out


def _section(sections: dict, prefix: str) -> tuple[str, str]:
    for title, text in sections.items():
        if title.startswith(prefix):
            return title, text
    return prefix, "(not found in the file)"


def _round_inputs(inputs: dict, distinct: bool) -> dict:
    """One-decimal copies of the float inputs, with no exact zero (ReLU's kink) and, for an op
    that takes a max (``distinct``), no tie: more decimals where one decimal would make one."""
    out = {}
    for name, a in inputs.items():
        if a.dtype.kind != "f":
            out[name] = a
            continue
        for decimals in (1, 2, 3):
            r = np.round(a, decimals)
            r[r == 0] = 10.0 ** -decimals
            if not distinct or np.unique(r).size == np.unique(a).size:
                break
        out[name] = r
    return out


def _fmt(a) -> str:
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a = a.astype(np.float64)
    return np.array2string(a, precision=6, suppress_small=True, separator=", ", max_line_width=100)


def _table(name, analytic, numeric, reference=None) -> list[str]:
    rows = [f"  d loss / d {name}:",
            f"    {'index':<14}{'analytic':>14}{'finite diff':>14}{'difference':>12}"
            + (f"{'torch':>14}" if reference is not None else "")]
    for idx in np.ndindex(analytic.shape):
        a, n = float(analytic[idx]), float(numeric[idx])
        line = f"    {str(list(idx)):<14}{a:>14.6f}{n:>14.6f}{a - n:>12.1e}"
        if reference is not None:
            line += f"{float(reference[idx]):>14.6f}"
        rows.append(line)
    return rows


def explain_op(name: str, use_torch: bool = False, seed: int = 0) -> str:
    """The text ``motifnet explain NAME`` prints (see the module docstring)."""
    from motifnet.gradcheck import gradient_errors, numerical_gradient
    from motifnet.kernels.registry import BY_NAME, projected_loss, run_fast, run_torch

    name = ALIASES.get(name, name)
    if name == "adam":
        return _explain_adam(use_torch)
    if name not in BY_NAME:
        raise UserError(f"unknown op {name!r}; choose from {', '.join(sorted(BY_NAME) + ['adam'])}")
    op = BY_NAME[name]
    sections = _section_text(op)
    config = op.shapes.get("explain", op.shapes["tiny"])
    rng = np.random.default_rng(seed)
    inputs = _round_inputs(op.make_inputs(config, rng, np.float64, True), distinct=bool(op.exact_outputs))
    out = run_fast(op, config, inputs)
    d_outputs = {n: np.round(rng.standard_normal(np.shape(out[n])), 1) for n in op.outputs}
    fast = run_fast(op, config, inputs, d_outputs)
    ref_torch = run_torch(op, config, inputs, d_outputs) if use_torch else None
    lines = [f"{op.name}: {op.summary}", f"file: {op.module}   torch: {op.torch_equivalent}", ""]
    lines += sections
    lines += ["", f"A tiny example: {op.describe(config)} (seed {seed}; float64)", ""]
    for n, a in inputs.items():
        lines.append(f"  {n} =")
        lines.append("    " + _fmt(a).replace("\n", "\n    "))
    for n in list(op.outputs) + list(op.extra_outputs) + list(op.exact_outputs):
        lines.append(f"  {n} (forward) =")
        lines.append("    " + _fmt(fast[n]).replace("\n", "\n    "))
        if ref_torch is not None and n in ref_torch:
            lines.append(f"  {n} (torch) =")
            lines.append("    " + _fmt(ref_torch[n]).replace("\n", "\n    "))
    for n in op.outputs:  # (none for a forward-only op)
        lines.append(f"  g = d loss / d {n} (the loss is sum(g * {n})) =")
        lines.append("    " + _fmt(d_outputs[n]).replace("\n", "\n    "))
    lines.append("")
    worst = 0.0
    for n in op.grad_inputs(config):
        work = {k: np.array(v, copy=True) for k, v in inputs.items()}
        numeric = numerical_gradient(lambda: projected_loss(op, config, work, d_outputs), work[n], op.fd_eps)
        analytic = fast["d_" + n]
        lines += _table(n, analytic, numeric, None if ref_torch is None else ref_torch["d_" + n])
        _, rel = gradient_errors(analytic, numeric)
        worst = max(worst, rel)
        lines.append(f"    max |analytic - finite difference| / max |finite difference| = {rel:.2e}")
        lines.append("")
    if not op.has_backward:
        ref = op.reference(config, inputs, d_outputs)
        diff = max(float(np.max(np.abs(fast[n] - ref[n]))) for n in op.extra_outputs)
        lines.append(f"a forward-only op: no gradient. The fast kernel against the reference loops: max difference "
                     f"{diff:.1e}; {op.derivation}")
        return "\n".join(lines) + "\n"
    lines.append(f"finite differences: central, eps = {op.fd_eps:g}, float64; worst relative error {worst:.2e} "
                 f"({'pass' if worst <= op.fd_rtol else 'FAIL'} at {op.fd_rtol:g}); derivation: {op.derivation}")
    return "\n".join(lines) + "\n"


def _section_text(op) -> list[str]:
    sections = _sections(op.module)
    lines = []
    for prefix in ("Forward", "Backward, derived"):
        title, text = _section(sections, prefix)
        lines += [title, "-" * len(title), text, ""]
    return lines


def _explain_adam(use_torch: bool) -> str:
    from motifnet.kernels.adam import adam_step, adam_step_reference

    module = importlib.import_module("motifnet.kernels.adam")
    doc = module.__doc__
    start = doc.index("Per element")
    formulas = doc[start:doc.index("To match torch")].strip()
    rng = np.random.default_rng(0)
    param = np.round(rng.standard_normal(6), 1)
    grads = [np.round(rng.standard_normal(6), 1) for _ in range(3)]
    fast, ref = param.copy(), param.copy()
    m, v, m_ref, v_ref = (np.zeros(6) for _ in range(4))
    lines = ["adam: torch.optim.Adam's update, in place, over the model's one flat parameter buffer",
             "file: kernels/adam.py   torch: torch.optim.Adam", "",
             "The update", "----------", formulas, "",
             "A tiny example: 6 parameters, 3 steps, lr 0.1 (float64)", f"  param   = {_fmt(param)}"]
    torch_param = None
    if use_torch:
        import torch

        t = torch.tensor(param.copy(), requires_grad=True)
        opt = torch.optim.Adam([t], lr=0.1)
    for step, g in enumerate(grads, start=1):
        adam_step(fast, g, m, v, step, lr=0.1)
        adam_step_reference(ref, g, m_ref, v_ref, step, lr=0.1)
        lines += [f"  step {step}: grad  = {_fmt(g)}", f"          param = {_fmt(fast)}  (kernel)",
                  f"                  {_fmt(ref)}  (reference loop)"]
        if use_torch:
            t.grad = torch.tensor(g)
            opt.step()
            torch_param = t.detach().numpy()
            lines.append(f"                  {_fmt(torch_param)}  (torch)")
    diff = float(np.max(np.abs(fast - ref)))
    lines.append(f"\nmax |kernel - reference| after 3 steps = {diff:.1e}"
                 + ("" if torch_param is None else f"; max |kernel - torch| = {float(np.max(np.abs(fast - torch_param))):.1e}"))
    return "\n".join(lines) + "\n"
