"""Adam over a model's flat parameter buffer: one kernel call per step.

torch.optim.Adam keeps a step count per parameter tensor; here all parameters
share one count.  The two are equal because every parameter receives a
gradient at every step (there are no frozen or unused parameters in the
models), which is also what the torch parity tests check step by step.

When the parameters are not the complete flat buffer of one model (a subset,
or parameters of separate layers), the step falls back to one kernel call per
parameter with the same arithmetic.
"""

from __future__ import annotations

import numpy as np

from motifnet.kernels.adam import adam_scalars, adam_step_into
from motifnet.layers import Parameter


class Adam:
    """torch.optim.Adam semantics (amsgrad=False, L2 ``weight_decay`` added to the gradient).

    Parameters
    ----------
    params : dict[str, Parameter] or list[Parameter]
    lr, betas, eps, weight_decay : as torch.optim.Adam
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        params = list(params.values()) if isinstance(params, dict) else list(params)
        if not params or not all(isinstance(p, Parameter) for p in params):
            raise TypeError("params must be a non-empty dict or list of motifnet Parameters")
        if not lr >= 0.0 or not eps >= 0.0 or not weight_decay >= 0.0:
            raise ValueError(f"lr, eps and weight_decay must be >= 0, got {lr}, {eps}, {weight_decay}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.params = params
        self.lr, self.eps, self.weight_decay = float(lr), float(eps), float(weight_decay)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.step_count = 0
        first = params[0]
        whole = first.flat_data is not None and all(p.flat_data is first.flat_data for p in params) \
            and sum(p.data.size for p in params) == first.flat_data.size \
            and len({p.offset for p in params}) == len(params)
        if whole:  # the common case: a whole model, one call per step
            self._segments = [(first.flat_data, first.flat_grad)]
        else:
            self._segments = [(p.data.reshape(-1), p.grad.reshape(-1)) for p in params]
        self._state = [(np.zeros_like(d), np.zeros_like(d)) for d, _ in self._segments]

    def step(self) -> None:
        """Update every parameter from its ``grad`` (in place)."""
        self.step_count += 1
        for (data, grad), (exp_avg, exp_avg_sq) in zip(self._segments, self._state):
            adam_step_into(data, grad, exp_avg, exp_avg_sq, self.step_count, self.lr, self.beta1,
                       self.beta2, self.eps, self.weight_decay)

    def flat_state(self):
        """``(params, grads, exp_avg, exp_avg_sq)``, flat buffers, when this optimizer updates
        one buffer in one kernel call per step (a whole model's flat buffer, or a single
        parameter); else None.  For code that runs the same update inside its own compiled
        call (motifnet/compiled_step.py, which checks that the buffer is its model's)."""
        if len(self._segments) != 1:
            return None
        (data, grad), (exp_avg, exp_avg_sq) = self._segments[0], self._state[0]
        return data, grad, exp_avg, exp_avg_sq

    def next_step_scalars(self) -> tuple:
        """Count a step and return its scalars (``kernels/adam.py``'s ``adam_scalars``), as
        ``step`` does before its kernel call: for code that then applies the update itself."""
        self.step_count += 1
        return adam_scalars(self.step_count, self.lr, self.beta1, self.beta2, self.eps, self.weight_decay)

    def zero_grad(self) -> None:
        """Set every gradient to zero (layers add into them)."""
        for _, grad in self._segments:
            grad.fill(0)
