"""Issue 15's initialisation ablation: validation Dice per epoch of two or more training runs
(``history.csv``) on one plot, plus each run's best epoch, as PNG + JSON.

    python bench/experiments/init_ablation.py "ImageNet init=RUN_A" "random init=RUN_B" --out DIR
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="LABEL=RUN_DIR (a training run with history.csv)")
    ap.add_argument("--out", type=Path, required=True, help="folder for ablation_curves.png and .json")
    args = ap.parse_args()

    import matplotlib

    from edgeseg.io import atomic_path, write_json

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary, freeze = {}, set()
    fig, ax = plt.subplots(figsize=(7, 4))
    for item in args.runs:
        label, _, run = item.partition("=")
        if not run:
            ap.error(f"{item!r}: expected LABEL=RUN_DIR")
        history = Path(run) / "history.csv"
        if not history.is_file():
            ap.error(f"{history}: no such file (is {run} a training run?)")
        rows = list(csv.DictReader(history.open()))
        freeze.add(json.loads((Path(run) / "config.json").read_text())["train"].get("freeze_encoder_epochs", 0))
        epochs = [int(r["epoch"]) + 1 for r in rows]
        val = [float(r["val_dice"]) for r in rows]
        best = max(range(len(val)), key=val.__getitem__)
        summary[label] = {"run": str(Path(run).resolve()), "epochs": len(rows), "best_epoch": epochs[best],
                          "best_val_dice": val[best], "val_dice": val,
                          "train_loss": [float(r["loss"]) for r in rows]}
        ax.plot(epochs, val, marker="o", ms=3, label=f"{label} (best {val[best]:.4f} @ {epochs[best]})")
    for f in freeze - {0}:
        ax.axvline(f + 0.5, ls="--", color="gray", lw=1)
        ax.text(f + 0.6, 0.52, "encoder unfrozen", color="gray", fontsize=8)
    ax.set(xlabel="epoch", ylabel="validation Dice (Keras metric, 150 images)", ylim=(0.5, 0.9),
           title="mnv2_unet: ImageNet vs random initialisation, same 24-epoch budget")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    args.out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with atomic_path(args.out / "ablation_curves.png") as tmp:
        fig.savefig(tmp, dpi=110)
    write_json(args.out / "ablation_curves.json", summary)
    for label, s in summary.items():
        print(f"{label:20s} best validation Dice {s['best_val_dice']:.4f} at epoch {s['best_epoch']} of {s['epochs']}")


if __name__ == "__main__":
    main()
