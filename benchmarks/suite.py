"""The benchmark suite's driver: spawns the workers, validates, writes the report.

    python -m benchmarks [--quick] [--threads 1 2] [--repeats N] [--out DIR]
                         [--parts kernels e2e growth scaling startup scan] [--planted DIR]

Every measurement runs in a child process that imports ONE library (motifnet, torch or
JAX) with its thread count fixed before import (``benchmarks/worker.py``); this process
only orchestrates, compares and writes (it never imports torch or JAX).  Nothing is
timed before it is validated:

* kernels (the ops of ``kernels/registry.py`` and Adam): the torch worker computes the
  reference outputs (float32 and float64) and times its calls; the motifnet worker
  computes its outputs and waits; the outputs are compared here (max-norm relative,
  ``tests/checks.assert_close``) and only the cases that pass are timed;
* training (end to end, growth table, 2-thread scaling): a motifnet worker writes each
  job's data and initial weights; every library first trains each job for one epoch
  from that start and saves its loss and parameters; motifnet's are compared with
  torch's, JAX's with motifnet's, and only the jobs that pass are timed;
* the whole ``motifnet scan`` command (``benchmarks/scan_command.py``): its windows'
  probabilities are checked against the model's own forward before any run is timed.

A failing case is reported as FAILED, without a time.  JAX is optional: without it the
report says "JAX not installed: skipped".
"""

from __future__ import annotations

import argparse
import importlib.util
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
from benchmarks.scan_command import bench_scan

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results"
PRIMER_DIR = REPO.parent / "shared" / "data" / "primer"

# Validation of a kernel output, max-norm relative (|a - e| <= rtol * max|e|, tests/checks.assert_close).
# motifnet's float32 result is compared with torch's float64 result on the same inputs (the
# near-exact answer) and may be off by max(the registry's tolerance for that output,
# TORCH_ERROR_FACTOR x torch's own float32 error on it): an ill-conditioned output (attention's
# dq at L=247 cancels in torch's float32 too) gets a proportionate allowance.  Without a float64
# answer motifnet is compared with torch's float32 result at the registry's tolerance.
VALUE_RTOL = 1e-4  # outputs, when no tolerance is given
GRAD_RTOL = 1e-4  # gradients, when no tolerance is given
TORCH_ERROR_FACTOR = 4.0
# training: the validation run (<= 50 Adam steps, worker.VALIDATION_STEPS) from the same weights and
# batches (the mean loss of its epoch, and every parameter tensor after it, max-norm relative; two
# correct float32 libraries agree to ~1e-7 and ~1e-3 there, a wrong gradient drifts far beyond), and
# the timed runs' final validation accuracy
TRAIN_LOSS_RTOL = 1e-4
TRAIN_PARAM_RTOL = 1e-2
E2E_ACCURACY_ATOL = 0.05
E2E_LOSS_RTOL = 1e-3  # validate_e2e: epoch-1 losses of whole runs
LIBS = ("motifnet", "torch", "jax")
JAX_SKIPPED = "JAX not installed: skipped"

sys.path.insert(0, str(REPO / "tests"))
from checks import assert_close  # noqa: E402  (the suite's one comparison helper)


