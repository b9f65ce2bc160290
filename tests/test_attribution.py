"""DeepLIFT and integrated gradients (motifnet/attribution.py) and the DeepLIFT rules of
kernels/relu.py, kernels/maxpool1d.py, kernels/global_max.py and kernels/attention_deeplift.py.

Every completeness check compares the attributions with logits computed by the models'
own forward (``predict_logits``), a code path the attribution pass does not use, and each
rule's summation-to-delta with the op's *reference* forward loops.  The plain-gradient
max rule is run on the same data to show the checks can fail.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import assert_close
from motifnet.attribution import (base_frequencies, composition_reference, deeplift, integrated_gradients,
                                  model_in_dtype, shuffled_references)
from motifnet.data import encode, generate_data, one_hot_codes
from motifnet.kernels.attention import attention_backward_reference, attention_forward_reference
from motifnet.kernels.attention_deeplift import (attention_deeplift_backward,
                                                 attention_deeplift_backward_reference)
from motifnet.kernels.global_max import (global_max_backward_reference, global_max_deeplift_backward,
                                         global_max_deeplift_backward_reference, global_max_forward_reference)
from motifnet.kernels.maxpool1d import (maxpool1d_backward_reference, maxpool1d_deeplift_backward,
                                        maxpool1d_deeplift_backward_reference, maxpool1d_forward_reference)
from motifnet.kernels.relu import relu_deeplift_backward, relu_deeplift_backward_reference, relu_forward_reference
from motifnet.models import DeepBind, GenomicsCNN, GenomicsCNNWithAttention
from motifnet.train import fit, input_gradient, predict_logits
from strategies import attention_configs, maxpool1d_configs, seeds

F64_RTOL = 1e-10   # completeness in float64, relative to max(1, |f(x)|, |f(x')|)
U32 = 2.0 ** -24   # float32 unit roundoff
# float32 bound: |delta| <= F32_FACTOR * u * (|f(x)| + |f(x')| + sum |contributions|).  Measured
# factors (max over sequences, 3 shuffles each): 0.7-1.3 on random and trained cnn/deepbind and
# random attention models; on the trained attention model, whose tanh is the fast kernel's and
# not libm's (which the rules use), 7.1 with an exp form <= 1.5 ulp(1) from it, and 3.2 with the
# rational float32 form since (<= 2.3 ulp(1)); DeepBind trained on the planted set: 0.8.
F32_FACTOR = 64


# ------------------------------------------------------------------------------ helpers
def _random_codes(rng, N, L, n_fraction=0.05):
    codes = rng.integers(0, 4, size=(N, L)).astype(np.int8)
    codes[rng.random((N, L)) < n_fraction] = -1
    return codes


def _make_model(kind, rng, dtype=np.float64, scale=1.0, small=True):
    seed = int(rng.integers(2**31))
    if kind == "deepbind":
        m = DeepBind(n_filters=int(rng.integers(1, 6)), kernel_size=int(rng.integers(1, 9)),
                     hidden=int(rng.integers(1, 6)), seed=seed, dtype=dtype)
        L = int(rng.integers(m.kernel_size, 40))
    else:
        K, pool = int(rng.integers(1, 9)), int(rng.integers(1, 5))
        L = int(rng.integers(K + pool - 1, 40))
        cls = GenomicsCNN if kind == "cnn" else GenomicsCNNWithAttention
        m = cls(seq_len=L, n_filters=int(rng.integers(1, 6)), kernel_size=K, pool_size=pool,
                hidden=int(rng.integers(1, 6)), seed=seed, dtype=dtype)
    m.flat_params *= scale
    return m, L


def _lengths(model, rng, N, L):
    if isinstance(model, DeepBind):
        return rng.integers(model.kernel_size, L + 1, size=N)
    return None


def _pad(codes, lengths):
    codes = codes.copy()
    if lengths is not None:
        for i, n in enumerate(lengths):
            codes[i, n:] = -1
    return codes


def _logits(model, onehot, lengths):
    """The model's own forward, float64 (the independent path)."""
    return predict_logits(model, np.ascontiguousarray(onehot, dtype=model.dtype), lengths).astype(np.float64)


