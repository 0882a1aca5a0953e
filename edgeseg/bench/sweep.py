"""``edgeseg bench --sweep``: how latency grows with input size and with width.

Each (width, size) cell is a freshly initialised model converted to fp32 TFLite and timed with
LiteRT + XNNPACK in a worker process (latency does not depend on the weight values). The
measured exponents are fitted by least squares in log-log space and printed beside the ideal
ones: ×1 in pixels (convolutions cost per pixel) and ×2 in width (channels in × channels out).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.bench.measure import run_worker
from edgeseg.bench.system import machine_info
from edgeseg.errors import ConfigError
from edgeseg.io import atomic_dir, next_free_path, write_json, write_text

WIDTHS = {"unet_w025": 0.25, "unet_w050": 0.5, "unet_w100": 1.0}
SIZES = ((128, 128), (192, 256), (256, 256), (384, 384))


@dataclass(frozen=True)
class SweepConfig:
    models: tuple[str, ...] = tuple(WIDTHS)
    sizes: tuple[tuple[int, int], ...] = SIZES
    threads: int = 0  # 0: all cores
    min_runs: int = 5
    min_seconds: float = 1.0

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in WIDTHS]
        if unknown:
            raise ConfigError(f"--sweep takes the U-Net widths {', '.join(WIDTHS)}; not {', '.join(unknown)}")
        bad = [s for s in self.sizes if s[0] % 16 or s[1] % 16]
        if bad:
            raise ConfigError(f"U-Net sizes must be multiples of 16, got {', '.join(f'{h}x{w}' for h, w in bad)}")


def fit_exponent(x: list[float], y: list[float]) -> float | None:
    """Slope of log y against log x (None with fewer than two distinct x)."""
    if len(set(x)) < 2:
        return None
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def sweep(cfg: SweepConfig, out: Path | None = None) -> dict[str, Any]:
    from edgeseg.export.formats import FORMATS, WriteOptions
    from edgeseg.models import create_model
    from edgeseg.models.stats import count_macs
    from edgeseg.plots import sweep_plot
    from edgeseg.progress import track
    from edgeseg.quantize.recipes import RECIPES

    threads = cfg.threads or machine_info()["cores"]
    folder = next_free_path(out or Path("runs/bench/sweep"))
    points = []
    cells = [(m, s) for m in cfg.models for s in cfg.sizes]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (h, w) in track(cells, "sweep", total=len(cells)):
            model = create_model(name, (h, w, 3))
            macs = count_macs(model)
            file = Path(tmp) / f"{name}_{h}x{w}.tflite"
            FORMATS.get("tflite").write(model, file, RECIPES.get("fp32"), None, WriteOptions())
            r = run_worker({"kind": "infer", "artifact": str(file), "runtime": "tflite", "threads": threads, "batch": 1,
                            "warmup": 2, "min_runs": cfg.min_runs, "min_seconds": cfg.min_seconds}, threads, 1800)
            point = {"model": name, "width": WIDTHS[name], "size": f"{h}x{w}", "pixels": h * w, "macs": macs,
                     "params": int(model.count_params()), "threads": threads}
            if r.get("ok"):
                point.update(p50_ms=r["timing"]["p50_ms"], gflops=2 * macs / r["timing"]["p50_ms"] / 1e6)
            else:
                point.update(p50_ms=None, error=r.get("error"))
            points.append(point)
    ok = [p for p in points if p.get("p50_ms")]
    exps = {"pixels": {}, "width": {}}
    for name in cfg.models:
        pts = [p for p in ok if p["model"] == name]
        exps["pixels"][name] = fit_exponent([p["pixels"] for p in pts], [p["p50_ms"] for p in pts])
    for h, w in cfg.sizes:
        pts = [p for p in ok if p["size"] == f"{h}x{w}"]
        exps["width"][f"{h}x{w}"] = fit_exponent([p["width"] for p in pts], [p["p50_ms"] for p in pts])
    result = {"machine": machine_info(), "points": points, "exponents": exps, "ideal": {"pixels": 1.0, "width": 2.0}}
    with atomic_dir(folder) as tmp:  # whole or not at all
        write_json(tmp / "sweep.json", result)
        if ok:
            sweep_plot(ok, tmp / "sweep.png")
        write_text(tmp / "sweep.md", sweep_markdown(result))
    result["folder"] = str(folder)
    return result


def sweep_markdown(result: dict[str, Any]) -> str:
    lines = ["# Latency scaling (fp32 TFLite, XNNPACK, batch 1)", "",
             "| model | size | params | GMACs | p50 ms | GFLOP/s |", "|---|---|---:|---:|---:|---:|"]
    for p in result["points"]:
        p50 = f"{p['p50_ms']:.1f}" if p.get("p50_ms") else f"failed: {p.get('error')}"
        gf = f"{p['gflops']:.1f}" if p.get("gflops") else "–"
        lines.append(f"| {p['model']} | {p['size']} | {p['params']:,} | {p['macs'] / 1e9:.2f} | {p50} | {gf} |")
    lines += ["", "| exponent of | fitted over | measured | ideal |", "|---|---|---:|---:|"]
    for kind, by in result["exponents"].items():
        for what, e in by.items():
            lines.append(f"| {kind} | {what} | {'–' if e is None else f'{e:.2f}'} | {result['ideal'][kind]:.0f} |")
    return "\n".join(lines) + "\n"
