"""kernels/scan.py: the fused window scan against its reference loops, torch and the model's own layers.

Shapes are drawn by hypothesis (a strategy of this op's own, like tests/strategies.py's):
filters 1-6, widths 1-20 (one, two and three passes of table rows: K <= 15 and K > 15),
windows from K to K + 40, steps 1-50 (overlapping windows, adjacent ones and gaps), any
first window; codes with N, and two-letter codes for exact ties.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from checks import assert_close
from motifnet.kernels import _jit
from motifnet.kernels.global_max import global_max_forward
from motifnet.kernels.scan import (scan_forward, scan_forward_into, scan_forward_reference, scan_table_into,
                                   scan_table_shape, scan_window_count)
from motifnet.models import DeepBind


@st.composite
def scan_configs(draw):
    F_ = draw(st.integers(1, 6))
    K = draw(st.integers(1, 20))
    W = draw(st.integers(K, K + 40))
    S = draw(st.integers(1, 50))
    L = draw(st.integers(K, 160))
    first = draw(st.integers(0, L - K))
    alphabet = draw(st.sampled_from(["acgtn", "at"]))  # "at": few distinct K-mers, exact ties
    available = scan_window_count(L, W, S, K, first)
    n_windows = draw(st.integers(1, available))  # the first windows only, as a chunk of a record asks
    return dict(F=F_, K=K, W=W, S=S, L=L, first=first, alphabet=alphabet, n_windows=n_windows,
                seed=draw(st.integers(0, 2**32 - 1)))


def _inputs(c, dtype=np.float64):
    rng = np.random.default_rng(c["seed"])
    if c["alphabet"] == "at":
        codes = rng.choice(np.array([0, 3], np.int8), c["L"])
    else:
        codes = rng.integers(-1, 4, c["L"]).astype(np.int8)
        codes[rng.random(c["L"]) < 0.5] = rng.integers(0, 4)  # runs of one base
    w = rng.standard_normal((c["F"], 4, c["K"])).astype(dtype)
    b = rng.standard_normal(c["F"]).astype(dtype)
    if c["alphabet"] == "at":  # integer weights: equal sums are exactly equal whatever the order
        w, b = np.round(w), np.round(b)
    return codes, w, b


def _clear_winners(codes, w, b, W, S, first, n):
    """(n, F) True where the window's best (position, strand) beats the runner-up by > 1e-9.

    Mathematically equal responses are not always equal in floating point: a K-mer that
    is its own reverse complement (even K, or N in the middle) scores w[a, 0] + w[b, 1]
    on one strand and w[b, 1] + w[a, 0] on the other, rounded differently by two
    summation orders.  Those ties are checked with integer weights (exact sums) instead.
    """
    F_, _, K = w.shape
    L = codes.size
    w2 = np.concatenate([w, w[:, ::-1, ::-1]]).astype(np.float64)
    y = np.tile(np.concatenate([b, b])[:, None], (1, L - K + 1)).astype(np.float64)
    for k in range(K):
        c = codes[k:k + L - K + 1]
        y += np.where(c >= 0, w2[:, np.maximum(c, 0), k], 0.0)
    clear = np.zeros((n, F_), bool)
    for j in range(n):
        a = first + j * S
        e = min(a + W, L) - K + 1
        both = np.sort(np.concatenate([y[:F_, a:e], y[F_:, a:e]], axis=1), axis=1)
        clear[j] = both[:, -1] - both[:, -2] > 1e-9            # two strands: always two candidates
    return clear


@given(scan_configs())
def test_fast_equals_reference(c):
    codes, w, b = _inputs(c)
    J = c["n_windows"]
    m, pos, strand = scan_forward(codes, w, b, c["W"], c["S"], c["first"], J)
    assert m.shape == (J, c["F"])
    rm, rpos, rstrand = scan_forward_reference(codes, w, b, c["W"], c["S"], c["first"], J)
    assert_close("win_max", m, rm, rtol=1e-12, atol=1e-12)
    # integer weights ("at"): sums are exact, every tie must go the documented way
    clear = True if c["alphabet"] == "at" else _clear_winners(codes, w, b, c["W"], c["S"], c["first"], J)
    np.testing.assert_array_equal(np.where(clear, pos, -1), np.where(clear, rpos, -1), err_msg="win_pos")
    np.testing.assert_array_equal(np.where(clear, strand, -1), np.where(clear, rstrand, -1), err_msg="win_strand")


def _torch_scan(codes, w, b, W, S, first, n):
    """F.conv1d of the one-hot codes with [w ; rc(w)], then per window the max over both strands."""
    K = w.shape[2]
    x = torch.zeros(1, 4, codes.size, dtype=torch.from_numpy(w).dtype)
    ok = np.flatnonzero(codes >= 0)
    x[0, torch.from_numpy(codes[ok].astype(np.int64)), torch.from_numpy(ok)] = 1
    wt = torch.from_numpy(w)
    w2 = torch.cat([wt, wt.flip(1).flip(2)])
    y = F.conv1d(x, w2, torch.from_numpy(np.concatenate([b, b])))[0]   # (2F, L - K + 1)
    Fn = w.shape[0]
    out, pos, strand = [], [], []
    for j in range(n):
        a = first + j * S
        e = min(a + W, codes.size) - K + 1
        both = torch.stack([y[:Fn, a:e], y[Fn:, a:e]], dim=2).reshape(Fn, -1)  # (position, strand) order
        v, i = both.max(dim=1)
        out.append(v.numpy())
        pos.append(a + (i // 2).numpy())
        strand.append((i % 2).numpy())
    return np.array(out), np.array(pos), np.array(strand)


@given(scan_configs())
def test_against_torch(c):
    c = dict(c, alphabet="acgtn")  # torch's argmax among exact ties is not specified
    codes, w, b = _inputs(c, np.float64)
    J = c["n_windows"]
    # float64: positions and strands agree wherever the maximum is clear
    m, pos, strand = scan_forward(codes, w, b, c["W"], c["S"], c["first"], J)
    tm, tpos, tstrand = _torch_scan(codes, w, b, c["W"], c["S"], c["first"], J)
    assert_close("win_max (float64)", m, tm, rtol=1e-12)
    clear = _clear_winners(codes, w, b, c["W"], c["S"], c["first"], J)
    np.testing.assert_array_equal(np.where(clear, pos, -1), np.where(clear, tpos, -1), err_msg="win_pos vs torch")
    np.testing.assert_array_equal(np.where(clear, strand, -1), np.where(clear, tstrand, -1),
                                  err_msg="win_strand vs torch")
    # float32: the values within float32 rounding of torch's
    w32, b32 = w.astype(np.float32), b.astype(np.float32)
    m32, _, _ = scan_forward(codes, w32, b32, c["W"], c["S"], c["first"], J)
    tm32, _, _ = _torch_scan(codes, w32, b32, c["W"], c["S"], c["first"], J)
    assert_close("win_max (float32)", m32, tm32, rtol=2e-6, atol=1e-6)


def test_threads_give_the_serial_result(monkeypatch):
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 4, 20_000).astype(np.int8)
    w = rng.standard_normal((5, 4, 11))
    b = rng.standard_normal(5)
    serial = scan_forward(codes, w, b, 120, 37, 4)
    reference = scan_forward_reference(codes, w, b, 120, 37, 4, serial[0].shape[0])
    assert_close("serial win_max", serial[0], reference[0], rtol=1e-12)
    monkeypatch.setattr(_jit, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(_jit.numba, "get_num_threads", lambda: 2)  # ranges split as with threads
    threaded = scan_forward(codes, w, b, 120, 37, 4)
    for name, a, e in zip(("win_max", "win_pos", "win_strand"), threaded, serial):
        np.testing.assert_array_equal(a, e, err_msg=name)


def test_equals_the_models_own_layers():
    """Each window's maxima are DeepBind's StrandConv1d + GlobalMaxPool on the window alone."""
    model = DeepBind(n_filters=8, kernel_size=9, hidden=4, seed=1, dtype=np.float64)
    rng = np.random.default_rng(7)
    codes = rng.integers(-1, 4, 700).astype(np.int8)
    W, S = 60, 23
    m, pos, strand = scan_forward(codes, model.conv.weight.data, model.conv.bias.data, W, S)
    assert m.shape[0] == scan_window_count(700, W, S, 9) > 25
    for j in range(m.shape[0]):
        a = j * S
        win = np.ascontiguousarray(codes[None, a:a + W])
        y = model.strand_activations(win)                        # (1, 2F, n)
        gm, arg = global_max_forward(y, np.array([y.shape[2]]), groups=2)
        assert_close(f"window {j} maxima", m[j], gm[0], rtol=1e-12)
        g, t = np.divmod(arg[0], y.shape[2])
        np.testing.assert_array_equal(strand[j], g, err_msg=f"window {j} strands")
        np.testing.assert_array_equal(pos[j], a + t, err_msg=f"window {j} positions")


def test_tie_order_is_position_then_strand():
    # a filter and a K-mer read the same on both strands at one position: strand 0 wins; the
    # same K-mer earlier on the reverse strand wins over a later forward one
    w = np.zeros((1, 4, 2))
    w[0, 0, 0] = w[0, 3, 1] = 1.0            # "AT" forward; its reverse complement is "AT" too
    codes = np.array([0, 3, 1, 1], np.int8)   # AT CC
    m, pos, strand = scan_forward(codes, w, np.zeros(1), 4, 4)
    assert (m[0, 0], pos[0, 0], strand[0, 0]) == (2.0, 0, 0)
    w = np.zeros((1, 4, 2))
    w[0, 0, 0] = w[0, 1, 1] = 1.0            # "AC"; its reverse complement is "GT"
    codes = np.array([2, 3, 0, 1], np.int8)   # GT AC: reverse at 0 ties forward at 2
    m, pos, strand = scan_forward(codes, w, np.zeros(1), 4, 4)
    assert (m[0, 0], pos[0, 0], strand[0, 0]) == (2.0, 0, 1)


def test_windows_cut_at_the_end_and_counts():
    assert scan_window_count(100, 30, 10, 5) == 10          # starts 0..90: each holds a 5-mer
    assert scan_window_count(100, 30, 10, 5, first=96) == 0
    assert scan_window_count(4, 30, 10, 5) == 0
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 53).astype(np.int8)
    w, b = rng.standard_normal((2, 4, 5)), rng.standard_normal(2)
    m, pos, _ = scan_forward(codes, w, b, 30, 10)
    assert m.shape[0] == 5 and pos[-1].max() <= 53 - 5       # window 4: [40, 53), cut at the end


def test_fast_entry_point_writes_callers_buffers():
    rng = np.random.default_rng(1)
    codes = rng.integers(-1, 4, 300).astype(np.int8)
    w, b = rng.standard_normal((3, 4, 16)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    table = np.empty(scan_table_shape(3, 16), np.float32)
    assert table.shape == (10, 125, 6)                       # 6 groups of taps, two passes of 5 rows
    scan_table_into(w, b, table)
    J = scan_window_count(300, 50, 20, 16)
    outs = np.full((J, 3), np.nan, np.float32), np.full((J, 3), -7), np.full((J, 3), 9, np.int8)
    scan_forward_into(codes, table, 16, 50, 20, 0, *outs)
    expected = scan_forward_reference(codes, w, b, 50, 20, 0, J)
    assert_close("win_max", outs[0], expected[0], rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(outs[1], expected[1])


@pytest.mark.parametrize("call, message", [
    (lambda c, w, b: scan_forward(c.astype(np.int16), w, b, 10, 5), "int8"),
    (lambda c, w, b: scan_forward(c[::2], w, b, 10, 5), "C-contiguous"),
    (lambda c, w, b: scan_forward(np.full(50, 4, np.int8), w, b, 10, 5), r"\[-1, 4\)"),
    (lambda c, w, b: scan_forward(c, w.astype(np.int64), b, 10, 5), "float32 or float64"),
    (lambda c, w, b: scan_forward(c, np.ascontiguousarray(w[:, :3]), b, 10, 5), r"\(F, 4, K\)"),
    (lambda c, w, b: scan_forward(c, w, b[:1], 10, 5), "bias must have shape"),
    (lambda c, w, b: scan_forward(c, w, b.astype(np.float32), 10, 5), "dtype"),
    (lambda c, w, b: scan_forward(c, w, b, 4, 5), "width must be >= 5"),
    (lambda c, w, b: scan_forward(c, w, b, 10, 0), "step must be >= 1"),
    (lambda c, w, b: scan_forward(c, w, b, 10, 5, n_windows=99), "only 10 windows"),
])
def test_checked_entry_point_says_what_is_wrong(call, message):
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 4, 50).astype(np.int8)
    with pytest.raises((TypeError, ValueError), match=message):
        call(codes, rng.standard_normal((2, 4, 5)), rng.standard_normal(2))
