"""Interpretation: numbers checked against brute force, torch, or a hand-built model.

Model-free parts (PWM/IC, windows, matching, upsampling, ISM, activation PWMs,
logo geometry) use synthetic inputs; the model parts use GenomicsCNN with
weights set by hand so the right answer is known in advance.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet.kernels.conv1d import conv1d_forward_reference
from checks import assert_close
from motifnet.interpret.attention import motif_enrichment, upsample_linear
from motifnet.interpret.filters import activation_pwms, best_filter, top_filters_by_variance
from motifnet.interpret.ism import aligned_windows, in_silico_mutagenesis, mean_centre, reference_importance
from motifnet.interpret.motifs import (best_window_starts, centred_starts, consensus, decode, encode_motif,
                                       find_motif, information_content, match_motif, pwm_from_counts,
                                       pwm_from_windows, relu_normalise, stack_windows, window_sums)
from strategies import rng_from, seeds

MOTIF = "CGACCGAACTCC"


def random_one_hot(rng, n, length, n_rate=0.0):
    x = np.zeros((n, 4, length))
    bases = rng.integers(0, 4, size=(n, length))
    x[np.arange(n)[:, None], bases, np.arange(length)[None, :]] = 1.0
    if n_rate:
        x *= (rng.random((n, 1, length)) >= n_rate)  # some N columns (all zero)
    return x


def planted(rng, n, length, motif=MOTIF, max_start=None):
    """Random one-hot sequences with ``motif`` at a random start in each; returns (x, starts)."""
    x = random_one_hot(rng, n, length)
    starts = rng.integers(0, (length - len(motif) if max_start is None else max_start) + 1, size=n)
    m = encode_motif(motif)
    for i, s in enumerate(starts):
        x[i, :, s:s + len(motif)] = m
    return x, starts


# ---------------------------------------------------------------- PWM, IC, consensus

@given(seed=seeds, width=st.integers(1, 20), pc=st.sampled_from([0.0, 0.01, 0.5, 1.0]))
def test_pwm_columns_sum_to_one_and_ic_in_range(seed, width, pc):
    rng = rng_from(seed)
    counts = rng.integers(0, 30, size=(4, width)) * (rng.random((4, width)) < 0.7)
    pwm = pwm_from_counts(counts, pc)
    assert_close("pwm column sums", pwm.sum(axis=0), np.ones(width), rtol=1e-12)
    assert (pwm >= 0).all()
    ic = information_content(pwm)
    assert ic.shape == (width,) and (ic >= 0).all() and (ic <= 2).all()
    # IC against the definition 2 - H, written out naively
    for j in range(width):
        h = -sum(p * np.log2(p) for p in pwm[:, j] if p > 0)
        assert abs(ic[j] - (2 - h)) < 1e-12


def test_ic_extremes_and_consensus():
    pwm = pwm_from_counts(encode_motif("ACGT") * 10, pseudocount=0.0)
    assert_close("one base -> 2 bits", information_content(pwm), np.full(4, 2.0), rtol=0, atol=1e-12)
    assert consensus(pwm) == "ACGT"
    assert_close("uniform -> 0 bits", information_content(np.full((4, 3), 0.25)), np.zeros(3), rtol=0, atol=1e-12)
    half = np.array([[0.5], [0.5], [0], [0]])
    assert_close("two bases -> 1 bit", information_content(half), np.ones(1), rtol=0, atol=1e-12)
    # an unobserved column without pseudocount is uniform, not NaN
    assert_close("empty column", pwm_from_counts(np.zeros((4, 2)), 0.0), np.full((4, 2), 0.25), rtol=0)


def test_relu_normalise_primer_rule():
    w = np.array([[1.0, -1.0, 0.0], [3.0, -2.0, 0.0], [-1.0, -3.0, 0.0], [0.0, -1.0, 0.0]])
    p = relu_normalise(w)
    assert_close("relu then normalise", p[:, 0], [0.25, 0.75, 0.0, 0.0], rtol=0, atol=1e-15)
    assert_close("no positive weight -> uniform", p[:, 1:], np.full((4, 2), 0.25), rtol=0, atol=1e-15)


def test_encode_decode_and_bad_character():
    x = encode_motif("acgTN"[:4])
    assert decode(x) == "ACGT"
    assert decode(np.zeros((4, 2))) == "NN"
    with pytest.raises(ValueError, match="character 3 is 'X'"):
        encode_motif("ACXT")


def test_match_motif():
    assert match_motif(MOTIF, MOTIF) == {"matches": 12, "motif_length": 12, "offset": 0, "exact": True}
    assert match_motif("TT" + MOTIF[:10], MOTIF) == {"matches": 10, "motif_length": 12, "offset": -2,
                                                     "exact": False}
    assert match_motif(MOTIF[3:] + "AAA", MOTIF)["offset"] == 3
    one_off = MOTIF[:5] + ("A" if MOTIF[5] != "A" else "C") + MOTIF[6:]
    assert match_motif(one_off, MOTIF)["matches"] == 11
    assert match_motif("GGGGGGGGGGGG", "TTTTTTTTTTTT")["matches"] == 0


def test_find_motif():
    assert find_motif(["AA" + MOTIF, MOTIF.lower() + "A", "ACGT"], MOTIF).tolist() == [2, 0, -1]


# ---------------------------------------------------------------- windows

@given(seed=seeds, n=st.integers(1, 6), length=st.integers(1, 40), data=st.data())
def test_window_sums_and_best_start_vs_brute_force(seed, n, length, data):
    width = data.draw(st.integers(1, length))
    scores = rng_from(seed).standard_normal((n, length))
    sums = window_sums(scores, width)
    brute = np.array([[scores[i, s:s + width].sum() for s in range(length - width + 1)] for i in range(n)])
    assert_close("window sums", sums, brute, rtol=1e-12, atol=1e-12)
    assert best_window_starts(scores, width).tolist() == [int(np.argmax(r)) for r in brute]


def test_stack_windows_and_centred_starts():
    rng = np.random.default_rng(0)
    x = random_one_hot(rng, 3, 20)
    starts = np.array([0, 5, 18])  # the last window runs 2 past the end
    w = stack_windows(x, starts, 4)
    assert w.shape == (3, 4, 4)
    assert_close("window 0", w[0], x[0, :, 0:4], rtol=0)
    assert_close("window 1", w[1], x[1, :, 5:9], rtol=0)
    assert_close("inside part", w[2, :, :2], x[2, :, 18:20], rtol=0)
    assert not w[2, :, 2:].any(), "positions past the end must count nothing"
    assert centred_starts(np.array([0, 10, 49]), 12, 50).tolist() == [0, 4, 38]
    pwm = pwm_from_windows(w, 0.5)
    assert_close("window PWM columns", pwm.sum(axis=0), np.ones(4), rtol=1e-12)


# ---------------------------------------------------------------- attention upsampling

@given(seed=seeds, n_in=st.integers(1, 16), size=st.integers(1, 80),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_upsample_linear_matches_torch(seed, n_in, size, dtype):
    a = rng_from(seed).random((3, n_in)).astype(dtype)
    ours = upsample_linear(a, size)
    ref = torch.nn.functional.interpolate(torch.from_numpy(a)[:, None], size=size, mode="linear",
                                          align_corners=False)[:, 0]
    assert ours.dtype == dtype
    assert_close("upsampled attention", ours, ref, rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_motif_enrichment():
    att = np.full((3, 10), 0.05)
    att[0, 2:5] = 0.2
    att[1, 6:9] = 0.2
    stats = motif_enrichment(att, np.array([2, 6, -1]), 3)
    assert stats["n_sequences"] == 2
    assert stats["motif_mean"] == pytest.approx(0.2)
    assert stats["background_mean"] == pytest.approx(0.05)
    assert stats["ratio"] == pytest.approx(4.0)
    assert motif_enrichment(att, np.array([-1, -1, -1]), 3)["motif_mean"] is None


# ---------------------------------------------------------------- in-silico mutagenesis

def pwm_scanner(weights, bias=0.0):
    """A tiny nonlinear 'model': logit = log-sum-exp over windows of a PWM score."""
    K = weights.shape[1]

    def predict(batch):
        batch = np.asarray(batch, dtype=np.float64)
        L = batch.shape[2]
        scores = np.stack([np.einsum("nck,ck->n", batch[:, :, t:t + K], weights) for t in range(L - K + 1)], 1)
        return np.log(np.exp(scores).sum(axis=1)) + bias

    return predict


@settings(max_examples=10)
@given(seed=seeds, n=st.integers(1, 5), length=st.integers(4, 20), max_batch=st.sampled_from([1, 50, 8192]))
def test_ism_matches_one_by_one_predictions(seed, n, length, max_batch):
    rng = rng_from(seed)
    x = random_one_hot(rng, n, length, n_rate=0.1)
    predict = pwm_scanner(rng.standard_normal((4, 4)))
    calls = []
    delta = in_silico_mutagenesis(lambda b: (calls.append(len(b)), predict(b))[1], x, max_batch=max_batch)
    assert delta.shape == (n, 4, length)
    for i in range(n):
        base = predict(x[i:i + 1])[0]
        for pos in range(length):
            for b in range(4):
                if x[i, b, pos] == 1:
                    assert delta[i, b, pos] == 0.0
                    continue
                mutant = x[i:i + 1].copy()
                mutant[0, :, pos] = 0
                mutant[0, b, pos] = 1
                expected = predict(mutant)[0] - base
                assert abs(delta[i, b, pos] - expected) <= 1e-12 * max(1.0, abs(expected)), (i, b, pos)
    # 3 substitutions per base, 4 at an N, plus one call for the originals
    n_mutants = int((x == 0).sum())
    assert sum(calls) == n_mutants + n


def test_ism_alignment_finds_planted_motif():
    rng = np.random.default_rng(1)
    x, starts = planted(rng, 20, 40)
    predict = pwm_scanner(4.0 * (encode_motif(MOTIF) - 0.25))
    delta = in_silico_mutagenesis(predict, x)
    assert_close("mean-centred columns sum to 0", mean_centre(delta).sum(axis=1), np.zeros((20, 40)),
                 rtol=0, atol=1e-9)
    imp = reference_importance(delta, x)
    assert imp.shape == (20, 40)
    found, windows, centred = aligned_windows(delta, x, len(MOTIF))
    assert found.tolist() == starts.tolist()
    assert consensus(pwm_from_windows(windows)) == MOTIF
    assert consensus(centred.mean(axis=0)) == MOTIF  # the mean-centred logo's top letters


# ---------------------------------------------------------------- filters

def test_activation_pwms_recover_planted_motif_from_a_motif_filter():
    rng = np.random.default_rng(2)
    x, _ = planted(rng, 40, 50)
    K = len(MOTIF)
    w = np.zeros((3, 4, K))
    w[0] = encode_motif(MOTIF)  # filter 0 = the motif, filter 1 = zeros, filter 2 = random
    w[2] = rng.standard_normal((4, K))
    acts = np.maximum(conv1d_forward_reference(x, w, np.array([-(K - 2.0), 0.0, 0.0])), 0)
    records = activation_pwms(acts, x, K)
    assert records[0]["n_sites"] == 40  # exactly the planted sites pass the threshold
    assert records[0]["consensus"] == MOTIF
    assert records[1]["n_sites"] == 0 and records[1]["pwm"] is None  # a dead filter has no site
    assert best_filter(records)["filter"] == 0
    for r in records:
        if r["pwm"] is not None:
            assert_close("activation PWM column sums", r["pwm"].sum(axis=0), np.ones(K), rtol=1e-12)
    assert top_filters_by_variance(w, 2).tolist() == [2, 0]


def test_activation_sites_threshold_by_hand():
    from motifnet.interpret.filters import activation_sites

    acts = np.array([[[0.0, 1.0, 4.0]], [[2.0, 0.0, 3.0]]])  # (N=2, F=1, L=3): mu 10/6, max 4
    (n_idx, t_idx), = activation_sites(acts)  # threshold 10/6 + 0.5 (4 - 10/6) = 2.83
    assert list(zip(n_idx.tolist(), t_idx.tolist())) == [(0, 2), (1, 2)]


def test_activation_windows_follow_conv_geometry():
    """With stride, padding and dilation a site's window is t*s - p + k*d, clipped at the ends."""
    rng = np.random.default_rng(3)
    x = random_one_hot(rng, 30, 30)
    w = rng.standard_normal((1, 4, 3))
    s, p, d = 2, 2, 2
    acts = np.maximum(conv1d_forward_reference(x, w, np.zeros(1), s, p, d), 0)
    rec = activation_pwms(acts, x, 3, s, p, d, pseudocount=0.0, min_sites=1)[0]
    a = acts[:, 0]
    thr = a.mean() + 0.5 * (a.max() - a.mean())
    counts = np.zeros((4, 3))
    for n, t in zip(*np.nonzero(a > thr)):
        for k in range(3):
            pos = t * s - p + k * d
            if 0 <= pos < 30:
                counts[:, k] += x[n, :, pos]
    assert rec["n_sites"] == int((a > thr).sum())
    assert_close("activation PWM", rec["pwm"], pwm_from_counts(counts, 0.0), rtol=1e-12)


