"""motifnet/plots.py: drawing shortcuts must give the pixels of the plain matplotlib calls
they replace (they exist for speed only)."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest

from motifnet import plots


def _pixels(draw) -> np.ndarray:
    fig, axes = plots.subplots(2, 1, figsize=(6.0, 3.0), squeeze=False)
    for ax in axes[:, 0]:
        draw(ax)
        ax.set_xlim(-0.5, 29.5)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=80, format="png")
    buf.seek(0)
    return mpimg.imread(buf, format="png")


@pytest.mark.parametrize("kind", ["positive", "signed", "zeros", "one", "tiny"])
def test_bars_are_pixel_for_pixel_ax_bar(kind):
    rng = np.random.default_rng(len(kind))
    heights = {"positive": rng.random(30), "signed": rng.normal(size=30), "zeros": np.zeros(30),
               "one": np.array([0.7]), "tiny": rng.random(30) * 1e-9}[kind]
    color = "#4c72b0"
    want = _pixels(lambda ax: ax.bar(np.arange(len(heights)), heights, width=0.8, color=color))
    got = _pixels(lambda ax: plots._bars(ax, heights, color))
    assert got.shape == want.shape and np.array_equal(got, want)
