"""Validation Dice of one trained run's weights rebuilt at other input sizes.

    .venv/bin/python bench/experiments/input_scale.py RUN 144x192 160x208 128x176 192x256

The U-Nets are fully convolutional, so the same weights run at any size divisible by 16; this
shows how much a model depends on the scale it was trained at.
"""

import argparse
import os
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"

from edgeseg.data.splits import load_splits  # noqa: E402
from edgeseg.evaluate import evaluate  # noqa: E402
from edgeseg.models import rebuild_at  # noqa: E402
from edgeseg.run import RunDir  # noqa: E402
from edgeseg.runtime.keras_runner import KerasRunner, load_keras_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a training run directory (its best checkpoint)")
    ap.add_argument("sizes", nargs="+", help="input sizes HxW, each divisible by 16 (e.g. 144x192)")
    a = ap.parse_args()
    run = RunDir.open(a.run)
    cfg = run.config()
    model = load_keras_model(run.best_model())
    validation = load_splits(run.path / "splits.json")["validation"]
    for size in a.sizes:
        h, w = (int(v) for v in size.split("x"))
        runner = KerasRunner(rebuild_at(model, cfg.model, (h, w)), Path(size), cfg.data.normalisation)
        s = evaluate(runner, validation).scores.mean
        print(f"{size}: Dice {s['dice']:.4f}  Jaccard {s['iou']:.4f}  thresholded Jaccard {s['thresholded_jaccard']:.4f}",
              flush=True)


if __name__ == "__main__":
    main()
