"""Training: ``train(cfg) -> RunDir`` and ``resume(run) -> RunDir``.

A run directory (:class:`edgeseg.run.RunDir`, whose docstring lists its files) is the unit of
reproducibility. Every epoch ends with an atomic checkpoint, and ``resume`` continues from it exactly: the same
weights, optimizer moments, learning rate, plateau counters, and the same data and augmentation
stream (see :mod:`edgeseg.data.pipeline`).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edgeseg.config import RunConfig, TrainConfig
from edgeseg.errors import ConfigError, DataError, RunError
from edgeseg.faults import fault_point
from edgeseg.io import write_json
from edgeseg.registry import Registry
from edgeseg.run import RunDir

MONITOR = "val_dice"

# Learning-rate schedules: ``None`` leaves the rate to PlateauControl (halving on a plateau);
# otherwise a function of (config, epoch) -> rate. It depends on the epoch alone, so a resumed
# run picks up the schedule where it stopped.
Schedule = Callable[[TrainConfig, int], float] | None
SCHEDULES: Registry[Schedule] = Registry("schedule")


def cosine_lr(t: TrainConfig, epoch: int) -> float:
    """Cosine annealing from ``t.learning_rate`` at epoch 0 to ``t.min_lr`` after the last epoch.

    With a frozen encoder (``t.freeze_encoder_epochs``) the frozen epochs run at
    ``t.learning_rate`` and the cosine starts at ``t.unfreeze_learning_rate`` when it unfreezes.
    """
    start, lr0 = 0, t.learning_rate
    if t.freeze_encoder_epochs:
        if epoch < t.freeze_encoder_epochs:
            return t.learning_rate
        start, lr0 = t.freeze_encoder_epochs, t.unfreeze_learning_rate
    return t.min_lr + (lr0 - t.min_lr) * 0.5 * (1.0 + math.cos(math.pi * (epoch - start) / (t.epochs - start)))


SCHEDULES.add("plateau", None)
SCHEDULES.add("cosine", cosine_lr)


@dataclass(frozen=True)
class FitHooks:
    """How a fine-tuning stage (pruning, QAT) reuses the training loop of :func:`_fit`.

    Attributes:
        build: ``learning_rate -> compiled model`` for a run that starts at epoch 0 (called
            inside the distribution strategy's scope). None: a fresh ``create_model`` from the
            run's ModelConfig, compiled with its loss.
        load: ``last.keras path -> compiled model`` (optimizer state included) when resuming.
            None: :func:`edgeseg.runtime.keras_runner.load_keras_model`. If it raises RunError,
            ``build`` + ``last.weights.h5`` is the fallback, as for a plain run.
        callbacks: extra Keras callbacks. They run *before* the checkpointing callbacks, so
            e.g. tfmot's ``UpdatePruningStep`` re-applies its masks before an epoch is saved.
        export: ``model -> model`` written as ``best.keras`` (e.g. ``strip_pruning``); None:
            ``best.keras`` is a copy of ``last.keras``.
        keep: ``"best"``: ``best.keras`` is the epoch with the best validation Dice; ``"last"``:
            every epoch overwrites it (for schedules that reach their target only at the end).
    """

    build: Callable[[float], Any] | None = None
    load: Callable[[Path], Any] | None = None
    callbacks: Sequence[Any] = field(default_factory=tuple)
    export: Callable[[Any], Any] | None = None
    keep: str = "best"

    def __post_init__(self) -> None:
        if self.keep not in ("best", "last"):
            raise ValueError(f"FitHooks.keep must be 'best' or 'last', got {self.keep!r}")


# --- callbacks -------------------------------------------------------------------------------


def _callbacks(keras: Any) -> tuple[type, type]:
    class PlateauControl(keras.callbacks.Callback):
        """ReduceLROnPlateau + EarlyStopping on validation Dice, with state that survives resume.

        Keras' own callbacks reset their counters in ``on_train_begin``, so a resumed run would
        forget how long it had been on a plateau.
        """

        def __init__(self, lr_patience: int, lr_factor: float, min_lr: float, stop_patience: int,
                     state: dict[str, Any] | None = None, min_delta: float = 1e-4):
            super().__init__()
            self.lr_patience, self.lr_factor, self.min_lr = lr_patience, lr_factor, min_lr
            self.stop_patience, self.min_delta = stop_patience, min_delta
            self.state = {"best": -1.0, "best_epoch": -1, "wait_lr": 0, "wait_stop": 0, **(state or {})}
            self.improved = False

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs if logs is not None else {}
            s = self.state
            lr = float(keras.backend.get_value(self.model.optimizer.learning_rate))
            logs["lr"] = lr
            value = logs.get(MONITOR)
            if value is None:
                return
            self.improved = value > s["best"] + self.min_delta
            if self.improved:
                s.update(best=float(value), best_epoch=epoch, wait_lr=0, wait_stop=0)
                return
            s["wait_lr"] += 1
            s["wait_stop"] += 1
            if self.lr_patience and s["wait_lr"] >= self.lr_patience and lr > self.min_lr:
                new_lr = max(lr * self.lr_factor, self.min_lr)
                self.model.optimizer.learning_rate.assign(new_lr)
                s["wait_lr"] = 0
                print(f"\nepoch {epoch + 1}: {MONITOR} flat for {self.lr_patience} epochs, learning rate {lr:.2e} -> {new_lr:.2e}")
            if self.stop_patience and s["wait_stop"] >= self.stop_patience:
                self.model.stop_training = True
                print(f"\nepoch {epoch + 1}: early stop, best {MONITOR} {s['best']:.4f} at epoch {s['best_epoch'] + 1}")

    class EpochCheckpoint(keras.callbacks.Callback):
        """Commit each epoch's end atomically: last/best models, the weights fallback, the history
        row and state.json become visible together or not at all (:meth:`RunDir.epoch_commit`);
        then the curves are redrawn. ``total_epochs``: the run's last epoch, which is committed
        with ``finished`` (as is an early stop)."""

        def __init__(self, run: RunDir, plateau: PlateauControl, wall_before: float = 0.0,
                     hooks: FitHooks | None = None, total_epochs: int | None = None):
            super().__init__()
            self.run, self.plateau, self.wall_before = run, plateau, wall_before
            self.hooks = hooks or FitHooks()
            self.total_epochs = total_epochs
            self.start = time.perf_counter()

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            done = epoch + 1
            previous_best = self.run.checkpoint("best.keras")
            rows = _history_rows(self.run.checkpoint("history.csv"), before=epoch)
            with self.run.epoch_commit(done) as folder:
                self.model.save(folder / "last.keras")
                fault_point("epoch.last_model")
                self.model.save_weights(folder / "last.weights.h5")
                fault_point("epoch.weights")
                if self.plateau.improved or self.hooks.keep == "last":
                    if self.hooks.export is None:
                        shutil.copyfile(folder / "last.keras", folder / "best.keras")  # no shared inode
                    else:
                        self.hooks.export(self.model).save(folder / "best.keras")
                elif previous_best.is_file():  # unchanged: a link to the committed file, not a copy
                    _link_or_copy(previous_best, folder / "best.keras")
                fault_point("epoch.best")
                _write_history(folder / "history.csv", [*rows, {"epoch": epoch, **(logs or {})}])
                write_json(folder / "state.json", {
                    "epoch": done,
                    "learning_rate": float(keras.backend.get_value(self.model.optimizer.learning_rate)),
                    "plateau": self.plateau.state,
                    "finished": bool(self.model.stop_training or (self.total_epochs and done >= self.total_epochs)),
                    "wall_seconds": round(self.wall_before + time.perf_counter() - self.start, 1),
                    "updated": datetime.now().isoformat(timespec="seconds"),
                })
                fault_point("epoch.state")
            from edgeseg.plots import plot_history

            plot_history(self.run.history, self.run.path / "curves.png")
            fault_point("epoch.curves")

    return PlateauControl, EpochCheckpoint


# --- training --------------------------------------------------------------------------------


def train(cfg: RunConfig, runs_root: str | Path = "runs", name: str | None = None) -> RunDir:
    """Train a new run from ``cfg``; returns its :class:`RunDir`."""
    from edgeseg.data.pipeline import steps_per_epoch
    from edgeseg.data.splits import make_splits, save_splits
    from edgeseg.losses import LOSSES
    from edgeseg.models import MODELS, create_model
    from edgeseg.models.base import check_encoder_policy

    cfg = _absolute_paths(cfg)  # the run must resume and evaluate from any working directory
    # Fail on bad names and bad data before creating anything on disk.
    MODELS.get(cfg.model.name)
    check_encoder_policy(cfg.model.name, cfg.train.freeze_encoder_epochs, cfg.train.encoder_bn,
                         cfg.train.encoder_bn_momentum)
    if cfg.model.encoder_weights not in (None, "none"):  # a missing file, a foreign file or no network: before the run exists
        create_model(cfg.model.name, (cfg.data.height, cfg.data.width, 3), batch_norm=cfg.model.batch_norm,
                     encoder_weights=cfg.model.encoder_weights)
    LOSSES.get(cfg.train.loss)
    SCHEDULES.get(cfg.train.schedule)
    if cfg.model.init_weights:
        _init_source(cfg.model.init_weights)
    if cfg.train.teacher:
        load_teacher(cfg.train.teacher, cfg.data.image_size)  # loads and fits, or fails before the run exists
    splits, info = make_splits(cfg.data)
    arrays = load_split_arrays(splits, cfg)  # every file is decoded (and checked) before the run exists
    steps_per_epoch(len(arrays[0]), cfg.data.batch_size, cfg.train.max_steps)
    with _new_run(runs_root, name, cfg.model.name) as run:
        cfg.save(run.path / "config.json")
        save_splits(run.path / "splits.json", splits, info)
    return _fit(run, cfg, {"epoch": 0}, arrays)


def _absolute_paths(cfg: RunConfig) -> RunConfig:
    """``cfg`` with its data folder and local model files as absolute paths."""
    def absolute(p: str | None) -> str | None:
        return str(Path(p).expanduser().resolve()) if p and Path(p).expanduser().exists() else p

    return dataclasses.replace(
        cfg, data=dataclasses.replace(cfg.data, root=absolute(cfg.data.root)),
        model=dataclasses.replace(cfg.model, init_weights=absolute(cfg.model.init_weights),
                                  encoder_weights=cfg.model.encoder_weights if cfg.model.encoder_weights in (
                                      "imagenet", "none") else absolute(cfg.model.encoder_weights)),
        train=dataclasses.replace(cfg.train, teacher=absolute(cfg.train.teacher)),
    )


@contextlib.contextmanager
def _new_run(runs_root: str | Path, name: str | None, model_name: str) -> Iterator[RunDir]:
    """A new run folder for the body to fill with its first files; if that fails (a full disk),
    the folder (and any parent made for it) is removed again, so no half-made run is left."""
    from edgeseg.io import remove_empty

    import os
    import tempfile

    from edgeseg.distribute import is_chief

    if not is_chief(os.environ.get("TF_CONFIG")):
        # A multi-worker peer trains in step with the chief and saves as it does (saving can
        # involve collectives), but into a private folder: only the chief writes the run.
        runs_root = tempfile.mkdtemp(prefix="edgeseg-worker-")
    root = Path(runs_root).absolute()
    made = [p for p in (root, *root.parents) if not p.exists()]
    run = RunDir.create(runs_root, name, model_name)
    try:
        yield run
    except BaseException:
        shutil.rmtree(run.path, ignore_errors=True)
        remove_empty(made)
        raise


def _init_source(source: str | Path) -> Path:
    """The ``.keras`` file behind ``--init-weights`` or ``--teacher`` (a run's best checkpoint or
    the file itself)."""
    p = Path(source)
    if p.is_dir():
        return RunDir.open(p).best_model()
    if not p.is_file():
        raise RunError(f"{p}: no such run or .keras file")
    return p


def warm_start(model: Any, source: str | Path) -> None:
    """Copy every weight of ``source`` into ``model`` (same architecture, any input size).

    Raises:
        ConfigError: the two models' weights do not line up one to one.
    """
    from edgeseg.runtime.keras_runner import load_keras_model

    path = _init_source(source)
    src = load_keras_model(path).get_weights()
    dst = model.get_weights()
    bad = [i for i, (a, b) in enumerate(zip(src, dst)) if a.shape != b.shape]
    if len(src) != len(dst) or bad:
        raise ConfigError(f"{path}: its weights do not fit {model.name} "
                          f"({len(src)} vs {len(dst)} tensors{f', first mismatch at #{bad[0]}' if bad else ''})")
    model.set_weights(src)
    print(f"initialised from {path}")


def load_teacher(source: str | Path, size: tuple[int, int]) -> Any:
    """The frozen teacher behind ``--teacher``, at the student's input ``size`` (h, w).

    A run directory's model is rebuilt at that size from the run's config; a bare ``.keras`` file
    must already have it.

    Raises:
        RunError: no such run or file. ConfigError: a ``.keras`` file of another input size.
    """
    from edgeseg.models import rebuild_at
    from edgeseg.runtime.keras_runner import load_keras_model

    path = _init_source(source)
    teacher = load_keras_model(path)
    if tuple(teacher.input_shape[1:3]) != tuple(size):
        if not Path(source).is_dir():
            raise ConfigError(f"{path}: the teacher's input is {teacher.input_shape[1]}x{teacher.input_shape[2]}, "
                              f"the student's {size[0]}x{size[1]}; pass its run directory to rebuild it at that size")
        teacher = rebuild_at(teacher, RunDir.open(source).config().model, size)
    teacher.trainable = False
    return teacher


def distill_targets(y: Any, teacher_prob: Any, weight: float) -> Any:
    """Soft targets ``(1 - weight) * y + weight * teacher_prob`` (float32).

    BCE is linear in its target, so BCE against them is the usual distillation mix
    ``(1 - w) * BCE(mask) + w * BCE(teacher)``; for ``weight < 0.5`` they still threshold to ``y``.
    """
    from edgeseg._keras import tf

    return (1.0 - weight) * tf.cast(y, tf.float32) + weight * tf.cast(teacher_prob, tf.float32)


def attach_teacher(model: Any, teacher: Any, weight: float) -> None:
    """Make ``model.fit`` train against targets blended with ``teacher``'s probabilities.

    The teacher runs inside the train step on the same augmented batch (on the accelerator, in
    inference mode); validation and checkpoints see the student alone, and no custom model class
    enters the saved files.
    """
    step = model.train_step

    def train_step(data: Any) -> Any:
        x, y = data
        return step((x, distill_targets(y, teacher(x, training=False), weight)))

    model.train_step = train_step


def resume(path: str | Path, epochs: int | None = None) -> RunDir:
    """Continue an interrupted training run from its last checkpoint (optionally to more ``epochs``).

    A fine-tune stage's run (pruning, QAT) rebuilds its wrapped model through its stage:
    :func:`edgeseg.finetune.resume` resumes runs of every kind.
    """
    return continue_run(RunDir.open(path), epochs)


def continue_run(run: RunDir, epochs: int | None = None, hooks: FitHooks | None = None) -> RunDir:
    """The resume logic shared by plain and fine-tuning runs: check the state, update the
    config's epochs, and continue :func:`_fit` from ``last.keras`` (via ``hooks.load``)."""
    with run.lock():  # read the state as the only writer (a second resume stops here)
        run.repair()
        cfg = run.config()
        state = run.state()
        if state["epoch"] > 0 and not run.checkpoint("last.keras").is_file():
            raise RunError(f"{run.path}: state.json says epoch {state['epoch']} but {run.checkpoint('last.keras')} is missing")
        total = epochs if epochs is not None else cfg.train.epochs
        if state["epoch"] >= total or (state.get("finished") and epochs is None):
            raise RunError(
                f"{run.path} already finished ({state['epoch']} epochs); pass --epochs N (N > {state['epoch']}) to train further"
            )
        if epochs is not None and epochs != cfg.train.epochs:
            cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))
            cfg.save(run.path / "config.json")
        from edgeseg.data.splits import load_splits

        return _fit(run, cfg, state, load_split_arrays(load_splits(run.path / "splits.json"), cfg), hooks)