def jax_available() -> bool:
    return importlib.util.find_spec("jax") is not None and importlib.util.find_spec("jaxlib") is not None


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
    """Run ``benchmarks.worker`` on ``spec``; ``verdict()`` answers its READY."""
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
def compare_outputs(key: str, actual: dict, expected: dict, exact: dict | None = None,
                    floors: dict | None = None) -> dict:
    """Compare motifnet's outputs of one case with torch's; {"passed", "checks": [...]}.

    ``expected``: torch's float32 outputs; ``exact``: torch's float64 outputs on the
    same inputs, when available; ``floors``: the tolerance of each output (the registry's;
    default 1e-4) (see the tolerance note at the top of this module).
    """
    checks, passed = [], True
    for name, exp in expected.items():
        floor = (floors or {}).get(name, GRAD_RTOL if name.startswith("d") else VALUE_RTOL)
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
    """{"kernel/shape": {name: array}} for the entries of ``npz`` under ``prefix`` (and only those)."""
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
    case_list = C.case_list(args.kernels, args.sizes)
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
                kernel = key.split("/", 1)[0]
                floors = {name: C.tolerance_of(kernel, name) for name in expected}
                res = compare_outputs(key, mine[key], expected, exact.get(key), floors) if key in mine else {
                    "passed": False, "checks": [], "message": "motifnet could not run this case"}
                verdicts[key] = res
            return [k for k, v in verdicts.items() if v["passed"]]

        log(f"kernels, {t} thread(s): motifnet")
        perturb = [p.split("/") for p in args.perturb]
        perturb = [[k, s] for k, s in case_list for p in perturb if p[0] == k and (len(p) == 1 or p[1] == s)]
        mres = run_worker({**common, "lib": "motifnet", "threads": t, "outputs": str(mn_path), "perturb": perturb},
                          workdir, verdict=verdict)
        info[f"motifnet-t{t}"] = mres["info"]
        for where, res in (("torch", tres), ("motifnet", mres)):
            for key, msg in res["errors"].items():
                errors[f"{where} t{t} {key}"] = msg
        for kernel, shape in case_list:
            key = f"{kernel}/{shape}"
            v = verdicts.get(key, {"passed": False, "checks": [], "message": "torch could not run this case"})
            validation.append({"kernel": kernel, "size": shape, "threads": t, **v})
            for phase in C.phases_of(kernel):
                tt = tres["timings"].get(key, {}).get(phase)
                mt = mres["timings"].get(key, {}).get(phase)
                rows.append({
                    "kernel": kernel, "size": shape, "size_class": C.size_class(shape),
                    "shape": C.shape_label(kernel, shape), "threads": t, "phase": phase,
                    "validated": v["passed"],
                    "motifnet_s": mt["median"] if mt else None, "torch_s": tt["median"] if tt else None,
                    "ratio": tt["median"] / mt["median"] if (mt and tt) else None,
                    "motifnet_calls_per_sample": mt["n_calls"] if mt else None,
                    "torch_calls_per_sample": tt["n_calls"] if tt else None,
                })
    return {"rows": rows, "validation": validation, "errors": errors, "info": info}


# ---------------------------------------------------------------------- training jobs
def e2e_jobs(args) -> list[dict]:
    """The end-to-end rows: each model on its data, per-epoch validation, timed whole fit calls."""
    base = dict(part="e2e", batch_size=32, lr=1e-3, seed=0, repeats=args.e2e_repeats)
    if args.quick:
        jobs = [
            # whole batches only (192 = 6 x 32): a partial batch is one more shape for JAX to compile
            {"model": "cnn", "data": {"kind": "synthetic", "n": 256, "length": 50, "seed": 0, "test_size": 0.25},
             "epochs": 2},
            {"model": "attention", "data": {"kind": "synthetic", "n": 256, "length": 50, "seed": 0, "test_size": 0.25},
             "epochs": 2},
            {"model": "deepbind", "data": {"kind": "variable", "n": 192, "n_valid": 64, "min_length": 40,
                                           "max_length": 80, "seed": 0}, "epochs": 2},
        ]
    else:
        jobs = [
            {"model": "cnn", "data": {"kind": "primer", "dir": str(args.primer_dir), "seed": 0, "test_size": 0.25},
             "epochs": 50},
            {"model": "attention", "data": {"kind": "synthetic", "n": 2000, "length": 50, "seed": 0, "test_size": 0.2},
             "epochs": 30},
            # the planted set's shape, generated: 4,000 training sequences of 200-400 bp (+1,000 to validate)
            {"model": "deepbind", "data": {"kind": "variable", "n": 4000, "n_valid": 1000, "min_length": 200,
                                           "max_length": 400, "seed": 0}, "epochs": 30},
        ]
    if args.planted:
        jobs.append({"model": "deepbind", "data": {"kind": "planted", "dir": str(args.planted), "seed": 0,
                                                   "test_size": 0.25}, "epochs": 2 if args.quick else 30})
    out = []
    for j in jobs:
        name = j["model"] + ("" if j["data"]["kind"] not in ("planted",) else "-planted")
        if args.quick:  # JAX compiles each model's step: ~3 s apiece; quick mode runs JAX on the growth cell only
            j["libs"] = ["motifnet", "torch"]
        out.append({**base, **j, "id": f"e2e/{name}"})
    return out


