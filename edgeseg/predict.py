"""Prediction: ``predict(runner, images, out_dir)`` writes binary masks and outline overlays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edgeseg.data.decode import read_image
from edgeseg.data.pipeline import resize_image
from edgeseg.errors import RunError
from edgeseg.io import atomic_dir, write_image, write_json
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


def predict(runner: Runner, images: Sequence[Path], out_dir: str | Path,
            post: PostprocessConfig = PostprocessConfig()) -> list[Prediction]:
    """Segment each image; write ``<stem>_mask.png`` (0/255), ``<stem>_overlay.jpg`` and
    ``predictions.json`` into ``out_dir``, which must not already hold files.

    The folder appears whole when every image is done (it is written under a hidden temporary
    name first), so a failure part-way leaves nothing to clean up and the same command can rerun.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} is a file; OUT_DIR must be a new or empty folder")
    if out.exists() and any(out.iterdir()):
        raise RunError(f"{out} is not empty; choose a new output folder (nothing is overwritten)")
    results = []
    with atomic_dir(out) as tmp:
        for path in track(images, f"predicting with {runner.name}", total=len(images)):
            image = read_image(path)
            x = runner.normalisation.apply(resize_image(image, runner.input_size)[None])
            prob = resize_prob(runner(x)[0, ..., 0], image.shape[:2])
            mask = postprocess(prob, post)
            mask_name, overlay_name = f"{path.stem}_mask.png", f"{path.stem}_overlay.jpg"
            write_image(tmp / mask_name, mask * 255)
            write_image(tmp / overlay_name, draw_outline(image, mask))
            area = float(mask.mean())
            conf = float(prob[mask > 0].mean()) if mask.any() else 0.0
            results.append(Prediction(str(path), mask_name, overlay_name, area, conf))
        write_json(tmp / "predictions.json", {"model": str(runner.path), "postprocess": post.__dict__,
                                              "predictions": [r.__dict__ for r in results]})
    return results

