"""``edgeseg bench``: every artifact × runtime × thread count × batch, each measured in its own
worker process, with the machine's measured and theoretical peaks from the same run.

Measuring is :mod:`edgeseg.bench.measure` (rows as :class:`~edgeseg.bench.measure.BenchRow`);
reporting is :mod:`edgeseg.bench.report`. This module runs the one, then the other, inside one
folder that appears whole or not at all.

Output folder (``runs/bench/bench[-N]`` unless ``--out``)::

    results.jsonl / results.csv   one row per measurement, with machine, versions and sha256
    summary.json                  peaks (measured and theoretical), camera frame, targets
    report.md                     the table, the peaks, the targets and the machine
    pareto.png                    Dice against p50 latency, point size = file size
    bench_config.json             the frozen BenchConfig
    peak/                         the peak kernels that were timed
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from edgeseg.bench.measure import Artifact, BenchConfig, BenchReport, measure
from edgeseg.bench.report import write_outputs
from edgeseg.io import atomic_dir, next_free_path, write_json


def bench(artifacts: list[Artifact], cfg: BenchConfig, out: Path | None = None,
          frame_image: Path | None = None) -> BenchReport:
    """Measure every (artifact, runtime, threads, batch), write the report files, return the report
    (its ``folder`` is the final folder)."""
    folder = next_free_path(out or Path("runs/bench/bench"))
    # Measured under a hidden name, renamed into place whole: a failure leaves no half report.
    with atomic_dir(folder) as tmp:
        write_json(tmp / "bench_config.json", asdict(cfg))
        report = measure(artifacts, cfg, tmp, frame_image)
        write_outputs(report)
    report.folder = folder
    return report
