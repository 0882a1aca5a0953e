"""What machine a benchmark ran on (CPU model and flags, cores, library versions) and its
measured float32 matrix-multiply peak, so figures from different machines can be compared."""

from __future__ import annotations

import os
import platform
import time
from functools import lru_cache
from importlib import metadata
from typing import Any

import numpy as np

# SIMD features that decide which int8/fp32 kernels the runtimes can use.
FLAGS_OF_INTEREST = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
                     "amx_int8", "amx_bf16", "neon", "asimd", "asimddp", "sve")
LIBRARIES = ("tensorflow", "tf_keras", "ai-edge-litert", "onnxruntime", "onnxruntime-gpu", "onnx", "tf2onnx",
             "tensorflow-model-optimization", "numpy", "opencv-python-headless", "edgeseg")


@lru_cache(maxsize=1)
def machine_info() -> dict[str, Any]:
    """CPU model, SIMD flags present, logical cores usable by this process, OS, Python, library versions."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model") and value.strip():
                    model = value.strip()
                elif key in ("flags", "Features"):
                    flags = set(value.split())
    except OSError:
        pass
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": model,
        "cpu_flags": [f for f in FLAGS_OF_INTEREST if f in flags],
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "libraries": versions,
    }


def has_vnni(info: dict[str, Any] | None = None) -> bool:
    flags = (info or machine_info())["cpu_flags"]
    return any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8"))


def gemm_gflops(n: int = 1024, repeats: int = 15) -> float:
    """Best float32 GFLOP/s of ``n×n @ n×n`` over ``repeats`` runs with numpy's BLAS, in this
    process (its thread count is fixed by OPENBLAS_NUM_THREADS/OMP_NUM_THREADS at start-up)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)  # warm-up: page in, spin up threads
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter_ns() - t0)
    return 2 * n**3 / best  # FLOP per ns == GFLOP/s


def all_cpu_flags() -> set[str]:
    """Every flag /proc/cpuinfo lists (empty where there is no /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(value.split())
    except OSError:
        pass
    return set()
