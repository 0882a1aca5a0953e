"""Plots people would rather look at than read: training curves and confusion heatmaps."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from edgeseg.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history_csv: str | Path, out_png: str | Path) -> Path | None:
    """Loss, Dice and IoU (train and validation) against epoch, from Keras' CSV log."""
    rows = list(csv.DictReader(open(history_csv)))
    if not rows:
        return None
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key in zip(axes, ("loss", "dice", "iou")):
        for prefix, style in (("", "-o"), ("val_", "-s")):
            if prefix + key in rows[0]:
                ax.plot(epochs, [float(r[prefix + key]) for r in rows], style, ms=3, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return Path(out_png)


def plot_confusion(tp: int, fp: int, fn: int, tn: int, out_png: str | Path, title: str = "") -> Path:
    """2x2 pixel confusion heatmap, each cell as a count and a fraction of its true-class row."""
    plt = _plt()
    m = np.array([[tn, fp], [fn, tp]], np.float64)
    rows = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.4, 3.8))
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    labels = ["background", "lesion"]
    ax.set_xticks([0, 1], labels)
    ax.set_yticks([0, 1], labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{rows[i, j]:.3f}\n{int(m[i, j]):,} px", ha="center", va="center",
                    color="white" if rows[i, j] > 0.5 else "black")
    ax.set_title(title or "pixel confusion (row-normalised)")
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return Path(out_png)
