"""Evaluation: ``evaluate(runner, pairs) -> EvalResult``, scored at each mask's own resolution.

The runner sees the image resized to its input size; its probabilities are resized back to the
ground-truth mask's size before thresholding, so scores do not depend on the model's resolution.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.data.decode import read_pair
from edgeseg.data.pairs import Pair
from edgeseg.data.pipeline import resize_image
from edgeseg.errors import DataError
from edgeseg.io import atomic_dir, next_free_path, write_json, write_text
from edgeseg.metrics import METRIC_NAMES, Counts, Scores, confusion, per_image, summarize
from edgeseg.postprocess import PostprocessConfig, postprocess, resize_prob
from edgeseg.progress import track
from edgeseg.runtime.base import Runner


@dataclass(frozen=True)
class EvalResult:
    """Per-image counts (in pair order) and their aggregate :class:`Scores`."""

    stems: tuple[str, ...]
    counts: Counts
    scores: Scores
    post: PostprocessConfig
    masks: tuple[np.ndarray, ...] | None = None  # (H, W) uint8 predicted masks, with keep_masks


@dataclass(frozen=True)
class EvalData:
    """The pairs an evaluation scores: one split, and where it was found (for the report)."""

    pairs: tuple[Pair, ...]
    split: str  # the split scored; "all" for data without splits
    source: str  # the run's split record or the data folder


def eval_data(model: str | Path, data: str | Path | None = None, split: str = "validation",
              layout: str = "auto", limit: int | None = None) -> EvalData:
    """The pairs to score a run or model file on.

    Without ``data``, a run's own split record (``RUN/splits.json``); with it, the folder's splits
    as :func:`edgeseg.data.pairs.find_splits` finds them in ``layout`` (skipped files are noted on
    stderr). Data without splits is scored whole (split ``all``) whatever ``split`` says.
    ``limit`` keeps the first pairs of the split.

    Raises:
        DataError: ``model`` is a model file and no ``data`` is given; the data has no ``split``.
    """
    from edgeseg.data.pairs import find_splits
    from edgeseg.data.splits import load_splits, note_skipped

    model = Path(model)
    if data is None:
        if not model.is_dir():
            raise DataError(f"{model} is a model file: pass --data FOLDER to evaluate it")
        splits = dict(load_splits(model / "splits.json"))
        source = f"{model}/splits.json"
    else:
        scans = find_splits(data, layout)
        note_skipped(scans)
        splits = {k: v.pairs for k, v in scans.items()}
        source = str(data)
    if "all" in splits:
        split = "all"
    elif split not in splits:
        raise DataError(f"{source}: no split {split!r}; it has {', '.join(splits)}")
    pairs = splits[split][:limit] if limit else splits[split]
    return EvalData(tuple(pairs), split, source)


def eval_folder(model: str | Path, split: str, tta: str = "none") -> Path:
    """Where a report goes by default, numbered if taken: ``RUN/eval/SPLIT`` (``SPLIT-tta_hv``
    with test-time augmentation) for a run, ``runs/eval/MODEL`` for a model file."""
    model = Path(model)
    if model.is_dir():
        return next_free_path(model / "eval" / (split if tta == "none" else f"{split}-tta_{tta}"))
    return next_free_path(Path("runs") / "eval" / model.stem)


def evaluate(runner: Runner, pairs: Sequence[Pair], *, batch_size: int = 8,
             post: PostprocessConfig = PostprocessConfig(), keep_masks: bool = False) -> EvalResult:
    """Score ``runner`` on ``pairs``; ``keep_masks`` also returns the predicted masks (for
    comparing two models' masks, as the export gate does)."""
    if not pairs:
        raise DataError("no pairs to evaluate")
    counts = Counts.empty()
    kept: list[np.ndarray] = []
    batches = [pairs[i : i + batch_size] for i in range(0, len(pairs), batch_size)]
    for batch in track(batches, f"evaluating {runner.name}", total=len(batches)):
        decoded = [read_pair(p) for p in batch]
        x = runner.normalisation.apply(np.stack([resize_image(img, runner.input_size) for img, _ in decoded]))
        probs = runner(x)[..., 0]
        for prob, (_, mask) in zip(probs, decoded):
            pred = postprocess(resize_prob(prob, mask.shape), post)
            counts = counts.concat(confusion(pred, mask))
            if keep_masks:
                kept.append(pred)
    return EvalResult(tuple(p.stem for p in pairs), counts, summarize(counts), post,
                      tuple(kept) if keep_masks else None)


def format_table(scores: Scores) -> str:
    """A plain-text table of every metric, mean over images and pooled."""
    lines = [f"{'metric':<22}{'mean/image':>12}{'pooled':>10}"]
    for name in METRIC_NAMES:
        pooled = scores.pooled.get(name)
        lines.append(f"{name:<22}{scores.mean[name]:>12.4f}{(f'{pooled:.4f}' if pooled is not None else '-'):>10}")
    lines.append(f"({scores.n_images} images; empty-mask policy: 0/0 scores 1.0)")
    return "\n".join(lines)


def write_report(result: EvalResult, out_dir: str | Path, meta: dict[str, Any] | None = None,
                 extra: Callable[[Path], Any] | None = None) -> dict[str, Path]:
    """Write metrics.json, per_image.csv and confusion.png into the new folder ``out_dir``.

    The folder appears whole or not at all (it is written under a hidden name first); ``extra``
    is called with that temporary folder to add more files (e.g. ``worst.png``) before it does.
    Returns the final paths.
    """
    from edgeseg.plots import plot_confusion

    out = Path(out_dir)
    per = per_image(result.counts)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["stem", "tp", "fp", "fn", "tn", *METRIC_NAMES])
    for i, stem in enumerate(result.stems):
        c = [int(a[i]) for a in result.counts.astuple()]
        w.writerow([stem, *c, *(f"{per[m][i]:.6f}" for m in METRIC_NAMES)])
    totals = [int(a.sum()) for a in result.counts.astuple()]
    with atomic_dir(out) as tmp:
        write_json(tmp / "metrics.json", {
            **result.scores.to_dict(), "threshold": result.post.threshold,
            "postprocess": result.post.__dict__, "pixel_confusion": dict(zip(("tp", "fp", "fn", "tn"), totals)),
            **(meta or {}),
        })
        write_text(tmp / "per_image.csv", buf.getvalue())
        plot_confusion(*totals, tmp / "confusion.png")
        if extra is not None:
            extra(tmp)
    return {"metrics": out / "metrics.json", "per_image": out / "per_image.csv", "confusion": out / "confusion.png"}
