"""Model files: round trip, allow_pickle=False, atomic writes, and one clear UserError per problem."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from motifnet.errors import UserError
from motifnet.model_io import FORMAT_VERSION, load_model, save_model
from motifnet.models import build_model


@pytest.mark.parametrize("name", ["cnn", "attention"])
def test_round_trip(tmp_path, name):
    model = build_model(name, seq_len=60, seed=3, n_filters=8, hidden=6)
    model.flat_params[:] = np.random.default_rng(0).standard_normal(model.flat_params.size)  # not the init
    path = tmp_path / "sub" / "model.npz"
    save_model(model, path)
    with np.load(path, allow_pickle=False) as npz:  # plain arrays only
        assert int(npz["format"]) == FORMAT_VERSION and str(npz["architecture"]) == name
        assert json.loads(str(npz["hyperparameters"]))["seq_len"] == 60
    loaded = load_model(path, seq_len=60)
    assert type(loaded) is type(model) and loaded.hyperparameters() == model.hyperparameters()
    np.testing.assert_array_equal(loaded.flat_params, model.flat_params)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (5, 60))].transpose(0, 2, 1).copy()
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["model.npz"]  # no temp files left


def test_name_without_suffix_is_written_as_given(tmp_path):
    save_model(build_model("cnn"), tmp_path / "weights")
    assert load_model(tmp_path / "weights").name == "cnn"


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for k, v in changes.items():
        if v is None:
            del arrays[k]
        else:
            arrays[k] = v
    with open(dst, "wb") as fh:
        np.savez(fh, **arrays)


def test_errors_name_the_file(tmp_path):
    good = tmp_path / "good.npz"
    save_model(build_model("cnn"), good)
    bad = tmp_path / "bad.npz"

    def expect(match, **kw):
        with pytest.raises(UserError, match=match) as info:
            load_model(bad, **kw)
        assert str(bad) in str(info.value)

    with pytest.raises(UserError, match="no such model file"):
        load_model(tmp_path / "missing.npz")
    bad.write_text("hello")
    expect("not a motifnet model file \\(not an .npz archive")
    bad.write_bytes(good.read_bytes()[:200])  # truncated zip
    expect("not a motifnet model file")
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("readme.txt", "not an array")
    expect("not a motifnet model file")
    _rewrite(good, bad, format=np.array(99))
    expect("format 99 is not supported")
    _rewrite(good, bad, architecture=np.array("resnet"))
    expect("unknown architecture 'resnet'")
    _rewrite(good, bad, architecture=np.array("attention"))
    expect("missing")
    _rewrite(good, bad, **{"param/fc1.weight": np.zeros((16, 100), np.float32)})
    expect(r"fc1.weight has shape \(16, 100\)")
    _rewrite(good, bad, **{"param/fc2.bias": None})
    expect("missing")
    _rewrite(good, bad, hyperparameters=np.array("{not json"))
    expect("bad hyperparameters")
    _rewrite(good, bad, hyperparameters=np.array(json.dumps({"seq_len": 50, "depth": 3})))
    expect("bad hyperparameters")
    with pytest.raises(UserError, match="length 50, the data has length 80"):
        load_model(good, seq_len=80)
    _rewrite(good, bad, **{"param/conv.bias": np.full(32, np.nan, np.float32)})
    expect("NaN")
