"""The benchmark suite's driver: spawns the workers, validates, writes the report.

    python -m benchmarks [--quick] [--threads 1 2] [--repeats N] [--out DIR]
                         [--parts kernels e2e startup] [--api unchecked|public]

Every measurement runs in a child process that imports ONE library with its
thread count fixed before import (``benchmarks/worker.py``); this process only
orchestrates, compares and writes (it never imports torch).  Order per thread
count: the torch worker computes the reference outputs and times its kernels;
the motifnet worker computes its outputs and waits; the outputs are compared
here (max-norm relative, ``tests/checks.assert_close``) and only the cases that
pass are timed.  A failing case is reported as FAILED, without a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks import cases as C

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results"
PRIMER_DIR = REPO.parent / "shared" / "data" / "primer"

# Validation of a kernel output, max-norm relative (|a - e| <= rtol * max|e|, tests/checks.assert_close).
# motifnet's float32 result is compared with torch's float64 result on the same inputs (the
# near-exact answer) and may be off by max(FLOOR_RTOL, TORCH_ERROR_FACTOR x torch's own float32
# error on that output): most outputs then get 1e-4, while an ill-conditioned one (attention's
# dq at L=247 cancels to ~6e-5 relative in torch's float32 too) gets a proportionate allowance.
# Without a float64 answer motifnet is compared with torch's float32 result at FLOOR_RTOL.
VALUE_RTOL = 1e-4  # outputs
GRAD_RTOL = 1e-4  # gradients
TORCH_ERROR_FACTOR = 4.0
# end to end: first-epoch loss from the same initial weights and batches, final test accuracy
E2E_LOSS_RTOL = 1e-3
E2E_ACCURACY_ATOL = 0.05

sys.path.insert(0, str(REPO / "tests"))
from checks import assert_close  # noqa: E402  (the suite's one comparison helper)


# -------------------------------------------------------------------------- processes
def thread_env(threads: int, extra: dict | None = None) -> dict:
    env = os.environ.copy()
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.update(extra or {})
    return env


WORKER_TIMEOUT_S = 3600  # a hung worker fails the part instead of hanging the suite


class WorkerError(RuntimeError):
    pass


def run_worker(spec: dict, workdir: Path, verdict=None, env_extra: dict | None = None) -> dict:
    """Run ``benchmarks.worker`` on ``spec``; ``verdict()`` answers its READY (kernels task)."""
    tag = f"{spec['task']}-{spec['lib']}-t{spec['threads']}-{time.monotonic_ns()}"
    spec_path, result_path, err_path = (workdir / f"{tag}.{ext}" for ext in ("spec.json", "result.json", "stderr"))
    spec = {**spec, "wait_for_verdict": verdict is not None}
    spec_path.write_text(json.dumps(spec))
    with open(err_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", str(spec_path), str(result_path)],
            cwd=REPO, env=thread_env(spec["threads"], env_extra),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
        )
        try:
            if verdict is not None:
                line = proc.stdout.readline()
                if line.strip() == "READY":
                    proc.stdin.write(json.dumps(sorted(verdict())) + "\n")
                    proc.stdin.flush()
            proc.stdin.close()
            proc.stdout.read()
            rc = proc.wait(timeout=WORKER_TIMEOUT_S)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if rc != 0 or not result_path.exists():
        tail = err_path.read_text()[-2000:]
        raise WorkerError(f"{spec['lib']} worker ({spec['task']}, {spec['threads']} threads) exited {rc}:\n{tail}")
    return json.loads(result_path.read_text())


def run_process(cmd: list[str], env: dict, workdir: Path, cwd=REPO) -> dict:
    """Wall time, exit status and peak RSS of one process, via ``benchmarks.peak_rss``."""
    result_path = workdir / f"process-{time.monotonic_ns()}.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.peak_rss", str(result_path), "--", *cmd],
                          cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=WORKER_TIMEOUT_S)
    if not result_path.exists():
        return {"seconds": None, "returncode": proc.returncode, "peak_rss_mb": None,
                "stderr": proc.stderr.decode(errors="replace")[-1500:]}
    res = json.loads(result_path.read_text())
    res["stderr"] = proc.stderr.decode(errors="replace")[-1500:]
    return res


# ------------------------------------------------------------------------- validation
def compare_outputs(key: str, actual: dict, expected: dict, exact: dict | None = None) -> dict:
    """Compare motifnet's outputs of one case with torch's; {"passed", "checks": [...]}.

    ``expected``: torch's float32 outputs; ``exact``: torch's float64 outputs on the
    same inputs, when available (see the tolerance note at the top of this module).
    """
    checks, passed = [], True
    for name, exp in expected.items():
        floor = GRAD_RTOL if name.startswith("d") else VALUE_RTOL
        row = {"name": name, "rtol": floor}
        exp = np.asarray(exp, dtype=np.float64)
        if exact is not None and name in exact and np.shape(exact[name]) == exp.shape and exp.size:
            ref = np.asarray(exact[name], dtype=np.float64)
            scale = max(float(np.max(np.abs(ref))), 1e-30)
            row["torch_float32_rel_err"] = float(np.max(np.abs(exp - ref))) / scale
            row["rtol"] = max(floor, TORCH_ERROR_FACTOR * row["torch_float32_rel_err"])
            row["against"] = "torch float64"
            exp = ref
        else:
            row["against"] = "torch float32"
        act = actual.get(name)
        if act is None:
            row.update(passed=False, message=f"{key}/{name}: missing from motifnet's outputs")
        else:
            act = np.asarray(act, dtype=np.float64)
            scale = float(np.max(np.abs(exp))) if exp.size else 0.0
            if act.shape == exp.shape and exp.size:
                row["max_rel_err"] = float(np.nanmax(np.abs(act - exp))) / max(scale, 1e-30)
            try:
                assert_close(f"{key}/{name}", act, exp, rtol=row["rtol"])
                row["passed"] = True
            except AssertionError as exc:
                row.update(passed=False, message=f"{exc} [vs {row['against']}]")
        passed &= row["passed"]
        checks.append(row)
    return {"passed": bool(passed and checks), "checks": checks}


def _group(npz, prefix: str = "") -> dict[str, dict[str, np.ndarray]]:
    """{"kernel/size": {name: array}} for the entries of ``npz`` under ``prefix`` (and only those)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for full in npz.files:
        if prefix and not full.startswith(prefix):
            continue
        if not prefix and full.startswith(C.F64_PREFIX):
            continue
        key, name = full[len(prefix):].rsplit("/", 1)
        out.setdefault(key, {})[name] = npz[full]
    return out


