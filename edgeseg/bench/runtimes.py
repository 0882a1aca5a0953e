"""Benchmark runtimes: a registry of the ways an artifact can be run, each with the file
suffixes it accepts and a check that says, in words, why it cannot run here.

Rows for a runtime that cannot run here are kept with status "not supported here" and the reason
(e.g. "no GPU"), never dropped, so a table from a CPU machine shows what it did not measure.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.formats import suffixes
from edgeseg.registry import Registry


@dataclass(frozen=True)
class BenchRuntime:
    """One way to run an artifact.

    Attributes:
        name: the runtime's name in tables and ``--runtime``.
        suffixes: model file suffixes it runs (:func:`edgeseg.formats.suffixes` of its formats).
        device: "cpu" or "gpu".
        summary: one line for ``--help`` and the report.
        available: () -> None when it can run here, else the reason it cannot.
        load: (path, threads) -> Runner. Runs inside the worker process only.
    """

    name: str
    suffixes: tuple[str, ...]
    device: str
    summary: str
    available: Callable[[], str | None] = field(repr=False, compare=False)
    load: Callable[[Path, int], Any] = field(repr=False, compare=False)


BENCH_RUNTIMES: Registry[BenchRuntime] = Registry("bench runtime")


def _always() -> str | None:
    return None


def _gpu_reason() -> str | None:
    # nvidia-smi answers without importing TF (importing TF would cost seconds per check).
    import shutil
    import subprocess

    if not shutil.which("nvidia-smi"):
        return "no GPU"
    try:
        subprocess.run(["nvidia-smi", "-L"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "no GPU (nvidia-smi failed)"
    return None


def _ort_provider_reason(provider: str) -> Callable[[], str | None]:
    def check() -> str | None:
        gpu = _gpu_reason()
        if gpu:
            return gpu
        import onnxruntime as ort

        if provider not in ort.get_available_providers():
            return f"this onnxruntime build has no {provider}"
        return None

    return check


def _manifest_norm(path: Path) -> Any:
    from edgeseg.artifact import manifest_normalisation
    from edgeseg.config import Normalisation

    return manifest_normalisation(path) or Normalisation()


def _keras(predict: bool, gpu: bool) -> Callable[[Path, int], Any]:
    def load(path: Path, threads: int) -> Any:
        if not gpu:
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        from edgeseg._keras import tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1 if threads == 1 else 2)
        from edgeseg.runtime.keras_runner import KerasRunner, load_keras_model

        model = load_keras_model(path)
        runner = KerasRunner(model, path, _manifest_norm(path))
        if predict:
            # What a newcomer writes first: model.predict on one image (a tf.data pipeline per call).
            return _PredictRunner(runner)
        return runner

    return load


class _PredictRunner:
    def __init__(self, base: Any) -> None:
        self._base = base
        self.name, self.path = "keras-predict", base.path
        self.input_size, self.normalisation = base.input_size, base.normalisation

    def __call__(self, x: Any) -> Any:
        return self._base.model.predict(x, verbose=0)


def _tflite(xnnpack: bool) -> Callable[[Path, int], Any]:
    def load(path: Path, threads: int) -> Any:
        from edgeseg.runtime.tflite_runner import TFLiteRunner

        return TFLiteRunner(path, _manifest_norm(path), num_threads=threads, xnnpack=xnnpack)

    return load


def _ort(provider: str) -> Callable[[Path, int], Any]:
    def load(path: Path, threads: int) -> Any:
        from edgeseg.runtime.onnx_runner import OnnxRunner

        runner = OnnxRunner(path, _manifest_norm(path), num_threads=threads, providers=[provider])
        if runner.providers[0] != provider:
            raise RuntimeError(f"ONNX Runtime fell back to {runner.providers[0]}")
        return runner

    return load


for _r in (
    BenchRuntime("keras", suffixes("keras"), "cpu", "tf_keras, traced model(x) call (the float reference)",
                 _always, _keras(predict=False, gpu=False)),
    BenchRuntime("keras-predict", suffixes("keras"), "cpu", "tf_keras model.predict on the batch (the naive baseline)",
                 _always, _keras(predict=True, gpu=False)),
    BenchRuntime("tflite", suffixes("tflite"), "cpu", "LiteRT (ai_edge_litert) with XNNPACK", _always, _tflite(True)),
    BenchRuntime("tflite-builtin", suffixes("tflite"), "cpu", "LiteRT builtin kernels, XNNPACK off", _always, _tflite(False)),
    BenchRuntime("ort-cpu", suffixes("onnx"), "cpu", "ONNX Runtime, CPU execution provider", _always,
                 _ort("CPUExecutionProvider")),
    BenchRuntime("ort-cuda", suffixes("onnx"), "gpu", "ONNX Runtime, CUDA execution provider",
                 _ort_provider_reason("CUDAExecutionProvider"), _ort("CUDAExecutionProvider")),
    BenchRuntime("ort-tensorrt", suffixes("onnx"), "gpu", "ONNX Runtime, TensorRT execution provider",
                 _ort_provider_reason("TensorrtExecutionProvider"), _ort("TensorrtExecutionProvider")),
    BenchRuntime("keras-gpu", suffixes("keras"), "gpu", "tf_keras on the GPU (traced call)", _gpu_reason,
                 _keras(predict=False, gpu=True)),
):
    BENCH_RUNTIMES.add(_r.name, _r)


def runtimes_for(suffix: str) -> list[BenchRuntime]:
    return [BENCH_RUNTIMES.get(n) for n in BENCH_RUNTIMES.names() if suffix in BENCH_RUNTIMES.get(n).suffixes]