def _completeness_error(model, attribution, x_onehot, refs_onehot, lengths):
    """|sum contributions - (f(x) - mean_r f(x'_r))| per sequence, f by the model's forward, and the scale."""
    N, R = refs_onehot.shape[:2]
    f_x = _logits(model, x_onehot, lengths)
    rl = None if lengths is None else np.repeat(lengths, R)
    f_ref = _logits(model, refs_onehot.reshape(N * R, 4, -1), rl).reshape(N, R).mean(axis=1)
    err = np.abs(attribution.contributions.sum(axis=(1, 2)) - (f_x - f_ref))
    return err, np.maximum(1.0, np.maximum(np.abs(f_x), np.abs(f_ref)))


@pytest.fixture(scope="module")
def trained():
    """Small models of each kind fitted a few epochs on the primer's generated data (motif present
    in half the sequences): the weights and activations of a model that learnt something."""
    seqs, labels = generate_data(n=600, length=50, seed=1)
    codes, _ = encode(seqs)
    models = {"deepbind": DeepBind(n_filters=8, kernel_size=12, hidden=8, seed=0),
              "cnn": GenomicsCNN(seq_len=50, n_filters=8, hidden=8, seed=0),
              "attention": GenomicsCNNWithAttention(seq_len=50, n_filters=8, hidden=8, seed=0)}
    for m in models.values():
        fit(m, codes[:500], labels[:500], epochs=4, lr=1e-2)
    return models, codes[500:], labels[500:]


# ------------------------------------------------------------------------------ the rules, op by op
@given(st.integers(1, 200), seeds)
def test_relu_rule_matches_reference_and_each_term_is_its_delta(n, seed):
    rng = np.random.default_rng(seed)
    # values on a coarse grid so that equal pairs, zeros and sign straddles all occur
    x = rng.integers(-3, 4, n) * rng.choice([1.0, 1e-3, 1e-300], n)
    x_ref = rng.integers(-3, 4, n) * rng.choice([1.0, 1e-3, 1e-300], n)
    m_y = rng.standard_normal(n)
    m_x = relu_deeplift_backward(m_y, x, x_ref)
    assert_close("m_x vs reference", m_x, relu_deeplift_backward_reference(m_y, x, x_ref), rtol=1e-15)
    d_y = relu_forward_reference(x) - relu_forward_reference(x_ref)
    assert_close("m_x * dx vs m_y * dy", m_x * (x - x_ref), m_y * d_y, rtol=1e-15)
    ratio = m_x / np.where(m_y == 0, 1, m_y)
    assert np.all((ratio >= 0) & (ratio <= 1)), "the rescale multiplier leaves [0, 1]"


@settings(max_examples=30)
@given(maxpool1d_configs(), seeds, st.booleans())
def test_maxpool_rule_matches_reference_and_sums_to_delta(c, seed, coarse):
    rng = np.random.default_rng(seed)
    shape = (c["B"], c["C"], c["L"])
    draw = (lambda: rng.integers(-2, 3, shape).astype(np.float64)) if coarse else (lambda: rng.standard_normal(shape))
    x, x_ref = draw(), draw()  # coarse: ties inside windows and between x and x'
    geometry = (c["K"], c["stride"], c["padding"], c["dilation"])
    y, argmax = maxpool1d_forward_reference(x, *geometry)
    y_ref, argmax_ref = maxpool1d_forward_reference(x_ref, *geometry)
    m_y = rng.standard_normal(y.shape)
    m_x = maxpool1d_deeplift_backward(m_y, x, x_ref, *geometry)
    assert_close("m_x vs reference", m_x,
                 maxpool1d_deeplift_backward_reference(m_y, x, x_ref, argmax, argmax_ref), rtol=1e-14)
    finite = np.isfinite(y) & np.isfinite(y_ref)  # windows wholly in the padding have no input
    expected = float(np.sum(np.where(finite, m_y * (y - y_ref), 0)))
    total = float(np.sum(np.abs(m_y[finite])) * (np.abs(x).max() + np.abs(x_ref).max()))
    assert abs(np.sum(m_x * (x - x_ref)) - expected) <= 1e-13 * max(1.0, total)


