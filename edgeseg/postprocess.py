"""Probability map -> binary mask, and the outline overlay. Pure numpy/OpenCV functions, shared
by ``edgeseg predict``, ``edgeseg eval`` and (later) the camera loop."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgeseg.errors import ConfigError


@dataclass(frozen=True)
class PostprocessConfig:
    """How probabilities become a mask.

    Attributes:
        threshold: a pixel is lesion when its probability is > threshold.
        open_px, close_px: radius in pixels of a morphological opening (removes specks) and
            closing (bridges gaps); 0 disables.
        largest_component: keep only the largest connected lesion region (8-connectivity).
        fill_holes: fill background regions fully enclosed by lesion.
    """

    threshold: float = 0.5
    open_px: int = 0
    close_px: int = 0
    largest_component: bool = False
    fill_holes: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"threshold must be in (0, 1), got {self.threshold}")
        if self.open_px < 0 or self.close_px < 0:
            raise ConfigError("opening/closing radius must be >= 0")


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def keep_largest_component(mask: np.ndarray) -> np.ndarray:
    """(H, W) {0,1} uint8 -> the largest 8-connected foreground region only."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:  # background plus at most one region
        return mask.astype(np.uint8)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (labels == biggest).astype(np.uint8)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """(H, W) {0,1} uint8 -> holes (background not 4-connected to the border) filled."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    # Flood the background from a 1-px frame around the image; what stays unflooded is a hole.
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = m
    flood = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(padded, flood, (0, 0), 1)
    holes = padded[1:-1, 1:-1] == 0
    return (m | holes).astype(np.uint8)


def postprocess(prob: np.ndarray, cfg: PostprocessConfig = PostprocessConfig()) -> np.ndarray:
    """(H, W) float probabilities -> (H, W) uint8 mask in {0, 1}."""
    mask = (prob > cfg.threshold).astype(np.uint8)
    if cfg.open_px:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _disk(cfg.open_px))
    if cfg.close_px:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _disk(cfg.close_px))
    if cfg.largest_component:
        mask = keep_largest_component(mask)
    if cfg.fill_holes:
        mask = fill_holes(mask)
    return mask


def resize_prob(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) probabilities -> (H, W) at ``size = (H, W)``, bilinear (before thresholding)."""
    if prob.shape[:2] == tuple(size):
        return prob
    return cv2.resize(prob.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def draw_outline(image: np.ndarray, mask: np.ndarray, color: tuple[int, int, int] = (0, 255, 0),
                 thickness: int = 2) -> np.ndarray:
    """(H, W, 3) RGB uint8 + (H, W) mask -> a copy with the lesion outline drawn on it."""
    out = np.ascontiguousarray(image.copy())
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, color, thickness, lineType=cv2.LINE_AA)
    return out