# ---------------------------------------------------------------------------- kernels
def bench_kernels(args, workdir: Path, log) -> dict:
    case_list = [[k, s] for k in args.kernels for s in args.sizes]
    common = dict(task="kernels", cases=case_list, repeats=args.repeats, min_sample_s=args.min_sample, api=args.api)
    rows, validation, errors, info = [], [], {}, {}
    for t in args.threads:
        log(f"kernels, {t} thread(s): torch")
        ref_path, mn_path = workdir / f"torch-t{t}.npz", workdir / f"motifnet-t{t}.npz"
        tres = run_worker({**common, "lib": "torch", "threads": t, "outputs": str(ref_path)}, workdir)
        info[f"torch-t{t}"] = tres["info"]
        verdicts = {}

        def verdict():
            ref_npz = np.load(ref_path)
            ref, exact, mine = _group(ref_npz), _group(ref_npz, C.F64_PREFIX), _group(np.load(mn_path))
            for key, expected in ref.items():
                res = compare_outputs(key, mine.get(key, {}), expected, exact.get(key)) if key in mine else {
                    "passed": False, "checks": [], "message": "motifnet could not run this case"}
                verdicts[key] = res
            return [k for k, v in verdicts.items() if v["passed"]]

        log(f"kernels, {t} thread(s): motifnet")
        perturb = [p.split("/") for p in args.perturb]
        perturb = [[p[0], s] for p in perturb for s in args.sizes if len(p) == 1 or p[1] == s]
        mres = run_worker({**common, "lib": "motifnet", "threads": t, "outputs": str(mn_path), "perturb": perturb},
                          workdir, verdict=verdict)
        info[f"motifnet-t{t}"] = mres["info"]
        for where, res in (("torch", tres), ("motifnet", mres)):
            for key, msg in res["errors"].items():
                errors[f"{where} t{t} {key}"] = msg
        for kernel, size in case_list:
            key = f"{kernel}/{size}"
            v = verdicts.get(key, {"passed": False, "checks": [], "message": "torch could not run this case"})
            validation.append({"kernel": kernel, "size": size, "threads": t, **v})
            for phase in C.phases_of(kernel):
                tt = tres["timings"].get(key, {}).get(phase)
                mt = mres["timings"].get(key, {}).get(phase)
                rows.append({
                    "kernel": kernel, "size": size, "shape": C.shape_label(kernel, size), "threads": t, "phase": phase,
                    "validated": v["passed"],
                    "motifnet_s": mt["median"] if mt else None, "torch_s": tt["median"] if tt else None,
                    "ratio": tt["median"] / mt["median"] if (mt and tt) else None,
                    "motifnet_calls_per_sample": mt["n_calls"] if mt else None,
                    "torch_calls_per_sample": tt["n_calls"] if tt else None,
                })
    return {"rows": rows, "validation": validation, "errors": errors, "info": info}


