"""Model files: round trip, allow_pickle=False, atomic writes, and one clear UserError per problem."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from motifnet.errors import UserError
from motifnet.model_io import FORMAT_VERSION, load_model, parameter_shapes, save_model
from motifnet.models import build_model


@pytest.mark.parametrize("name", ["cnn", "attention", "deepbind"])
def test_round_trip(tmp_path, name):
    model = build_model(name, seq_len=60, seed=3, n_filters=8, hidden=6)
    model.flat_params[:] = np.random.default_rng(0).standard_normal(model.flat_params.size)  # not the init
    path = tmp_path / "sub" / "model.npz"
    save_model(model, path)
    with np.load(path, allow_pickle=False) as npz:  # plain arrays only
        assert int(npz["format"]) == FORMAT_VERSION and str(npz["architecture"]) == name
        assert json.loads(str(npz["hyperparameters"])) == model.hyperparameters()
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


@pytest.mark.parametrize("name", ["cnn", "attention", "deepbind"])
def test_parameter_shapes_mirror_the_models(name):
    for hyper in (dict(seq_len=50), dict(seq_len=77, n_filters=5, kernel_size=7, hidden=3)):
        model = build_model(name, **hyper)
        expected = {n: p.data.shape for n, p in model.parameters().items()}
        assert parameter_shapes(name, model.hyperparameters()) == expected


def test_metadata_round_trip(tmp_path):
    save_model(build_model("deepbind"), tmp_path / "m.npz", metadata={"train_length": {"median": 300}})
    model, metadata = load_model(tmp_path / "m.npz", with_metadata=True)
    assert metadata == {"train_length": {"median": 300}} and model.name == "deepbind"


def _zip_with(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, (data, compress) in members.items():
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)


def _npy(array, allow_pickle=False):
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=allow_pickle)
    return buf.getvalue()


def _members_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k + ".npy": (_npy(npz[k]), False) for k in npz.files}


def test_resource_bounds_are_checked_before_anything_is_allocated(tmp_path):
    good = tmp_path / "good.npz"
    save_model(build_model("cnn"), good)
    bad = tmp_path / "bad.npz"
    # hyper-parameters far past any real model: refused from their values, before building
    _rewrite(good, bad, hyperparameters=np.array(json.dumps(dict(seq_len=10**9, n_filters=32, kernel_size=12,
                                                                 pool_size=4, hidden=16, seed=0))))
    with pytest.raises(UserError, match="seq_len = 1000000000 is not an integer in"):
        load_model(bad)
    _rewrite(good, bad, hyperparameters=np.array(json.dumps(dict(seq_len=1_000_000, n_filters=4096, kernel_size=1,
                                                                 pool_size=1, hidden=4096, seed=0))))
    with pytest.raises(UserError, match="imply .* parameters, more than"):
        load_model(bad)
    # an npy header that claims 10^12 floats, in a file of a few bytes: refused from the header
    members = _members_of(good)
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
    header["shape"] = (10**12,)
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    members["param/conv.bias.npy"] = (buf.getvalue() + b"\0" * 16, False)
    _zip_with(bad, members)
    with pytest.raises(UserError, match=r"conv.bias has shape \(1000000000000,\)"):
        load_model(bad)
    # a zip bomb: a member that inflates a thousand-fold
    members = _members_of(good)
    members["param/fc1.weight.npy"] = (b"\0" * 4_000_000, True)
    _zip_with(bad, members)
    with pytest.raises(UserError, match="zip bomb"):
        load_model(bad)
    # pickled objects are never loaded
    members = _members_of(good)
    members["architecture.npy"] = (_npy(np.array(["cnn"], dtype=object), allow_pickle=True), False)
    _zip_with(bad, members)
    with pytest.raises(UserError, match="Python objects, which are never unpickled"):
        load_model(bad)
    # devices and folders are not model files
    with pytest.raises(UserError, match="not a regular file"):
        load_model("/dev/zero")
    with pytest.raises(UserError, match="is a folder"):
        load_model(tmp_path)


@settings(max_examples=60)
@given(st.binary(max_size=600), st.integers(0, 4000))
def test_any_bytes_either_load_or_raise_the_one_line_error(tmp_path_factory, data, cut):
    # random bytes, and real model files cut or overwritten at random places
    folder = tmp_path_factory.mktemp("fuzz")
    good = folder / "good.npz"
    save_model(build_model("cnn", n_filters=2, hidden=2), good)
    raw = good.read_bytes()
    for candidate in (data, raw[:cut] + data, raw[:cut] + data + raw[cut + len(data):]):
        path = folder / "model.npz"
        path.write_bytes(candidate)
        try:
            load_model(path)
        except UserError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)


def test_arrays_are_read_with_allow_pickle_false(tmp_path, monkeypatch):
    # pinned: every array of a model file is read with allow_pickle=False (the header check that
    # refuses object arrays first is a second line of defence, not the only one)
    save_model(build_model("cnn"), tmp_path / "m.npz")
    calls = []
    real = np.lib.format.read_array

    def spy(fh, allow_pickle=False, **kwargs):
        calls.append(allow_pickle)
        return real(fh, allow_pickle=allow_pickle, **kwargs)

    monkeypatch.setattr(np.lib.format, "read_array", spy)
    load_model(tmp_path / "m.npz")
    assert calls and not any(calls)
