"""Keras -> ONNX (tf2onnx), and ONNX Runtime static int8 QDQ quantization of that file.

- :func:`write_onnx`: a float32 ``.onnx`` file, NHWC input (or NCHW with ``nchw=True``),
  ``(1, H, W, 1)`` sigmoid probabilities out.
- :func:`quantize_onnx`: static QDQ int8 (per-channel int8 weights, calibrated uint8
  activations, float32 IO).
- :func:`quantization_error_report`: which nodes lose most under int8, so a caller can keep the
  worst few in float (``quantize_onnx(..., nodes_to_exclude=...)``).

The batch dimension is fixed to 1. Phone execution providers (NNAPI, CoreML, XNNPACK) only
delegate static shapes, the TFLite export is batch 1 for the same reason, and one frame per call
is the deployment case; :class:`edgeseg.runtime.onnx_runner.OnnxRunner` feeds N images one at a
time. On the CPU a batch buys nothing measurable for this model.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg._keras import keras, tf
from edgeseg.errors import ConfigError, RunError, first_line
from edgeseg.artifact import TensorSpec
from edgeseg.io import atomic_path

from edgeseg.quantize.recipes import CALIBRATION_METHODS  # noqa: E402  (re-exported)
MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (axis attribute) needs opset 13

# Activations that ORT's QDQ quantizer removes when activations are asymmetric: their range
# becomes the output range of the op that feeds them, so that op is the one to keep in float.
_FOLDED_ACTIVATIONS = ("Relu", "Clip")

# A node name tf2onnx made unique with a counter suffix.
_ADDED_NODE = re.compile(r"(.+)__\d+")

# ORT's calibrators accept numpy arrays of any batch size, but the exported graph is batch 1.
_BATCH = 1


def write_onnx(model: keras.Model, out: Path, *, opset: int = 17, nchw: bool = False) -> tuple[TensorSpec, TensorSpec]:
    """Convert a Keras segmentation model to a float32 ONNX file, written atomically at ``out``.

    Args:
        model: ``(N, H, W, 3)`` float32 -> ``(N, H, W, 1)`` float32 probabilities, H and W fixed.
        out: the ``.onnx`` file to write (its folder is created).
        opset: ONNX opset, at least 13.
        nchw: expose the input as ``(1, 3, H, W)`` (tf2onnx ``inputs_as_nchw``); the output stays
            ``(1, H, W, 1)``.

    Returns:
        The (input, output) specs as ONNX Runtime sees them, dtype ``float32``.

    Raises:
        ConfigError: opset below 13, or a model without a fixed ``(H, W, C)`` input.
    """
    if opset < MIN_OPSET:
        raise ConfigError(f"ONNX opset must be >= {MIN_OPSET} (per-channel int8 needs it), got {opset}")
    shape = tuple(model.input_shape)
    if len(shape) != 4 or any(d is None for d in shape[1:]):
        raise ConfigError(f"ONNX export needs a fixed (N, H, W, C) model input, got {shape}")
    import onnx
    import tf2onnx

    _, h, w, c = shape
    name = model.inputs[0].name.split(":")[0]
    signature = (tf.TensorSpec((_BATCH, h, w, c), tf.float32, name=name),)
    with _quiet_tf2onnx():
        proto, _ = tf2onnx.convert.from_keras(
            model, input_signature=signature, opset=opset, inputs_as_nchw=[name] if nchw else None
        )
    _renumber_added_nodes(proto.graph)
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
    return _graph_specs(proto)


def quantize_onnx(
    fp32: Path,
    out: Path,
    calibration: np.ndarray,
    *,
    method: str = "minmax",
    per_channel: bool = True,
    reduce_range: bool = True,
    nodes_to_exclude: Sequence[str] = (),
) -> tuple[TensorSpec, TensorSpec]:
    """Static int8 QDQ quantization of ``fp32`` (from :func:`write_onnx`), written atomically.

    Weights are int8 (per output channel by default); activations are asymmetric uint8 with
    ranges measured on ``calibration`` (about 20 % faster than int8 activations on x86 without
    VNNI, and as accurate on the U-Net). The file keeps float32 IO (QuantizeLinear /
    DequantizeLinear inside) and is about a quarter of the float32 file's size.

    Args:
        fp32: the float32 ``.onnx`` file.
        out: the int8 ``.onnx`` file to write.
        calibration: ``(N, H, W, 3)`` float32 normalised images (NHWC even for an NCHW model).
        method: ``minmax``, ``entropy`` or ``percentile`` (ORT's calibrators with ORT's
            defaults). Note that ORT's ``entropy`` histogram has as many bins as it quantizes to
            (128), so its KL search has a single candidate, the full range: it gives minmax's
            ranges. A real search (512-2048 bins, not reachable through ``quantize_static``) was
            measured worse on the U-Net (mask Dice 0.92-0.93 vs 0.97) and 10-60x slower.
        per_channel: one weight scale per output channel (much better for conv nets).
        reduce_range: 7-bit weights. Keep it on for x86 CPUs without VNNI (AVX2 only): their
            int8 kernels add pairs of u8*s8 products in int16, which saturates with 8-bit weights.
        nodes_to_exclude: node names kept in float, e.g. the worst few of
            :func:`quantization_error_report`.

    Returns:
        The (input, output) specs of the quantized file (float32 IO).

    Raises:
        ConfigError: unknown ``method``, an empty or wrongly shaped ``calibration``, or a node
            name in ``nodes_to_exclude`` that the model does not have.
        RunError: ``fp32`` is missing or not a loadable ONNX model.
    """
    calibrate_method = _calibrate_method(method)
    feeds = _feeds(fp32, calibration)
    with tempfile.TemporaryDirectory(prefix="edgeseg-onnx-") as tmpdir:
        pre = _preprocess(fp32, Path(tmpdir) / "pre.onnx")
        _check_nodes(pre, fp32, nodes_to_exclude)
        with atomic_path(out) as tmp:
            _quantize(pre, tmp, feeds, calibrate_method, per_channel, reduce_range, nodes_to_exclude)
    return _graph_specs(_load(out))


def quantization_error_report(
    fp32: Path, calibration: np.ndarray, *, method: str = "minmax", chunk: int = 8
) -> list[tuple[str, float]]:
    """Which nodes add the most int8 error: the ones worth keeping in float.

    The file is quantized as :func:`quantize_onnx` does by default, both models are run on
    ``calibration``, and every activation the int8 model quantizes is compared with float32 as a
    relative RMS error ``||q - f|| / ||f||`` (ORT's ``qdq_loss_debug``). That error accumulates
    along the network, so a node is scored by what it *adds*: the error at its output minus the
    largest error at its inputs. A ReLU is scored as part of the op that feeds it (int8 QDQ folds
    it into that op's output range), so the names are those of Conv, ConvTranspose, Concat,
    Sigmoid, ... nodes, as ``nodes_to_exclude`` needs them. A negative score means the node
    shrinks the error (a sigmoid squashes it, a max-pool drops some).

    Args:
        fp32: the float32 ``.onnx`` file.
        calibration: ``(N, H, W, 3)`` float32 normalised images (NHWC).
        method: the calibration method, as in :func:`quantize_onnx`.
        chunk: images run through both models at a time (memory grows with it, not with N).

    Returns:
        ``[(node_name, added_relative_error), ...]``, worst first.

    Raises:
        ConfigError, RunError: as :func:`quantize_onnx`.
    """
    calibrate_method = _calibrate_method(method)
    if chunk < 1:
        raise ConfigError(f"chunk must be >= 1 image, got {chunk}")
    feeds = _feeds(fp32, calibration)
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory(prefix="edgeseg-onnx-") as tmpdir:
        tmp = Path(tmpdir)
        pre = _preprocess(fp32, tmp / "pre.onnx")
        _quantize(pre, tmp / "int8.onnx", feeds, calibrate_method, True, True, ())
        augmented = {}
        for key, model in (("float", pre), ("int8", tmp / "int8.onnx")):
            augmented[key] = tmp / f"{key}.aug.onnx"
            modify_model_output_intermediate_tensors(str(model), str(augmented[key]))
        # Every intermediate tensor of every image for both models does not fit in memory (200
        # images of the 192x256 MobileNetV2 U-Net: > 20 GB), so the squared norms are summed a
        # chunk at a time; the ratio is the same as over all images at once.
        diff2: dict[str, float] = {}
        ref2: dict[str, float] = {}
        for start in range(0, len(feeds), chunk):
            part = feeds[start : start + chunk]
            with _quiet_stdout():
                activations = {key: collect_activations(str(path), _Reader(part)) for key, path in augmented.items()}
            matching = create_activation_matching(activations["int8"], activations["float"])
            del activations
            for tensor, m in matching.items():
                if m.get("float"):
                    d, r = _squared_norms(m["float"], m["post_qdq"])
                    diff2[tensor] = diff2.get(tensor, 0.0) + d
                    ref2[tensor] = ref2.get(tensor, 0.0) + r
        graph = _load(pre).graph

    errors = {t: float(np.sqrt(diff2[t]) / max(np.sqrt(ref2[t]), 1e-12)) for t in diff2}
    return _added_errors(graph, errors)


# --- helpers -------------------------------------------------------------------------------


class _Reader:
    """A ``CalibrationDataReader`` over prepared feeds (ORT's ABC accepts any class with
    ``get_next``; not subclassed so this module imports onnxruntime only when it runs)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = feeds
        self._i, self._end = 0, len(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._i >= self._end:
            return None
        self._i += 1
        return self._feeds[self._i - 1]

    def rewind(self) -> None:
        self._i, self._end = 0, len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        """ORT's strided calibration reads the feeds in slices (see ``_calibration_stride``)."""
        self._i, self._end = start_index, min(end_index, len(self._feeds))

    def __len__(self) -> int:
        return len(self._feeds)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return iter(self._feeds)


def _calibrate_method(method: str) -> Any:  # onnxruntime's CalibrationMethod, imported lazily
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"unknown calibration method {method!r}; choose one of: {', '.join(CALIBRATION_METHODS)}")
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile}[method]


def _load(path: Path) -> Any:
    """The ``onnx.ModelProto`` at ``path``; RunError if it is missing or not an ONNX model."""
    import onnx

    if not Path(path).is_file():
        raise RunError(f"{path}: no such ONNX file")
    try:
        return onnx.load(str(path))
    except Exception as e:  # protobuf's DecodeError and friends for a damaged file
        raise RunError(f"{path}: not a readable ONNX model ({first_line(e)})") from e


def _preprocess(fp32: Path, out: Path) -> Path:
    """ORT's recommended pre-pass (shape inference, constant folding, Conv+BN fusion) so that the
    quantizer sees the graph the CPU provider will run. Deterministic: the node names it produces
    are the ones :func:`quantization_error_report` reports and ``nodes_to_exclude`` matches."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(fp32), str(out))
    except Exception as e:  # onnx/ORT raise their own classes for a damaged or foreign file
        raise RunError(f"{fp32}: cannot prepare the ONNX model for quantization ({first_line(e)})") from e
    return out


def _check_nodes(pre: Path, fp32: Path, nodes: Sequence[str]) -> None:
    """ORT ignores unknown names in ``nodes_to_exclude``; a typo would silently quantize all."""
    if not nodes:
        return
    known = {n.name for n in _load(pre).graph.node}
    unknown = [n for n in nodes if n not in known]
    if unknown:
        raise ConfigError(
            f"{fp32}: no node named {', '.join(map(repr, unknown))} to keep in float; "
            "take the names from quantization_error_report()"
        )


def _feeds(model: Path, calibration: np.ndarray) -> list[dict[str, np.ndarray]]:
    """One ORT feed per image, laid out as the model's input (NCHW models get transposed)."""
    graph = _load(model).graph
    if len(graph.input) != 1:
        raise RunError(f"{model}: expected one image input, found {len(graph.input)} inputs")
    inp = graph.input[0]
    dims = [d.dim_value or None for d in inp.type.tensor_type.shape.dim]
    x = np.asarray(calibration, np.float32)
    if x.ndim != 4 or x.shape[-1] != 3 or len(x) == 0:
        raise ConfigError(f"calibration must be (N, H, W, 3) float32 with N >= 1, got {x.shape}")
    nchw = len(dims) == 4 and dims[1] == 3 and dims[3] != 3
    if nchw:
        x = x.transpose(0, 3, 1, 2)
    if tuple(x.shape[1:]) != tuple(dims[1:]):
        layout = "NCHW" if nchw else "NHWC"
        raise ConfigError(f"calibration images are {calibration.shape[1:3]}, the model ({layout}) takes {dims}")
    step = dims[0] or len(x)
    return [{inp.name: np.ascontiguousarray(x[i : i + step])} for i in range(0, len(x) - step + 1, step)]


def _quantize(
    pre: Path,
    out: Path,
    feeds: list[dict[str, np.ndarray]],
    calibrate_method: Any,
    per_channel: bool,
    reduce_range: bool,
    nodes_to_exclude: Sequence[str],
) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    with _quiet_stdout():
        quantize_static(
            str(pre),
            str(out),
            _Reader(feeds),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            reduce_range=reduce_range,
            # uint8 activations: same accuracy as int8 on the U-Net (mask Dice 0.9715 vs 0.9710)
            # but ~20 % faster on AVX2 without VNNI (60 vs 76 ms at 192x256), where MLAS's
            # kernels are u8 x s8; ORT's own guidance for x86 CPUs without VNNI.
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=list(nodes_to_exclude),
            calibrate_method=calibrate_method,
            # ORT's histogram calibrators (percentile, entropy) keep every intermediate output of
            # every calibration image until the end: 200 images of a 192x256 MobileNetV2 U-Net
            # took 18 GB and the OOM killer. Strided collection merges slices into the same
            # histograms (and min/max), with the same result for min-max.
            extra_options={"CalibStridedMinMax": _calibration_stride(len(feeds))},
        )


def _calibration_stride(n: int, most: int = 16) -> int:
    """The largest slice length <= ``most`` that divides ``n`` (ORT requires an exact division)."""
    return max(k for k in range(1, min(n, most) + 1) if n % k == 0)


def _renumber_added_nodes(graph: Any) -> None:
    """Number the nodes tf2onnx adds (layout Transposes, ``conv__95``) per graph, not per process.

    tf2onnx suffixes them from a process-wide counter, so the same model exported twice gets
    different names, and a name from :func:`quantization_error_report` on one export would not
    be found in the next (the exporter reports on one export and quantizes another).
    """
    seen: dict[str, int] = {}
    for node in graph.node:
        match = _ADDED_NODE.fullmatch(node.name)
        if match:
            base = match.group(1)
            node.name = f"{base}__{seen.get(base, 0)}"
            seen[base] = seen.get(base, 0) + 1


def _graph_specs(proto) -> tuple[TensorSpec, TensorSpec]:  # noqa: ANN001 - onnx.ModelProto
    def spec(value) -> TensorSpec:  # noqa: ANN001
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim)
        return TensorSpec(value.name, dims, "float32")

    return spec(proto.graph.input[0]), spec(proto.graph.output[0])