# --- fine-tuning stages (pruning, QAT) ---------------------------------------------------------


@dataclass(frozen=True)
class FineTuneSource:
    """A finished float run that a fine-tuning stage starts from (it is only ever read)."""

    run: RunDir
    cfg: RunConfig
    model_path: Path  # the run's best checkpoint
    splits: dict[str, Any]

    @classmethod
    def open(cls, source: str | Path) -> FineTuneSource:
        """Raises RunError (one line) if the run or its checkpoint is missing."""
        from edgeseg.data.splits import load_splits

        run = RunDir.open(source)
        model_path = run.best_model()
        return cls(run, run.config(), model_path, load_splits(run.path / "splits.json"))

    def record(self) -> dict[str, Any]:
        """Provenance for the new run's stage file: the source run (``source``, a path that
        :meth:`RunDir.open` accepts), the float model file it started from, and its sha256."""
        import hashlib

        return {
            "source": str(self.run.path.resolve()),
            "source_model": str(self.model_path.resolve()),
            "source_model_sha256": hashlib.sha256(self.model_path.read_bytes()).hexdigest(),
        }


def fine_tune_config(cfg: RunConfig, *, epochs: int, learning_rate: float, max_steps: int | None,
                     **train_changes: Any) -> RunConfig:
    """The source's RunConfig with a fine-tune's own epochs, learning rate and step cap.

    Early stopping is off: a fine-tune runs its fixed number of epochs (a pruning schedule only
    reaches its target sparsity at its end step). No encoder freeze phase: the encoder is trained
    already (a frozen BatchNorm stays frozen: its ``trainable`` flag is saved with the model).
    """
    return dataclasses.replace(cfg, train=dataclasses.replace(
        cfg.train, epochs=epochs, learning_rate=learning_rate, max_steps=max_steps,
        early_stopping_patience=0, freeze_encoder_epochs=0, **train_changes,
    ))


