"""One benchmark measurement in its own process: ``python -m edgeseg.bench.worker`` reads a JSON
job on stdin and prints one JSON result line.

A process per row keeps the figures honest: thread pools (TF's especially) are fixed when a
runtime starts, the peak resident memory belongs to this one artifact, and a crash or hang
in one runtime cannot take the others down.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def infer(job: dict[str, Any]) -> dict[str, Any]:
    from edgeseg.bench.runtimes import BENCH_RUNTIMES
    from edgeseg.runtime.timing import time_runner

    rt = BENCH_RUNTIMES.get(job["runtime"])
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    runner = rt.load(Path(job["artifact"]), int(job["threads"]))
    load_s = time.perf_counter() - t0
    timing = time_runner(runner, batch=int(job["batch"]), warmup=int(job["warmup"]),
                         min_runs=int(job["min_runs"]), min_seconds=float(job["min_seconds"]))
    out = {"timing": timing.to_dict(), "load_s": load_s, "rss_before_load_mb": rss0,
           "peak_rss_mb": _peak_rss_mb(), "input_size": list(runner.input_size)}
    if hasattr(runner, "providers"):
        out["providers"] = list(runner.providers)
    if job.get("frame"):
        from edgeseg.bench.frame import time_frame

        out["frame"] = time_frame(runner, job["frame"], warmup=int(job["warmup"]), min_runs=int(job["min_runs"]),
                                  min_seconds=float(job["min_seconds"]))
    return out


def gemm(job: dict[str, Any]) -> dict[str, Any]:
    from edgeseg.bench.system import gemm_gflops

    return {"gflops": max(gemm_gflops(int(job.get("n", 1024))) for _ in range(int(job.get("rounds", 3))))}


def peak_build(job: dict[str, Any]) -> dict[str, Any]:
    """Write the fp32 and int8 FULLY_CONNECTED peak kernels (edgeseg.bench.peak) into job["folder"]."""
    from edgeseg.bench.peak import matmul_tflite
    from edgeseg.io import write_bytes

    out = {}
    for kind in ("fp32", "int8"):
        out[kind] = str(write_bytes(Path(job["folder"]) / f"matmul_{kind}.tflite", matmul_tflite(kind == "int8")))
    return {"files": out}


def peak(job: dict[str, Any]) -> dict[str, Any]:
    from edgeseg.bench.peak import time_matmul

    return time_matmul(Path(job["file"]), int(job["threads"]))


def auto(job: dict[str, Any]) -> dict[str, Any]:
    """``--runtime auto``'s measurement: every candidate (artifact, runtime) loaded in this process,
    then timed in ``rounds`` interleaved rounds of ``runs`` calls, so that every candidate sees the
    same machine load; a candidate's figure is the median of its per-round p50s. A candidate that
    fails to load or run gets its error instead."""
    import numpy as np

    from edgeseg.bench.runtimes import BENCH_RUNTIMES
    from edgeseg.errors import first_line
    from edgeseg.runtime.timing import time_runner

    threads = int(job["threads"])
    results: list[dict[str, Any]] = []
    runners: dict[int, Any] = {}
    for i, c in enumerate(job["candidates"]):
        results.append({})
        try:
            runners[i] = BENCH_RUNTIMES.get(c["runtime"]).load(Path(c["artifact"]), threads)
        except Exception as e:  # noqa: BLE001 - recorded for this candidate; the others still run
            results[i]["error"] = f"{type(e).__name__}: {first_line(e)}"
    p50s: dict[int, list[float]] = {i: [] for i in runners}
    for rnd in range(int(job["rounds"])):
        for i in list(runners):
            try:
                t = time_runner(runners[i], warmup=int(job["warmup"]) if rnd == 0 else 0, min_runs=int(job["runs"]),
                                min_seconds=0.0)
            except Exception as e:  # noqa: BLE001
                results[i]["error"] = f"{type(e).__name__}: {first_line(e)}"
                del runners[i]
                continue
            p50s[i].append(t.p50_ms)
    for i in runners:
        results[i]["p50_ms"] = float(np.median(p50s[i]))
    return {"results": results}


JOBS = {"infer": infer, "gemm": gemm, "peak_build": peak_build, "peak": peak, "auto": auto}


def main() -> int:
    job = json.loads(sys.stdin.read())
    try:
        result = {"ok": True, **JOBS[job["kind"]](job)}
    except Exception as e:  # the parent records the reason in the row; one failure never stops the bench
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        result = {"ok": False, "error": f"{type(e).__name__}: {first}", "traceback": traceback.format_exc()}
    print("EDGESEG_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
