"""Fast in-silico mutagenesis (motifnet/ism.py, kernels/ism.py) against the slow reference
(motifnet/interpret/ism.py: 3 L full forward passes of the model per sequence) and against
the kernel file's own reference loops."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import assert_close
from motifnet.data import one_hot_codes
from motifnet.interpret.ism import in_silico_mutagenesis
from motifnet.ism import fast_ism
from motifnet.kernels.ism import cnn_ism, cnn_ism_reference, deepbind_ism, deepbind_ism_reference
from motifnet.models import DeepBind, GenomicsCNN, GenomicsCNNWithAttention
from motifnet.train import predict_logits
from strategies import seeds


def _codes(rng, N, L, n_fraction=0.05):
    codes = rng.integers(0, 4, size=(N, L)).astype(np.int8)
    codes[rng.random((N, L)) < n_fraction] = -1  # N: all four bases are substitutions
    return codes


def _slow(model, codes, lengths=None):
    """The reference ISM, one sequence at a time at its own length (it knows no padding)."""
    N, L = codes.shape
    out = np.zeros((N, 4, L))
    for i in range(N):
        n = L if lengths is None else int(lengths[i])
        x = one_hot_codes(codes[i:i + 1, :n]).astype(model.dtype)
        out[i, :, :n] = in_silico_mutagenesis(lambda b: predict_logits(model, b), x)[0]
    return out


def _plant(model, rng, strength):
    """'Trained-ish' filters: each a strong one-hot match to a random word, so maxima sit at
    the word's occurrences, ReLUs are sparse and substitutions there move the maxima."""
    w = model.conv.weight.data
    F, _, K = w.shape
    words = rng.integers(0, 4, size=(F, K))
    w *= 0.2
    w[np.arange(F)[:, None], words, np.arange(K)[None, :]] += strength
    model.conv.bias.data[...] = -strength * K * 0.6
    return words


@st.composite
def deepbind_cases(draw):
    F, K, H = draw(st.integers(1, 6)), draw(st.integers(1, 10)), draw(st.integers(1, 6))
    N, L = draw(st.integers(1, 4)), draw(st.integers(K, K + 30))
    return dict(F=F, K=K, H=H, N=N, L=L, planted=draw(st.booleans()), seed=draw(seeds))


@settings(max_examples=25)
@given(deepbind_cases())
def test_deepbind_matches_the_slow_reference_variable_lengths_and_N(c):
    rng = np.random.default_rng(c["seed"])
    model = DeepBind(n_filters=c["F"], kernel_size=c["K"], hidden=c["H"], seed=c["seed"] % 1000, dtype=np.float64)
    codes = _codes(rng, c["N"], c["L"])
    if c["planted"]:
        words = _plant(model, rng, 2.0)
        for i in range(c["N"]):  # put filter 0's word somewhere in each sequence
            start = int(rng.integers(0, c["L"] - c["K"] + 1))
            codes[i, start:start + c["K"]] = words[0]
    lengths = rng.integers(c["K"], c["L"] + 1, size=c["N"])
    for i, n in enumerate(lengths):
        codes[i, n:] = -1
    fast = fast_ism(model, codes, lengths)
    slow = _slow(model, codes, lengths)
    assert_close("fast vs slow ISM", fast, slow, rtol=1e-10, atol=1e-12)
    assert not np.any(fast[np.broadcast_to(np.arange(c["L"])[None, None, :] >= lengths[:, None, None], fast.shape)])


@st.composite
def cnn_cases(draw):
    K, pool = draw(st.integers(1, 10)), draw(st.integers(1, 5))
    L = draw(st.integers(K + pool - 1, K + pool + 30))
    return dict(F=draw(st.integers(1, 6)), K=K, pool=pool, H=draw(st.integers(1, 6)), N=draw(st.integers(1, 3)),
                L=L, planted=draw(st.booleans()), seed=draw(seeds))