def _added_errors(graph, errors: dict[str, float]) -> list[tuple[str, float]]:  # noqa: ANN001
    """Score each node by ``error(output) - max(error(inputs))``, worst first (see the report)."""
    producer = {out: node for node in graph.node for out in node.output}
    constants = {init.name for init in graph.initializer}

    @functools.cache
    def upstream(tensor: str) -> float:
        """The error measured nearest above ``tensor``: 0 at the graph input and constants."""
        if tensor in errors:
            return errors[tensor]
        node = producer.get(tensor)
        if node is None:
            return 0.0
        return max((upstream(t) for t in node.input if t and t not in constants), default=0.0)

    scores: dict[str, float] = {}
    for tensor, error in errors.items():
        node = producer.get(tensor)
        if node is None:
            continue
        if node.op_type in _FOLDED_ACTIVATIONS and node.input[0] in producer:
            node = producer[node.input[0]]
        added = error - max((upstream(t) for t in node.input if t and t not in constants), default=0.0)
        scores[node.name] = max(added, scores.get(node.name, -np.inf))
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def _squared_norms(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray]) -> tuple[float, float]:
    """``(||q - f||^2, ||f||^2)`` over a list of per-image tensors, summed in float64."""
    d = r = 0.0
    for f, q in zip(reference, candidate, strict=True):
        f64 = np.asarray(f, np.float64)
        d += float(np.sum(np.square(np.asarray(q, np.float64) - f64)))
        r += float(np.sum(np.square(f64)))
    return d, r



@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """ORT's histogram calibrators and debug helpers print progress with ``print``."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@contextlib.contextmanager
def _quiet_tf2onnx() -> Iterator[None]:
    """tf2onnx logs every optimizer pass at INFO; the CLI's own lines would drown."""
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


__all__ = ["CALIBRATION_METHODS", "quantization_error_report", "quantize_onnx", "write_onnx"]
