"""Golden vectors: one real image pushed through an artifact as a camera frame (the
``edgeseg.screen.frame`` contract), saved beside it, so every other implementation of the
pre/post-processing and hints (the camera loop, the Android app, the web page) can check itself
against the Python reference and cannot drift.

Files (raw little-endian arrays, readable from any language without a numpy parser)::

    golden/image.png        the frame, RGB, at its own resolution
    golden/input.f32        the preprocessed input tensor, float32 (1, h, w, 3)
    golden/output.f32       the artifact's probabilities, float32 (1, h, w, 1)
    golden/mask.png         the final mask of the full frame, 0/255
    golden/golden.json      shapes, dtypes, crop box, post-processing, hint measures and hints,
                            the source image and the sha256 of each file
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeseg.data.decode import read_image
from edgeseg.artifact import sha256_file
from edgeseg.io import atomic_path, write_json
from edgeseg.postprocess import PostprocessConfig
from edgeseg.runtime.base import Runner
from edgeseg.screen.frame import frame_mask, preprocess_frame
from edgeseg.screen.hints import HintConfig, measures, screening_hints


def write_golden(folder: str | Path, runner: Runner, image_path: str | Path,
                 post: PostprocessConfig = PostprocessConfig(),
                 hint_cfg: HintConfig = HintConfig()) -> dict[str, Any]:
    """Run ``runner`` on ``image_path`` as a camera frame and write the golden files into ``folder/golden``."""
    out = Path(folder) / "golden"
    out.mkdir(parents=True, exist_ok=True)
    image = read_image(image_path)
    x, small, box = preprocess_frame(image, runner.input_size, runner.normalisation)
    x = x.astype("<f4")
    y = runner(x).astype("<f4")
    mask, _ = frame_mask(y[0, ..., 0], box, image.shape[:2], post)
    m = measures(small, y[0, ..., 0], post.threshold)
    _png(out / "image.png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    _png(out / "mask.png", mask * 255)
    for name, arr in (("input.f32", x), ("output.f32", y)):
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(np.ascontiguousarray(arr).tobytes())
    record = {
        "source_image": str(image_path),
        "image": {"file": "image.png", "shape": list(image.shape), "dtype": "uint8"},
        "input": {"file": "input.f32", "shape": list(x.shape), "dtype": "float32", "byte_order": "little"},
        "output": {"file": "output.f32", "shape": list(y.shape), "dtype": "float32", "byte_order": "little"},
        "mask": {"file": "mask.png", "shape": list(mask.shape), "values": [0, 255],
                 "area_fraction": float(mask.mean())},
        "crop_box": box.__dict__,
        "postprocess": post.__dict__,
        "hint_config": hint_cfg.__dict__,
        "measures": m,
        "hints": screening_hints(m, hint_cfg),
        "sha256": {f: sha256_file(out / f) for f in ("image.png", "input.f32", "output.f32", "mask.png")},
    }
    write_json(out / "golden.json", record)
    return record


def read_golden(folder: str | Path) -> dict[str, Any]:
    """The golden record with its arrays loaded: ``input`` (1,h,w,3) and ``output`` (1,h,w,1) float32,
    ``image`` (H,W,3) and ``mask`` (H,W) uint8."""
    import json

    g = Path(folder) / "golden"
    record = json.loads((g / "golden.json").read_text())
    for key in ("input", "output"):
        spec = record[key]
        record[key + "_array"] = np.fromfile(g / spec["file"], "<f4").reshape(spec["shape"])
    record["image_array"] = cv2.cvtColor(cv2.imread(str(g / "image.png")), cv2.COLOR_BGR2RGB)
    record["mask_array"] = (cv2.imread(str(g / "mask.png"), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8)
    return record


def _png(path: Path, arr: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp), arr)
