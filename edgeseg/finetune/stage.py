"""The fine-tune stage, written once: ``run_stage(stage, source_run, cfg) -> RunDir``.

A fine-tune stage (pruning, QAT; next distillation or encoder unfreezing) takes a finished float
run's best model, wraps it (pruning masks, fake-quant ops, ...), fine-tunes it with the training
loop on the source run's own splits and data pipeline, and saves it as a NEW run, which resumes
like any run. A stage is only the parts that differ, a :class:`FineTuneStage` registered in
:data:`STAGES`:

- ``config``: its frozen config, a subclass of :class:`FineTuneConfig` (epochs, learning rate
  and step cap, checked here once) with the stage's own fields;
- ``plan(source, cfg, run_cfg, arrays) -> record``: look at the float model and decide what to
  wrap, before the new run exists (bad input creates nothing); the record is the stage file;
- ``hooks(cfg, record, run_cfg) -> FitHooks``: build and reload the wrapped model, extra
  callbacks, what ``best.keras`` holds (:class:`edgeseg.train.FitHooks`); called again on resume;
- ``finish(run, record) -> RunDir``: measure the fitted run and write its report.

Opening the source, the run config, decoding the data, the new run directory, fitting and
resuming are :func:`run_stage` and :func:`resume_stage`. The new run holds::

    RUN/config.json          the source's RunConfig with the fine-tune's epochs / learning rate / steps
    RUN/splits.json          a copy of the source's split record
    RUN/<marker>             the record: source run (+ sha256 of its model), the stage's config
                             under its name (``record["prune"]``), and what ``plan`` decided
    RUN/checkpoints/         as for any run; ``best.keras`` as the hooks' ``export`` and ``keep`` say

:func:`edgeseg.finetune.resume` finds a run's stage by its marker file.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.config import RunConfig
from edgeseg.errors import ConfigError
from edgeseg.registry import Registry
from edgeseg.run import RunDir
from edgeseg.train import (
    FineTuneSource,
    FitHooks,
    continue_run,
    create_fine_tune_run,
    fine_tune,
    fine_tune_config,
    load_split_arrays,
)

Record = dict[str, Any]
# (train images, train masks, validation images, validation masks), see edgeseg.train.load_split_arrays
Arrays = tuple[Any, Any, Any, Any]


@dataclass(frozen=True)
class FineTuneConfig:
    """What every fine-tune stage's config holds; a stage's config subclasses it.

    Attributes:
        epochs: fine-tuning epochs.
        learning_rate: Adam's learning rate (low: the float weights are already trained).
        max_steps: cap on steps per epoch (quick runs).
    """

    epochs: int = 2
    learning_rate: float = 1e-4
    max_steps: int | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning rate must be > 0, got {self.learning_rate}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max steps must be >= 1, got {self.max_steps}")


@dataclass(frozen=True)
class FineTuneStage:
    """One fine-tune stage: what it wraps and how it finishes (see the module docstring).

    Attributes:
        name: the registry name; the record keeps the stage's config under it.
        marker: the stage file that marks the stage's runs (``prune.json``).
        suffix: the automatic name of a new run, ``{source run}-{suffix}``, numbered.
        config: the stage's config class.
        plan: ``(source, cfg, run_cfg, arrays) -> record`` entries, decided before the run exists.
        hooks: ``(cfg, record, run_cfg) -> FitHooks`` for a new and for a resumed fit.
        finish: ``(run, record) -> run``, after every fit: measure and report.
        train_changes: TrainConfig fields the stage sets in the run's config (QAT: float32).
    """

    name: str
    marker: str
    suffix: str
    config: type[FineTuneConfig]
    plan: Callable[[FineTuneSource, Any, RunConfig, Arrays], Record]
    hooks: Callable[[Any, Record, RunConfig], FitHooks]
    finish: Callable[[RunDir, Record], RunDir]
    train_changes: Mapping[str, Any] = field(default_factory=dict)


STAGES: Registry[FineTuneStage] = Registry("fine-tune stage")


def register(stage: FineTuneStage) -> FineTuneStage:
    """Add ``stage`` to :data:`STAGES` under its name (a second stage with its marker raises)."""
    clash = [n for n in STAGES if STAGES.get(n).marker == stage.marker]
    if clash:
        raise ValueError(f"fine-tune stage {clash[0]!r} already marks its runs with {stage.marker}")
    STAGES.add(stage.name, stage)
    return stage


def run_stage(stage: FineTuneStage, source: str | Path, cfg: FineTuneConfig, runs_root: str | Path = "runs",
              name: str | None = None) -> RunDir:
    """Fine-tune the best model of the run ``source`` with ``stage`` into a new run directory.

    Returns:
        The new :class:`RunDir`, after ``stage.finish``.

    Raises:
        RunError: ``source`` is not a run, has no checkpoint, or its model cannot be loaded;
            ``name`` exists.
        ConfigError: ``cfg`` is not the stage's config, or the stage's plan refuses the model.
        DataError: the source run's pairs cannot be read.
    """
    if not isinstance(cfg, stage.config):
        raise ConfigError(f"{stage.name} needs a {stage.config.__name__}, got {type(cfg).__name__}")
    src = FineTuneSource.open(source)
    run_cfg = fine_tune_config(src.cfg, epochs=cfg.epochs, learning_rate=cfg.learning_rate,
                               max_steps=cfg.max_steps, **stage.train_changes)
    # Everything that can fail on input happens before the new run directory exists.
    arrays = load_split_arrays(src.splits, run_cfg)
    record = {**src.record(), stage.name: dataclasses.asdict(cfg), **stage.plan(src, cfg, run_cfg, arrays)}
    run = create_fine_tune_run(src, run_cfg, runs_root, name, stage.suffix, stage.marker, record)
    fine_tune(run, run_cfg, arrays, stage.hooks(cfg, record, run_cfg))
    return stage.finish(run, record)


def resume_stage(stage: FineTuneStage, run: RunDir, epochs: int | None = None) -> RunDir:
    """Continue an interrupted run of ``stage`` (extra ``epochs`` extend it), then finish it.

    The stage's config and plan are read back from its marker file, so the resumed fit rebuilds
    the same wrapped model.
    """
    record = json.loads((run.path / stage.marker).read_text())
    cfg = stage.config(**record[stage.name])
    continue_run(run, epochs, stage.hooks(cfg, record, run.config()))
    return stage.finish(run, record)


def find_stage(run: RunDir) -> FineTuneStage | None:
    """The registered stage whose marker file ``run`` holds; None for a plain training run."""
    for name in STAGES:
        stage = STAGES.get(name)
        if (run.path / stage.marker).is_file():
            return stage
    return None
