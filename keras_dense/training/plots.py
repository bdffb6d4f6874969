"""Training curves and confusion matrices as PNG files (matplotlib, Agg backend).

Example:
    >>> plot_curves(history_rows, "runs/bc100/curves.png")
    >>> plot_confusion(matrix, class_names, "runs/bc100/confusion.png")
"""

import numpy as np


def _figure(figsize):
    """A figure drawn by the Agg canvas, without pyplot, so the user's backend is untouched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    FigureCanvasAgg(figure)
    return figure


def plot_curves(rows, path):
    """Loss and accuracy, train and test, by epoch.

    Args:
        rows: history rows (dicts with `epoch`, `loss`, `accuracy`,
            `val_loss`, `val_accuracy`; None in epochs without a test pass).
        path: the PNG file to write.
    """
    epochs = [row["epoch"] for row in rows]
    figure = _figure((10, 4))
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    for axis, key, title in ((loss_axis, "loss", "loss"), (accuracy_axis, "accuracy", "accuracy")):
        axis.plot(epochs, [row[key] for row in rows], marker=".", label="train")
        tested = [row for row in rows if row.get(f"val_{key}") is not None]
        axis.plot(
            [row["epoch"] for row in tested],
            [row[f"val_{key}"] for row in tested],
            marker=".",
            label="test",
        )
        axis.set_xlabel("epoch")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_confusion(matrix, class_names, path):
    """The confusion matrix (rows: true class, columns: predicted), row-normalised.

    Args:
        matrix: `(classes, classes)` integer counts.
        class_names: one name per class.
        path: the PNG file to write.
    """
    matrix = np.asarray(matrix)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure = _figure((7, 6))
    axis = figure.subplots()
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            axis.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
