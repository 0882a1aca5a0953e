"""Magnitude pruning with tfmot: ``prune(source_run, PruneConfig) -> RunDir``.

The source run's best model (float, never modified) has its 3x3 and transposed convs wrapped in
``prune_low_magnitude``, is fine-tuned on the source run's own train split and data pipeline
(the fine-tune stage :mod:`edgeseg.finetune.stage`, so every epoch is checkpointed and resumable),
and is saved with the wrappers stripped as a NEW run directory::

    RUN/config.json          the source's RunConfig with the fine-tune's epochs / learning rate
    RUN/splits.json          a copy of the source's split record
    RUN/prune.json           the PruneConfig, the source run (+ sha256 of its model), the schedule
    RUN/prune_report.json    measured sparsity, sizes (.keras and gzip), validation Dice before/after
    RUN/checkpoints/best.keras   the STRIPPED model (plain Keras layers, zeros in the kernels)
    RUN/checkpoints/last.keras   the wrapped model with optimizer state (for resume)

Pruning is a size optimisation: unstructured sparsity does not speed up TFLite/XNNPACK (sparse
kernels + ``Optimize.DEFAULT`` even fail to delegate), it only makes the file compress better.

Usage::

    from edgeseg.prune import PruneConfig, prune
    run = prune("runs/unet_w025", PruneConfig(sparsity=0.5, epochs=2))
"""

from __future__ import annotations

import dataclasses
import gzip
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from edgeseg.config import RunConfig
from edgeseg.errors import ConfigError
from edgeseg.finetune.stage import Arrays, FineTuneConfig, FineTuneStage, Record, register, run_stage
from edgeseg.io import write_json
from edgeseg.run import RunDir
from edgeseg.train import FineTuneSource, FitHooks, compile_model, validation_dice

SCHEDULES = ("poly", "constant")
STAGE_FILE = "prune.json"
REPORT_FILE = "prune_report.json"
# The schedule reaches its target after this fraction of the fine-tune's steps; the rest
# fine-tunes with the final mask, so the weights recover from the last pruning step.
RAMP_FRACTION = 0.75
# About this many mask updates over the ramp (tfmot's default, one every 100 steps, never fires
# in a short fine-tune and leaves the model dense).
MASK_UPDATES = 16
NOTE = "pruning is a size optimisation: unstructured sparsity does not speed up TFLite/XNNPACK"


