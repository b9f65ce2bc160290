"""The primer CNN's whole training step as one compiled call, split over threads by sequence.

``GenomicsCNN.forward`` / ``backward`` are the readable step: one Python line per layer,
each a call into that layer's kernel.  Between those ~15 calls Python runs, so a
training step cannot use a second core: a thread-parallel kernel pays for waking its
threads at every call, and a call of 5-200 us is too short to win that back (measured:
the fused conv + max-pool backward at L = 200 took 130-135 us on 2 threads inside a
step against 125-128 us serially).

This file runs the same kernels, in the same order, inside one compiled function::

    for each part of the batch (a slice of whole sequences), on its own thread:
        pooled = relu(conv1d_onehot_maxpool(codes))          the fused pair's forward
        z      = relu(linear(flatten(pooled), fc1))
        logits = linear(z, fc2)
        loss  += sum of bce_with_logits(logits, targets)     reduction "sum"
        d_logits = d bce / d logits * (1 / B)                 the batch mean's gradient
        ... the backward of every layer, in reverse, into the part's gradients
    grads = the sum of the parts' gradients; then Adam's update (optim.Adam's arithmetic),
    each thread over a slice of the flat buffers

so the step has two parallel regions instead of one per kernel call.  Each callee is the
serial compilation of the same kernel the layers call (``SerialOrParallel.serial``), with
the same argument types, so Numba reuses their cached machine code.

With one part the arithmetic is the readable step's, operation for operation: the
gradients, the loss and the updated parameters are bit for bit the same
(``tests/test_compiled_step.py``).  With two parts, each part's parameter gradients are
summed over its own sequences and the two sums added: float rounding only.

When it is used (``compiled_step_for``): the cnn model (not its subclasses) on base
codes, for steps long enough to repay compiling it.  Measured on the 2-core machine this
was written on with ``python -m benchmarks.compiled_step_ab L N ROUNDS`` (float32, batch
32, Adam; one epoch of each variant alternating in one process, medians of per-round
ratios; three runs at L = 200 minutes apart, as the shared machine's speed moved):

* 1 thread, against the layer-by-layer step: 1.07-1.14x faster at L = 200, 1.07x at
  L = 1000, 1.28x at L = 50 (the Python between the layers is gone);
* 2 threads against 1: 1.02x, 1.27x and 1.48x at L = 200 (a bare step, the same batch
  again and again, 1.3-1.8x), 1.61x at L = 1000, 1.00x at L = 50.

Why not 2x (``python -m benchmarks.step_parts``: each part timed on its thread; README,
Speed): each part pays ~16 us of fixed work, the gradient sum and Adam hardly divide, and
on a shared VM one core often runs slower than the other for seconds, and the step waits
for its part.

It compiles once per machine (cached, like every kernel): about 3-4 s for the serial
version (used on one thread) and 8 s for the threaded one (used on more), beyond the
kernels it calls: Numba links the callees' code into the caller and optimises it again.
So the primer's default run (L = 50) keeps the layer-by-layer step and compiles nothing
more.  A first run on long sequences pays it once (the compile helper, motifnet/warmup.py,
takes part of it on the second core); a warm run loads it as fast as the kernels it
replaces (warm `motifnet train` of the cnn on 3,000 x 200 bp, 5 epochs: 2.28-3.06 s,
median 2.40, against 2.46-2.86 s, median 2.53, for the layer-by-layer step, alternating).
"""

from __future__ import annotations

import time
import types

import numba
import numpy as np
from numba import prange

from motifnet.kernels import _jit
from motifnet.kernels.adam import _adam_loop
from motifnet.kernels.bce_with_logits import REDUCTION_SUM, _backward_loop as _bce_backward, \
    _forward_loop as _bce_forward
from motifnet.kernels.conv1d_onehot import part_arrays as _part_arrays, plan
from motifnet.kernels.conv1d_onehot_maxpool import _backward as _conv_pool_backward, _loops_of
from motifnet.kernels.linear import _backward as _linear_backward, _forward as _linear_forward
from motifnet.kernels.relu import _backward_in_place as _relu_backward, _forward_in_place as _relu_forward

