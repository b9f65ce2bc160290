"""Comparison helpers shared by the tests.

Tolerance norm: ``assert_close`` passes when every element satisfies
``|actual - expected| <= atol + rtol * max|expected|``, i.e. the error is
measured relative to the largest magnitude of the expected tensor (the
max-norm), not element by element: float32 sums of products near zero cancel,
and an element-wise relative error there says nothing about the kernel.
"""

from __future__ import annotations

import re
import types

import numpy as np
import pytest

from motifnet.errors import UserError
from motifnet.gradcheck import gradient_errors, numerical_gradient  # noqa: F401  (re-exported)


def write_file(tmp_path, name, content) -> str:
    """``tmp_path / name`` holding ``content`` exactly (bytes as given, str as UTF-8, its
    newlines untranslated); its path as a string, as a user would type it."""
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def user_error_message(fn, *args, match, **kwargs) -> str:
    """Call ``fn`` (running it through if it returns a generator: a reader's errors come
    while it runs), expect a one-line ``UserError`` matching the regex ``match``; return it."""
    with pytest.raises(UserError) as info:
        result = fn(*args, **kwargs)
        if isinstance(result, types.GeneratorType):  # not any iterator: an open file is one too
            list(result)
    message = str(info.value)
    assert "\n" not in message, message
    assert re.search(match, message), f"{message!r} does not match {match!r}"
    return message


def to_numpy(t) -> np.ndarray:
    """A torch tensor (or anything array-like) as a NumPy array."""
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t)


def assert_close(name: str, actual, expected, rtol: float, atol: float = 0.0) -> None:
    """Assert ``actual`` matches ``expected``; on failure name the tensor and the first bad index."""
    actual = to_numpy(actual).astype(np.float64)
    expected = to_numpy(expected).astype(np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: shape {actual.shape} != expected {expected.shape}")
    if actual.size == 0:
        return
    scale = float(np.max(np.abs(expected)))
    diff = np.abs(actual - expected)
    bad = ~(diff <= atol + rtol * scale)  # also catches NaN
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {actual.size} elements differ; first at {idx}: "
            f"expected {expected[idx]!r}, got {actual[idx]!r}; max |diff| {np.nanmax(diff):.3e} "
            f"vs allowed {atol + rtol * scale:.3e} (rtol={rtol:g} x max|expected|={scale:.3e}, atol={atol:g})"
        )


def assert_grad_fd(name: str, analytic, loss, x: np.ndarray, rtol: float = 1e-6, eps: float = 1e-6,
                   max_elements: int | None = None) -> None:
    """Assert an analytic gradient matches central finite differences of ``loss()`` w.r.t. ``x``.

    With ``max_elements``, a larger ``x`` is checked at that many seeded random elements
    (and at the analytic gradient's largest), each costing two evaluations of the loss.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    if max_elements is None or x.size <= max_elements:
        numeric = numerical_gradient(loss, x, eps)
        picked = slice(None)
    else:
        flat = np.random.default_rng(x.size).choice(x.size, max_elements, replace=False)
        flat[0] = int(np.argmax(np.abs(analytic)))
        numeric = numerical_gradient(loss, x, eps, indices=flat)
        picked = flat
    a = analytic.reshape(-1)[picked]
    n = numeric.reshape(-1)[picked]
    abs_err, rel_err = gradient_errors(a, n)
    if not rel_err <= rtol:
        worst = int(np.argmax(np.abs(a - n)))
        flat_index = worst if isinstance(picked, slice) else int(picked[worst])
        idx = np.unravel_index(flat_index, x.shape)
        raise AssertionError(
            f"d loss / d {name}: max rel err {rel_err:.3e} > {rtol:g} (max abs {abs_err:.3e}); "
            f"worst at {tuple(int(i) for i in idx)}: analytic {a[worst]!r}, finite difference {n[worst]!r}"
        )


# ---------------------------------------------------------------------------------------
# One helper per kind of check, for every op of the registry (tinygrad's helper_test_op):
# each runs the op's fast kernels and compares the forward outputs and EVERY gradient.

def _op_case(op, config, seed, dtype, smooth):
    from motifnet.kernels.registry import random_d_outputs, run_fast

    rng = np.random.default_rng(seed)
    inputs = op.make_inputs(config, rng, dtype, smooth)
    outputs = run_fast(op, config, inputs)
    d_outputs = random_d_outputs(op, config, outputs, rng)
    return inputs, d_outputs, run_fast(op, config, inputs, d_outputs)


def _gradient_names(op, config):
    return ["d_" + name for name in op.grad_inputs(config)]


def check_op_against_reference(op, config, seed, rtol=1e-10):
    """float64: the fast kernels against the op file's reference loops (sums in other orders)."""
    inputs, d_outputs, fast = _op_case(op, config, seed, np.float64, smooth=False)
    ref = op.reference(config, inputs, d_outputs)
    for name in list(op.outputs) + list(op.extra_outputs) + _gradient_names(op, config):
        assert_close(f"{op.name} {op.describe(config)}: {name}", fast[name], ref[name], rtol=rtol)
    for name in op.exact_outputs:
        np.testing.assert_array_equal(fast[name], ref[name], err_msg=f"{op.name} {op.describe(config)}: {name}")


def check_op_against_torch(op, config, seed):
    """float32: the fast kernels against torch, forward and every gradient."""
    from motifnet.kernels.registry import run_torch

    inputs, d_outputs, fast = _op_case(op, config, seed, np.float32, smooth=False)
    expected = run_torch(op, config, inputs, d_outputs)
    for name in list(op.outputs) + list(op.extra_outputs):
        assert_close(f"{op.name} {op.describe(config)}: {name}", fast[name], expected[name], rtol=op.rtol_forward)
    for name in _gradient_names(op, config):
        assert_close(f"{op.name} {op.describe(config)}: {name}", fast[name], expected[name],
                     rtol=op.grad_rtol(name))


def check_op_finite_differences(op, config, seed, max_elements=1000):
    """float64: every gradient against central finite differences of sum(g * output)
    (at ``max_elements`` random elements of a larger input)."""
    from motifnet.kernels.registry import projected_loss

    inputs, d_outputs, fast = _op_case(op, config, seed, np.float64, smooth=True)
    for name in op.grad_inputs(config):
        assert_grad_fd(f"{op.name} {op.describe(config)}: {name}", fast["d_" + name],
                       lambda: projected_loss(op, config, inputs, d_outputs), inputs[name],
                       rtol=op.fd_rtol, eps=op.fd_eps, max_elements=max_elements)


def check_layer_against_torch(name, output, expected_output, grads, expected_grads, rtol=1e-5, grad_rtol=1e-5):
    """Compare a layer's forward output and every gradient with torch's (assert_close each).

    ``grads`` and ``expected_grads`` map the same names to arrays / torch tensors (or
    torch parameters, whose ``.grad`` is used).
    """
    import torch

    assert_close(f"{name} forward", output, expected_output, rtol=rtol)
    assert set(grads) == set(expected_grads), (sorted(grads), sorted(expected_grads))
    for gname, g in grads.items():
        e = expected_grads[gname]
        e = e.grad if isinstance(e, torch.Tensor) and e.grad is not None else e
        assert_close(f"{name} d/d {gname}", g, e, rtol=grad_rtol)


def serve_folder(root):
    """A generator for a fixture: a local HTTP server (127.0.0.1 only) serving ``root``; yields its URL."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