def create_fine_tune_run(source: FineTuneSource, cfg: RunConfig, runs_root: str | Path, name: str | None,
                         suffix: str, stage_file: str, record: dict[str, Any]) -> RunDir:
    """A new run directory (never an existing one) for a fine-tune of ``source``.

    It holds ``config.json`` (``cfg``), the source's ``splits.json`` (same pairs, same pipeline)
    and ``stage_file`` (e.g. ``prune.json``) with ``record``; the automatic name is
    ``{source}-{suffix}``, numbered.
    """
    from edgeseg.data.splits import load_splits

    with _new_run(runs_root, name, f"{source.run.path.name}-{suffix}") as run:
        cfg.save(run.path / "config.json")
        write_json(run.path / "splits.json", json.loads((source.run.path / "splits.json").read_text()))
        load_splits(run.path / "splits.json")  # the copy is what resume will read
        write_json(run.path / stage_file, record)
    return run


def validation_dice(model: Any, model_path: Path, cfg: RunConfig, splits: dict[str, Any]) -> float:
    """Mean per-image Dice of an in-memory Keras model on the run's validation pairs, scored by
    :func:`edgeseg.evaluate.evaluate` (each mask at its own resolution)."""
    from edgeseg.evaluate import evaluate
    from edgeseg.runtime.keras_runner import KerasRunner

    runner = KerasRunner(model, Path(model_path), cfg.data.normalisation)
    return float(evaluate(runner, splits["validation"], batch_size=cfg.data.batch_size).scores.mean["dice"])


