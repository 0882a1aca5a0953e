"""Plots people would rather look at than read: training curves, confusion heatmaps, the bench's
Pareto and scaling plots."""

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


def _save(plt, fig, out_png: str | Path, dpi: int) -> Path:  # noqa: ANN001
    """Write ``fig`` atomically (a half-written PNG never replaces a good one) and free it."""
    fig.tight_layout()
    try:
        with atomic_path(out_png) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return Path(out_png)


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
    return _save(plt, fig, out_png, 100)


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
    return _save(plt, fig, out_png, 100)


def pareto_plot(rows: list[dict], out_png: str | Path) -> Path:
    """Dice against p50 latency (log x), one point per artifact/runtime/threads, size = file size;
    the Pareto front (nothing both faster and more accurate) is joined by a line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 5))
    runtimes = sorted({r["runtime"] for r in rows})
    colours = dict(zip(runtimes, plt.cm.tab10.colors))
    for r in rows:
        ax.scatter(r["p50_ms"], r["dice"], s=20 + 30 * r["size_bytes"] / 1e6, color=colours[r["runtime"]], alpha=0.7,
                   edgecolors="black", linewidths=0.5)
        ax.annotate(f"{r['artifact']} {r['threads']}t", (r["p50_ms"], r["dice"]), fontsize=6, alpha=0.8,
                    xytext=(3, 3), textcoords="offset points")
    front, best = [], -1.0
    for r in sorted(rows, key=lambda r: r["p50_ms"]):
        if r["dice"] > best:
            front.append(r)
            best = r["dice"]
    ax.plot([r["p50_ms"] for r in front], [r["dice"] for r in front], "k--", lw=0.8, label="Pareto front")
    for rt, c in colours.items():
        ax.scatter([], [], color=c, label=rt)
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency per call, ms (log)")
    ax.set_ylabel("Dice (gate split)")
    ax.set_title("Accuracy vs latency (point area ∝ file size)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _save(plt, fig, out_png, 110)


def sweep_plot(points: list[dict], out_png: str | Path) -> Path:
    """Latency against pixels (one line per width) and against width (one line per size), log-log."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for key, other, ax, xlabel in (("pixels", "width", axes[0], "input pixels"), ("width", "pixels", axes[1], "width multiplier")):
        for value in sorted({p[other] for p in points}):
            pts = sorted((p for p in points if p[other] == value), key=lambda p: p[key])
            ax.plot([p[key] for p in pts], [p["p50_ms"] for p in pts], "-o", ms=4,
                    label=f"{other} {value:g}" if other == "width" else f"{value / 1e3:.0f}k px")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel + " (log)")
        ax.set_ylabel("p50 ms (log)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return _save(plt, fig, out_png, 110)


def worst_cases(pairs: list, masks: list, dice: list[float], out_png: str | Path, n: int = 10) -> Path:
    """A sheet of the ``n`` lowest-Dice images: ground-truth outline in white, prediction in green."""
    import cv2

    from edgeseg.data.decode import read_pair
    from edgeseg.postprocess import draw_outline

    plt = _plt()
    order = np.argsort(dice)[:n]
    cols = min(5, len(order))
    rows = int(np.ceil(len(order) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, order):
        image, truth = read_pair(pairs[i])
        shown = draw_outline(image, truth, color=(255, 255, 255), thickness=2)
        shown = draw_outline(shown, cv2.resize(masks[i], truth.shape[::-1], interpolation=cv2.INTER_NEAREST), thickness=2)
        ax.imshow(shown)
        ax.set_title(f"{pairs[i].stem}  Dice {dice[i]:.3f}", fontsize=8)
    fig.suptitle("worst images: ground truth (white) vs prediction (green)", fontsize=10)
    return _save(plt, fig, out_png, 100)
