"""The one table of model file formats: which suffix is which format, the file an export writes,
and the Runner that loads it.

Every layer reads this table instead of its own list of suffixes: the runtime loader
(:func:`edgeseg.runtime.base.load_runner`), the export writers (:mod:`edgeseg.export.formats`,
keyed by the same names), bench, the shipped-model lookup (:mod:`edgeseg.defaults`) and the web
page (:mod:`edgeseg.web`). How a format is written or timed stays with those layers' registries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeseg.registry import Registry


@dataclass(frozen=True)
class ModelFormat:
    """A model file format.

    Attributes:
        name: the format's name everywhere: ``edgeseg export --formats``, a manifest's
            ``format``, the export writer's registry key.
        suffix: the model file's suffix (a SavedModel is a folder named with it).
        loader: ``"module:function"`` of its Runner loader, ``(path, normalisation,
            num_threads=None) -> Runner``; imported on first use, so loading a ``.tflite`` never
            imports onnxruntime and back.
        on_device: a format that runs on the phone or in the browser without TensorFlow, so a
            fallback for the shipped default model.
    """

    name: str
    suffix: str
    loader: str
    on_device: bool = False

    @property
    def filename(self) -> str:
        """The model file in an exported artifact's folder, e.g. ``model.tflite``."""
        return f"model{self.suffix}"


MODEL_FORMATS: Registry[ModelFormat] = Registry("model format")
for _f in (
    ModelFormat("keras", ".keras", "edgeseg.runtime.keras_runner:load_keras"),
    ModelFormat("tflite", ".tflite", "edgeseg.runtime.tflite_runner:load_tflite", on_device=True),
    ModelFormat("onnx", ".onnx", "edgeseg.runtime.onnx_runner:load_onnx", on_device=True),
    ModelFormat("savedmodel", ".savedmodel", "edgeseg.runtime.savedmodel_runner:load_savedmodel"),
):
    MODEL_FORMATS.add(_f.name, _f)


def format_of(path: str | Path) -> ModelFormat | None:
    """The format of a model file (or SavedModel folder) by its suffix; None if it has none."""
    suffix = Path(path).suffix.lower()
    return next((f for f in map(MODEL_FORMATS.get, MODEL_FORMATS) if f.suffix == suffix), None)


def suffixes(*names: str) -> tuple[str, ...]:
    """The suffixes of the named formats, in that order; all formats' when none is named."""
    return tuple(MODEL_FORMATS.get(n).suffix for n in names or MODEL_FORMATS.names())
