"""The frame contract shared by ``edgeseg camera``, the Android app and the web page.

A camera frame rarely has the model's aspect ratio, and stretching it would distort the lesion.
So a frame is centre-cropped to the model's aspect ratio, resized to the model's input size and
normalised; the probability map comes back to the crop's size (bilinear, before thresholding),
is post-processed there and pasted into an all-background mask of the full frame.

Every step is written out here in plain terms so other languages can reproduce it exactly:

- ``crop_box``: integer arithmetic only (see its docstring).
- resize down: OpenCV ``INTER_AREA`` (box average with fractional edge weights); up: ``INTER_LINEAR``.
- normalise: ``x = pixel * scale + offset`` per channel, float32, RGB order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeseg.config import Normalisation
from edgeseg.data.pipeline import resize_image
from edgeseg.errors import DataError
from edgeseg.postprocess import PostprocessConfig, postprocess, resize_prob


@dataclass(frozen=True)
class CropBox:
    """The region of the frame the model sees: rows ``y:y+h``, columns ``x:x+w``."""

    y: int
    x: int
    h: int
    w: int


def crop_box(frame_hw: tuple[int, int], model_hw: tuple[int, int]) -> CropBox:
    """Largest centred box of the frame with the model's aspect ratio.

    With frame (H, W) and model (h, w): if ``W * h > H * w`` the frame is too wide, so
    ``cw = H * w // h`` and ``ch = H``; otherwise ``ch = W * h // w`` and ``cw = W``. The offsets
    are ``(H - ch) // 2`` and ``(W - cw) // 2``.
    """
    H, W = frame_hw
    h, w = model_hw
    if W * h > H * w:
        ch, cw = H, H * w // h
    else:
        ch, cw = W * h // w, W
    return CropBox((H - ch) // 2, (W - cw) // 2, ch, cw)


def check_frame(frame: np.ndarray) -> None:
    """Raise DataError unless ``frame`` is an (H, W, 3) uint8 image of at least 8×8."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8 or min(frame.shape[:2]) < 8:
        raise DataError(f"unexpected frame: shape {frame.shape}, dtype {frame.dtype} "
                        "(expected H×W×3 uint8, at least 8×8)")


def preprocess_frame(frame: np.ndarray, model_hw: tuple[int, int],
                     norm: Normalisation) -> tuple[np.ndarray, np.ndarray, CropBox]:
    """RGB frame -> (model input (1, h, w, 3) float32, resized crop (h, w, 3) uint8, crop box)."""
    check_frame(frame)
    box = crop_box(frame.shape[:2], model_hw)
    small = resize_image(frame[box.y:box.y + box.h, box.x:box.x + box.w], model_hw)
    return norm.apply(small[None]).astype(np.float32), small, box


def frame_mask(prob: np.ndarray, box: CropBox, frame_hw: tuple[int, int],
               post: PostprocessConfig = PostprocessConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Model probabilities (h, w) -> (mask (H, W) {0,1} uint8 of the full frame, crop-size probabilities)."""
    prob_crop = resize_prob(prob, (box.h, box.w))
    mask = np.zeros(frame_hw, np.uint8)
    mask[box.y:box.y + box.h, box.x:box.x + box.w] = postprocess(prob_crop, post)
    return mask, prob_crop
