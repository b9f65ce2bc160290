"""Model files: one .npz, read with ``allow_pickle=False`` and validated before anything is allocated.

Contents (all plain arrays):

* ``format``          int64 0-d, ``FORMAT_VERSION``
* ``architecture``    0-d str, a key of ``motifnet.models.MODELS``
* ``hyperparameters`` 0-d str, JSON of ``model.hyperparameters()``
* ``metadata``        0-d str, JSON: what training knew that the architecture does not
                      (the training lengths, a scan threshold, ...); optional
* ``param/<name>``    float32, one per ``model.parameters()`` entry

A model file is data from anywhere, so reading one checks, in this order and
before allocating the model: that it is a regular file of a bounded size, a zip
archive of the expected members only, none of them compressed beyond a sane ratio
(a 4 MB zip bomb is refused, not inflated); that the hyper-parameters are integers
within bounds; that the parameter count they imply is bounded; and that each
stored array's header declares the dtype and the shape they imply.  Only then are
the arrays read, and they must be finite.  Every problem is a one-line
``UserError`` naming the file.  Files are written atomically.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import zipfile
import zlib

import numpy as np

from motifnet._atomic import atomic_path
from motifnet.errors import UserError
from motifnet.models import MODELS

FORMAT_VERSION = 1
_PREFIX = "param/"
MAX_FILE_BYTES = 1 << 30           # a model file larger than this is not one of ours
MAX_PARAMETERS = 50_000_000        # 200 MB of float32
MAX_JSON_BYTES = 1 << 20
MAX_COMPRESSION_RATIO = 200        # deflate on float weights gains ~1.1x; a bomb gains 1000x

# what zipfile and numpy raise on bytes that are not a valid archive or array (all seen in fuzzing:
# NotImplementedError for an unknown compression method or zip version, RuntimeError for encryption)
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError, TypeError,
                SyntaxError, NotImplementedError, RuntimeError, zlib.error, struct.error, OverflowError,
                UnicodeDecodeError, MemoryError)

# hyper-parameter -> (minimum, maximum); the seed only seeds the initial weights
BOUNDS = {
    "seq_len": (1, 1_000_000),
    "n_filters": (1, 4096),
    "kernel_size": (1, 1024),
    "pool_size": (1, 1_000_000),
    "hidden": (1, 4096),
    "seed": (0, 2**63 - 1),
}


def parameter_shapes(architecture: str, hyper: dict) -> dict[str, tuple]:
    """The shape of every parameter of ``architecture`` built with ``hyper``, without building it.

    Mirrors ``motifnet.models`` (tests/test_model_io.py checks it against the real models).
    """
    F, K, H = hyper["n_filters"], hyper["kernel_size"], hyper["hidden"]
    if architecture == "deepbind":
        return {"conv.weight": (F, 4, K), "conv.bias": (F,), "fc1.weight": (H, F), "fc1.bias": (H,),
                "fc2.weight": (1, H), "fc2.bias": (1,)}
    L, P = hyper["seq_len"], hyper["pool_size"]
    pool_length = (L - K + 1) // P
    if L - K + 1 < 1 or pool_length < 1:
        raise ValueError(f"seq_len={L} leaves no pooled position for kernel_size={K}, pool_size={P}")
    shapes = {"conv.weight": (F, 4, K), "conv.bias": (F,), "fc1.weight": (H, F * pool_length), "fc1.bias": (H,)}
    if architecture == "attention":
        shapes |= {"attention.W": (F, 2 * F), "attention.b": (F,), "attention.v": (F,),
                   "fc_attn.weight": (H, F), "fc_attn.bias": (H,), "fc2.weight": (1, 2 * H), "fc2.bias": (1,)}
    else:
        shapes |= {"fc2.weight": (1, H), "fc2.bias": (1,)}
    return shapes


def save_model(model, path, metadata: dict | None = None) -> None:
    """Write ``model`` (architecture, hyper-parameters, weights, ``metadata``) to ``path`` (.npz)."""
    arrays = {
        "format": np.array(FORMAT_VERSION, dtype=np.int64),
        "architecture": np.array(model.name),
        "hyperparameters": np.array(json.dumps(model.hyperparameters(), sort_keys=True)),
        "metadata": np.array(json.dumps(metadata or {}, sort_keys=True)),
    }
    for name, p in model.parameters().items():
        arrays[_PREFIX + name] = p.data.astype(np.float32)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
            np.savez(fh, **arrays)


class _Reader:
    """The validated members of one model file."""

    def __init__(self, path: str):
        self.path = path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise UserError(f"{path}: no such model file") from None
        except OSError as exc:
            raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"{path}: is a folder; expected RUN/model.npz written by 'motifnet train'")
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{path}: not a regular file; expected a model file written by 'motifnet train'")
        if st.st_size > MAX_FILE_BYTES:
            raise UserError(f"{path}: {st.st_size} bytes is larger than any motifnet model file "
                            f"({MAX_FILE_BYTES} bytes at most)")
        try:
            self.zip = zipfile.ZipFile(path)
        except _READ_ERRORS:
            raise UserError(f"{path}: not a motifnet model file (not an .npz archive; expected RUN/model.npz "
                            f"written by 'motifnet train')") from None
        self.members = {}
        for info in self.zip.infolist():
            name = info.filename
            if not name.endswith(".npy") or len(self.members) >= 64:
                self.fail(f"unexpected member {name!r}")
            ratio = info.file_size / max(info.compress_size, 1)
            if info.compress_type != zipfile.ZIP_STORED and ratio > MAX_COMPRESSION_RATIO:
                self.fail(f"member {name!r} would inflate {ratio:.0f}-fold (a zip bomb?)")
            if info.file_size > MAX_FILE_BYTES:
                self.fail(f"member {name!r} claims {info.file_size} bytes")
            self.members[name[:-4]] = info

    def fail(self, why: str):
        raise UserError(f"{self.path}: not a motifnet model file ({why})")

    def header(self, key):
        """(shape, dtype) declared by member ``key``'s .npy header."""
        try:
            with self.zip.open(self.members[key]) as fh:
                version = np.lib.format.read_magic(fh)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(fh)
        except _READ_ERRORS as exc:
            self.fail(f"member {key!r} is not a readable array: {type(exc).__name__}: {exc}")
        if dtype.hasobject:
            self.fail(f"member {key!r} holds Python objects, which are never unpickled")
        return shape, dtype

    def array(self, key, max_elements):
        shape, dtype = self.header(key)
        if math.prod(shape) > max_elements:
            self.fail(f"member {key!r} declares shape {shape}, larger than expected")
        try:
            with self.zip.open(self.members[key]) as fh:
                return np.lib.format.read_array(fh, allow_pickle=False)
        except _READ_ERRORS as exc:
            self.fail(f"member {key!r} is not a readable array: {type(exc).__name__}: {exc}")

    def text(self, key):
        if key not in self.members:
            return None
        value = self.array(key, 1)
        if value.shape != () or value.dtype.kind != "U" or value.dtype.itemsize > 4 * MAX_JSON_BYTES:
            self.fail(f"{key} is not a text entry")
        return str(value)


