"""Throughput of ``edgeseg predict`` as a scale job: the local engine, and Ray with 1 and 2 workers,
over the 600 ISIC 2017 test images with the shipped int8 TFLite (one inference thread per worker).

    nice -n 5 .venv/bin/python bench/experiments/scale_throughput.py \
        ../shared/data/isic2017/test bench/results/scale/isic2017_test_throughput.json

Per engine: wall seconds for the whole job (Ray's start and stop included), Ray's start-up
(``ray.init``) and the time to the first finished shard (start-up plus actor start and model
load), and the steady rate after the first shard. Scaling efficiency = steady rate with N workers
/ (N x the 1-worker rate). The order of runs is local, ray x1, ray x2, repeated ``--repeats``
times, so a change of machine load hits every engine alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgeseg.defaults import DEFAULT_ARTIFACT
from edgeseg.io import write_json
from edgeseg.scale import JobConfig, make_items, resolve_inputs, run_job

RUNS = (("local", 1), ("ray", 1), ("ray", 2))


def cpu() -> dict[str, object]:
    info = Path("/proc/cpuinfo").read_text()
    model = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name"))
    flags = next(line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags"))
    return {"model_name": model, "cores": os.cpu_count(),
            "flags": sorted(f for f in flags if f.startswith(("avx512f", "avx512_vnni", "avx512_bf16", "avx2", "fma")))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    items = make_items(resolve_inputs(args.data))
    rows = []
    for r in range(args.repeats):
        for engine, workers in RUNS:
            with tempfile.TemporaryDirectory() as tmp:
                load = os.getloadavg()[0]
                t = time.perf_counter()
                res = run_job(JobConfig(model=str(DEFAULT_ARTIFACT), out=f"{tmp}/job", engine=engine, workers=workers), items)
                wall = time.perf_counter() - t
                th = res.summary["throughput"]
                row = {"repeat": r, "engine": engine, "workers": workers, "threads_per_worker": 1, "images": len(items),
                       "errors": res.summary["counts"]["errors"], "wall_seconds": round(wall, 2),
                       "images_per_second_end_to_end": round(len(items) / wall, 2),
                       "ray_init_seconds": th["engine_startup_seconds"], "first_shard_seconds": th["first_shard_seconds"],
                       "steady_images_per_second": th["steady_images_per_second"], "loadavg_1min_before": round(load, 2)}
                print(json.dumps(row), flush=True)
                rows.append(row)

    def best(engine: str, workers: int, key: str) -> float:
        return max(x[key] for x in rows if x["engine"] == engine and x["workers"] == workers)

    one, two, local = best("ray", 1, "steady_images_per_second"), best("ray", 2, "steady_images_per_second"), \
        best("local", 1, "steady_images_per_second")
    summary = {
        "local_images_per_second": local, "ray1_images_per_second": one, "ray2_images_per_second": two,
        "scaling_efficiency_2_workers": round(two / (2 * one), 3),
        "ray1_vs_local": round(one / local, 3),
        "ray_fixed_startup_seconds": min(x["first_shard_seconds"] for x in rows if x["engine"] == "ray"),
        "projected_images_per_hour_per_worker_core": round(one * 3600),
    }
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    write_json(args.out, {
        "command": "nice -n 5 .venv/bin/python " + " ".join(sys.argv),
        "model": str(DEFAULT_ARTIFACT.relative_to(Path.cwd())) if DEFAULT_ARTIFACT.is_relative_to(Path.cwd()) else str(DEFAULT_ARTIFACT),
        "data": args.data, "cpu": cpu(), "python": platform.python_version(), "git": git,
        "note": "machine shared with a background training job; run under nice -n 5; ratios within one run matter more than absolutes",
        "summary": summary, "runs": rows,
    })
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