@settings(max_examples=25)
@given(cnn_cases())
def test_cnn_matches_the_slow_reference(c):
    rng = np.random.default_rng(c["seed"])
    model = GenomicsCNN(seq_len=c["L"], n_filters=c["F"], kernel_size=c["K"], pool_size=c["pool"], hidden=c["H"],
                        seed=c["seed"] % 1000, dtype=np.float64)
    codes = _codes(rng, c["N"], c["L"])
    if c["planted"]:
        words = _plant(model, rng, 2.0)
        codes[:, :c["K"]] = words[0]
    assert_close("fast vs slow ISM", fast_ism(model, codes), _slow(model, codes), rtol=1e-10, atol=1e-12)


def test_attention_model_matches_the_slow_reference():
    rng = np.random.default_rng(3)
    model = GenomicsCNNWithAttention(seq_len=37, n_filters=5, kernel_size=6, pool_size=3, hidden=4, seed=1,
                                     dtype=np.float64)
    codes = _codes(rng, 5, 37)
    assert_close("fast vs slow ISM", fast_ism(model, codes, mutants_per_batch=100), _slow(model, codes),
                 rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["deepbind", "cnn"])
def test_kernels_match_their_reference_loops(kind):
    rng = np.random.default_rng(4)
    if kind == "deepbind":
        model = DeepBind(n_filters=3, kernel_size=5, hidden=4, seed=2, dtype=np.float64)
        codes = _codes(rng, 3, 22)
        lengths = np.array([22, 9, 5])
        for i, n in enumerate(lengths):
            codes[i, n:] = -1
        w2, b2 = model.conv.both_strand_filters()
        args = (w2.copy(), b2.copy(), model.fc1.weight.data, model.fc1.bias.data, model.fc2.weight.data[0],
                float(model.fc2.bias.data[0]))
        fast, ref = deepbind_ism(codes, lengths, *args), deepbind_ism_reference(codes, lengths, *args)
    else:
        model = GenomicsCNN(seq_len=27, n_filters=3, kernel_size=5, pool_size=4, hidden=4, seed=2, dtype=np.float64)
        codes = _codes(rng, 3, 27)  # 23 conv outputs, 5 pooled cells: outputs 20-22 are never pooled
        args = (model.conv.weight.data, model.conv.bias.data, 4, model.fc1.weight.data, model.fc1.bias.data,
                model.fc2.weight.data[0], float(model.fc2.bias.data[0]))
        fast, ref = cnn_ism(codes, *args), cnn_ism_reference(codes, *args)
    assert_close(f"{kind}: fast vs reference loops", fast, ref, rtol=1e-12, atol=1e-14)
    assert np.abs(ref).max() > 1e-3  # the case moves the logit


@pytest.mark.parametrize("kind", ["deepbind", "cnn"])
def test_float32_models_to_float32_precision(kind):
    rng = np.random.default_rng(5)
    if kind == "deepbind":
        model = DeepBind(n_filters=16, kernel_size=11, hidden=8, seed=3)
        _plant(model, rng, 1.0)
        codes = _codes(rng, 4, 60)
    else:
        model = GenomicsCNN(seq_len=60, seed=3)
        codes = _codes(rng, 4, 60)
    fast, slow = fast_ism(model, codes), _slow(model, codes)
    logit_scale = np.abs(predict_logits(model, codes)).max() + np.abs(slow).max()
    # the slow reference runs the float32 forward twice per entry: a few ulps of the logit
    assert_close("fast vs slow ISM (float32 model)", fast, slow, rtol=0, atol=32 * 2.0**-24 * logit_scale)


def test_one_hot_input_and_checks():
    model = DeepBind(n_filters=2, kernel_size=3, hidden=2, seed=0, dtype=np.float64)
    codes = _codes(np.random.default_rng(6), 2, 10)
    assert_close("one-hot input", fast_ism(model, one_hot_codes(codes).astype(np.float64)), fast_ism(model, codes),
                 rtol=0)
    with pytest.raises(ValueError, match="one-hot"):
        fast_ism(model, np.full((2, 4, 10), 0.25))
    with pytest.raises(ValueError, match="lengths"):
        fast_ism(model, codes, np.array([10, 2]))
    with pytest.raises(TypeError, match="int8"):
        deepbind_ism(codes.astype(np.int64), None, *[np.zeros(s) for s in [(4, 4, 3), (4,), (2, 2), (2,), (2,)]])
