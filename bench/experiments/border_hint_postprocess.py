"""How post-processing changes the "lesion touches the border" hint, on a labelled split.

For every image the model's probability map (at its input size, as the camera sees it) gives
the hint's mask in three ways: the raw threshold (the hint's contract today), the largest
component, and the largest component with holes filled. The ground truth, resized to the same
size (``resize_mask``: area fraction >= 0.5), says whether the lesion really touches the border (same ring, same
``border_max_fraction`` from the manifest). A false alarm is a fired hint whose ground truth
does not touch the border; a miss is the reverse.

    .venv/bin/python bench/experiments/border_hint_postprocess.py MODEL --data ../shared/data/isic2017 \
        --split validation --out bench/experiments/results/border_hint_validation.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edgeseg.data.decode import read_pair
from edgeseg.data.pairs import find_splits
from edgeseg.data.pipeline import resize_image, resize_mask
from edgeseg.io import write_json
from edgeseg.postprocess import PostprocessConfig, postprocess
from edgeseg.runtime import load_runner
from edgeseg.screen.hints import border_fraction
from edgeseg.screen.process import screening_config

VARIANTS = {"raw": PostprocessConfig(), "largest": PostprocessConfig(largest_component=True),
            "largest+fill": PostprocessConfig(largest_component=True, fill_holes=True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--split", default="validation")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    runner = load_runner(a.model)
    _, hint_cfg = screening_config(runner)
    limit = hint_cfg.border_max_fraction
    pairs = find_splits(a.data)[a.split].pairs
    counts = {k: {"fired": 0, "false_alarms": 0, "misses": 0} for k in VARIANTS}
    truth_touching = 0
    for p in pairs:
        img, gt = read_pair(p)
        x = runner.normalisation.apply(resize_image(img, runner.input_size)[None]).astype(np.float32)
        prob = runner(x)[0, ..., 0]
        truth = border_fraction(resize_mask(gt, runner.input_size).astype(np.float32)) > limit
        truth_touching += truth
        for name, post in VARIANTS.items():
            m = postprocess(prob, post).astype(np.float32)
            fired = m.mean() > hint_cfg.no_lesion_max_fraction and border_fraction(m) > limit
            counts[name]["fired"] += fired
            counts[name]["false_alarms"] += fired and not truth
            counts[name]["misses"] += truth and not fired
    result = {"model": str(a.model), "data": str(a.data), "split": a.split, "n_images": len(pairs),
              "border_max_fraction": limit, "truth_touches_border": int(truth_touching),
              "hint": {k: {kk: int(vv) for kk, vv in v.items()} for k, v in counts.items()}}
    print(json.dumps(result, indent=1))
    if a.out:
        write_json(a.out, result)


if __name__ == "__main__":
    main()
