"""Keras -> TFLite (LiteRT flatbuffer), one function per job, dispatched on the recipe's name.

- :func:`write_tflite`: convert a segmentation model with a quantization recipe (``fp32``,
  ``fp16``, ``dynamic_wi8_afp32``, ``static_wi8_ai8``, ``qat_wi8_ai8``) and write it atomically.
- :func:`quantization_error_report`: which ops of the static int8 model lose most, so a caller
  can keep the worst few in float (``write_tflite(..., denylisted_nodes=...)``).

The batch dimension is fixed to 1: a dynamic batch makes the converter wrap TRANSPOSE_CONV in
SHAPE/PACK/STRIDED_SLICE ops, phone delegates want static shapes, and one frame per call is the
deployment case. :class:`edgeseg.runtime.tflite_runner.TFLiteRunner` feeds N images one at a time.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg._keras import keras, tf
from edgeseg.errors import ConfigError, RunError, first_line
from edgeseg.artifact import TensorSpec
from edgeseg.io import atomic_path
from edgeseg.quantize.recipes import IO_TYPES, RECIPES, Recipe
from edgeseg.runtime.tflite_runner import tflite_specs

_BATCH = 1
# Bytes per stored weight; a converted file far below params * this has lost its weights.
_WEIGHT_BYTES = {"float32": 4, "float16": 2, "int8": 1}


def write_tflite(
    model: keras.Model,
    out: Path,
    recipe: Recipe,
    *,
    io: str = "float32",
    calibration: np.ndarray | None = None,
    denylisted_nodes: Sequence[str] = (),
) -> tuple[TensorSpec, TensorSpec]:
    """Convert a Keras segmentation model to a batch-1 ``.tflite`` file, written atomically at ``out``.

    Args:
        model: ``(N, H, W, 3)`` float32 normalised input -> ``(N, H, W, 1)`` float32 sigmoid
            probabilities, H and W fixed. For ``qat_wi8_ai8`` it must be the tfmot
            quantization-aware model.
        out: the ``.tflite`` file to write (its folder is created).
        recipe: a :data:`edgeseg.quantize.recipes.RECIPES` entry.
        io: the type of the file's input and output tensors, one of ``IO_TYPES``; ``int8`` and
            ``uint8`` need a recipe with integer activations (the runner then applies each
            tensor's own scale and zero point).
        calibration: ``(N, H, W, 3)`` float32 normalised images; required by (and only by)
            ``static_wi8_ai8``, whose activation ranges are measured on them.
        denylisted_nodes: ``static_wi8_ai8`` only: op output tensors to keep in float (selective
            quantization), named as :func:`quantization_error_report` names them.

    Returns:
        The (input, output) specs as the written file declares them: name, ``(1, H, W, C)``,
        dtype, and scale/zero point for int8/uint8 tensors.

    Raises:
        ConfigError: an invalid option or combination (checked before any conversion work), a
            badly shaped ``calibration``, an unknown denylisted node, or a model/recipe pair the
            converter rejects.
        RunError: the converter produced a file that LiteRT cannot load or that has lost its
            weights.
    """
    _check_options(recipe, io, calibration, denylisted_nodes)
    h, w = _input_size(model)
    if recipe.qat and not _is_qat_model(model):
        raise ConfigError(
            f"{recipe.name} needs the quantization-aware model (edgeseg.quantize.qat), "
            "not the float checkpoint: it has no quantize layers"
        )
    calib = _calibration_array(calibration, h, w) if calibration is not None else None
    setup = _SETUP.get(recipe.name)
    if setup is None:
        raise ConfigError(f"recipe {recipe.name!r} has no TFLite conversion; TFLite supports: {', '.join(_SETUP)}")

    with _quiet_converter():
        converter = _converter(model, h, w)
        try:
            if denylisted_nodes:
                data = _selective_int8(converter, calib, io, denylisted_nodes)
            else:
                setup(converter, calib, io)
                data = converter.convert()
        except _converter_errors() as e:
            raise ConfigError(f"{out}: TFLite cannot convert this model with {recipe.name} ({first_line(e)})") from e

    _check_weights(data, model, recipe, out)
    try:
        specs = tflite_specs(bytes(data))
    except RunError as e:
        raise RunError(f"{out}: the converted model is not usable ({e})") from e
    with atomic_path(out) as tmp:
        tmp.write_bytes(data)
    return specs


def quantization_error_report(
    model: keras.Model, calibration: np.ndarray, *, io: str = "float32"
) -> list[tuple[str, float]]:
    """Per-op error of the static int8 model (``static_wi8_ai8``) against float, worst first.

    TFLite's quantization debugger runs every quantized op beside its float twin on the
    ``calibration`` images. The error of an op is ``rmse / scale``: the RMS difference of its
    output in units of that tensor's quantization step. Pure rounding gives about 0.29
    (``1/sqrt(12)``); an op well above its neighbours is the one to keep in float.

    Args:
        model: as for :func:`write_tflite`.
        calibration: ``(N, H, W, 3)`` float32 normalised images (calibration and measurement).
        io: the IO type the export will use; validated only, since the quantized body, and so
            each op's error, is the same for every IO type.

    Returns:
        ``[(tensor_name, rmse_over_scale), ...]``, worst first (NaN sorts first); the names are
        those ``write_tflite(..., denylisted_nodes=...)`` accepts.

    Raises:
        ConfigError: ``io`` unknown, a model without a fixed input, or a badly shaped
            ``calibration``.
    """
    if io not in IO_TYPES:
        raise ConfigError(f"unknown io type {io!r}; choose one of: {', '.join(IO_TYPES)}")
    h, w = _input_size(model)
    calib = _calibration_array(calibration, h, w)
    with _quiet_converter():
        converter = _converter(model, h, w)
        _int8_body(converter, calib)
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=_dataset(calib))
        debugger.run()
        dump = StringIO()
        debugger.layer_statistics_dump(dump)
    dump.seek(0)
    report = []
    for row in csv.DictReader(dump):
        scale = float(row["scale"])
        error = math.sqrt(float(row["mean_squared_error"])) / scale if scale > 0 else math.nan
        report.append((row["tensor_name"], error))
    return sorted(report, key=lambda item: math.inf if math.isnan(item[1]) else item[1], reverse=True)


# --- recipes -------------------------------------------------------------------------------


def _fp32(converter: Any, calib: np.ndarray | None, io: str) -> None:
    pass


def _fp16(converter: Any, calib: np.ndarray | None, io: str) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _dynamic(converter: Any, calib: np.ndarray | None, io: str) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _static(converter: Any, calib: np.ndarray | None, io: str) -> None:
    _int8_body(converter, calib)
    _io_types(converter, io)


def _qat(converter: Any, calib: np.ndarray | None, io: str) -> None:
    # The FakeQuant ranges learned in training are the calibration; no dataset is needed.
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    _io_types(converter, io)


_SETUP: dict[str, Callable[[Any, np.ndarray | None, str], None]] = {
    "fp32": _fp32,
    "fp16": _fp16,
    "dynamic_wi8_afp32": _dynamic,
    "static_wi8_ai8": _static,
    "qat_wi8_ai8": _qat,
}


def _int8_body(converter: Any, calib: np.ndarray | None) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _dataset(calib)
    # Builtins-int8 only: an op with no int8 kernel fails the conversion instead of silently
    # staying float (selective float is asked for explicitly with denylisted_nodes).
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]


def _io_types(converter: Any, io: str) -> None:
    if io != "float32":
        converter.inference_input_type = tf.as_dtype(io)
        converter.inference_output_type = tf.as_dtype(io)


def _selective_int8(converter: Any, calib: np.ndarray | None, io: str, nodes: Sequence[str]) -> bytes:
    """Static int8 with ``nodes`` kept in float, through TFLite's quantization debugger (the
    public route to the MLIR quantizer's denylist). Its model has float IO; int8/uint8 IO is
    then set the way the converter itself does it."""
    _int8_body(converter, calib)
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=list(nodes))
    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=_dataset(calib), debug_options=options)
    data = debugger.get_nondebug_quantized_model()
    _check_denylisted(data, nodes)
    if io != "float32":
        from tensorflow.lite.python.util import modify_model_io_type

        try:
            data = modify_model_io_type(data, tf.as_dtype(io), tf.as_dtype(io))
        except ValueError as e:
            raise ConfigError(_edge_message(io, nodes, first_line(e))) from e
        # With a float first/last op it only logs a warning and keeps float IO: never silently.
        src, dst = tflite_specs(bytes(data))
        if src.dtype != io or dst.dtype != io:
            raise ConfigError(_edge_message(io, nodes, f"the model kept {src.dtype} input and {dst.dtype} output"))
    return data


def _edge_message(io: str, nodes: Sequence[str], why: str) -> str:
    return (
        f"io {io} needs the model's first and last ops quantized, but denylisted_nodes "
        f"({', '.join(map(repr, nodes))}) keeps one of them in float ({why}); use io float32 or denylist other ops"
    )


def _check_denylisted(data: bytes, nodes: Sequence[str]) -> None:
    """The MLIR quantizer ignores unknown names, so a typo would silently quantize everything."""
    from ai_edge_litert.interpreter import Interpreter

    dtypes = {t["name"]: np.dtype(t["dtype"]).name for t in Interpreter(model_content=bytes(data)).get_tensor_details()}
    unknown = [n for n in nodes if n not in dtypes]
    if unknown:
        raise ConfigError(
            f"no op output named {', '.join(map(repr, unknown))} to keep in float; "
            "take the names from quantization_error_report()"
        )
    still_int = [n for n in nodes if dtypes[n] != "float32"]
    if still_int:
        raise ConfigError(f"the quantizer kept {', '.join(map(repr, still_int))} in int8; it cannot run in float here")


# --- helpers -------------------------------------------------------------------------------


def _check_options(recipe: Recipe, io: str, calibration: np.ndarray | None, denylisted_nodes: Sequence[str]) -> None:
    if io not in IO_TYPES:
        raise ConfigError(f"unknown io type {io!r}; choose one of: {', '.join(IO_TYPES)}")
    if io != "float32" and not recipe.integer_activations:
        integer = [name for name in RECIPES.names() if RECIPES.get(name).integer_activations]
        raise ConfigError(f"io {io} needs an integer recipe ({' or '.join(integer)}); {recipe.name} computes in float")
    if recipe.needs_calibration and calibration is None:
        raise ConfigError(f"{recipe.name} needs calibration images: pass calibration=(N, H, W, 3) float32")
    if not recipe.needs_calibration and calibration is not None:
        raise ConfigError(f"{recipe.name} takes no calibration images; only recipes that calibrate do")
    if isinstance(denylisted_nodes, str):
        raise ConfigError("denylisted_nodes must be a sequence of names, not one string")
    if denylisted_nodes and recipe.name != "static_wi8_ai8":
        raise ConfigError(f"denylisted_nodes (ops kept in float) only apply to static_wi8_ai8, not {recipe.name}")


def _input_size(model: keras.Model) -> tuple[int, int]:
    """(H, W) of a single-input ``(N, H, W, 3) -> (N, H, W, 1)`` model."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ConfigError(f"TFLite export needs one input and one output, the model has {len(model.inputs)} and {len(model.outputs)}")
    shape, out = tuple(model.input_shape), tuple(model.output_shape)
    if len(shape) != 4 or shape[0] not in (None, _BATCH) or shape[3] != 3 or None in shape[1:]:
        raise ConfigError(f"TFLite export needs a fixed (N, H, W, 3) model input, got {shape}")
    if len(out) != 4 or tuple(out[1:]) != (shape[1], shape[2], 1):
        raise ConfigError(f"TFLite export needs an (N, H, W, 1) output matching the input, got {out}")
    return int(shape[1]), int(shape[2])


def _converter(model: keras.Model, h: int, w: int) -> Any:
    """A converter over the model's batch-1 inference function.

    Built from a concrete function WITHOUT ``trackable_obj``: with the model passed as
    ``trackable_obj`` the converter silently writes a weightless model that outputs NaN (see
    STACK.md), and ``from_keras_model`` spends ~15 s on a SavedModel round trip per call (this:
    ~1 s). The frozen-graph path it uses keeps every weight; ``_check_weights`` and the parity
    tests guard that.
    """
    name = model.inputs[0].name.split(":")[0]
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec((_BATCH, h, w, 3), tf.float32, name=name))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete])


