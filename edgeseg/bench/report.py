"""Reporting for ``edgeseg bench``: a measured :class:`~edgeseg.bench.measure.BenchReport` into
results.jsonl / results.csv (one :class:`~edgeseg.bench.measure.BenchRow` a line), summary.json,
report.md, pareto.png, the console table, the targets, and the comparisons (``--compare``,
``--floor-dice``). Nothing here measures.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from edgeseg.bench.measure import BenchReport, BenchRow, Status
from edgeseg.errors import RunError
from edgeseg.io import write_json, write_text

COLUMNS = ("artifact", "runtime", "threads", "batch", "status", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms",
           "fps", "peak_rss_mb", "size_bytes", "gflops", "gemm_ratio", "dice", "gate_split", "calibration", "reason")


def fmt_cell(key: str, v: Any) -> str:
    if v is None or v == "":
        return "–"
    if key == "size_bytes":
        return f"{v / 1e6:.2f} MB"
    if key == "gemm_ratio":
        return f"{v:.0%}"
    if key == "dice":
        return f"{v:.4f}"
    if isinstance(v, float):
        return f"{v:.1f}" if key != "std_ms" else f"±{v:.1f}"
    return str(v)


def markdown_table(rows: list[BenchRow]) -> str:
    cols = [c for c in COLUMNS if c != "std_ms"]
    head = "| " + " | ".join(cols).replace("mean_ms", "mean±std ms") + " |"
    lines = [head, "|" + "---|" * len(cols)]
    for r in rows:
        cells = [(fmt_cell("mean_ms", r.mean_ms) + " " + fmt_cell("std_ms", r.std_ms)) if c == "mean_ms" else fmt_cell(c, getattr(r, c))
                 for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(report: BenchReport) -> list[dict[str, Any]]:
    """The issue's speed targets, measured in this run: name, value, goal, met."""
    ok = [r for r in report.rows if r.ok and r.batch == 1]
    if not ok:
        return []
    top = max(r.threads for r in ok)
    at_top = [r for r in ok if r.threads == top]
    int8 = [r for r in at_top if "wi8_ai8" in (r.recipe or "")]
    fp32 = [r for r in at_top if r.recipe == "fp32" and r.runtime not in ("keras-predict",)]
    predict = [r for r in at_top if r.runtime == "keras-predict"]
    out = []
    best_int8 = min(int8, key=lambda r: r.p50_ms) if int8 else None
    best_fp32 = min(fp32, key=lambda r: r.p50_ms) if fp32 else None
    if best_int8 and best_fp32:
        v = best_fp32.p50_ms / best_int8.p50_ms
        out.append({"target": "best int8 vs best fp32 (p50)", "value": v, "goal": 1.6, "met": v >= 1.6,
                    "detail": f"{best_int8.artifact}/{best_int8.runtime} vs {best_fp32.artifact}/{best_fp32.runtime}"})
    if best_int8 and predict:
        v = predict[0].p50_ms / best_int8.p50_ms
        out.append({"target": "best int8 vs keras.Model.predict (p50)", "value": v, "goal": 8.0, "met": v >= 8.0,
                    "detail": f"{best_int8.artifact}/{best_int8.runtime}"})
    if best_fp32 and best_fp32.gemm_ratio:
        v = best_fp32.gemm_ratio
        out.append({"target": "best fp32 GFLOP/s vs GEMM peak", "value": v, "goal": 0.7, "met": v >= 0.7,
                    "detail": f"{best_fp32.gflops:.1f} of {best_fp32.gemm_gflops:.1f} GFLOP/s"})
    f = report.frame
    if f and "frame_over_inference" in f:
        v = f["frame_over_inference"]
        out.append({"target": "camera frame vs raw inference", "value": v, "goal": 1.15, "met": v <= 1.15,
                    "detail": f"{f['artifact']}/{f['runtime']}: {f['frame_p50_ms']:.1f} vs {f['inference_p50_ms']:.1f} ms"})
    for t in out:
        t["threads"] = top
    return out


def peak_exceeded(report: BenchReport) -> list[str]:
    """Rows faster than the measured peak of their precision (each one means the peak is wrong)."""
    return [f"{r.artifact}/{r.runtime}/{r.threads}t ({r.gemm_ratio:.0%})" for r in report.rows
            if r.ok and r.gemm_ratio and r.gemm_ratio > 1]


def peak_markdown(report: BenchReport) -> str:
    """The measured and theoretical peaks per thread count, with the theoretical peak's assumptions."""
    from edgeseg.bench.peak import K, M, N

    lines = [f"Peak: one FULLY_CONNECTED ({M}×{K} @ {K}×{N}) on LiteRT + XNNPACK, fp32 and full int8, best of runs "
             "(edgeseg/bench/peak.py); theoretical = lanes × FMA units × 2 × threads × clock.", "",
             "| threads | fp32 measured GFLOP/s | fp32 theoretical | int8 measured GOP/s | int8 theoretical |",
             "|---:|---:|---:|---:|---:|"]
    f = lambda v: "–" if v is None else f"{v:.0f}"  # noqa: E731
    for t in sorted(report.theoretical):
        th = report.theoretical[t]
        lines.append(f"| {t} | {f(report.peak.get('fp32', {}).get(t))} | {f(th['fp32_gflops'])} | "
                     f"{f(report.peak.get('int8', {}).get(t))} | {f(th['int8_gops'])} |")
    if report.theoretical:
        lines += ["", f"Theoretical-peak assumptions: {next(iter(report.theoretical.values()))['assumptions']}."]
    return "\n".join(lines)