def test_maxpool_rule_splits_each_window_in_0_1_where_the_gradient_misses():
    rng = np.random.default_rng(3)
    x, x_ref = rng.standard_normal((4, 3, 40)), rng.standard_normal((4, 3, 40))
    y, argmax = maxpool1d_forward_reference(x, 4, 4)
    y_ref, _ = maxpool1d_forward_reference(x_ref, 4, 4)
    m_x = maxpool1d_deeplift_backward(np.ones(y.shape), x, x_ref, 4)
    windows = m_x.reshape(4, 3, 10, 4)
    assert_close("multipliers per window", windows.sum(axis=3), np.ones((4, 3, 10)), rtol=1e-15)
    assert np.all((windows >= 0) & (windows <= 1))
    assert np.count_nonzero(windows, axis=3).max() == 2  # some windows split between two elements
    # the plain gradient, on the same data, misses the change of the maxima
    plain = maxpool1d_backward_reference(np.ones(y.shape), argmax, 40)
    miss = abs(np.sum(plain * (x - x_ref)) - np.sum(y - y_ref))
    assert miss > 1.0, f"the plain gradient was expected to miss the delta, missed only {miss:.2e}"


@settings(max_examples=30)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 2), st.integers(1, 30), seeds, st.booleans())
def test_global_max_rule_matches_reference_and_sums_to_delta(B, F, groups, L, seed, coarse):
    rng = np.random.default_rng(seed)
    shape = (B, groups * F, L)
    draw = (lambda: rng.integers(-2, 3, shape).astype(np.float64)) if coarse else (lambda: rng.standard_normal(shape))
    x, x_ref = draw(), draw()
    n_valid = rng.integers(1, L + 1, B).astype(np.int64)
    y, argmax = global_max_forward_reference(x, n_valid, groups)
    y_ref, argmax_ref = global_max_forward_reference(x_ref, n_valid, groups)
    m_y = rng.standard_normal(y.shape)
    m_x = global_max_deeplift_backward(m_y, x, x_ref, n_valid, groups)
    assert_close("m_x vs reference", m_x,
                 global_max_deeplift_backward_reference(m_y, x, x_ref, argmax, argmax_ref, groups), rtol=1e-14)
    assert_close("sum m_x dx vs sum m_y dy", np.sum(m_x * (x - x_ref), axis=(1, 2)),
                 np.sum(m_y * (y - y_ref), axis=1), rtol=1e-14, atol=1e-14)
    past = np.arange(L)[None, None, :] >= n_valid[:, None, None]
    assert not np.any(m_x[np.broadcast_to(past, m_x.shape)]), "padding got a multiplier"


def test_global_max_plain_gradient_misses_delta():
    rng = np.random.default_rng(4)
    x, x_ref = rng.standard_normal((6, 8, 50)), rng.standard_normal((6, 8, 50))
    n_valid = np.full(6, 50, dtype=np.int64)
    y, argmax = global_max_forward_reference(x, n_valid, 2)
    y_ref, _ = global_max_forward_reference(x_ref, n_valid, 2)
    plain = global_max_backward_reference(np.ones(y.shape), argmax, 2, 50)
    exact = global_max_deeplift_backward(np.ones(y.shape), x, x_ref, n_valid, 2)
    delta_y = np.sum(y - y_ref)
    assert abs(np.sum(exact * (x - x_ref)) - delta_y) < 1e-12
    assert abs(np.sum(plain * (x - x_ref)) - delta_y) > 1.0


def _attention_case(c, rng, scale=1.0):
    B, H, L = c["B"], c["H"], c["L"]
    q, q_ref = rng.standard_normal((B, H)) * scale, rng.standard_normal((B, H)) * scale
    k, k_ref = rng.standard_normal((B, H, L)) * scale, rng.standard_normal((B, H, L)) * scale
    W, bias, v = rng.standard_normal((H, 2 * H)), rng.standard_normal(H), rng.standard_normal(H)
    return q, q_ref, k, k_ref, W, bias, v


