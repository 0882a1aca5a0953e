"""Port weights from ``gpu_torch_unet.py`` into edgeseg's Keras U-Net and save a ``.keras`` file.

    .venv/bin/python bench/experiments/port_torch_unet.py W025.npz unet_w025 144x192 OUT.keras \
        [--data ../shared/data/isic2017]

The port is checked before saving: the Keras model's probabilities on the first 8 ISIC 2017
validation images must match the PyTorch ones stored in the npz. Those ran under bf16 autocast,
so single pixels near the threshold can differ by 0.1-0.3; the check asks for a mean absolute
difference under 0.005 and thresholded masks that agree on at least 99.5% of the pixels. Then score it with
``edgeseg eval OUT.keras --data ../shared/data/isic2017 --split validation``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from edgeseg.data.pairs import find_pairs
from edgeseg.data.pipeline import load_arrays
from edgeseg.io import atomic_path
from edgeseg.models import create_model


def port(npz: Path, name: str, size: str, out: Path, data_dir: Path) -> None:
    h, w = (int(v) for v in size.split("x"))
    data = np.load(npz)
    model = create_model(name, (h, w, 3))
    for layer in model.layers:
        names = [v.name.split("/")[-1].split(":")[0] for v in layer.weights]
        if names:
            layer.set_weights([data[f"{layer.name}/{n}"] for n in names])
    pairs = find_pairs(data_dir / "validation").pairs[:8]  # sorted by stem, as there
    images, _ = load_arrays(pairs, (h, w))
    prob = model.predict(images.astype(np.float32) / 255.0, verbose=0)[..., 0]
    diff = np.abs(prob - data["val_prob"])
    agree = np.mean((prob > 0.5) == (data["val_prob"] > 0.5))
    print(f"port check on 8 validation images: mean |diff| {diff.mean():.5f}, max {diff.max():.4f}, "
          f"masks agree on {agree:.2%} of pixels")
    if diff.mean() >= 0.005 or agree < 0.995:
        sys.exit("port check failed: the Keras model does not reproduce the PyTorch outputs")
    with atomic_path(out) as tmp:
        model.save(tmp)
    print(f"saved {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz", type=Path, help="weights written by gpu_torch_unet.py")
    ap.add_argument("model", help="the edgeseg model name (e.g. unet_w025)")
    ap.add_argument("size", help="input HxW the weights were trained at (e.g. 144x192)")
    ap.add_argument("out", type=Path, help="the .keras file to write")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/isic2017"),
                    help="data folder whose validation/ the npz's check images came from (default ../shared/data/isic2017)")
    a = ap.parse_args()
    port(a.npz, a.model, a.size, a.out, a.data)


if __name__ == "__main__":
    main()
