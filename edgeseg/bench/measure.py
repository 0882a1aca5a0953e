"""Measuring for ``edgeseg bench``: which artifacts, which runtimes, and one :class:`BenchRow`
per (artifact, runtime, threads, batch), each timed in its own worker process
(:mod:`edgeseg.bench.worker`), with the machine's measured and theoretical peaks.

Nothing here writes a report: :mod:`edgeseg.bench.report` turns a :class:`BenchReport` into the
table, JSONL/CSV, Markdown and plot, and :func:`edgeseg.bench.bench.bench` runs the two.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from edgeseg.bench.runtimes import BENCH_RUNTIMES, runtimes_for
from edgeseg.bench.system import machine_info
from edgeseg.defaults import REPO, SHIPPED
from edgeseg.errors import ConfigError, RunError

# The model files some bench runtime runs (their suffixes come from edgeseg.formats).
SUFFIXES = tuple(dict.fromkeys(s for n in BENCH_RUNTIMES for s in BENCH_RUNTIMES.get(n).suffixes))


class Status(StrEnum):
    """What became of one row."""

    OK = "ok"
    EXPORT_FAILED = "export failed"  # the artifact's export did not finish (no model file)
    UNSUPPORTED = "not supported here"  # the runtime cannot run on this machine (e.g. no GPU)
    RUN_FAILED = "run failed"  # the worker could not load or run the file


@dataclass(frozen=True)
class BenchRow:
    """One measurement: an artifact on a runtime at a thread count and batch size. Latencies are
    ms per call on a batch; ``gflops`` is 2·MACs·batch / p50 (G(FL)OP/s, integer ops for int8
    recipes) and ``gemm_ratio`` that over the measured peak of ``peak_kind`` at ``threads``. A row
    that was not measured keeps ``None`` figures and says why in ``reason``. One line of
    results.jsonl is :meth:`to_dict`, fields in this order."""

    artifact: str
    file: str
    sha256: str | None
    recipe: str | None
    runtime: str
    threads: int
    batch: int
    status: Status
    reason: str = ""
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    fps: float | None = None
    runs: int | None = None
    peak_rss_mb: float | None = None
    rss_before_load_mb: float | None = None
    size_bytes: int = 0
    gzip_bytes: int | None = None
    input_size: str | None = None  # "HxW"
    params: int | None = None
    macs: int | None = None
    gflops: float | None = None
    gemm_gflops: float | None = None  # the measured peak the row is held against
    gemm_ratio: float | None = None
    peak_kind: str = "fp32"  # "fp32" or "int8"
    calibration: str | None = None
    gate_split: str | None = None
    dice: float | None = None
    iou: float | None = None
    cpu: str = ""
    cpu_flags: str = ""
    cores: int = 0
    versions: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


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
    """Everything one bench measured; ``folder`` is where its files go."""

    folder: Path
    rows: list[BenchRow] = field(default_factory=list)
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


def measure(artifacts: list[Artifact], cfg: BenchConfig, folder: Path, frame_image: Path | None = None) -> BenchReport:
    """Measure the peaks, then every (artifact, runtime, threads, batch), then one camera frame;
    the peak kernels are built into ``folder/peak``. Writes no report."""
    from edgeseg.bench.peak import theoretical_peak
    from edgeseg.bench.system import all_cpu_flags
    from edgeseg.progress import track

    report = BenchReport(folder)
    threads = cfg.thread_counts()
    report.peak = measure_peak(threads, folder / "peak", cfg.timeout_s)
    report.gemm = report.peak["fp32"]
    report.theoretical = {t: theoretical_peak(all_cpu_flags(), t).to_dict() for t in threads}
    plan = _plan(artifacts, cfg, threads)
    for art, rt, t, b, reason in track(plan, "benchmarking", total=len(plan)):
        row = _row_base(art, rt.name if rt else "-", t, b, report)
        if reason:
            row = replace(row, status=Status.EXPORT_FAILED if art.problem else Status.UNSUPPORTED, reason=reason)
        else:
            job = {"kind": "infer", "artifact": str(art.path), "runtime": rt.name, "threads": t, "batch": b,
                   "warmup": cfg.warmup, "min_runs": cfg.min_runs, "min_seconds": cfg.min_seconds}
            row = _fill(row, run_worker(job, t, cfg.timeout_s), art, report.peak.get(peak_kind(art.recipe), {}).get(t))
        report.rows.append(row)
    if cfg.frame:
        report.frame = _frame(report, cfg, frame_image)
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


def _row_base(art: Artifact, runtime: str, threads: int, batch: int, report: BenchReport) -> BenchRow:
    m = report.machine
    return BenchRow(
        artifact=art.label, file=str(art.path), sha256=art.sha256, recipe=art.recipe, runtime=runtime,
        threads=threads, batch=batch, status=Status.RUN_FAILED, size_bytes=art.size_bytes, gzip_bytes=art.gzip_bytes,
        input_size="x".join(map(str, art.input_size)) if art.input_size else None, params=art.params, macs=art.macs,
        peak_kind=peak_kind(art.recipe), calibration=art.calibration, gate_split=art.gate_split, dice=art.dice,
        iou=art.iou, cpu=m["cpu"], cpu_flags=" ".join(m["cpu_flags"]), cores=m["cores"],
        versions=";".join(f"{k}={v}" for k, v in m["libraries"].items()),
    )


def _fill(row: BenchRow, r: dict[str, Any], art: Artifact, gemm: float | None) -> BenchRow:
    """``row`` with the worker's result ``r``: its timing, or why it failed."""
    if not r.get("ok"):
        return replace(row, status=Status.RUN_FAILED, reason=r.get("error", "unknown error"))
    t = r["timing"]
    row = replace(row, status=Status.OK, reason="; ".join(r.get("providers", [])),
                  **{k: t[k] for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "fps", "runs")},
                  peak_rss_mb=r["peak_rss_mb"], rss_before_load_mb=r["rss_before_load_mb"],
                  input_size="x".join(map(str, r["input_size"])))
    if art.macs:
        gflops = 2 * art.macs * row.batch / (row.p50_ms / 1e3) / 1e9
        row = replace(row, gflops=gflops)
        if gemm:
            row = replace(row, gemm_gflops=gemm, gemm_ratio=gflops / gemm)
    return row


def _frame(report: BenchReport, cfg: BenchConfig, image: Path | None) -> dict[str, Any] | None:
    """Time one camera-loop frame with the fastest batch-1 artifact/runtime at all cores."""
    ok = [r for r in report.rows if r.ok and r.batch == 1 and r.runtime != "keras-predict"]
    if not ok:
        return None
    top = max(r.threads for r in ok)
    best = min((r for r in ok if r.threads == top), key=lambda r: r.p50_ms)
    image = image or _sample_image()
    job = {"kind": "infer", "artifact": best.file, "runtime": best.runtime, "threads": top, "batch": 1,
           "warmup": cfg.warmup, "min_runs": cfg.min_runs, "min_seconds": cfg.min_seconds,
           "frame": {"image": str(image), "size": [720, 1280]}}
    r = run_worker(job, top, cfg.timeout_s)
    if not r.get("ok"):
        return {"artifact": best.artifact, "runtime": best.runtime, "error": r.get("error")}
    return {"artifact": best.artifact, "runtime": best.runtime, "threads": top, **r["frame"]}


def _sample_image() -> Path:
    return sorted((REPO / "edgeseg" / "assets" / "isic2017_sample" / "test" / "images").glob("*.jpg"))[0]
