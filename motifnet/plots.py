"""Every figure motifnet draws (PNG), one function per figure: training curves, the confusion
matrix, ROC and precision-recall, filters, logos, saliency, attention, ISM, comparisons.

matplotlib is imported inside the functions, not at module level, so the command line
starts fast; figures are drawn on an explicit Agg canvas (``subplots`` here: no pyplot,
no global figure state, no display needed) and written atomically.  Conventions: one-hot
rows are A, C, G, T; sequence positions are numbered from 1 on every axis; a known motif
is shaded in yellow; weights and ISM effects use a diverging colour map centred on 0.
"""

from __future__ import annotations

import math

import numpy as np

from motifnet._atomic import atomic_path, save_figure
from motifnet.logos import BASES, draw_logo, information_logo

DPI = 110


def subplots(nrows=1, ncols=1, figsize=(5.0, 3.5), layout=None, **kwargs):
    """``(figure, axes)`` as ``pyplot.subplots``, on a figure of its own with an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _colormap(name):
    import matplotlib

    return matplotlib.colormaps[name]


def _figure(width=5.0, height=3.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.15, right=0.96, bottom=0.15, top=0.9)
    return fig, fig.add_subplot()


def ready() -> None:
    """matplotlib imported and its text engine started, on a throw-away figure drawn into
    memory: a process's first figure pays this (~0.35 s here), later ones do not.  For a run
    with time to spare before its figures (``motifnet.warmup.Warmup.meanwhile``)."""
    import io

    fig, ax = _figure(1.0, 1.0)
    ax.set_title("0")
    ax.plot([0.0, 1.0], [0.0, 1.0])
    fig.savefig(io.BytesIO(), dpi=20, format="png")


def _epoch_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(fig, path) -> None:
    # fixed margins, not tight_layout: a layout pass costs a whole extra draw
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")


def plot_loss(history: list[dict], path) -> None:
    """Mean training loss per epoch (``fit``'s history rows), and the validation loss, as a PNG."""
    fig, ax = _figure()
    epochs = [row["epoch"] for row in history]
    ax.plot(epochs, [row["loss"] for row in history], marker="o", markersize=3, label="train")
    valid = [(row["epoch"], row["valid_loss"]) for row in history if row.get("valid_loss") is not None]
    if valid:
        ax.plot(*zip(*valid), marker="o", markersize=3, label="validation")
        best = [row["epoch"] for row in history if row.get("best")]
        if best:
            ax.axvline(best[-1], color="0.5", linestyle=":", linewidth=1, label=f"best epoch ({best[-1]})")
    _epoch_axis(ax)
    ax.set_ylabel("binary cross-entropy")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_accuracy(history: list[dict], path) -> None:
    """Train and (where present) test accuracy per epoch as a PNG."""
    fig, ax = _figure()
    epochs = [row["epoch"] for row in history]
    ax.plot(epochs, [row["train_accuracy"] for row in history], marker="o", markersize=3,
            label="train")
    for key, label in (("valid_accuracy", "validation"), ("test_accuracy", "test")):
        points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", markersize=3, label=label)
    _epoch_axis(ax)
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("Accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_confusion_matrix(matrix, path, title="Test set confusion matrix") -> None:
    """The 2x2 matrix [[TN, FP], [FN, TP]] (rows: true label, columns: predicted) as a PNG."""
    fig, ax = _figure(4.6, 3.6)
    fig.subplots_adjust(left=0.27, right=0.98, bottom=0.2)
    counts = [[int(v) for v in row] for row in matrix]
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax)
    peak = max(max(row) for row in counts) or 1
    for i in range(2):
        for j in range(2):
            ax.text(j, i, str(counts[i][j]), ha="center", va="center", fontsize=13,
                    color="white" if counts[i][j] > peak / 2 else "black")
    ticks = ["0 (no motif)", "1 (motif)"]
    ax.set_xticks([0, 1], ticks)
    ax.set_yticks([0, 1], ticks)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(title)
    _save(fig, path)


def plot_roc_pr(scores, labels, path, title="Test set") -> None:
    """The ROC and the precision-recall curve side by side, with AUROC and auPRC, as a PNG."""
    from motifnet.train import auprc, auroc, precision_recall_curve, roc_curve

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 4.0))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.86, wspace=0.28)
    ax_roc, ax_pr = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    roc = roc_curve(scores, labels)
    if roc is not None:
        ax_roc.plot(roc[0], roc[1], drawstyle="steps-post", label=f"AUROC {auroc(scores, labels):.4f}")
        ax_roc.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1, label="chance")
    pr = precision_recall_curve(scores, labels)
    if pr is not None and roc is not None:
        precision, recall, _ = pr
        ax_pr.plot([0.0, *recall], [precision[0], *precision], drawstyle="steps-pre",
                   label=f"auPRC {auprc(scores, labels):.4f}")
        base = float((labels == 1).mean())
        ax_pr.axhline(base, color="0.7", linestyle=":", linewidth=1, label=f"chance ({base:.2f})")
    for ax, (xl, yl, name) in zip((ax_roc, ax_pr), (("false positive rate", "true positive rate", "ROC"),
                                                    ("recall", "precision", "precision-recall"))):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.02)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if roc is not None:
            ax.legend(loc="lower right" if name == "ROC" else "lower left", fontsize=8)
        else:
            ax.text(0.5, 0.5, "one class only: no curve", ha="center", va="center")
    fig.suptitle(f"{title}: {len(labels)} sequences, {int((labels == 1).sum())} positive")
    _save(fig, path)