# ---------------------------------------------------------------- logos

def test_logo_letters_have_the_requested_heights():
    import matplotlib.pyplot as plt

    from motifnet.logos import COLORS, draw_logo

    heights = np.array([[0.5, -0.2], [1.0, 0.0], [0.0, -0.7], [0.25, 0.3]])
    fig, ax = plt.subplots()
    draw_logo(ax, heights)
    (letters,) = ax.collections  # one artist: a path and a colour per letter
    boxes = [(p.get_extents(), c) for p, c in zip(letters.get_paths(), letters.get_facecolors())]
    plt.close(fig)
    assert len(boxes) == 6  # zero heights draw nothing
    col0 = sorted((b for b in boxes if abs((b[0].x0 + b[0].x1) / 2 - 1) < 0.5), key=lambda b: b[0].y0)
    # column 1 stacks T (0.25), A (0.5), C (1.0) from the bottom; each letter spans its height exactly
    assert [round(b[0].y0, 6) for b in col0] == [0.0, 0.25, 0.75]
    assert [round(b[0].height, 6) for b in col0] == [0.25, 0.5, 1.0]
    assert matplotlib.colors.to_hex(col0[2][1]) == COLORS["C"]
    col1 = sorted((b for b in boxes if abs((b[0].x0 + b[0].x1) / 2 - 2) < 0.5), key=lambda b: b[0].y0)
    # negative letters go down from 0: G (-0.7) at the bottom, then A (-0.2); T (0.3) above 0
    assert [round(b[0].y0, 6) for b in col1] == [-0.9, -0.2, 0.0]
    assert [round(b[0].height, 6) for b in col1] == [0.7, 0.2, 0.3]
    assert all(abs(b[0].width - 0.9) < 1e-9 for b in boxes)


