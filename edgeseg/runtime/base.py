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

from edgeseg.config import Normalisation
from edgeseg.errors import RunError
from edgeseg.registry import Registry


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


# suffix -> loader(path, normalisation or None) ; a run dir is resolved to its model file first.
RUNNERS: Registry[Callable[[Path, Normalisation | None], Runner]] = Registry("model format")


def _register_builtin() -> None:
    if ".keras" not in RUNNERS:
        from edgeseg.runtime.keras_runner import load_keras

        RUNNERS.add(".keras", load_keras)
    if ".tflite" not in RUNNERS:
        from edgeseg.runtime.tflite_runner import load_tflite

        RUNNERS.add(".tflite", load_tflite)


def load_runner(path: str | Path) -> Runner:
    """A Runner for a run directory (its best checkpoint) or a model file, chosen by suffix."""
    _register_builtin()
    path = Path(path)
    normalisation = None
    if path.is_dir():
        from edgeseg.train import RunDir

        run = RunDir.open(path)
        path = run.best_model()
        normalisation = run.config().data.normalisation
    if not path.exists():
        raise RunError(f"{path}: no such model file or run directory")
    loader = RUNNERS.get(path.suffix.lower())
    return loader(path, normalisation)
