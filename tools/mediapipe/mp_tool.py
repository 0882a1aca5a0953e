"""MediaPipe side of the uint8-IO phone model. Runs in .venv-mediapipe only (``make mediapipe-venv``;
see docs/mediapipe.md), never imports edgeseg.

    .venv-mediapipe/bin/python tools/mediapipe/mp_tool.py write IN.tflite OUT.tflite --label lesion \
        --mean 0 --std 255 --activation none
    .venv-mediapipe/bin/python tools/mediapipe/mp_tool.py segment MODEL.tflite IMAGE OUT.npy

``write`` adds TFLite Model Metadata for an image segmenter with MediaPipe's maintained writer
(``mediapipe.tasks.python.metadata.metadata_writers.image_segmenter``): the normalisation
``(pixel - mean) / std``, one label per output channel, and the activation MediaPipe should apply
to the output (``none`` when the model already ends in its sigmoid). It also writes OUT.json, the
metadata as JSON. ``segment`` runs MediaPipe Tasks' ImageSegmenter (IMAGE mode) on one image and
saves its confidence mask, float32 (H, W) at the image's size, as OUT.npy.
Exit codes: 0 ok, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _atomic(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, dest)


def write(a: argparse.Namespace) -> None:
    from mediapipe.tasks.python.metadata.metadata_writers import image_segmenter, metadata_writer

    model = bytearray(Path(a.input).read_bytes())
    writer = image_segmenter.MetadataWriter.create(
        model, [a.mean], [a.std], labels=metadata_writer.Labels().add(a.label),
        activation=image_segmenter.Activation[a.activation.upper()])
    out, meta_json = writer.populate()
    _atomic(Path(a.output), bytes(out))
    _atomic(Path(a.output).with_suffix(".metadata.json"), meta_json.encode())


def segment(a: argparse.Namespace) -> None:
    import io

    import mediapipe as mp
    import numpy as np
    from mediapipe.tasks.python import BaseOptions, vision

    opts = vision.ImageSegmenterOptions(base_options=BaseOptions(model_asset_path=str(a.model)),
                                        running_mode=vision.RunningMode.IMAGE,
                                        output_confidence_masks=True, output_category_mask=False)
    with vision.ImageSegmenter.create_from_options(opts) as seg:
        result = seg.segment(mp.Image.create_from_file(str(a.image)))
    conf = np.asarray(result.confidence_masks[0].numpy_view(), np.float32)
    buf = io.BytesIO()
    np.save(buf, conf)
    _atomic(Path(a.output), buf.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write", help="add image-segmenter metadata")
    w.add_argument("input", type=Path)
    w.add_argument("output", type=Path)
    w.add_argument("--label", action="append", required=True)
    w.add_argument("--mean", type=float, required=True)
    w.add_argument("--std", type=float, required=True)
    w.add_argument("--activation", choices=("none", "sigmoid", "softmax"), required=True)
    s = sub.add_parser("segment", help="run ImageSegmenter on one image")
    s.add_argument("model", type=Path)
    s.add_argument("image", type=Path)
    s.add_argument("output", type=Path)
    a = ap.parse_args()
    for p in (a.input if a.cmd == "write" else a.model, *(() if a.cmd == "write" else (a.image,))):
        if not p.is_file():
            print(f"error: {p}: no such file", file=sys.stderr)
            return 2
    try:
        (write if a.cmd == "write" else segment)(a)
    except (ValueError, RuntimeError) as e:
        print(f"error: {a.cmd}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