# ---------------------------------------------------------------- hand-built models

MAX_SEEN = 35


def motif_detector(n_filters=4, seq_len=50, model="cnn"):
    """A GenomicsCNN whose filter 0 is the motif (bias: fires only at 11+ matching bases),
    other filters zero, and whose logit is the sum of filter 0's pooled activations.

    At L=50 the 39 conv positions pool (4, stride 4) into 9 cells covering starts 0..35
    only, so tests plant the motif at starts <= MAX_SEEN.
    """
    from motifnet.models import build_model

    K = len(MOTIF)
    m = build_model(model, seq_len=seq_len, seed=0, n_filters=n_filters, kernel_size=K, pool_size=4, hidden=4)
    m.conv.weight.data[...] = 0
    m.conv.weight.data[0] = encode_motif(MOTIF)
    m.conv.bias.data[...] = 0
    m.conv.bias.data[0] = -(K - 2)  # 12 matches -> 2, 11 -> 1, fewer -> 0 after ReLU
    m.fc1.weight.data[...] = 0
    m.fc1.weight.data[0, :m.pool_length] = 1  # Flatten is filter-major: filter 0 comes first
    m.fc1.bias.data[...] = 0
    m.fc2.weight.data[...] = 0
    m.fc2.weight.data[0, 0] = 1
    m.fc2.bias.data[...] = 0
    return m


