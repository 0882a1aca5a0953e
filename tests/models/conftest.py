"""Shared fixtures for the model tests: one small built model per registered name, a real image."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgeseg._keras import keras
from edgeseg.models import create_model

# Non-square and divisible by 32, so an H/W mix-up fails and every model (factor 16 or 32) builds.
SMALL_SHAPE = (64, 96, 3)
# Real ISIC 2017 images from the embedded sample (always present in a checkout).
ISIC_IMAGES = Path(__file__).resolve().parents[2] / "edgeseg" / "assets" / "isic2017_sample" / "validation" / "images"


@functools.cache
def _build_once(name: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    return create_model(name, SMALL_SHAPE)


@pytest.fixture(scope="session")
def small_shape() -> tuple[int, int, int]:
    return SMALL_SHAPE


@pytest.fixture(scope="session")
def built_model() -> Callable[[str], keras.Model]:
    """``built_model(name)``: each model at ``SMALL_SHAPE``, built once per session and shared
    (read-only) by the forward, save and convert tests."""
    return _build_once


@pytest.fixture(scope="session")
def image_batch() -> np.ndarray:
    """``(1, 64, 96, 3)`` float32 in [0, 1]: a real ISIC image when the data is there."""
    h, w, _ = SMALL_SHAPE
    paths = sorted(ISIC_IMAGES.glob("*.jpg"))[:1]
    if paths:
        from PIL import Image

        with Image.open(paths[0]) as im:
            pixels = np.asarray(im.convert("RGB").resize((w, h), Image.BILINEAR), np.float32)
        return (pixels / 255.0)[None]
    return np.random.default_rng(0).random((1, h, w, 3), dtype=np.float32)
