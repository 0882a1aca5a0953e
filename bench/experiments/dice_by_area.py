"""Mean Dice, sensitivity and precision by lesion size, from an ``edgeseg eval`` report.

    .venv/bin/python bench/experiments/dice_by_area.py REPORT/per_image.csv

Images are grouped by the annotated lesion's share of the image (< 10%, 10-30%, >= 30%).
"""

import argparse
import csv
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("per_image_csv", type=Path, help="per_image.csv written by edgeseg eval")
    a = ap.parse_args()
    with a.per_image_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    tp, fp, fn, tn = (np.array([int(r[k]) for r in rows]) for k in ("tp", "fp", "fn", "tn"))
    area = (tp + fn) / (tp + fp + fn + tn)
    for lo, hi in ((0.0, 0.1), (0.1, 0.3), (0.3, 1.01)):
        m = (area >= lo) & (area < hi)
        cols = {k: np.array([float(r[k]) for r in rows])[m].mean() for k in ("dice", "sensitivity", "precision")}
        print(f"lesion area {lo:.0%}-{min(hi, 1):.0%}: {m.sum()} images, " + ", ".join(f"{k} {v:.3f}" for k, v in cols.items()))


if __name__ == "__main__":
    main()
