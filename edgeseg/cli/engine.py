"""``--engine``, ``--address``, ``--workers``, ``--threads``, ``--overlays``: the options that send
``edgeseg predict`` and ``edgeseg eval`` to a scale job (:mod:`edgeseg.scale`), shared by both."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from edgeseg.errors import ConfigError


class Engine(str, Enum):
    local = "local"
    ray = "ray"


EngineOpt = Annotated[Engine, typer.Option(
    help="local: this process, as before. ray: a resumable job on Ray Data (one model per worker; "
         "masks, results.parquet/.csv, summary.json; a bad image becomes a row with its error).")]
AddressOpt = Annotated[Optional[str], typer.Option(
    help="With --engine ray: a running Ray cluster (auto, ray://HOST:10001). "
         "[default: a Ray started for the job on 127.0.0.1, no dashboard]")]
WorkersOpt = Annotated[Optional[int], typer.Option(help="With --engine ray: model copies working at once (Ray actors). [default: 1]")]
ThreadsOpt = Annotated[Optional[int], typer.Option(help="With --engine ray: inference threads per worker. [default: 1]")]
OverlaysOpt = Annotated[bool, typer.Option("--overlays/--no-overlays", help="With --engine ray: also write overlays/<key>.jpg (lesion outline).")]


def check_engine(engine: Engine, address: str | None, workers: int | None, threads: int | None,
                 overlays: bool = False) -> bool:
    """True for a scale job; raises ConfigError for Ray-only options given to the local engine."""
    if engine is Engine.local:
        given = [n for n, v in (("--address", address), ("--workers", workers), ("--threads", threads),
                                ("--overlays", overlays or None)) if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} need{'s' if len(given) == 1 else ''} --engine ray")
        return False
    return True


def run_scale_job(task: str, model: Path, items: list[Any], out: Path, post: Any, *, engine: Engine,
                  address: str | None, workers: int | None, threads: int | None, overlays: bool = False,
                  batch_size: int | None = None, tta: str = "none") -> Any:
    """Run the job and print one line of counts; returns the :class:`edgeseg.scale.JobResult`."""
    from edgeseg.scale import JobConfig, run_job

    cfg = JobConfig(model=str(model), out=str(out), task=task, engine=engine.value, address=address,
                    workers=1 if workers is None else workers, threads=1 if threads is None else threads, batch_size=batch_size, overlays=overlays,
                    post=post, tta=tta, tables=("parquet", "csv"))
    result = run_job(cfg, items)
    c, t = result.summary["counts"], result.summary["throughput"]
    rate = f", {t['images_per_second']:.1f} images/s" if t["images_per_second"] else ""
    typer.echo(f"{c['images']} images -> {out} ({c['ok']} ok, {c['errors']} errors, "
               f"{c['skipped_done_before']} done before{rate}); table: {out / 'results.parquet'}")
    return result
