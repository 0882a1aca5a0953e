"""Export formats: a registry of small frozen dataclasses, each with the recipes it supports, the
function that writes one model file, and what else differs by format (the artifact's label and
layout, the worst-op report and the calibration methods the accuracy-aware search may try).
``edgeseg export --help`` is generated from it; nothing else branches on a format's name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifact import TensorSpec
from edgeseg.errors import ConfigError
from edgeseg.formats import MODEL_FORMATS
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
        onnx_weight_bits: ORT int8 weights: 7 (``reduce_range``: exact on every x86 CPU) or 8.
    """

    io: str = "float32"
    onnx_nchw: bool = False
    opset: int = 17
    calib_method: str = "minmax"
    keep_float: tuple[str, ...] = ()
    onnx_weight_bits: int = 7

    def __post_init__(self) -> None:
        if self.onnx_weight_bits not in (7, 8):
            raise ConfigError(f"onnx_weight_bits must be 7 or 8, got {self.onnx_weight_bits}")


@dataclass(frozen=True)
class OptionStep:
    """An accuracy-aware fallback step that changes writer options (``changes``: field, value),
    tried after the calibration methods; ``note`` goes into the search record (its cost)."""

    strategy: str
    changes: tuple[tuple[str, Any], ...]
    note: str


Writer = Callable[[Any, Path, Recipe, "np.ndarray | None", WriteOptions], tuple[TensorSpec, TensorSpec]]


# (model, calibration, options) -> op/node names, the worst quantization error first.
WorstOps = Callable[[Any, np.ndarray, WriteOptions], list[str]]


@dataclass(frozen=True)
class Format:
    """An artifact format (its suffix and file name: :data:`edgeseg.formats.MODEL_FORMATS`).

    Attributes:
        name, recipes, summary: the name in :data:`edgeseg.formats.MODEL_FORMATS`, the recipes it
            supports, one line for ``--help``.
        write: ``(model, out, recipe, calibration, options) -> (input spec, output spec)``.
        io_in_label: the IO dtype of full-integer artifacts is part of the label (``_int8io``).
        nchw: the writer honours ``options.onnx_nchw`` (label ``_nchw``, layout NCHW).
        worst_ops: the per-op quantization error report (None: no selective quantization).
        calibration_methods: calibration methods to try when static int8 misses its budget, most
            promising first; empty when the converter offers no choice (``no_calibration_choice``
            says why).
        same_calibration: ``(method, current) -> why`` for methods that would reproduce the
            current one exactly, so trying them would waste a step.
        option_steps: other writer options to try after the calibration methods, in order.
    """

    name: str
    recipes: tuple[str, ...]
    summary: str
    write: Writer = field(repr=False, compare=False)
    io_in_label: bool = False
    nchw: bool = False
    worst_ops: WorstOps | None = field(default=None, repr=False, compare=False)
    calibration_methods: tuple[str, ...] = ()
    no_calibration_choice: str = ""
    same_calibration: dict[tuple[str, str], str] = field(default_factory=dict, repr=False, compare=False)
    option_steps: tuple[OptionStep, ...] = ()

    @property
    def filename(self) -> str:
        """The model file's name, e.g. ``model.tflite``."""
        return MODEL_FORMATS.get(self.name).filename

    def label(self, recipe: Recipe, options: WriteOptions) -> str:
        """The artifact's folder name, e.g. ``tflite_static_wi8_ai8_int8io`` or ``onnx_fp32_nchw``."""
        label = f"{self.name}_{recipe.name}"
        if self.io_in_label and recipe.integer_activations:
            label += f"_{options.io}io"
        if self.nchw and options.onnx_nchw:
            label += "_nchw"
        return label

    def layout(self, options: WriteOptions) -> str:
        return "NCHW" if self.nchw and options.onnx_nchw else "NHWC"


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
        return quantize_onnx(fp32, out, calib, method=o.calib_method, nodes_to_exclude=o.keep_float,
                             reduce_range=o.onnx_weight_bits == 7)


def _worst_tflite(model: Any, calib: np.ndarray, o: WriteOptions) -> list[str]:
    from edgeseg.export.tflite import quantization_error_report

    return [name for name, _ in quantization_error_report(model, calib, io=o.io)]


def _worst_onnx(model: Any, calib: np.ndarray, o: WriteOptions) -> list[str]:
    import tempfile

    from edgeseg.export.onnx import quantization_error_report, write_onnx

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        write_onnx(model, fp32, opset=o.opset, nchw=o.onnx_nchw)
        return [name for name, _ in quantization_error_report(fp32, calib, method=o.calib_method)]


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
    Format("tflite", ("fp32", "fp16", "dynamic_wi8_afp32", "static_wi8_ai8", "qat_wi8_ai8"),
           "LiteRT flatbuffer, batch 1 (the phone format)", _write_tflite, io_in_label=True, worst_ops=_worst_tflite,
           no_calibration_choice="TFLite already quantizes weights per channel and calibrates min/max only"),
    Format("onnx", ("fp32", "static_wi8_ai8", "qat_wi8_ai8"),
           "ONNX via tf2onnx; int8 is ONNX Runtime static QDQ, per-channel", _write_onnx, nchw=True,
           worst_ops=_worst_onnx, calibration_methods=("percentile", "entropy", "minmax"),
           # quantize_static's entropy search has a single candidate with ORT 1.32's defaults.
           same_calibration={("entropy", "minmax"): "identical to minmax in ONNX Runtime 1.32"},
           # 7-bit weights cost mnv2_unet 0.0133 validation Dice, 8-bit 0.0012 (docs/export.md).
           option_steps=(OptionStep("weights8", (("onnx_weight_bits", 8),),
                                    "8-bit weights: exact on ARM and on x86 with VNNI; ONNX Runtime's u8 x s8 "
                                    "kernel for x86 without VNNI (AVX2 only) can saturate, so gate it there"),)),
    Format("savedmodel", ("fp32",), "TensorFlow SavedModel (serving_default)", _write_savedmodel),
    Format("keras", ("fp32",), "tf_keras .keras file: the float model at the export size (bench reference)",
           _write_keras),
):
    FORMATS.add(_f.name, _f)
