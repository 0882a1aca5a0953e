"""Set the post-processing of every artifact of a shipped export (manifest ``postprocess``) and
rewrite each golden mask to match, from the stored golden probabilities (no model is re-run, so
golden input/output stay byte-identical). The choice and its figures are in the model card.

    .venv/bin/python tools/ship_postprocess.py export/unet_w025 --largest --fill-holes
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np

from edgeseg.artifact import MANIFEST, sha256_file
from edgeseg.export.golden import read_golden
from edgeseg.io import atomic_path, write_json
from edgeseg.postprocess import PostprocessConfig
from edgeseg.screen.frame import CropBox, frame_mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", type=Path)
    ap.add_argument("--largest", action="store_true")
    ap.add_argument("--fill-holes", action="store_true")
    a = ap.parse_args()
    for mf in sorted(a.export.glob(f"*/{MANIFEST}")):
        d = json.loads(mf.read_text())
        post = dataclasses.replace(PostprocessConfig(**(d.get("postprocess") or {})),
                                   largest_component=a.largest, fill_holes=a.fill_holes)
        d["postprocess"] = dataclasses.asdict(post)
        write_json(mf, d)
        g = mf.parent / "golden"
        if (g / "golden.json").is_file():
            rec = read_golden(mf.parent)
            mask, _ = frame_mask(rec["output_array"][0, ..., 0], CropBox(**rec["crop_box"]), rec["image_array"].shape[:2], post)
            with atomic_path(g / "mask.png") as tmp:
                cv2.imwrite(str(tmp), mask * 255)
            raw = json.loads((g / "golden.json").read_text())
            raw["postprocess"] = dataclasses.asdict(post)
            raw["mask"]["area_fraction"] = float(mask.mean())
            raw["sha256"]["mask.png"] = sha256_file(g / "mask.png")
            write_json(g / "golden.json", raw)
        print(f"{mf.parent.name}: postprocess {d['postprocess']}")


if __name__ == "__main__":
    main()