def growth_cells(args) -> list[tuple[int, int]]:
    if args.quick:
        return [(192, 100)]
    return [(n, L) for n in (2000, 20000) for L in (50, 200, 1000)]


def growth_jobs(args) -> list[dict]:
    """The growth table: the primer CNN at N sequences x length L, training only, same steps."""
    return [{"part": "growth", "id": f"growth/N{n}-L{L}", "model": "cnn", "n": n, "length": L,
             "data": {"kind": "synthetic", "n": n, "length": L, "seed": 0, "test_size": None},
             "epochs": args.growth_epochs, "batch_size": 32, "lr": 1e-3, "seed": 0, "repeats": args.growth_repeats,
             "validate_each_epoch": False}
            for n, L in growth_cells(args)]


SCALING_CELL = (20000, 200)  # the L=200 x 20,000 workload


def scaling_job_id(args) -> str:
    n, L = (192, 100) if args.quick else SCALING_CELL
    return f"growth/N{n}-L{L}"


def _param_check(mine: dict, ref: dict) -> dict:
    worst, worst_name = 0.0, None
    for name, e in ref.items():
        a = mine.get(name)
        if a is None or np.shape(a) != np.shape(e):
            return {"passed": False, "param_rel_err": None, "worst_param": name, "message": f"{name}: missing or misshapen"}
        e = np.asarray(e, np.float64)
        err = float(np.max(np.abs(np.asarray(a, np.float64) - e))) / max(float(np.max(np.abs(e))), 1e-30)
        if not err <= worst:  # NaN is the worst
            worst, worst_name = (err if err == err else float("inf")), name
    return {"passed": worst <= TRAIN_PARAM_RTOL, "param_rel_err": worst, "worst_param": worst_name}


def check_training(job_id: str, lib_check: dict, ref_check: dict, mine_path: str, ref_path: str) -> dict:
    """The validation epoch of one library against the reference's: loss, then every parameter."""
    l_m, l_r = lib_check["check_history"][0]["loss"], ref_check["check_history"][0]["loss"]
    loss_rel = abs(l_m - l_r) / max(abs(l_r), 1e-12)
    p = _param_check(dict(np.load(mine_path)), dict(np.load(ref_path)))
    ok = loss_rel <= TRAIN_LOSS_RTOL and p["passed"]
    out = {**p, "passed": bool(ok), "epoch1_loss": [l_m, l_r], "epoch1_loss_rel_diff": loss_rel}
    if not ok:
        out["message"] = (f"{job_id}: epoch-1 loss {l_m:.6g} vs {l_r:.6g} (rel {loss_rel:.2e}, allowed "
                          f"{TRAIN_LOSS_RTOL:g}); worst parameter {p['worst_param']} rel {p['param_rel_err']} "
                          f"(allowed {TRAIN_PARAM_RTOL:g})")
    return out


