"""Training figures: loss and accuracy curves, the confusion matrix (PNG, Agg).

matplotlib is imported inside the functions, not at module level, so the
command line starts fast; figures are drawn on an explicit Agg canvas (no
pyplot, no global figure state, no display needed) and written atomically.
"""

from __future__ import annotations

from motifnet._atomic import atomic_path

DPI = 110


def _figure(width=5.0, height=3.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.15, right=0.96, bottom=0.15, top=0.9)
    return fig, fig.add_subplot()


def _epoch_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(fig, path) -> None:
    # fixed margins, not tight_layout: a layout pass costs a whole extra draw
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")


def plot_loss(history: list[dict], path) -> None:
    """Mean training loss per epoch (``fit``'s history rows) as a PNG."""
    fig, ax = _figure()
    epochs = [row["epoch"] for row in history]
    ax.plot(epochs, [row["loss"] for row in history], marker="o", markersize=3, label="train")
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
    test = [(row["epoch"], row["test_accuracy"]) for row in history
            if row.get("test_accuracy") is not None]
    if test:
        ax.plot(*zip(*test), marker="o", markersize=3, label="test")
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