def _cancelled_size(q, q_ref, k, k_ref, W, bias, v, m_ctx):
    """Per sequence, at least 1: the size |m_a| r-bar of the terms that (D2) and (D4) of
    kernels/attention_deeplift.py add to m_u and that cancel when the softmax is flat (at
    L = 1 exactly: a = 1 whatever the scores, and m_u is 0).  r-bar = (1/S + 1/S') / 2
    grows as exp|s - s'|, so float64 leaves a residue of ~1e-16 of it."""
    H = q.shape[1]

    def scores(q, k):  # (F1)-(F3)
        pre = bias[None, :, None] + np.einsum("ji,bi->bj", W[:, :H], q)[:, :, None] \
            + np.einsum("ji,bil->bjl", W[:, H:], k)
        return np.einsum("j,bjl->bl", v, np.tanh(pre))

    s, s_ref = scores(q, k), scores(q_ref, k_ref)
    shift = np.maximum(s.max(1), s_ref.max(1))[:, None]
    r_bar = (1 / np.exp(s - shift).sum(1) + 1 / np.exp(s_ref - shift).sum(1)) / 2
    m_a = np.einsum("bh,bhl->bl", m_ctx, (k + k_ref) / 2)
    return np.maximum(1.0, np.abs(m_a).max(1) * r_bar)


@settings(max_examples=15)
@given(attention_configs(), seeds, st.sampled_from([0.1, 1.0, 5.0]))
def test_attention_rule_matches_reference_sums_to_delta_and_is_symmetric(c, seed, scale):
    if c["H"] > 8:  # the reference loops are Python: keep them quick
        c = dict(c, H=8)
    rng = np.random.default_rng(seed)
    q, q_ref, k, k_ref, W, bias, v = _attention_case(c, rng, scale)
    m_ctx = rng.standard_normal((c["B"], c["H"]))
    m_q, m_k = attention_deeplift_backward(m_ctx, q, q_ref, k, k_ref, W, bias, v)
    ref_q, ref_k = attention_deeplift_backward_reference(m_ctx, q, q_ref, k, k_ref, W, bias, v)
    # sums that cancel to ~0 leave float64 residue of the size of the terms they cancel
    # (_cancelled_size): at L = 1, scale 5, seed 7809, m_q was 2.4e-12 where the reference
    # has 0 and 1e-13 x max|m| allowed 2.4e-13
    cancelled = _cancelled_size(q, q_ref, k, k_ref, W, bias, v, m_ctx)
    tiny = 1e-13 * cancelled.max() * max(1.0, np.abs(ref_k).max(), np.abs(ref_q).max())
    assert_close("m_q vs reference", m_q, ref_q, rtol=1e-12, atol=tiny)
    assert_close("m_k vs reference", m_k, ref_k, rtol=1e-12, atol=tiny)
    ctx, _ = attention_forward_reference(q, k, W, bias, v)
    ctx_ref, _ = attention_forward_reference(q_ref, k_ref, W, bias, v)
    lhs = np.sum(m_q * (q - q_ref), axis=1) + np.sum(m_k * (k - k_ref), axis=(1, 2))
    rhs = np.sum(m_ctx * (ctx - ctx_ref), axis=1)
    scale_terms = np.sum(np.abs(m_q * (q - q_ref)), axis=1) + np.sum(np.abs(m_k * (k - k_ref)), axis=(1, 2))
    assert np.all(np.abs(lhs - rhs) <= 1e-13 * cancelled * np.maximum(1.0, scale_terms)), (lhs - rhs, scale_terms)
    swapped_q, swapped_k = attention_deeplift_backward(m_ctx, q_ref, q, k_ref, k, W, bias, v)
    assert_close("m_q(x', x) vs m_q(x, x')", swapped_q, m_q, rtol=1e-12, atol=tiny)
    assert_close("m_k(x', x) vs m_k(x, x')", swapped_k, m_k, rtol=1e-12, atol=tiny)


def test_rules_tend_to_the_gradient_as_the_reference_tends_to_x():
    rng = np.random.default_rng(5)
    # attention: the DeepLIFT multipliers at x' = x + h noise against the gradient (B1)-(B7)
    q, _, k, _, W, bias, v = _attention_case(dict(B=3, H=6, L=5), rng)
    m_ctx = rng.standard_normal((3, 6))
    dq, dk, *_ = attention_backward_reference(m_ctx, q, k, W, bias, v)
    for h in (1e-4, 1e-6):
        m_q, m_k = attention_deeplift_backward(m_ctx, q, q + h * rng.standard_normal(q.shape), k,
                                               k + h * rng.standard_normal(k.shape), W, bias, v)
        assert_close(f"m_q at h={h}", m_q, dq, rtol=30 * h)
        assert_close(f"m_k at h={h}", m_k, dk, rtol=30 * h)
    # max-pool: when the argmaxes agree the rule is the gradient, exactly
    x = rng.standard_normal((2, 3, 24))
    y, argmax = maxpool1d_forward_reference(x, 4, 2)
    m_y = rng.standard_normal(y.shape)
    assert_close("max-pool at x' -> x", maxpool1d_deeplift_backward(m_y, x, x + 1e-9, 4, 2),
                 maxpool1d_backward_reference(m_y, argmax, 24), rtol=1e-15)


