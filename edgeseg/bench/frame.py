"""The camera-loop frame as a benchmark stage: JPEG decode of a 720p frame (what an MJPEG
camera delivers) -> preprocess -> infer -> post-process + hints -> overlay, against the raw
inference of the same runner measured in the same process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeseg.runtime.base import Runner
from edgeseg.screen.frame import preprocess_frame


def camera_frame_jpeg(image: str | Path, size: tuple[int, int] = (720, 1280)) -> bytes:
    """A real image resized to a camera frame of ``size`` (h, w), JPEG-encoded at quality 90."""
    from edgeseg.data.decode import read_image

    rgb = cv2.resize(read_image(image), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def decode_frame(jpeg: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def time_frame(runner: Runner, spec: dict[str, Any], *, warmup: int = 3, min_runs: int = 10,
               min_seconds: float = 1.0) -> dict[str, Any]:
    """p50 of a full frame and of the raw inference alone, interleaved so both see the same machine load."""
    from edgeseg.screen.process import STAGES, FrameProcessor

    jpeg = camera_frame_jpeg(spec["image"], tuple(spec.get("size", (720, 1280))))
    proc = FrameProcessor(runner)
    x_in, _, _ = preprocess_frame(decode_frame(jpeg), runner.input_size, runner.normalisation)
    for _ in range(warmup):
        proc(decode_frame(jpeg))
        runner(x_in)
    frame_ns, raw_ns, stages = [], [], {s: [] for s in ("decode", *STAGES)}
    start = time.perf_counter_ns()
    while len(frame_ns) < min_runs or time.perf_counter_ns() - start < min_seconds * 1e9:
        t0 = time.perf_counter_ns()
        frame = decode_frame(jpeg)
        t1 = time.perf_counter_ns()
        r = proc(frame)
        t2 = time.perf_counter_ns()
        runner(x_in)
        t3 = time.perf_counter_ns()
        frame_ns.append(t2 - t0)
        raw_ns.append(t3 - t2)
        stages["decode"].append((t1 - t0) / 1e6)
        for s in STAGES:
            stages[s].append(r.latency_ms[s])
    frame_p50, raw_p50 = float(np.median(frame_ns)) / 1e6, float(np.median(raw_ns)) / 1e6
    return {"frame_size": list(spec.get("size", (720, 1280))), "runs": len(frame_ns), "frame_p50_ms": frame_p50,
            "inference_p50_ms": raw_p50, "frame_over_inference": frame_p50 / raw_p50,
            "stage_p50_ms": {s: float(np.median(v)) for s, v in stages.items()}}
