"""Run a ``.tflite`` artifact with the LiteRT interpreter (``ai_edge_litert``), as the phone does.

The model contract (what :func:`edgeseg.export.tflite.write_tflite` writes): one input
``(1, H, W, 3)`` and one output ``(1, H, W, 1)``, each float32, int8 or uint8. Integer tensors are
converted with *their own* scale and zero point, so a full-integer artifact is fed the same float32
normalised batch as every other runner. This module does not import TensorFlow: LiteRT alone runs
the file, which keeps the camera loop and the bench light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.config import Normalisation
from edgeseg.errors import ConfigError, DataError, RunError, first_line
from edgeseg.artifact import TensorSpec, manifest_normalisation

# Tensor types an edgeseg artifact may expose at its edges (float IO keeps QUANTIZE inside).
IO_DTYPES = ("float32", "int8", "uint8")


class TFLiteRunner:
    """Runner over one ``.tflite`` file; N images are run one at a time (the file is batch 1).

    Attributes:
        name: ``"tflite"`` (for tables).
        path: the model file.
        input_size: ``(H, W)`` the model takes.
        normalisation: how uint8 pixels become its float input (see :class:`Normalisation`).
        input_spec, output_spec: the tensors as the file declares them (dtype, scale, zero point).
    """

    name: str = "tflite"

    def __init__(
        self, path: Path, normalisation: Normalisation, *, num_threads: int | None = None, xnnpack: bool = True
    ) -> None:
        """Load and check ``path``.

        Args:
            path: a ``.tflite`` file.
            normalisation: the input range the model was trained with.
            num_threads: CPU threads for the interpreter (None: LiteRT's default).
            xnnpack: apply LiteRT's default XNNPACK delegate (the fast CPU path); False runs the
                builtin kernels only, which is how to tell a delegate problem from a model problem.

        Raises:
            ConfigError: ``num_threads`` below 1.
            RunError: the file is missing, not a TFLite model (corrupt, truncated), or a model
                that is not a ``(1, H, W, 3) -> (1, H, W, 1)`` float32/int8/uint8 segmenter.
        """
        if num_threads is not None and num_threads < 1:
            raise ConfigError(f"num_threads must be >= 1, got {num_threads}")
        self.path = Path(path)
        self.normalisation = normalisation
        self.num_threads = num_threads
        self.xnnpack = xnnpack
        if not self.path.is_file():
            raise RunError(f"{self.path}: no such TFLite file")
        self._interpreter = _open(self.path, num_threads=num_threads, xnnpack=xnnpack)
        self.input_spec, self.output_spec = check_contract(self._interpreter, self.path)
        self.input_size = (int(self.input_spec.shape[1]), int(self.input_spec.shape[2]))
        self._in_index = self._interpreter.get_input_details()[0]["index"]
        self._out_index = self._interpreter.get_output_details()[0]["index"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) float32 normalised input -> (N, H, W, 1) float32 probabilities.

        Raises:
            DataError: ``x`` is not ``(N, H, W, 3)`` at this model's input size.
            RunError: the interpreter fails while running.
        """
        x = np.asarray(x, np.float32)
        h, w = self.input_size
        if x.ndim != 4 or x.shape[1:] != (h, w, 3):
            raise DataError(f"{self.path}: takes (N, {h}, {w}, 3) input, got {x.shape}")
        q = quantize(x, self.input_spec)
        out = np.empty((len(x), h, w, 1), np.float32)
        # The file has a fixed batch of 1 (the phone case, and dynamic batch adds shape ops).
        for i in range(len(x)):
            self._interpreter.set_tensor(self._in_index, q[i : i + 1])
            try:
                self._interpreter.invoke()
            except (RuntimeError, ValueError) as e:
                raise RunError(f"{self.path}: LiteRT failed while running the model ({first_line(e)})") from e
            out[i] = dequantize(self._interpreter.get_tensor(self._out_index), self.output_spec)[0]
        return out

    def __repr__(self) -> str:
        return f"TFLiteRunner({str(self.path)!r}, input={self.input_spec.dtype}{self.input_spec.shape})"


def load_tflite(path: Path, normalisation: Normalisation | None, num_threads: int | None = None) -> TFLiteRunner:
    """The loader registered for ``.tflite``: ``normalisation`` if given, else the one recorded in
    the artifact's ``manifest.json`` beside the file, else the default [0, 1] range."""
    if normalisation is None:
        normalisation = manifest_normalisation(path) or Normalisation()
    return TFLiteRunner(Path(path), normalisation, num_threads=num_threads)


def quantize(x: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """float32 -> the tensor's dtype: ``q = clip(round(x / scale) + zero_point)`` for int8/uint8,
    unchanged for float32."""
    if spec.dtype == "float32":
        return np.ascontiguousarray(x, np.float32)
    dtype = np.dtype(spec.dtype)
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, np.float32) / np.float32(spec.scale)) + spec.zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """The tensor's dtype -> float32: ``(q - zero_point) * scale`` for int8/uint8."""
    if spec.dtype == "float32":
        return np.asarray(q, np.float32)
    return ((q.astype(np.float32) - np.float32(spec.zero_point)) * np.float32(spec.scale)).astype(np.float32)