# ---------------------------------------------------------------------- end to end
def e2e_jobs(args, workdir: Path) -> list[dict]:
    if args.quick:
        data_cnn = {"kind": "synthetic", "n": 200, "length": 50, "seed": 0, "test_size": 0.25}
        data_attn = {"kind": "synthetic", "n": 200, "length": 50, "seed": 0, "test_size": 0.2}
        epochs_cnn = epochs_attn = 2
    else:
        data_cnn = {"kind": "primer", "dir": str(args.primer_dir), "seed": 0, "test_size": 0.25}
        data_attn = {"kind": "synthetic", "n": 2000, "length": 50, "seed": 0, "test_size": 0.2}
        epochs_cnn, epochs_attn = 50, 30
    base = dict(batch_size=32, lr=1e-3, seed=0, repeats=args.e2e_repeats)
    return [
        {**base, "model": "cnn", "data": data_cnn, "epochs": epochs_cnn, "state": str(workdir / "e2e-cnn.npz")},
        {**base, "model": "attention", "data": data_attn, "epochs": epochs_attn, "state": str(workdir / "e2e-attention.npz")},
    ]


def bench_e2e(args, workdir: Path, log) -> dict:
    jobs, rows, errors = e2e_jobs(args, workdir), [], {}
    for t in args.e2e_threads:
        res = {}
        for lib in ("motifnet", "torch"):  # motifnet first: it writes the data and initial weights
            log(f"end to end, {t} thread(s): {lib}")
            try:
                res[lib] = run_worker({"task": "train", "lib": lib, "threads": t, "models": jobs}, workdir)["train"]
            except WorkerError as exc:
                errors[f"{lib} t{t}"] = str(exc)
                res[lib] = {}
        for job in jobs:
            m, tr = res["motifnet"].get(job["model"]), res["torch"].get(job["model"])
            row = {"model": job["model"], "threads": t, "epochs": job["epochs"], "data": job["data"]["kind"],
                   "batch_size": job["batch_size"], "repeats": job["repeats"]}
            if m and tr:
                row.update(
                    n_train=m["n_train"], n_test=m["n_test"], motifnet_s=m["median"], torch_s=tr["median"],
                    ratio=tr["median"] / m["median"], motifnet_runs=m["seconds"], torch_runs=tr["seconds"],
                    motifnet_warmup_s=m["warmup_seconds"], torch_warmup_s=tr["warmup_seconds"],
                    **validate_e2e(m["history"], tr["history"]),
                )
            else:
                row.update(validated=False, motifnet_s=None, torch_s=None, ratio=None)
            rows.append(row)
    return {"rows": rows, "errors": errors}


def validate_e2e(hist_m: list[dict], hist_t: list[dict]) -> dict:
    """Same start, same batches: first-epoch losses agree closely, final accuracies roughly."""
    l_m, l_t = hist_m[0]["loss"], hist_t[0]["loss"]
    acc_m, acc_t = hist_m[-1]["test_accuracy"], hist_t[-1]["test_accuracy"]
    loss_rel = abs(l_m - l_t) / max(abs(l_t), 1e-12)
    ok = loss_rel <= E2E_LOSS_RTOL and acc_m is not None and acc_t is not None and abs(acc_m - acc_t) <= E2E_ACCURACY_ATOL
    return {"validated": bool(ok), "epoch1_loss": [l_m, l_t], "epoch1_loss_rel_diff": loss_rel,
            "final_test_accuracy": [acc_m, acc_t], "final_loss": [hist_m[-1]["loss"], hist_t[-1]["loss"]]}


# -------------------------------------------------------------------------- start-up
IMPORT_CODE = {
    "motifnet": "import kernels, motifnet, motifnet.data, motifnet.layers, motifnet.models, motifnet.optim, motifnet.train",
    "torch": "import torch",
}


