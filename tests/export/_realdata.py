"""Real-image helpers shared by the export tests (imported by name: pytest puts this folder on
sys.path because tests/ is not a package)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeseg.config import Normalisation
from edgeseg.data.decode import read_image, read_mask
from edgeseg.data.pairs import find_pairs
from edgeseg.data.pipeline import resize_image, resize_mask

SIZE = (64, 96)  # non-square and divisible by 16, so an H/W mix-up fails


def load_xy(root: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 64, 96, 3) float32 normalised images and (n, 64, 96, 1) float32 {0, 1} masks."""
    pairs = find_pairs(root).pairs[:n]
    x = np.stack([Normalisation().apply(resize_image(read_image(p.image), SIZE)) for p in pairs])
    y = np.stack([resize_mask(read_mask(p.mask), SIZE) for p in pairs])[..., None]
    return x.astype(np.float32), y.astype(np.float32)


def mask_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Pooled Dice of the 0.5-thresholded probability maps (1.0 when both are empty)."""
    a, b = a > 0.5, b > 0.5
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * (a & b).sum() / total)
