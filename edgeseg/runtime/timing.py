"""Wall-clock timing of a Runner: warm-up first, ``perf_counter_ns``, percentiles."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from edgeseg.runtime.base import Runner


@dataclass(frozen=True)
class Timing:
    """Latency of one call on a batch of ``batch`` images, in milliseconds."""

    runs: int
    batch: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float

    @property
    def fps(self) -> float:
        return 1000.0 * self.batch / self.p50_ms if self.p50_ms else float("inf")

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "fps": self.fps}


def time_runner(runner: Runner, *, batch: int = 1, warmup: int = 3, min_runs: int = 10,
                min_seconds: float = 1.0, seed: int = 0) -> Timing:
    """Time ``runner`` on random normalised input until both ``min_runs`` and ``min_seconds``
    are reached (after ``warmup`` untimed calls, which absorb lazy init and graph tracing)."""
    h, w = runner.input_size
    x = np.random.default_rng(seed).random((batch, h, w, 3), dtype=np.float32)
    for _ in range(warmup):
        runner(x)
    times: list[int] = []
    start = time.perf_counter_ns()
    while len(times) < min_runs or (time.perf_counter_ns() - start) < min_seconds * 1e9:
        t0 = time.perf_counter_ns()
        runner(x)
        times.append(time.perf_counter_ns() - t0)
    ms = np.asarray(times, np.float64) / 1e6
    return Timing(len(ms), batch, *(float(np.percentile(ms, q)) for q in (50, 90, 99)), float(ms.mean()), float(ms.std()))
