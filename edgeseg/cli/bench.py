"""``edgeseg bench``: latency, FPS, memory, size and accuracy per artifact, runtime and thread count."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import AllowUngatedOpt, allow_ungated as allow_ungated_artifacts
from edgeseg.cli.options import parse_size


def _runtime_help() -> str:
    from edgeseg.bench.runtimes import BENCH_RUNTIMES

    return "Runtime(s) to use (default: all that accept the file): " + "; ".join(
        f"{n} ({BENCH_RUNTIMES.get(n).summary})" for n in BENCH_RUNTIMES.names()) + "."


@app.command("bench")
def bench_cmd(
    artifacts: Annotated[Optional[list[Path]], typer.Argument(
        help="Runs (float checkpoint + every export), export folders, artifact folders or model files. "
             "Default: the shipped export/mnv2_unet (edgeseg.defaults.SHIPPED).", show_default=False)] = None,
    threads: Annotated[Optional[list[int]], typer.Option("--threads", "-t", help="Thread counts (default: 1, 2 and all cores).")] = None,
    batch: Annotated[Optional[list[int]], typer.Option("--batch", help="Batch sizes (default 1).")] = None,
    runtime: Annotated[Optional[list[str]], typer.Option("--runtime", "-r", help=_runtime_help())] = None,
    size: Annotated[Optional[str], typer.Option(help="Refuse artifacts that do not take this HxW input.")] = None,
    min_runs: Annotated[int, typer.Option(help="Timed runs at least.")] = 20,
    min_seconds: Annotated[float, typer.Option(help="Timed seconds at least (per row).")] = 2.0,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs.")] = 3,
    frame: Annotated[bool, typer.Option("--frame/--no-frame", help="Also time one full camera-loop frame with the fastest artifact.")] = True,
    floor_dice: Annotated[Optional[float], typer.Option(help="Exit 3 if any benchmarked artifact's gate Dice is under this (or missing).")] = None,
    compare: Annotated[Optional[Path], typer.Option(help="An earlier results.jsonl: print p50 speed ratios against it.")] = None,
    sweep: Annotated[bool, typer.Option("--sweep", help="Measure latency against input size and U-Net width instead.")] = False,
    sweep_models: Annotated[Optional[list[str]], typer.Option(help="Widths for --sweep (default unet_w025, unet_w050, unet_w100).")] = None,
    sweep_sizes: Annotated[Optional[list[str]], typer.Option(help="HxW sizes for --sweep (default 128x128 192x256 256x256 384x384).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default runs/bench/bench[-N]).")] = None,
    allow_ungated: AllowUngatedOpt = False,
) -> None:
    """Every artifact on every runtime that can load it, at 1, 2 and all cores, each in its own
    process: p50/p90/p99, mean±std, FPS, peak memory, size, GFLOP/s against the machine's peak
    (a large matmul through the same LiteRT + XNNPACK path, fp32 and int8, with the theoretical
    peak beside it), and the gate's Dice with its split and the calibration set. Writes
    results.jsonl/csv, report.md and pareto.png.

    Exit codes: 0 at least one row measured; 1 no row measured (every artifact failed or cannot
    run here); 2 bad input (one line naming the file or option); 3 an artifact under --floor-dice."""
    allow_ungated_artifacts(allow_ungated)
    from edgeseg.bench.bench import bench
    from edgeseg.bench.measure import BenchConfig, Status, check_size, collect
    from edgeseg.bench.report import compare as compare_rows, floor_failures, targets

    if sweep:
        _sweep(threads, sweep_models, sweep_sizes, min_runs, min_seconds, out)
        return
    cfg = BenchConfig(threads=tuple(threads or ()), batches=tuple(batch or (1,)), runtimes=tuple(runtime or ()),
                      warmup=warmup, min_runs=min_runs, min_seconds=min_seconds, frame=frame)
    arts = collect(list(artifacts or []))
    check_size(arts, parse_size(size))
    if compare is not None and not compare.is_file():
        from edgeseg.errors import RunError

        raise RunError(f"{compare}: no such results file")
    report = bench(arts, cfg, out)
    _print_table(report.rows)
    from edgeseg.bench.report import peak_exceeded, peak_markdown

    typer.echo(peak_markdown(report))
    for row in peak_exceeded(report):
        typer.echo(f"warning: {row} is faster than the measured peak: the peak kernel is not a peak", err=True)
    if report.frame and "frame_p50_ms" in report.frame:
        f = report.frame
        typer.echo(f"camera frame (720p JPEG -> overlay) with {f['artifact']}/{f['runtime']}: p50 {f['frame_p50_ms']:.1f} ms "
                   f"vs {f['inference_p50_ms']:.1f} ms inference (x{f['frame_over_inference']:.2f})")
    for t in targets(report):
        typer.echo(f"target {t['target']}: {t['value']:.2f} (goal {t['goal']}) {'met' if t['met'] else 'MISSED'} - {t['detail']}")
    if compare is not None:
        for c in compare_rows(report.rows, compare):
            typer.echo(f"vs {compare.name}: {c['artifact']}/{c['runtime']} {c['threads']}t b{c['batch']}: "
                       f"{c['old_p50_ms']:.1f} -> {c['new_p50_ms']:.1f} ms (x{c['speedup']:.2f})")
    typer.echo(f"results: {report.folder}/ (results.jsonl, results.csv, report.md, pareto.png)")
    if not any(r.ok for r in report.rows):
        # The table names every file; the one error line names the first and why, so a lone bad
        # file (a text file named .tflite) is named on stderr too.
        first = min((r for r in report.rows if r.reason), default=None, key=lambda r: r.status == Status.UNSUPPORTED)
        why = f"; first: {first.file}: {first.reason}" if first else ""
        typer.echo(f"error: no row was measured: every artifact failed or cannot run here{why} (see the reason column)",
                   err=True)
        raise typer.Exit(1)
    if floor_dice is not None:
        bad = floor_failures(report.rows, floor_dice)
        if bad:
            typer.echo(f"error: under --floor-dice {floor_dice}: {', '.join(bad)}", err=True)
            raise typer.Exit(3)


def _print_table(rows: list) -> None:  # list[BenchRow]
    from rich.console import Console
    from rich.table import Table

    from edgeseg.bench.report import fmt_cell

    cols = ("artifact", "runtime", "threads", "batch", "status", "p50_ms", "p90_ms", "p99_ms", "fps", "peak_rss_mb",
            "size_bytes", "gemm_ratio", "dice", "gate_split", "calibration", "reason")
    table = Table(title="edgeseg bench")
    for c in cols:
        table.add_column(c.replace("_ms", " ms").replace("_", " "), overflow="fold")
    style = {"ok": "green", "not supported here": "yellow"}
    for r in rows:
        table.add_row(*(fmt_cell(c, getattr(r, c)) for c in cols), style=style.get(r.status.value, "red"))
    Console(width=200).print(table)


def _sweep(threads, models, sizes, min_runs, min_seconds, out) -> None:  # noqa: ANN001
    from edgeseg.bench.sweep import SIZES, WIDTHS, SweepConfig, sweep, sweep_markdown

    cfg = SweepConfig(models=tuple(models or WIDTHS), sizes=tuple(parse_size(s, "--sweep-sizes") for s in sizes) if sizes else SIZES,
                      threads=(threads or [0])[-1], min_runs=min_runs, min_seconds=min_seconds)
    result = sweep(cfg, out)
    typer.echo(sweep_markdown(result))
    typer.echo(f"results: {result['folder']}/ (sweep.json, sweep.md, sweep.png)")
