"""A run directory, the unit of reproducibility: ``RunDir`` names its files and opens/creates it.

The ground-floor home of the noun every stage shares (train writes runs; prune, QAT, export,
runtime, bench and the CLI read them), so none of them imports the training module for it::

    RUN/config.json        the frozen RunConfig
    RUN/splits.json        the exact pairs of every split
    RUN/environment.json   devices, strategy, library versions
    RUN/history.csv        one row per finished epoch
    RUN/curves.png         loss / Dice / IoU against epoch
    RUN/state.json         progress: last finished epoch, plateau counters, learning rate
    RUN/checkpoints/last.keras, last.weights.h5, best.keras
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.config import RunConfig
from edgeseg.errors import RunError
from edgeseg.io import next_free_path


@dataclass(frozen=True)
class RunDir:
    """A run's folder; see the module docstring for its contents."""

    path: Path

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last_model(self) -> Path:
        return self.checkpoints / "last.keras"

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def history(self) -> Path:
        return self.path / "history.csv"

    @classmethod
    def create(cls, root: str | Path, name: str | None, model_name: str) -> RunDir:
        """Make a new run folder. An explicit ``name`` that exists is an error; an automatic one
        gets the next free suffix (``unet_w025``, ``unet_w025-2``, ...)."""
        root = Path(root)
        if name:
            path = root / name
            if path.exists():
                raise RunError(
                    f"{path} already exists; resume it with `edgeseg train --resume {path}` or choose another --name"
                )
        else:
            path = next_free_path(root / model_name)
        path.mkdir(parents=True)
        (path / "checkpoints").mkdir()
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        path = Path(path)
        if not path.is_dir():
            raise RunError(f"{path}: no such run directory")
        if not (path / "config.json").is_file():
            raise RunError(f"{path}: not an edgeseg run (no config.json)")
        return cls(path)

    def config(self) -> RunConfig:
        return RunConfig.load(self.path / "config.json")

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {"epoch": 0, "finished": False}

    def best_model(self) -> Path:
        for p in (self.checkpoints / "best.keras", self.last_model):
            if p.is_file():
                return p
        raise RunError(f"{self.path}: no checkpoint yet (the run stopped before its first epoch ended)")
