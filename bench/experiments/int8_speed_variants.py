"""What was tried for the missed int8 speed target at 256x256 (docs/bench.md, "What was tried").

Run from the repo root, after exporting the shipped weights at 256x256 (EXPORT_256 is any folder):

    edgeseg export RUN -f tflite -f onnx -q fp32 -q static_wi8_ai8 --size 256x256 --out EXPORT_256
    X=bench/experiments/int8_speed_variants.py
    python $X quantize EXPORT_256/onnx_fp32/model.onnx --out VARIANTS    # VARIANTS/pre.onnx + 4 int8 files
    python $X ort VARIANTS/*.onnx EXPORT_256/onnx_static_wi8_ai8/model.onnx --no-spin
    python $X ort-levels VARIANTS/qdq_u8s8_rr.onnx VARIANTS/pre.onnx
    python $X xnnpack EXPORT_256/tflite_static_wi8_ai8_int8io/model.tflite EXPORT_256/tflite_fp32/model.tflite

Every figure is the median of --runs timed calls after 5 untimed ones, at --threads threads, on
one fixed input (ORT: uniform [0, 1) float32, seed 0; LiteRT: zeros of the input dtype). The
quoted figures used 2 threads, 40 calls for ONNX Runtime and 30 for LiteRT, with the training job
paused. A one-off study, not `edgeseg bench`: no worker process, no environment record.

This file replaces ort_quant_variants.py, ort_time_variants.py, ort_opt_levels.py and
xnnpack_flags.py (same timing code; they read fixed /tmp and /root paths).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

WARMUP = 5

# ONNX Runtime static int8 variants: format (QDQ or QOperator), activation/weight types, reduce_range.
ORT_VARIANTS = {
    "qdq_u8s8_rr": dict(quant_format="QDQ", activation_type="QUInt8", weight_type="QInt8", reduce_range=True),
    "qop_u8s8_rr": dict(quant_format="QOperator", activation_type="QUInt8", weight_type="QInt8", reduce_range=True),
    "qdq_s8s8": dict(quant_format="QDQ", activation_type="QInt8", weight_type="QInt8", reduce_range=False),
    "qop_u8u8": dict(quant_format="QOperator", activation_type="QUInt8", weight_type="QUInt8", reduce_range=False),
}


def median_ms(call: Callable[[], object], runs: int) -> float:
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def ort_session(path: Path, threads: int, level: object = None, spinning: bool = True):  # noqa: ANN201
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    if level is not None:
        so.graph_optimization_level = level
    if not spinning:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_ms(path: Path, threads: int, runs: int, **opts: object) -> float:
    session = ort_session(path, threads, **opts)
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    return median_ms(lambda: session.run(None, {inp.name: x}), runs)


def quantize(a: argparse.Namespace) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from edgeseg.config import Normalisation
    from edgeseg.data.images import list_images
    from edgeseg.export.onnx import _preprocess
    from edgeseg.quantize.calibration import calibration_array

    a.out.mkdir(parents=True, exist_ok=True)
    pre = _preprocess(a.fp32, a.out / "pre.onnx")
    inp = ort_session(pre, 1).get_inputs()[0]
    size = (inp.shape[1], inp.shape[2])  # NHWC, as edgeseg exports by default
    images = sorted(p for p in list_images(a.calib_dir) if p.suffix.lower() == ".jpg")[: a.calib_n]
    calib = calibration_array(images, size, Normalisation())

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{inp.name: calib[i : i + 1]} for i in range(len(calib))])

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    for name, v in ORT_VARIANTS.items():
        out = a.out / f"{name}.onnx"
        quantize_static(str(pre), str(out), Reader(), per_channel=True, quant_format=getattr(QuantFormat, v["quant_format"]),
                        activation_type=getattr(QuantType, v["activation_type"]),
                        weight_type=getattr(QuantType, v["weight_type"]), reduce_range=v["reduce_range"])
        print(f"wrote {out}")


def ort_times(a: argparse.Namespace) -> None:
    for path in a.models:
        print(f"{path.name}: {ort_ms(path, a.threads, a.runs):.1f} ms")
        if a.no_spin:
            print(f"{path.name} no-spin: {ort_ms(path, a.threads, a.runs, spinning=False):.1f} ms")


def ort_levels(a: argparse.Namespace) -> None:
    import onnxruntime as ort

    levels = ("ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL")
    for level in levels:
        for path in a.models:
            ms = ort_ms(path, a.threads, a.runs, level=getattr(ort.GraphOptimizationLevel, level))
            print(f"{path.name} {level}: {ms:.1f} ms")


def xnnpack(a: argparse.Namespace) -> None:
    from ai_edge_litert.interpreter import Interpreter

    def litert_ms(path: Path, **kw: object) -> float:
        it = Interpreter(model_path=str(path), num_threads=a.threads, **kw)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        x = np.zeros(d["shape"], d["dtype"])

        def call() -> None:
            it.set_tensor(d["index"], x)
            it.invoke()

        return median_ms(call, a.runs)

    for path in a.models:
        latest = litert_ms(path, experimental_default_delegate_latest_features=True)
        print(f"{path}: default {litert_ms(path):.1f} ms, latest features {latest:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="see the module docstring for the full recipe",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    q = sub.add_parser("quantize", help="write ORT's pre-processed fp32 model and four static int8 variants")
    q.add_argument("fp32", type=Path, help="an fp32 ONNX export (onnx_fp32/model.onnx)")
    q.add_argument("--out", type=Path, required=True, help="folder for pre.onnx and the variants")
    q.add_argument("--calib-dir", type=Path, default=Path("edgeseg/assets/isic2017_sample/train/images"),
                   help="calibration images (default: the embedded sample's train images)")
    q.add_argument("--calib-n", type=int, default=32, help="first N .jpg files, sorted (default 32)")
    q.set_defaults(run=quantize)

    for name, run, runs, helptext in (
        ("ort", ort_times, 40, "ONNX Runtime CPU p50 of each model"),
        ("ort-levels", ort_levels, 40, "ONNX Runtime p50 at graph optimisation BASIC, EXTENDED, ALL"),
        ("xnnpack", xnnpack, 30, "LiteRT + XNNPACK p50, default and experimental_default_delegate_latest_features"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("models", type=Path, nargs="+")
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--runs", type=int, default=runs, help=f"timed calls (default {runs})")
        if name == "ort":
            p.add_argument("--no-spin", action="store_true", help="also time each with intra-op spinning off")
        p.set_defaults(run=run)

    a = ap.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
