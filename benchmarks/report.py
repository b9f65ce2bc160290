"""results.json, results.md (markdown tables) and ratios.png from the suite's results."""

from __future__ import annotations

import json
import math
from pathlib import Path

from motifnet._atomic import save_figure, write_text

# What the lead checks (measured, never asserted by the tests)
TARGETS = {
    "cnn_training_1_thread": 5.0,
    "attention_training_1_thread": 4.0,
    "kernel_fwdbwd_primer": 1.5,
    "kernel_fwdbwd_large": 1.0,
    "train_process_warm_s": 2.0,
    "train_process_empty_cache_s": 15.0,
}


def versions(results: dict) -> dict:
    """Library versions as reported by the workers themselves."""
    out = {}
    for info in results.get("kernels", {}).get("info", {}).values():
        for k in ("python", "numpy", "numba", "torch", "motifnet", "threading_layer"):
            if k in info:
                out[k] = info[k]
    if "numba" not in out or "torch" not in out:
        import importlib.metadata as md

        for k in ("numpy", "numba", "torch"):
            try:
                out.setdefault(k, md.version(k))
            except md.PackageNotFoundError:
                pass
    return out


def _t(s) -> str:
    """A duration with a unit that keeps 3 significant digits."""
    if s is None or (isinstance(s, float) and not math.isfinite(s)):
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def _r(r) -> str:
    return "-" if r is None else f"**{r:.2f}x**" if r >= 0.1 else f"**{r:.2g}x**"


def _load(load) -> str:
    return "?" if not load else " ".join(f"{x:.1f}" for x in load)


