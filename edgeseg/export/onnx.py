"""Keras -> ONNX (tf2onnx), and ONNX Runtime static int8 QDQ quantization of that file.

- :func:`write_onnx`: a float32 ``.onnx`` file, NHWC input (or NCHW with ``nchw=True``),
  ``(1, H, W, 1)`` sigmoid probabilities out.
- :func:`quantize_onnx`: static QDQ int8 (per-channel weights, calibrated activations).
- :func:`quantization_error_report`: which nodes lose most under int8, so a caller can keep the
  worst few in float (``quantize_onnx(..., nodes_to_exclude=...)``).

The batch dimension is fixed to 1. Phone execution providers (NNAPI, CoreML, XNNPACK) only
delegate static shapes, the TFLite export is batch 1 for the same reason, and one frame per call
is the deployment case; :class:`edgeseg.runtime.onnx_runner.OnnxRunner` feeds N images one at a
time. On the CPU a batch buys nothing measurable for this model.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from edgeseg._keras import keras, tf
from edgeseg.errors import ConfigError, RunError
from edgeseg.export.artifact import TensorSpec
from edgeseg.io import atomic_path

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear (axis attribute) needs opset 13

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

    Weights are int8 (per output channel by default), activations int8 with ranges measured on
    ``calibration``; the file keeps float32 IO (QuantizeLinear/DequantizeLinear inside).

    Args:
        fp32: the float32 ``.onnx`` file.
        out: the int8 ``.onnx`` file to write.
        calibration: ``(N, H, W, 3)`` float32 normalised images (NHWC even for an NCHW model).
        method: ``minmax``, ``entropy`` or ``percentile`` (see ``CALIBRATION_METHODS``).
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
    _check_file(fp32)
    with tempfile.TemporaryDirectory(prefix="edgeseg-onnx-") as tmpdir:
        pre = _preprocess(fp32, Path(tmpdir) / "pre.onnx")
        _check_nodes(pre, fp32, nodes_to_exclude)
        feeds = _feeds(pre, calibration)
        with atomic_path(out) as tmp:
            _quantize(pre, tmp, feeds, calibrate_method, per_channel, reduce_range, nodes_to_exclude)
        import onnx

        return _graph_specs(onnx.load(str(out)))


def quantization_error_report(fp32: Path, calibration: np.ndarray, *, method: str = "minmax") -> list[tuple[str, float]]:
    """Per-node int8 error of the static QDQ model (``quantize_onnx`` defaults) against float32.

    For every node whose output the int8 model quantizes, the error is the relative RMS
    difference ``||q - f|| / ||f||`` between that output in the int8 model (after its
    DequantizeLinear) and in the float32 model, over all ``calibration`` images. Errors add up
    along the network; a node that is much worse than its inputs is the one to keep in float.

    Args:
        fp32: the float32 ``.onnx`` file.
        calibration: ``(N, H, W, 3)`` float32 normalised images (NHWC).
        method: the calibration method, as in :func:`quantize_onnx`.

    Returns:
        ``[(node_name, relative_error), ...]``, worst first; the names are those
        ``quantize_onnx(nodes_to_exclude=...)`` accepts.

    Raises:
        ConfigError, RunError: as :func:`quantize_onnx`.
    """
    calibrate_method = _calibrate_method(method)
    _check_file(fp32)
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory(prefix="edgeseg-onnx-") as tmpdir:
        tmp = Path(tmpdir)
        pre = _preprocess(fp32, tmp / "pre.onnx")
        feeds = _feeds(pre, calibration)
        _quantize(pre, tmp / "int8.onnx", feeds, calibrate_method, True, True, ())
        activations = {}
        for key, model in (("float", pre), ("int8", tmp / "int8.onnx")):
            augmented = tmp / f"{key}.aug.onnx"
            modify_model_output_intermediate_tensors(str(model), str(augmented))
            activations[key] = collect_activations(str(augmented), _Reader(feeds))
        matching = create_activation_matching(activations["int8"], activations["float"])
        producer = {o: n.name for n in onnx.load(str(pre)).graph.node for o in n.output}

    report = []
    for tensor, match in matching.items():
        if tensor in producer and match.get("float"):
            report.append((producer[tensor], _relative_error(match["float"], match["post_qdq"])))
    return sorted(report, key=lambda item: item[1], reverse=True)


# --- helpers -------------------------------------------------------------------------------


class _Reader:
    """A ``CalibrationDataReader`` over prepared feeds (ORT only calls ``get_next``/``rewind``)."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = feeds
        self._i = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._i >= len(self._feeds):
            return None
        self._i += 1
        return self._feeds[self._i - 1]

    def rewind(self) -> None:
        self._i = 0

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return iter(self._feeds)


def _calibrate_method(method: str):  # noqa: ANN202 - onnxruntime's enum, imported lazily
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"unknown calibration method {method!r}; choose one of: {', '.join(CALIBRATION_METHODS)}")
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile}[method]


def _check_file(path: Path) -> None:
    if not Path(path).is_file():
        raise RunError(f"{path}: no such ONNX file")


def _preprocess(fp32: Path, out: Path) -> Path:
    """ORT's recommended pre-pass (shape inference, constant folding, Conv+BN fusion) so that the
    quantizer sees the graph the CPU provider will run. Deterministic: the node names it produces
    are the ones :func:`quantization_error_report` reports and ``nodes_to_exclude`` matches."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        quant_pre_process(str(fp32), str(out))
    except Exception as e:  # onnx/ORT raise their own classes for a damaged or foreign file
        raise RunError(f"{fp32}: cannot prepare the ONNX model for quantization ({_first_line(e)})") from e
    return out


def _check_nodes(pre: Path, fp32: Path, nodes: Sequence[str]) -> None:
    """ORT ignores unknown names in ``nodes_to_exclude``; a typo would silently quantize all."""
    if not nodes:
        return
    import onnx

    known = {n.name for n in onnx.load(str(pre)).graph.node}
    unknown = [n for n in nodes if n not in known]
    if unknown:
        raise ConfigError(
            f"{fp32}: no node named {', '.join(map(repr, unknown))} to keep in float; "
            "take the names from quantization_error_report()"
        )


def _feeds(model: Path, calibration: np.ndarray) -> list[dict[str, np.ndarray]]:
    """One ORT feed per image, laid out as the model's input (NCHW models get transposed)."""
    import onnx

    graph = onnx.load(str(model)).graph
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


def _quantize(pre: Path, out: Path, feeds: list[dict[str, np.ndarray]], calibrate_method, per_channel: bool,  # noqa: ANN001
              reduce_range: bool, nodes_to_exclude: Sequence[str]) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        str(pre),
        str(out),
        _Reader(feeds),
        quant_format=QuantFormat.QDQ,
        per_channel=per_channel,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(nodes_to_exclude),
        calibrate_method=calibrate_method,
    )


def _graph_specs(proto) -> tuple[TensorSpec, TensorSpec]:  # noqa: ANN001 - onnx.ModelProto
    def spec(value) -> TensorSpec:  # noqa: ANN001
        dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim)
        return TensorSpec(value.name, dims, "float32")

    return spec(proto.graph.input[0]), spec(proto.graph.output[0])


def _relative_error(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray]) -> float:
    f = np.concatenate([np.ravel(a) for a in reference]).astype(np.float64)
    q = np.concatenate([np.ravel(a) for a in candidate]).astype(np.float64)
    return float(np.linalg.norm(q - f) / max(np.linalg.norm(f), 1e-12))


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


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
