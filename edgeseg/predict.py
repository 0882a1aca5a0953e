"""Prediction: ``predict(runner, images, out_dir)`` writes binary masks and outline overlays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgeseg.data.decode import IMAGE_SUFFIXES, read_image
from edgeseg.data.pipeline import resize_image
from edgeseg.errors import DataError, RunError
from edgeseg.io import atomic_path, write_json
from edgeseg.postprocess import PostprocessConfig, draw_outline, postprocess, resize_prob
from edgeseg.progress import track
from edgeseg.runtime.base import Runner


@dataclass(frozen=True)
class Prediction:
    """One image's result: the mask/overlay files, lesion area fraction and mean confidence."""

    image: str
    mask: str
    overlay: str
    area_fraction: float
    mean_confidence: float


def list_images(path: str | Path) -> list[Path]:
    """Image files of a folder (sorted; an ``images/`` sub-folder is used if present), or one file."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    if (path / "images").is_dir():
        path = path / "images"
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{path}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def _write_image(path: Path, rgb_or_gray: np.ndarray) -> None:
    arr = rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2BGR)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), arr):
            raise RunError(f"{path}: could not write image")


def predict(runner: Runner, images: Sequence[Path], out_dir: str | Path,
            post: PostprocessConfig = PostprocessConfig()) -> list[Prediction]:
    """Segment each image; write ``<stem>_mask.png`` (0/255), ``<stem>_overlay.jpg`` and
    ``predictions.json`` into ``out_dir``, which must not already hold files."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise RunError(f"{out} is not empty; choose a new output folder (nothing is overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for path in track(images, f"predicting with {runner.name}", total=len(images)):
        image = read_image(path)
        x = runner.normalisation.apply(resize_image(image, runner.input_size)[None])
        prob = resize_prob(runner(x)[0, ..., 0], image.shape[:2])
        mask = postprocess(prob, post)
        mask_path, overlay_path = out / f"{path.stem}_mask.png", out / f"{path.stem}_overlay.jpg"
        _write_image(mask_path, mask * 255)
        _write_image(overlay_path, draw_outline(image, mask))
        area = float(mask.mean())
        conf = float(prob[mask > 0].mean()) if mask.any() else 0.0
        results.append(Prediction(str(path), mask_path.name, overlay_path.name, area, conf))
    write_json(out / "predictions.json", {"model": str(runner.path), "postprocess": post.__dict__,
                                          "predictions": [r.__dict__ for r in results]})
    return results
