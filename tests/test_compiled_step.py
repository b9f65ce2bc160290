"""motifnet/compiled_step.py: the cnn model's training step as one compiled call.

Its contract is to leave exactly what the readable step leaves (``forward``,
``BCEWithLogitsLoss``, ``zero_grad``, ``backward``): with one part bit for bit, with
several up to the order of the parameter-gradient sums.  The readable step itself is
checked layer by layer against finite differences and torch elsewhere (test_models.py,
test_ops.py), so agreeing with it is agreeing with those."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet import compiled_step, train
from motifnet.compiled_step import CNNTrainingStep, compiled_step_for
from motifnet.data import encode, generate_data
from motifnet.kernels import _jit
from motifnet.layers import BCEWithLogitsLoss
from motifnet.models import DeepBind, GenomicsCNN, GenomicsCNNWithAttention
from motifnet.optim import Adam


def _batch(rng, B, L, n_fraction=0.05):
    codes = rng.integers(0, 4, size=(B, L))
    codes[rng.random((B, L)) < n_fraction] = -1
    return codes.astype(np.int8), (rng.random(B) < 0.5).astype(np.float32)


def _readable_step(model, codes, targets):
    """The layer-by-layer step: (loss, logits, gradients)."""
    loss_fn = BCEWithLogitsLoss()
    model.zero_grad()
    logits = model.forward(codes, check=False).copy()
    loss = loss_fn.forward(logits, targets)
    model.backward(loss_fn.backward())
    return loss, logits, model.flat_grads.copy()


def _run(step, codes, targets, n_parts, parallel=False):
    """The compiled function itself with a chosen number of parts (the serial compilation
    runs them one after the other: the split and the sum without threads)."""
    m, dt = step.model, step.model.dtype.type
    m.flat_grads.fill(np.nan)  # written, not added to: stale values must not survive
    losses = step.run(codes, targets, n_parts, parallel)
    return losses.sum(dtype=m.dtype) / dt(codes.shape[0]), step.logits[:codes.shape[0], 0].copy(), m.flat_grads.copy()


@settings(max_examples=12)
@given(L=st.integers(24, 260), B=st.integers(1, 9), filters=st.integers(1, 9), K=st.integers(1, 13),
       pool=st.sampled_from([4, 4, 3]), hidden=st.integers(1, 6), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**32 - 1))
def test_one_part_is_the_readable_step_bit_for_bit_and_parts_agree(L, B, filters, K, pool, hidden, dtype, seed):
    if (L - K + 1) // pool < 1:
        return
    rng = np.random.default_rng(seed)
    model = GenomicsCNN(seq_len=L, n_filters=filters, kernel_size=K, pool_size=pool, hidden=hidden, seed=seed % 1000,
                        dtype=dtype)
    codes, targets = _batch(rng, B, L)
    targets = targets.astype(dtype)
    loss, logits, grads = _readable_step(model, codes, targets)
    step = CNNTrainingStep(model, B)
    loss1, logits1, grads1 = _run(step, codes, targets, 1)
    assert loss1 == np.float64(np.asarray(loss, dtype))
    assert np.array_equal(logits1, logits) and np.array_equal(grads1, grads)
    for n_parts in range(2, min(B, 4) + 1):  # the batch split, the parts' gradients summed
        loss_k, logits_k, grads_k = _run(step, codes, targets, n_parts)
        assert np.array_equal(logits_k, logits)  # each sequence's forward is its own
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(grads_k, grads, rtol=tol, atol=tol * np.abs(grads).max())
        np.testing.assert_allclose(loss_k, loss, rtol=tol)


def test_threads_compute_what_the_serial_split_computes():
    # the threaded compilation with 2 parts against the serial one with 2 parts: the same
    # per-part arithmetic and the same sum order, so the same bits, on threads or not
    rng = np.random.default_rng(3)
    model = GenomicsCNN(seq_len=200, seed=1)
    codes, targets = _batch(rng, 32, 200)
    step = CNNTrainingStep(model, 32)
    serial = _run(step, codes, targets, 2, parallel=False)
    threaded = _run(step, codes, targets, 2, parallel=True)
    for a, b in zip(serial, threaded):
        assert np.array_equal(a, b)
    _, _, grads = _readable_step(model, codes, targets)
    np.testing.assert_allclose(threaded[2], grads, rtol=1e-5, atol=1e-6 * np.abs(grads).max())


@pytest.mark.parametrize("n_parts", [1, 2, 3])
def test_its_adam_step_is_optim_adams(n_parts):
    # three steps: the parameters and Adam's moments after them, against the layer-by-layer
    # step and optim.Adam.step (one part: bit for bit; the Adam update is element-wise, so
    # with several parts the slices of the update are the same arithmetic too, but the
    # gradients it reads differ by float rounding)
    rng = np.random.default_rng(n_parts)
    ref, fast = GenomicsCNN(seq_len=180, seed=4), GenomicsCNN(seq_len=180, seed=4)
    opt_ref = Adam(ref.parameters(), lr=1e-2, weight_decay=1e-3)
    opt_fast = Adam(fast.parameters(), lr=1e-2, weight_decay=1e-3)
    step = CNNTrainingStep(fast, 12, opt_fast)
    for _ in range(3):
        codes, targets = _batch(rng, 12, 180)
        _readable_step(ref, codes, targets)
        opt_ref.step()
        step.run(codes, targets, n_parts, False, update=True)
    assert opt_fast.step_count == opt_ref.step_count == 3
    pairs = [(fast.flat_params, ref.flat_params), (opt_fast._state[0][0], opt_ref._state[0][0]),
             (opt_fast._state[0][1], opt_ref._state[0][1])]
    for a, b in pairs:
        if n_parts == 1:
            assert np.array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * np.abs(b).max())
    with pytest.raises(ValueError, match="whole model"):
        CNNTrainingStep(fast, 12, Adam([fast.conv.weight]))


def _fit(x, y, compiled, monkeypatch, **kw):
    monkeypatch.setattr(compiled_step, "MIN_COLUMNS", 1 if compiled else 10**12)
    model = GenomicsCNN(seq_len=x.shape[1], seed=0)
    history = train.fit(model, x, y, **kw)
    return model, history


def test_fit_with_the_compiled_step_is_fit_without_it(monkeypatch):
    # one thread: one part, so training is the same run bit for bit, epoch after epoch,
    # partial last batch included (70 = 2 x 32 + 6)
    seqs, y = generate_data(100, 120, seed=5)
    x = encode(seqs)[0]
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        kw = dict(x_valid=x[70:], y_valid=y[70:], epochs=3, batch_size=32, seed=2)
        m1, h1 = _fit(x[:70], y[:70], True, monkeypatch, **kw)
        m0, h0 = _fit(x[:70], y[:70], False, monkeypatch, **kw)
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(m1.flat_params, m0.flat_params)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in h0]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in h1] == strip


def test_fit_on_threads_learns_the_motif_as_fit_without_them(monkeypatch):
    # at the machine's thread count (CI: 2) the batch may be split; the run differs by
    # float rounding only, so it learns the same
    seqs, y = generate_data(600, 150, seed=1)
    x = encode(seqs)[0]
    kw = dict(x_valid=x[500:], y_valid=y[500:], epochs=6, batch_size=32, seed=0)
    _, h1 = _fit(x[:500], y[:500], True, monkeypatch, **kw)
    _, h0 = _fit(x[:500], y[:500], False, monkeypatch, **kw)
    assert abs(h1[-1]["valid_accuracy"] - h0[-1]["valid_accuracy"]) <= 0.03
    assert abs(h1[0]["loss"] - h0[0]["loss"]) < 1e-4


def test_used_only_where_it_applies():
    cnn200 = GenomicsCNN(seq_len=200)
    codes = np.zeros((40, 200), np.int8)
    assert isinstance(compiled_step_for(cnn200, codes, 32), CNNTrainingStep)
    assert compiled_step_for(cnn200, np.zeros((40, 4, 200), np.float32), 32) is None  # one-hot floats
    # the primer's size (32 x 36 columns per batch): the layer-by-layer step, nothing more to compile
    assert compiled_step_for(GenomicsCNN(seq_len=50), np.zeros((40, 50), np.int8), 32) is None
    assert compiled_step_for(cnn200, codes, 8) is None  # 8 x 188 columns
    assert compiled_step_for(GenomicsCNNWithAttention(seq_len=200), codes, 32) is None
    assert compiled_step_for(DeepBind(), codes, 32) is None
    small = compiled_step_for(cnn200, codes[:25], 32)  # a data set smaller than a batch
    assert small is None or small.batch_size == 25


def test_threads_probe_then_split_and_stand_down_when_suspended(monkeypatch):
    step = CNNTrainingStep(GenomicsCNN(seq_len=200), 32)
    monkeypatch.setitem(_jit._suspension, "until", 0.0)
    assert step._parts(32, 2) == (1, False)  # the serial compilation's first call: it loads, untimed
    assert step._parts(32, 2) == (1, True)  # a timed one-part probe
    step._schedule.serial_rate = 1000.0
    assert step._parts(32, 2) == (2, False)  # the threaded compilation's first call: not judged
    assert step._parts(32, 2) == (2, True)  # judged against the probe
    assert step._parts(1, 2) == (1, False)  # one sequence: nothing to split
    monkeypatch.setitem(_jit._suspension, "until", float("inf"))  # threads lost on a busy machine
    assert step._parts(32, 2) == (1, False)
    monkeypatch.setitem(_jit._suspension, "until", 0.0)
    assert step._parts(32, 1) == (1, False)


def test_the_step_asks_for_a_fresh_probe_before_threads_stand_down(monkeypatch):
    # the step's own schedule gets thread_outcome's request: after three threaded steps
    # that lose against the probe (the machine slowed down: 300 us serially before, then
    # 2-part steps at 500 us), the next step is a one-part probe; steps that then beat it
    # (serial 600 us now) keep their threads
    step = CNNTrainingStep(GenomicsCNN(seq_len=200), 32)
    monkeypatch.setattr(_jit, "_suspension", {"strikes": 0, "until": 0.0, "pause": 1.0, "mean": 0.0})
    monkeypatch.setattr(compiled_step.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(compiled_step.numba, "set_num_threads", lambda n: None)
    clock, parts, cost = [0], [], {1: 300_000, 2: 250_000}
    monkeypatch.setattr(compiled_step.time, "perf_counter_ns", lambda: clock[0])

    def run(codes, targets, n_parts, parallel, update=False):
        parts.append(n_parts)
        clock[0] += cost[n_parts]
        return np.zeros(n_parts, np.float32)

    monkeypatch.setattr(step, "run", run)
    codes, targets = np.zeros((32, 200), np.int8), np.zeros(32, np.float32)
    for _ in range(4):  # the serial way's first call, the probe, the threaded way's first call, one judged
        step(codes, targets)
    assert parts == [1, 1, 2, 2]
    cost[1], cost[2] = 600_000, 500_000
    for _ in range(_jit.STRIKES + 5):
        step(codes, targets)
    assert parts[4:] == [2] * _jit.STRIKES + [1] + [2] * 4
    assert step._schedule.serial_rate == 600_000 / 32 and _jit._suspension["until"] == 0.0


def test_a_diverging_run_still_stops(monkeypatch):
    seqs, y = generate_data(64, 200, seed=0)
    x = encode(seqs)[0]
    monkeypatch.setattr(compiled_step, "MIN_COLUMNS", 1)
    model = GenomicsCNN(seq_len=200)
    model.flat_params[:] = np.float32(1e30)
    with pytest.raises(train.TrainingDiverged):
        train.fit(model, x, y, epochs=1, batch_size=32)


def test_a_one_part_step_runs_alone_while_threads_are_on(monkeypatch):
    # a probe, or a step while threads are suspended: its parallel region must not wait for
    # the other threads (on a busy machine that wait was a time slice, 16 ms), so the thread
    # count is 1 during the call and restored after it
    step = CNNTrainingStep(GenomicsCNN(seq_len=200), 8)
    codes, targets = _batch(np.random.default_rng(0), 8, 200)
    calls = []
    monkeypatch.setattr(compiled_step.numba, "get_num_threads", lambda: 2)
    monkeypatch.setattr(compiled_step.numba, "set_num_threads", calls.append)
    for parts, expected in (((1, True), [1, 2]), ((2, True), [])):
        calls.clear()
        monkeypatch.setattr(step, "_parts", lambda B, threads, parts=parts: parts)
        step._schedule.serial_rate = 1.0
        step(codes, targets)
        assert calls == expected
