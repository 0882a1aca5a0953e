"""The machine's matrix-multiply peak, measured through the same path the models run on, and the
theoretical peak from the CPU's flags beside it.

Measured: one large FULLY_CONNECTED (``(m, k) @ (k, n)``, no bias) built with tf_keras, converted
to TFLite in float32 and in full int8, and run with LiteRT + XNNPACK (the ``tflite`` bench runtime)
at the bench's thread counts. The int8 kernel uses VNNI where the CPU has it, like the models.
numpy's GEMM is not a peak here: OPENBLAS_CORETYPE pins OpenBLAS to older kernels (STACK.md).

Theoretical: ``lanes x FMA units x 2 (multiply + add) x cores x clock``. Assumptions, named in the
report: the clock is /proc/cpuinfo's "cpu MHz" (the base clock a VM reports; boost can exceed
it, so a measured figure above the theoretical one means boost, not an error); two FMA pipes per
core; each thread a physical core (SMT siblings would share the pipes and halve it); 512-bit
vectors with avx512f (Zen 4 splits them into two 256-bit halves: a single-pumped 512-bit
datapath counts 8 lanes for fp32 at the same throughput, which is why Zen 4 is named apart);
int8 with VNNI: vpdpbusd does 4 multiply-adds per 32-bit lane; int8 without VNNI: the
vpmaddubsw + vpmaddwd pair gives about 2 multiply-adds per 32-bit lane per FMA-slot.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

# A 3x3 conv over 128 channels as a GEMM (k = 9 x 128): the shape our U-Net's convs hand XNNPACK,
# weights 590 KB in float32 (fit in L2). A square 1024^3 reached only a third of this in fp32.
M, K, N = 2048, 1152, 128


@dataclass(frozen=True)
class TheoreticalPeak:
    """Peak GFLOP/s (fp32) and GOP/s (int8) from the CPU flags, for ``threads`` threads."""

    threads: int
    clock_ghz: float | None
    fp32_lanes: int
    fma_units: int
    int8_macs_per_lane: int
    fp32_gflops: float | None
    int8_gops: float | None
    assumptions: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_clock_ghz() -> float | None:
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(line.split(":")[1]) for line in f if line.startswith("cpu MHz")]
    except (OSError, ValueError):
        return None
    return max(mhz) / 1e3 if mhz else None


def theoretical_peak(flags: set[str] | list[str], threads: int, clock_ghz: float | None = None) -> TheoreticalPeak:
    flags = set(flags)
    clock = clock_ghz if clock_ghz is not None else cpu_clock_ghz()
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags or "avx" in flags else 4
    fma = 2 if "fma" in flags or "avx512f" in flags else 1
    vnni = bool(flags & {"avx512_vnni", "avx_vnni"})
    per_lane = 4 if vnni else 2
    fp32 = lanes * fma * 2 * threads * clock if clock else None
    int8 = lanes * fma * per_lane * 2 * threads * clock if clock else None
    why = (f"{lanes} fp32 lanes ({'avx512f' if lanes == 16 else 'avx2' if lanes == 8 else 'sse'}), {fma} FMA units, "
           f"int8 {per_lane} MACs per 32-bit lane ({'VNNI' if vnni else 'no VNNI: vpmaddubsw+vpmaddwd'}), "
           f"{threads} thread(s) taken as physical cores, clock {clock:.3f} GHz from /proc/cpuinfo (base; boost may exceed)"
           if clock else "clock unknown")
    return TheoreticalPeak(threads, clock, lanes, fma, per_lane, fp32, int8, why)


def matmul_tflite(int8: bool, m: int = M, k: int = K, n: int = N) -> bytes:
    """A TFLite model of one FULLY_CONNECTED ``(m, k) @ (k, n)``, float32 or full int8 (int8 IO)."""
    from edgeseg._keras import keras, tf

    x = keras.Input(shape=(k,), batch_size=m, name="a")
    y = keras.layers.Dense(n, use_bias=False, name="b")(x)
    model = keras.Model(x, y)
    model.layers[-1].set_weights([np.random.default_rng(0).standard_normal((k, n)).astype(np.float32) / np.sqrt(k)])
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(1)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([rng.standard_normal((m, k)).astype(np.float32)] for _ in range(4))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    return conv.convert()


def time_matmul(model: Path | bytes, threads: int, min_runs: int = 20, min_seconds: float = 0.5) -> dict[str, Any]:
    """Best and median GFLOP/s (GOP/s for int8) of the FULLY_CONNECTED model on LiteRT + XNNPACK."""
    from ai_edge_litert.interpreter import Interpreter

    content = model.read_bytes() if isinstance(model, Path) else model
    it = Interpreter(model_content=content, num_threads=threads)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    m, k = (int(v) for v in d["shape"])
    n = int(it.get_output_details()[0]["shape"][1])
    x = np.random.default_rng(0).integers(-100, 100, (m, k)).astype(d["dtype"]) if d["dtype"] != np.float32 \
        else np.random.default_rng(0).standard_normal((m, k)).astype(np.float32)
    it.set_tensor(d["index"], x)
    for _ in range(3):
        it.invoke()
    times = []
    start = time.perf_counter_ns()
    while len(times) < min_runs or time.perf_counter_ns() - start < min_seconds * 1e9:
        t0 = time.perf_counter_ns()
        it.invoke()
        times.append(time.perf_counter_ns() - t0)
    ops = 2 * m * k * n
    return {"m": int(m), "k": int(k), "n": int(n), "dtype": np.dtype(d["dtype"]).name, "runs": len(times),
            "best": ops / min(times), "p50": ops / float(np.median(times))}