def markdown(results: dict) -> str:
    meta = results["meta"]
    m, s, v = meta["machine"], meta["settings"], meta.get("versions", {})
    lines = [
        "# motifnet vs torch benchmarks",
        "",
        "Ratios are torch time / motifnet time measured in the same run (> 1: motifnet faster).",
        "Times are medians; each library ran in its own process with its thread count fixed before import.",
        "",
        f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['platform']}; "
        f"load average (1, 5, 15 min) at start {_load(m.get('load_average_at_start'))}, "
        f"at end {_load(m.get('load_average_at_end'))}",
        f"- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- date (UTC): {m['date_utc']}, git {m['git_commit']}"
        + (f" + uncommitted changes in {', '.join(m['uncommitted_changes'])}" if m.get("uncommitted_changes") else "")
        + f"; suite took {meta.get('seconds', 0):.0f} s",
        f"- settings: threads {s['threads']} (training runs: {s.get('e2e_threads', s['threads'])}), kernel repeats {s['repeats']} samples "
        f"(>= {s['min_sample_s'] * 1e3:g} ms of calls each), training repeats {s['e2e_repeats']}, "
        f"start-up repeats {s['startup_repeats']}, motifnet API timed: {s['api']}"
        + (" (QUICK MODE: tiny shapes, smoke test only)" if s["quick"] else ""),
        f"- validation before timing: motifnet's float32 results vs torch's float64 results on the same inputs, "
        f"max-norm relative error <= max({s['tolerances']['value_rtol']:g}, "
        f"{s['tolerances'].get('torch_error_factor', 4):g} x torch float32's own error on that output)",
        "",
    ]
    # the load before the suite started anything: other people's work (the suite adds its own later)
    busy = (m.get("load_average_at_start") or [0.0])[0]
    if busy > 1.0:
        lines += [f"**Warning: the machine was busy** (1-min load average {busy:.1f} at start on {m.get('logical_cpus')} "
                  "CPUs). Other processes were competing for the cores: absolute times are inflated, and at "
                  "2 threads a parallel region waits for a CPU time slice whenever another process holds a core "
                  "(both libraries' 2-thread times then come in multiples of a few ms). Rerun on an idle machine "
                  "before trusting multi-thread numbers.", ""]
    if m.get("code_changed_during_run"):
        lines += [f"**Warning: the code under test changed during this run** (git {m['git_commit']} -> "
                  f"{m.get('git_commit_end')}; uncommitted: {m.get('uncommitted_changes_end')}): parts of the "
                  "tables measure different versions.", ""]
    k = results.get("kernels")
    if k:
        lines += ["## Kernels", "",
                  "torch: functional op with `requires_grad` inputs, backward via `torch.autograd.grad` "
                  "(`bwd` alone: on one retained graph). motifnet: the kernel's "
                  + ("unchecked entry points (what the layers call)." if s["api"] == "unchecked" else "public wrappers."),
                  "Each cell: motifnet / torch (torch/motifnet ratio).", "",
                  "| kernel | size | shape | threads | fwd | bwd | fwd+bwd (adam: step) | valid |",
                  "|---|---|---|---|---|---|---|---|"]
        by = {}
        for row in k["rows"]:
            by.setdefault((row["kernel"], row["size"], row["threads"]), {})[row["phase"]] = row
        for (kernel, size, t), ph in by.items():
            first = next(iter(ph.values()))

            def cell(name):
                r = ph.get(name)
                if r is None:
                    return ""
                if not r["validated"]:
                    return "FAILED validation" if r["torch_s"] is not None else "not run"
                return f"{_t(r['motifnet_s'])} / {_t(r['torch_s'])} ({_r(r['ratio'])})"

            last = cell("step") if "step" in ph else cell("fwdbwd")
            lines.append(f"| {kernel} | {size} | {first['shape']} | {t} | {cell('fwd')} | {cell('bwd')} | {last} | "
                         f"{'yes' if first['validated'] else '**NO**'} |")
        lines += ["", "### Validation (worst max-norm relative error per case)", "",
                  "| kernel | size | threads | passed | worst output | its rel. error | allowed | torch float32's error |",
                  "|---|---|---|---|---|---|---|---|"]
        for val in k["validation"]:
            # worst = largest error relative to what it was allowed
            worst = max(val["checks"], key=lambda c: (not c["passed"], c.get("max_rel_err", math.inf) / c["rtol"]),
                        default=None)
            fmt = lambda c, k: "-" if c is None or k not in c else f"{c[k]:.2e}"  # noqa: E731
            lines.append(f"| {val['kernel']} | {val['size']} | {val['threads']} | {'yes' if val['passed'] else '**NO**'} | "
                         f"{'-' if worst is None else worst['name']} | {fmt(worst, 'max_rel_err')} | "
                         f"{fmt(worst, 'rtol')} | {fmt(worst, 'torch_float32_rel_err')} |")
        failed = [c.get("message", "") for val in k["validation"] for c in val["checks"] if not c["passed"]]
        failed += [val["message"] for val in k["validation"] if "message" in val]
        if failed or k["errors"]:
            lines += ["", "Failures and errors:", ""] + [f"- {msg}" for msg in failed]
            lines += [f"- {key}: {msg.splitlines()[-1] if msg else ''}" for key, msg in k["errors"].items()]
        lines.append("")
    e = results.get("e2e")
    if e:
        lines += ["## End-to-end training", "",
                  "Same data, same initial weights (copied from motifnet), same mini-batches, Adam lr 1e-3, "
                  "evaluation on the test set after every epoch (train accuracy from the epoch's training logits, in both); wall time of the whole `fit` call, median over repeats.",
                  "", "| model | data | threads | epochs | train/test | motifnet | torch | ratio | epoch-1 loss (mn / torch) "
                  "| final test acc (mn / torch) | valid |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in e["rows"]:
            if r.get("motifnet_s") is None:
                lines.append(f"| {r['model']} | {r['data']} | {r['threads']} | {r['epochs']} | - | - | - | - | - | - | **NO** (error) |")
                continue
            l1, acc = r["epoch1_loss"], r["final_test_accuracy"]
            lines.append(
                f"| {r['model']} | {r['data']} | {r['threads']} | {r['epochs']} | {r['n_train']}/{r['n_test']} | "
                f"{_t(r['motifnet_s'])} | {_t(r['torch_s'])} | {_r(r['ratio'])} | {l1[0]:.5f} / {l1[1]:.5f} | "
                f"{acc[0]:.3f} / {acc[1]:.3f} | {'yes' if r['validated'] else '**NO**'} |")
        if e["errors"]:
            lines += [""] + [f"- {key}: {msg.splitlines()[-1]}" for key, msg in e["errors"].items()]
        lines.append("")
    st = results.get("startup")
    if st:
        lines += ["## Start-up (1 thread)", "", "| measurement | motifnet | torch | ratio |", "|---|---|---|---|"]
        imp = st.get("import", {})
        mi, ti = imp.get("motifnet", {}).get("median"), imp.get("torch", {}).get("median")
        lines.append(f"| import (`{IMPORT_LABEL}` vs `import torch`) | {_t(mi)} | {_t(ti)} | {_r(_ratio(ti, mi))} |")
        fs = st.get("first_step", {})
        tfs = fs.get("torch", {})

        def both(d):  # the first steps of the two models, run one after the other in one process
            vals = [d.get(model, {}).get("first") for model in ("cnn", "attention")]
            return None if None in vals else sum(vals)

        for label in ("motifnet_empty_cache", "motifnet_warm_cache"):
            if label in fs:
                per = ", ".join(f"{model} {_t(fs[label].get(model, {}).get('first'))} vs "
                                f"{_t(tfs.get(model, {}).get('first'))}" for model in ("cnn", "attention"))
                lines.append(f"| first training step (1 batch + evaluation) of cnn then attention, "
                             f"{label[9:].replace('_', ' ')} ({per}) | {_t(both(fs[label]))} | {_t(both(tfs))} | "
                             f"{_r(_ratio(both(tfs), both(fs[label])))} |")
        if "motifnet_empty_cache" in fs and "motifnet_warm_cache" in fs:
            cold, warm = both(fs["motifnet_empty_cache"]), both(fs["motifnet_warm_cache"])
            if cold is not None and warm is not None:
                lines.append(f"| Numba compilation of both models' kernels (empty minus warm cache; torch: its "
                             f"whole first steps, no JIT) | {_t(cold - warm)} | {_t(both(tfs))} | "
                             f"{_r(_ratio(both(tfs), cold - warm))} |")
        second = {lab: [fs.get(lab, {}).get(mo, {}).get("second") for mo in ("cnn", "attention")]
                  for lab in ("motifnet_warm_cache", "torch")}
        if None not in second["motifnet_warm_cache"] + second["torch"]:
            lines.append(f"| second training step, cnn + attention (steady state) | {_t(sum(second['motifnet_warm_cache']))} | "
                         f"{_t(sum(second['torch']))} | {_r(_ratio(sum(second['torch']), sum(second['motifnet_warm_cache'])))} |")
        tp = st.get("train_process", {})
        tt = tp.get("torch", {})
        for label in ("motifnet_empty_cache", "motifnet_warm_cache"):
            mv = tp.get(label)
            if mv:
                lines.append(f"| whole `motifnet train` process, primer data, {mv['epochs']} epochs, "
                             f"{label.replace('motifnet_', '').replace('_', ' ')} (torch: same script) | {_t(mv['median_s'])} | "
                             f"{_t(tt.get('median_s'))} | {_r(_ratio(tt.get('median_s'), mv['median_s']))} |")
        mv = tp.get("motifnet_warm_cache")
        if mv and tt and mv.get("peak_rss_mb") is not None and tt.get("peak_rss_mb") is not None:
            lines.append(f"| peak RSS of that training process | {mv['peak_rss_mb']:.0f} MB | {tt['peak_rss_mb']:.0f} MB | "
                         f"{_r(_ratio(tt['peak_rss_mb'], mv['peak_rss_mb']))} |")
        if st.get("errors"):
            lines += [""] + [f"- {key}: {(msg.strip().splitlines() or [''])[-1]}" for key, msg in st["errors"].items()]
        lines.append("")
    lines += targets_section(results)
    return "\n".join(lines) + "\n"


IMPORT_LABEL = "import kernels, motifnet + data, layers, models, optim, train"


def _ratio(a, b):
    return None if (a is None or b is None or b == 0) else a / b


def targets_section(results: dict) -> list[str]:
    """The lead's targets next to what this run measured (information, not a test)."""
    rows = []
    e = results.get("e2e", {}).get("rows", [])
    for model, key in (("cnn", "cnn_training_1_thread"), ("attention", "attention_training_1_thread")):
        r = next((r for r in e if r["model"] == model and r["threads"] == 1), None)
        if r and r.get("ratio"):
            rows.append((f"{model} training >= {TARGETS[key]}x torch at 1 thread", f"{r['ratio']:.2f}x", r["ratio"] >= TARGETS[key]))
    k = results.get("kernels", {}).get("rows", [])
    for (size, key), t in ((sk, t) for sk in (("primer", "kernel_fwdbwd_primer"), ("large", "kernel_fwdbwd_large"))
                           for t in sorted({r["threads"] for r in k})):
        sel = [r for r in k if r["size"] == size and r["threads"] == t and r["phase"] in ("fwdbwd", "step")]
        if sel:
            ok = [r for r in sel if r["ratio"] is not None]
            worst = min(ok, key=lambda r: r["ratio"]) if ok else None
            label = f"every kernel fwd+bwd (adam: step) at {size} shapes >= {TARGETS[key]}x, {t} thread{'s' * (t > 1)}"
            below = sorted(r["kernel"] for r in ok if r["ratio"] < TARGETS[key])
            val = (f"worst {worst['kernel']} {worst['ratio']:.2f}x" + (f"; below: {', '.join(below)}" if below else "")
                   if worst else "-")
            rows.append((label, val + ("" if len(ok) == len(sel) else f"; {len(sel) - len(ok)} not timed"),
                         bool(worst) and len(ok) == len(sel) and worst["ratio"] >= TARGETS[key]))
    tp = results.get("startup", {}).get("train_process", {})
    for label, key in (("motifnet_warm_cache", "train_process_warm_s"), ("motifnet_empty_cache", "train_process_empty_cache_s")):
        if label in tp:
            v = tp[label]["median_s"]
            rows.append((f"`motifnet train` ({tp[label]['epochs']} epochs), {label[9:].replace('_', ' ')} < {TARGETS[key]:g} s",
                         _t(v), v < TARGETS[key] and tp[label]["ok"]))
    if not rows:
        return []
    out = ["## Targets (measured by this run)", "", "| target | measured | met |", "|---|---|---|"]
    out += [f"| {a} | {b} | {'yes' if c else 'no'} |" for a, b, c in rows]
    return out + [""]


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = results.get("kernels", {}).get("rows", [])
    sizes = list(dict.fromkeys(r["size"] for r in k))
    threads = sorted({r["threads"] for r in k} | {r["threads"] for r in results.get("e2e", {}).get("rows", [])})
    panels = [("kernels, " + s + " shapes: fwd+bwd (adam: step)", s) for s in sizes]
    if results.get("e2e", {}).get("rows"):
        panels.append(("end-to-end training", None))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.5 * max(len(panels), 1), 4.2), squeeze=False)
    width = 0.8 / max(len(threads), 1)
    for ax, (title, size) in zip(axes[0], panels):
        if size is None:
            rows = results["e2e"]["rows"]
            names = list(dict.fromkeys(r["model"] for r in rows))
            get = lambda name, t: next((r["ratio"] for r in rows if r["model"] == name and r["threads"] == t), None)  # noqa: E731
        else:
            rows = [r for r in k if r["size"] == size and r["phase"] in ("fwdbwd", "step")]
            names = list(dict.fromkeys(r["kernel"] for r in rows))
            get = lambda name, t: next((r["ratio"] for r in rows if r["kernel"] == name and r["threads"] == t), None)  # noqa: E731
        for i, t in enumerate(threads):
            vals = [get(n, t) for n in names]
            xs = [j + (i - (len(threads) - 1) / 2) * width for j in range(len(names))]
            # bars start at ratio 1 (equal speed) on a log axis: up = motifnet faster, down = slower
            ax.bar(xs, [(v - 1.0) if v else 0.0 for v in vals], width, bottom=1.0,
                   label=f"{t} thread{'s' if t > 1 else ''}")
            for x, val in zip(xs, vals):
                label = "n/a" if not val else f"{val:.0f}" if val >= 10 else f"{val:.2f}"
                ax.annotate(label, (x, val or 1.0), ha="center",
                            va="bottom" if (val or 1.0) >= 1 else "top", fontsize=7)
        ax.set_yscale("log")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right")
        ax.set_ylabel("torch time / motifnet time (log)")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("motifnet vs torch (higher = motifnet faster)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def write_all(results: dict, out: Path) -> str:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(results)
    write_text(out / "results.json", json.dumps(results, indent=2, default=_json_default) + "\n")
    write_text(out / "results.md", md)
    plot(results, out / "ratios.png")
    return md


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")