def bench_startup(args, workdir: Path, log) -> dict:
    out: dict = {"errors": {}}
    env1 = thread_env(1)
    # 1. import time, in a fresh interpreter each time
    imports = {}
    for lib, code in IMPORT_CODE.items():
        log(f"start-up: import {lib}")
        samples = []
        for _ in range(args.startup_repeats):
            prog = f"import time; t0 = time.perf_counter(); {code}; print(time.perf_counter() - t0)"
            r = subprocess.run([sys.executable, "-c", prog], cwd=REPO, env=env1, capture_output=True, text=True)
            if r.returncode != 0:
                out["errors"][f"import {lib}"] = r.stderr[-1500:]
                break
            samples.append(float(r.stdout.strip()))
        imports[lib] = {"median": statistics.median(samples) if samples else None, "samples": samples, "code": code}
    out["import"] = imports

    # 2. the first training step (compiles every kernel with an empty cache) vs torch's first step
    cold_cache = Path(tempfile.mkdtemp(prefix="numba-cache-", dir=workdir))
    first = {}
    plan = []  # quick mode skips this part: two more processes for little information
    if not args.quick:
        plan = [("torch", "torch", {})]
        if args.cold:
            plan += [("motifnet_empty_cache", "motifnet", {"NUMBA_CACHE_DIR": str(cold_cache)}),
                     ("motifnet_warm_cache", "motifnet", {"NUMBA_CACHE_DIR": str(cold_cache)})]
        else:
            plan += [("motifnet_warm_cache", "motifnet", {})]
    for label, lib, extra in plan:
        log(f"start-up: first training step, {label}")
        try:
            r = run_worker({"task": "first_step", "lib": lib, "threads": 1, "models": ["cnn", "attention"]},
                           workdir, env_extra=extra)
            first[label] = {"import_seconds": r["info"]["import_seconds"], **r["first_step"]}
        except WorkerError as exc:
            out["errors"][f"first step {label}"] = str(exc)
    out["first_step"] = first

    # 3. a whole `motifnet train` process on the primer data vs the torch script, and peak RSS
    seqs, labels = str(args.primer_dir / "sequences.txt"), str(args.primer_dir / "labels.txt")
    epochs = "2" if args.quick else "50"
    common = ["--sequences", seqs, "--labels", labels, "--epochs", epochs, "--quiet"]
    proc_cache = Path(tempfile.mkdtemp(prefix="numba-cache-train-", dir=workdir))
    runs: dict = {}

    def one(label, cmd, extra):
        run_dir = workdir / f"run-{label}-{time.monotonic_ns()}"
        r = run_process(cmd + ["--out", str(run_dir)], thread_env(1, extra), workdir)
        if r["returncode"] != 0:
            out["errors"][f"process {label}"] = r["stderr"]
        runs.setdefault(label, []).append(r)
        shutil.rmtree(run_dir, ignore_errors=True)

    motifnet_cmd = [sys.executable, "-m", "motifnet", "train", *common]
    torch_cmd = [sys.executable, "-m", "benchmarks.train_torch", *common]
    if args.cold:
        log("start-up: motifnet train, empty cache")
        one("motifnet_empty_cache", motifnet_cmd, {"NUMBA_CACHE_DIR": str(proc_cache)})
    warm_env = {"NUMBA_CACHE_DIR": str(proc_cache)} if args.cold else {}
    for i in range(args.startup_repeats):
        log(f"start-up: motifnet train (warm cache) and torch script, repeat {i + 1}")
        one("motifnet_warm_cache", motifnet_cmd, warm_env)
        one("torch", torch_cmd, {})
    out["train_process"] = {}
    for label, rs in runs.items():
        ok = [r for r in rs if r["returncode"] == 0]
        out["train_process"][label] = {
            "epochs": int(epochs), "ok": len(ok) == len(rs), "runs_s": [r["seconds"] for r in rs],
            "median_s": statistics.median([r["seconds"] for r in ok]) if ok else None,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ok) if ok else None,
        }
    return out


# ---------------------------------------------------------------------------- machine
def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit, dirty = code_version()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "git_commit": commit, "uncommitted_changes": dirty, "load_average_at_start": load,
            "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")}