def run_training(jobs: list[dict], threads: int, libs: list[str], workdir: Path, log, prepared: dict,
                 tag: str | None = None) -> dict:
    """Train ``jobs`` in every library at ``threads``: validation epoch, verdict, timed runs.
    ``tag`` names this run's files (default ``t{threads}``)."""
    tag = tag or f"t{threads}"
    for j in jobs:
        j.setdefault("state", str(workdir / (j["id"].replace("/", "_") + ".npz")))
    missing = [j for j in jobs if j["id"] not in prepared]
    errors, runs, checks, info = {}, {}, {}, {}
    if missing:
        log(f"training data and initial weights: {', '.join(j['id'] for j in missing)}")
        try:
            prepared.update(run_worker({"task": "prepare", "lib": "motifnet", "threads": 1, "jobs": missing},
                                       workdir)["prepared"])
        except WorkerError as exc:
            return {"errors": {"prepare": str(exc)}, "runs": {}, "checks": {}, "info": {}}
    jobs = [j for j in jobs if j["id"] in prepared]

    def with_check(lib):
        return [{**j, "check": str(workdir / f"check-{lib}-{tag}-{j['id'].replace('/', '_')}.npz")} for j in jobs]

    specs = {lib: [j for j in with_check(lib) if lib in j.get("libs", LIBS)] for lib in libs}
    # torch: the reference, validated by nobody, times everything; motifnet against torch; JAX against motifnet
    order = [lib for lib in ("torch", "motifnet", "jax") if lib in libs]
    reference = {"motifnet": "torch", "jax": "motifnet"}
    for lib in order:
        if not specs[lib]:
            continue
        log(f"training, {threads} thread(s){'' if tag == f't{threads}' else f' ({tag})'}: {lib} ({len(specs[lib])} jobs)")
        ref = reference.get(lib) if reference.get(lib) in libs else None  # none: timed unvalidated
        holder = {}

        def verdict(lib=lib, ref=ref, holder=holder):
            result = holder["partial"] = _read_partial(workdir, lib, tag)
            approved = []
            ref_specs = {j["id"]: j for j in specs[ref]}
            for j_m in specs[lib]:
                jid, j_r = j_m["id"], ref_specs.get(j_m["id"])
                if jid not in result or j_r is None or jid not in runs.get(ref, {}):
                    checks.setdefault(lib, {})[jid] = {"passed": False, "message": f"{jid}: no validation run"}
                    continue
                if ref != "torch" and not checks.get(ref, {}).get(jid, {}).get("passed"):
                    checks.setdefault(lib, {})[jid] = {"passed": False,
                                                       "message": f"{jid}: its reference ({ref}) failed validation"}
                    continue
                v = check_training(jid, result[jid], runs[ref][jid], j_m["check"], j_r["check"])
                checks.setdefault(lib, {})[jid] = {"against": ref, **v}
                if v["passed"]:
                    approved.append(jid)
            return approved

        spec = {"task": "train", "lib": lib, "threads": threads, "jobs": specs[lib],
                "partial": str(workdir / f"partial-{lib}-{tag}.json")}
        try:
            res = run_worker(spec, workdir, verdict=verdict if ref else None)
            runs[lib], info[lib] = res["train"], res["info"]
            for jid, msg in res["errors"].items():
                errors[f"{lib} t{threads} {jid}"] = msg
        except WorkerError as exc:
            errors[f"{lib} t{threads}"] = str(exc)
            runs[lib] = {}
    return {"runs": runs, "checks": checks, "errors": errors, "info": info}


