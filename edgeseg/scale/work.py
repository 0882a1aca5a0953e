"""The work of one shard, the same on every engine: read, segment, post-process, score.

``process_shard(runner, items, spec)`` returns one row per item. It uses the pieces that
``edgeseg predict`` and ``edgeseg eval`` use (``resize_image``, the Runner, ``resize_prob``,
``postprocess``, ``confusion``, the screening ``measures``/``hints``), so a mask made on a Ray
worker is the mask ``edgeseg predict`` makes, byte for byte. A bad image becomes a row with its
``error`` and no mask; it never ends the shard.

Masks travel back as PNG bytes (a few KB) and the driver writes them, so workers need no write
access to the output folder and a retried shard cannot leave half its files behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from edgeseg.errors import DataError, EdgesegError, first_line
from edgeseg.postprocess import PostprocessConfig, draw_outline, postprocess, resize_prob
from edgeseg.scale.inputs import Item, is_uri, read_bytes

# Row columns, in table order. Metric columns are NaN/-1 where there is no expert mask.
COLUMNS = ("shard", "key", "path", "mask_path", "sha256", "height", "width", "area_fraction",
           "mean_confidence", "hints", "laplacian_var", "mean_grey", "border_fraction",
           "tp", "fp", "fn", "tn", "dice", "iou", "error")
PAYLOAD = ("mask_png", "overlay_jpg")  # bytes for the driver to write; not kept in the table


@dataclass(frozen=True)
class WorkSpec:
    """How each image is processed (picklable: it travels to the workers).

    Attributes:
        post: mask post-processing (threshold, morphology) as on the command line.
        overlays: also return a JPEG with the lesion outline.
        batch_size: images per model call; 1 for fixed-batch artifacts (the phone models).
        hints: the screening-hint thresholds (``HintConfig`` fields), from the artifact's manifest.
    """

    post: PostprocessConfig = PostprocessConfig()
    overlays: bool = False
    batch_size: int = 1
    hints: tuple[tuple[str, float], ...] = ()


def _decode(data: bytes, name: str, reader: Any) -> np.ndarray:
    """Decode with edgeseg's own readers (same colour and bit-depth rules as ``edgeseg predict``):
    they take a path, so remote bytes go through a private temporary file."""
    if not is_uri(name):
        return reader(name)
    fd, tmp = tempfile.mkstemp(suffix=PurePosixPath(name).suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return reader(tmp)
        except DataError as e:
            raise DataError(str(e).replace(tmp, name)) from None
    finally:
        os.unlink(tmp)


def _load(item: Item) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(RGB image, expert mask in {0,1} or None, sha256 of the image file)."""
    from edgeseg.data.decode import read_image, read_mask

    data = read_bytes(item.path)
    image = _decode(data, item.path, read_image)
    truth = None
    if item.mask:
        truth = _decode(read_bytes(item.mask), item.mask, read_mask)
        if truth.shape != image.shape[:2]:
            (h, w), (mh, mw) = image.shape[:2], truth.shape
            raise DataError(f"image {item.path} is {w}x{h} but mask {item.mask} is {mw}x{mh} (WxH)")
    return image, truth, hashlib.sha256(data).hexdigest()


def _row(shard: int, item: Item, sha: str = "", error: str | None = None) -> dict[str, Any]:
    return {"shard": shard, "key": item.key, "path": item.path, "mask_path": item.mask or "", "sha256": sha,
            "height": -1, "width": -1, "area_fraction": float("nan"), "mean_confidence": float("nan"),
            "hints": "", "laplacian_var": float("nan"), "mean_grey": float("nan"), "border_fraction": float("nan"),
            "tp": -1, "fp": -1, "fn": -1, "tn": -1, "dice": float("nan"), "iou": float("nan"),
            "error": error, "mask_png": b"", "overlay_jpg": b""}


def encode_png(mask01: np.ndarray) -> bytes:
    """0/255 single-channel PNG, the bytes ``cv2.imwrite`` gives ``edgeseg predict``'s masks."""
    ok, buf = cv2.imencode(".png", mask01 * 255)
    if not ok:
        raise EdgesegError("could not encode a mask as PNG")
    return buf.tobytes()


def process_shard(runner: Any, shard: int, items: Sequence[Item], spec: WorkSpec) -> list[dict[str, Any]]:
    """One row per item, in ``items`` order (columns :data:`COLUMNS` plus :data:`PAYLOAD`)."""
    from edgeseg.data.pipeline import resize_image
    from edgeseg.metrics import confusion, per_image
    from edgeseg.screen.hints import HintConfig, fired, measures, screening_hints

    hint_cfg = HintConfig(**dict(spec.hints))
    rows: list[dict[str, Any]] = []
    for start in range(0, len(items), spec.batch_size):
        batch, loaded = items[start:start + spec.batch_size], []
        for item in batch:
            try:
                loaded.append((item, *_load(item)))
            except EdgesegError as e:
                rows.append(_row(shard, item, error=first_line(e)))
            except Exception as e:  # noqa: BLE001  (a bad image is a row, never the end of the job)
                rows.append(_row(shard, item, error=f"{item.path}: {type(e).__name__}: {first_line(e)}"))
        if not loaded:
            continue
        smalls = [resize_image(image, runner.input_size) for _, image, _, _ in loaded]
        try:
            probs = runner(runner.normalisation.apply(np.stack(smalls)))[..., 0]
        except Exception as e:  # noqa: BLE001
            for item, *_ in loaded:
                rows.append(_row(shard, item, error=f"{item.path}: the model failed: {first_line(e)}"))
            continue
        for (item, image, truth, sha), small, prob_small in zip(loaded, smalls, probs):
            prob = resize_prob(prob_small, image.shape[:2])
            mask = postprocess(prob, spec.post)
            m = measures(small, prob_small, spec.post.threshold)
            row = _row(shard, item, sha)
            row.update(height=int(image.shape[0]), width=int(image.shape[1]), area_fraction=float(mask.mean()),
                       mean_confidence=float(prob[mask > 0].mean()) if mask.any() else 0.0,
                       hints=",".join(fired(screening_hints(m, hint_cfg))),
                       laplacian_var=m["laplacian_var"], mean_grey=m["mean_grey"], border_fraction=m["border_fraction"],
                       mask_png=encode_png(mask))
            if truth is not None:
                counts = confusion(mask, truth)
                scores = per_image(counts)
                row.update({k: int(v[0]) for k, v in zip(("tp", "fp", "fn", "tn"), counts.astuple())},
                           dice=float(scores["dice"][0]), iou=float(scores["iou"][0]))
            if spec.overlays:
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(draw_outline(image, mask), cv2.COLOR_RGB2BGR))
                row["overlay_jpg"] = buf.tobytes() if ok else b""
            rows.append(row)
    order = {item.key: i for i, item in enumerate(items)}
    return sorted(rows, key=lambda r: order[r["key"]])


def load_worker_runner(model: str | Path, files: dict[str, bytes] | None, threads: int | None) -> Any:
    """The Runner of one worker: loaded once. ``files`` (model file and manifest shipped by the
    driver) are written to a private folder first, so a cluster node needs no shared model path."""
    from edgeseg.runtime import load_runner

    if files:
        folder = Path(tempfile.mkdtemp(prefix="edgeseg-model-"))
        for name, data in files.items():
            (folder / name).write_bytes(data)
        model = folder / Path(model).name
    return load_runner(model, num_threads=threads)

