"""Hand-written forward/backward kernels, JIT-compiled with Numba.

One module per op (``kernels/conv1d.py``, ``kernels/maxpool1d.py``, ...), each
holding ``<op>_forward`` and ``<op>_backward``: plain loop nests under
``numba.njit`` in torch's (N, C, L) layout, one source for float32 (training)
and float64 (gradient checks).
"""
