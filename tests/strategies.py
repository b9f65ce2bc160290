"""Hypothesis strategies for kernel shapes, in one place.

The valid shapes of every op are written once, in its registry entry
(``motifnet.kernels.registry``, ``draw_config``); ``op_configs(op)`` turns that
into a strategy.  Values are drawn with NumPy from a drawn seed (fast, and the
example stays reproducible from the seed).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def maxpool1d_configs():
    """maxpool1d's valid configurations, as its registry entry defines them (one definition)."""
    from motifnet.kernels.registry import BY_NAME

    return op_configs(BY_NAME["maxpool1d"])


def attention_configs():
    """attention's valid configurations, as its registry entry defines them."""
    from motifnet.kernels.registry import BY_NAME

    return op_configs(BY_NAME["attention"])


seeds = st.integers(0, 2**32 - 1)


def rng_from(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def op_configs(op):
    """Hypothesis strategy of ``op``'s valid configurations (its registry's ``draw_config``)."""
    return st.composite(lambda draw: op.draw_config(lambda lo, hi: draw(st.integers(lo, hi))))()
