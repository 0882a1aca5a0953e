"""Engines move shards to workers and rows back; they never touch pixels themselves.

``ENGINES`` maps a name to an engine class. An engine is built from the job's :class:`EngineSpec`
and ``run(shards)`` yields ``(shard index, rows)`` as shards finish, in any order:

- ``local``: this process, one Runner, shards in order.
- ``ray``: Ray Data. Shards become rows of a dataset; ``map_batches`` runs them on an actor pool
  (``ActorPoolStrategy(size=workers)``), one model load per actor. A worker that dies is
  restarted by Ray and its shard re-run; the driver keeps the first complete copy of a shard.

Networking: a Ray started for the job binds to 127.0.0.1 with no dashboard, and keeps Ray's
token authentication on with a token made for this process (nothing written to ``~/.ray``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeseg.errors import ConfigError, RunError, first_line
from edgeseg.registry import Registry
from edgeseg.scale.inputs import Item
from edgeseg.scale.work import WorkSpec, load_worker_runner, process_shard

LOOPBACK = "127.0.0.1"
if "ray" not in sys.modules:  # a job's own Ray stays on the loopback (see RayEngine._connect)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@dataclass(frozen=True)
class EngineSpec:
    """Where and how wide a job runs.

    Attributes:
        model: the model file or run directory every worker loads.
        work: what each worker does per image (:class:`WorkSpec`).
        workers: model copies working at once (Ray actors; ``local`` has exactly 1).
        threads: inference threads per worker (TFLite/ONNX Runtime ``num_threads``).
        address: a running Ray cluster (``auto``, ``ray://host:10001``); None starts a local Ray
            on 127.0.0.1 for the job and stops it afterwards.
        tta: flip test-time augmentation (``none``, ``h``, ``hv``), applied inside each worker.
    """

    model: str
    work: WorkSpec
    workers: int = 1
    threads: int = 1
    address: str | None = None
    tta: str = "none"

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {self.threads}")


Shard = tuple[int, Sequence[Item]]
Rows = list[dict[str, Any]]


def _runner(spec: EngineSpec, files: dict[str, bytes] | None = None) -> Any:
    runner = load_worker_runner(spec.model, files, spec.threads)
    if spec.tta != "none":
        from edgeseg.runtime.tta import FlipTTARunner

        runner = FlipTTARunner(runner, spec.tta)
    return runner


class LocalEngine:
    """Shards in order, in this process, with one Runner."""

    name = "local"

    def __init__(self, spec: EngineSpec) -> None:
        if spec.workers != 1 or spec.address is not None:
            raise ConfigError("--engine local runs one worker in this process; "
                              "--workers and --address need --engine ray")
        self.spec = spec
        self.startup_seconds = 0.0

    def run(self, shards: Sequence[Shard]) -> Iterator[tuple[int, Rows]]:
        runner = _runner(self.spec)
        for index, items in shards:
            yield index, process_shard(runner, index, items, self.spec.work)

    def close(self) -> None:
        pass


class _ShardWorker:
    """A Ray Data actor: loads the model once, then processes one shard per call."""

    def __init__(self, spec: dict[str, Any], files: list[Any]) -> None:
        import ray

        from edgeseg.postprocess import PostprocessConfig

        # The model bytes come by reference (kept alive by the driver), so a restarted actor
        # can fetch them again; a reference nested in a list is not resolved by Ray itself.
        files = ray.get(files[0])

        work = spec.pop("work")
        work = WorkSpec(post=PostprocessConfig(**work.pop("post")), **{**work, "hints": tuple(map(tuple, work["hints"]))})
        self.spec = EngineSpec(work=work, **spec)
        self.runner = _runner(self.spec, files)

    def __call__(self, batch: Any) -> Any:
        import pandas as pd

        rows: Rows = []
        for index, items in zip(batch["shard"], batch["items"]):
            shard_items = [Item(**d) for d in json.loads(items)]
            rows.extend(process_shard(self.runner, int(index), shard_items, self.spec.work))
        return pd.DataFrame(rows)


_TOKEN = secrets.token_hex(32)  # one per driver process: Ray caches the token it first sees


class RayEngine:
    """Shards on a Ray Data actor pool (see the module docstring)."""

    name = "ray"

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec
        self.started_here = False
        self.startup_seconds = 0.0

    def _connect(self) -> None:
        import time

        import ray

        t = time.perf_counter()
        if ray.is_initialized():
            return
        common = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
        if self.spec.address is None and not os.environ.get("RAY_ADDRESS"):
            # A private cluster for this job, on the loopback only. Token auth stays on (Ray's
            # default); the token is this process's own, so nothing lands in ~/.ray.
            # (RAY_AUTH_MODE is left to Ray: ray.init turns token mode on and finds this token.)
            os.environ.setdefault("RAY_AUTH_TOKEN", _TOKEN)
            # On Linux Ray turns a 127.0.0.1 node address into the machine's routable one unless
            # "clusters" are off, which makes every Ray address the loopback one (read at import).
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            need = self.spec.workers * self.spec.threads
            ray.init(address="local", _node_ip_address=LOOPBACK, num_cpus=max(need, os.cpu_count() or 1),
                     object_store_memory=512 * 2**20, **common)
            self.started_here = True
            ip = ray.util.get_node_ip_address()
            if ip != LOOPBACK:
                self.close()
                raise RunError(f"the local Ray came up on {ip}, not {LOOPBACK}: import edgeseg.scale before ray, "
                               "or set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0")
        else:
            address = self.spec.address or os.environ.get("RAY_ADDRESS")
            try:
                ray.init(address=address, **({} if str(address).startswith("ray://") else common))
            except Exception as e:  # noqa: BLE001  (connection and auth failures: one line)
                hint = (" (token auth: set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH to the cluster's token)"
                        if "auth" in str(e).lower() or "token" in str(e).lower() else "")
                raise RunError(f"--address {address}: cannot connect to the Ray cluster: {first_line(e, 200)}{hint}") from None
        self.startup_seconds = time.perf_counter() - t

    def _files(self) -> dict[str, bytes] | None:
        """The model file and its manifest, shipped to the actors (a cluster node may not see the
        driver's disk); a run directory is loaded by path."""
        path = Path(self.spec.model)
        if not path.is_file():
            return None
        files = {path.name: path.read_bytes()}
        manifest = path.with_name("manifest.json")
        if manifest.is_file():
            files[manifest.name] = manifest.read_bytes()
        return files

    def run(self, shards: Sequence[Shard]) -> Iterator[tuple[int, Rows]]:
        import ray
        from ray.data import ActorPoolStrategy, DataContext

        if not shards:
            return
        self._connect()
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its notices would cross our bar
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False  # edgeseg draws its own bar, with images/s
        ctx.print_on_execution_start = False
        expected = {index: len(items) for index, items in shards}
        records = [{"shard": index, "items": json.dumps([asdict(i) for i in items])} for index, items in shards]
        spec = asdict(self.spec)
        spec["work"]["hints"] = [list(h) for h in spec["work"]["hints"]]
        ds = ray.data.from_items(records, override_num_blocks=len(records)).map_batches(
            _ShardWorker, fn_constructor_kwargs={"spec": spec, "files": [ray.put(self._files())]},
            batch_size=1, batch_format="pandas", compute=ActorPoolStrategy(size=min(self.spec.workers, len(records))),
            num_cpus=self.spec.threads,
            # Ray Data's actor defaults (max_restarts=-1, max_task_retries=-1) restart a dead
            # actor and re-run its shard; a shard that arrives twice is dropped below.
        )
        partial: dict[int, Rows] = {}
        done: set[int] = set()
        for batch in ds.iter_batches(batch_size=None, batch_format="pandas"):
            for row in batch.to_dict("records"):
                index = int(row["shard"])
                if index in done:
                    continue
                rows = partial.setdefault(index, [])
                if any(r["key"] == row["key"] for r in rows):
                    continue
                rows.append(row)
                if len(rows) == expected[index]:
                    done.add(index)
                    yield index, partial.pop(index)
        if partial:
            raise RunError(f"Ray returned incomplete shards {sorted(partial)}; rerun the same command to resume")

    def close(self) -> None:
        if self.started_here:
            import ray

            ray.shutdown()
            self.started_here = False


ENGINES: Registry[type] = Registry("engine")
ENGINES.add("local", LocalEngine)
ENGINES.add("ray", RayEngine)