# Steps whose batch covers fewer convolution columns than this (B x L_pool x pool) keep
# the layer-by-layer step: 32 x 188 at L = 200 is above it, 32 x 36 at L = 50 below.
MIN_COLUMNS = 4096


def _step_loops(codes, targets, wc, bc, w1, b1, w2, b2, grads, part_grads, offs, geo, plan_, pos_weight,
                d_loss, pooled, offsets, z, logits, d_logits, dz, d_pooled, losses, n_parts,
                params, exp_avg, exp_avg_sq, adam, do_adam):
    # codes (B, L) int8, targets (B,); wc, bc, w1, b1, w2, b2: the model's parameters.
    # grads: the model's flat gradient buffer, written (not added to); part_grads:
    # (n_parts - 1, n_params) scratch for the parts after the first; offs (7,): where
    # each parameter's gradient starts in the flat buffer; geo: stride, padding,
    # dilation, pool; plan_: conv1d_onehot.plan's G, n_pass, n_pc, n_pos.  The buffers
    # pooled (B, C, L_pool) ... dz (B, H) hold every part's activations in its rows;
    # losses (n_parts,): each part's summed loss.  With do_adam: params (the model's flat
    # parameter buffer, which wc ... b2 are views of), exp_avg, exp_avg_sq (Adam's state)
    # and adam (kernels/adam.py's adam_scalars) for one Adam step after the gradients.
    # The loops' bodies are functions of their own (serial, compiled once for both this
    # function's serial and threaded compilations: the threaded one compiled in 8 s with
    # the bodies inline).
    # (np.int64: a threaded prange's index is uint64, which would compile the bodies again)
    for part in prange(n_parts):
        part_step(np.int64(part), n_parts, codes, targets, wc, bc, w1, b1, w2, b2, grads, part_grads, offs, geo, plan_,
                  pos_weight, d_loss, pooled, offsets, z, logits, d_logits, dz, d_pooled, losses)
    for c in prange(n_parts):
        sum_and_update(np.int64(c), n_parts, grads, part_grads, params, exp_avg, exp_avg_sq, adam, do_adam)


def _part_loops(part, n_parts, codes, targets, wc, bc, w1, b1, w2, b2, grads, part_grads, offs, geo, plan_,
                pos_weight, d_loss, pooled, offsets, z, logits, d_logits, dz, d_pooled, losses):
    # one part of the batch, sequences [lo, hi): forward, loss and backward, its parameter
    # gradients written into grads (part 0) or part_grads[part - 1].  conv_pool_forward is
    # the fused pair's forward for this pool size (see _step_of).
    B = codes.shape[0]
    stride, padding, dilation, pool = geo[0], geo[1], geo[2], geo[3]
    G, n_pass, n_pc, n_pos = plan_[0], plan_[1], plan_[2], plan_[3]
    one = n_parts // n_parts  # 1 as a variable: the callees' compiled int64 signatures
    reduction = np.int64(REDUCTION_SUM)  # not a literal, for the same reason
    lo, hi = part * B // n_parts, (part + 1) * B // n_parts
    nb = hi - lo
    g = grads if part == 0 else part_grads[part - 1]
    g[:] = 0
    dwc, dbc = g[offs[0]:offs[1]].reshape(wc.shape), g[offs[1]:offs[2]]
    dw1, db1 = g[offs[2]:offs[3]].reshape(w1.shape), g[offs[3]:offs[4]]
    dw2, db2 = g[offs[4]:offs[5]].reshape(w2.shape), g[offs[5]:offs[6]]
    x, t, p, o = codes[lo:hi], targets[lo:hi], pooled[lo:hi], offsets[lo:hi]
    zp, lp, dlp, dzp, dpp = z[lo:hi], logits[lo:hi], d_logits[lo:hi], dz[lo:hi], d_pooled[lo:hi]
    pcs, gcs = part_arrays(one, n_pc, n_pos)  # the convolutions' work arrays, as their entry points make them
    # forward: GenomicsCNN._forward, layer by layer
    conv_pool_forward(x, wc, bc, p, o, stride, padding, dilation, G, n_pass, n_pc, n_pos, one, pcs, gcs)
    relu_forward(p.reshape(-1))
    flat = p.reshape(nb, -1)
    linear_forward(flat, w1, b1, zp)
    relu_forward(zp.reshape(-1))
    linear_forward(zp, w2, b2, lp)
    bce_forward(lp.reshape(-1), t, pos_weight, reduction, losses[part:part + 1])
    # backward: GenomicsCNN.backward, layer by layer; d_loss = [1 / B], the mean's
    dlp[:] = 0
    bce_backward(lp.reshape(-1), t, pos_weight, reduction, d_loss, dlp.reshape(-1))
    dzp[:] = 0
    linear_backward(dlp, zp, w2, dzp, dw2, db2, one == 1)
    relu_backward(dzp.reshape(-1), zp.reshape(-1))
    dpp[:] = 0
    linear_backward(dzp, flat, w1, dpp.reshape(nb, -1), dw1, db1, one == 1)
    relu_backward(dpp.reshape(-1), p.reshape(-1))
    conv_pool_backward(dpp, x, o, dwc, dbc, pool, stride, padding, dilation, G, n_pc, n_pos, one, pcs, gcs)


