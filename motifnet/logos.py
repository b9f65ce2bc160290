"""Sequence logos drawn with matplotlib: each letter a glyph stretched to its height.

A logo column j shows the four bases stacked, the tallest on top, each letter
as tall as ``heights[b, j]``: for an information-content logo that is
``pwm[b, j] * IC[j]`` bits (``motifnet.motif.pwm.logo_heights``); for a
mean-centred in-silico-mutagenesis logo heights may be negative and those
letters are stacked downwards from 0.  Glyphs are ``TextPath`` outlines of
DejaVu Sans Bold (shipped with matplotlib) scaled to the cell, so a letter's
height is exact, whatever the font's ascent.  Colours: A green, C blue,
G orange, T red; positions are numbered from 1.
"""

from __future__ import annotations

import functools

import numpy as np

from motifnet.constants import ALPHABET as BASES  # noqa: E402
COLORS = {"A": "#2ca02c", "C": "#1f5fbf", "G": "#ff8c00", "T": "#d62728"}
LETTER_WIDTH = 0.9  # of a column; the rest is the gap between letters


@functools.lru_cache(maxsize=None)
def _glyph(letter: str):
    """The letter's outline and its bounding box (path, x0, y0, width, height), cached."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
    box = path.get_extents()
    return path, box.x0, box.y0, box.width, box.height


def _letter(letter: str, x_center: float, y_bottom: float, height: float):
    """The letter's outline stretched to [x_center - 0.45, x_center + 0.45] x [y_bottom, y_bottom + height]."""
    from matplotlib.transforms import Affine2D

    path, x0, y0, w, h = _glyph(letter)
    transform = (
        Affine2D()
        .translate(-x0, -y0)
        .scale(LETTER_WIDTH / w, height / h)
        .translate(x_center - LETTER_WIDTH / 2, y_bottom)
    )
    return transform.transform_path(path)


def draw_logo(ax, heights: np.ndarray, ylabel: str = "bits", title: str | None = None,
              ylim: tuple[float, float] | None = None, first_position: int = 1) -> None:
    """Draw a logo of ``heights`` ``(4, W)`` (rows A, C, G, T) on ``ax``.

    Positive heights stack upwards from 0 (smallest at the bottom), negative
    ones downwards.  The x axis numbers positions from ``first_position``.
    """
    heights = np.asarray(heights, dtype=np.float64)
    if heights.ndim != 2 or heights.shape[0] != 4:
        raise ValueError(f"heights must have shape (4, W), got {heights.shape}")
    from matplotlib.collections import PathCollection

    W = heights.shape[1]
    top, bottom = 0.0, 0.0
    letters, colors = [], []
    for j in range(W):
        col = heights[:, j]
        up = 0.0
        for b in np.argsort(col, kind="stable"):  # ascending: tallest ends on top
            if col[b] > 1e-6:
                letters.append(_letter(BASES[b], j + 1, up, col[b]))
                colors.append(COLORS[BASES[b]])
                up += col[b]
        down = 0.0
        for b in np.argsort(-col, kind="stable"):  # most negative ends at the bottom
            if col[b] < -1e-6:
                down += col[b]
                letters.append(_letter(BASES[b], j + 1, down, -col[b]))
                colors.append(COLORS[BASES[b]])
        top, bottom = max(top, up), min(bottom, down)
    # one artist for all the letters, each its own path and colour, drawn as separate
    # patches would be: a patch per letter cost ~1.2 ms each to add and draw (2.1 s of a
    # warm motifnet interpret's 21.7 s under cProfile, 1,746 letters)
    ax.add_collection(PathCollection(letters, facecolors=colors, edgecolors="none"), autolim=False)
    ax.set_xlim(0.5, W + 0.5)
    if ylim is None:
        ylim = (bottom * 1.05 if bottom < 0 else 0.0, max(top * 1.05, 1e-3) if bottom < 0 else 2.0)
    ax.set_ylim(*ylim)
    ax.set_xticks(range(1, W + 1))
    ax.set_xticklabels([str(first_position + j) for j in range(W)], fontsize=7)
    ax.set_ylabel(ylabel)
    if bottom < 0:
        ax.axhline(0, color="black", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)


def information_logo(ax, pwm: np.ndarray, title: str | None = None) -> None:
    """An information-content logo of a PWM ``(4, W)``: letter height ``p * IC`` in bits, y from 0 to 2."""
    from motifnet.motif.pwm import logo_heights

    draw_logo(ax, logo_heights(pwm), ylabel="bits", title=title, ylim=(0.0, 2.0))


def save_logo(path, pwm: np.ndarray, title: str | None = None) -> None:
    """Write one information-content logo of ``pwm`` as a PNG (atomically)."""
    from motifnet._atomic import save_figure
    from motifnet.plots import subplots

    fig, ax = subplots(figsize=(0.45 * pwm.shape[1] + 1.2, 2.4))
    information_logo(ax, pwm, title=title)
    save_figure(fig, path)


def save_aligned_logos(path, top_pwm: np.ndarray, bottom_pwm: np.ndarray, bottom_shift: int = 0,
                       top_title: str | None = None, bottom_title: str | None = None) -> None:
    """Write two information-content logos one above the other, aligned, as a PNG (atomically).

    Column ``j`` of ``bottom_pwm`` is drawn under column ``j + bottom_shift``
    of ``top_pwm`` (so a Tomtom offset ``o`` is ``bottom_shift = -o``).  Both
    panels span the union of the two motifs; each numbers only its own
    columns, from 1.
    """
    from motifnet._atomic import save_figure
    from motifnet.motif.pwm import logo_heights
    from motifnet.plots import subplots

    top, bottom = logo_heights(top_pwm), logo_heights(bottom_pwm)
    left = min(0, bottom_shift)  # the first grid column, in top-column coordinates
    width = max(top.shape[1], bottom_shift + bottom.shape[1]) - left
    # Not sharex: shared axes share tick labels, and each panel numbers its own
    # columns; both grids are `width` wide, so draw_logo gives them one x range.
    fig, axes = subplots(2, 1, figsize=(0.45 * width + 1.2, 5.2),
                             gridspec_kw={"hspace": 0.55})  # room for the lower title above the numbers
    for ax, heights, start, title in ((axes[0], top, -left, top_title),
                                      (axes[1], bottom, bottom_shift - left, bottom_title)):
        grid = np.zeros((4, width))  # zero-height columns draw nothing: the other motif's overhang
        grid[:, start:start + heights.shape[1]] = heights
        draw_logo(ax, grid, ylabel="bits", title=title, ylim=(0.0, 2.0))
        ax.set_xticks(range(1, width + 1))
        ax.set_xticklabels([str(j - start + 1) if 0 <= j - start < heights.shape[1] else ""
                            for j in range(width)], fontsize=7)
    save_figure(fig, path)
