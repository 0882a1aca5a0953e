"""Calibration images for static int8: drawn only from the training split, seeded, and saved so
an int8 export can be reproduced exactly."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeseg.config import Normalisation
from edgeseg.data.decode import read_image
from edgeseg.data.images import list_images
from edgeseg.data.pairs import Pair
from edgeseg.data.pipeline import resize_image
from edgeseg.errors import ConfigError, DataError
from edgeseg.io import write_json

MIN_RECOMMENDED = 100


def select_calibration(splits: dict[str, tuple[Pair, ...]], n: int, seed: int, eval_split: str,
                       calib_dir: str | Path | None = None) -> list[Path]:
    """Pick ``n`` calibration images: a seeded sample of the train split, or the images of
    ``calib_dir``. Calibrating on the evaluation split is an error (the gate would be optimistic)."""
    eval_images = {p.image.resolve() for p in splits.get(eval_split, ())}
    if calib_dir is not None:
        images = list_images(calib_dir)
        if eval_images & {p.resolve() for p in images}:
            raise ConfigError(f"{calib_dir}: holds images of the evaluation split '{eval_split}'; calibrate on training images")
        chosen = images[:n]
    else:
        if eval_split == "train":
            raise ConfigError("calibration images come from the train split, so the gate cannot evaluate on 'train'")
        train = splits.get("train", ())
        if not train:
            raise DataError("the run has no train split to calibrate on; pass --calib-dir")
        idx = np.sort(np.random.default_rng(seed).permutation(len(train))[: min(n, len(train))])
        chosen = [train[i].image for i in idx]
    if not chosen:
        raise DataError(f"{calib_dir}: no calibration images")
    if len(chosen) < MIN_RECOMMENDED:
        warnings.warn(f"only {len(chosen)} calibration images (>= {MIN_RECOMMENDED} recommended); int8 ranges may be noisy",
                      stacklevel=2)
    return chosen


def calibration_array(images: Sequence[Path], size: tuple[int, int], normalisation: Normalisation) -> np.ndarray:
    """(N, h, w, 3) float32 normalised inputs, exactly as the runners will see them."""
    return normalisation.apply(np.stack([resize_image(read_image(p), size) for p in images]))


def save_calibration_list(path: str | Path, images: Sequence[Path], seed: int) -> Path:
    return write_json(path, {"seed": seed, "n": len(images), "images": [str(p) for p in images]})