def compile_model(model: Any, cfg: RunConfig, learning_rate: float, steps_per_epoch: int | None = None) -> Any:
    """Compile ``model`` as training does: Adam(``learning_rate``), the run's loss, Dice/IoU metrics.

    With ``cfg.train.ema`` set (and ``steps_per_epoch`` given), Adam keeps a moving average of the
    weights and writes it into the model on the last step of every epoch, so validation,
    checkpoints and the next epoch start from the average.
    """
    from edgeseg._keras import keras
    from edgeseg.losses import get_loss
    from edgeseg.metrics import keras_metrics

    ema = cfg.train.ema if steps_per_epoch else None
    optimizer = keras.optimizers.Adam(
        learning_rate, use_ema=ema is not None, ema_momentum=ema or 0.99,
        ema_overwrite_frequency=steps_per_epoch if ema is not None else None,
    )
    model.compile(optimizer=optimizer, loss=get_loss(cfg.train.loss), metrics=keras_metrics())
    return model


def fine_tune(run: RunDir, cfg: RunConfig, arrays: tuple[Any, Any, Any, Any], hooks: FitHooks) -> RunDir:
    """Fit a new fine-tuning run from epoch 0 (pruning, QAT).

    ``run`` already holds ``config.json`` and ``splits.json``; ``arrays`` come from
    :func:`load_split_arrays` (decoded before the run directory was created).
    """
    return _fit(run, cfg, {"epoch": 0}, arrays, hooks)


