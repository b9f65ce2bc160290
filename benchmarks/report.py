"""results.json, results.md (markdown tables) and ratios.png from the suite's results."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from motifnet._atomic import save_figure, write_text

# What the lead checks (measured, never asserted by the tests)
TARGETS = {
    "cnn_training_1_thread": 5.0,
    "attention_training_1_thread": 4.0,
    "deepbind_training_1_thread": 3.0,
    "kernel_fwdbwd_seed": 1.5,
    "kernel_fwdbwd_large": 1.0,
    "long_sequences_vs_torch": 4.0,
    "scaling_2_threads": 1.6,
    "cold_start_extra_s": 3.0,
    "train_process_warm_s": 2.0,
    "train_process_empty_cache_s": 15.0,
    "scan_mbp_per_s_1_thread": 25.0,
    "scan_kernel_vs_torch": 5.0,
}


def versions(results: dict) -> dict:
    """Library versions as reported by the workers themselves."""
    out = {}
    infos = list(results.get("kernels", {}).get("info", {}).values())
    for per_threads in results.get("training", {}).get("info", {}).values():
        infos += list(per_threads.values())
    for info in infos:
        for k in ("python", "numpy", "numba", "torch", "jax", "jaxlib", "motifnet", "threading_layer"):
            if k in info:
                out[k] = info[k]
    if "numba" not in out or "torch" not in out:
        import importlib.metadata as md

        for k in ("numpy", "numba", "torch", "jax", "jaxlib"):
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


def _error_lines(errors: dict) -> list[str]:
    """One bullet per error: its key and the last line of its message (a worker's stderr)."""
    return [f"- {key}: {(msg.strip().splitlines() or [''])[-1]}" for key, msg in errors.items()]


def _load(load) -> str:
    return "?" if not load else " ".join(f"{x:.1f}" for x in load)


def markdown(results: dict) -> str:
    meta = results["meta"]
    m, s, v = meta["machine"], meta["settings"], meta.get("versions", {})
    lines = [
        "# motifnet vs torch (and JAX) benchmarks",
        "",
        "Ratios are torch (or JAX) time / motifnet time measured in the same run (> 1: motifnet faster).",
        "Times are medians; each library ran in its own process with its thread count fixed before import.",
        "",
        f"- machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['platform']}; "
        f"load average (1, 5, 15 min) at start {_load(m.get('load_average_at_start'))}, "
        f"at end {_load(m.get('load_average_at_end'))}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- date (UTC): {m['date_utc']}, git {m['git_commit']}"
        + (f" + uncommitted changes in {', '.join(m['uncommitted_changes'])}" if m.get("uncommitted_changes") else "")
        + f"; suite took {meta.get('seconds', 0):.0f} s",
        f"- settings: kernel threads {s['threads']} (training: 1, scaling rows: 1 and {s.get('scaling_threads')}), "
        f"kernel repeats {s['repeats']} samples (>= {s['min_sample_s'] * 1e3:g} ms of calls each), e2e training "
        f"repeats {s['e2e_repeats']}, growth repeats {s.get('growth_repeats')} of {s.get('growth_epochs')} epochs, "
        f"start-up repeats {s['startup_repeats']}, motifnet API timed: {s['api']}"
        + (" (QUICK MODE: tiny shapes, smoke test only)" if s["quick"] else ""),
        f"- validation before timing: motifnet's float32 results vs torch's float64 results on the same inputs, "
        f"max-norm relative error <= max(the registry's tolerance for that output, "
        f"{s['tolerances'].get('torch_error_factor', 4):g} x torch float32's own error on it); training: "
        f"a validation run of <= 50 Adam steps per job (motifnet vs torch, JAX vs motifnet) before timing",
        f"- JAX: {meta.get('jax', 'used')}",
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
                  "Each cell: motifnet / torch (torch/motifnet ratio).", "",
                  "Every op of `kernels/registry.py` at each of its named shapes (the registry's `tiny`, `seed` = "
                  "the primer model's, `large` = batch 256 x length 1000, `*_first_layer` = no input gradient); "
                  "motifnet through the registry's `forward_into`/`backward_into` (the fast kernels on buffers the "
                  "caller owns; the timed backward adds into the same buffers call after call), torch through the "
                  "registry's `torch_forward` on `requires_grad` inputs and `torch.autograd.grad` (`bwd` alone: on "
                  "one retained graph). Adam: one step over a flat parameter vector (torch.optim.Adam).", "",
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
            worst = max(val["checks"], key=lambda c: (not c["passed"], c.get("max_rel_err", math.inf) / max(c["rtol"], 1e-30)),
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
    tr = results.get("training")
    if tr:
        lines += training_tables(tr, meta)
    st = results.get("startup")
    if st:
        lines += startup_table(st)
    sc = results.get("scan")
    if sc:
        lines += scan_table(sc)
    lines += targets_section(results)
    return "\n".join(lines) + "\n"


IMPORT_LABEL = "import motifnet, motifnet.kernels + data, layers, models, optim, train"
LIB_LABEL = {"motifnet": "motifnet", "torch": "torch", "jax": "JAX"}


def _ratio(a, b):
    return None if (a is None or b is None or b == 0) else a / b


def _lib_cell(row, lib):
    """A library's time, or why there is none."""
    if not row.get(f"{lib}_ran"):
        return "skipped"
    if row.get(f"{lib}_s") is None:
        chk = row.get(f"{lib}_check")
        if lib != "torch" and chk and not chk.get("passed"):
            return "FAILED validation"
        return "error"
    return _t(row[f"{lib}_s"])


STARVED = 0.8  # CPU/wall below this at 1 thread: the run spent a fifth of its time waiting for a core


def _cpu(row, libs):
    vals = [row.get(f"{lib}_cpu_per_wall") for lib in libs]
    return " / ".join("-" if v is None else f"{v:.2f}" + ("*" if row["threads"] == 1 and v < STARVED else "")
                      for v in vals)


def _starved_note(rows):
    n = sum(1 for r in rows for lib in ("motifnet", "torch", "jax")
            if r["threads"] == 1 and (r.get(f"{lib}_cpu_per_wall") or 1.0) < STARVED)
    if not n:
        return []
    return [f"\\* CPU/wall below {STARVED:g} at 1 thread ({n} run(s) here): that library's runs waited for a "
            "core held by other processes for a fifth of their time or more; its time is inflated by as much, "
            "and the ratios beside it are off in that direction.", ""]


def _jax_ratio(row):
    if not row.get("jax_ran"):
        return "skipped"
    return _r(row.get("ratio_jax"))


def _valid_cell(row):
    parts = []
    for lib in ("motifnet", "jax"):
        if not row.get(f"{lib}_ran"):
            continue
        chk = row.get(f"{lib}_check") or {}
        if chk.get("passed"):
            parts.append(f"{LIB_LABEL[lib]} yes ({chk['epoch1_loss_rel_diff']:.0e}, {chk['param_rel_err']:.0e})")
        else:
            parts.append(f"{LIB_LABEL[lib]} **NO**")
    if row.get("final_accuracy_agrees") is False:
        parts.append("final accuracy **differs**")
    return "; ".join(parts)


def training_tables(tr: dict, meta: dict) -> list[str]:
    rows, libs = tr["rows"], tr.get("libs", [])
    libs_all = [lib for lib in ("motifnet", "torch", "jax")]
    out = []
    jax_note = "" if "jax" in libs else f" ({meta.get('jax', 'JAX not used')})"
    valid_note = ("valid: the validation run before any timing (one epoch over the first 50 batches of the "
                  "training set, from the same start, in each library) of motifnet against torch and of JAX "
                  "against motifnet: (its loss's relative difference, the worst parameter tensor's max-norm "
                  "relative difference after it); then the final validation accuracies of motifnet and torch "
                  "must agree within 0.05.")
    e2e = [r for r in rows if r["part"] == "e2e"]
    if e2e:
        out += ["## End-to-end training (1 thread)", "",
                "Same data, same initial weights (copied from motifnet), same mini-batches (one seeded "
                "permutation per epoch, batch 32, the last one partial), Adam lr 1e-3, evaluation on the "
                "validation set after every epoch; wall time of the whole `fit` call (motifnet.train.fit, "
                "benchmarks/torch_models.fit_torch, benchmarks/jax_models.fit_jax: one `jax.jit` of the whole "
                "step), median over repeats. Sequences of several lengths are padded to the longest of the "
                "data set in every library, with their lengths passed on." + jax_note, "", valid_note, "",
                "| model | data | train/valid | lengths | epochs | motifnet | torch | JAX | torch/motifnet | "
                "JAX/motifnet | CPU/wall (mn / torch / JAX) | final valid acc (mn / torch / JAX) | valid |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in e2e:
            accs = " / ".join("-" if r.get(f"{lib}_final_valid_accuracy") is None else
                              f"{r[f'{lib}_final_valid_accuracy']:.3f}" for lib in libs_all)
            lengths = (f"{r.get('min_length')}" if r.get("min_length") == r.get("max_length")
                       else f"{r.get('min_length')}-{r.get('max_length')}")
            out.append(f"| {r['model']} | {r['data']} | {r.get('n_train')}/{r.get('n_valid')} | {lengths} | "
                       f"{r['epochs']} | {_lib_cell(r, 'motifnet')} | {_lib_cell(r, 'torch')} | {_lib_cell(r, 'jax')} | "
                       f"{_r(r['ratio'])} | {_jax_ratio(r)} | {_cpu(r, libs_all)} | {accs} | {_valid_cell(r)} |")
        out.append("")
        out += _starved_note(e2e)
    growth = [r for r in rows if r["part"] == "growth" and r["threads"] == 1]
    if growth:
        out += ["## Growth table: the primer CNN over data size and length (1 thread)", "",
                "The primer's CNN (conv 4->32 x12, ReLU, max-pool 4, fc 16, fc 1; fc1's width grows with L) "
                "trained on `generate_data(N, L)` (the primer motif planted in half), training only (no "
                "validation set), the same number of Adam steps in each library; median wall time of the "
                "whole `fit` call." + jax_note, "", valid_note, "",
                "| N | L | Adam steps | motifnet | torch | JAX | torch/motifnet | JAX/motifnet | "
                "CPU/wall (mn / torch / JAX) | valid |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(growth, key=lambda r: (r["n"], r["length"])):
            out.append(f"| {r['n']} | {r['length']} | {r.get('adam_steps')} | {_lib_cell(r, 'motifnet')} | "
                       f"{_lib_cell(r, 'torch')} | {_lib_cell(r, 'jax')} | {_r(r['ratio'])} | {_jax_ratio(r)} | "
                       f"{_cpu(r, libs_all)} | {_valid_cell(r)} |")
        out.append("")
        out += _starved_note(growth)
    scaling = scaling_rows(rows)
    if scaling:
        out += ["## Thread scaling: the L=200 workload (growth cell) at 1 and 2 threads", "",
                "The same job, run by each library at each thread count in its own process "
                "(`NUMBA_NUM_THREADS`/`numba.set_num_threads`, `torch.set_num_threads`, XLA's "
                "`intra_op_parallelism_threads`). Speed-up = 1-thread time / n-thread time. CPU/wall shows how "
                "many cores a run actually kept busy; on a shared machine a 2-thread run waits for the second "
                "core whenever another process holds it."
                + (" Run in rounds (1 thread, then 2, one process each, then again): the speed-up is the median "
                   "over rounds of each round's ratio, listed in brackets; times and CPU/wall are medians over "
                   "rounds." if any(s.get("rounds") for s in scaling) else ""), "",
                "| library | N x L | threads | time | speed-up over 1 thread | CPU/wall | its time / motifnet's at this thread count |",
                "|---|---|---|---|---|---|---|"]
        for s in scaling:
            speedup = "-" if s["speedup"] is None else f"{s['speedup']:.2f}x"
            if s.get("speedups") and s["threads"] != 1:
                speedup += " (" + ", ".join(f"{v:.2f}" for v in s["speedups"]) + ")"
            cpu = "-" if s["cpu_per_wall"] is None else f"{s['cpu_per_wall']:.2f}"
            out.append(f"| {LIB_LABEL[s['lib']]} | {s['n']} x {s['length']} | {s['threads']} | {_t(s['seconds'])} | "
                       f"{speedup} | {cpu} | {_r(s['ratio_vs_motifnet'])} |")
        out.append("")
    if tr.get("errors"):
        out += ["Training errors:", ""] + _error_lines(tr["errors"])
        out.append("")
    fails = [(r["id"], r["threads"], lib, r.get(f"{lib}_check", {}).get("message"))
             for r in rows for lib in ("motifnet", "jax") if r.get(f"{lib}_ran") and r.get(f"{lib}_check")
             and not r[f"{lib}_check"].get("passed")]
    if fails:
        out += ["Training validation failures:", ""] + [f"- {jid} ({t} threads, {LIB_LABEL[lib]}): {msg}"
                                                        for jid, t, lib, msg in fails]
        out.append("")
    return out


def scaling_rows(rows: list[dict]) -> list[dict]:
    """One row per library and thread count of the job that was run at more than one thread count.

    Runs in rounds (the scaling part since git 728fddb: 1 thread, then each other count, one
    process each, ``--scaling-rounds`` times): the speed-up is the median over rounds of each
    round's 1-thread time over its n-thread time, and ``speedups`` lists them; the time and
    CPU/wall are medians over rounds.  Older results (one run per thread count): the ratio of
    the two runs."""
    rounds = [r for r in rows if r["part"] == "scaling" and r.get("round") is not None]
    if rounds:
        return _scaling_rounds(rounds)
    multi = {r["id"] for r in rows if r["threads"] > 1}
    out = []
    for jid in sorted(multi):
        by_t = {r["threads"]: r for r in rows if r["id"] == jid}
        for lib in ("motifnet", "torch", "jax"):
            base = by_t.get(1, {}).get(f"{lib}_s")
            for t in sorted(by_t):
                r = by_t[t]
                if not r.get(f"{lib}_ran"):
                    continue
                sec = r.get(f"{lib}_s")
                out.append({"lib": lib, "id": jid, "n": r.get("n"), "length": r.get("length"), "threads": t,
                            "seconds": sec, "speedup": _ratio(base, sec), "cpu_per_wall": r.get(f"{lib}_cpu_per_wall"),
                            "ratio_vs_motifnet": _ratio(sec, r.get("motifnet_s")) if lib != "motifnet" else None})
    return out


def _scaling_rounds(rows: list[dict]) -> list[dict]:
    out = []
    for jid in sorted({r["id"] for r in rows}):
        mine = [r for r in rows if r["id"] == jid]
        by = {(r["round"], r["threads"]): r for r in mine}
        counts = sorted({r["threads"] for r in mine})
        for lib in ("motifnet", "torch", "jax"):
            for t in counts:
                ran = [r for r in mine if r["threads"] == t and r.get(f"{lib}_ran")]
                if not ran:
                    continue
                ratios = [_ratio(by.get((r["round"], 1), {}).get(f"{lib}_s"), r.get(f"{lib}_s")) for r in ran]
                ratios = [v for v in ratios if v is not None]
                sec = _median([r.get(f"{lib}_s") for r in ran])
                out.append({"lib": lib, "id": jid, "n": ran[0].get("n"), "length": ran[0].get("length"),
                            "threads": t, "seconds": sec, "rounds": len(ran),
                            "speedup": statistics.median(ratios) if ratios else None, "speedups": ratios,
                            "cpu_per_wall": _median([r.get(f"{lib}_cpu_per_wall") for r in ran]),
                            "ratio_vs_motifnet": (_ratio(sec, _median([r.get("motifnet_s") for r in ran]))
                                                  if lib != "motifnet" else None)})
    return out


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def startup_table(st: dict) -> list[str]:
    lines = ["## Start-up (1 thread)", "", "| measurement | motifnet | torch | ratio (torch / motifnet) | JAX |",
             "|---|---|---|---|---|"]
    imp = st.get("import", {})
    mi, ti = imp.get("motifnet", {}).get("median"), imp.get("torch", {}).get("median")
    ji = imp.get("jax", {}).get("median")
    lines.append(f"| import (`{IMPORT_LABEL}`; `import torch`; `import jax, jax.numpy`) | {_t(mi)} | {_t(ti)} | "
                 f"{_r(_ratio(ti, mi))} | {_t(ji) if 'jax' in imp else 'skipped'} |")
    fs = st.get("first_step", {})
    tfs, jfs = fs.get("torch", {}), fs.get("jax")
    models = ("cnn", "attention", "deepbind")

    def total(d, key="first"):
        if not d:
            return None
        vals = [d.get(model, {}).get(key) for model in models]
        return None if None in vals else sum(vals)

    for label in ("motifnet_empty_cache", "motifnet_warm_cache"):
        if label in fs:
            per = ", ".join(f"{model} {_t(fs[label].get(model, {}).get('first'))}" for model in models)
            lines.append(f"| first training step (1 batch + evaluation) of {', '.join(models)}, one after the other, "
                         f"{label[9:].replace('_', ' ')} ({per}) | {_t(total(fs[label]))} | {_t(total(tfs))} | "
                         f"{_r(_ratio(total(tfs), total(fs[label])))} | "
                         + (("first call of the jitted steps (trace + compile; JAX keeps no cache between "
                             f"processes): {_t(total(jfs))}" if label == "motifnet_empty_cache" else "-")
                            if jfs else "skipped")
                         + " |")
    if "motifnet_empty_cache" in fs and "motifnet_warm_cache" in fs:
        cold, warm = total(fs["motifnet_empty_cache"]), total(fs["motifnet_warm_cache"])
        if cold is not None and warm is not None:
            jc = None if not jfs else total(jfs) - total(jfs, "second")
            lines.append(f"| compilation: motifnet's Numba (empty minus warm cache); JAX: first minus second call; "
                         f"torch: none | {_t(cold - warm)} | - | - | {_t(jc) if jfs else 'skipped'} |")
    second = {lab: total(fs.get(lab), "second") for lab in ("motifnet_warm_cache", "torch", "jax")}
    if second["motifnet_warm_cache"] is not None and second["torch"] is not None:
        lines.append(f"| second training step, {' + '.join(models)} (steady state) | {_t(second['motifnet_warm_cache'])} | "
                     f"{_t(second['torch'])} | {_r(_ratio(second['torch'], second['motifnet_warm_cache']))} | "
                     f"{_t(second['jax']) if jfs else 'skipped'} |")
    tp = st.get("train_process", {})
    tt = tp.get("torch", {})
    for label in ("motifnet_empty_cache", "motifnet_warm_cache"):
        mv = tp.get(label)
        if mv:
            lines.append(f"| whole `motifnet train` process, its default data (generated 2000 x 50), {mv['epochs']} "
                         f"epochs, {label.replace('motifnet_', '').replace('_', ' ')} (torch: the same work in "
                         f"`benchmarks/train_torch.py`) | {_t(mv['median_s'])} | {_t(tt.get('median_s'))} | "
                         f"{_r(_ratio(tt.get('median_s'), mv['median_s']))} | - |")
    cs = cold_start(st)
    if cs is not None:
        jtxt = f"JAX's first call of the jitted steps: {_t(total(jfs) - total(jfs, 'second'))} of compilation" if jfs else "skipped"
        pairs = st.get("cold_start_pairs_s")
        how = (f" (median of {len(pairs)} pairs, each an empty-cache run and then a warm one: "
               + ", ".join(_t(v) for v in pairs) + ")") if pairs else ""
        lines.append(f"| cold start: empty-cache minus warm `motifnet train`{how} | {_t(cs)} | - | - | {jtxt} |")
    mv = tp.get("motifnet_warm_cache")
    if mv and tt and mv.get("peak_rss_mb") is not None and tt.get("peak_rss_mb") is not None:
        lines.append(f"| peak RSS of that training process | {mv['peak_rss_mb']:.0f} MB | {tt['peak_rss_mb']:.0f} MB | "
                     f"{_r(_ratio(tt['peak_rss_mb'], mv['peak_rss_mb']))} | - |")
    if st.get("errors"):
        lines += [""] + _error_lines(st["errors"])
    lines.append("")
    return lines


def scan_table(sc: dict) -> list[str]:
    """The whole `motifnet scan` command (benchmarks/scan_command.py)."""
    lines = ["## Scanning: the whole `motifnet scan` command", ""]
    inp = sc.get("input")
    if inp:
        tr = inp["model_training"]
        lines += [f"Input: {inp['bases'] / 1e6:.1f} Mbp of generated sequence in {inp['records']} record(s) "
                  f"({inp['gc']:.0%} GC, {inp['n_bases'] / 1e6:.2f} Mbp of N in runs, {inp['planted_sites']:,} planted "
                  f"sites of {tr['motif']}), plain FASTA ({inp['bytes']['plain'] / 1e6:.0f} MB) and gzip "
                  f"({inp['bytes']['gzip'] / 1e6:.0f} MB). Model: deepbind (32 filters of 15 bp) from `motifnet train` on "
                  f"{tr['n']} generated sequences of {tr['lengths']} bp, {tr['epochs']} epochs. Each run is one process "
                  "(`motifnet scan MODEL INPUT --threads T`, with `NUMBA_NUM_THREADS` = T); wall time from process start "
                  "to exit; *streaming* is the command's own timing in scan.json (reading, scanning, calling sites, "
                  "writing), the rest is the fixed start (imports, model, threshold calibration on shuffles of the first "
                  "Mb, naming filters against JASPAR).", ""]
    val = sc.get("validation")
    if val:
        lines += [("Validated before timing: " if val["passed"] else "**NOT validated**: ")
                  + (f"{val['windows_checked']} sampled windows' bedGraph values against the model's own forward on "
                     f"those windows (worst error {val['worst_error_over_allowed']:.2f} of the allowed); every timed run's "
                     "outputs byte-for-byte those of the untimed reference run." if val["passed"] else val.get("message", "")),
                  ""]
    if sc.get("counts"):
        c = sc["counts"]
        lines += [f"The reference run: {c['windows_scored']:,} windows scored, {c['windows_mostly_n']:,} mostly N, "
                  f"{c['windows_above_threshold']:,} above the threshold, {c['sites']:,} sites called; "
                  f"{sc.get('recovered_planted_sites', 0):,} of the {inp['planted_sites']:,} planted sites overlapped by a "
                  "call.", ""]
    if sc.get("rows"):
        lines += ["| input | threads | runs | same output | wall (median) | Mbp/s, whole process | streaming | "
                  "Mbp/s, streaming | fixed start | peak RSS | 3.1 Gbp at this rate |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in sc["rows"]:
            lines.append(f"| {r['format']} FASTA | {r['threads']} | {r['runs']} | {'yes' if r['validated'] else '**NO**'} "
                         f"| {_t(r['seconds'])} | {r['mbp_per_s']:.1f} | {_t(r['stream_seconds'])} | "
                         f"**{r['stream_mbp_per_s']:.1f}** | {_t(r['fixed_seconds'])} | {r['peak_rss_mb']:.0f} MB | "
                         f"{r['genome_minutes']:.1f} min |")
        by = {(r["format"], r["threads"]): r for r in sc["rows"]}
        for fmt in ("plain", "gzip"):
            one, two = by.get((fmt, 1)), by.get((fmt, 2))
            if one and two:
                lines.append(f"\n{fmt} FASTA, 2 threads against 1: {one['stream_seconds'] / two['stream_seconds']:.2f}x "
                             f"streaming, {one['seconds'] / two['seconds']:.2f}x whole process.")
    if sc.get("errors"):
        lines += [""] + _error_lines(sc["errors"])
    lines.append("")
    return lines


def cold_start(st: dict):
    """The first run's extra seconds: the median over (empty cache, then warm) pairs of
    their difference; older results without pairs: the difference of the medians."""
    if st.get("cold_start_pairs_s"):
        return statistics.median(st["cold_start_pairs_s"])
    tp = st.get("train_process", {})
    cold, warm = tp.get("motifnet_empty_cache", {}), tp.get("motifnet_warm_cache", {})
    if cold.get("median_s") is None or warm.get("median_s") is None:
        return None
    return cold["median_s"] - warm["median_s"]


def targets_section(results: dict) -> list[str]:
    """The lead's targets next to what this run measured (information, not a test)."""
    rows = []
    tr = results.get("training", {}).get("rows", [])
    e2e = [r for r in tr if r["part"] == "e2e" and r["threads"] == 1]
    for model, data, key in (("cnn", "primer", "cnn_training_1_thread"), ("attention", None, "attention_training_1_thread"),
                             ("deepbind", "variable", "deepbind_training_1_thread"),
                             ("deepbind", "planted", "deepbind_training_1_thread")):
        r = next((r for r in e2e if r["model"] == model and (data is None or r["data"] == data)), None)
        if r:
            ok = r.get("ratio") is not None and r["validated"]
            rows.append((f"{model} training ({r['data']} data, {r['epochs']} epochs) >= {TARGETS[key]:g}x torch at 1 thread",
                         f"{r['ratio']:.2f}x" if r.get("ratio") else "-", ok and r["ratio"] >= TARGETS[key]))
    k = results.get("kernels", {}).get("rows", [])
    for size, key in (("seed", "kernel_fwdbwd_seed"), ("large", "kernel_fwdbwd_large")):
        for t in sorted({r["threads"] for r in k}):
            sel = [r for r in k if r["size_class"] == size and r["threads"] == t and r["phase"] in ("fwdbwd", "step")]
            if not sel:
                continue
            ok = [r for r in sel if r["ratio"] is not None]
            worst = min(ok, key=lambda r: r["ratio"]) if ok else None
            label = (f"every kernel fwd+bwd (adam: step) at {size} shapes >= {TARGETS[key]:g}x torch, "
                     f"{t} thread{'s' * (t > 1)}")
            below = sorted(f"{r['kernel']}/{r['size']} {r['ratio']:.2f}x" for r in ok if r["ratio"] < TARGETS[key])
            val = (f"worst {worst['kernel']}/{worst['size']} {worst['ratio']:.2f}x" + (f"; below: {', '.join(below)}" if below else "")
                   if worst else "-")
            rows.append((label, val + ("" if len(ok) == len(sel) else f"; {len(sel) - len(ok)} not timed"),
                         bool(worst) and len(ok) == len(sel) and worst["ratio"] >= TARGETS[key]))
    growth = [r for r in tr if r["part"] == "growth" and r["threads"] == 1]
    long_rows = [r for r in growth if r["length"] >= 200]
    if long_rows:
        vals = [r.get("ratio") for r in long_rows]
        ok = all(v is not None and v >= TARGETS["long_sequences_vs_torch"] for v in vals)
        rows.append((f"training at L=200 and L=1000 >= {TARGETS['long_sequences_vs_torch']:g}x torch eager, 1 thread",
                     ", ".join(f"N={r['n']} L={r['length']}: " + ("-" if r.get("ratio") is None else f"{r['ratio']:.2f}x")
                               for r in long_rows), ok))
    if growth and any(r.get("jax_ran") for r in growth):
        vals = [r.get("ratio_jax") for r in growth]
        ok = all(v is not None and v > 1.0 for v in vals)
        rows.append(("ahead of JAX's jitted step at every size of the growth table (JAX/motifnet > 1), 1 thread",
                     ", ".join(f"N={r['n']} L={r['length']}: " + ("-" if r.get("ratio_jax") is None else f"{r['ratio_jax']:.2f}x")
                               for r in growth), ok))
    for s in scaling_rows(tr):
        if s["lib"] == "motifnet" and s["threads"] == 2:
            v = s["speedup"]
            rows.append((f"motifnet >= {TARGETS['scaling_2_threads']:g}x from 1 to 2 threads (N={s['n']} x L={s['length']})",
                         "-" if v is None else f"{v:.2f}x (CPU/wall {s['cpu_per_wall']:.2f})" if s["cpu_per_wall"] else f"{v:.2f}x",
                         v is not None and v >= TARGETS["scaling_2_threads"]))
    for r in results.get("kernels", {}).get("rows", []):
        if r["kernel"] == "scan" and r["size_class"] == "large" and r["threads"] == 1 and r["motifnet_s"]:
            from motifnet.kernels.registry import BY_NAME

            bases = BY_NAME["scan"].shapes[r["size"]]["L"]
            mbps = bases / r["motifnet_s"] / 1e6
            rows.append((f"scan kernel (both strands, window max) over {bases / 1e6:g} Mbp, 1 thread: >= {TARGETS['scan_kernel_vs_torch']:g}x "
                         f"torch and >= {TARGETS['scan_mbp_per_s_1_thread']:g} Mbp/s",
                         f"{r['ratio']:.2f}x, {mbps:.1f} Mbp/s",
                         r["ratio"] >= TARGETS["scan_kernel_vs_torch"] and mbps >= TARGETS["scan_mbp_per_s_1_thread"]))
    for r in results.get("scan", {}).get("rows", []):
        if r["threads"] == 1:
            rows.append((f"`motifnet scan`, {r['format']} FASTA, 1 thread, streaming >= "
                         f"{TARGETS['scan_mbp_per_s_1_thread']:g} Mbp/s (a 3.1 Gbp genome in about two minutes)",
                         f"{r['stream_mbp_per_s']:.1f} Mbp/s ({r['genome_minutes']:.1f} min)",
                         r["validated"] and r["stream_mbp_per_s"] >= TARGETS["scan_mbp_per_s_1_thread"]))
    st = results.get("startup", {})
    cs = cold_start(st)
    if cs is not None:
        rows.append((f"cold start: the first `motifnet train` (default data, empty Numba cache) <= "
                     f"{TARGETS['cold_start_extra_s']:g} s beyond a warm run", _t(cs), cs <= TARGETS["cold_start_extra_s"]))
    tp = st.get("train_process", {})
    for label, key in (("motifnet_warm_cache", "train_process_warm_s"), ("motifnet_empty_cache", "train_process_empty_cache_s")):
        if label in tp and tp[label]["median_s"] is not None:
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
    tr = results.get("training", {}).get("rows", [])
    sizes = list(dict.fromkeys(r["size_class"] for r in k))
    threads = sorted({r["threads"] for r in k})
    panels = [("kernel", s) for s in sizes]
    if any(r["part"] == "growth" and r["threads"] == 1 for r in tr):
        panels.append(("growth", None))
    if any(r["part"] == "e2e" for r in tr):
        panels.append(("e2e", None))
    n = max(len(panels), 1)
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4.4), squeeze=False)
    for ax, (kind, size) in zip(axes[0], panels):
        if kind == "kernel":
            rows = [r for r in k if r["size_class"] == size and r["phase"] in ("fwdbwd", "step")]
            names = list(dict.fromkeys(f"{r['kernel']}" + ("" if r["size"] == size else r["size"][len(size):])
                                       for r in rows))
            label_of = lambda r: f"{r['kernel']}" + ("" if r["size"] == r["size_class"] else r["size"][len(r["size_class"]):])  # noqa: E731
            series = [(f"torch/motifnet, {t} thread{'s' if t > 1 else ''}",
                       [next((r["ratio"] for r in rows if label_of(r) == nm and r["threads"] == t), None) for nm in names])
                      for t in threads]
            _bars(ax, names, series)
            ax.set_title(f"kernels, {size} shapes: fwd+bwd (adam: step)", fontsize=10)
        elif kind == "growth":
            rows = [r for r in tr if r["part"] == "growth" and r["threads"] == 1]
            for n_seq, marker in zip(sorted({r["n"] for r in rows}), "os^v"):
                sel = sorted((r for r in rows if r["n"] == n_seq), key=lambda r: r["length"])
                Ls = [r["length"] for r in sel]
                ax.plot(Ls, [r.get("ratio") or float("nan") for r in sel], marker=marker, color="C0",
                        label=f"torch eager / motifnet, N={n_seq}")
                if any(r.get("ratio_jax") for r in sel):
                    ax.plot(Ls, [r.get("ratio_jax") or float("nan") for r in sel], marker=marker, color="C1",
                            ls="--", label=f"JAX jit / motifnet, N={n_seq}")
            ax.set_xscale("log")
            lengths = sorted({r["length"] for r in rows})
            ax.set_xticks(lengths)
            ax.set_xticklabels([str(L) for L in lengths])
            ax.minorticks_off()
            ax.set_xlabel("sequence length L")
            ax.set_title("training the primer CNN over sizes (1 thread)", fontsize=10)
            ax.axhline(1.0, color="k", lw=0.8)
            ax.set_yscale("log")
            ax.set_ylabel("their time / motifnet time (log)")
            ax.legend(fontsize=7)
        else:
            rows = [r for r in tr if r["part"] == "e2e" and r["threads"] == 1]
            names = [r["model"] + ("" if r["data"] != "planted" else " (planted)") for r in rows]
            series = [("torch/motifnet", [r.get("ratio") for r in rows])]
            if any(r.get("ratio_jax") for r in rows):
                series.append(("JAX/motifnet", [r.get("ratio_jax") for r in rows]))
            _bars(ax, names, series)
            ax.set_title("end-to-end training (1 thread)", fontsize=10)
    fig.suptitle("motifnet vs torch and JAX (higher = motifnet faster)", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def _bars(ax, names, series):
    width = 0.8 / max(len(series), 1)
    for i, (label, vals) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(names))]
        # bars start at ratio 1 (equal speed) on a log axis: up = motifnet faster, down = slower
        ax.bar(xs, [(v - 1.0) if v else 0.0 for v in vals], width, bottom=1.0, label=label)
        for x, val in zip(xs, vals):
            text = "n/a" if not val else f"{val:.0f}" if val >= 10 else f"{val:.2f}"
            ax.annotate(text, (x, val or 1.0), ha="center", va="bottom" if (val or 1.0) >= 1 else "top", fontsize=6)
    ax.set_yscale("log")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("their time / motifnet time (log)")
    ax.legend(fontsize=7)


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
