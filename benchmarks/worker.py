"""One benchmark process: one library, one thread count.

Run by ``benchmarks.suite`` as ``python -m benchmarks.worker SPEC.json RESULT.json``;
never imports two of the libraries (motifnet, torch, JAX).  The thread count is put
into the environment (``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, and for JAX ``XLA_FLAGS``) before NumPy, Numba, torch or
JAX is imported, then set again through their APIs where they have one.

Tasks (``spec["task"]``):

``kernels``  compute every case's outputs on the fixed seeded inputs, save them
             (``spec["outputs"]``, .npz; torch also saves the float64 results on the
             same inputs, the near-exact answer), print ``READY`` and wait for the parent's
             verdict on stdin: a JSON list of the cases it validated.  Only those
             are timed.  (torch, the reference, is told to time everything.)
``prepare``  (motifnet) make each training job's data and initial weights and save them
             (``job["state"]``), so every library trains from the very same start.
``train``    each job's validation run first (1 epoch over the first ``VALIDATION_STEPS``
             batches, from the saved start; its loss and final parameters are saved to
             ``job["check"]``), then ``READY`` and the parent's verdict as for kernels,
             then, for the approved jobs, a warm-up epoch and the timed runs.
``first_step``  import time and the first (compiling) and second training step.
"""

from __future__ import annotations

import os
import sys

