"""Hand-written forward/backward kernels, JIT-compiled with Numba: one file per op.

Each ``kernels/<op>.py`` reads top to bottom: the shape legend; the forward formulas;
the derivation of every gradient from them, step by step, in the code's symbols; the
reference loops (plain Python, float64: the definition the fast code is checked
against); the fast loops, documented as computing exactly the reference and why their
layout is what it is; the checked entry points.

The one contract of every fast kernel (``<op>_forward_into``, ``<op>_backward_into``):

* outputs are written into arrays the caller allocated and owns;
* gradients are ADDED (``+=``) into the caller's gradient arrays, never returned fresh:
  the parameters' gradients live in the model's one flat buffer, and where two branches
  of a network meet, both add into one buffer (as llm.c does);
* no checks: the arrays are C-contiguous, of one float dtype and of the right shapes.
  The checked entry points (``<op>_forward``, ``<op>_backward``) validate their
  arguments, allocate, and call the fast kernels;
* serial or thread-parallel is decided in one place, ``_jit.use_parallel``, from each
  call's amount of work (a thread-pool dispatch costs more than a seed-sized layer), and
  ``_jit.ThreadsGate``: a threaded compilation runs once it is in place or its compiling
  is paid for by the serial time of the calls that wanted it.

``registry.OPS`` lists every op with its fast pair, reference pair, torch equivalent,
valid shapes and benchmark shapes; the tests, ``motifnet gradcheck``, ``motifnet
explain`` and the benchmarks iterate it.  Numba options live in ``_jit.py`` (``jit``,
re-exported here for the rest of motifnet).
"""

from motifnet.kernels._jit import SerialOrParallel, jit, use_parallel
from motifnet.kernels.adam import adam_step
from motifnet.kernels.attention import attention_backward, attention_forward
from motifnet.kernels.bce_with_logits import bce_with_logits_backward, bce_with_logits_forward
from motifnet.kernels.conv1d import conv1d_backward, conv1d_forward
from motifnet.kernels.conv1d_onehot import conv1d_onehot_backward, conv1d_onehot_forward
from motifnet.kernels.conv1d_onehot_globalmax import conv1d_onehot_globalmax_backward, conv1d_onehot_globalmax_forward
from motifnet.kernels.conv1d_onehot_maxpool import conv1d_onehot_maxpool_backward, conv1d_onehot_maxpool_forward
from motifnet.kernels.global_max import global_max_backward, global_max_forward
from motifnet.kernels.linear import linear_backward, linear_forward
from motifnet.kernels.maxpool1d import maxpool1d_backward, maxpool1d_forward
from motifnet.kernels.relu import relu_backward, relu_forward
from motifnet.kernels.revcomp import revcomp_backward, revcomp_forward

__all__ = [
    "jit", "SerialOrParallel", "use_parallel",
    "adam_step",
    "attention_backward", "attention_forward",
    "bce_with_logits_backward", "bce_with_logits_forward",
    "conv1d_backward", "conv1d_forward",
    "conv1d_onehot_backward", "conv1d_onehot_forward",
    "conv1d_onehot_globalmax_backward", "conv1d_onehot_globalmax_forward",
    "conv1d_onehot_maxpool_backward", "conv1d_onehot_maxpool_forward",
    "global_max_backward", "global_max_forward",
    "linear_backward", "linear_forward",
    "maxpool1d_backward", "maxpool1d_forward",
    "relu_backward", "relu_forward",
    "revcomp_backward", "revcomp_forward",
]