def _read_partial(workdir: Path, lib: str, tag: str) -> dict:
    path = workdir / f"partial-{lib}-{tag}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def training_rows(jobs: list[dict], res: dict, threads: int, prepared: dict, libs_run: list[str]) -> list[dict]:
    rows = []
    for j in jobs:
        jid = j["id"]
        row = {"id": jid, "part": j["part"], "model": j["model"], "threads": threads, "epochs": j["epochs"],
               "data": j["data"]["kind"], "batch_size": j["batch_size"], "repeats": j["repeats"],
               **{k: v for k, v in prepared.get(jid, {}).items()}}
        if "n" in j:
            row.update(n=j["n"], length=j["length"])
        if "round" in j:
            row["round"] = j["round"]
        n_train = prepared.get(jid, {}).get("n_train")
        if n_train:
            row["adam_steps"] = j["epochs"] * -(-n_train // j["batch_size"])
        for lib in LIBS:
            r = res["runs"].get(lib, {}).get(jid, {})
            chk = res["checks"].get(lib, {}).get(jid)
            row[f"{lib}_s"] = r.get("median")
            row[f"{lib}_runs"] = r.get("seconds")
            row[f"{lib}_cpu_per_wall"] = r.get("cpu_per_wall")
            row[f"{lib}_warmup_s"] = r.get("warmup_seconds")
            row[f"{lib}_ran"] = lib in libs_run and lib in j.get("libs", LIBS)
            if lib == "torch":
                row["torch_validated"] = bool(r.get("check_history"))  # the reference
            else:
                row[f"{lib}_validated"] = bool(chk and chk["passed"])
                row[f"{lib}_check"] = chk
            if r.get("history"):
                last = r["history"][-1]
                row[f"{lib}_final_loss"] = last["loss"]
                row[f"{lib}_final_valid_accuracy"] = last.get("valid_accuracy")
                row[f"{lib}_final_train_accuracy"] = last.get("train_accuracy")
                row[f"{lib}_epoch1_loss"] = r["history"][0]["loss"]
        m, t, x = row["motifnet_s"], row["torch_s"], row["jax_s"]
        row["ratio"] = t / m if (m and t) else None          # torch / motifnet
        row["ratio_jax"] = x / m if (m and x) else None      # JAX / motifnet
        accs = [row.get(f"{lib}_final_valid_accuracy") for lib in ("motifnet", "torch")]
        row["final_accuracy_agrees"] = (None if None in accs else abs(accs[0] - accs[1]) <= E2E_ACCURACY_ATOL)
        row["validated"] = bool(row["motifnet_validated"]) and row["final_accuracy_agrees"] is not False
        rows.append(row)
    return rows


def validate_e2e(hist_m: list[dict], hist_t: list[dict]) -> dict:
    """Same start, same batches: first-epoch losses agree closely, final validation accuracies roughly."""
    key = "valid_accuracy"
    l_m, l_t = hist_m[0]["loss"], hist_t[0]["loss"]
    acc_m, acc_t = hist_m[-1].get(key), hist_t[-1].get(key)
    loss_rel = abs(l_m - l_t) / max(abs(l_t), 1e-12)
    ok = loss_rel <= E2E_LOSS_RTOL and acc_m is not None and acc_t is not None and abs(acc_m - acc_t) <= E2E_ACCURACY_ATOL
    return {"validated": bool(ok), "epoch1_loss": [l_m, l_t], "epoch1_loss_rel_diff": loss_rel,
            "final_valid_accuracy": [acc_m, acc_t], "final_loss": [hist_m[-1]["loss"], hist_t[-1]["loss"]]}


def bench_training(args, workdir: Path, log, libs: list[str]) -> dict:
    """The e2e, growth and scaling parts: one worker per library and thread count for all their jobs."""
    prepared: dict = {}
    out = {"rows": [], "errors": {}, "checks": {}, "info": {}, "libs": libs}
    jobs1 = (e2e_jobs(args) if "e2e" in args.parts else []) + (growth_jobs(args) if "growth" in args.parts else [])
    scaling = "scaling" in args.parts and not args.quick
    plan = [(1, jobs1, "t1")] if jobs1 else []
    if scaling:
        # rounds of the same job at 1 thread and then at each other count, one process each:
        # the machine's speed moves from minute to minute (one thread's time 265-570 us per
        # step within an hour here), so each round's 1-thread run is the reference of the
        # runs right after it, and the speed-up is the median over rounds of those ratios
        job = [dict(j) for j in growth_jobs(args) if j["id"] == scaling_job_id(args)]
        counts = [1] + [t for t in args.scaling_threads if t != 1]
        for k in range(1, args.scaling_rounds + 1):
            for t in counts:
                plan.append((t, [{**j, "part": "scaling", "round": k} for j in job], f"t{t}-round{k}"))
    for threads, jobs, tag in plan:
        for j in jobs:  # the same data and start for every thread count
            j["state"] = str(workdir / (j["id"].replace("/", "_") + ".npz"))
        res = run_training(jobs, threads, libs, workdir, log, prepared, tag)
        out["rows"] += training_rows(jobs, res, threads, prepared, libs)
        out["errors"].update(res["errors"])
        out["checks"][tag] = res["checks"]
        out["info"][tag] = res["info"]
    out["prepared"] = prepared
    return out


# -------------------------------------------------------------------------- start-up
IMPORT_CODE = {
    "motifnet": "import motifnet, motifnet.kernels, motifnet.data, motifnet.layers, motifnet.models, "
                "motifnet.optim, motifnet.train",
    "torch": "import torch",
    "jax": "import jax, jax.numpy",
}


def _write_default_data(workdir: Path) -> tuple[str, str]:
    """``motifnet train``'s default data (no data flags: ``generate_data()``'s 2000 x 50, seed 0) as
    the primer's two text files, for torch's script."""
    from motifnet.data import generate_data

    seqs, labels = generate_data(seed=0)
    s, lab = workdir / "default_sequences.txt", workdir / "default_labels.txt"
    s.write_text("\n".join(seqs) + "\n")
    lab.write_text("\n".join(str(int(v)) for v in labels) + "\n")
    return str(s), str(lab)


def bench_startup(args, workdir: Path, log, libs: list[str]) -> dict:
    out: dict = {"errors": {}}
    env1 = thread_env(1)
    # 1. import time, in a fresh interpreter each time
    imports = {}
    for lib in libs:
        code = IMPORT_CODE[lib]
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

    # 2. the first training step (motifnet: compiles every kernel with an empty cache; JAX: traces
    #    and compiles the jitted step) vs torch's first step
    cold_cache = Path(tempfile.mkdtemp(prefix="numba-cache-", dir=workdir))
    first = {}
    plan = []  # quick mode skips this part: more processes for little information
    if not args.quick:
        plan = [("torch", "torch", {})]
        if args.cold:
            plan += [("motifnet_empty_cache", "motifnet", {"NUMBA_CACHE_DIR": str(cold_cache)}),
                     ("motifnet_warm_cache", "motifnet", {"NUMBA_CACHE_DIR": str(cold_cache)})]
        else:
            plan += [("motifnet_warm_cache", "motifnet", {})]
        if "jax" in libs:
            plan += [("jax", "jax", {})]
    for label, lib, extra in plan:
        log(f"start-up: first training step, {label}")
        try:
            r = run_worker({"task": "first_step", "lib": lib, "threads": 1, "models": list(FIRST_STEP_MODELS)},
                           workdir, env_extra=extra)
            first[label] = {"import_seconds": r["info"]["import_seconds"], **r["first_step"]}
        except WorkerError as exc:
            out["errors"][f"first step {label}"] = str(exc)
    out["first_step"] = first

    # 3. a whole `motifnet train` process on its default data vs the torch script on the same
    #    sequences, and peak RSS
    seqs, labels = _write_default_data(workdir)
    epochs = "2" if args.quick else "50"
    proc_cache = Path(tempfile.mkdtemp(prefix="numba-cache-train-", dir=workdir))
    runs: dict = {}

    def one(label, cmd, extra):
        run_dir = workdir / f"run-{label}-{time.monotonic_ns()}"
        r = run_process(cmd + ["--out", str(run_dir)], thread_env(1, extra), workdir)
        if r["returncode"] != 0:
            out["errors"][f"process {label}"] = r["stderr"]
        runs.setdefault(label, []).append(r)
        shutil.rmtree(run_dir, ignore_errors=True)

    motifnet_cmd = [sys.executable, "-m", "motifnet", "train", "--epochs", epochs, "--quiet"]
    torch_cmd = [sys.executable, "-m", "benchmarks.train_torch", "--sequences", seqs, "--labels", labels,
                 "--epochs", epochs, "--quiet"]
    pairs = []
    if args.cold:
        # each empty-cache run is followed at once by a warm run on the cache it filled: the
        # cold start is the median of those pairs' differences, not of runs minutes apart
        for i in range(args.cold_repeats):
            log(f"start-up: motifnet train, empty cache, then warm ({i + 1}/{args.cold_repeats})")
            fresh = Path(tempfile.mkdtemp(prefix="numba-cache-train-", dir=workdir))
            one("motifnet_empty_cache", motifnet_cmd, {"NUMBA_CACHE_DIR": str(fresh)})
            one("motifnet_warm_cache", motifnet_cmd, {"NUMBA_CACHE_DIR": str(fresh)})
            cold, warm = runs["motifnet_empty_cache"][-1], runs["motifnet_warm_cache"][-1]
            if cold["returncode"] == 0 and warm["returncode"] == 0:
                pairs.append(cold["seconds"] - warm["seconds"])
            if i == 0:
                proc_cache = fresh
    warm_env = {"NUMBA_CACHE_DIR": str(proc_cache)} if args.cold else {}
    for i in range(args.startup_repeats):
        log(f"start-up: motifnet train (warm cache) and torch script, repeat {i + 1}")
        one("motifnet_warm_cache", motifnet_cmd, warm_env)
        one("torch", torch_cmd, {})
    out["train_process"] = {}
    for label, rs in runs.items():
        ok = [r for r in rs if r["returncode"] == 0]
        out["train_process"][label] = {
            "epochs": int(epochs), "data": "motifnet train's default (generated 2000 x 50)",
            "ok": len(ok) == len(rs), "runs_s": [r["seconds"] for r in rs],
            "median_s": statistics.median([r["seconds"] for r in ok]) if ok else None,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ok) if ok else None,
        }
    if pairs:
        out["cold_start_pairs_s"] = pairs
    return out