@_jit.jit
def sum_and_update(c, n_parts, grads, part_grads, params, exp_avg, exp_avg_sq, adam, do_adam):
    # slice c of n_parts of the flat buffers: the parts' gradients summed, then Adam,
    # element-wise (one part: the whole buffers in one call, as optim.Adam makes it)
    n = grads.shape[0]
    lo, hi = c * n // n_parts, (c + 1) * n // n_parts
    gc = grads[lo:hi]
    for part in range(n_parts - 1):
        gc += part_grads[part, lo:hi]
    if do_adam:
        adam_loop(params[lo:hi], gc, exp_avg[lo:hi], exp_avg_sq[lo:hi],
                  adam[0], adam[1], adam[2], adam[3], adam[4], adam[5], adam[6])


# the callees: the serial compilations of the layers' kernels (their cached machine code),
# and the function that makes the convolutions' work arrays
part_arrays = _part_arrays
conv_pool_backward = _conv_pool_backward.serial
linear_forward = _linear_forward.serial
linear_backward = _linear_backward.serial
relu_forward = _relu_forward.serial
relu_backward = _relu_backward.serial
bce_forward = _bce_forward
bce_backward = _bce_backward
adam_loop = _adam_loop

_compiled = {}  # (pool size, parallel) -> the step, pool size -> its part; compiled on first use


def _step_of(P, parallel):
    """The step for pool size P, serial or threaded.  The fused forward is compiled per P,
    so each P gets a copy of ``_part_loops`` whose global ``conv_pool_forward`` is that P's,
    and a copy of ``_step_loops`` that calls it, under names of their own (their own cache
    files).  Not a closure: Numba's cache key includes a closure's cells, and a captured
    dispatcher pickles differently in every process, so the cache would never hit
    (measured: 4 s of compiling at every run)."""
    key = (P, parallel)
    fn = _compiled.get(key)
    if fn is None:
        part = _compiled.get(P)
        if part is None:
            part = _compiled[P] = _jit.jit(_copy(_part_loops, P, conv_pool_forward=_loops_of(P).serial))
        loops = _copy(_step_loops, P, part_step=part)
        fn = _compiled[key] = _jit.jit_parallel(loops) if parallel else _jit.jit(loops)
    return fn


_gates = {}  # pool size -> the ThreadsGate of its threaded step


def _threads_of(P):
    gate = _gates.get(P)
    if gate is None:
        gate = _gates[P] = _jit.ThreadsGate(_step_of(P, True))
    return gate


def _copy(fn, P, **names):
    """``fn`` with ``names`` set among its globals, named for pool size P."""
    copy = types.FunctionType(fn.__code__, dict(globals(), **names), fn.__name__)
    copy.__qualname__ = f"{fn.__name__}.<pool{P}>"
    copy.__module__ = __name__
    return copy