# --------------------------------------------------------------------------- interpretation figures
MOTIF_SHADE = dict(color="#ffe066", alpha=0.55, zorder=0)


def _grid(n: int, max_cols: int = 4):
    cols = min(n, max_cols)
    return max(1, math.ceil(n / cols)), max(1, cols)


def filter_heatmaps(path, weights: np.ndarray, title: str = "first-layer filter weights",
                    per_row: int = 8) -> None:
    """Every filter ``(F, 4, K)`` as a 4 x K tile (rows A C G T), one shared symmetric colour scale.

    The tiles are laid out in one image (one axes, not F of them: much faster to draw).
    """
    F, _, K = weights.shape
    rows, cols = math.ceil(F / per_row), min(F, per_row)
    gap_x, gap_y = 1, 2  # NaN columns/rows between tiles (drawn blank), room for the titles
    mosaic = np.full((rows * (4 + gap_y), cols * (K + gap_x)), np.nan)
    for f in range(F):
        r, c = divmod(f, per_row)
        y0, x0 = r * (4 + gap_y) + gap_y, c * (K + gap_x)
        mosaic[y0:y0 + 4, x0:x0 + K] = weights[f]
    vmax = float(np.abs(weights).max()) or 1.0
    fig, ax = subplots(figsize=(0.19 * mosaic.shape[1] + 1.5, 0.26 * mosaic.shape[0] + 0.8))
    cmap = _colormap("RdBu_r").with_extremes(bad="white")  # NaN gaps between tiles
    im = ax.imshow(mosaic, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="equal", interpolation="nearest")
    for f in range(F):
        r, c = divmod(f, per_row)
        ax.text(c * (K + gap_x) + (K - 1) / 2, r * (4 + gap_y) + gap_y - 0.9, f"filter {f}",
                ha="center", va="bottom", fontsize=7)
    ax.set_yticks([r * (4 + gap_y) + gap_y + i for r in range(rows) for i in range(4)])
    ax.set_yticklabels(list(BASES) * rows, fontsize=6)
    ax.set_xticks([c * (K + gap_x) + k for c in range(cols) for k in (0, K - 1)])
    ax.set_xticklabels(["1", str(K)] * cols, fontsize=6)
    ax.tick_params(length=0, pad=1)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"{title} (rows A C G T, positions 1-{K})", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.7, pad=0.01, label="weight")
    save_figure(fig, path)