def load_split_arrays(splits: dict[str, Any], cfg: RunConfig) -> tuple[Any, Any, Any, Any]:
    """Decode the train and validation pairs of ``splits`` at the run's input size.

    Returns:
        train images (N, h, w, 3) uint8, train masks (N, h, w, 1) uint8 in {0, 1}, and the same
        two for validation.
    """
    from edgeseg.data.pipeline import load_arrays

    if not splits.get("validation"):
        raise DataError(f"{cfg.data.root}: no validation pairs; training selects checkpoints on validation Dice")
    size = cfg.data.image_size
    return (*load_arrays(splits["train"], size, "decoding train"),
            *load_arrays(splits["validation"], size, "decoding validation"))


def _fit(run: RunDir, cfg: RunConfig, state: dict[str, Any], arrays: tuple[Any, Any, Any, Any],
         hooks: FitHooks | None = None) -> RunDir:
    """Fit ``cfg.train.epochs`` epochs from ``state["epoch"]``, committing every epoch.

    ``arrays`` are (train images, train masks, validation images, validation masks) as returned
    by :func:`load_split_arrays`; ``hooks`` let a fine-tuning stage supply its own model and
    callbacks. The run is locked to this process throughout, and what a killed writer left is
    removed first.
    """
    with run.lock():
        run.repair()
        return _fit_locked(run, cfg, state, arrays, hooks)