FIRST_STEP_MODELS = ("cnn", "attention", "deepbind")


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
PARTS = ("kernels", "e2e", "growth", "scaling", "startup", "scan")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="tiny shapes, 1 repeat, 1 thread, small training runs (a smoke test)")
    p.add_argument("--threads", type=int, nargs="+", default=None, help="kernel thread counts (default: 1 2; quick: 1)")
    p.add_argument("--repeats", type=int, default=None, help="timing samples per kernel phase (default 21; quick 1)")
    p.add_argument("--e2e-repeats", type=int, default=None, help="timed training runs per e2e model (default 3; quick 1)")
    p.add_argument("--growth-repeats", type=int, default=None, help="timed runs per growth cell (default 3; quick 1)")
    p.add_argument("--growth-epochs", type=int, default=None, help="epochs per growth cell (default 2; quick 1)")
    p.add_argument("--scaling-threads", type=int, nargs="+", default=[2],
                   help="thread counts of the scaling rows besides 1 (default 2)")
    p.add_argument("--scaling-rounds", type=int, default=3,
                   help="rounds of the scaling job at 1 thread and then at each other count (default 3)")
    p.add_argument("--startup-repeats", type=int, default=None, help="repeats of import/process timings (default 5; quick 1)")
    p.add_argument("--cold-repeats", type=int, default=None,
                   help="`motifnet train` runs with an empty Numba cache (default 3)")
    p.add_argument("--scan-mbp", type=float, default=None,
                   help="Mbp of generated sequence the scan part's `motifnet scan` reads (default 50; quick 2)")
    p.add_argument("--scan-repeats", type=int, default=None, help="timed `motifnet scan` runs per input and thread "
                   "count (default 3; quick 1)")
    p.add_argument("--scan-threads", type=int, nargs="+", default=None,
                   help="thread counts of the scan part (default: 1 2; quick: 1)")
    p.add_argument("--min-sample", type=float, default=None, help="seconds per timing sample (default 0.02; quick 0)")
    p.add_argument("--sizes", nargs="+", choices=list(C.SIZE_CHOICES) + list(C.SIZE_ALIASES), default=None,
                   help="kernel shapes (default: seed large; quick: tiny); a size takes every shape of an op "
                   "named after it (seed: seed and seed_first_layer); primer = seed")
    p.add_argument("--kernels", nargs="+", choices=C.KERNELS, default=list(C.KERNELS),
                   help="kernels to benchmark (default: every op of the registry, and adam)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    p.add_argument("--libs", nargs="+", choices=LIBS, default=list(LIBS),
                   help="libraries of the training and start-up parts (default all; JAX if installed)")
    p.add_argument("--api", choices=["unchecked"], default="unchecked",
                   help="motifnet's entry points timed: the registry's fast kernels (what the layers call)")
    p.add_argument("--no-cold", dest="cold", action="store_false", default=None,
                   help="skip the empty-Numba-cache measurements (default: skipped in quick mode)")
    p.add_argument("--primer-dir", type=Path, default=PRIMER_DIR, help=f"primer data folder (default {PRIMER_DIR})")
    p.add_argument("--planted", type=Path, default=None, metavar="DIR",
                   help="also train deepbind on DIR/pos.fa.gz and DIR/neg.fa.gz (e.g. ../shared/data/planted)")
    p.add_argument("--perturb", nargs="*", default=[], metavar="KERNEL[/SHAPE]",
                   help="testing the validation: nudge motifnet's outputs of these cases; they must be rejected")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    return p


