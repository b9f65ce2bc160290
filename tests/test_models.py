"""Models, training loop, evaluation and input gradients.

Reference: the same architectures in torch (tests/torch_models.py) with the
weights copied in; finite differences in float64 (motifnet/gradcheck.py cases);
AUROC against the pairwise definition.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks import assert_close
from torch_models import torch_name, torch_twin

from motifnet import gradcheck
from motifnet.data import generate_data, one_hot
from motifnet.errors import UserError
from motifnet.models import MODELS, GenomicsCNN, GenomicsCNNWithAttention, build_model
from motifnet.train import auroc, evaluate, fit, input_gradient, predict_logits, predict_proba, saliency

NAMES = list(MODELS)


def _data(n=64, length=50, seed=0):
    seqs, labels = generate_data(n=n, length=length, seed=seed)
    return one_hot(seqs), labels


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seq_len", [50, 73])
def test_model_forward_and_all_gradients_match_torch(name, seq_len):
    x, y = _data(n=40, length=seq_len)
    model = build_model(name, seq_len=seq_len, seed=1)
    net = torch_twin(model)
    logits = model.forward(x)
    g = np.random.default_rng(2).standard_normal(40).astype(np.float32)
    model.zero_grad()
    dx = model.backward(g, need_input_grad=True)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t_logits = net(tx)
    t_logits.backward(torch.from_numpy(g))
    assert_close(f"{name} logits", logits, t_logits, rtol=1e-5)
    assert_close(f"{name} d/dx", dx, tx.grad, rtol=1e-4)
    tparams = dict(net.named_parameters())
    for pname, p in model.parameters().items():
        assert_close(f"{name} d/d {pname}", p.grad, tparams[torch_name(pname)].grad, rtol=1e-4)


@pytest.mark.parametrize("case", [gradcheck.cnn_model_case, gradcheck.attention_model_case,
                                  gradcheck.conv_relu_pool_layers_case, gradcheck.linear_layer_case,
                                  gradcheck.attention_layer_case])
def test_finite_differences_float64(case):
    rng = np.random.default_rng(123)
    for _ in range(3):
        for r in gradcheck.run_case(case(rng)):
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
    with pytest.raises(ValueError, match=r"\(N, 4, 50\)"):
        model.forward(x[:, :3].copy())
    with pytest.raises(ValueError, match="length 50"):
        model.forward(x[:, :, :40].copy())
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


def test_fit_learns_the_planted_motif_and_is_reproducible():
    x, y = _data(n=600, seed=3)
    rows = []
    model = build_model("cnn", seed=0)
    history = fit(model, x[:450], y[:450], x[450:], y[450:], epochs=12, progress=rows.append)
    assert rows == history and [r["epoch"] for r in history] == list(range(1, 13))
    assert history[-1]["test_accuracy"] > 0.9 and history[-1]["loss"] < history[0]["loss"]
    again = build_model("cnn", seed=0)
    fit(again, x[:450], y[:450], x[450:], y[450:], epochs=12)
    np.testing.assert_array_equal(model.flat_params, again.flat_params)
    other = build_model("cnn", seed=0)
    no_test = fit(other, x[:450], y[:450], epochs=1, seed=1, batch_size=100)
    assert no_test[0]["test_accuracy"] is None
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