def _fit_locked(run: RunDir, cfg: RunConfig, state: dict[str, Any], arrays: tuple[Any, Any, Any, Any],
                hooks: FitHooks | None = None) -> RunDir:
    from edgeseg import distribute
    from edgeseg._keras import keras, tf
    from edgeseg.data.pipeline import eval_dataset, steps_per_epoch, train_dataset
    from edgeseg.models import create_model
    from edgeseg.runtime.keras_runner import load_keras_model

    d, t = cfg.data, cfg.train
    train_x, train_y, val_x, val_y = arrays
    steps = steps_per_epoch(len(train_x), d.batch_size, t.max_steps)

    strategy, env = distribute.setup(t.mixed_precision)
    initial_epoch = int(state["epoch"])
    keras.utils.set_random_seed(t.seed)

    hooks = hooks or FitHooks()

    def new_model(lr: float, epoch: int) -> Any:
        if hooks.build is not None:
            return hooks.build(lr)
        model = create_model(
            cfg.model.name, (d.height, d.width, 3),
            batch_norm=cfg.model.batch_norm, encoder_weights=cfg.model.encoder_weights,
        )
        if cfg.model.init_weights:
            warm_start(model, cfg.model.init_weights)
        set_encoder_trainable(model, t, epoch)
        return compile_model(model, cfg, lr, steps)

    with strategy.scope():
        if initial_epoch == 0:
            model = new_model(t.learning_rate, 0)
        else:
            try:
                # The full .keras checkpoint carries the optimizer moments and step count; only
                # the committed epoch is read (its history and state came with it).
                model = (hooks.load or (lambda p: load_keras_model(p, compile=True)))(run.checkpoint("last.keras"))
                model.optimizer.learning_rate.assign(state["learning_rate"])
            except RunError as e:
                weights = run.checkpoint("last.weights.h5")
                if not weights.is_file():
                    raise
                print(f"warning: {e}; resuming from {weights} with a fresh optimizer (Adam's moments restart)")
                model = new_model(state["learning_rate"], initial_epoch)
                model.load_weights(weights)
        if t.teacher:
            attach_teacher(model, load_teacher(t.teacher, d.image_size), t.distill_weight)
            print(f"distilling from {t.teacher} (weight {t.distill_weight})")

    write_json(run.path / "environment.json", {
        **env, "python": sys.version.split()[0], "tensorflow": tf.__version__, "tf_keras": keras.__version__,
        "train_pairs": len(train_x), "validation_pairs": len(val_x), "steps_per_epoch": steps,
    })
    PlateauControl, EpochCheckpoint = _callbacks(keras)
    schedule = SCHEDULES.get(t.schedule)
    # A fixed schedule owns the rate; PlateauControl then only tracks the best epoch and stops early.
    plateau = PlateauControl(t.lr_patience if schedule is None else 0, t.lr_factor, t.min_lr,
                             t.early_stopping_patience, state.get("plateau"))
    val = eval_dataset(val_x, val_y, batch_size=d.batch_size, normalisation=d.normalisation)
    print(f"run {run.path}: {cfg.model.name} ({model.count_params():,} params), {len(train_x)} train / "
          f"{len(val_x)} validation pairs at {d.height}x{d.width}, {steps} steps/epoch, "
          f"epochs {initial_epoch + 1}..{t.epochs}, {env['strategy']} strategy"
          f"{', mixed precision' if env['mixed_precision'] else ''}")
    for start, end in _phases(t, initial_epoch):
        if start == t.freeze_encoder_epochs > 0:
            # Unfreezing changes the trainable set, so the model is recompiled with a fresh
            # optimizer at the lower rate (a resumed run does the same at the same epoch).
            with strategy.scope():
                set_encoder_trainable(model, t, start)
                compile_model(model, cfg, t.unfreeze_learning_rate, steps)
            print(f"epoch {start + 1}: encoder unfrozen ({_count_trainable(model):,} trainable params), "
                  f"learning rate {t.unfreeze_learning_rate:.2e}")
        callbacks = [
            *hooks.callbacks,
            *([] if schedule is None else [keras.callbacks.LearningRateScheduler(lambda e, _lr: schedule(t, e))]),
            plateau,
            EpochCheckpoint(run, plateau, float(run.state().get("wall_seconds", 0.0)), hooks, total_epochs=t.epochs),
        ]
        if t.tensorboard:
            callbacks.append(keras.callbacks.TensorBoard(str(run.path / "tensorboard")))
        ds = train_dataset(
            train_x, train_y, batch_size=d.batch_size, steps=steps, augment_cfg=d.augment,
            normalisation=d.normalisation, seed=t.seed, initial_epoch=start, epochs=end,
        )
        model.fit(
            ds, epochs=end, initial_epoch=start, steps_per_epoch=steps, validation_data=val,
            callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2,
        )
        if model.stop_training:
            break
    state = run.state()  # the last epoch was committed as finished (or as an early stop)
    best = state.get("plateau", {})
    if hooks.keep == "last":
        print(f"model of the last epoch: {run.best_model()}")
    elif best.get("best_epoch", -1) >= 0:
        print(f"best {MONITOR} {best['best']:.4f} at epoch {best['best_epoch'] + 1}; model: {run.best_model()}")
    return run