def check_contract(interpreter: Any, path: Path) -> tuple[TensorSpec, TensorSpec]:
    """The (input, output) specs of a loaded interpreter, checked against the segmenter contract.

    Raises:
        RunError: not exactly one ``(1, H, W, 3)`` input and one ``(1, H, W, 1)`` output, or a
            tensor type other than float32/int8/uint8, or an integer tensor without a scale.
    """
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise RunError(
            f"{path}: not an edgeseg segmenter: it has {len(inputs)} inputs and {len(outputs)} outputs, expected 1 and 1"
        )
    src, dst = _spec(inputs[0]), _spec(outputs[0])
    for role, spec in (("input", src), ("output", dst)):
        if spec.dtype not in IO_DTYPES:
            raise RunError(f"{path}: not an edgeseg segmenter: its {role} is {spec.dtype}, expected one of {', '.join(IO_DTYPES)}")
        if spec.dtype != "float32" and not spec.scale:
            raise RunError(f"{path}: its {spec.dtype} {role} has no quantization scale, so it cannot be fed or read")
    if len(src.shape) != 4 or src.shape[0] != 1 or src.shape[3] != 3 or min(src.shape) < 1:
        raise RunError(f"{path}: not an edgeseg segmenter: its input is {src.shape}, expected (1, H, W, 3)")
    expected = (1, src.shape[1], src.shape[2], 1)
    if dst.shape != expected:
        raise RunError(f"{path}: not an edgeseg segmenter: its output is {dst.shape}, expected {expected}")
    return src, dst


def tflite_specs(model: Path | bytes) -> tuple[TensorSpec, TensorSpec]:
    """Open a model file (or its bytes) without running it and return its checked (input, output)
    specs; used by the exporter to report what it wrote."""
    name = model if isinstance(model, Path) else Path("<model bytes>")
    return check_contract(_open(model, num_threads=1, xnnpack=False), name)


# --- helpers -------------------------------------------------------------------------------


def _open(model: Path | bytes, *, num_threads: int | None, xnnpack: bool) -> Any:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    source = {"model_path": str(model)} if isinstance(model, Path) else {"model_content": bytes(model)}
    try:
        interpreter = Interpreter(**source, num_threads=num_threads, experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        where = model if isinstance(model, Path) else "<model bytes>"
        raise RunError(f"{where}: not a loadable TFLite model ({first_line(e)})") from e
    return interpreter


def _spec(detail: dict[str, Any]) -> TensorSpec:
    dtype = np.dtype(detail["dtype"]).name
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if dtype == "float32" or not scale:
        return TensorSpec(str(detail["name"]), tuple(int(d) for d in detail["shape"]), dtype)
    return TensorSpec(str(detail["name"]), tuple(int(d) for d in detail["shape"]), dtype, float(scale), int(zero_point))


__all__ = ["IO_DTYPES", "TFLiteRunner", "check_contract", "dequantize", "load_tflite", "quantize", "tflite_specs"]
