"""``--runtime auto`` for ``predict`` and ``camera``: the fastest artifact × runtime measured on
this host, measured once and cached.

The fastest pair differs by CPU (issue 19): with VNNI, LiteRT's int8 beats ONNX Runtime's int8;
without it, ONNX Runtime wins. So the choice is measured, not guessed: every gated artifact of the
model folder (the shipped one, :data:`edgeseg.defaults.SHIPPED`, unless a folder or file is given)
on every runtime that can run it here, a few runs each in one bench worker process, interleaved in
rounds so that every candidate sees the same load on a shared machine. The timer is the bench's
(:func:`edgeseg.runtime.timing.time_runner`); the worker is the bench's too.

The cache (``~/.cache/edgeseg/runtime_auto.json``, or ``$EDGESEG_RUNTIME_CACHE``) holds one entry
per key: the host (CPU model and a hash of all its flags), the thread count, the runtime library
versions and the (sha256, runtime) pairs measured. A changed file, CPU, thread count or library is a
new key, measured again; the file is rewritten whole (atomic), never edited in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from edgeseg.bench.measure import Artifact, collect, run_worker
from edgeseg.bench.runtimes import BENCH_RUNTIMES, runtimes_for
from edgeseg.bench.system import all_cpu_flags, machine_info
from edgeseg.errors import ConfigError, RunError
from edgeseg.io import WriteError

CACHE_ENV = "EDGESEG_RUNTIME_CACHE"
CACHE_VERSION = 1
# keras-predict is the naive baseline (the same model as `keras`, through a slower call), never a way to deploy.
NOT_CANDIDATES = frozenset({"keras-predict"})
# Libraries whose upgrade can change which pair is fastest: part of the cache key.
KEY_LIBRARIES = ("ai-edge-litert", "onnxruntime", "onnxruntime-gpu", "tensorflow")


@dataclass(frozen=True)
class AutoConfig:
    """How long the measurement is: ``rounds`` × ``runs`` timed calls per candidate after
    ``warmup`` untimed ones; the candidate's figure is the median of its per-round p50s."""

    warmup: int = 2
    rounds: int = 3
    runs: int = 5
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.runs < 1 or self.warmup < 0:
            raise ConfigError("runtime auto: rounds and runs must be >= 1, warmup >= 0")


@dataclass(frozen=True)
class Measured:
    """One candidate pair: its p50 in ms, or why it could not run."""

    artifact: str
    sha256: str
    runtime: str
    p50_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class AutoChoice:
    """The chosen pair, every pair measured, and where the figure came from."""

    artifact: str  # label, e.g. tflite_static_wi8_ai8_int8io
    file: Path
    sha256: str
    runtime: str
    threads: int
    p50_ms: float
    measured: tuple[Measured, ...]
    cached: bool  # True: read from the cache, nothing was measured
    measured_at: str
    cache: Path
    host: str = field(default="")
    cache_error: str | None = None  # why the measurement could not be cached (the choice still stands)

    def line(self) -> str:
        """The one line ``predict`` and ``camera`` print."""
        n = sum(m.p50_ms is not None for m in self.measured)
        how = f"measured {self.measured_at}, read from the cache" if self.cached else "measured now"
        where = f"not cached: {self.cache_error}" if self.cache_error else f"cache {self.cache}"
        return (f"runtime auto: {self.artifact} on {self.runtime} ({self.threads} threads, p50 {self.p50_ms:.1f} ms; "
                f"fastest of {n} pairs on this host, {how}; {where})")


def cache_path() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "edgeseg" / "runtime_auto.json"


def host_id() -> str:
    """CPU model and a hash of every CPU flag: two hosts with the same model name but different
    enabled features (a VM hiding AVX-512) are different hosts."""
    flags = hashlib.sha256(" ".join(sorted(all_cpu_flags())).encode()).hexdigest()[:12]
    return f"{machine_info()['cpu']} | flags {flags}"


def candidates(arts: list[Artifact]) -> list[tuple[Artifact, Any]]:
    """Every gated artifact (a failed gate is never a candidate) × every runtime that can run it here."""
    from edgeseg.artifact import read_manifest

    out = []
    for a in arts:
        if a.problem:
            continue
        m = read_manifest(a.path)
        if m is not None and m.gate and m.gate.get("passed") is False:
            continue
        for rt in runtimes_for(a.suffix):
            if rt.name not in NOT_CANDIDATES and rt.available() is None:
                out.append((a, rt))
    return out