@dataclass(frozen=True)
class PruneConfig(FineTuneConfig):
    """How to prune a float run (and the fine-tune's ``epochs``, ``learning_rate``, ``max_steps``:
    :class:`~edgeseg.finetune.stage.FineTuneConfig`).

    Attributes:
        sparsity: target fraction of zero weights in every pruned kernel, in (0, 1).
        schedule: ``poly``: sparsity ramps from 0 to ``sparsity`` (PolynomialDecay, power 3),
            then holds; ``constant``: ``sparsity`` from the first mask update on.
        m_by_n: structured sparsity ``"M:N"`` as tfmot defines it: M zeros in every N
            consecutive weights along the kernel's last axis in TFLite layout (a Conv2D's input
            channels), e.g. ``"2:4"``. tfmot sets this mask once, at the first step, and ignores
            the schedule's sparsity, so it needs ``schedule="constant"`` and
            ``sparsity == M / N``.
    """

    sparsity: float = 0.5
    schedule: str = "poly"
    m_by_n: str | None = None

    def __post_init__(self) -> None:
        _check(0 < self.sparsity < 1, f"sparsity must be in (0, 1), got {self.sparsity}")
        _check(self.schedule in SCHEDULES,
               f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        super().__post_init__()
        if self.m_by_n is not None:
            m, n = self.m_by_n_pair  # type: ignore[misc]
            _check(
                self.schedule == "constant",
                f"m_by_n {self.m_by_n}: tfmot sets an M:N mask once, at the first step (there is no "
                "gradual M:N schedule); use schedule 'constant'",
            )
            _check(
                math.isclose(self.sparsity, m / n),
                f"m_by_n {self.m_by_n} means sparsity {m / n:g} ({m} zeros in every {n}), but sparsity is "
                f"{self.sparsity:g}; pass sparsity {m / n:g}",
            )

    @property
    def m_by_n_pair(self) -> tuple[int, int] | None:
        """``"2:4"`` -> ``(2, 4)``; raises ConfigError if malformed or not ``0 < M < N``."""
        if self.m_by_n is None:
            return None
        try:
            m, n = (int(v) for v in self.m_by_n.split(":"))
        except ValueError:
            raise ConfigError(f"m_by_n must look like M:N (e.g. 2:4), got {self.m_by_n!r}") from None
        _check(0 < m < n, f"m_by_n {self.m_by_n}: need 0 < M < N")
        return m, n


@dataclass(frozen=True)
class ScheduleSteps:
    """When the masks are updated, in tfmot's pruning steps (1 .. total steps of the fine-tune).

    The last update falls exactly on ``end_step`` (``(end_step - begin_step) % frequency == 0``),
    so the target sparsity is reached, and then held for the remaining steps.
    """

    begin_step: int
    end_step: int
    frequency: int

    M_BY_N: ClassVar[ScheduleSteps]

    @classmethod
    def for_steps(cls, total_steps: int) -> ScheduleSteps:
        """Steps for a poly/constant schedule over a fine-tune of ``total_steps`` steps."""
        end = max(1, math.ceil(RAMP_FRACTION * total_steps))
        frequency = max(1, min(100, end // MASK_UPDATES))
        return cls(begin_step=end % frequency, end_step=end, frequency=frequency)


ScheduleSteps.M_BY_N = ScheduleSteps(begin_step=1, end_step=1, frequency=1)


# --- reports ---------------------------------------------------------------------------------


def gzip_size(path: str | Path) -> int:
    """Size in bytes of the file gzip-compressed at level 9 (what a download or an APK's
    compressed asset costs; zeros from pruning compress, the raw file does not shrink)."""
    return len(gzip.compress(Path(path).read_bytes(), compresslevel=9))


def sparsity_report(model: Any, layer_names: Iterable[str] | None = None) -> dict[str, Any]:
    """Measured zero fraction of the conv kernels (Conv2D and Conv2DTranspose; biases excluded).

    Works on a plain or a pruning-wrapped model (the wrapped layer is read).

    Args:
        model: a Keras model.
        layer_names: only these layers (e.g. the pruned ones); default every conv.

    Returns:
        ``{"overall": zeros / weights over the selected kernels, "zeros": int, "weights": int,
        "layers": {name: {"sparsity": float, "zeros": int, "weights": int}}}``.
    """
    from edgeseg._keras import keras

    wanted = None if layer_names is None else set(layer_names)
    layers: dict[str, dict[str, Any]] = {}
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)  # PruneLowMagnitude wraps the real layer
        if type(inner) not in (keras.layers.Conv2D, keras.layers.Conv2DTranspose):
            continue
        if wanted is not None and inner.name not in wanted:
            continue
        kernel = keras.backend.get_value(inner.kernel)
        zeros, size = int((kernel == 0).sum()), int(kernel.size)
        layers[inner.name] = {"sparsity": zeros / size, "zeros": zeros, "weights": size}
    zeros = sum(v["zeros"] for v in layers.values())
    weights = sum(v["weights"] for v in layers.values())
    overall = zeros / weights if weights else 0.0
    return {"overall": overall, "zeros": zeros, "weights": weights, "layers": layers}


# --- which layers ----------------------------------------------------------------------------


def plan_layers(model: Any) -> tuple[list[str], dict[str, str]]:
    """Split the model's weighted layers into those to prune and those kept dense (with why).

    Pruned: every Conv2D / Conv2DTranspose kernel except the 1-channel logits conv.

    Returns:
        (names to prune, {name: reason} for weighted layers left dense).
    """
    from edgeseg._keras import keras

    _tfmot()
    from tensorflow_model_optimization.python.core.sparsity.keras.prune_registry import PruneRegistry

    prune, skipped = [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        kind = type(layer)
        if kind in (keras.layers.Conv2D, keras.layers.Conv2DTranspose):
            if layer.filters == 1:
                # 1x1xC -> 1 logits conv: a handful of weights, every one of them sets the mask.
                skipped[layer.name] = ("the 1-channel logits conv (too few weights to matter, "
                                       "each one decides the mask)")
            else:
                prune.append(layer.name)
        elif isinstance(layer, keras.layers.BatchNormalization):
            skipped[layer.name] = "BatchNormalization: per-channel scale/shift, nothing to sparsify"
        elif not PruneRegistry.supports(layer):
            skipped[layer.name] = f"{kind.__name__}: tfmot cannot prune this layer type"
        else:
            skipped[layer.name] = f"{kind.__name__}: not a conv kernel (edgeseg prunes conv kernels only)"
    return prune, skipped


def _schedule(cfg: PruneConfig, steps: ScheduleSteps) -> Any:
    tfmot = _tfmot()

    sparsity = tfmot.sparsity.keras
    if cfg.m_by_n is not None:
        # tfmot computes the M:N mask at step 1 only and never consults the schedule; this
        # schedule (steps = ScheduleSteps.M_BY_N) agrees with that, and also stops a resumed run,
        # whose reloaded wrapper has lost sparsity_m_by_n (tfmot's get_config drops it), from
        # re-pruning unstructured.
        return sparsity.ConstantSparsity(
            cfg.sparsity, begin_step=steps.begin_step, end_step=steps.end_step, frequency=steps.frequency
        )
    if cfg.schedule == "poly":
        return sparsity.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=cfg.sparsity, begin_step=steps.begin_step,
            end_step=steps.end_step, power=3, frequency=steps.frequency,
        )
    return sparsity.ConstantSparsity(
        cfg.sparsity, begin_step=steps.begin_step, end_step=steps.end_step, frequency=steps.frequency
    )


def wrap_for_pruning(model: Any, cfg: PruneConfig, steps: ScheduleSteps, layer_names: Iterable[str]) -> Any:
    """A clone of ``model`` whose ``layer_names`` are wrapped in ``prune_low_magnitude``.

    The clone shares the unwrapped layers (and the wrapped layers' kernels) with ``model``.
    """
    from edgeseg._keras import keras
    tfmot = _tfmot()

    names = set(layer_names)
    schedule = _schedule(cfg, steps)

    def wrap(layer: Any) -> Any:
        if layer.name not in names:
            return layer
        return tfmot.sparsity.keras.prune_low_magnitude(
            layer, pruning_schedule=schedule, sparsity_m_by_n=cfg.m_by_n_pair
        )

    return keras.models.clone_model(model, clone_function=wrap)


def strip(model: Any) -> Any:
    """The model without pruning wrappers: plain Keras layers holding the masked kernels."""
    tfmot = _tfmot()

    return tfmot.sparsity.keras.strip_pruning(model)


# --- the stage -------------------------------------------------------------------------------


def prune(source: str | Path, cfg: PruneConfig, runs_root: str | Path = "runs",
          name: str | None = None) -> RunDir:
    """Prune the best model of the run ``source`` into a new run directory.

    Returns:
        The new :class:`RunDir`; its ``checkpoints/best.keras`` is the stripped model
        (``(N, H, W, 3)`` float32 -> ``(N, H, W, 1)`` float32 probabilities, as the source).

    Raises:
        RunError: ``source`` is not a run, has no checkpoint, or its model cannot be loaded;
            ``name`` exists.
        ConfigError: ``cfg`` is not a PruneConfig, or the model has nothing to prune.
        DataError: the source run's pairs cannot be read.
    """
    return run_stage(STAGE, source, cfg, runs_root, name)


def _plan(src: FineTuneSource, cfg: PruneConfig, run_cfg: RunConfig, arrays: Arrays) -> Record:
    """Which layers to prune, the schedule's steps, and the float baseline's sizes and Dice."""
    from edgeseg.data.pipeline import steps_per_epoch
    from edgeseg.runtime.keras_runner import load_keras_model

    steps = steps_per_epoch(len(arrays[0]), run_cfg.data.batch_size, run_cfg.train.max_steps)
    # tfmot sets an M:N mask at step 1 only; the recorded steps say so.
    schedule = ScheduleSteps.M_BY_N if cfg.m_by_n else ScheduleSteps.for_steps(steps * cfg.epochs)
    float_model = load_keras_model(src.model_path)
    pruned, skipped = plan_layers(float_model)
    if not pruned:
        raise ConfigError(f"{src.model_path}: no Conv2D/Conv2DTranspose layer to prune")
    before = sparsity_report(float_model, pruned)
    dice_before = validation_dice(float_model, src.model_path, src.cfg, src.splits)
    record = {
        "schedule": {"kind": "m_by_n (mask set once at step 1)" if cfg.m_by_n else cfg.schedule,
                     **dataclasses.asdict(schedule), "total_steps": steps * cfg.epochs},
        "pruned_layers": pruned,
        "skipped_layers": skipped,
        "source_metrics": {
            "validation_dice": dice_before,
            **_float_sizes(float_model, src.model_path),
            "sparsity": before["overall"],
        },
    }
    print(f"pruning {len(pruned)} conv layers of {src.model_path} to {cfg.m_by_n or cfg.sparsity} "
          f"({record['schedule']['kind']}, mask updates every {schedule.frequency} steps until step "
          f"{schedule.end_step} of {steps * cfg.epochs}); kept dense: "
          f"{', '.join(f'{k} ({v})' for k, v in skipped.items() if 'BatchNorm' not in v) or 'no conv'}"
          f"{' (and every BatchNorm)' if any('BatchNorm' in v for v in skipped.values()) else ''}")
    return record


def _float_sizes(model: Any, checkpoint: Path) -> dict[str, int]:
    """Sizes of the float baseline. The source checkpoint also stores Adam's two moment tensors
    per weight (about 3x the model), so the fair baseline is the same model saved as the pruned
    one is: architecture + weights, no optimizer."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "float.keras"
        model.save(path)  # loaded with compile=False: nothing but architecture + weights
        return {
            "keras_bytes": path.stat().st_size, "keras_gzip_bytes": gzip_size(path),
            "checkpoint_bytes": checkpoint.stat().st_size, "checkpoint_gzip_bytes": gzip_size(checkpoint),
        }


def _hooks(cfg: PruneConfig, record: Record, run_cfg: RunConfig) -> FitHooks:
    from edgeseg.runtime.keras_runner import load_keras_model
    tfmot = _tfmot()

    steps = ScheduleSteps(**{k: record["schedule"][k] for k in ("begin_step", "end_step", "frequency")})

    def build(lr: float) -> Any:
        # Loaded here, inside the distribution strategy's scope, so its variables are mirrored.
        model = load_keras_model(record["source_model"])
        return compile_model(wrap_for_pruning(model, cfg, steps, record["pruned_layers"]), run_cfg, lr)

    def load(path: Path) -> Any:
        with tfmot.sparsity.keras.prune_scope():  # knows PruneLowMagnitude and its schedules
            return load_keras_model(path, compile=True)

    return FitHooks(
        build=build, load=load,
        # Steps the pruning wrappers and, at each epoch end, re-applies the masks so the saved
        # kernels are exactly sparse (the optimizer's last update touched pruned weights too).
        callbacks=(tfmot.sparsity.keras.UpdatePruningStep(),),
        export=strip,
        keep="last",  # the target sparsity is reached only at the schedule's end
    )


def _write_report(run: RunDir, record: Record) -> RunDir:
    from edgeseg.runtime.keras_runner import load_keras_model

    best = run.checkpoints / "best.keras"
    model = load_keras_model(best)  # the stripped model must load without tfmot
    wrappers = [layer.name for layer in model.layers if hasattr(layer, "pruning_step")]
    if wrappers:  # pragma: no cover - strip_pruning failing would be a tfmot bug
        raise RuntimeError(f"{best}: pruning wrappers left after strip_pruning: {wrappers}")
    cfg = run.config()
    from edgeseg.data.splits import load_splits

    dice_after = validation_dice(model, best, cfg, load_splits(run.path / "splits.json"))
    src = record["source_metrics"]
    pruned = sparsity_report(model, record["pruned_layers"])
    report = {
        "note": NOTE,
        "target": {"sparsity": record["prune"]["sparsity"], "m_by_n": record["prune"]["m_by_n"]},
        "sparsity": {
            "pruned_layers": pruned["overall"],
            "all_conv_layers": sparsity_report(model)["overall"],
            "source_pruned_layers": src["sparsity"],
            "layers": {k: v["sparsity"] for k, v in sparsity_report(model)["layers"].items()},
        },
        "size": {
            "keras_bytes": best.stat().st_size,
            "keras_gzip_bytes": gzip_size(best),
            "source_keras_bytes": src["keras_bytes"],
            "source_keras_gzip_bytes": src["keras_gzip_bytes"],
            "source_checkpoint_bytes": src["checkpoint_bytes"],
            "source_checkpoint_gzip_bytes": src["checkpoint_gzip_bytes"],
            "baseline": "source_keras_* is the float model saved like best.keras (no optimizer state); "
                        "source_checkpoint_* is the source's best.keras as stored (with Adam's moments)",
        },
        "validation_dice": {"before": src["validation_dice"], "after": dice_after,
                            "change": dice_after - src["validation_dice"]},
        "pruned_layers": record["pruned_layers"],
        "skipped_layers": record["skipped_layers"],
        **{k: record[k] for k in ("source", "source_model", "source_model_sha256")},
    }
    write_json(run.path / REPORT_FILE, report)
    s = report["size"]
    print(f"pruned: sparsity {pruned['overall']:.3f} (target {record['prune']['sparsity']:g}), gzip "
          f"{s['source_keras_gzip_bytes'] / 1e6:.2f} -> {s['keras_gzip_bytes'] / 1e6:.2f} MB, "
          "validation Dice "
          f"{src['validation_dice']:.4f} -> {dice_after:.4f}; {NOTE}")
    return run


STAGE = register(FineTuneStage(
    name="prune", marker=STAGE_FILE, suffix="pruned", config=PruneConfig,
    plan=_plan, hooks=_hooks, finish=_write_report,
))


def _tfmot() -> Any:
    """tensorflow_model_optimization, imported after edgeseg._keras (importing tfmot sets
    TF_USE_LEGACY_KERAS for the whole process; edgeseg._keras must set it before TF loads)."""
    import edgeseg._keras  # noqa: F401
    import tensorflow_model_optimization as tfmot

    return tfmot


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