def _calibration_array(calibration: np.ndarray, h: int, w: int) -> np.ndarray:
    x = np.asarray(calibration, np.float32)
    if x.ndim != 4 or x.shape[-1] != 3 or len(x) == 0:
        raise ConfigError(f"calibration must be (N, H, W, 3) float32 with N >= 1, got {x.shape}")
    if x.shape[1:3] != (h, w):
        raise ConfigError(f"calibration images are {x.shape[1]}x{x.shape[2]}, the model takes {h}x{w}")
    if not np.isfinite(x).all():
        raise ConfigError("calibration images contain NaN or inf")
    return x


def _dataset(calib: np.ndarray | None) -> Callable[[], Iterator[list[np.ndarray]]]:
    """A representative dataset: one batch-1 sample per image, as the batch-1 graph takes."""
    if calib is None:  # guarded by _check_options; a recipe wiring bug must not calibrate on nothing
        raise ConfigError("static int8 needs calibration images")

    def gen() -> Iterator[list[np.ndarray]]:
        for i in range(len(calib)):
            yield [calib[i : i + 1]]

    return gen


def _is_qat_model(model: keras.Model) -> bool:
    # tfmot wraps layers in QuantizeWrapper(V2) and adds a QuantizeLayer at the input.
    return any(type(layer).__name__.startswith("Quantize") for layer in model.layers)


