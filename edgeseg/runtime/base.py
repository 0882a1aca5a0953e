"""The Runner protocol and the loader that picks a runner by what a path is.

A Runner takes float32 NHWC input already normalised (see :class:`Normalisation`) and returns
lesion probabilities. Evaluation, prediction, gates, bench and the camera only ever see this
interface, so they never branch on format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from edgeseg.artifact import manifest_normalisation
from edgeseg.config import Normalisation
from edgeseg.errors import RunError
from edgeseg.formats import format_of, suffixes
from edgeseg.registry import Registry
from edgeseg.run import RunDir


@runtime_checkable
class Runner(Protocol):
    """Attributes: ``name`` (for tables), ``input_size`` (h, w), ``normalisation``, ``path``."""

    name: str
    path: Path
    input_size: tuple[int, int]
    normalisation: Normalisation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(N, h, w, 3) float32 normalised input -> (N, h, w, 1) float32 probabilities."""
        ...


# suffix -> loader(path, normalisation or None, num_threads=None); a run dir is resolved to its
# model file first. The formats of edgeseg.formats are added on first use (their ``loader``).
Loader = Callable[..., Runner]
RUNNERS: Registry[Loader] = Registry("model format")


def _loader(path: Path) -> Loader:
    suffix, fmt = path.suffix.lower(), format_of(path)
    if suffix not in RUNNERS and fmt is not None:
        import importlib

        module, fn = fmt.loader.split(":")
        RUNNERS.add(suffix, getattr(importlib.import_module(module), fn))
    if suffix not in RUNNERS:
        known = sorted(set(suffixes()) | set(RUNNERS.names()))
        raise RunError(f"no runner for {suffix or 'files without a suffix'!r} models; known: {', '.join(known)}")
    return RUNNERS.get(suffix)


def load_runner(path: str | Path, *, num_threads: int | None = None, allow_ungated: bool | None = None) -> Runner:
    """A Runner for a run directory (its best checkpoint) or a model file, chosen by suffix.

    An exported artifact's ``manifest.json`` supplies the normalisation, and its sha256 is
    checked first: a file changed after export is refused. ``num_threads`` sets the TFLite /
    ONNX Runtime thread count (None: the runtime's default); TensorFlow's pools are
    process-wide and fixed at start-up, so Keras and SavedModel runners ignore it. An artifact
    whose export was interrupted before its gate is refused unless ``allow_ungated`` (see
    :func:`edgeseg.artifact.read_manifest`).
    """
    path = Path(path)
    normalisation = None
    if path.is_dir() and format_of(path) is None:
        run = RunDir.open(path)
        path = run.best_model()
        normalisation = run.config().data.normalisation
    if not path.exists():
        raise RunError(f"{path}: no such model file or run directory")
    loader = _loader(path)
    normalisation = manifest_normalisation(path, allow_ungated) or normalisation
    return loader(path, normalisation, num_threads=num_threads)
