"""Shared fixtures for the data tests: the real data folder, and tiny layouts built from it.

The layouts are copies or conversions of a few real ISIC 2017 pairs (256x192 JPEG + 0/255 PNG),
so the code under test sees real dermoscopy files in each folder convention.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# tests/data/conftest.py -> parents[2] is the repo root; the data lives beside it in ../shared/data.
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

# The ISIC ids given to the real ISIC 2017 pairs in the synthetic-layout fixtures.
ISIC_IDS = ("ISIC_0000000", "ISIC_0000001", "ISIC_0000002", "ISIC_0000003")
PH2_IDS = ("IMD002", "IMD003", "IMD004", "IMD006")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder ``../shared/data`` (ISIC 2017 and ISIC 2018); skips if absent."""
    if not (SHARED_DATA / "isic2017").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (expected ../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_pairs(shared_data: Path) -> list[tuple[Path, Path]]:
    """The first 4 ISIC 2017 training pairs: ``(image .jpg, mask .png)`` paths, 256x192."""
    images = sorted((shared_data / "isic2017" / "train" / "images").glob("*.jpg"))[:4]
    pairs = [(p, shared_data / "isic2017" / "train" / "masks" / f"{p.stem}.png") for p in images]
    assert len(pairs) == 4 and all(m.is_file() for _, m in pairs)
    return pairs


@pytest.fixture(scope="session")
def real_image(real_pairs: list[tuple[Path, Path]]) -> np.ndarray:
    """A real dermoscopy image, ``(192, 256, 3) uint8`` RGB, decoded directly with Pillow."""
    with Image.open(real_pairs[0][0]) as im:
        return np.array(im.convert("RGB"))


@pytest.fixture(scope="session")
def real_mask(real_pairs: list[tuple[Path, Path]]) -> np.ndarray:
    """Its expert mask, ``(192, 256) uint8`` with values {0, 255}."""
    with Image.open(real_pairs[0][1]) as im:
        mask = np.array(im)
    assert mask.shape == (192, 256) and set(np.unique(mask)) == {0, 255}
    return mask


@pytest.fixture
def generic_root(tmp_path: Path, real_pairs: list[tuple[Path, Path]]) -> Path:
    """``ROOT/images/<stem>.jpg`` + ``ROOT/masks/<stem>.png``: 4 real pairs."""
    root = tmp_path / "generic"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for image, mask in real_pairs:
        shutil.copy(image, root / "images" / image.name)
        shutil.copy(mask, root / "masks" / mask.name)
    return root


@pytest.fixture
def isic_root(tmp_path: Path, real_pairs: list[tuple[Path, Path]]) -> Path:
    """The official ISIC 2018 layout: 4 real pairs renamed to ISIC ids, plus the download's
    licence files, a superpixel map, and one image without a mask (``ISIC_0000099.jpg``)."""
    root = tmp_path / "isic"
    inputs = root / "ISIC2018_Task1-2_Training_Input"
    truth = root / "ISIC2018_Task1_Training_GroundTruth"
    inputs.mkdir(parents=True)
    truth.mkdir()
    for isic_id, (image, mask) in zip(ISIC_IDS, real_pairs, strict=True):
        shutil.copy(image, inputs / f"{isic_id}.jpg")
        shutil.copy(mask, truth / f"{isic_id}_segmentation.png")
    shutil.copy(real_pairs[0][0], inputs / "ISIC_0000099.jpg")
    shutil.copy(real_pairs[0][1], inputs / "ISIC_0000000_superpixels.png")
    for folder in (inputs, truth):
        (folder / "LICENSE.txt").write_text("CC BY-NC 4.0\n")
        (folder / "ATTRIBUTION.txt").write_text("ISIC Archive\n")
    return root


@pytest.fixture
def ph2_root(tmp_path: Path, real_pairs: list[tuple[Path, Path]]) -> Path:
    """The official PH2 download (``PH2Dataset/PH2 Dataset images/IMDxxx/...``): 4 real pairs
    converted to BMP, each case with an ``IMDxxx_roi/`` folder, plus the top-level index file."""
    root = tmp_path / "PH2Dataset"
    cases = root / "PH2 Dataset images"
    for case_id, (image, mask) in zip(PH2_IDS, real_pairs, strict=True):
        case = cases / case_id
        for sub in ("_Dermoscopic_Image", "_lesion", "_roi"):
            (case / f"{case_id}{sub}").mkdir(parents=True)
        with Image.open(image) as im:
            im.convert("RGB").save(case / f"{case_id}_Dermoscopic_Image" / f"{case_id}.bmp")
        with Image.open(mask) as im:
            im.convert("L").save(case / f"{case_id}_lesion" / f"{case_id}_lesion.bmp")
            im.convert("L").save(case / f"{case_id}_roi" / f"{case_id}_R1_Label4.bmp")
    (root / "PH2_dataset.txt").write_text("|| Name || Histological Diagnosis ||\n")
    return root
