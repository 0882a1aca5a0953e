"""A scale job: ``run_job(cfg, items) -> JobResult``, resumable, every output written atomically.

The output folder::

    OUT/job.json                 what was asked (model sha256, options, input digest): the resume key
    OUT/masks/<key>.png          0/255 mask per image, the bytes ``edgeseg predict`` writes
    OUT/overlays/<key>.jpg       lesion outline (with --overlays)
    OUT/shards/shard-NNNNN.parquet  the rows of one shard, written after its masks
    OUT/results.parquet (.csv)   one row per image, merged from the shards, in input order
    OUT/summary.json             counts, throughput, failures, the model's manifest and sha256
    OUT/metrics.json, per_image.csv, confusion.png   (eval: ``edgeseg.evaluate.write_report``)

Inputs are cut into shards of ``shard_size`` images in input order. A shard counts as done once
its Parquet file exists (its masks were written before it), so rerunning the same command skips
every finished shard and only redoes shards that were in flight. Rows are merged keeping the
first row per image path, so a shard delivered twice (a retried worker) cannot duplicate rows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.errors import ConfigError, RunError
from edgeseg.io import atomic_path, write_bytes, write_json
from edgeseg.postprocess import PostprocessConfig
from edgeseg.scale.engines import ENGINES, EngineSpec
from edgeseg.scale.inputs import Item
from edgeseg.scale.work import COLUMNS, WorkSpec

TABLE_FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class JobConfig:
    """One scale job.

    Attributes:
        model: model file or run directory.
        out: the output folder (new, empty, or an earlier run of the same job to resume).
        task: ``predict`` (masks, table) or ``eval`` (also the metrics report; items carry masks).
        engine: a name in :data:`ENGINES` (``local``, ``ray``).
        address, workers, threads: see :class:`EngineSpec`.
        batch_size: images per model call; None: as the artifact allows (1 for fixed-batch
            TFLite files, 8 otherwise).
        shard_size: images per shard, the unit of resumption and of work handed to a worker.
        overlays: also write ``overlays/<key>.jpg``.
        post: mask post-processing.
        tta: flip test-time augmentation inside the workers (``none``, ``h``, ``hv``).
        tables: which of ``parquet``, ``csv`` to write for the merged table.
    """

    model: str
    out: str
    task: str = "predict"
    engine: str = "local"
    address: str | None = None
    workers: int = 1
    threads: int = 1
    batch_size: int | None = None
    shard_size: int = 32
    overlays: bool = False
    post: PostprocessConfig = PostprocessConfig()
    tta: str = "none"
    tables: tuple[str, ...] = ("parquet",)

    def __post_init__(self) -> None:
        ENGINES.get(self.engine)
        if self.task not in ("predict", "eval"):
            raise ConfigError(f"task must be predict or eval, got {self.task!r}")
        if self.shard_size < 1:
            raise ConfigError(f"--shard-size must be >= 1, got {self.shard_size}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        bad = [t for t in self.tables if t not in TABLE_FORMATS]
        if bad or not self.tables:
            raise ConfigError(f"table formats must be among {', '.join(TABLE_FORMATS)}, got {', '.join(self.tables) or 'none'}")


@dataclass(frozen=True)
class JobResult:
    """What a job did: the merged table (a pyarrow Table), the summary dict, the output folder,
    and for ``eval`` the :class:`edgeseg.evaluate.EvalResult` of the scored images."""

    out: Path
    table: Any
    summary: dict[str, Any]
    scores: Any = None


def _model_record(model: str) -> tuple[str, dict[str, Any] | None, int | None]:
    """(sha256, manifest dict or None, the file's fixed batch or None) of the model."""
    from edgeseg.artifact import read_manifest, sha256_file

    path = Path(model)
    if not path.exists():
        raise RunError(f"{model}: no such model file or run directory")
    if path.is_dir() and (path / "config.json").is_file():
        from edgeseg.run import RunDir

        path = RunDir.open(path).best_model()
    manifest = read_manifest(path) if path.is_file() else None
    fixed = 1 if path.suffix.lower() == ".tflite" else None  # the TFLite contract is batch 1
    return sha256_file(path), (manifest.to_dict() if manifest else None), fixed


def _hints(model: str) -> tuple[tuple[str, float], ...]:
    from edgeseg.screen.hints import HintConfig

    try:
        from edgeseg.artifact import read_manifest

        manifest = read_manifest(model) if Path(model).is_file() else None
    except RunError:
        manifest = None
    cfg = HintConfig(**manifest.hints) if manifest is not None and manifest.hints else HintConfig()
    return tuple(dataclasses.asdict(cfg).items())


def _fingerprint(cfg: JobConfig, items: Sequence[Item], model_sha: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    for i in items:
        digest.update(f"{i.key}\t{i.path}\t{i.mask or ''}\n".encode())
    return {"task": cfg.task, "model_sha256": model_sha, "postprocess": dataclasses.asdict(cfg.post), "tta": cfg.tta,
            "shard_size": cfg.shard_size, "overlays": cfg.overlays, "images": len(items), "inputs_sha256": digest.hexdigest()}


def _prepare(out: Path, fingerprint: dict[str, Any], cfg: JobConfig) -> None:
    """Refuse a folder holding something else; accept a new/empty folder or the same job's."""
    record = out / "job.json"
    if record.is_file():
        old = json.loads(record.read_text()).get("fingerprint", {})
        diff = [k for k in fingerprint if old.get(k) != fingerprint[k]]
        if diff:
            raise RunError(f"{out} holds another job (its {', '.join(diff)} differ); choose a new output folder "
                           "or rerun the same command to resume")
        return
    if out.exists() and not out.is_dir():
        raise RunError(f"{out} is a file; choose a new output folder")
    if out.exists() and any(out.iterdir()):
        raise RunError(f"{out} is not empty and holds no edgeseg job; choose a new output folder (nothing is overwritten)")
    write_json(record, {"fingerprint": fingerprint, "config": {**dataclasses.asdict(cfg), "out": str(out)}})


def _shard_path(out: Path, index: int) -> Path:
    return out / "shards" / f"shard-{index:05d}.parquet"


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """A row with plain Python values (Ray hands back numpy scalars and NaN for missing text)."""
    out = {}
    for k in COLUMNS:
        v = row[k]
        if isinstance(v, np.generic):
            v = v.item()
        if k == "error":
            v = v if isinstance(v, str) and v else None
        out[k] = v
    return out


def _schema():  # noqa: ANN202
    import pyarrow as pa

    types = {"shard": pa.int32(), "height": pa.int32(), "width": pa.int32(),
             **{k: pa.int64() for k in ("tp", "fp", "fn", "tn")},
             **{k: pa.float64() for k in ("area_fraction", "mean_confidence", "laplacian_var", "mean_grey",
                                          "border_fraction", "dice", "iou")}}
    return pa.schema([(k, types.get(k, pa.string())) for k in COLUMNS])


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema())
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _done_shards(out: Path, shards: Sequence[tuple[int, Sequence[Item]]]) -> set[int]:
    """Shards whose Parquet file exists and names exactly the shard's images."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    done = set()
    for index, items in shards:
        path = _shard_path(out, index)
        if not path.is_file():
            continue
        try:
            paths = pq.read_table(path, columns=["path"]).column("path").to_pylist()
        except (pa.ArrowException, OSError):
            continue  # unreadable: redo it
        if sorted(paths) == sorted(i.path for i in items):
            done.add(index)
    return done


def _store(out: Path, index: int, rows: list[dict[str, Any]]) -> None:
    """Masks (and overlays) first, each atomically, then the shard's Parquet file: a shard file
    on disk means every file of its images is complete."""
    for row in rows:
        if row["mask_png"]:
            write_bytes(out / "masks" / f"{row['key']}.png", bytes(row["mask_png"]))
        if row.get("overlay_jpg"):
            write_bytes(out / "overlays" / f"{row['key']}.jpg", bytes(row["overlay_jpg"]))
    _write_parquet(_shard_path(out, index), [_clean(r) for r in rows])


def run_job(cfg: JobConfig, items: Sequence[Item]) -> JobResult:
    """Run ``items`` through ``cfg.model`` on ``cfg.engine`` into ``cfg.out`` (see the module
    docstring for the layout), resuming an earlier run of the same job.

    Raises:
        ConfigError / RunError: before any work (bad options, a foreign output folder, a missing
            model); RunError if the engine loses shards.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from edgeseg.progress import counter

    if not items:
        raise ConfigError("no images to process")
    if cfg.task == "eval" and not all(i.mask for i in items):
        raise ConfigError("eval needs an expert mask for every image")
    out = Path(cfg.out)
    model_sha, manifest, fixed_batch = _model_record(cfg.model)
    batch = fixed_batch or cfg.batch_size or 8
    work = WorkSpec(post=cfg.post, overlays=cfg.overlays, batch_size=batch, hints=_hints(cfg.model))
    spec = EngineSpec(model=cfg.model, work=work, workers=cfg.workers, threads=cfg.threads,
                      address=cfg.address, tta=cfg.tta)
    engine = ENGINES.get(cfg.engine)(spec)
    _prepare(out, _fingerprint(cfg, items, model_sha), cfg)
    shards = [(i // cfg.shard_size, items[i:i + cfg.shard_size]) for i in range(0, len(items), cfg.shard_size)]
    done = _done_shards(out, shards)
    todo = [s for s in shards if s[0] not in done]
    skipped = sum(len(items) for index, items in shards if index in done)
    n_todo = len(items) - skipped

    t0 = time.perf_counter()
    first: float | None = None
    last, first_n, processed = t0, 0, 0
    try:
        with counter(n_todo, f"{cfg.task} on {cfg.engine} ({cfg.workers} worker{'s' if cfg.workers > 1 else ''})") as bar:
            for index, rows in engine.run(todo):
                _store(out, index, rows)
                processed += len(rows)
                last = time.perf_counter()
                if first is None:
                    first, first_n = last, len(rows)
                bar.advance(len(rows))
    finally:
        engine.close()
    wall = time.perf_counter() - t0

    tables = [pq.read_table(_shard_path(out, index)) for index, _ in shards]
    merged = pa.concat_tables(tables).cast(_schema())
    merged = _dedupe(merged, [i.path for i in items])
    if "parquet" in cfg.tables:
        with atomic_path(out / "results.parquet") as tmp:
            pq.write_table(merged, tmp)
    if "csv" in cfg.tables:
        import pyarrow.csv as pacsv

        with atomic_path(out / "results.csv") as tmp:
            pacsv.write_csv(merged, tmp)

    errors = [(p, e) for p, e in zip(merged.column("path").to_pylist(), merged.column("error").to_pylist()) if e]
    startup = getattr(engine, "startup_seconds", 0.0)
    summary: dict[str, Any] = {
        "task": cfg.task, "engine": cfg.engine, "workers": cfg.workers, "threads_per_worker": cfg.threads,
        "address": cfg.address, "batch_size": batch, "shard_size": cfg.shard_size,
        "counts": {"images": len(items), "ok": merged.num_rows - len(errors), "errors": len(errors),
                   "skipped_done_before": skipped, "processed_now": processed,
                   "with_expert_mask": int(sum(1 for v in merged.column("tp").to_pylist() if v is not None and v >= 0))},
        "throughput": {"wall_seconds": round(wall, 3), "engine_startup_seconds": round(startup, 3),
                       "first_shard_seconds": round(first - t0, 3) if first else None,
                       # after the first shard: the rate once every worker is up (start-up excluded)
                       "steady_images_per_second": round((processed - first_n) / (last - first), 3)
                       if first and last > first else None,
                       "images_per_second": round(processed / wall, 3) if wall > 0 and processed else None},
        "failures": [{"path": p, "error": e} for p, e in errors[:1000]],
        "model": {"path": str(cfg.model), "sha256": model_sha, "manifest": manifest},
        "postprocess": dataclasses.asdict(cfg.post), "tta": cfg.tta,
        "versions": _versions(cfg.engine),
    }
    scores = None
    if cfg.task == "eval":
        scores = _write_eval(out, merged, cfg, summary)
    write_json(out / "summary.json", summary)
    return JobResult(out, merged, summary, scores)


def _dedupe(table: Any, order: list[str]) -> Any:
    """One row per image path (the first), in input order."""
    import pyarrow as pa

    position = {p: i for i, p in enumerate(order)}
    keep, seen = [], set()
    for i, p in enumerate(table.column("path").to_pylist()):
        if p not in seen and p in position:
            seen.add(p)
            keep.append(i)
    table = table.take(pa.array(keep, pa.int64()))
    idx = sorted(range(table.num_rows), key=lambda i: position[table.column("path")[i].as_py()])
    return table.take(pa.array(idx, pa.int64()))


def _write_eval(out: Path, table: Any, cfg: JobConfig, summary: dict[str, Any]) -> Any:
    """The usual report (metrics.json, per_image.csv, confusion.png) over the scored images."""
    from edgeseg.evaluate import EvalResult, write_report
    from edgeseg.metrics import Counts, summarize

    d = table.to_pydict()
    ok = [i for i, e in enumerate(d["error"]) if not e]
    if not ok:
        raise RunError(f"{out}: no image could be scored ({summary['counts']['errors']} errors; see summary.json)")
    counts = Counts(*(np.asarray([d[k][i] for i in ok], np.int64) for k in ("tp", "fp", "fn", "tn")))
    result = EvalResult(tuple(d["key"][i] for i in ok), counts, summarize(counts), cfg.post)
    # write_report makes a new folder whole; its files are then renamed into OUT one by one
    # (each rename atomic), so a resumed job refreshes the report in place.
    staging = out / f".report-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    write_report(result, staging, {"model": str(cfg.model), "engine": cfg.engine, "tta": cfg.tta,
                                   "errors": summary["counts"]["errors"]})
    for f in sorted(staging.iterdir()):
        os.replace(f, out / f.name)
    staging.rmdir()
    return result


def _versions(engine: str) -> dict[str, str]:
    import platform

    import pyarrow

    v = {"python": sys.version.split()[0], "pyarrow": pyarrow.__version__, "machine": platform.machine()}
    if engine == "ray":
        import ray

        v["ray"] = ray.__version__
    return v