# ------------------------------------------------------------------------------ whole models
KINDS = ["cnn", "attention", "deepbind"]


@settings(max_examples=20)
@given(st.sampled_from(KINDS), st.integers(1, 4), st.sampled_from([1.0, 4.0]),
       st.sampled_from(["shuffle", "uniform", "array"]), seeds)
def test_completeness_float64_all_models_drawn_shapes(kind, N, scale, ref_kind, seed):
    rng = np.random.default_rng(seed)
    model, L = _make_model(kind, rng, scale=scale)  # scale 4: larger activations, sparser ReLUs
    lengths = _lengths(model, rng, N, L)
    codes = _pad(_random_codes(rng, N, L), lengths)
    R = 2
    if ref_kind == "shuffle":
        refs = one_hot_codes(shuffled_references(codes, lengths if lengths is not None else np.full(N, L), R, seed)
                             .reshape(N * R, L)).reshape(N, R, 4, L)
        references = "shuffle"
    elif ref_kind == "uniform":
        refs = composition_reference(codes, np.full(N, L) if lengths is None else lengths, np.full(4, 0.25))[:, None]
        references = "uniform"
    else:  # any float references, not one-hot
        refs = _pad_onehot(rng.random((N, R, 4, L)), lengths)
        references = refs
    a = deeplift(model, codes, lengths, references=references, n_references=R, seed=seed)
    err, scale_f = _completeness_error(model, a, one_hot_codes(codes), refs, lengths)
    assert np.all(err <= F64_RTOL * scale_f), f"completeness error {err.max():.3e} (scale {scale_f.max():.3g})"
    assert_close("delta field", a.delta, a.contributions.sum(axis=(1, 2)) - (a.f_x - a.f_ref), rtol=0, atol=1e-12)


def _pad_onehot(refs, lengths):
    if lengths is not None:
        for i, n in enumerate(lengths):
            refs[i, ..., n:] = 0
    return refs


@pytest.mark.parametrize("kind", KINDS)
def test_completeness_of_trained_models_float64_and_float32_and_the_plain_max_rule_fails(trained, kind):
    models, codes, _ = trained
    model = models[kind]
    R, seed = 3, 7
    refs = one_hot_codes(shuffled_references(codes, np.full(len(codes), 50), R, seed).reshape(-1, 50))
    refs = refs.reshape(len(codes), R, 4, 50)
    x = one_hot_codes(codes)
    exact = deeplift(model, codes, references="shuffle", n_references=R, seed=seed)
    err, scale = _completeness_error(model_in_dtype(model, np.float64), exact, x, refs, None)
    assert np.all(err <= F64_RTOL * scale), f"float64 completeness error {err.max():.3e}"
    single = deeplift(model, codes, references="shuffle", n_references=R, seed=seed, dtype=np.float32)
    err32, _ = _completeness_error(model, single, x, refs, None)
    bound = F32_FACTOR * U32 * (np.abs(single.f_x) + np.abs(single.f_ref) + np.abs(single.contributions).sum((1, 2)))
    assert np.all(err32 <= bound), f"float32 completeness error {err32.max():.3e} above the bound"
    plain = deeplift(model, codes, references="shuffle", n_references=R, seed=seed, max_rule="gradient")
    err_plain, _ = _completeness_error(model_in_dtype(model, np.float64), plain, x, refs, None)
    assert err_plain.max() > 1e6 * max(err.max(), 1e-15) and err_plain.max() > 1e-4, \
        f"the plain-gradient max rule was expected to miss completeness, max error {err_plain.max():.3e}"


