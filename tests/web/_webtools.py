"""Helpers for the web page tests: where Chromium and the npm packages are, when to skip, a y4m
camera video of real ISIC images, and broken copies of an artifact."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web_demo"
NODE_MODULES = WEB / "node_modules"
CHROMIUM = Path(os.environ.get("EDGESEG_CHROMIUM", "/usr/bin/chromium"))
SAMPLE_IMAGES = REPO / "edgeseg" / "assets" / "isic2017_sample"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def need(condition: bool, reason: str) -> None:
    """Skip with ``reason`` unless ``condition``; in CI (CI set) a missing tool fails instead."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI must run the web tests: run web_demo/ci_test.sh first)")
    pytest.skip(f"{reason}; run web_demo/ci_test.sh (installs Chromium and npm packages)")


def node() -> str | None:
    return shutil.which("node")


def need_node() -> str:
    exe = node()
    need(exe is not None, "node is not installed")
    return exe  # type: ignore[return-value]


def need_browser() -> None:
    need_node()
    need(CHROMIUM.is_file(), f"Chromium not found at {CHROMIUM}")
    need((NODE_MODULES / "playwright-core").is_dir() and (NODE_MODULES / "@litertjs" / "core").is_dir(),
         f"npm packages missing in {NODE_MODULES}")
    need((WEB / "vendor" / "litertjs" / "core" / "index.js").is_file(), "web_demo/vendor/ missing (npm ci runs vendor.mjs)")


def isic_frames(n_images: int = 3, size: tuple[int, int] = (480, 640), split: str = "test") -> list[np.ndarray]:
    """Real ISIC 2017 images as camera frames (RGB uint8 at ``size``)."""
    paths = sorted((SAMPLE_IMAGES / split / "images").glob("*.jpg"))[:n_images]
    frames = []
    for p in paths:
        bgr = cv2.imread(str(p))
        frames.append(cv2.cvtColor(cv2.resize(bgr, size[::-1], interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
    return frames


def write_y4m(path: Path, frames: list[np.ndarray], repeat: int = 4, fps: int = 30) -> Path:
    """A YUV4MPEG2 (4:2:0) video Chromium's fake camera can play: each frame ``repeat`` times, looped by Chromium."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
            for _ in range(repeat):
                f.write(b"FRAME\n")
                f.write(yuv.tobytes())
    return path


def copy_artifact(src_model: Path, dest: Path) -> Path:
    """A copy of an artifact folder (model, manifest, golden/); returns the copied model file."""
    shutil.copytree(src_model.parent, dest)
    return dest / src_model.name


def edit_manifest(model: Path, **changes: object) -> None:
    path = model.parent / "manifest.json"
    m = json.loads(path.read_text())
    m.update(changes)
    path.write_text(json.dumps(m, indent=2))


def rehash(model: Path) -> None:
    """Make the manifest's sha256 match the (changed) model file."""
    edit_manifest(model, sha256=hashlib.sha256(model.read_bytes()).hexdigest())


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