class CNNTrainingStep:
    """``step(codes, targets)``: the loss of one batch, its logits, and the model's
    ``flat_grads`` set to the loss's gradient, as ``forward`` + ``BCEWithLogitsLoss`` +
    ``zero_grad`` + ``backward`` would leave them; given ``optimizer`` (a ``motifnet.optim.Adam``
    over the whole model), then also its ``step()``, in the same call.

    On one thread it runs the serial compilation; on more, the threaded one, with the
    batch split into as many parts (at most one per sequence), and, like every kernel
    (``_jit.SerialOrParallel``), one step in ``PROBE_EVERY`` run as one part alone and
    timed, so that threads which lose on a busy machine are suspended
    (``_jit.thread_outcome``; after three losing steps, one more probe first, so that a
    machine that slowed down as a whole keeps its threads).
    """

    def __init__(self, model, batch_size, optimizer=None):
        self.model = model
        self.optimizer = optimizer
        flat = optimizer.flat_state() if optimizer is not None else None
        if optimizer is not None and (flat is None or flat[0] is not model.flat_params or flat[1] is not model.flat_grads):
            raise ValueError("the compiled step's optimizer must be an Adam over the whole model's flat buffer")
        conv, self.pool = model.conv, model.pool_size
        self.dtype = model.dtype
        self.params = [conv.weight, conv.bias, model.fc1.weight, model.fc1.bias, model.fc2.weight, model.fc2.bias]
        sizes = [p.data.size for p in self.params]
        offsets = [p.offset for p in self.params]
        if offsets != list(np.cumsum([0] + sizes[:-1])) or sum(sizes) != model.flat_grads.size:
            raise ValueError("the cnn model's parameters are not its flat buffer in order")
        self.offs = np.array(offsets + [sum(sizes)], dtype=np.int64)
        self.geo = np.array([conv.stride, conv.padding, conv.dilation, self.pool], dtype=np.int64)
        L = model.seq_len
        G, _, n_pass, n_pc, n_pos = plan(conv.in_channels, conv.kernel_size, L, model.pool_length * self.pool,
                                         conv.stride, conv.padding, conv.dilation)
        self.plan = np.array([G, n_pass, n_pc, n_pos], dtype=np.int64)
        self.pos_weight = np.ones(1, dtype=self.dtype)
        self.batch_size = int(batch_size)
        C, Lp, H = conv.out_channels, model.pool_length, model.hidden
        B = self.batch_size
        self.pooled = np.empty((B, C, Lp), self.dtype)
        self.offsets = np.empty((B, Lp, C), np.int8)
        self.z = np.empty((B, H), self.dtype)
        self.logits = np.empty((B, 1), self.dtype)
        self.d_logits = np.empty((B, 1), self.dtype)
        self.dz = np.empty((B, H), self.dtype)
        self.d_pooled = np.empty((B, C, Lp), self.dtype)
        self.part_grads = np.empty((0, model.flat_grads.size), self.dtype)
        self._schedule = _jit.ProbeSchedule()  # its serial_rate: serial ns per sequence

    def _parts(self, B, threads):
        """(number of parts, whether the call is timed: a one-part probe, or a threaded call
        to judge against it), as ``_jit.ProbeSchedule`` has it."""
        schedule = self._schedule
        if threads < 2 or B < 2 or time.monotonic() < _jit._suspension["until"]:
            schedule.warm.add(False)  # one part has run: the next one-part call is a probe
            return 1, False
        threaded, timed = schedule.next()
        return (min(threads, B) if threaded else 1), timed

    def threads(self) -> int:
        """Numba's thread count, or 1 while the threaded step is neither in place nor paid
        for (``_jit.ThreadsGate``)."""
        threads = numba.get_num_threads()
        return threads if threads < 2 or _threads_of(self.pool).ready() else 1

    def __call__(self, codes, targets):
        B = codes.shape[0]
        threads = self.threads()
        if threads < numba.get_num_threads():  # the serial step, timed for the threaded one's payback
            with _threads_of(self.pool).waiting():
                losses = self.run(codes, targets, 1, False, self.optimizer is not None)
            return self._result(losses, 1, B)
        n_parts, timed = self._parts(B, threads)
        start = time.perf_counter_ns()
        # with threads, the threaded compilation only, for one part too (a probe, or threads
        # suspended): it runs one part as fast as the serial one (1.01x, L = 200, alternating
        # epochs), and a first run then compiles, and every run loads, one step instead of two.
        # One part runs with the thread count at 1: otherwise its region still waits for the
        # other threads, and on a busy machine a one-part step took a whole time slice (16 ms).
        if n_parts == 1 and threads > 1:
            numba.set_num_threads(1)
        try:
            losses = self.run(codes, targets, n_parts, threads > 1, self.optimizer is not None)
        finally:
            if n_parts == 1 and threads > 1:
                numba.set_num_threads(threads)
        elapsed = time.perf_counter_ns() - start
        if timed and n_parts == 1:
            self._schedule.serial_rate = elapsed / B
        elif timed:
            _jit.thread_outcome(elapsed, self._schedule.serial_rate * B, self._schedule)
        return self._result(losses, n_parts, B)

    def _result(self, losses, n_parts, B):
        dt = self.dtype.type
        loss = losses.sum(dtype=self.dtype) / dt(B) if n_parts > 1 else losses[0] / dt(B)
        return float(loss), self.logits[:B].reshape(-1)

    def run(self, codes, targets, n_parts, parallel, update=False):
        """One call of the serial or the threaded compilation with ``n_parts`` parts (the
        serial one runs them one after the other), with the optimizer's step if ``update``;
        returns each part's summed loss."""
        args = self.arguments(codes, targets, n_parts, update)
        _step_of(self.pool, parallel)(*args)
        return args[_LOSSES]

    def arguments(self, codes, targets, n_parts, update=False):
        """The arguments of one call of the step (``_step_loops``'s, in order); with
        ``update``, Adam's scalars of the optimizer's next step, which this counts."""
        B = codes.shape[0]
        m, dt = self.model, self.dtype.type
        if self.part_grads.shape[0] < n_parts - 1:
            self.part_grads = np.empty((n_parts - 1, m.flat_grads.size), self.dtype)
        losses = np.empty(n_parts, self.dtype)
        d_loss = np.array([dt(1) / dt(B)], self.dtype)  # the mean's, as bce_with_logits (F2)
        if update:  # optim.Adam.step's arithmetic (and count)
            opt = self.optimizer
            adam = np.array(opt.next_step_scalars())
            exp_avg, exp_avg_sq = opt.flat_state()[2:]
        else:
            adam, exp_avg, exp_avg_sq = _NO_ADAM, m.flat_params[:0], m.flat_params[:0]
        return (codes, targets, *(p.data for p in self.params), m.flat_grads, self.part_grads, self.offs, self.geo,
                self.plan, self.pos_weight, d_loss, self.pooled[:B], self.offsets[:B], self.z[:B], self.logits[:B],
                self.d_logits[:B], self.dz[:B], self.d_pooled[:B], losses, n_parts, m.flat_params, exp_avg,
                exp_avg_sq, adam, update)


_NO_ADAM = np.zeros(7)
_LOSSES = _step_loops.__code__.co_varnames.index("losses")  # its place among _step_loops's arguments


def compiled_step_for(model, x, batch_size, optimizer=None):
    """The compiled step for training ``model`` on ``x`` (with ``optimizer``'s step, if
    given), or None where the layer-by-layer step is used: other models, one-hot inputs,
    batches of fewer than ``MIN_COLUMNS`` convolution columns."""
    from motifnet.models import GenomicsCNN

    if type(model) is not GenomicsCNN or x.dtype != np.int8 or model.conv.bias is None:
        return None
    if min(batch_size, x.shape[0]) * model.pool_length * model.pool_size < MIN_COLUMNS:
        return None
    return CNNTrainingStep(model, min(batch_size, x.shape[0]), optimizer)
