"""Run an ``.onnx`` segmentation model (float32 or int8 QDQ) with ONNX Runtime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeseg.config import Normalisation
from edgeseg.errors import RunError, first_line

CPU = "CPUExecutionProvider"


class OnnxRunner:
    """Runner over an ONNX Runtime session.

    Takes ``(N, h, w, 3)`` float32 normalised NHWC input whatever the model's layout: NCHW models
    (``layout == "NCHW"``, detected from the input shape) get the input transposed. A model with a
    fixed batch (edgeseg exports batch 1) is fed in chunks of that size; a dynamic batch in one run.

    Args:
        path: the ``.onnx`` file.
        normalisation: how the caller made the input (recorded, not applied here).
        num_threads: ONNX Runtime intra-op threads (None: ORT's default, one per core).
        providers: execution providers in order of preference (default: CPU only); those this
            ORT build lacks are skipped, and ``providers`` (the attribute) says which run.

    Raises:
        RunError: none of ``providers`` is available; the file is missing, not an ONNX model,
            or not a segmentation model
            (input ``(N, H, W, 3)`` / ``(N, 3, H, W)`` float, output ``(N, H, W, 1)``).
    """

    name: str = "onnx"
    path: Path
    input_size: tuple[int, int]  # (h, w)
    layout: str  # "NHWC" or "NCHW": the model's input layout (the runner always takes NHWC)
    normalisation: Normalisation

    def __init__(
        self,
        path: Path,
        normalisation: Normalisation,
        *,
        num_threads: int | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self.normalisation = normalisation
        if not self.path.is_file():
            raise RunError(f"{self.path}: no such ONNX file")
        # A preference list, as ORT reads it: ["CUDAExecutionProvider", "CPUExecutionProvider"]
        # runs on CUDA where this ORT build has it, on the CPU elsewhere (see ``providers``).
        wanted = list(providers) if providers else [CPU]
        usable = [p for p in wanted if p in ort.get_available_providers()]
        if not usable:
            raise RunError(
                f"{self.path}: this ONNX Runtime has none of {', '.join(wanted)}; "
                f"available: {', '.join(ort.get_available_providers())}"
            )
        options = ort.SessionOptions()
        # ORT's C++ logger writes warnings to stderr at every session start (e.g. one line per
        # Resize node of tf2onnx's SegNet export); they would bury the CLI's one-line output.
        options.log_severity_level = 3
        if num_threads is not None:
            options.intra_op_num_threads = int(num_threads)
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=usable)
        except Exception as e:  # ORT's pybind errors (InvalidProtobuf, Fail, ...) derive from Exception only
            raise RunError(f"{self.path}: not a loadable ONNX model ({first_line(e)})") from e
        self.providers: list[str] = self._session.get_providers()  # what actually runs, for reports
        self._check_signature()

    def _check_signature(self) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise RunError(f"{self.path}: expected one image input and one output, found {len(inputs)} and {len(outputs)}")
        inp, out = inputs[0], outputs[0]
        shape = list(inp.shape)
        if inp.type != "tensor(float)" or len(shape) != 4:
            raise RunError(f"{self.path}: input {inp.name!r} is {inp.type} {shape}, not a float (N, H, W, 3) image")
        if shape[3] == 3:
            self.layout, (h, w) = "NHWC", shape[1:3]
        elif shape[1] == 3:
            self.layout, (h, w) = "NCHW", shape[2:4]
        else:
            raise RunError(f"{self.path}: input {inp.name!r} has shape {shape}, neither (N, H, W, 3) nor (N, 3, H, W)")
        if not (isinstance(h, int) and isinstance(w, int)):
            raise RunError(f"{self.path}: input {inp.name!r} has no fixed height and width ({shape})")
        out_shape = list(out.shape)
        if out.type != "tensor(float)" or len(out_shape) != 4 or out_shape[3] != 1 or out_shape[1:3] != [h, w]:
            raise RunError(
                f"{self.path}: output {out.name!r} is {out.type} {out_shape}, "
                f"not (N, {h}, {w}, 1) float probabilities"
            )
        self.input_size = (h, w)
        self._input, self._output = inp.name, out.name
        # A fixed batch (edgeseg exports 1: phone EPs need static shapes) is fed in chunks.
        self._batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, h, w, 3)`` float32 normalised NHWC -> ``(N, h, w, 1)`` float32 probabilities."""
        x = np.asarray(x, np.float32)
        h, w = self.input_size
        if x.ndim != 4 or x.shape[1:] != (h, w, 3):
            raise RunError(f"{self.path}: expects (N, {h}, {w}, 3) float32 input, got {x.shape}")
        if self.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        n = len(x)
        if n == 0:
            return np.zeros((0, h, w, 1), np.float32)
        step = self._batch or n
        outs = []
        for start in range(0, n, step):
            chunk = np.ascontiguousarray(x[start : start + step])
            short = step - len(chunk)
            if short:  # only a fixed batch > 1 has a short last chunk: pad, then drop the padding
                chunk = np.concatenate([chunk, np.zeros((short, *chunk.shape[1:]), np.float32)])
            out = self._session.run([self._output], {self._input: chunk})[0]
            outs.append(out[: step - short])
        return np.concatenate(outs).astype(np.float32, copy=False)


def load_onnx(path: Path, normalisation: Normalisation | None, num_threads: int | None = None) -> OnnxRunner:
    """The ``RUNNERS`` loader for ``.onnx`` (CPU provider; ORT's default thread count unless given)."""
    return OnnxRunner(Path(path), normalisation or Normalisation(), num_threads=num_threads)