@pytest.mark.parametrize("kind", KINDS)
def test_plain_max_rule_fails_on_random_weights_too(kind):
    rng = np.random.default_rng(11)
    model, L = _make_model(kind, rng)
    codes = _random_codes(rng, 6, L)
    a = deeplift(model, codes, n_references=2, max_rule="gradient")
    b = deeplift(model, codes, n_references=2)
    assert np.abs(a.delta).max() > 1e-6 and np.abs(a.delta).max() > 1e6 * np.abs(b.delta).max()


@pytest.mark.parametrize("kind", KINDS)
def test_multipliers_tend_to_the_input_gradient(trained, kind):
    models, codes, _ = trained
    model = model_in_dtype(models[kind], np.float64)
    x = one_hot_codes(codes[:8]).astype(np.float64)
    rng = np.random.default_rng(2)
    near = x + 1e-7 * rng.standard_normal(x.shape)  # no ReLU or argmax flips at this distance
    a = deeplift(model, x, references=near[:, None])
    grad = input_gradient(model, x).astype(np.float64)  # model.backward, the ordinary chain rule
    assert_close("multipliers vs d logit / dx", a.multipliers, grad, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_swapping_sequence_and_reference_keeps_multipliers_and_negates_contributions(kind):
    rng = np.random.default_rng(12)
    model, L = _make_model(kind, rng, scale=3.0)
    codes = _random_codes(rng, 4, L)
    x = one_hot_codes(codes).astype(np.float64)
    other = one_hot_codes(_random_codes(rng, 4, L)).astype(np.float64)
    ab = deeplift(model, x, references=other)
    ba = deeplift(model, other, references=x)
    assert_close("multipliers", ba.multipliers, ab.multipliers, rtol=1e-12)
    assert_close("contributions", ba.contributions, -ab.contributions, rtol=1e-12)


def test_shuffle_references_average_single_references():
    rng = np.random.default_rng(13)
    model, L = _make_model("deepbind", rng, scale=2.0)
    lengths = _lengths(model, rng, 3, L)
    codes = _pad(_random_codes(rng, 3, L), lengths)
    averaged = deeplift(model, codes, lengths, references="shuffle", n_references=4, seed=5)
    shuffles = shuffled_references(codes, lengths, 4, seed=5)
    singles = [deeplift(model, codes, lengths, references=np.ascontiguousarray(shuffles[:, r])) for r in range(4)]
    for field in ("contributions", "hypothetical", "multipliers", "f_ref"):
        assert_close(field, getattr(averaged, field), np.mean([getattr(s, field) for s in singles], axis=0),
                     rtol=1e-12)
    assert_close("f_x", averaged.f_x, singles[0].f_x, rtol=1e-15)


def test_padding_changes_nothing_and_gets_nothing():
    rng = np.random.default_rng(14)
    model, _ = _make_model("deepbind", rng, scale=2.0)
    K = model.kernel_size
    short = _random_codes(rng, 1, K + 9)
    ref = _random_codes(rng, 1, K + 9)
    alone = deeplift(model, short, references=ref)
    padded_codes = np.full((1, K + 30), -1, dtype=np.int8)
    padded_codes[:, :K + 9] = short
    padded_ref = np.full((1, K + 30), -1, dtype=np.int8)
    padded_ref[:, :K + 9] = ref
    padded = deeplift(model, padded_codes, np.array([K + 9]), references=padded_ref)
    assert_close("contributions", padded.contributions[:, :, :K + 9], alone.contributions, rtol=1e-13)
    assert_close("hypothetical", padded.hypothetical[:, :, :K + 9], alone.hypothetical, rtol=1e-13)
    assert not np.any(padded.contributions[:, :, K + 9:]) and not np.any(padded.hypothetical[:, :, K + 9:])


def test_hypothetical_contributions_at_the_observed_base_are_the_contributions():
    rng = np.random.default_rng(15)
    model, L = _make_model("cnn", rng, scale=2.0)
    codes = _random_codes(rng, 5, L, n_fraction=0.1)
    for references in ("shuffle", "uniform", (0.3, 0.2, 0.2, 0.3)):
        a = deeplift(model, codes, references=np.asarray(references) if isinstance(references, tuple) else references,
                     n_references=3)
        x = one_hot_codes(codes)
        known = codes >= 0
        observed = (a.hypothetical * x).sum(axis=1)
        assert_close(f"{references}: observed", observed[known], a.contributions.sum(axis=1)[known], rtol=1e-12)
        # and it is what the definition says: m_b - sum_c m_c x'_c for a one-reference case
    ref = one_hot_codes(_random_codes(rng, 5, L)).astype(np.float64)
    a = deeplift(model, codes, references=ref)
    expected = a.multipliers - (a.multipliers * ref).sum(axis=1, keepdims=True)
    assert_close("hypothetical by its definition", a.hypothetical, expected, rtol=1e-13)


def test_composition_references():
    codes = np.array([[0, 1, 2, 3, -1, 2], [2, 2, 1, -1, -1, -1]], dtype=np.int8)
    lengths = np.array([6, 3])
    assert_close("frequencies", base_frequencies(codes, lengths), np.array([1, 2, 4, 1]) / 8, rtol=0)
    ref = composition_reference(codes, lengths, np.array([0.1, 0.2, 0.3, 0.4]))
    assert ref.shape == (2, 4, 6)
    assert not ref[0, :, 4].any() and not ref[1, :, 3:].any()  # N and padding
    assert_close("a known column", ref[1, :, 0], np.array([0.1, 0.2, 0.3, 0.4]), rtol=0)
    model = DeepBind(n_filters=3, kernel_size=3, hidden=2, seed=0, dtype=np.float64)
    a = deeplift(model, codes, lengths, references="composition")
    expected = _logits(model, composition_reference(codes, lengths, base_frequencies(codes, lengths)), lengths)
    assert_close("f_ref", a.f_ref, expected, rtol=1e-14)


def test_arguments_are_checked():
    model = DeepBind(n_filters=2, kernel_size=3, hidden=2, seed=0)
    codes = np.zeros((2, 8), dtype=np.int8)
    with pytest.raises(ValueError, match="max_rule"):
        deeplift(model, codes, max_rule="plain")
    with pytest.raises(ValueError, match="references"):
        deeplift(model, codes, references="dinucleotide")
    with pytest.raises(ValueError, match="frequencies"):
        deeplift(model, codes, references=np.array([0.5, 0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="one-hot"):
        deeplift(model, np.full((2, 4, 8), 0.25, dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        deeplift(model, codes, references=np.zeros((3, 8), dtype=np.int8))
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(model, codes, steps=0)
    with pytest.raises(ValueError, match="method"):
        integrated_gradients(model, codes, method="simpson")


# ------------------------------------------------------------------------------ integrated gradients
@pytest.mark.parametrize("kind", KINDS)
def test_ig_delta_shrinks_with_steps(trained, kind):
    models, codes, _ = trained
    model = models[kind]
    refs = one_hot_codes(shuffled_references(codes[:6], np.full(6, 50), 2, 3).reshape(-1, 50)).reshape(6, 2, 4, 50)
    x = one_hot_codes(codes[:6])
    for method in ("midpoint", "gausslegendre"):
        errors = []
        for steps in (2, 16, 256):
            a = integrated_gradients(model, codes[:6], references="shuffle", n_references=2, seed=3, steps=steps,
                                     method=method)
            err, _ = _completeness_error(model_in_dtype(model, np.float64), a, x, refs, None)
            assert_close(f"{method} {steps}: delta field", np.abs(a.delta), err, rtol=1e-9, atol=1e-12)
            errors.append(err.max())
        assert errors[2] < errors[1] < errors[0], f"{method}: {errors}"
        assert errors[2] < 0.05 * errors[0], f"{method}: {errors}"


def test_ig_one_midpoint_step_is_the_gradient_at_the_midpoint():
    rng = np.random.default_rng(16)
    model, L = _make_model("attention", rng, scale=2.0)
    codes = _random_codes(rng, 3, L)
    ref = one_hot_codes(_random_codes(rng, 3, L)).astype(np.float64)
    x = one_hot_codes(codes).astype(np.float64)
    a = integrated_gradients(model, codes, references=ref, steps=1)
    grad = input_gradient(model, (x + ref) / 2).astype(np.float64)
    assert_close("IG, one step", a.contributions, grad * (x - ref), rtol=1e-12)
    same = integrated_gradients(model, codes, references=codes, steps=4)
    assert not same.contributions.any() and np.all(same.delta == 0)
