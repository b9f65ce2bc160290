"""Hand-written forward/backward kernels, JIT-compiled with Numba.

One module per op (``kernels/conv1d.py``, ``kernels/maxpool1d.py``, ...), each
holding ``<op>_forward`` and ``<op>_backward``: plain loop nests under
``numba.njit`` in torch's (N, C, L) layout, one source for float32 (training)
and float64 (gradient checks).
"""

from motifnet.kernels.adam import adam_step
from motifnet.kernels.attention import attention_backward, attention_forward
from motifnet.kernels.bce_with_logits import bce_with_logits_backward, bce_with_logits_forward
from motifnet.kernels.conv1d import conv1d_backward, conv1d_forward
from motifnet.kernels.conv1d_onehot import conv1d_onehot_backward, conv1d_onehot_forward
from motifnet.kernels.linear import linear_backward, linear_forward
from motifnet.kernels.maxpool1d import maxpool1d_backward, maxpool1d_forward
from motifnet.kernels.relu import relu_backward, relu_forward

__all__ = [
    "adam_step",
    "attention_backward", "attention_forward",
    "bce_with_logits_backward", "bce_with_logits_forward",
    "conv1d_backward", "conv1d_forward",
    "conv1d_onehot_backward", "conv1d_onehot_forward",
    "linear_backward", "linear_forward",
    "maxpool1d_backward", "maxpool1d_forward",
    "relu_backward", "relu_forward",
]