def _phases(t: TrainConfig, initial_epoch: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` epoch ranges that ``model.fit`` runs: split where the encoder unfreezes."""
    cut = t.freeze_encoder_epochs
    if 0 < cut and initial_epoch < cut:
        return [(initial_epoch, cut), (cut, t.epochs)]
    return [(initial_epoch, t.epochs)]


def set_encoder_trainable(model: Any, t: TrainConfig, epoch: int) -> None:
    """Apply ``t``'s encoder policy for ``epoch``: frozen before ``t.freeze_encoder_epochs``,
    and BatchNorm frozen throughout with ``encoder_bn="frozen"`` (a frozen tf_keras BatchNorm
    runs in inference mode, on its stored statistics). A no-op for a model without an encoder
    policy (both options at their defaults)."""
    from edgeseg._keras import keras
    from edgeseg.models import encoder_layers

    if not t.freeze_encoder_epochs and t.encoder_bn == "train" and t.encoder_bn_momentum is None:
        return
    frozen = epoch < t.freeze_encoder_epochs
    for layer in encoder_layers(model):
        is_bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = not frozen and not (is_bn and t.encoder_bn == "frozen")
        if is_bn and t.encoder_bn_momentum is not None:
            layer.momentum = t.encoder_bn_momentum  # read when the train step is traced


def _count_trainable(model: Any) -> int:
    return int(sum(int(v.shape.num_elements()) for v in model.trainable_weights))


def _history_rows(history: Path, before: int) -> list[dict[str, str]]:
    """The rows of ``history`` for epochs ``< before`` (a plain-layout run may hold rows of
    epochs that ended after its last checkpoint; they are re-run)."""
    if not history.is_file():
        return []
    with open(history, newline="") as f:
        return [r for r in csv.DictReader(f) if r.get("epoch") not in (None, "") and int(r["epoch"]) < before]


def _write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """``history.csv`` as Keras' CSVLogger writes it: ``epoch`` then the metrics, sorted."""
    keys = sorted({k for r in rows for k in r} - {"epoch"})
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["epoch", *keys], restval="")
        w.writeheader()
        w.writerows({k: _csv_value(v) for k, v in r.items()} for r in rows)


def _csv_value(v: Any) -> Any:
    return float(v) if hasattr(v, "dtype") else v


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # a file system without hard links
        shutil.copyfile(src, dst)