def cache_key(pairs: list[tuple[Artifact, Any]], threads: int) -> str:
    libs = machine_info()["libraries"]
    blob = json.dumps({"host": host_id(), "threads": threads, "libraries": {k: libs.get(k) for k in KEY_LIBRARIES},
                       "pairs": sorted([a.sha256, rt.name] for a, rt in pairs)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def choose(paths: list[Path] | None = None, threads: int | None = None, cfg: AutoConfig = AutoConfig(),
           cache: Path | None = None) -> AutoChoice:
    """The fastest (artifact, runtime) pair for ``paths`` (default: the shipped model folder) at
    ``threads`` (default: all cores), from the cache when this host measured the same pairs before.

    Raises:
        RunError: no artifact, no candidate that can run here, or none ran.
        ConfigError: ``threads`` below 1.
    """
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    threads = threads or machine_info()["cores"]
    cache = cache or cache_path()
    pairs = candidates(collect(list(paths or [])))
    if not pairs:
        raise RunError(f"runtime auto: no gated artifact in {', '.join(map(str, paths or [])) or 'the shipped model folder'} "
                       "that a runtime here can run")
    key = cache_key(pairs, threads)
    entries = _read_cache(cache)
    hit = entries.get(key)
    by_sha = {(a.sha256, rt.name): a for a, rt in pairs}
    if hit and (hit.get("choice", {}).get("sha256"), hit.get("choice", {}).get("runtime")) in by_sha:
        return _choice(hit, by_sha, threads, cached=True, cache=cache)
    measured = measure(pairs, threads, cfg)
    ok = [m for m in measured if m.p50_ms is not None]
    if not ok:
        raise RunError("runtime auto: no candidate ran here: " + "; ".join(f"{m.artifact}/{m.runtime}: {m.error}" for m in measured))
    best = min(ok, key=lambda m: m.p50_ms)
    entry = {"key": key, "host": host_id(), "threads": threads, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
             "config": asdict(cfg), "choice": asdict(best), "measured": [asdict(m) for m in measured]}
    try:
        _write_cache(cache, key, entry)
    except WriteError as e:  # the cache only saves time: a read-only home still gets its choice
        return replace(_choice(entry, by_sha, threads, cached=False, cache=cache), cache_error=str(e))
    return _choice(entry, by_sha, threads, cached=False, cache=cache)


def measure(pairs: list[tuple[Artifact, Any]], threads: int, cfg: AutoConfig) -> list[Measured]:
    """Time every pair in one bench worker (``edgeseg.bench.worker``, job ``auto``)."""
    job = {"kind": "auto", "threads": threads, "warmup": cfg.warmup, "rounds": cfg.rounds, "runs": cfg.runs,
           "candidates": [{"artifact": str(a.path), "runtime": rt.name} for a, rt in pairs]}
    r = run_worker(job, threads, cfg.timeout_s)
    results = r.get("results") if r.get("ok") else None
    out = []
    for i, (a, rt) in enumerate(pairs):
        res = results[i] if results else {"error": r.get("error", "worker failed")}
        out.append(Measured(a.label, a.sha256 or "", rt.name, res.get("p50_ms"), res.get("error")))
    return out


def load_choice(choice: AutoChoice) -> Any:
    """The chosen pair as a Runner in this process, through the same loader the bench measured."""
    return BENCH_RUNTIMES.get(choice.runtime).load(choice.file, choice.threads)


def _choice(entry: dict[str, Any], by_sha: dict[tuple[str, str], Artifact], threads: int, *, cached: bool,
            cache: Path) -> AutoChoice:
    c = entry["choice"]
    art = by_sha[(c["sha256"], c["runtime"])]  # this clone's path for the measured file
    return AutoChoice(art.label, art.path, c["sha256"], c["runtime"], threads, float(c["p50_ms"]),
                      tuple(Measured(**m) for m in entry.get("measured", [])), cached, entry.get("measured_at", "?"),
                      cache, entry.get("host", ""))


def _read_cache(cache: Path) -> dict[str, Any]:
    """The cache's entries; an unreadable or foreign file counts as empty (it is rewritten whole)."""
    try:
        data = json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
        return {}
    return data["entries"]


def _write_cache(cache: Path, key: str, entry: dict[str, Any]) -> None:
    from edgeseg.io import write_json

    entries = _read_cache(cache)
    entries[key] = entry
    write_json(cache, {"version": CACHE_VERSION, "entries": entries})


def check_runtime_name(runtime: str) -> None:
    """Refuse an unknown ``--runtime`` before any work, listing the valid names."""
    if runtime not in ("default", "auto") and runtime not in BENCH_RUNTIMES:
        names = ", ".join(["default", "auto", *BENCH_RUNTIMES.names()])
        raise ConfigError(f"--runtime {runtime!r}: unknown; choose one of {names}")


def load_with_runtime(runtime: str, model: Path | None, threads: int | None) -> tuple[Any, str | None]:
    """A Runner for ``predict``/``camera``'s ``--runtime``: ``default`` loads ``model`` (default: the
    shipped artifact) by its suffix; ``auto`` measures (or reads the cache) and loads the fastest
    pair; a bench runtime name loads ``model`` with that runtime. Returns the runner and the line to
    print (None for ``default``).

    Raises:
        ConfigError: an unknown runtime name, or one that cannot run ``model``'s format or run here.
    """
    from edgeseg.defaults import default_artifact
    from edgeseg.runtime import load_runner

    if runtime == "default":
        return load_runner(model or default_artifact(), num_threads=threads), None
    if runtime == "auto":
        choice = choose([model] if model else None, threads)
        return load_choice(choice), choice.line()
    check_runtime_name(runtime)
    rt = BENCH_RUNTIMES.get(runtime)
    path = Path(model or default_artifact())
    if path.is_dir() and (path / "config.json").is_file():
        from edgeseg.run import RunDir

        path = RunDir.open(path).best_model()
    if path.suffix.lower() not in rt.suffixes:
        raise ConfigError(f"--runtime {runtime} runs {', '.join(rt.suffixes)} files, not {path}")
    if not path.is_file():
        raise RunError(f"{path}: no such model file or run directory")
    from edgeseg.artifact import read_manifest

    read_manifest(path)  # a file changed after export is refused (sha256), as load_runner does
    reason = rt.available()
    if reason:
        raise ConfigError(f"--runtime {runtime} cannot run here: {reason}")
    n = threads or machine_info()["cores"]
    return rt.load(path, n), f"runtime: {path} on {runtime} ({n} threads)"
