"""Screening hints: is this frame good enough to judge? Each hint has one number, one threshold
and a direction, all recorded with every frame, so a reviewer can see why a hint fired.

Hints are computed at the model's input resolution (on the resized crop and the model-size
mask), so they do not depend on the camera's resolution and every implementation gets the same
numbers from the same tensors:

- ``grey = 0.299 R + 0.587 G + 0.114 B`` (float, no rounding).
- blur: population variance of the 4-neighbour Laplacian ``g[y-1,x] + g[y+1,x] + g[y,x-1] +
  g[y,x+1] - 4 g[y,x]`` over interior pixels only (no border handling to disagree about).
- brightness: mean of ``grey``.
- lesion mask: ``prob > threshold`` at model size, no post-processing.
- border: fraction of the mask's outermost 1-pixel ring that is lesion.
- area: fraction of the mask that is lesion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgeseg.errors import ConfigError

# name -> (field of HintConfig, direction, message shown to the user)
HINTS: dict[str, tuple[str, str, str]] = {
    "blurry": ("blur_min_laplacian_var", "below", "too blurry: hold still or tap to focus"),
    "too_dark": ("dark_max_mean", "below", "too dark: add light"),
    "overexposed": ("bright_min_mean", "above", "over-exposed: reduce light or glare"),
    "touches_border": ("border_max_fraction", "above", "lesion touches the frame border: centre it"),
    "too_small": ("min_area_fraction", "below", "lesion too small: move closer"),
    "no_lesion": ("no_lesion_max_fraction", "below", "no lesion found"),
}


@dataclass(frozen=True)
class HintConfig:
    """Thresholds of the screening hints (see the module docstring for each measure).

    The defaults come from the 72 embedded ISIC 2017 sample images at 192×256: Laplacian
    variance 13–907 (5th percentile 18) and 0.7–1.9 after a Gaussian blur of sigma 3; mean grey
    91–218 (dermoscopes are evenly lit).
    """

    blur_min_laplacian_var: float = 6.0
    dark_max_mean: float = 45.0
    bright_min_mean: float = 225.0
    border_max_fraction: float = 0.02
    min_area_fraction: float = 0.03
    no_lesion_max_fraction: float = 0.001

    def __post_init__(self) -> None:
        if not 0 <= self.no_lesion_max_fraction <= self.min_area_fraction <= 1:
            raise ConfigError("need 0 <= no_lesion_max_fraction <= min_area_fraction <= 1")
        if self.dark_max_mean >= self.bright_min_mean:
            raise ConfigError("dark_max_mean must be below bright_min_mean")


def grey(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float32)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def laplacian_var(g: np.ndarray) -> float:
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    return float(lap.astype(np.float64).var())


def border_fraction(mask: np.ndarray) -> float:
    ring = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(ring.mean())


def measures(small_rgb: np.ndarray, prob: np.ndarray, threshold: float) -> dict[str, float]:
    """The numbers behind the hints, from the resized crop (h, w, 3) and probabilities (h, w)."""
    g = grey(small_rgb)
    mask = (prob > threshold).astype(np.float32)
    mean_grey = float(g.astype(np.float64).mean())
    return {"laplacian_var": laplacian_var(g), "mean_grey": mean_grey,
            "border_fraction": border_fraction(mask), "area_fraction": float(mask.mean())}


def screening_hints(m: dict[str, float], cfg: HintConfig = HintConfig()) -> list[dict[str, object]]:
    """Every hint with its value, threshold and whether it fired, in ``HINTS`` order.

    "too_small" fires only when some lesion was found; "touches_border" only when there is lesion.
    """
    value = {"blurry": m["laplacian_var"], "too_dark": m["mean_grey"], "overexposed": m["mean_grey"],
             "touches_border": m["border_fraction"], "too_small": m["area_fraction"],
             "no_lesion": m["area_fraction"]}
    found = m["area_fraction"] > cfg.no_lesion_max_fraction
    out = []
    for name, (field, direction, message) in HINTS.items():
        threshold = getattr(cfg, field)
        fired = value[name] < threshold if direction == "below" else value[name] > threshold
        if name in ("too_small", "touches_border"):
            fired = fired and found
        out.append({"name": name, "value": round(value[name], 6), "threshold": threshold,
                    "direction": direction, "fired": bool(fired), "message": message})
    return out


def fired(hints: list[dict[str, object]]) -> list[str]:
    return [str(h["name"]) for h in hints if h["fired"]]


def hint_config_dict(cfg: HintConfig = HintConfig()) -> dict[str, float]:
    return asdict(cfg)
