"""Shared fixtures: the embedded real sample and the shared ISIC data beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "edgeseg" / "assets" / "isic2017_sample"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sample_root() -> Path:
    """The embedded real ISIC 2017 sample (train 48 / validation 12 / test 12 pairs, 192x256)."""
    return SAMPLE


@pytest.fixture(scope="session")
def isic2017_root() -> Path:
    root = SHARED_DATA / "isic2017"
    if not root.is_dir():
        pytest.skip(f"shared ISIC 2017 data not found at {root}")
    return root


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless the ``-m`` expression asks for them (so a bare ``pytest`` stays fast)."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
