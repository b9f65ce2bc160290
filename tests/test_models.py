"""Models, training loop, evaluation and input gradients.

Reference: the same architectures in torch (benchmarks/torch_models.py) with the
weights copied in; finite differences in float64 (motifnet/gradcheck.py cases);
AUROC and auPRC against their pairwise and step-sum definitions.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from benchmarks.torch_models import one_hot_tensor, torch_name, torch_twin
from checks import assert_close

from motifnet import gradcheck
from motifnet.data import encode, generate_data, one_hot, one_hot_codes, reverse_complement
from motifnet.errors import UserError
from motifnet.layers import Conv1d, MaxPool1d, ReLU
from motifnet.models import MODELS, DeepBind, GenomicsCNN, GenomicsCNNWithAttention, build_model
from motifnet.train import (TrainingDiverged, auprc, auroc, evaluate, fit, input_gradient, precision_recall_curve,
                            predict_logits, predict_proba, roc_curve, saliency, saliency_maps, stalled)
from motifnet.train import SALIENCY_MODES

NAMES = list(MODELS)


def _data(n=64, length=50, seed=0):
    seqs, labels = generate_data(n=n, length=length, seed=seed)
    return one_hot(seqs), labels


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seq_len", [50, 73])
def test_model_forward_and_all_gradients_match_torch(name, seq_len):
    # deepbind in float64: its global max routes each gradient to one position, and in float32
    # two correct implementations round the conv differently enough to flip near-ties (seen here:
    # one of 40 sequences at length 73, responses 1e-7 apart)
    dtype = np.float64 if name == "deepbind" else np.float32
    rtol = 1e-10 if name == "deepbind" else 1e-5
    x, y = _data(n=40, length=seq_len)
    x = x.astype(dtype)
    model = build_model(name, seq_len=seq_len, seed=1, dtype=dtype)
    net = torch_twin(model)
    logits = model.forward(x).copy()
    g = np.random.default_rng(2).standard_normal(40).astype(dtype)
    model.zero_grad()
    dx = model.backward(g, need_input_grad=True)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t_logits = net(tx)
    t_logits.backward(torch.from_numpy(g))
    assert_close(f"{name} logits", logits, t_logits, rtol=rtol)
    # the base-codes path (the first layer's look-ups) gives the same logits and parameter grads
    codes = encode(["".join("ACGT"[i] for i in col) for col in x.argmax(axis=1)])[0]
    grads = model.flat_grads.copy()
    assert_close(f"{name} d/dx", dx, tx.grad, rtol=10 * rtol)
    tparams = dict(net.named_parameters())
    for pname, p in model.parameters().items():
        assert_close(f"{name} d/d {pname}", p.grad, tparams[torch_name(pname)].grad, rtol=10 * rtol)
    assert_close(f"{name} logits from codes", model.forward(codes), logits, rtol=rtol)
    model.zero_grad()
    model.backward(g)
    assert_close(f"{name} grads from codes", model.flat_grads, grads, rtol=rtol)


@pytest.mark.parametrize("name", NAMES)
def test_finite_differences_float64(name):
    rng = np.random.default_rng(123)
    for _ in range(3):
        for r in gradcheck.run_case(gradcheck.cases()[f"model_{name}"](rng)):
            assert r.passed, f"{r.kernel} {r.argument} {r.shape}: rel err {r.max_rel_err:.3e}"


def test_shapes_and_architecture():
    x, _ = _data(n=5)
    cnn, att = GenomicsCNN(), GenomicsCNNWithAttention()
    assert cnn.fc1.weight.data.shape == (16, 288) and cnn.fc2.weight.data.shape == (1, 16)
    assert att.fc_attn.weight.data.shape == (16, 32) and att.fc2.weight.data.shape == (1, 32)
    assert att.attention.W.data.shape == (32, 64)
    assert cnn.forward(x).shape == (5,) and cnn.forward(x).dtype == np.float32
    assert cnn.conv_activations(x).shape == (5, 32, 39) and cnn.conv_activations(x).min() >= 0
    w = att.attention_weights(x)
    assert w.shape == (5, 9)
    assert_close("attention weights sum", w.sum(axis=1), np.ones(5), rtol=1e-6)
    assert sum(p.data.size for p in cnn.parameters().values()) == cnn.flat_params.size
    deep = DeepBind()
    assert deep.conv.weight.data.shape == (32, 4, 15) and deep.fc1.weight.data.shape == (32, 32)
    assert deep.forward(x).shape == (5,) and deep.strand_activations(x).shape == (5, 64, 36)
    for p in att.parameters().values():
        assert np.shares_memory(p.data, att.flat_params) and np.shares_memory(p.grad, att.flat_grads)
    long = build_model("cnn", seq_len=100, n_filters=8, kernel_size=5, pool_size=3, hidden=4)
    assert long.fc1.weight.data.shape == (4, 8 * 32)
    assert long.forward(_data(n=3, length=100)[0]).shape == (3,)


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_rebuild_the_same_model(name):
    model = build_model(name, seq_len=60, seed=9, n_filters=6, hidden=5)
    again = build_model(name, **model.hyperparameters())
    np.testing.assert_array_equal(model.flat_params, again.flat_params)
    assert not np.array_equal(build_model(name, seed=1).flat_params, build_model(name, seed=2).flat_params)


def test_bad_input_is_rejected_with_a_clear_message():
    model = build_model("cnn")
    x, _ = _data(n=3)
    with pytest.raises(TypeError, match="float32"):
        model.forward(x.astype(np.float64))
    with pytest.raises(ValueError, match=r"\(N, 4, L\)"):
        model.forward(x[:, :3].copy())
    with pytest.raises(ValueError, match="length 50"):
        model.forward(x[:, :, :40].copy())
    with pytest.raises(ValueError, match=r"\[-1, 3\]"):
        model.forward(np.full((2, 50), 4, np.int8))
    with pytest.raises(ValueError, match="shorter than the model's filters"):
        DeepBind(kernel_size=15).forward(np.zeros((2, 10), np.int8))
    with pytest.raises(ValueError, match="lengths must lie in"):
        DeepBind(kernel_size=15).forward(np.zeros((2, 40), np.int8), np.array([40, 12]))
    with pytest.raises(ValueError, match="contiguous"):
        model.forward(np.asfortranarray(x))
    with pytest.raises(TypeError, match="ndarray"):
        model.forward(x.tolist())
    with pytest.raises(UserError, match="unknown model"):
        build_model("transformer")
    with pytest.raises(ValueError, match="shorter than kernel_size"):
        build_model("cnn", seq_len=10)


def _pairwise_auroc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    return np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])


def test_auroc_is_the_rank_statistic_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        labels = rng.integers(0, 2, n)
        scores = rng.integers(0, 5, n).astype(float)  # many ties
        if labels.min() == labels.max():
            assert auroc(scores, labels) is None
            continue
        assert abs(auroc(scores, labels) - _pairwise_auroc(scores, labels)) < 1e-12
    assert auroc([0.1, 0.9], [0, 1]) == 1.0 and auroc([0.9, 0.1], [0, 1]) == 0.0


def test_evaluate_and_predict():
    x, y = _data(n=300)
    model = build_model("cnn", seed=4)
    logits = predict_logits(model, x)
    net = torch_twin(model)
    assert_close("predict_logits (several batches)", logits, net(torch.from_numpy(x)), rtol=1e-5)
    assert_close("predict_proba", predict_proba(model, x), torch.sigmoid(torch.from_numpy(logits)), rtol=1e-6)
    report = evaluate(model, x, y)
    assert report["auprc"] == auprc(logits, y) and report["n_positive"] == int(y.sum())
    (tn, fp), (fn, tp) = report["confusion_matrix"]
    pred = logits > 0
    assert (tn, fp, fn, tp) == (np.sum(~pred & (y == 0)), np.sum(pred & (y == 0)),
                                np.sum(~pred & (y == 1)), np.sum(pred & (y == 1)))
    assert report["n"] == 300 and report["accuracy"] == (tn + tp) / 300
    assert abs(report["auroc"] - _pairwise_auroc(logits, y)) < 1e-12


@pytest.mark.parametrize("name", NAMES)
def test_input_gradient_and_saliency_match_torch(name):
    x, _ = _data(n=20)
    model = build_model(name, seed=5)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    torch_twin(model)(tx).sum().backward()
    grad = tx.grad.numpy()
    assert_close("input_gradient", input_gradient(model, x), grad, rtol=1e-4)
    assert not model.flat_grads.any()  # the parameter grads it produced are cleared
    assert_close("saliency sum", saliency(model, x, "sum"), np.abs(grad).sum(axis=1), rtol=1e-4)
    assert_close("saliency max", saliency(model, x, "max"), np.abs(grad).max(axis=1), rtol=1e-4)
    assert_close("saliency grad_x_input", saliency(model, x, "grad_x_input"),
                 np.maximum((grad * x).sum(axis=1), 0), rtol=1e-4)
    with pytest.raises(ValueError, match="mode"):
        saliency(model, x, "mean")
    maps = saliency_maps(model, x)  # all three from one gradient, as the interpret report takes them
    assert sorted(maps) == sorted(SALIENCY_MODES)
    for mode, value in maps.items():
        assert_close(f"saliency_maps {mode}", value, saliency(model, x, mode), rtol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        saliency_maps(model, x, modes=("sum", "mean"))


def test_fit_learns_the_planted_motif_and_is_reproducible():
    x, y = _data(n=600, seed=3)
    rows = []
    model = build_model("cnn", seed=0)
    history = fit(model, x[:450], y[:450], x[450:], y[450:], epochs=12, progress=rows.append, restore_best=False)
    assert rows == history and [r["epoch"] for r in history] == list(range(1, 13))
    assert history[-1]["valid_accuracy"] > 0.9 and history[-1]["loss"] < history[0]["loss"]
    again = build_model("cnn", seed=0)
    fit(again, x[:450], y[:450], x[450:], y[450:], epochs=12, restore_best=False)
    np.testing.assert_array_equal(model.flat_params, again.flat_params)
    other = build_model("cnn", seed=0)
    no_valid = fit(other, x[:450], y[:450], epochs=1, seed=1, batch_size=100)
    assert no_valid[0]["valid_accuracy"] is None
    assert not np.array_equal(other.flat_params, build_model("cnn", seed=0).flat_params)


def test_fit_rejects_bad_labels():
    x, y = _data(n=10)
    model = build_model("cnn")
    with pytest.raises(ValueError, match="y_train"):
        fit(model, x, y[:5], epochs=1)
    with pytest.raises(ValueError, match="0 and 1"):
        fit(model, x, y + 1, epochs=1)
    with pytest.raises(TypeError, match="float32"):
        fit(model, x.astype(np.float64), y, epochs=1)


# ---------------------------------------------------------------------- the deepbind model
def _random_codes(rng, n, length):
    return rng.integers(0, 4, size=(n, length)).astype(np.int8)


def test_deepbind_batches_of_unequal_lengths_give_each_sequence_its_own_answer():
    # the max never sees padding: whatever fills the positions past a sequence's length
    rng = np.random.default_rng(11)
    model = DeepBind(n_filters=6, kernel_size=7, hidden=5, seed=3)
    lengths = np.array([40, 7, 23, 31], dtype=np.int64)
    codes = _random_codes(rng, 4, 40)
    alone = np.array([model.forward(codes[i:i + 1, :n].copy())[0] for i, n in enumerate(lengths)])
    for fill in (-1, 0, 3):  # N, or bases that would raise a filter's score
        padded = codes.copy()
        for i, n in enumerate(lengths):
            padded[i, n:] = fill
        np.testing.assert_array_equal(model.forward(padded, lengths), alone)
    # and the gradients of a padded batch are those of the sequences one by one
    model.zero_grad()
    model.forward(padded, lengths)
    model.backward(np.ones(4, np.float32))
    batch_grads = model.flat_grads.copy()
    model.zero_grad()
    for i, n in enumerate(lengths):
        model.forward(codes[i:i + 1, :n].copy())
        model.backward(np.ones(1, np.float32))
    assert_close("grads: padded batch vs one by one", batch_grads, model.flat_grads, rtol=1e-6)


def test_deepbind_scores_a_sequence_and_its_reverse_complement_alike():
    rng = np.random.default_rng(12)
    model = DeepBind(n_filters=8, kernel_size=9, hidden=4, seed=1)
    codes = _random_codes(rng, 16, 60)
    codes[:, 5] = -1  # an N stays an N on the other strand
    rc = reverse_complement(codes)
    assert_close("logits(rc(x)) vs logits(x)", model.forward(rc).copy(), model.forward(codes), rtol=1e-6)


def test_deepbind_matches_torch_on_variable_lengths():
    rng = np.random.default_rng(13)
    model = DeepBind(n_filters=5, kernel_size=6, hidden=3, seed=2)
    lengths = rng.integers(6, 50, size=12).astype(np.int64)
    codes = _random_codes(rng, 12, 50)
    for i, n in enumerate(lengths):
        codes[i, n:] = -1
    x = one_hot_codes(codes)
    g = rng.standard_normal(12).astype(np.float32)
    logits = model.forward(x, lengths).copy()
    model.zero_grad()
    dx = model.backward(g, need_input_grad=True)
    net = torch_twin(model)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t_logits = net(tx, torch.from_numpy(lengths))
    t_logits.backward(torch.from_numpy(g))
    assert_close("logits", logits, t_logits, rtol=1e-5)
    assert_close("d/dx", dx, tx.grad, rtol=1e-5)
    tparams = dict(net.named_parameters())
    for pname, p in model.parameters().items():
        assert_close(f"d/d {pname}", p.grad, tparams[torch_name(pname)].grad, rtol=1e-5)
    assert_close("one_hot_tensor", one_hot_tensor(codes), x, rtol=0.0)


# ---------------------------------------------------------------------- training behaviour
def test_non_finite_loss_stops_training_at_once():
    x, y = _data(n=64)
    model = build_model("cnn", seed=0)
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        fit(model, x, y, epochs=3, lr=1e30)


def test_early_stopping_keeps_the_best_epoch():
    x, y = _data(n=400, seed=5)
    model = build_model("cnn", seed=0)
    snapshots = []
    history = fit(model, x[:300], y[:300], x[300:], y[300:], epochs=30, patience=3, lr=3e-3,
                  progress=lambda row: snapshots.append(model.flat_params.copy()))
    best = [r["epoch"] for r in history if r["best"]][-1]
    losses = [r["valid_loss"] for r in history]
    assert losses[best - 1] == min(losses)
    assert len(history) == 30 or len(history) - best == 3  # stopped 3 epochs after the best
    np.testing.assert_array_equal(model.flat_params, snapshots[best - 1])  # its weights restored


def test_a_stalled_run_is_recognised():
    x, y = _data(n=200)
    model = build_model("cnn", seed=0)
    model.flat_params[...] = 0.0  # every logit 0: p = 0.5 for every sequence, nothing to learn from
    history = fit(model, x, y, epochs=1, lr=0.0)
    result = evaluate(model, x, y)
    assert result["predicted_one_class"] and stalled(history, result)
    trained = build_model("cnn", seed=0)
    h2 = fit(trained, x, y, epochs=5)
    assert not stalled(h2, evaluate(trained, x, y))


def test_auprc_is_average_precision():
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        labels = rng.integers(0, 2, n)
        scores = rng.integers(0, 6, n).astype(float)  # ties
        if labels.min() == labels.max():
            assert auprc(scores, labels) is None
            continue
        # average precision by its definition: the mean over positives of the precision at
        # their score, ties counted as one threshold
        expected = np.mean([np.mean(labels[scores >= s] == 1) for s in scores[labels == 1]])
        assert abs(auprc(scores, labels) - expected) < 1e-12
    fpr, tpr, _ = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    precision, recall, _ = precision_recall_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    np.testing.assert_allclose(precision, [1, 0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(recall, [0.5, 0.5, 1, 1])


def _primer_order_trunk(conv_out, d_pooled, pool_size):
    """The primer's order, ReLU then max-pool, with fresh layers and their own buffers:
    (pooled, d loss / d conv_out) for the upstream gradient d_pooled."""
    relu, pool = ReLU(), MaxPool1d(pool_size)
    pooled = pool.forward(relu.forward(conv_out)).copy()
    return pooled, relu.backward(pool.backward(d_pooled, dx=np.zeros_like(conv_out)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), pool_size=st.integers(1, 5), length=st.integers(1, 60),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_pool_then_relu_is_relu_then_pool_forward_and_backward(seed, pool_size, length, dtype):
    # the CNN models run max-pool then ReLU, in place; the primer wrote ReLU then max-pool.
    # The same pooled values and the same gradient to the conv output, bit for bit, on
    # windows with ties, zeros of both signs, all-negative windows, +-inf and NaN
    rng = np.random.default_rng(seed)
    L = pool_size * length + int(rng.integers(0, pool_size))
    c = (np.round(rng.standard_normal((3, 4, L)) * 2) / 2).astype(dtype)
    flat = c.reshape(-1)
    for value, fraction in ((-0.0, 0.05), (0.0, 0.05), (np.inf, 0.01), (-np.inf, 0.02), (np.nan, 0.02)):
        flat[rng.random(flat.size) < fraction] = value
    c[0, 0] = -np.abs(c[0, 0]) - 1  # a row of negative windows only
    pool, relu = MaxPool1d(pool_size), ReLU()
    p = pool.forward(c)
    pooled = relu.forward(p, out=p)
    d_pooled = rng.standard_normal(pooled.shape).astype(dtype)
    ref_pooled, ref_dc = _primer_order_trunk(c, d_pooled, pool_size)
    np.testing.assert_array_equal(pooled, ref_pooled)
    dc = pool.backward(relu.backward(d_pooled.copy(), in_place=True))
    np.testing.assert_array_equal(dc, ref_dc)


@pytest.mark.parametrize("name", ["cnn", "attention"])
@pytest.mark.parametrize("length", [50, 203])
def test_model_trunk_equals_its_layers_in_the_primers_order(name, length):
    # the model's trunk (on codes: the fused conv + max-pool pair, then ReLU in place; on
    # one-hot floats: the conv and max-pool layers, then ReLU) against conv -> ReLU ->
    # max-pool with fresh layers out of place, at the model's own boundaries: the pooled
    # features the rest of the model reads, and the conv's gradients for the gradient the
    # rest sends back
    seqs, _ = generate_data(n=24, length=length, seed=5)
    codes = encode(seqs)[0]
    model = build_model(name, seq_len=length, seed=3)
    g = np.random.default_rng(4).standard_normal(24).astype(np.float32)
    seen = {}
    relu_backward = model.conv_relu.backward

    def record(dy, **kw):  # what the rest of the model sends back to the trunk
        seen["d_pooled"] = dy.copy()
        return relu_backward(dy, **kw)

    model.conv_relu.backward = record
    runs = {}
    for kind, x in (("codes", codes), ("one-hot", one_hot_codes(codes))):
        logits = model.forward(x).copy()
        pooled = model.conv_relu.y.copy()  # the ReLU's output: the pooled features
        model.zero_grad()
        model.backward(g)
        runs[kind] = (logits, pooled, model.flat_grads.copy(), seen["d_pooled"])
    c = Conv1d(4, model.n_filters, model.kernel_size)
    c.weight.data[...], c.bias.data[...] = model.conv.weight.data, model.conv.bias.data
    conv_out = c.forward(codes).copy()
    n_conv = model.conv.weight.data.size + model.conv.bias.data.size  # the conv's gradients come first
    for kind, (logits, pooled, grads, d_pooled) in runs.items():
        ref_pooled, ref_dc = _primer_order_trunk(conv_out, d_pooled, model.pool_size)
        if kind == "codes":  # the same column sums: the same values
            np.testing.assert_array_equal(pooled, ref_pooled)
        assert_close(f"{name} {kind}: pooled", pooled, ref_pooled, rtol=1e-6)
        c.weight.grad[...] = 0
        c.bias.grad[...] = 0
        c.backward(ref_dc, need_input_grad=False)
        assert_close(f"{name} {kind}: conv gradients", grads[:n_conv],
                     np.concatenate([c.weight.grad.ravel(), c.bias.grad]), rtol=1e-5)
        assert np.count_nonzero(ref_dc) > 0 and np.count_nonzero(ref_pooled == 0) > 0  # both rules at work
    assert_close(f"{name}: logits, codes vs one-hot", runs["codes"][0], runs["one-hot"][0], rtol=1e-5)
    assert_close(f"{name}: gradients, codes vs one-hot", runs["codes"][2], runs["one-hot"][2], rtol=1e-5)
    np.testing.assert_array_equal(model.conv_activations(codes), np.maximum(conv_out, 0))
    np.testing.assert_array_equal(model.forward(codes), runs["codes"][0])  # and the model again


@pytest.mark.parametrize("cls", [GenomicsCNN, GenomicsCNNWithAttention, DeepBind])
def test_models_compute_in_float32_or_float64_only(cls):
    from motifnet.attribution import model_in_dtype

    for bad in (np.int32, np.float16):
        with pytest.raises(TypeError, match=f"dtype must be float32 or float64, got {np.dtype(bad)}"):
            cls(dtype=bad)
    model = cls()
    assert model.dtype == np.float32 and cls(dtype="float64").dtype == np.float64
    assert model_in_dtype(model, np.float32) is model and model_in_dtype(model, np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int64"):
        model_in_dtype(model, np.int64)