_HYPERPARAMETERS = {
    "cnn": {"seq_len", "n_filters", "kernel_size", "pool_size", "hidden", "seed"},
    "attention": {"seq_len", "n_filters", "kernel_size", "pool_size", "hidden", "seed"},
    "deepbind": {"n_filters", "kernel_size", "hidden", "seed"},
}


def _check_hyperparameters(path, architecture, hyper) -> None:
    expected = _HYPERPARAMETERS[architecture]
    if set(hyper) != expected:
        raise UserError(f"{path}: bad hyperparameters for {architecture!r}: expected {sorted(expected)}, "
                        f"got {sorted(hyper)}")
    for name, value in hyper.items():
        lo, hi = BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise UserError(f"{path}: bad hyperparameters for {architecture!r}: {name} = {value!r} is not an "
                            f"integer in [{lo}, {hi}]")


def load_model(path, seq_len=None, with_metadata=False):
    """Read a model written by ``save_model``.

    Parameters
    ----------
    path : str or Path
    seq_len : int, optional
        The sequence length the caller's data has; a tutorial model built for another
        length is rejected with a message saying both lengths.
    with_metadata : bool
        Return ``(model, metadata dict)`` instead of the model.

    Raises
    ------
    UserError
        Missing or unreadable file, not an npz, another format or architecture, bounds,
        missing/wrong-shaped/non-finite weights, or a sequence-length mismatch.
    """
    path = os.fspath(path)
    reader = _Reader(path)
    with reader.zip:
        if "format" not in reader.members or "architecture" not in reader.members:
            reader.fail("no format/architecture entries")
        version = reader.array("format", 1)
        if version.shape != () or version.dtype.kind not in "iu":
            reader.fail("bad format entry")
        if int(version) != FORMAT_VERSION:
            raise UserError(f"{path}: model file format {int(version)} is not supported (this motifnet "
                            f"reads format {FORMAT_VERSION})")
        architecture = reader.text("architecture")
        if architecture not in MODELS:
            raise UserError(f"{path}: unknown architecture {architecture!r} (known: {', '.join(MODELS)})")
        text = reader.text("hyperparameters")
        if text is None:
            raise UserError(f"{path}: no hyperparameters entry")
        try:
            hyper = json.loads(text)
        except ValueError as exc:
            raise UserError(f"{path}: bad hyperparameters for {architecture!r}: {exc}") from None
        if not isinstance(hyper, dict):
            raise UserError(f"{path}: bad hyperparameters for {architecture!r}: not a JSON object")
        _check_hyperparameters(path, architecture, hyper)
        try:
            shapes = parameter_shapes(architecture, hyper)
        except ValueError as exc:
            raise UserError(f"{path}: bad hyperparameters for {architecture!r}: {exc}") from None
        total = sum(math.prod(s) for s in shapes.values())
        if total > MAX_PARAMETERS:
            raise UserError(f"{path}: the hyperparameters imply {total} parameters, more than {MAX_PARAMETERS}")
        stored = {k[len(_PREFIX):] for k in reader.members if k.startswith(_PREFIX)}
        missing, extra = sorted(set(shapes) - stored), sorted(stored - set(shapes))
        if missing or extra:
            raise UserError(f"{path}: weights do not match the {architecture!r} architecture "
                            f"(missing: {missing or 'none'}, unexpected: {extra or 'none'})")
        for name, shape in shapes.items():  # headers first: nothing is allocated for a lie
            declared, dtype = reader.header(_PREFIX + name)
            if tuple(declared) != shape:
                raise UserError(f"{path}: weight {name} has shape {tuple(declared)}, the architecture "
                                f"needs {shape}")
            if dtype.kind != "f":
                raise UserError(f"{path}: weight {name} has dtype {dtype}, expected float32")
        if seq_len is not None and architecture != "deepbind" and int(seq_len) != hyper["seq_len"]:
            raise UserError(f"{path}: the model was trained on sequences of length {hyper['seq_len']}, "
                            f"the data has length {seq_len}")
        metadata_text = reader.text("metadata")
        try:
            metadata = json.loads(metadata_text) if metadata_text else {}
        except ValueError:
            reader.fail("bad metadata entry")
        if not isinstance(metadata, dict):
            reader.fail("bad metadata entry")
        model = MODELS[architecture](**hyper)
        for name, p in model.parameters().items():
            value = reader.array(_PREFIX + name, math.prod(shapes[name]))
            if not np.all(np.isfinite(value)):
                raise UserError(f"{path}: weight {name} contains NaN or inf")
            p.data[...] = value  # into the model's flat buffer
    return (model, metadata) if with_metadata else model