def code_version() -> tuple[str, list[str]]:
    """(short commit, uncommitted changes to the code under test), to tell if it changed mid-run."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--", "kernels", "motifnet"], cwd=REPO,
                                capture_output=True, text=True).stdout.splitlines()
    except OSError:
        return "", []
    return commit, [line[3:] for line in status if not line.endswith(".nbi") and not line.endswith(".nbc")]


# ------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny shapes, 1 repeat, 1 thread, small training runs (a smoke test)")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="thread counts (default: 1 2; quick: 1)")
    p.add_argument("--repeats", type=int, default=None, help="timing samples per kernel phase (default 21; quick 1)")
    p.add_argument("--e2e-threads", type=int, nargs="+", default=None,
                   help="thread counts for the training runs (default: 1; at 2 threads on a busy machine "
                   "torch's OpenMP pool can take minutes per run)")
    p.add_argument("--e2e-repeats", type=int, default=None, help="timed training runs per model (default 3; quick 1)")
    p.add_argument("--startup-repeats", type=int, default=None, help="repeats of import/process timings (default 5; quick 1)")
    p.add_argument("--min-sample", type=float, default=None, help="seconds per timing sample (default 0.02; quick 0)")
    p.add_argument("--sizes", nargs="+", choices=["tiny", "primer", "large"], default=None,
                   help="kernel shapes (default: primer large; quick: tiny)")
    p.add_argument("--kernels", nargs="+", choices=C.KERNELS, default=list(C.KERNELS),
                   help="kernels to benchmark (default: all)")
    p.add_argument("--parts", nargs="+", choices=["kernels", "e2e", "startup"], default=["kernels", "e2e", "startup"])
    p.add_argument("--api", choices=["unchecked", "public"], default="unchecked",
                   help="time motifnet's unchecked entry points (what the layers call; default) or the public wrappers")
    p.add_argument("--no-cold", dest="cold", action="store_false", default=None,
                   help="skip the empty-Numba-cache measurements (default: skipped in quick mode)")
    p.add_argument("--primer-dir", type=Path, default=PRIMER_DIR, help=f"primer data folder (default {PRIMER_DIR})")
    p.add_argument("--perturb", nargs="*", default=[], metavar="KERNEL[/SIZE]",
                   help="testing the validation: nudge motifnet's outputs of these cases; they must be rejected")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    return p


def resolve(args) -> argparse.Namespace:
    q = args.quick
    args.threads = args.threads or ([1] if q else [1, 2])
    args.repeats = args.repeats or (1 if q else 21)
    args.e2e_threads = args.e2e_threads or [1]
    args.e2e_repeats = args.e2e_repeats or (1 if q else 3)
    args.startup_repeats = args.startup_repeats or (1 if q else 5)
    args.min_sample = (0.0 if q else 0.02) if args.min_sample is None else args.min_sample
    args.sizes = args.sizes or (["tiny"] if q else ["primer", "large"])
    args.cold = (not q) if args.cold is None else args.cold
    return args


def main(argv=None) -> int:
    from benchmarks import report

    args = resolve(build_parser().parse_args(argv))
    if {"e2e", "startup"} & set(args.parts) and not (args.primer_dir / "sequences.txt").is_file():
        print(f"benchmarks: error: no primer data at {args.primer_dir} (sequences.txt, labels.txt), which "
              f"the e2e and startup parts train on; pass --primer-dir or --parts kernels", file=sys.stderr)
        return 2
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    results = {"meta": {"machine": machine_info(), "settings": {
        "quick": args.quick, "threads": args.threads, "repeats": args.repeats, "e2e_threads": args.e2e_threads,
        "e2e_repeats": args.e2e_repeats,
        "startup_repeats": args.startup_repeats, "min_sample_s": args.min_sample, "sizes": args.sizes,
        "api": args.api, "parts": args.parts, "kernels": args.kernels, "perturb": args.perturb,
        "tolerances": {"value_rtol": VALUE_RTOL, "grad_rtol": GRAD_RTOL, "torch_error_factor": TORCH_ERROR_FACTOR,
                       "e2e_loss_rtol": E2E_LOSS_RTOL,
                       "e2e_accuracy_atol": E2E_ACCURACY_ATOL},
        "shapes": {k: {s: C.shape_label(k, s) for s in args.sizes} for k in C.KERNELS},
    }}}
    with tempfile.TemporaryDirectory(prefix="motifnet-bench-") as tmp:
        workdir = Path(tmp)
        if "kernels" in args.parts:
            results["kernels"] = bench_kernels(args, workdir, log)
        if "e2e" in args.parts:
            results["e2e"] = bench_e2e(args, workdir, log)
        if "startup" in args.parts:
            results["startup"] = bench_startup(args, workdir, log)
    commit, dirty = code_version()
    m = results["meta"]["machine"]
    m["git_commit_end"], m["uncommitted_changes_end"] = commit, dirty
    m["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    m["code_changed_during_run"] = (commit, dirty) != (m["git_commit"], m["uncommitted_changes"])
    results["meta"]["versions"] = report.versions(results)
    results["meta"]["seconds"] = time.perf_counter() - t_start
    md = report.write_all(results, args.out)
    print(md)
    log(f"wrote {args.out / 'results.md'}, results.json, ratios.png")
    return 0