def logo_grid(path, pwms: list[np.ndarray], titles: list[str], suptitle: str, max_cols: int = 3) -> None:
    """Information-content logos of several PWMs in a grid."""
    n = max(1, len(pwms))
    rows, cols = _grid(n, max_cols)
    W = max(p.shape[1] for p in pwms) if pwms else 1
    fig, axes = subplots(rows, cols, figsize=(0.38 * W * cols + 1.0, 2.2 * rows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(pwms):
            ax.axis("off")
            continue
        information_logo(ax, pwms[i], title=titles[i])
    if not pwms:
        axes[0, 0].text(0.5, 0.5, "nothing to show", ha="center", va="center", transform=axes[0, 0].transAxes)
    fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def _bases_under(ax, seq: str, pad_points: float = 2.0) -> None:
    """The bases of ``seq`` under the x axis, base i at x = i, as tick labels would be: text,
    not ticks (a tick is five artists, and measuring 60 of them per panel took most of a
    saliency figure's 2 s)."""
    from matplotlib.transforms import ScaledTranslation, blended_transform_factory

    under = blended_transform_factory(ax.transData, ax.transAxes) + ScaledTranslation(
        0, -pad_points / 72, ax.figure.dpi_scale_trans)
    for i, base in enumerate(seq):
        ax.text(i, 0, base, transform=under, ha="center", va="top", fontsize=6, family="monospace", clip_on=False)
    ax.set_xticks([])


def _bars(ax, heights, color, width: float = 0.8) -> None:
    """``ax.bar(np.arange(len(heights)), heights, width=width, color=color)``, the same pixels,
    as one collection of rectangles instead of a patch per bar (adding 60 patches to an axes
    updates its limits 60 times: 1.11-1.14 s -> 0.80-0.84 s for a grid of 12 panels of 60)."""
    from matplotlib.collections import PolyCollection

    h = np.asarray(heights, dtype=float)
    x = np.arange(h.shape[0], dtype=float)
    left, right, zero = x - width / 2, x + width / 2, np.zeros_like(h)
    corners = np.stack([np.stack(c, axis=1) for c in ((left, zero), (right, zero), (right, h), (left, h))], axis=1)
    bars = PolyCollection(corners, facecolors=color, edgecolors="none", linewidths=0)
    bars.sticky_edges.y.append(0)  # as bar's: the axis starts at 0, no margin below
    ax.add_collection(bars, autolim=True)
    ax.autoscale_view()  # as bar does (add_collection asks for it too in matplotlib 3.11, here; older releases vary)


def _sequence_axis(ax, seq: str, motif_start: int | None, motif_length: int) -> None:
    L = len(seq)
    ax.set_xlim(-0.5, L - 0.5)
    _bases_under(ax, seq)
    if motif_start is not None and motif_start >= 0:
        ax.axvspan(motif_start - 0.5, motif_start + motif_length - 0.5, **MOTIF_SHADE)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


SALIENCY_LABELS = {
    "sum": "sum |grad|",
    "max": "max |grad|",
    "grad_x_input": "grad x input (>= 0)",
}


def saliency_grid(path, seqs: list[str], maps: dict, motif_starts=None, motif_length: int = 0,
                  suptitle: str = "saliency", colors: dict | None = None) -> None:
    """Bar plots of saliency, one panel per (sequence, map), all in one column.

    ``maps`` is ``{panel label: (n_seqs, L) array}``; labels can be saliency
    modes or (model, mode) pairs, so two models sit one above the other.  The
    bases are written under every panel's x axis and the motif is shaded.
    """
    n, names = len(seqs), list(maps)
    L = len(seqs[0]) if seqs else 1
    rows = n * len(names)
    height = 1.25 * rows + 0.8
    fig, axes = subplots(rows, 1, figsize=(0.16 * L + 1.6, height), squeeze=False)
    # fixed margins, not a layout engine: measuring every base's tick label costs seconds
    fig.subplots_adjust(left=1.1 / (0.16 * L + 1.6), right=0.99, top=1 - 0.55 / height, bottom=0.3 / height,
                        hspace=0.75)
    for j, seq in enumerate(seqs):
        start = None if motif_starts is None else int(motif_starts[j])
        for i, name in enumerate(names):
            ax = axes[j * len(names) + i, 0]
            _bars(ax, maps[name][j], (colors or {}).get(name, "#4c72b0"))
            _sequence_axis(ax, seq, start, motif_length)
            ax.tick_params(axis="y", labelsize=6)
            ax.set_ylabel(name, fontsize=7)
            if i == 0:
                shaded = start is not None and start >= 0
                ax.set_title(f"sequence {j + 1}" + (f" (motif at {start + 1}-{start + motif_length}, shaded)"
                                                    if shaded else ""), fontsize=9, loc="left")
    fig.suptitle(suptitle, fontsize=11)
    save_figure(fig, path)


def attention_heatmap(path, attention: np.ndarray, motif_starts=None, motif_length: int = 0,
                      title: str = "attention (upsampled to sequence positions)") -> None:
    """Per-sequence attention ``(N, L)`` as an image; rows sorted by motif start, motif outlined."""
    from matplotlib.patches import Rectangle

    N, L = attention.shape
    order = np.arange(N)
    if motif_starts is not None:
        order = np.argsort(np.where(motif_starts >= 0, motif_starts, L), kind="stable")
    fig, ax = subplots(figsize=(8, min(2.0 + 0.06 * N, 10)))
    im = ax.imshow(attention[order], aspect="auto", cmap="viridis", interpolation="nearest",
                   extent=(0.5, L + 0.5, N - 0.5, -0.5))
    if motif_starts is not None:
        for r, n in enumerate(order):
            s = motif_starts[n]
            if s >= 0:
                ax.add_patch(Rectangle((s + 0.5, r - 0.5), motif_length, 1.0, fill=False,
                                       edgecolor="white", linewidth=0.6))
    ax.set_xlabel("sequence position")
    ax.set_ylabel("sequence" + (" (sorted by motif start; motif outlined in white)" if motif_starts is not None else ""))
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="attention weight")
    save_figure(fig, path)


def bar_chart(path, labels: list[str], values: list[float], ylabel: str, title: str,
              errors=None, annotate_fmt: str = "{:.4f}", colors=None) -> None:
    """A plain bar chart with the value printed on each bar."""
    fig, ax = subplots(figsize=(1.4 * len(labels) + 2.0, 3.4))
    vals = [np.nan if v is None else v for v in values]
    bars = ax.bar(labels, vals, yerr=errors, capsize=4,
                  color=colors or ["#4c72b0", "#dd8452", "#55a868", "#c44e52"][: len(labels)])
    for bar, v in zip(bars, values):
        if v is not None and np.isfinite(v):
            ax.annotate(annotate_fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.margins(y=0.15)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    save_figure(fig, path)


def ism_figure(path, seqs: list[str], deltas: np.ndarray, motif_starts=None, motif_length: int = 0) -> None:
    """For each sequence: the ISM heatmap (4 x L, delta logit) and its mean-centred logo below."""
    from matplotlib import rcParams

    from motifnet.interpret.ism import mean_centre

    n = len(seqs)
    L = deltas.shape[-1]
    vmax = float(np.abs(deltas).max()) or 1.0
    fig, axes = subplots(2 * n, 1, figsize=(0.16 * L + 1.8, 3.3 * n), squeeze=False,
                         gridspec_kw={"height_ratios": [1, 1.2] * n})
    fig.subplots_adjust(left=1.2 / (0.16 * L + 1.8), right=0.9, top=1 - 0.35 / (3.3 * n), bottom=0.25 / (3.3 * n),
                        hspace=0.55)
    for j in range(n):
        ax = axes[2 * j, 0]
        im = ax.imshow(deltas[j], cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto",
                       extent=(-0.5, L - 0.5, 3.5, -0.5))
        ax.set_yticks(range(4))
        ax.set_yticklabels(list(BASES), fontsize=7)
        _bases_under(ax, seqs[j], pad_points=rcParams["xtick.major.pad"])
        ref = [(BASES.index(ch), pos) for pos, ch in enumerate(seqs[j].upper()) if ch in BASES]
        ref_b, ref_l = (np.array(v) for v in zip(*ref)) if ref else (np.zeros(0), np.zeros(0))
        ax.scatter(ref_l, ref_b, s=3, color="black", marker="o", linewidths=0)  # the sequence's own base
        ax.set_xlim(-0.5, L - 0.5)
        ax.set_ylim(3.5, -0.5)
        ax.set_title(f"sequence {j + 1}: change in logit for each substitution (dot: the base present)",
                     fontsize=9)
        if motif_starts is not None and motif_starts[j] >= 0:
            s = motif_starts[j]
            ax.axvline(s - 0.5, color="black", lw=0.8, ls="--")
            ax.axvline(s + motif_length - 0.5, color="black", lw=0.8, ls="--")
        # one colour bar for the pair, so the heatmap and the logo keep the same x scale
        fig.colorbar(im, ax=[ax, axes[2 * j + 1, 0]], pad=0.01, fraction=0.03, label="delta logit")
        ax = axes[2 * j + 1, 0]
        draw_logo(ax, mean_centre(deltas[j]), ylabel="mean-centred\ndelta logit",
                  title="mean-centred ISM logo (letters above 0 raise the logit)")
        if motif_starts is not None and motif_starts[j] >= 0:
            s = motif_starts[j]
            ax.axvspan(s + 0.5, s + motif_length + 0.5, **MOTIF_SHADE)
    save_figure(fig, path)


def centred_logo(path, heights: np.ndarray, title: str, ylabel: str = "mean-centred delta logit") -> None:
    fig, ax = subplots(figsize=(0.45 * heights.shape[1] + 1.4, 2.6))
    draw_logo(ax, heights, ylabel=ylabel, title=title)
    save_figure(fig, path)


def accuracy_curves(path, curves: dict, target: float | None = None,
                    title: str = "test accuracy per epoch") -> None:
    """``curves``: {label: list of per-epoch accuracy lists (one per repeat)}; thin lines per repeat, bold median."""
    fig, ax = subplots(figsize=(6.5, 3.8))
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    for (label, runs), color in zip(curves.items(), colors):
        for run in runs:
            ax.plot(np.arange(1, len(run) + 1), run, color=color, alpha=0.3, lw=0.8)
        med = np.median(np.array(runs, dtype=np.float64), axis=0)
        ax.plot(np.arange(1, len(med) + 1), med, color=color, lw=2,
                label=f"{label} (median of {len(runs)})" if len(runs) > 1 else label)
    if target is not None:
        ax.axhline(target, color="gray", ls="--", lw=0.8, label=f"{target:.0%}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    save_figure(fig, path)
