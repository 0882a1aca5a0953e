"""Write the OpenCV resize fixtures the JVM tests compare Resize.java against.

Run from the repository root with the project's Python (it needs cv2 and numpy only):

    .venv/bin/python android_demo/core/tools/make_resize_fixtures.py

Each case is random noise (the harshest input for rounding) resized with the rule of
edgeseg.data.pipeline.resize_image (RGB uint8) or edgeseg.postprocess.resize_prob (float32).
"""

import json
from pathlib import Path

import numpy as np

from edgeseg.data.pipeline import resize_image
from edgeseg.postprocess import resize_prob

OUT = Path(__file__).resolve().parents[1] / "src/test/resources/resize"

# name, kind, (sw, sh), (dw, dh)
CASES = [
    ("area_general", "rgb", (37, 29), (16, 12)),
    ("area_general_4_3", "rgb", (64, 48), (48, 36)),
    ("area_fast_x4", "rgb", (64, 48), (16, 12)),
    ("area_fast_x2", "rgb", (32, 24), (16, 12)),
    ("area_same_width", "rgb", (20, 31), (20, 15)),
    ("linear_up_rgb", "rgb", (13, 10), (40, 31)),
    ("linear_same_height_rgb", "rgb", (23, 12), (15, 12)),
    ("linear_up_prob", "prob", (12, 9), (37, 29)),
    ("linear_up_prob_4_3", "prob", (48, 36), (64, 48)),
    ("linear_down_prob", "prob", (40, 30), (17, 13)),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    index = []
    for name, kind, (sw, sh), (dw, dh) in CASES:
        if kind == "rgb":
            src = rng.integers(0, 256, (sh, sw, 3), dtype=np.uint8)
            dst = resize_image(src, (dh, dw))
        else:
            src = rng.random((sh, sw), dtype=np.float32)
            dst = resize_prob(src, (dh, dw)).astype("<f4")
            src = src.astype("<f4")
        (OUT / f"{name}.src").write_bytes(src.tobytes())
        (OUT / f"{name}.dst").write_bytes(np.ascontiguousarray(dst).tobytes())
        index.append({"name": name, "kind": kind, "sw": sw, "sh": sh, "dw": dw, "dh": dh})
    (OUT / "cases.json").write_text(json.dumps(index, indent=1) + "\n")
    print(f"wrote {len(index)} cases to {OUT}")


if __name__ == "__main__":
    main()
