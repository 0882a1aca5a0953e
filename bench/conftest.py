"""Fixtures of the benchmark suite: real ISIC frames and the shipped artifacts.

Results are stored in ``bench/.benchmarks`` (git-ignored: timings belong to one machine), so
after ``pytest bench/ --benchmark-only --benchmark-autosave`` a later run on the same machine
with ``--benchmark-compare`` compares against the last saved one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent
SHIPPED = REPO / "export" / "mnv2_unet"
SAMPLE = REPO / "edgeseg" / "assets" / "isic2017_sample" / "test" / "images"


def pytest_configure(config: pytest.Config) -> None:
    # Keep saved baselines beside the suite, whatever directory pytest was started from.
    if hasattr(config.option, "benchmark_storage") and config.option.benchmark_storage in ("file://./.benchmarks", "./.benchmarks"):
        config.option.benchmark_storage = f"file://{HERE / '.benchmarks'}"


@pytest.fixture(scope="session")
def image_path() -> Path:
    return sorted(SAMPLE.glob("*.jpg"))[0]


@pytest.fixture(scope="session")
def frame_jpeg(image_path) -> bytes:
    from edgeseg.bench.frame import camera_frame_jpeg

    return camera_frame_jpeg(image_path, (720, 1280))


def artifact(label: str) -> Path:
    folder = SHIPPED / label
    files = [p for p in folder.glob("model.*")] if folder.is_dir() else []
    if not files:
        pytest.skip(f"{folder} is missing")
    return files[0]
