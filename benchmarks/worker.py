"""One benchmark process: one library, one thread count.

Run by ``benchmarks.suite`` as ``python -m benchmarks.worker SPEC.json RESULT.json``;
never imports both libraries.  The thread count is put into the environment
(``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) before
NumPy, Numba or torch is imported, then set again through their APIs.

Tasks (``spec["task"]``):

``kernels``  compute every case's outputs on the fixed seeded inputs, save them
             (``spec["outputs"]``, .npz; torch also saves the float64 results on the
             same inputs, the near-exact answer), print ``READY`` and wait for the parent's
             verdict on stdin: a JSON list of the cases it validated.  Only those
             are timed.  (torch, the reference, is told to time everything.)
``train``    end-to-end training runs (``spec["models"]``), timed per run; the
             motifnet worker prepares the data and the initial weights and saves
             them for the torch worker, which trains from the very same start.
``first_step``  import time and the first (compiling) and second training step.
"""

from __future__ import annotations

import os
import sys


def _set_thread_env(threads: int) -> None:
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


if __name__ == "__main__":  # before anything imports numpy / numba / torch
    import json as _json

    with open(sys.argv[1]) as _fh:
        _set_thread_env(int(_json.load(_fh)["threads"]))

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def setup_library(lib: str, threads: int) -> dict:
    """Import the library, pin its thread count, return its versions and thread settings."""
    info = {"python": platform.python_version(), "numpy": np.__version__}
    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass
        info.update(torch=torch.__version__, threads=torch.get_num_threads())
    else:
        import numba

        numba.set_num_threads(threads)
        import kernels  # noqa: F401
        import motifnet

        info.update(
            numba=numba.__version__, motifnet=motifnet.__version__, threads=numba.get_num_threads(),
            threading_layer=f"config {numba.config.THREADING_LAYER}",
        )
    return info


