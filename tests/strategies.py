"""Hypothesis strategies for kernel shapes, in one place.

Ranges follow the foundation issue: batch 1-8, channels 1-8, kernel 1-12,
stride/padding/dilation over torch's valid ranges, lengths from the window
size up to 64.  Values are drawn with NumPy from a drawn seed (fast, and the
example stays reproducible from the seed).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def conv1d_configs(draw):
    B = draw(st.integers(1, 8))
    C_in = draw(st.integers(1, 8))
    C_out = draw(st.integers(1, 8))
    K = draw(st.integers(1, 12))
    stride = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 6))  # torch allows any padding >= 0
    span = dilation * (K - 1) + 1
    L = draw(st.integers(max(1, span - 2 * padding), 64))
    return dict(B=B, C_in=C_in, C_out=C_out, L=L, K=K, stride=stride, padding=padding, dilation=dilation)


@st.composite
def maxpool1d_configs(draw):
    B = draw(st.integers(1, 8))
    C = draw(st.integers(1, 8))
    K = draw(st.integers(1, 12))
    stride = draw(st.integers(1, 12))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.integers(0, K // 2))  # torch: padding <= kernel_size / 2
    span = dilation * (K - 1) + 1
    L = draw(st.integers(max(1, span - 2 * padding), 64))
    return dict(B=B, C=C, L=L, K=K, stride=stride, padding=padding, dilation=dilation)


@st.composite
def linear_configs(draw):
    lead = tuple(draw(st.lists(st.integers(1, 8), min_size=1, max_size=3)))
    n_in = draw(st.integers(1, 64))
    n_out = draw(st.integers(1, 64))
    return dict(lead=lead, n_in=n_in, n_out=n_out)


@st.composite
def attention_configs(draw):
    return dict(B=draw(st.integers(1, 8)), H=draw(st.integers(1, 32)), L=draw(st.integers(1, 16)))


seeds = st.integers(0, 2**32 - 1)


def rng_from(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def op_configs(op):
    """Hypothesis strategy of ``op``'s valid configurations (its registry's ``draw_config``)."""
    return st.composite(lambda draw: op.draw_config(lambda lo, hi: draw(st.integers(lo, hi))))()
