"""``edgeseg bench``: every artifact × runtime × thread count × batch, each measured in its own
worker process, with the machine's GEMM peak measured in the same run.

Output folder (``runs/bench/bench[-N]`` unless ``--out``)::

    results.jsonl / results.csv   one row per measurement, with machine, versions and sha256
    report.md                     the table, the targets and the machine
    pareto.png                    Dice against p50 latency, point size = file size
    bench_config.json             the frozen BenchConfig
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.bench.runtimes import BENCH_RUNTIMES, runtimes_for
from edgeseg.bench.system import machine_info
from edgeseg.defaults import REPO, SHIPPED
from edgeseg.errors import ConfigError, RunError
from edgeseg.io import atomic_dir, next_free_path, write_json, write_text

SUFFIXES = (".tflite", ".onnx", ".keras")
STATUS_OK, STATUS_EXPORT, STATUS_UNSUPPORTED, STATUS_FAILED = "ok", "export failed", "not supported here", "run failed"


@dataclass(frozen=True)
class BenchConfig:
    """What to measure. Empty ``threads`` means 1, 2 and all cores; a 0 is refused. Empty
    ``runtimes`` means every runtime that accepts the file."""

    threads: tuple[int, ...] = ()
    batches: tuple[int, ...] = (1,)
    runtimes: tuple[str, ...] = ()  # empty: every runtime that accepts the file
    warmup: int = 3
    min_runs: int = 20
    min_seconds: float = 2.0
    frame: bool = True  # also time a full camera-loop frame for the best artifact
    gemm_n: int = 1024
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if any(t < 1 for t in self.threads):
            raise ConfigError(f"--threads must be >= 1, got {', '.join(map(str, self.threads))}")
        if any(b < 1 for b in self.batches):
            raise ConfigError("--batch must be >= 1")
        for name in self.runtimes:
            BENCH_RUNTIMES.get(name)  # UnknownNameError lists the valid names
        if self.min_runs < 1 or self.min_seconds < 0 or self.warmup < 0:
            raise ConfigError("--min-runs must be >= 1, --min-seconds and --warmup >= 0")

    def thread_counts(self) -> tuple[int, ...]:
        cores = machine_info()["cores"]
        return tuple(sorted(set(self.threads or (1, 2, cores))))


@dataclass(frozen=True)
class Artifact:
    """One model file to measure, with what its manifest says about it."""

    label: str
    path: Path
    sha256: str | None
    size_bytes: int
    gzip_bytes: int | None
    input_size: tuple[int, int] | None
    params: int | None
    macs: int | None
    dice: float | None
    iou: float | None
    recipe: str | None
    problem: str | None = None  # set when the export itself failed
    calibration: str | None = None  # e.g. "train split (200)": what the int8 ranges were calibrated on
    gate_split: str | None = None  # e.g. "validation (150)": what the gate's Dice was measured on

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


@dataclass
class BenchReport:
    folder: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    gemm: dict[int, float] = field(default_factory=dict)  # measured fp32 peak GFLOP/s per thread count
    peak: dict[str, dict[int, float]] = field(default_factory=dict)  # "fp32"/"int8" -> threads -> G(FL)OP/s
    theoretical: dict[int, dict[str, Any]] = field(default_factory=dict)  # threads -> TheoreticalPeak
    frame: dict[str, Any] | None = None
    machine: dict[str, Any] = field(default_factory=machine_info)


# --- collecting artifacts ----------------------------------------------------------------------


def collect(paths: list[Path]) -> list[Artifact]:
    """Artifacts of run directories, export folders, artifact folders or model files.

    Raises:
        RunError: a path does not exist, holds no artifact, or a file's sha256 does not match its manifest.
    """
    if not paths:
        if not SHIPPED.is_dir():
            raise RunError(f"no artifacts given and no shipped default at {SHIPPED}")
        paths = [SHIPPED]
    found: list[Artifact] = []
    for p in paths:
        found += _collect_one(Path(p))
    return found


def _collect_one(p: Path) -> list[Artifact]:
    if not p.exists():
        raise RunError(f"{p}: no such artifact, folder or run")
    if p.is_file():
        if p.suffix.lower() not in SUFFIXES:
            raise RunError(f"{p}: not a model file (expected {', '.join(SUFFIXES)})")
        return [_artifact(p, p.parent.name if (p.parent / "manifest.json").is_file() else p.stem)]
    if (p / "manifest.json").is_file():
        return [_from_folder(p)]
    out: list[Artifact] = []
    if (p / "config.json").is_file():  # a training run: its float checkpoint and every export of it
        from edgeseg.run import RunDir

        best = RunDir.open(p).best_model()
        out.append(_artifact(best, f"{p.name}/keras_fp32"))
        for exp in sorted(p.glob("export*")):
            out += _from_export(exp)
    else:
        out += _from_export(p)
    if not out:
        raise RunError(f"{p}: no artifacts in it (expected model folders with a manifest.json, or a run)")
    return out


def _from_export(folder: Path) -> list[Artifact]:
    """Each sub-folder with a manifest; gates.json entries with no folder are failed exports."""
    arts = [_from_folder(d) for d in sorted(folder.iterdir()) if d.is_dir() and (d / "manifest.json").is_file()]
    gates = folder / "gates.json"
    if gates.is_file():
        seen = {a.label for a in arts}
        for r in json.loads(gates.read_text()).get("results", []):
            if r.get("artifact") and r["artifact"] not in seen and not (folder / r["artifact"]).is_dir():
                arts.append(Artifact(r["artifact"], folder / r["artifact"], None, 0, None, None, None, None, None, None,
                                     r.get("recipe"), problem="listed in gates.json but its folder is missing"))
    return arts


def _from_folder(d: Path) -> Artifact:
    models = [f for f in d.iterdir() if f.suffix.lower() in SUFFIXES]
    if not models:
        return Artifact(d.name, d, None, 0, None, None, None, None, None, None, None,
                        problem="manifest.json but no model file: the export did not finish")
    return _artifact(models[0], d.name)


def _artifact(f: Path, label: str) -> Artifact:
    from edgeseg.artifact import read_manifest, sha256_file

    m = read_manifest(f)  # raises RunError on a sha256 mismatch
    data = f.read_bytes()
    gate = (m.gate or {}) if m else {}
    return Artifact(
        label=label, path=f, sha256=m.sha256 if m else sha256_file(f), size_bytes=len(data),
        gzip_bytes=len(gzip.compress(data, 6)), input_size=tuple(m.input_size) if m else None,
        params=m.params if m else None, macs=m.macs if m else None,
        dice=gate.get("dice"), iou=gate.get("iou"), recipe=m.recipe if m else "fp32",
        calibration=f"{m.calibration.get('source', '?')} ({m.calibration.get('n', '?')})" if m and m.calibration else None,
        gate_split=f"{gate['split']} ({gate.get('n_images', '?')})" if gate.get("split") else None,
    )


def check_size(artifacts: list[Artifact], size: tuple[int, int] | None) -> None:
    """Raise ConfigError if a fixed-size artifact cannot take ``size``."""
    if size is None:
        return
    for a in artifacts:
        if a.input_size and tuple(a.input_size) != tuple(size):
            raise ConfigError(f"{a.path}: takes {a.input_size[0]}x{a.input_size[1]} input only, not "
                              f"{size[0]}x{size[1]}; export the model at that size first (or use --sweep)")


# --- measuring ---------------------------------------------------------------------------------


def run_worker(job: dict[str, Any], threads: int, timeout_s: float) -> dict[str, Any]:
    """Run one job in a fresh process whose BLAS/OpenMP pools have ``threads`` threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        proc = subprocess.run([sys.executable, "-m", "edgeseg.bench.worker"], input=json.dumps(job), text=True,
                              capture_output=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout_s:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("EDGESEG_RESULT "):
            return json.loads(line[len("EDGESEG_RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"ok": False, "error": f"worker exited {proc.returncode}: {tail}"}


def measure_peak(threads: tuple[int, ...], folder: Path, timeout_s: float) -> dict[str, dict[int, float]]:
    """Best G(FL)OP/s of the fp32 and int8 FULLY_CONNECTED kernels (edgeseg.bench.peak) on LiteRT +
    XNNPACK per thread count; the kernels are built once into ``folder``."""
    built = run_worker({"kind": "peak_build", "folder": str(folder)}, 1, timeout_s)
    out: dict[str, dict[int, float]] = {"fp32": {}, "int8": {}}
    if not built.get("ok"):
        return out
    for kind, file in built["files"].items():
        for t in threads:
            r = run_worker({"kind": "peak", "file": file, "threads": t}, t, timeout_s)
            if r.get("ok"):
                out[kind][t] = r["best"]
    return out


def peak_kind(recipe: str | None) -> str:
    """Which peak a row is held against: int8 for integer-activation recipes, else fp32."""
    return "int8" if recipe and "ai8" in recipe else "fp32"


def bench(artifacts: list[Artifact], cfg: BenchConfig, out: Path | None = None,
          frame_image: Path | None = None) -> BenchReport:
    """Measure every (artifact, runtime, threads, batch); write the report files; return them."""
    from edgeseg.progress import track

    folder = next_free_path(out or Path("runs/bench/bench"))
    # Measured under a hidden name, renamed into place whole: a failure leaves no half report.
    with atomic_dir(folder) as tmp:
        write_json(tmp / "bench_config.json", asdict(cfg))
        report = BenchReport(tmp)
        threads = cfg.thread_counts()
        from edgeseg.bench.peak import theoretical_peak
        from edgeseg.bench.system import all_cpu_flags

        report.peak = measure_peak(threads, tmp / "peak", cfg.timeout_s)
        report.gemm = report.peak["fp32"]
        report.theoretical = {t: theoretical_peak(all_cpu_flags(), t).to_dict() for t in threads}
        plan = _plan(artifacts, cfg, threads)
        for art, rt, t, b, reason in track(plan, "benchmarking", total=len(plan)):
            row = _row_base(art, rt.name if rt else "-", t, b, report)
            if reason:
                row.update(status=STATUS_EXPORT if art.problem else STATUS_UNSUPPORTED, reason=reason)
            else:
                job = {"kind": "infer", "artifact": str(art.path), "runtime": rt.name, "threads": t, "batch": b,
                       "warmup": cfg.warmup, "min_runs": cfg.min_runs, "min_seconds": cfg.min_seconds}
                _fill(row, run_worker(job, t, cfg.timeout_s), art, report.peak.get(peak_kind(art.recipe), {}).get(t))
            report.rows.append(row)
        if cfg.frame:
            report.frame = _frame(report, cfg, frame_image)
        write_outputs(report)
    report.folder = folder
    return report


def _plan(artifacts: list[Artifact], cfg: BenchConfig, threads: tuple[int, ...]) -> list[tuple]:
    plan = []
    for art in artifacts:
        if art.problem:
            plan.append((art, None, 0, 0, art.problem))
            continue
        rts = runtimes_for(art.suffix)
        if cfg.runtimes:
            rts = [r for r in rts if r.name in cfg.runtimes]
        for rt in rts:
            reason = rt.available()
            if reason:  # one row per runtime that cannot run here, not one per thread count
                plan.append((art, rt, 0, 0, reason))
                continue
            for b in cfg.batches:
                for t in threads:
                    plan.append((art, rt, t, b, None))
    return plan


def _row_base(art: Artifact, runtime: str, threads: int, batch: int, report: BenchReport) -> dict[str, Any]:
    m = report.machine
    return {
        "artifact": art.label, "file": str(art.path), "sha256": art.sha256, "recipe": art.recipe,
        "runtime": runtime, "threads": threads, "batch": batch, "status": "", "reason": "",
        "p50_ms": None, "p90_ms": None, "p99_ms": None, "mean_ms": None, "std_ms": None, "fps": None, "runs": None,
        "peak_rss_mb": None, "rss_before_load_mb": None, "size_bytes": art.size_bytes, "gzip_bytes": art.gzip_bytes,
        "input_size": "x".join(map(str, art.input_size)) if art.input_size else None,
        "params": art.params, "macs": art.macs, "gflops": None, "gemm_gflops": None, "gemm_ratio": None,
        "peak_kind": peak_kind(art.recipe), "calibration": art.calibration, "gate_split": art.gate_split,
        "dice": art.dice, "iou": art.iou, "cpu": m["cpu"], "cpu_flags": " ".join(m["cpu_flags"]), "cores": m["cores"],
        "versions": ";".join(f"{k}={v}" for k, v in m["libraries"].items()),
    }


def _fill(row: dict[str, Any], r: dict[str, Any], art: Artifact, gemm: float | None) -> None:
    if not r.get("ok"):
        row.update(status=STATUS_FAILED, reason=r.get("error", "unknown error"))
        return
    t = r["timing"]
    row.update(status=STATUS_OK, reason="; ".join(r.get("providers", [])),
               **{k: t[k] for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "fps", "runs")},
               peak_rss_mb=r["peak_rss_mb"], rss_before_load_mb=r["rss_before_load_mb"],
               input_size="x".join(map(str, r["input_size"])))
    if art.macs:
        row["gflops"] = 2 * art.macs * row["batch"] / (row["p50_ms"] / 1e3) / 1e9
        if gemm:
            row["gemm_gflops"], row["gemm_ratio"] = gemm, row["gflops"] / gemm


def _frame(report: BenchReport, cfg: BenchConfig, image: Path | None) -> dict[str, Any] | None:
    """Time one camera-loop frame with the fastest batch-1 artifact/runtime at all cores."""
    ok = [r for r in report.rows if r["status"] == STATUS_OK and r["batch"] == 1 and r["runtime"] != "keras-predict"]
    if not ok:
        return None
    top = max(r["threads"] for r in ok)
    best = min((r for r in ok if r["threads"] == top), key=lambda r: r["p50_ms"])
    image = image or _sample_image()
    job = {"kind": "infer", "artifact": best["file"], "runtime": best["runtime"], "threads": top, "batch": 1,
           "warmup": cfg.warmup, "min_runs": cfg.min_runs, "min_seconds": cfg.min_seconds,
           "frame": {"image": str(image), "size": [720, 1280]}}
    r = run_worker(job, top, cfg.timeout_s)
    if not r.get("ok"):
        return {"artifact": best["artifact"], "runtime": best["runtime"], "error": r.get("error")}
    return {"artifact": best["artifact"], "runtime": best["runtime"], "threads": top, **r["frame"]}


def _sample_image() -> Path:
    return sorted((REPO / "edgeseg" / "assets" / "isic2017_sample" / "test" / "images").glob("*.jpg"))[0]


# --- reporting ---------------------------------------------------------------------------------

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


def markdown_table(rows: list[dict[str, Any]]) -> str:
    cols = [c for c in COLUMNS if c != "std_ms"]
    head = "| " + " | ".join(cols).replace("mean_ms", "mean±std ms") + " |"
    lines = [head, "|" + "---|" * len(cols)]
    for r in rows:
        cells = [(fmt_cell("mean_ms", r["mean_ms"]) + " " + fmt_cell("std_ms", r["std_ms"])) if c == "mean_ms" else fmt_cell(c, r[c])
                 for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(report: BenchReport) -> list[dict[str, Any]]:
    """The issue's speed targets, measured in this run: name, value, goal, met."""
    ok = [r for r in report.rows if r["status"] == STATUS_OK and r["batch"] == 1]
    if not ok:
        return []
    top = max(r["threads"] for r in ok)
    at_top = [r for r in ok if r["threads"] == top]
    int8 = [r for r in at_top if "wi8_ai8" in (r["recipe"] or "")]
    fp32 = [r for r in at_top if r["recipe"] == "fp32" and r["runtime"] not in ("keras-predict",)]
    predict = [r for r in at_top if r["runtime"] == "keras-predict"]
    out = []
    best_int8 = min(int8, key=lambda r: r["p50_ms"]) if int8 else None
    best_fp32 = min(fp32, key=lambda r: r["p50_ms"]) if fp32 else None
    if best_int8 and best_fp32:
        v = best_fp32["p50_ms"] / best_int8["p50_ms"]
        out.append({"target": "best int8 vs best fp32 (p50)", "value": v, "goal": 1.6, "met": v >= 1.6,
                    "detail": f"{best_int8['artifact']}/{best_int8['runtime']} vs {best_fp32['artifact']}/{best_fp32['runtime']}"})
    if best_int8 and predict:
        v = predict[0]["p50_ms"] / best_int8["p50_ms"]
        out.append({"target": "best int8 vs keras.Model.predict (p50)", "value": v, "goal": 8.0, "met": v >= 8.0,
                    "detail": f"{best_int8['artifact']}/{best_int8['runtime']}"})
    if best_fp32 and best_fp32.get("gemm_ratio"):
        v = best_fp32["gemm_ratio"]
        out.append({"target": "best fp32 GFLOP/s vs GEMM peak", "value": v, "goal": 0.7, "met": v >= 0.7,
                    "detail": f"{best_fp32['gflops']:.1f} of {best_fp32['gemm_gflops']:.1f} GFLOP/s"})
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
    return [f"{r['artifact']}/{r['runtime']}/{r['threads']}t ({r['gemm_ratio']:.0%})" for r in report.rows
            if r["status"] == STATUS_OK and r.get("gemm_ratio") and r["gemm_ratio"] > 1]


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
    folder = report.folder
    rows = report.rows
    buf = io.StringIO()
    for r in rows:
        buf.write(json.dumps(r) + "\n")
    write_text(folder / "results.jsonl", buf.getvalue())
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else list(COLUMNS))
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
          markdown_table(rows), ""]
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

    pts = [r for r in report.rows if r["status"] == STATUS_OK and r["dice"] is not None and r["batch"] == 1]
    if pts:
        pareto_plot(pts, report.folder / "pareto.png")


def compare(rows: list[dict[str, Any]], old_jsonl: Path) -> list[dict[str, Any]]:
    """Rows matched to an earlier results.jsonl by (artifact, sha256, runtime, threads, batch): p50 old/new."""
    if not old_jsonl.is_file():
        raise RunError(f"{old_jsonl}: no such results file")
    try:
        old = [json.loads(line) for line in old_jsonl.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise RunError(f"{old_jsonl}: not a bench results.jsonl ({e})") from None
    key = lambda r: (r.get("artifact"), r.get("sha256"), r.get("runtime"), r.get("threads"), r.get("batch"))  # noqa: E731
    old_by = {key(r): r for r in old if r.get("status") == STATUS_OK}
    out = []
    for r in rows:
        o = old_by.get(key(r))
        if r["status"] == STATUS_OK and o:
            out.append({"artifact": r["artifact"], "runtime": r["runtime"], "threads": r["threads"], "batch": r["batch"],
                        "old_p50_ms": o["p50_ms"], "new_p50_ms": r["p50_ms"], "speedup": o["p50_ms"] / r["p50_ms"]})
    return out


def floor_failures(rows: list[dict[str, Any]], floor: float) -> list[str]:
    """Artifacts whose Dice is under ``floor``, or that have no Dice to compare."""
    bad = {}
    for r in rows:
        if r["status"] in (STATUS_OK,) and (r["dice"] is None or r["dice"] < floor):
            bad[r["artifact"]] = "no gate Dice" if r["dice"] is None else f"Dice {r['dice']:.4f}"
    return [f"{a} ({why})" for a, why in bad.items()]