def _check_weights(data: bytes, model: keras.Model, recipe: Recipe, out: Path) -> None:
    expected = model.count_params() * _WEIGHT_BYTES.get(recipe.weights, 1)
    if len(data) < 0.5 * expected:
        raise RunError(
            f"{out}: the converter wrote {len(data):,} bytes for {model.count_params():,} {recipe.weights} "
            f"parameters (~{expected:,} bytes); the weights were lost, not writing it"
        )


def _converter_errors() -> tuple[type[BaseException], ...]:
    from tensorflow.lite.python.convert_phase import ConverterError  # not exported under tf.lite

    return (ConverterError, ValueError)



@contextlib.contextmanager
def _quiet_converter() -> Iterator[None]:
    """The converter warns on every call about things decided on purpose here (the frozen-graph
    path, float statistics for float IO, the debugger's internal TF interpreter) and its C++
    quantizer prints its settings to stderr; the CLI's own lines would drown. Failures still
    raise with their message. ``EDGESEG_TF_LOGS=1`` keeps it all, as in :mod:`edgeseg._keras`."""
    if os.environ.get("EDGESEG_TF_LOGS") == "1":
        yield
        return
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*Statistics for quantized inputs were expected.*")
            warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        logger.setLevel(level)


__all__ = ["quantization_error_report", "write_tflite"]
