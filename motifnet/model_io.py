"""Model files: one .npz, loadable with ``allow_pickle=False``.

Contents (all plain arrays):

* ``format``          int64 0-d, ``FORMAT_VERSION``
* ``architecture``    0-d str, a key of ``motifnet.models.MODELS``
* ``hyperparameters`` 0-d str, JSON of ``model.hyperparameters()``
* ``param/<name>``    float32, one per ``model.parameters()`` entry

Files are written atomically (a reader never sees half a file).  Every
problem reading one is a ``UserError`` naming the file.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from motifnet._atomic import atomic_path
from motifnet.errors import UserError
from motifnet.models import MODELS

FORMAT_VERSION = 1
_PREFIX = "param/"


def save_model(model, path) -> None:
    """Write ``model`` (architecture, hyper-parameters, weights) to ``path`` (.npz)."""
    arrays = {
        "format": np.array(FORMAT_VERSION, dtype=np.int64),
        "architecture": np.array(model.name),
        "hyperparameters": np.array(json.dumps(model.hyperparameters(), sort_keys=True)),
    }
    for name, p in model.parameters().items():
        arrays[_PREFIX + name] = p.data.astype(np.float32)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
            np.savez(fh, **arrays)


def load_model(path, seq_len=None):
    """Read a model written by ``save_model``.

    Parameters
    ----------
    path : str or Path
    seq_len : int, optional
        The sequence length the caller's data has; a model built for another
        length is rejected with a message saying both lengths.

    Raises
    ------
    UserError
        Missing file, not an npz (or corrupt), another format or architecture,
        missing/wrong-shaped weights, or a sequence-length mismatch.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"{path}: no such model file")
    if not zipfile.is_zipfile(path):  # np.load would try to unpickle it and say so, confusingly
        raise UserError(f"{path}: not a motifnet model file (not an .npz archive; expected RUN/model.npz "
                        f"written by 'motifnet train')")
    try:
        with np.load(path, allow_pickle=False) as npz:
            contents = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise UserError(f"{path}: not a motifnet model file (cannot read it as .npz: {exc})") from None
    if not isinstance(contents, dict) or "format" not in contents or "architecture" not in contents:
        raise UserError(f"{path}: not a motifnet model file (no format/architecture entries)")
    try:
        version = int(contents["format"])
    except (TypeError, ValueError):
        raise UserError(f"{path}: not a motifnet model file (bad format entry)") from None
    if version != FORMAT_VERSION:
        raise UserError(f"{path}: model file format {version} is not supported (this motifnet "
                        f"reads format {FORMAT_VERSION})")
    architecture = str(contents["architecture"])
    if architecture not in MODELS:
        raise UserError(f"{path}: unknown architecture {architecture!r} (known: {', '.join(MODELS)})")
    try:
        hyper = json.loads(str(contents["hyperparameters"]))
        if not isinstance(hyper, dict):
            raise ValueError("not a JSON object")
        model = MODELS[architecture](**hyper)
    except KeyError:
        raise UserError(f"{path}: no hyperparameters entry") from None
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path}: bad hyperparameters for {architecture!r}: {exc}") from None
    if seq_len is not None and int(seq_len) != model.seq_len:
        raise UserError(f"{path}: the model was trained on sequences of length {model.seq_len}, "
                        f"the data has length {seq_len}")
    params = model.parameters()
    stored = {k[len(_PREFIX):] for k in contents if k.startswith(_PREFIX)}
    missing, extra = sorted(set(params) - stored), sorted(stored - set(params))
    if missing or extra:
        raise UserError(f"{path}: weights do not match the {architecture!r} architecture "
                        f"(missing: {missing or 'none'}, unexpected: {extra or 'none'})")
    for name, p in params.items():
        value = contents[_PREFIX + name]
        if value.shape != p.data.shape:
            raise UserError(f"{path}: weight {name} has shape {value.shape}, the architecture "
                            f"needs {p.data.shape}")
        if value.dtype.kind != "f":
            raise UserError(f"{path}: weight {name} has dtype {value.dtype}, expected float32")
        if not np.all(np.isfinite(value)):
            raise UserError(f"{path}: weight {name} contains NaN or inf")
        p.data[...] = value  # into the model's flat buffer
    return model