JAX_THREAD_FLAGS = {1: "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}


def _set_thread_env(threads: int) -> None:
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    flags = JAX_THREAD_FLAGS.get(threads, f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}")
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


if __name__ == "__main__":  # before anything imports numpy / numba / torch / jax
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
    elif lib == "jax":
        import jax
        import jaxlib

        info.update(jax=jax.__version__, jaxlib=jaxlib.__version__, threads=threads,
                    xla_flags=os.environ.get("XLA_FLAGS", ""), jax_devices=[str(d) for d in jax.devices()])
    else:
        import numba

        numba.set_num_threads(threads)
        import motifnet
        import motifnet.kernels  # noqa: F401

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


def wait_for_verdict(spec: dict, default: set) -> set:
    """Print READY and read the parent's JSON list of approved keys (without a parent: all)."""
    if not spec.get("wait_for_verdict", False):
        return set(default)
    print("READY", flush=True)
    line = sys.stdin.readline()
    return set(json.loads(line)) if line.strip() else set()


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
    for kernel, shape in spec["cases"]:
        key = f"{kernel}/{shape}"
        try:
            case = make(kernel, shape)
            outputs = case.outputs()
            if (kernel, shape) in perturb:
                outputs = perturb_outputs(outputs)
            for name, a in outputs.items():
                arrays[f"{key}/{name}"] = np.asarray(a)
            if lib == "torch" and spec.get("float64_reference", True):
                for name, a in C.torch_case(kernel, shape, np.float64).outputs().items():
                    arrays[f"{C.F64_PREFIX}{key}/{name}"] = np.asarray(a)
            built[key] = case
        except Exception as exc:  # a missing or broken kernel is reported, not fatal
            errors[key] = f"{type(exc).__name__}: {exc}"
    np.savez(spec["outputs"], **arrays)
    approved = wait_for_verdict(spec, set(built))
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
    _threading_layer(lib, info)
    return {"info": info, "errors": errors, "timings": timings}


def _threading_layer(lib, info):
    if lib == "motifnet":
        import numba

        try:  # known only once a parallel region has run
            info["threading_layer"] = numba.threading_layer()
        except ValueError:
            info["threading_layer"] = "none used (no parallel region ran)"


# ----------------------------------------------------------------------------- data
def planted_like(n: int, min_length: int, max_length: int, seed: int, motif: str, mutation: float = 0.15):
    """Random DNA of lengths uniform in [min_length, max_length], half with ``motif`` planted.

    The shape of ../shared/data/planted: each positive (label 1) carries one instance of
    the motif (each base replaced by a random one with probability ``mutation``) at a random
    start, on a random strand (half reverse-complemented); negatives are plain random
    sequence.  Returns (codes (n, max_length) int8, -1 past each length; lengths; labels).
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, max_length + 1, size=n).astype(np.int64)
    codes = rng.integers(0, 4, size=(n, max_length)).astype(np.int8)
    codes[np.arange(max_length)[None, :] >= lengths[:, None]] = -1
    labels = np.zeros(n, dtype=np.int8)
    labels[rng.permutation(n)[: n // 2]] = 1
    base = np.frombuffer(motif.encode(), np.uint8)
    site = np.select([base == ord(c) for c in "ACGT"], [0, 1, 2, 3]).astype(np.int8)
    w = site.size
    for i in np.flatnonzero(labels == 1):
        inst = np.where(rng.random(w) < mutation, rng.integers(0, 4, w), site).astype(np.int8)
        if rng.random() < 0.5:
            inst = (3 - inst[::-1]).astype(np.int8)  # the other strand
        start = rng.integers(0, lengths[i] - w + 1)
        codes[i, start:start + w] = inst
    return codes, lengths, labels


def prepare_data(d: dict) -> dict:
    """The job's data as base codes: {"codes_train", "lengths_train", "y_train", and _valid if any}."""
    from motifnet import data as D

    if d["kind"] == "variable":
        codes, lengths, labels = planted_like(d["n"] + d.get("n_valid", 0), d["min_length"], d["max_length"],
                                              d["seed"], d.get("motif", D.PRIMER_MOTIF))
        n_valid = d.get("n_valid", 0)
        idx = np.random.default_rng(d["seed"] + 1).permutation(len(labels))
        train_idx, valid_idx = idx[n_valid:], idx[:n_valid]
    else:
        if d["kind"] == "primer":
            seqs, labels = D.load_primer(os.path.join(d["dir"], "sequences.txt"), os.path.join(d["dir"], "labels.txt"))
        elif d["kind"] == "planted":
            seqs, labels, _ = D.load_fasta_pair(os.path.join(d["dir"], "pos.fa.gz"), os.path.join(d["dir"], "neg.fa.gz"))
        else:
            seqs, labels = D.generate_data(n=d["n"], length=d["length"], seed=d["seed"])
        codes, lengths = D.encode(seqs)
        labels = np.asarray(labels)
        if d.get("test_size"):
            train_idx, valid_idx = D.train_test_split(len(labels), d["test_size"], d["seed"])
        else:
            train_idx, valid_idx = np.arange(len(labels)), np.arange(0)
    out = {"codes_train": codes[train_idx], "lengths_train": lengths[train_idx], "y_train": labels[train_idx]}
    if len(valid_idx):
        out.update(codes_valid=codes[valid_idx], lengths_valid=lengths[valid_idx], y_valid=labels[valid_idx])
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def build_motifnet_model(job: dict, seq_len: int):
    from motifnet.models import build_model

    return build_model(job["model"], seq_len=seq_len, seed=job["seed"])


def run_prepare(spec: dict, info: dict) -> dict:
    out = {}
    for job in spec["jobs"]:
        d = prepare_data(job["data"])
        model = build_motifnet_model(job, d["codes_train"].shape[1])
        init = {name: np.array(p.data, dtype=np.float32, copy=True) for name, p in model.parameters().items()}
        np.savez(job["state"], **d, **{"w:" + k: v for k, v in init.items()})
        lengths = d["lengths_train"]
        out[job["id"]] = {"n_train": int(len(d["y_train"])), "n_valid": int(len(d.get("y_valid", []))),
                          "width": int(d["codes_train"].shape[1]), "min_length": int(lengths.min()),
                          "max_length": int(lengths.max()), "n_params": int(sum(v.size for v in init.values())),
                          "positives_train": float(np.mean(d["y_train"]))}
    return {"info": info, "prepared": out}


# -------------------------------------------------------------------------------- train
VALIDATION_STEPS = 50  # Adam steps of the validation run: long enough to see a wrong gradient drift,
# short enough that float32 rounding has not yet been amplified into a different trajectory
# (after 625 steps two correct libraries' conv weights differ by ~20%: dead ReLUs, max-pool ties)


def validation_subset(n: int, batch_size: int, steps: int = VALIDATION_STEPS) -> int:
    """How many of the training sequences the validation run takes: ``steps`` batches, the last
    one as large as the full run's last batch (so the subset runs every batch shape the full run will)."""
    if n <= batch_size * steps:
        return n
    return batch_size * (steps - 1) + (n % batch_size or batch_size)


def _runner(lib: str, job: dict, n_limit: int | None = None):
    """run(epochs) -> (history, final parameters {motifnet name: array}) for one job in ``lib``,
    on the first ``n_limit`` training sequences (all by default)."""
    st = np.load(job["state"])
    init = {k[2:]: st[k] for k in st.files if k.startswith("w:")}
    has_valid = "codes_valid" in st.files and job.get("validate_each_epoch", True)
    ctr, ltr, ytr = st["codes_train"], st["lengths_train"], st["y_train"]
    if n_limit is not None:
        ctr, ltr, ytr = ctr[:n_limit], ltr[:n_limit], ytr[:n_limit]
    cva = st["codes_valid"] if has_valid else None
    lva = st["lengths_valid"] if has_valid else None
    yva = st["y_valid"] if has_valid else None
    variable = bool(ltr.min() != ctr.shape[1]) or (has_valid and bool(lva.min() != cva.shape[1]))
    fit_kw = dict(batch_size=job["batch_size"], lr=job["lr"], seed=job["seed"])
    if lib == "motifnet":
        from motifnet.train import fit

        def run(epochs):
            model = build_motifnet_model(job, ctr.shape[1])
            for n, p in model.parameters().items():
                p.data[...] = init[n]
            hist = fit(model, ctr, ytr, cva, yva, lengths_train=ltr if variable else None,
                       lengths_valid=lva if variable else None, epochs=epochs, restore_best=False, **fit_kw)
            return hist, {n: p.data.copy() for n, p in model.parameters().items()}
        return run
    from motifnet.data import one_hot_codes  # numpy only: no numba in a torch or JAX worker

    xtr, xva = one_hot_codes(ctr), (None if cva is None else one_hot_codes(cva))
    if lib == "torch":
        from benchmarks.torch_models import TORCH_MODELS, fit_torch, load_weights

        def run(epochs):
            net = TORCH_MODELS[job["model"]](**({} if job["model"] == "deepbind" else {"seq_len": ctr.shape[1]}))
            load_weights(net, init)
            hist = fit_torch(net, xtr, ytr.astype(np.float32), xva, None if yva is None else yva.astype(np.float32),
                             lengths_train=ltr if variable else None, lengths_valid=lva if variable else None,
                             epochs=epochs, **fit_kw)
            params = {n: p.detach().numpy().copy() for n, p in net.named_parameters()}
            from benchmarks.torch_models import torch_name

            return hist, {n: params[torch_name(n)] for n in init}
        return run
    from benchmarks.jax_models import fit_jax

    def run(epochs):
        return fit_jax(job["model"], init, xtr, ytr, xva, yva, lengths_train=ltr if variable else None,
                       lengths_valid=lva if variable else None, epochs=epochs, **fit_kw)
    return run


def run_train(spec: dict, info: dict) -> dict:
    lib, results, errors, runners = spec["lib"], {}, {}, {}
    # 1. the validation run of every job: one epoch over the first VALIDATION_STEPS batches of the
    #    training set, from the shared start; its loss and final parameters go to the parent
    for job in spec["jobs"]:
        try:
            n = int(np.load(job["state"])["y_train"].shape[0])
            n_check = validation_subset(n, job["batch_size"])
            t0 = time.perf_counter()
            hist, params = _runner(lib, job, n_check)(1)
            results[job["id"]] = {"check_seconds": time.perf_counter() - t0, "check_n_train": n_check,
                                  "check_steps": -(-n_check // job["batch_size"]),
                                  "check_history": [_plain(r) for r in hist]}
            np.savez(job["check"], **params)
            runners[job["id"]] = (_runner(lib, job), n_check < n)
        except Exception as exc:
            import traceback

            errors[job["id"]] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}"
    if spec.get("partial"):  # what the parent's verdict reads
        with open(spec["partial"], "w") as fh:
            json.dump(results, fh)
    approved = wait_for_verdict(spec, set(runners))
    # 2. the approved jobs: a warm-up epoch on the whole training set (untimed: every batch shape
    #    compiled, caches filled) unless the validation run already was that, then the timed runs
    for job in spec["jobs"]:
        if job["id"] not in approved or job["id"] not in runners:
            continue
        run, needs_warmup = runners[job["id"]]
        t0 = time.perf_counter()
        if needs_warmup:
            run(1)
        results[job["id"]]["warmup_seconds"] = time.perf_counter() - t0
        seconds, cpu, histories = [], [], []
        for _ in range(job["repeats"]):
            t0, c0 = time.perf_counter(), time.process_time()
            hist, _ = run(job["epochs"])
            seconds.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            histories.append(hist)
        results[job["id"]].update({
            "seconds": seconds, "median": statistics.median(seconds), "cpu_seconds": cpu,
            # CPU time / wall time: ~1 at 1 thread, up to the thread count when it runs in parallel
            "cpu_per_wall": statistics.median(c / s for c, s in zip(cpu, seconds)),
            "history": [_plain(r) for r in histories[0]],
        })
    _threading_layer(lib, info)
    return {"info": info, "train": results, "errors": errors}


def _plain(row: dict) -> dict:
    return {k: (None if v is None else bool(v) if k == "best" else int(v) if k == "epoch" else float(v))
            for k, v in row.items()}


# --------------------------------------------------------------------------- first step
def run_first_step(spec: dict, info: dict) -> dict:
    """Seconds for the first and second training step of each model (the first compiles)."""
    from motifnet.data import one_hot_codes  # numpy only: no numba in a torch or JAX worker

    rng = np.random.default_rng(0)
    B, L = 32, spec.get("seq_len", 50)
    codes = rng.integers(0, 4, (B, L)).astype(np.int8)
    x = one_hot_codes(codes)
    y = (rng.random(B) < 0.5).astype(np.float32)
    out = {}
    for name in spec["models"]:
        if spec["lib"] == "jax":
            from benchmarks.jax_models import first_step_seconds, init_like

            first, second = first_step_seconds(name, init_like(name, L), x, y)
            out[name] = {"first": first, "second": second}
            continue
        if spec["lib"] == "motifnet":
            from motifnet.models import build_model
            from motifnet.train import fit

            def step():
                fit(build_model(name, seq_len=L, seed=0), codes, y.astype(np.int8), codes, y.astype(np.int8),
                    epochs=1, batch_size=B)
        else:
            from benchmarks.torch_models import TORCH_MODELS, fit_torch

            def step():
                net = TORCH_MODELS[name](**({} if name == "deepbind" else {"seq_len": L}))
                fit_torch(net, x, y, x, y, epochs=1, batch_size=B)

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
    task = {"kernels": run_kernels, "prepare": run_prepare, "train": run_train,
            "first_step": run_first_step}[spec["task"]]
    result = task(spec, info)
    with open(result_path, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
