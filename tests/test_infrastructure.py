"""The shared machinery: Numba options, argument checks, atomic writes, the FD harness, the CLI."""

import os

import numpy as np
import pytest

import motifnet.kernels._jit as jit_module
from motifnet.kernels._validate import check_float_array, check_int, check_shape
from motifnet import _atomic
from motifnet.gradcheck import gradient_errors, numerical_gradient


def test_jit_falls_back_when_no_cache_directory_is_writable(monkeypatch):
    calls = []

    def fake_njit(**options):
        calls.append(options)
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return lambda fn: ("compiled", fn)

    monkeypatch.setattr(jit_module, "CACHE", True)
    monkeypatch.setattr(jit_module.numba, "njit", fake_njit)

    def f(x):
        return x

    assert jit_module.jit(f) == ("compiled", f)
    assert [c["cache"] for c in calls] == [True, False]
    assert "nnan" not in calls[-1]["fastmath"] and "ninf" not in calls[-1]["fastmath"]


def test_check_float_array_names_the_argument():
    with pytest.raises(TypeError, match="weight must be float32 or float64, got int64"):
        check_float_array("weight", np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="x must be a numpy.ndarray"):
        check_float_array("x", [1.0, 2.0])
    with pytest.raises(TypeError, match="x has dtype float64 but the other arguments are float32"):
        check_float_array("x", np.zeros(3), dtype=np.float32)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        check_float_array("x", np.zeros((2, 2), np.float32), ndim=3)
    with pytest.raises(ValueError, match="x must be C-contiguous"):
        check_float_array("x", np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(ValueError, match=r"bias must have shape \(5\)"):
        check_shape("bias", np.zeros(4), (5,))
    with pytest.raises(TypeError, match="stride must be an int"):
        check_int("stride", 1.5, 1)
    with pytest.raises(TypeError, match="stride must be an int"):
        check_int("stride", True, 1)
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        check_int("stride", 0, 1)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "metrics.json"
    _atomic.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with _atomic.atomic_path(target) as tmp:
            with open(tmp, "w") as fh:
                fh.write("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]  # no temporary left behind


def test_numerical_gradient_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    exact = np.cos(x) * x + np.sin(x)  # d/dx x sin x, derived by hand
    assert gradient_errors(exact, numeric)[1] < 1e-9
    assert np.array_equal(x, [0.3, -1.2, 2.0])  # perturbations are undone


def test_gradient_errors_flag_a_wrong_gradient():
    _, rel = gradient_errors(np.array([1.0, 2.0]), np.array([1.0, 2.1]))
    assert rel == pytest.approx(0.1 / 2.1)


def test_serial_and_parallel_versions_of_one_function_get_separate_caches(tmp_path, monkeypatch):
    # Numba's cache key ignores parallel=True: without a separate name the parallel
    # dispatcher would load the serial machine code cached by the other one.
    (tmp_path / "twin_kernels.py").write_text(
        "from numba import prange\n"
        "from motifnet.kernels._jit import jit, jit_parallel\n"
        "def total(x):\n"
        "    s = x.dtype.type(0)\n"
        "    for i in prange(x.shape[0]):\n"
        "        s += x[i]\n"
        "    return s\n"
        "serial = jit(total)\n"
        "parallel = jit_parallel(total)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(jit_module, "CACHE", True)
    import twin_kernels

    x = np.arange(10.0)
    assert twin_kernels.serial(x) == twin_kernels.parallel(x) == 45.0
    index_files = sorted(p.name for p in (tmp_path / "__pycache__").glob("*.nbi"))
    assert len(index_files) == 2, index_files


def test_cache_names_change_when_any_kernel_file_does(tmp_path):
    # a kernel's cached machine code includes its callees' from other files: its cache
    # file's name carries a stamp of every kernel file, so an edit anywhere recompiles it
    from motifnet.kernels import relu

    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not a source\n")
    before = jit_module._sources_stamp(str(tmp_path))
    assert before == jit_module._sources_stamp(str(tmp_path)) and len(before) == 8
    (tmp_path / "notes.txt").write_text("edited\n")
    assert jit_module._sources_stamp(str(tmp_path)) == before
    st = os.stat(tmp_path / "b.py")
    os.utime(tmp_path / "b.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert jit_module._sources_stamp(str(tmp_path)) != before
    assert jit_module.CACHE  # the suite runs with the cache, as users do
    assert relu._forward_in_place.serial.py_func.__qualname__.endswith(f".<{jit_module.SOURCES_STAMP}>")


def test_compile_notice_says_once_that_kernels_compile(tmp_path, monkeypatch):
    # a fresh function compiles (an event per compilation, nested ones included); the
    # notice prints one line for all of them, and none when nothing compiles
    import io

    import numba

    from motifnet import compile_notice

    monkeypatch.setattr(compile_notice, "_installed", {})
    out = io.StringIO()
    listener = compile_notice.install(out)
    assert compile_notice.install(out) is listener  # installed once per stream

    @numba.njit(cache=False)
    def inner(x):
        return x + 1

    @numba.njit(cache=False)
    def outer(x):
        return inner(x) * 2

    assert out.getvalue() == ""
    assert outer(1) == 4
    assert outer(2.5) == 7.0  # a second signature: another compilation, no second line
    assert out.getvalue() == compile_notice.MESSAGE + "\n"
    quiet = io.StringIO()
    second = compile_notice.install(quiet)
    assert outer(3) == 8  # already compiled: no event, nothing printed
    assert quiet.getvalue() == ""
    from numba.core import event

    event.unregister("numba:compile", listener)
    event.unregister("numba:compile", second)


def _two_threads_on_a_fake_clock(monkeypatch, start_s, min_ns):
    """2 threads, a threshold of ``min_ns``, no suspension yet, and a monotonic clock the
    test moves: ``now[0]`` seconds."""
    now = [start_s]
    monkeypatch.setattr(jit_module.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(jit_module.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(jit_module, "_min_ns", [min_ns])
    monkeypatch.setattr(jit_module, "_suspension", {"strikes": 0, "until": 0.0, "pause": 1.0, "mean": 0.0})
    return now


def test_threads_are_suspended_while_they_lose_and_resumed_after_a_pause(monkeypatch):
    # a parallel call slower than its serial estimate is a strike; STRIKES in a row
    # suspend threads for a pause that doubles while they keep losing
    now = _two_threads_on_a_fake_clock(monkeypatch, 1000.0, 1000.0)
    assert not jit_module.use_threads(999.0) and jit_module.use_threads(1000.0)
    for _ in range(jit_module.STRIKES - 1):
        jit_module.thread_outcome(elapsed_ns=5000.0, serial_ns=2000.0)
    assert jit_module.use_threads(2000.0)  # not yet
    jit_module.thread_outcome(elapsed_ns=1500.0, serial_ns=2000.0)  # a win resets the count
    for _ in range(jit_module.STRIKES):
        jit_module.thread_outcome(elapsed_ns=5000.0, serial_ns=2000.0)
    assert not jit_module.use_threads(2000.0)
    now[0] += 1.01  # the pause is over; it doubles if threads lose again
    assert jit_module.use_threads(2000.0)
    for _ in range(jit_module.STRIKES):
        jit_module.thread_outcome(elapsed_ns=5000.0, serial_ns=2000.0)
    now[0] += 1.5
    assert not jit_module.use_threads(2000.0)
    now[0] += 0.6
    assert jit_module.use_threads(2000.0)


def test_a_burst_of_slightly_slow_calls_keeps_threads_but_steady_losses_do_not(monkeypatch):
    # threads that win (0.6 of the serial time) with a burst of three calls at 1.2x: the
    # second core missed a few microseconds, no other process holds it; threads stay on
    _two_threads_on_a_fake_clock(monkeypatch, 1000.0, 1000.0)
    for _ in range(20):
        jit_module.thread_outcome(elapsed_ns=1200.0, serial_ns=2000.0)
    for _ in range(jit_module.STRIKES + 1):
        jit_module.thread_outcome(elapsed_ns=2400.0, serial_ns=2000.0)
    assert jit_module.use_threads(2000.0)
    # a kernel whose threads lose by 1.2x on every call: its mean crosses 1, three more
    # calls and threads stand down
    for n in range(1, 40):
        jit_module.thread_outcome(elapsed_ns=2400.0, serial_ns=2000.0)
        if not jit_module.use_threads(2000.0):
            break
    assert not jit_module.use_threads(2000.0)
    assert n > jit_module.STRIKES  # not at the first few, as 1.5x calls would be


def _timed_kernel(monkeypatch, serial_ms, parallel_ms, first_ms=None, speed=(1.0,)):
    """A SerialOrParallel kernel (estimated 1 ns per unit of work) whose serial calls take
    ``serial_ms`` and parallel ones ``parallel_ms`` on a fake clock (the first call of each
    ``first_ms``, as compiling or loading it would), times ``speed[0]`` (a list the test
    may change: the machine slowing down); the calls it made."""
    _two_threads_on_a_fake_clock(monkeypatch, 50.0, 100.0)  # the monotonic clock stays at 50 s
    clock = [0]
    monkeypatch.setattr(jit_module.time, "perf_counter_ns", lambda: clock[0])
    calls = []
    kernel = jit_module.SerialOrParallel(lambda x: x, ns_per_work=1.0)

    def run(kind, ms):
        def call(x):
            first = kind not in calls
            calls.append(kind)
            clock[0] += int((first_ms if first and first_ms is not None else ms * speed[0]) * 1e6)
        return call

    kernel.serial, kernel.parallel = run("serial", serial_ms), run("parallel", parallel_ms)
    return kernel, calls


def test_serial_or_parallel_times_its_parallel_calls_against_its_own_serial_run(monkeypatch):
    # above the threshold: the serial compilation's first call (it compiles: not timed), a
    # timed serial probe, the parallel compilation's first call (not judged); then parallel
    # calls slower than the probe are strikes, and once they keep losing the serial
    # compilation runs instead.  Had the first call's 500 ms (compiling) been taken as the
    # serial speed, every 3 ms parallel call would have "won".  The third strike first
    # measures the serial speed again (a probe); the next loss against it suspends.
    kernel, calls = _timed_kernel(monkeypatch, serial_ms=1.0, parallel_ms=3.0, first_ms=500.0)
    for _ in range(jit_module.STRIKES + 7):
        kernel(1000, 0)
    assert calls == (["serial", "serial", "parallel"] + ["parallel"] * jit_module.STRIKES
                     + ["serial", "parallel"] + ["serial"] * 2)
    assert kernel.choose(10)[0] is kernel.serial  # below the threshold: serial, not timed


def test_threads_that_lose_only_against_an_old_probe_are_kept(monkeypatch):
    # the machine slows down as a whole after the probe (1 ms serial, then 2 ms): parallel
    # calls at 1.6 ms lose against the old probe three times in a row; the fresh probe they
    # ask for measures 2 ms, against which they win, and threads stay on
    speed = [1.0]
    kernel, calls = _timed_kernel(monkeypatch, serial_ms=1.0, parallel_ms=0.8, speed=speed)
    for _ in range(4):  # the first call of each way (untimed), the probe, a judged parallel call
        kernel(1000, 0)
    assert calls == ["serial", "serial", "parallel", "parallel"]
    speed[0] = 2.0
    for _ in range(jit_module.STRIKES):
        kernel(1000, 0)
    assert kernel._schedule.reprobe and jit_module._suspension["until"] == 0.0
    for _ in range(10):
        kernel(1000, 0)
    assert calls[4:] == ["parallel"] * jit_module.STRIKES + ["serial"] + ["parallel"] * 9
    assert kernel._schedule.serial_rate == 2e6 / 1000  # ns per unit of work
    assert jit_module._suspension["until"] == 0.0


def test_a_fresh_probe_is_asked_for_once_until_threads_win_again(monkeypatch):
    _two_threads_on_a_fake_clock(monkeypatch, 1000.0, 1000.0)
    schedule = jit_module.ProbeSchedule()
    schedule.serial_rate, schedule.warm = 1.0, {True, False}

    def third_strike_asks_for_a_probe():
        for _ in range(jit_module.STRIKES):
            jit_module.thread_outcome(elapsed_ns=5000.0, serial_ns=2000.0, schedule=schedule)
        assert schedule.reprobe and jit_module.use_threads(2000.0)
        assert schedule.next() == (False, True)  # the probe, timed
        assert not schedule.reprobe and schedule.verified

    third_strike_asks_for_a_probe()
    # threads beat the fresh probe: the verification is spent, the next streak asks again
    jit_module.thread_outcome(elapsed_ns=1000.0, serial_ns=2000.0, schedule=schedule)
    assert not schedule.verified and jit_module.use_threads(2000.0)
    third_strike_asks_for_a_probe()
    jit_module.thread_outcome(elapsed_ns=5000.0, serial_ns=2000.0, schedule=schedule)  # loses against it
    assert not jit_module.use_threads(2000.0) and not schedule.verified


def test_a_machine_slower_than_the_calibration_keeps_its_threads(monkeypatch):
    # estimated 1 us serial (1 ns x 1000), but this machine takes 3 ms serially and 2 ms with
    # threads: threads win against the measured serial time and stay on, with one probe in
    # PROBE_EVERY calls
    kernel, calls = _timed_kernel(monkeypatch, serial_ms=3.0, parallel_ms=2.0)
    n = 2 * jit_module.PROBE_EVERY
    for _ in range(n):
        kernel(1000, 0)
    # the first call (it compiles), the first probe, then calls 32, 64
    assert calls.count("serial") == 2 + n // jit_module.PROBE_EVERY
    assert calls.count("parallel") == n - calls.count("serial")
    assert jit_module._suspension["until"] == 0.0
