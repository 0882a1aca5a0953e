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

An epoch's end is one atomic commit. Everything of epoch N (``last.keras``, ``last.weights.h5``,
``best.keras``, ``state.json``, ``history.csv``) is written into ``checkpoints/epoch-N.tmp/``,
flushed, renamed to ``checkpoints/epoch-N/``, and then the symlink ``checkpoints/current`` is
switched to it in one ``rename``. The paths above are fixed relative symlinks through
``current``, so a reader (and a resume) sees all of epoch N or all of epoch N-1, never a mix,
whenever the process is killed. A run made before this layout (plain files) is read as it is and
converted at its next commit. Writers hold ``RUN/.lock`` (:mod:`edgeseg.lock`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.config import RunConfig
from edgeseg.errors import RunError
from edgeseg.faults import fault_point
from edgeseg.io import fsync_dir, fsync_tree, next_free_path, write_error

CURRENT = "current"
# The files of one committed epoch, and where each is visible in the run folder.
EPOCH_FILES = {"last.keras": "checkpoints", "last.weights.h5": "checkpoints", "best.keras": "checkpoints",
               "state.json": ".", "history.csv": "."}
_EPOCH_DIR = re.compile(r"^epoch-(\d+)(\.tmp)?$")
# Temporary names a kill can leave: io.atomic_path's ".NAME.XXXXXXXX[suffix]", a public link's
# ".NAME.link" and the pointer's "current.tmp".
_STALE = re.compile(r"^(\.(.+\.[a-z0-9_]{8}(\..*)?|.+\.link)|current\.tmp)$")


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
            raise RunError(f"{path}: not an edgeseg run (no config.json){_model_file_hint(path)}")
        return cls(path)

    @property
    def current(self) -> Path:
        """The symlink naming the last committed epoch's folder."""
        return self.checkpoints / CURRENT

    def committed(self) -> Path | None:
        """The last committed epoch's folder (None: none yet, or a run of the older plain layout)."""
        return self.current.resolve() if self.current.is_dir() else None

    def checkpoint(self, name: str) -> Path:
        """A file of the last committed epoch (``last.keras``, ``last.weights.h5``,
        ``best.keras``, ``state.json``, ``history.csv``), or its plain-layout path."""
        committed = self.committed()
        if committed is not None:
            return committed / name
        return (self.checkpoints if EPOCH_FILES[name] == "checkpoints" else self.path) / name

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive writer lock on this run (see :mod:`edgeseg.lock`)."""
        from edgeseg.lock import folder_lock

        return folder_lock(self.path, "run")

    def clean_stale(self) -> list[Path]:
        """Remove what a killed writer left: uncommitted ``epoch-N.tmp/`` folders, epoch folders
        older than the committed one, and hidden temporary files. Call it holding :meth:`lock`.
        Returns what was removed."""
        removed: list[Path] = []
        committed = self.committed()
        for folder in (self.path, self.checkpoints):
            if not folder.is_dir():
                continue
            for p in folder.iterdir():
                m = _EPOCH_DIR.match(p.name) if folder == self.checkpoints else None
                stale = bool(_STALE.match(p.name)) or (m is not None and (m.group(2) or p.resolve() != committed))
                if stale:
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                    removed.append(p)
        return removed

    def repair(self) -> None:
        """Before writing (holding :meth:`lock`): remove a killed writer's leftovers and make the
        fixed paths point at the committed epoch (a kill can come between the switch and them)."""
        removed = self.clean_stale()
        if removed:
            print(f"removed what an interrupted writer left in {self.path}: {', '.join(p.name for p in removed)}")
        if self.committed() is not None:
            self._link_public()

    @contextlib.contextmanager
    def epoch_commit(self, epoch: int) -> Iterator[Path]:
        """Yield an empty ``checkpoints/epoch-N.tmp/`` for every file of epoch ``epoch``; when the
        body returns, make it the committed epoch in one atomic switch (see the module docstring)
        and remove the previous epoch's folder. If the body fails, nothing changes."""
        tmp = self.checkpoints / f"epoch-{epoch:04d}.tmp"
        final = self.checkpoints / f"epoch-{epoch:04d}"
        try:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            try:
                yield tmp
                fsync_tree(tmp)
                if final.exists():  # an epoch re-run after a kill that came after its rename
                    shutil.rmtree(final)
                os.replace(tmp, final)
                fault_point("epoch.renamed")
                link = self.checkpoints / f"{CURRENT}.tmp"
                link.unlink(missing_ok=True)
                os.symlink(final.name, link)
                os.replace(link, self.current)  # the commit
                fsync_dir(self.checkpoints)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        except OSError as e:
            name = os.fsdecode(e.filename) if getattr(e, "filename", None) else str(final)
            raise write_error(name.replace(str(tmp), str(final)), e) from None
        fault_point("epoch.switched")
        self._link_public()
        for p in self.checkpoints.iterdir():
            m = _EPOCH_DIR.match(p.name)
            if m and p.name != final.name:
                shutil.rmtree(p, ignore_errors=True)
        fault_point("epoch.cleaned")

    def _link_public(self) -> None:
        """Point the fixed paths (``checkpoints/last.keras``, ``state.json``, ...) through
        ``current``; a plain-layout file is replaced by its link (once, at the first commit)."""
        for name, where in EPOCH_FILES.items():
            public = self.path / where / name
            target = f"{CURRENT}/{name}" if where == "checkpoints" else f"checkpoints/{CURRENT}/{name}"
            if public.is_symlink() and os.readlink(public) == target:
                continue
            tmp = public.with_name(f".{name}.link")
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            os.replace(tmp, public)

    def config(self) -> RunConfig:
        return RunConfig.load(self.path / "config.json")

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.checkpoint("state.json").read_text())
        except FileNotFoundError:
            return {"epoch": 0, "finished": False}

    def best_model(self) -> Path:
        for p in (self.checkpoints / "best.keras", self.last_model, self.checkpoint("best.keras"),
                  self.checkpoint("last.keras")):
            if p.is_file():
                return p
        raise RunError(f"{self.path}: no checkpoint yet (the run stopped before its first epoch ended)")


def _model_file_hint(folder: Path) -> str:
    """For a folder that is not a run: the model file inside it, if it holds one (an artifact)."""
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            name = json.loads(manifest.read_text()).get("file")
        except (OSError, ValueError):
            name = None
        if name and (folder / name).exists():
            return f"; it is an exported artifact: pass its model file {folder / name}"
    models = sorted(p for p in folder.glob("*") if p.suffix in (".keras", ".tflite", ".onnx"))
    return f"; pass a model file instead, e.g. {models[0]}" if models else ""
