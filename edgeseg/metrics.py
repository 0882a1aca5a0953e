"""Segmentation metrics: a pure core on per-image confusion counts, and thin Keras wrappers.

Every metric is a formula on the counts ``tp, fp, fn, tn`` of the lesion class. The formulas are
written once, against an array module (numpy here, TensorFlow in the Keras wrappers), so training
and evaluation cannot disagree.

Empty-mask policy: a ratio whose denominator is 0 scores **1.0** -- there was nothing to get
wrong. So an image with no lesion and an empty prediction scores Dice = IoU = 1, while an image
with no lesion and any predicted pixel scores Dice = IoU = 0.

Two aggregations are reported and always named:
- ``mean``: the metric per image, then the mean over images (the ISIC challenge's convention);
- ``pooled``: counts summed over the whole dataset, then the metric once.
The ISIC "thresholded Jaccard" (per-image Jaccard below 0.65 counts as 0) exists only as a mean.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

THRESHOLDED_JACCARD_CUTOFF = 0.65

# name -> formula(tp, fp, fn, tn, div) ; ``div(num, den)`` implements the empty-mask policy.
_Formula = Callable[[Any, Any, Any, Any, Callable[[Any, Any], Any]], Any]
FORMULAS: dict[str, _Formula] = {
    "dice": lambda tp, fp, fn, tn, div: div(2 * tp, 2 * tp + fp + fn),
    "iou": lambda tp, fp, fn, tn, div: div(tp, tp + fp + fn),
    "mean_iou": lambda tp, fp, fn, tn, div: (div(tp, tp + fp + fn) + div(tn, tn + fp + fn)) / 2,
    "pixel_accuracy": lambda tp, fp, fn, tn, div: div(tp + tn, tp + fp + fn + tn),
    "precision": lambda tp, fp, fn, tn, div: div(tp, tp + fp),
    "sensitivity": lambda tp, fp, fn, tn, div: div(tp, tp + fn),
    "specificity": lambda tp, fp, fn, tn, div: div(tn, tn + fp),
}
METRIC_NAMES = (*FORMULAS, "thresholded_jaccard")


def _np_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.where(den == 0, 1.0, num / np.where(den == 0, 1.0, den))


@dataclass(frozen=True)
class Counts:
    """Per-image confusion counts of the lesion class, each an int64 array of shape (N,)."""

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tn: np.ndarray

    def __len__(self) -> int:
        return len(self.tp)

    def concat(self, other: Counts) -> Counts:
        return Counts(*(np.concatenate([a, b]) for a, b in zip(self.astuple(), other.astuple())))

    def astuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (self.tp, self.fp, self.fn, self.tn)

    @classmethod
    def empty(cls) -> Counts:
        z = np.zeros(0, np.int64)
        return cls(z, z, z, z)


def confusion(pred: np.ndarray, true: np.ndarray) -> Counts:
    """Per-image counts from binary masks.

    Args:
        pred, true: (N, H, W) or (N, H, W, 1) arrays, nonzero = lesion. One image may be passed
            as (H, W).
    """
    pred = np.asarray(pred).astype(bool)
    true = np.asarray(true).astype(bool)
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} != mask shape {true.shape}")
    if pred.ndim == 2:
        pred, true = pred[None], true[None]
    axes = tuple(range(1, pred.ndim))
    tp = np.sum(pred & true, axis=axes, dtype=np.int64)
    fp = np.sum(pred & ~true, axis=axes, dtype=np.int64)
    fn = np.sum(~pred & true, axis=axes, dtype=np.int64)
    tn = np.sum(~pred & ~true, axis=axes, dtype=np.int64)
    return Counts(tp, fp, fn, tn)


def per_image(counts: Counts) -> dict[str, np.ndarray]:
    """Every metric per image: name -> float64 array of shape (N,)."""
    out = {name: np.asarray(f(*counts.astuple(), _np_div), np.float64) for name, f in FORMULAS.items()}
    out["thresholded_jaccard"] = np.where(out["iou"] < THRESHOLDED_JACCARD_CUTOFF, 0.0, out["iou"])
    return out


@dataclass(frozen=True)
class Scores:
    """Aggregated metrics. ``mean``: mean over images; ``pooled``: from dataset-summed counts."""

    n_images: int
    mean: dict[str, float]
    pooled: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_images": self.n_images,
            "aggregation": {
                "mean": "metric per image, then the mean over images",
                "pooled": "confusion counts summed over all images, then the metric",
            },
            "empty_mask_policy": "a ratio with denominator 0 scores 1.0",
            "mean": self.mean,
            "pooled": self.pooled,
        }


def summarize(counts: Counts) -> Scores:
    """Aggregate per-image counts into :class:`Scores`."""
    if len(counts) == 0:
        raise ValueError("no images to score")
    per = per_image(counts)
    mean = {k: float(np.mean(v)) for k, v in per.items()}
    sums = [np.sum(a, keepdims=True) for a in counts.astuple()]
    pooled = {k: float(f(*sums, _np_div)[0]) for k, f in FORMULAS.items()}
    return Scores(n_images=len(counts), mean=mean, pooled=pooled)


# --- Keras wrappers: accumulate counts only; the formulas above do the rest. -----------------


def keras_metrics(threshold: float = 0.5) -> list[Any]:
    """Training metrics: mean-over-images Dice and IoU at ``threshold`` (named ``dice``, ``iou``)."""
    cls = _keras_metric_class()
    return [cls("dice", threshold), cls("iou", threshold)]


@functools.cache
def _keras_metric_class() -> type:
    from edgeseg._keras import keras, tf

    def tf_div(num: Any, den: Any) -> Any:
        return tf.where(den == 0, tf.ones_like(num), tf.math.divide_no_nan(num, den))

    @keras.utils.register_keras_serializable(package="edgeseg")
    class MeanImageMetric(keras.metrics.Metric):
        """Mean over images of one :data:`FORMULAS` metric on masks thresholded at ``threshold``.

        Inputs: ``y_true`` (N, H, W, 1) in {0, 1}; ``y_pred`` (N, H, W, 1) probabilities.
        """

        def __init__(self, metric: str = "dice", threshold: float = 0.5, name: str | None = None, **kwargs: Any):
            super().__init__(name=name or metric, **kwargs)
            if metric not in FORMULAS:
                raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(FORMULAS)}")
            self.metric = metric
            self.threshold = float(threshold)
            self.total = self.add_weight(name="total", initializer="zeros", dtype=tf.float64)
            self.count = self.add_weight(name="count", initializer="zeros", dtype=tf.float64)

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
            t = tf.cast(y_true > 0.5, tf.float64)
            p = tf.cast(y_pred > self.threshold, tf.float64)
            axes = tf.range(1, tf.rank(t))
            tp = tf.reduce_sum(p * t, axes)
            fp = tf.reduce_sum(p * (1 - t), axes)
            fn = tf.reduce_sum((1 - p) * t, axes)
            tn = tf.reduce_sum((1 - p) * (1 - t), axes)
            values = FORMULAS[self.metric](tp, fp, fn, tn, tf_div)
            self.total.assign_add(tf.reduce_sum(values))
            self.count.assign_add(tf.cast(tf.size(values), tf.float64))

        def result(self) -> Any:
            return tf.cast(tf.math.divide_no_nan(self.total, self.count), tf.float32)

        def reset_state(self) -> None:
            self.total.assign(0.0)
            self.count.assign(0.0)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "metric": self.metric, "threshold": self.threshold}

    return MeanImageMetric


def __getattr__(name: str) -> Any:
    # The Keras class is built on first use so that importing the numpy core never loads TF.
    if name == "MeanImageMetric":
        return _keras_metric_class()
    raise AttributeError(name)