def test_hand_built_motif_filter_gives_the_motif_from_activations():
    rng = np.random.default_rng(4)
    x, _ = planted(rng, 30, 50, max_start=MAX_SEEN)
    model = motif_detector()
    x32 = x.astype(np.float32)
    acts = model.conv_activations(x32)
    records = activation_pwms(acts, x, len(MOTIF))
    assert records[0]["consensus"] == MOTIF and records[0]["n_sites"] >= 30
    assert all(r["n_sites"] == 0 for r in records[1:]), "all-zero filters have no sites"
    assert best_filter(records)["filter"] == 0


def test_hand_built_model_saliency_window_is_the_motif():
    from motifnet.train import saliency

    rng = np.random.default_rng(5)
    x, starts = planted(rng, 30, 50, max_start=MAX_SEEN)
    model = motif_detector()
    sal = saliency(model, x.astype(np.float32), mode="grad_x_input")
    assert best_window_starts(sal, len(MOTIF)).tolist() == starts.tolist()
    assert consensus(pwm_from_windows(stack_windows(x, best_window_starts(sal, len(MOTIF)), 12))) == MOTIF


def test_ism_of_a_model_matches_forward_passes_one_by_one():
    from motifnet.train import predict_logits

    rng = np.random.default_rng(6)
    model = motif_detector()
    model.conv.weight.data[1:] = rng.standard_normal(model.conv.weight.data[1:].shape)  # all filters live
    model.fc1.weight.data[...] = rng.standard_normal(model.fc1.weight.data.shape)
    x, _ = planted(rng, 2, 50, max_start=MAX_SEEN)
    x = x.astype(np.float32)
    delta = in_silico_mutagenesis(lambda b: predict_logits(model, np.ascontiguousarray(b)), x, max_batch=97)
    for i in range(2):
        base = float(model.forward(x[i:i + 1])[0])
        expected = np.zeros((4, 50))
        for pos in range(50):
            for b in range(4):
                if x[i, b, pos] != 1:
                    mutant = x[i:i + 1].copy()
                    mutant[0, :, pos] = 0
                    mutant[0, b, pos] = 1
                    expected[b, pos] = float(model.forward(mutant)[0]) - base
        assert_close(f"ISM of sequence {i}", delta[i], expected, rtol=1e-5, atol=1e-5)


