"""A short real video for the camera tests: ISIC images with a slow pan and zoom."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgeseg.data.decode import read_image


def pan_zoom_frames(images: list[Path], n: int = 24, size: tuple[int, int] = (240, 320)) -> list[np.ndarray]:
    """``n`` RGB frames of ``size``: each image in turn, zooming 1.0 -> 1.25 while panning sideways."""
    h, w = size
    frames = []
    for i in range(n):
        image = cv2.resize(read_image(images[i * len(images) // n]), (w, h), interpolation=cv2.INTER_AREA)
        t = i / max(n - 1, 1)
        zoom, dx, dy = 1.0 + 0.25 * t, 0.06 * w * (t - 0.5), 0.03 * h * (t - 0.5)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
        m[:, 2] += (dx, dy)
        frames.append(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    return frames


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