def time_call(fn, repeats: int, min_sample_s: float) -> dict:
    """Median seconds per call over ``repeats`` samples of ``n_calls`` calls each.

    ``n_calls`` grows until one sample takes at least ``min_sample_s`` (µs-scale
    kernels are timed over many calls); one warm-up call comes first.
    """
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_sample_s or n >= 1 << 20:
            break
        n = min(1 << 20, max(2 * n, int(n * 1.2 * min_sample_s / max(dt, 1e-9))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return {"median": statistics.median(samples), "min": min(samples), "n_calls": n, "samples": samples}


# ------------------------------------------------------------------------------ kernels
def perturb_outputs(outputs: dict) -> dict:
    """Simulate a wrong kernel: nudge one element of the last output (a gradient) by 1%."""
    name = list(outputs)[-1]
    a = np.array(outputs[name], dtype=np.float64, copy=True)
    flat = a.reshape(-1)
    flat[0] += 0.01 * max(float(np.max(np.abs(a))), 1.0)
    outputs[name] = a.astype(outputs[name].dtype)
    return outputs


def run_kernels(spec: dict, info: dict) -> dict:
    from benchmarks import cases as C

    lib = spec["lib"]
    make = C.torch_case if lib == "torch" else (lambda k, s: C.motifnet_case(k, s, spec.get("api", "unchecked")))
    perturb = {tuple(x) for x in spec.get("perturb", [])}
    built, errors, arrays = {}, {}, {}
    for kernel, size in spec["cases"]:
        key = f"{kernel}/{size}"
        try:
            case = make(kernel, size)
            outputs = case.outputs()
            if (kernel, size) in perturb:
                outputs = perturb_outputs(outputs)
            for name, a in outputs.items():
                arrays[f"{key}/{name}"] = np.asarray(a)
            if lib == "torch" and spec.get("float64_reference", True):
                for name, a in C.torch_case(kernel, size, np.float64).outputs().items():
                    arrays[f"{C.F64_PREFIX}{key}/{name}"] = np.asarray(a)
            built[key] = case
        except Exception as exc:  # a missing or broken kernel is reported, not fatal
            errors[key] = f"{type(exc).__name__}: {exc}"
    np.savez(spec["outputs"], **arrays)
    if spec.get("wait_for_verdict", False):
        print("READY", flush=True)
        line = sys.stdin.readline()
        approved = set(json.loads(line)) if line.strip() else set()
    else:
        approved = set(built)
    timings = {}
    for key, case in built.items():
        if key not in approved:
            continue
        timings[key] = {}
        for phase, fn in case.phases.items():
            try:
                timings[key][phase] = time_call(fn, spec["repeats"], spec["min_sample_s"])
            except Exception as exc:
                errors[f"{key}/{phase}"] = f"{type(exc).__name__}: {exc}"
    if lib == "motifnet":
        import numba

        try:  # known only once a parallel region has run
            info["threading_layer"] = numba.threading_layer()
        except ValueError:
            info["threading_layer"] = "none used (no parallel region ran)"
    return {"info": info, "errors": errors, "timings": timings}


# -------------------------------------------------------------------------------- train
def _prepare_data(d: dict):
    """(x_train, y_train, x_test, y_test) with motifnet.data, as ``motifnet train`` would."""
    from motifnet import data as D

    if d["kind"] == "primer":
        seqs, labels = D.load_primer(os.path.join(d["dir"], "sequences.txt"), os.path.join(d["dir"], "labels.txt"))
    else:
        seqs, labels = D.generate_data(n=d["n"], length=d["length"], seed=d["seed"])
    x = D.one_hot(seqs)
    y = np.asarray(labels).astype(np.float32)
    train_idx, test_idx = D.train_test_split(len(y), d["test_size"], d["seed"])
    return (np.ascontiguousarray(x[train_idx]), y[train_idx], np.ascontiguousarray(x[test_idx]), y[test_idx])


def _weights_of(model) -> dict:
    return {name: np.array(p.data, dtype=np.float32, copy=True) for name, p in model.parameters().items()}


def run_train(spec: dict, info: dict) -> dict:
    lib, results = spec["lib"], {}
    for job in spec["models"]:
        name, path = job["model"], job["state"]  # state: data + initial weights, written by motifnet
        fit_kw = dict(epochs=job["epochs"], batch_size=job["batch_size"], lr=job["lr"], seed=job["seed"])
        if lib == "motifnet":
            from motifnet.models import build_model
            from motifnet.train import fit

            xtr, ytr, xte, yte = _prepare_data(job["data"])
            seq_len = xtr.shape[2]
            init = _weights_of(build_model(name, seq_len=seq_len, seed=job["seed"]))
            np.savez(path, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, **{"w:" + k: v for k, v in init.items()})

            def run(epochs):
                model = build_model(name, seq_len=seq_len, seed=job["seed"])
                return fit(model, xtr, ytr, xte, yte, **{**fit_kw, "epochs": epochs})
        else:
            from benchmarks.torch_models import TORCH_MODELS, fit_torch, load_weights

            st = np.load(path)
            xtr, ytr, xte, yte = st["x_train"], st["y_train"], st["x_test"], st["y_test"]
            init = {k[2:]: st[k] for k in st.files if k.startswith("w:")}
            seq_len = xtr.shape[2]

            def run(epochs):
                model = TORCH_MODELS[name](seq_len=seq_len)
                load_weights(model, init)
                return fit_torch(model, xtr, ytr, xte, yte, **{**fit_kw, "epochs": epochs})

        t0 = time.perf_counter()
        run(1)  # warm-up: loads (or compiles) every kernel, fills caches
        warmup = time.perf_counter() - t0
        seconds, histories = [], []
        for _ in range(job["repeats"]):
            t0 = time.perf_counter()
            hist = run(job["epochs"])
            seconds.append(time.perf_counter() - t0)
            histories.append(hist)
        results[name] = {
            "seconds": seconds, "median": statistics.median(seconds), "warmup_seconds": warmup,
            "history": [_plain(r) for r in histories[0]], "n_train": int(xtr.shape[0]), "n_test": int(xte.shape[0]),
            "seq_len": int(seq_len),
        }
    return {"info": info, "train": results}


def _plain(row: dict) -> dict:
    return {k: (None if v is None else float(v) if k != "epoch" else int(v)) for k, v in row.items()}


# --------------------------------------------------------------------------- first step
def run_first_step(spec: dict, info: dict) -> dict:
    """Seconds for the first and second training step of each model (the first compiles)."""
    rng = np.random.default_rng(0)
    B, L = 32, spec.get("seq_len", 50)
    x = np.zeros((B, 4, L), dtype=np.float32)
    x[np.arange(B)[:, None], rng.integers(0, 4, (B, L)), np.arange(L)[None, :]] = 1.0
    y = (rng.random(B) < 0.5).astype(np.float32)
    out = {}
    for name in spec["models"]:
        if spec["lib"] == "motifnet":
            from motifnet.models import build_model
            from motifnet.train import fit

            def step():
                fit(build_model(name, seq_len=L, seed=0), x, y, x, y, epochs=1, batch_size=B)
        else:
            from benchmarks.torch_models import TORCH_MODELS, fit_torch

            def step():
                fit_torch(TORCH_MODELS[name](seq_len=L), x, y, x, y, epochs=1, batch_size=B)

        t0 = time.perf_counter()
        step()
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        step()
        out[name] = {"first": first, "second": time.perf_counter() - t0}
    return {"info": info, "first_step": out}


def main(argv) -> int:
    spec_path, result_path = argv
    with open(spec_path) as fh:
        spec = json.load(fh)
    t0 = time.perf_counter()
    info = setup_library(spec["lib"], int(spec["threads"]))
    info["import_seconds"] = time.perf_counter() - t0
    task = {"kernels": run_kernels, "train": run_train, "first_step": run_first_step}[spec["task"]]
    result = task(spec, info)
    with open(result_path, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