def _interpret(tmp_path, model, x_pos, x_neg=None, **kw):
    from motifnet.data import encode
    from motifnet.interpret.motifs import decode
    from motifnet.interpret.report import interpret_model

    pos = encode([decode(s) for s in x_pos])
    neg = encode([decode(s) for s in x_neg]) if x_neg is not None else (None, None)
    kw.setdefault("figures", False)  # the figures are drawn and checked by test_cli_interpret
    return interpret_model(model, *pos, tmp_path, neg_codes=neg[0], neg_lengths=neg[1], n_references=3, **kw)


def test_interpret_model_on_the_hand_built_model(tmp_path):
    import json

    rng = np.random.default_rng(7)
    x_pos, starts = planted(rng, 24, 50, max_start=MAX_SEEN)
    x_neg = random_one_hot(rng, 24, 50)
    result = _interpret(tmp_path, motif_detector(), x_pos[:20], x_neg, motif=MOTIF)
    assert result["n_positive_sequences"] == 20 and result["motif_found_in"] == 20
    for method in ("saliency", "filter_activation", "ism"):
        rec = result["methods"][method]
        assert rec["consensus"] == MOTIF, method
        assert rec["match"] == {"matches": 12, "motif_length": 12, "offset": 0, "exact": True}
        pwm = np.array([rec["pwm"][b] for b in "ACGT"])
        assert_close(f"{method} PWM column sums", pwm.sum(axis=0), np.ones(12), rtol=1e-5)
    assert result["methods"]["filter_activation"]["filter"] == 0
    assert "attention" not in result["methods"]  # a plain CNN has no attention
    assert result["deeplift"]["max_abs_delta"] < 1e-9  # exact rules: completeness to rounding
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["methods"]["ism"]["consensus"] == MOTIF
    assert (tmp_path / "report.md").read_text().startswith("# What the cnn model learned")
    assert (tmp_path / "motifs.meme").is_file() and (tmp_path / "matches.tsv").is_file()


def test_the_saliency_motif_is_taken_from_gradient_times_input(tmp_path, monkeypatch):
    # pinned: the saliency reconstruction reads the grad x input map, not |grad| summed or maxed.
    # Give each map its own peak: the motif sits under grad x input's, random bases under the others'.
    import motifnet.train as train

    rng = np.random.default_rng(8)
    x_pos, starts = planted(rng, 16, 50, max_start=MAX_SEEN)
    def fake_maps(model, x, lengths=None, modes=train.SALIENCY_MODES):
        maps = {}
        for mode in modes:
            out = np.zeros((len(x), 50))
            for i, s in enumerate(starts):
                if mode == "grad_x_input":
                    out[i, s:s + 12] = 1.0
                else:  # the other forms peak 12 bases away from the motif
                    far = (s + 24) % 38
                    out[i, far:far + 12] = 5.0
            maps[mode] = out
        return maps

    monkeypatch.setattr(train, "saliency_maps", fake_maps)
    result = _interpret(tmp_path, motif_detector(), x_pos)
    assert result["methods"]["saliency"]["consensus"] == MOTIF


def test_the_attention_window_is_centred_on_the_attention_maximum(tmp_path):
    # pinned: the follow-up's window is 12 bases centred on the argmax of the attention upsampled
    # to sequence positions.  Plant the motif exactly there and nowhere else that the other
    # conventions (a window starting, or ending, at the argmax) would read.
    from motifnet.interpret.attention import upsample_linear

    model = motif_detector(model="attention")
    att = np.zeros((1, model.pool_length))
    att[0, 4] = 1.0
    peak = int(np.argmax(upsample_linear(att, 50)[0]))
    window_start = int(centred_starts(np.array([peak]), 12, 50)[0])
    model.attention_weights = lambda x, batch_size=512: np.tile(att, (len(x), 1)).astype(np.float32)
    rng = np.random.default_rng(9)
    x = random_one_hot(rng, 16, 50)
    x[:, :, window_start:window_start + 12] = encode_motif(MOTIF)[None]
    result = _interpret(tmp_path, model, x)
    assert window_start not in (peak, peak - 11)  # the three conventions read different windows
    assert result["methods"]["attention"]["consensus"] == MOTIF
