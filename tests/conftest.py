"""Shared fixtures: the embedded real sample and the shared ISIC data beside the repo."""

from __future__ import annotations

import hashlib
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


# --- shared helpers, handed out as fixtures (tests/ is not a package) ---------------------------


@pytest.fixture(scope="session")
def tiny_run(sample_root, tmp_path_factory):
    """``tiny_run(name, model="unet_w025", epochs=1, max_steps=2, limit=12)``: a real training run
    on the embedded sample at 64x96, in its own temporary runs folder."""
    from edgeseg.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from edgeseg.train import train

    def make(name: str, model: str = "unet_w025", epochs: int = 1, max_steps: int = 2, limit: int = 12):
        cfg = RunConfig(
            data=DataConfig(root=str(sample_root), height=64, width=96, batch_size=4, limit=limit),
            model=ModelConfig(name=model),
            train=TrainConfig(epochs=epochs, max_steps=max_steps),
        )
        return train(cfg, runs_root=tmp_path_factory.mktemp("runs"), name=name)

    return make


@pytest.fixture(scope="session")
def copy_pairs(sample_root):
    """``copy_pairs(root, n=6)``: the first ``n`` real validation pairs of the embedded sample,
    copied into ``root`` in the generic layout (``images/`` + ``masks/``); returns ``root``."""

    def make(root: Path, n: int = 6) -> Path:
        import shutil

        for sub in ("images", "masks"):
            (root / sub).mkdir(parents=True)
        for img in sorted((sample_root / "validation" / "images").iterdir())[:n]:
            shutil.copy(img, root / "images")
            shutil.copy(sample_root / "validation" / "masks" / f"{img.stem}.png", root / "masks")
        return root

    return make


class Cli:
    """Runs the Typer app in-process and checks the one-line error contract."""

    def __init__(self) -> None:
        from typer.testing import CliRunner

        from edgeseg.cli import app

        self.app, self.runner = app, CliRunner()

    def __call__(self, *args):
        return self.runner.invoke(self.app, [str(a) for a in args])

    @staticmethod
    def assert_clean_error(result, *needles) -> None:
        """Non-zero exit, exactly one ``error:`` line on stderr naming every needle, no traceback."""
        assert result.exit_code != 0, result.output
        err = result.stderr.strip()
        assert err.startswith("error: ") and len(err.splitlines()) == 1, err
        assert "Traceback" not in result.output
        for n in needles:
            assert str(n) in err, (n, err)


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


# --- fine-tune stages (pruning, QAT) ------------------------------------------------------------


def _digest(path: Path) -> dict[str, str]:
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def digest():
    """``digest(path)``: sha256 of every file under ``path``, by relative name (a folder left
    untouched digests the same)."""
    return _digest


@pytest.fixture(scope="module")
def float_run(tiny_run):
    """A finished float run that a fine-tune stage starts from (one per test module)."""
    return tiny_run("float")