def write_outputs(report: BenchReport) -> None:
    """results.jsonl/csv, summary.json, report.md and pareto.png into ``report.folder``, each atomically."""
    folder = report.folder
    rows = [r.to_dict() for r in report.rows]
    buf = io.StringIO()
    for r in rows:
        buf.write(json.dumps(r) + "\n")
    write_text(folder / "results.jsonl", buf.getvalue())
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[f.name for f in fields(BenchRow)])
    w.writeheader()
    w.writerows(rows)
    write_text(folder / "results.csv", buf.getvalue())
    tg = targets(report)
    over = peak_exceeded(report)
    write_json(folder / "summary.json", {"machine": report.machine, "gemm_gflops": report.gemm, "peak": report.peak,
                                         "theoretical_peak": report.theoretical, "peak_exceeded": over,
                                         "frame": report.frame, "targets": tg})
    m = report.machine
    md = ["# edgeseg bench", "",
          f"Machine: {m['cpu']}, {m['cores']} cores, flags: {', '.join(m['cpu_flags']) or 'none of interest'}"
          f" (VNNI: {'yes' if any('vnni' in f for f in m['cpu_flags']) else 'no'}).",
          "", peak_markdown(report), "",
          *([f"**Rows above the measured peak (the peak kernel is not a peak): {', '.join(over)}**", ""] if over else []),
          "gemm_ratio: the row's GFLOP/s (GOP/s for int8 recipes) over the measured peak of its precision at its "
          "thread count. gate_split: the split and image count behind the Dice; calibration: what the int8 "
          "ranges were calibrated on.", "",
          markdown_table(report.rows), ""]
    if report.frame:
        f = report.frame
        md += ["## Camera-loop frame", ""]
        if "error" in f:
            md.append(f"{f['artifact']}/{f['runtime']}: failed ({f['error']})")
        else:
            md.append(f"720×1280 JPEG frame → overlay with {f['artifact']} on {f['runtime']} ({f['threads']} threads): "
                      f"p50 {f['frame_p50_ms']:.1f} ms per frame vs {f['inference_p50_ms']:.1f} ms raw inference "
                      f"(×{f['frame_over_inference']:.2f}); stage p50s: "
                      + ", ".join(f"{k} {v:.1f} ms" for k, v in f["stage_p50_ms"].items()))
        md.append("")
    if tg:
        md += ["## Targets (batch 1, measured in this run)", "", "| target | measured | goal | met | detail |",
               "|---|---:|---:|---|---|"]
        md += [f"| {t['target']} | {t['value']:.2f} | {t['goal']} | {'yes' if t['met'] else 'no'} | {t['detail']} |"
               for t in tg]
        md.append("")
    md.append(f"Versions: {'; '.join(f'{k} {v}' for k, v in m['libraries'].items())}.")
    write_text(folder / "report.md", "\n".join(md) + "\n")
    _pareto(report)


def _pareto(report: BenchReport) -> None:
    from edgeseg.plots import pareto_plot

    pts = [r.to_dict() for r in report.rows if r.ok and r.dice is not None and r.batch == 1]
    if pts:
        pareto_plot(pts, report.folder / "pareto.png")


def compare(rows: list[BenchRow], old_jsonl: Path) -> list[dict[str, Any]]:
    """Rows matched to an earlier results.jsonl by (artifact, sha256, runtime, threads, batch): p50 old/new."""
    if not old_jsonl.is_file():
        raise RunError(f"{old_jsonl}: no such results file")
    try:
        old = [json.loads(line) for line in old_jsonl.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise RunError(f"{old_jsonl}: not a bench results.jsonl ({e})") from None
    key = lambda r: (r.get("artifact"), r.get("sha256"), r.get("runtime"), r.get("threads"), r.get("batch"))  # noqa: E731
    old_by = {key(r): r for r in old if r.get("status") == Status.OK}
    out = []
    for r in rows:
        o = old_by.get(key(r.to_dict()))
        if r.ok and o:
            out.append({"artifact": r.artifact, "runtime": r.runtime, "threads": r.threads, "batch": r.batch,
                        "old_p50_ms": o["p50_ms"], "new_p50_ms": r.p50_ms, "speedup": o["p50_ms"] / r.p50_ms})
    return out


def floor_failures(rows: list[BenchRow], floor: float) -> list[str]:
    """Artifacts whose Dice is under ``floor``, or that have no Dice to compare."""
    bad = {}
    for r in rows:
        if r.ok and (r.dice is None or r.dice < floor):
            bad[r.artifact] = "no gate Dice" if r.dice is None else f"Dice {r.dice:.4f}"
    return [f"{a} ({why})" for a, why in bad.items()]
