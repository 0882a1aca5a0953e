"""Export formats: a registry of small frozen dataclasses, each with the recipes it supports and
the function that writes one model file. ``edgeseg export --help`` is generated from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifact import TensorSpec
from edgeseg.quantize.recipes import Recipe
from edgeseg.registry import Registry


@dataclass(frozen=True)
class WriteOptions:
    """Per-artifact knobs of a writer.

    Attributes:
        io: IO dtype of integer artifacts (``float32``, ``int8``, ``uint8``).
        onnx_nchw: ONNX input as NCHW instead of NHWC.
        opset: ONNX opset.
        calib_method: ORT calibration method (minmax, entropy, percentile).
        keep_float: op/node names kept in float (selective quantization).
    """

    io: str = "float32"
    onnx_nchw: bool = False
    opset: int = 17
    calib_method: str = "minmax"
    keep_float: tuple[str, ...] = ()


Writer = Callable[[Any, Path, Recipe, "np.ndarray | None", WriteOptions], tuple[TensorSpec, TensorSpec]]


@dataclass(frozen=True)
class Format:
    """An artifact format: its file name, the recipes it supports and its writer."""

    name: str
    filename: str
    recipes: tuple[str, ...]
    summary: str
    write: Writer = field(repr=False, compare=False)


def _write_tflite(model: Any, out: Path, recipe: Recipe, calib: np.ndarray | None, o: WriteOptions):  # noqa: ANN202
    from edgeseg.export.tflite import write_tflite

    return write_tflite(model, out, recipe, io=o.io, calibration=calib, denylisted_nodes=o.keep_float)


def _write_onnx(model: Any, out: Path, recipe: Recipe, calib: np.ndarray | None, o: WriteOptions):  # noqa: ANN202
    import tempfile

    from edgeseg.export.onnx import quantize_onnx, write_onnx

    if recipe.name != "static_wi8_ai8":
        # fp32, or a QAT model whose fake-quant ops tf2onnx turns into QDQ pairs.
        return write_onnx(model, out, opset=o.opset, nchw=o.onnx_nchw)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        write_onnx(model, fp32, opset=o.opset, nchw=o.onnx_nchw)
        return quantize_onnx(fp32, out, calib, method=o.calib_method, nodes_to_exclude=o.keep_float)


def _write_savedmodel(model: Any, out: Path, recipe: Recipe, calib: np.ndarray | None, o: WriteOptions):  # noqa: ANN202
    from edgeseg._keras import tf

    _, h, w, c = model.input_shape
    spec = tf.TensorSpec([None, h, w, c], tf.float32, name="image")
    fn = tf.function(lambda x: {"probabilities": model(x, training=False)}, input_signature=[spec])
    tf.saved_model.save(model, str(out), signatures={"serving_default": fn})
    return (TensorSpec("image", (-1, h, w, c), "float32"), TensorSpec("probabilities", (-1, h, w, 1), "float32"))


def _write_keras(model: Any, out: Path, recipe: Recipe, calib: np.ndarray | None, o: WriteOptions):  # noqa: ANN202
    _, h, w, c = model.input_shape
    model.save(str(out))
    return (TensorSpec("image", (-1, h, w, c), "float32"), TensorSpec("probabilities", (-1, h, w, 1), "float32"))


FORMATS: Registry[Format] = Registry("export format")
for _f in (
    Format("tflite", "model.tflite", ("fp32", "fp16", "dynamic_wi8_afp32", "static_wi8_ai8", "qat_wi8_ai8"),
           "LiteRT flatbuffer, batch 1 (the phone format)", _write_tflite),
    Format("onnx", "model.onnx", ("fp32", "static_wi8_ai8", "qat_wi8_ai8"),
           "ONNX via tf2onnx; int8 is ONNX Runtime static QDQ, per-channel", _write_onnx),
    Format("savedmodel", "model.savedmodel", ("fp32",), "TensorFlow SavedModel (serving_default)", _write_savedmodel),
    Format("keras", "model.keras", ("fp32",), "tf_keras .keras file: the float model at the export size (bench reference)",
           _write_keras),
):
    FORMATS.add(_f.name, _f)