def resolve(args) -> argparse.Namespace:
    q = args.quick
    args.threads = args.threads or ([1] if q else [1, 2])
    args.repeats = args.repeats or (1 if q else 21)
    args.e2e_repeats = args.e2e_repeats or (1 if q else 3)
    args.growth_repeats = args.growth_repeats or (1 if q else 3)
    args.growth_epochs = args.growth_epochs or (1 if q else 2)
    args.startup_repeats = args.startup_repeats or (1 if q else 5)
    args.cold_repeats = args.cold_repeats or (1 if q else 3)
    args.scan_mbp = args.scan_mbp or (2.0 if q else 50.0)
    args.scan_repeats = args.scan_repeats or (1 if q else 3)
    args.scan_threads = args.scan_threads or ([1] if q else [1, 2])
    args.min_sample = (0.0 if q else 0.02) if args.min_sample is None else args.min_sample
    args.sizes = args.sizes or (["tiny"] if q else ["seed", "large"])
    args.cold = (not q) if args.cold is None else args.cold
    return args


def main(argv=None) -> int:
    from benchmarks import report

    args = resolve(build_parser().parse_args(argv))
    needs_primer = "e2e" in args.parts and not args.quick
    if needs_primer and not (args.primer_dir / "sequences.txt").is_file():
        print(f"benchmarks: error: no primer data at {args.primer_dir} (sequences.txt, labels.txt), which "
              f"the e2e part trains the primer CNN on; pass --primer-dir or leave out e2e", file=sys.stderr)
        return 2
    if args.planted and not all((args.planted / f).is_file() for f in ("pos.fa.gz", "neg.fa.gz")):
        print(f"benchmarks: error: --planted {args.planted} has no pos.fa.gz and neg.fa.gz", file=sys.stderr)
        return 2
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    libs = [lib for lib in args.libs if lib != "jax" or jax_available()]
    jax_note = None if "jax" in libs or "jax" not in args.libs else JAX_SKIPPED
    if jax_note:
        log(jax_note)
    results = {"meta": {"machine": machine_info(), "jax": jax_note or "used", "settings": {
        "quick": args.quick, "threads": args.threads, "repeats": args.repeats, "e2e_repeats": args.e2e_repeats,
        "growth_repeats": args.growth_repeats, "growth_epochs": args.growth_epochs,
        "scaling_threads": args.scaling_threads, "scaling_rounds": args.scaling_rounds, "libs": libs,
        "startup_repeats": args.startup_repeats, "cold_repeats": args.cold_repeats,
        "scan_mbp": args.scan_mbp, "scan_repeats": args.scan_repeats, "scan_threads": args.scan_threads,
        "min_sample_s": args.min_sample, "sizes": args.sizes,
        "api": args.api, "parts": args.parts, "kernels": args.kernels, "perturb": args.perturb,
        "planted": str(args.planted) if args.planted else None,
        "tolerances": {"value_rtol": VALUE_RTOL, "grad_rtol": GRAD_RTOL, "torch_error_factor": TORCH_ERROR_FACTOR,
                       "kernel_floors": "the registry's rtol_forward / rtol_grads",
                       "train_loss_rtol": TRAIN_LOSS_RTOL, "train_param_rtol": TRAIN_PARAM_RTOL,
                       "e2e_accuracy_atol": E2E_ACCURACY_ATOL},
        "shapes": {k: {s: C.shape_label(k, s) for s in C.shapes_of(k, args.sizes)} for k in args.kernels},
    }}}
    with tempfile.TemporaryDirectory(prefix="motifnet-bench-") as tmp:
        workdir = Path(tmp)
        if "kernels" in args.parts:
            results["kernels"] = bench_kernels(args, workdir, log)
        if {"e2e", "growth", "scaling"} & set(args.parts):
            results["training"] = bench_training(args, workdir, log, libs)
        if "startup" in args.parts:
            results["startup"] = bench_startup(args, workdir, log, libs)
        if "scan" in args.parts:
            results["scan"] = bench_scan(args, workdir, log)
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
