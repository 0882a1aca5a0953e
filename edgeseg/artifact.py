"""An artifact is a folder: the model file, ``manifest.json`` (its contract) and the export config.

The manifest is the single contract that the gate, the bench, the camera loop and the apps read:
input spec and normalisation, output meaning and threshold, IO quantization, provenance (source
run, config hash, git commit), the file's sha256, params/MACs, and the gate result.

This module sits on the ground floor (it imports only config, errors and io) so that the runtimes
that read artifacts never import the exporter that writes them. :func:`read_manifest` is the one
reader: every caller gets the sha256 checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgeseg.config import Normalisation
from edgeseg.errors import RunError
from edgeseg.io import current_umask, write_json

MANIFEST = "manifest.json"
ALLOW_UNGATED_ENV = "EDGESEG_ALLOW_UNGATED"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as the runtime sees it.

    ``scale``/``zero_point`` are set for integer tensors: ``real = scale * (q - zero_point)``.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None


@dataclass(frozen=True)
class Manifest:
    """The contract of one artifact (see the module docstring)."""

    format: str
    recipe: str
    file: str
    sha256: str
    size_bytes: int
    input: TensorSpec
    output: TensorSpec
    layout: str = "NHWC"
    input_size: tuple[int, int] = (192, 256)
    normalisation: dict[str, float] = field(default_factory=lambda: {"scale": 1 / 255, "offset": 0.0})
    output_meaning: str = "per-pixel lesion probability (sigmoid), shape (N, H, W, 1)"
    threshold: float = 0.5
    # How apps turn probabilities into the mask and when they warn (edgeseg.screen); the Android
    # app and the web page read these instead of hard-coding them.
    postprocess: dict[str, Any] | None = None
    hints: dict[str, Any] | None = None
    source_run: str | None = None
    source_model: str | None = None
    model_name: str | None = None
    config_hash: str | None = None
    git_commit: str | None = None
    params: int | None = None
    macs: int | None = None
    calibration: dict[str, Any] | None = None
    export_config: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def input_normalisation(self) -> Normalisation:
        """How uint8 pixels become the model's float input, as recorded at export.

        Raises:
            RunError: the recorded normalisation is missing or not numbers.
        """
        try:
            return Normalisation(scale=float(self.normalisation["scale"]), offset=float(self.normalisation["offset"]))
        except (KeyError, TypeError, ValueError):
            raise RunError(f"{self.file}: its manifest has no valid normalisation ({self.normalisation!r})") from None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        d = dict(d)
        for key in ("input", "output"):
            spec = dict(d[key])
            spec["shape"] = tuple(spec["shape"])
            d[key] = TensorSpec(**spec)
        d["input_size"] = tuple(d.get("input_size", (192, 256)))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class Artifact:
    """One exported artifact: its folder (named by ``label``) and the model file inside it."""

    folder: Path
    file: Path

    @property
    def label(self) -> str:
        return self.folder.name

    def manifest(self, allow_ungated: bool | None = None) -> Manifest:
        """Its manifest, sha256 checked (see :func:`read_manifest`).

        Raises:
            RunError: no manifest beside the file, an unreadable one, a sha256 mismatch, or no
                gate result (unless ``allow_ungated``).
        """
        manifest = read_manifest(self.file, allow_ungated)
        if manifest is None:
            raise RunError(f"{self.folder}: no {MANIFEST}; not an edgeseg artifact")
        return manifest


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a folder's files (relative names and contents, in sorted order)."""
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def size_bytes(path: str | os.PathLike) -> int:
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def git_commit(repo: str | os.PathLike | None = None) -> str | None:
    """The current commit of the edgeseg checkout (``+dirty`` if it has changes), or None."""
    cwd = Path(repo) if repo else Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def manifest_path(model_file: str | os.PathLike) -> Path:
    return Path(model_file).with_name(MANIFEST)


def read_manifest(model_file: str | os.PathLike, allow_ungated: bool | None = None) -> Manifest | None:
    """The manifest beside ``model_file`` (None if there is none), its sha256 checked against the
    file it names, and its gate result required.

    An artifact is complete only once its gate has run: one without a gate result was left by an
    interrupted export. ``allow_ungated`` (None: ``EDGESEG_ALLOW_UNGATED=1``, which the CLI's
    ``--allow-ungated`` sets so that bench workers inherit it) accepts it anyway; the gate itself
    passes True.

    Raises:
        RunError: the manifest is unreadable, its sha256 does not match the file, or it has no
            gate result (the message says how to finish the export).
    """
    path = manifest_path(model_file)
    if not path.is_file():
        return None
    try:
        manifest = Manifest.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise RunError(f"{path}: not a valid edgeseg manifest ({e})") from None
    if manifest.file == Path(model_file).name:
        actual = sha256_file(model_file)
        if actual != manifest.sha256:
            raise RunError(
                f"{model_file}: sha256 {actual[:12]}… does not match its manifest ({manifest.sha256[:12]}…); "
                "the file was changed or replaced after export"
            )
    if allow_ungated is None:
        allow_ungated = os.environ.get(ALLOW_UNGATED_ENV) == "1"
    if manifest.gate is None and not allow_ungated and manifest.file == Path(model_file).name:
        rerun = f"edgeseg export {manifest.source_run}" if manifest.source_run else "edgeseg export RUN"
        raise RunError(f"{model_file}: exported but never gated (its export was interrupted); re-run `{rerun}` "
                       "to make a complete artifact, or pass --allow-ungated to use this one unchecked")
    return manifest


def manifest_normalisation(model_file: str | os.PathLike, allow_ungated: bool | None = None) -> Normalisation | None:
    """The normalisation recorded for ``model_file`` (None without a manifest that names it)."""
    manifest = read_manifest(model_file, allow_ungated)
    if manifest is None or manifest.file != Path(model_file).name:
        return None
    return manifest.input_normalisation()


def write_manifest(folder: str | os.PathLike, manifest: Manifest) -> Path:
    return write_json(Path(folder) / MANIFEST, manifest.to_dict())


@contextlib.contextmanager
def atomic_folder(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it is renamed to ``dest`` in one step, on
    failure it is removed, so no half-written artifact ever sits at ``dest``."""
    dest = Path(dest)
    if dest.exists():
        raise RunError(f"{dest} already exists; artifacts are never overwritten (remove it or export to a new --out)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700 folders
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
