"""Frozen configuration dataclasses, one per stage, composed into one :class:`RunConfig`.

A run directory always holds ``config.json`` written from these, so a run can be reproduced or
resumed from its folder alone. Change a config with :func:`dataclasses.replace`, never in place.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from edgeseg.errors import ConfigError

CONFIG_VERSION = 1
ENCODER_BN = ("train", "frozen")
MIXED_PRECISION = ("auto", "on", "off")
C = TypeVar("C")


@dataclass(frozen=True)
class Normalisation:
    """How uint8 pixels become model input: ``x = pixel * scale + offset``.

    This is the one definition of the input range; it is recorded in every run's config (and
    later in every artifact's manifest) so the camera loop and the apps preprocess identically.
    The default maps [0, 255] to [0, 1].
    """

    scale: float = 1.0 / 255.0
    offset: float = 0.0

    def apply(self, pixels: Any) -> Any:
        """uint8 pixels (numpy array or tf.Tensor, any shape) -> float32 model input."""
        if isinstance(pixels, np.ndarray) or np.isscalar(pixels):
            return np.asarray(pixels, np.float32) * np.float32(self.scale) + np.float32(self.offset)
        from edgeseg._keras import tf

        return tf.cast(pixels, tf.float32) * self.scale + self.offset


@dataclass(frozen=True)
class AugmentConfig:
    """Joint image+mask augmentation, applied with TF ops inside the training pipeline.

    Attributes:
        enabled: turn all augmentation off (validation/test never augment).
        rotation: maximum rotation in degrees, sampled uniformly in ``[-rotation, rotation]``.
        zoom: relative zoom range; the scale is sampled in ``[1 - zoom, 1 + zoom]``.
        shear: maximum shear angle in degrees.
        hflip, vflip: random horizontal / vertical flips with probability 0.5.
        brightness: maximum additive brightness change, in [0, 1] input units (image only).
        contrast: relative contrast range, factor in ``[1 - contrast, 1 + contrast]`` (image only).
        saturation: relative saturation range, factor in ``[1 - saturation, 1 + saturation]``
            (image only); dermoscopes and clinics differ most in colour.
        hue: maximum hue shift, as a fraction of the hue circle (image only).
    """

    enabled: bool = True
    rotation: float = 20.0
    zoom: float = 0.1
    shear: float = 5.0
    hflip: bool = True
    vflip: bool = True
    brightness: float = 0.1
    contrast: float = 0.1
    saturation: float = 0.0
    hue: float = 0.0

    def __post_init__(self) -> None:
        _check(0 <= self.rotation <= 180, f"augment.rotation must be in [0, 180] degrees, got {self.rotation}")
        _check(0 <= self.zoom < 1, f"augment.zoom must be in [0, 1), got {self.zoom}")
        _check(0 <= self.shear < 45, f"augment.shear must be in [0, 45) degrees, got {self.shear}")
        _check(0 <= self.brightness <= 1, f"augment.brightness must be in [0, 1], got {self.brightness}")
        _check(0 <= self.contrast < 1, f"augment.contrast must be in [0, 1), got {self.contrast}")
        _check(0 <= self.saturation < 1, f"augment.saturation must be in [0, 1), got {self.saturation}")
        _check(0 <= self.hue <= 0.5, f"augment.hue must be in [0, 0.5], got {self.hue}")


@dataclass(frozen=True)
class DataConfig:
    """Where the pairs are and how they become tensors.

    Attributes:
        root: data folder; either one layout, or ``train/``, ``validation/`` (or ``val/``) and
            optionally ``test/`` sub-folders each holding one layout (the folder split is used).
        layout: ``auto`` or a registered layout name (see ``edgeseg.data.pairs.LAYOUTS``).
        height, width: model input size; images are resized to it (default: ISIC 2017's 192x256).
        batch_size: training and evaluation batch size.
        val_fraction, test_fraction: seeded split used only when ``root`` has no folder split.
        split_seed: seed of that split; the split itself is saved to the run dir.
        limit: use only the first ``limit`` pairs of every split (quick runs).
        normalisation: the input range, see :class:`Normalisation`.
        augment: see :class:`AugmentConfig`.
    """

    root: str
    layout: str = "auto"
    height: int = 192
    width: int = 256
    batch_size: int = 8
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0
    limit: int | None = None
    normalisation: Normalisation = field(default_factory=Normalisation)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        _check(self.height >= 16 and self.width >= 16, f"image size must be at least 16x16, got {self.height}x{self.width}")
        _check(self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}")
        _check(
            0 < self.val_fraction < 1 and 0 <= self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1,
            f"split fractions must leave training data: val={self.val_fraction}, test={self.test_fraction}",
        )
        _check(self.limit is None or self.limit >= 1, f"limit must be >= 1, got {self.limit}")

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.height, self.width)


@dataclass(frozen=True)
class ModelConfig:
    """Which architecture to build.

    Attributes:
        name: a registered model name (``edgeseg models`` lists them), e.g. ``unet_w025``.
        batch_norm: BatchNorm after every 3x3 conv (the parameter counts quoted for the U-Nets
            are without it).
        encoder_weights: pretrained encoder weights for a model that has a pretrainable encoder
            (``mnv2_unet*``, ``resnet50v2_unet``): a local weights file, or ``imagenet`` for
            Keras' own download (``mnv2_unet*``; needs the internet). None: random.
        init_weights: warm start: a run directory (its best checkpoint) or ``.keras`` file of the
            same architecture whose weights initialise this run, e.g. to fine-tune a model at a
            higher resolution (the convolutions do not depend on the input size).
    """

    name: str = "unet_w025"
    batch_norm: bool = True
    encoder_weights: str | None = None
    init_weights: str | None = None


@dataclass(frozen=True)
class TrainConfig:
    """How to fit.

    Attributes:
        epochs: total epochs (a resumed run continues up to this number).
        learning_rate: Adam's initial learning rate.
        loss: a registered loss name (``bce``, ``dice``, ``bce_dice``, ``focal``, ...).
        early_stopping_patience: epochs without a validation-Dice gain before stopping (0: never).
        schedule: learning-rate schedule, ``plateau`` (halve on a validation-Dice plateau, see
            ``lr_patience``/``lr_factor``) or ``cosine`` (anneal from ``learning_rate`` to
            ``min_lr`` over ``epochs``); see ``edgeseg.train.SCHEDULES``.
        lr_patience, lr_factor, min_lr: ReduceLROnPlateau on validation Dice.
        ema: if set, the momentum of an exponential moving average of the weights, which replaces
            the weights at the end of every epoch (so validation and checkpoints see the average);
            for fine-tuning from ``model.init_weights`` only.
        teacher: knowledge distillation: a run directory (its best checkpoint) or ``.keras`` file
            of a trained model whose probabilities on each augmented batch are blended into the
            targets, ``(1 - distill_weight) * mask + distill_weight * teacher``.
        distill_weight: the teacher's share of the targets, in (0, 0.5): below one half every
            target still thresholds to its ground-truth mask, so the training Dice/IoU stay true.
        freeze_encoder_epochs: fine-tuning a pretrained encoder (``edgeseg.models`` names the
            models that have one): train only the decoder for this many epochs, then unfreeze
            the encoder and continue at ``unfreeze_lr`` (0: train everything from the start).
        unfreeze_lr: the learning rate once the encoder is unfrozen (default: a tenth of
            ``learning_rate``); ``cosine`` anneals from it over the remaining epochs.
        encoder_bn: ``frozen`` keeps the encoder's BatchNorm in inference mode for the whole run
            (its statistics are the pretrained ones; Keras' MobileNetV2 momentum of 0.999 would
            otherwise lag far behind the weights), ``train`` lets it learn once unfrozen.
        encoder_bn_momentum: with ``encoder_bn="train"``, replace the encoder BatchNorm's moving-
            average momentum (Keras' MobileNetV2 uses 0.999: its inference statistics follow new
            weights over thousands of steps; 0.99 follows within an epoch). None: keep it.
        max_steps: cap on training steps per epoch (quick runs).
        seed: seeds weights, shuffling and augmentation; a resumed run replays the same stream.
        mixed_precision: ``auto`` (on when a GPU is present), ``on`` or ``off``.
        tensorboard: also write TensorBoard logs to ``RUN/tensorboard``.
    """

    epochs: int = 50
    learning_rate: float = 1e-3
    loss: str = "bce_dice"
    schedule: str = "plateau"
    early_stopping_patience: int = 10
    lr_patience: int = 4
    lr_factor: float = 0.5
    min_lr: float = 1e-6
    ema: float | None = None
    teacher: str | None = None
    distill_weight: float = 0.3
    freeze_encoder_epochs: int = 0
    unfreeze_lr: float | None = None
    encoder_bn: str = "train"
    encoder_bn_momentum: float | None = None
    max_steps: int | None = None
    seed: int = 0
    mixed_precision: str = "auto"
    tensorboard: bool = False

    @property
    def unfreeze_learning_rate(self) -> float:
        return self.unfreeze_lr if self.unfreeze_lr is not None else self.learning_rate / 10

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        _check(self.learning_rate > 0, f"learning rate must be > 0, got {self.learning_rate}")
        _check(0 < self.lr_factor < 1, f"lr factor must be in (0, 1), got {self.lr_factor}")
        _check(self.ema is None or 0 < self.ema < 1, f"ema momentum must be in (0, 1), got {self.ema}")
        _check(0 < self.distill_weight < 0.5, f"distill weight must be in (0, 0.5), got {self.distill_weight}")
        _check(0 <= self.freeze_encoder_epochs < self.epochs,
               f"freeze encoder epochs must be in [0, epochs={self.epochs}), got {self.freeze_encoder_epochs}")
        _check(self.unfreeze_lr is None or self.unfreeze_lr > 0, f"unfreeze lr must be > 0, got {self.unfreeze_lr}")
        _check(self.encoder_bn_momentum is None or 0 < self.encoder_bn_momentum < 1,
               f"encoder bn momentum must be in (0, 1), got {self.encoder_bn_momentum}")
        _check(self.encoder_bn in ENCODER_BN, f"encoder bn must be one of {', '.join(ENCODER_BN)}, got {self.encoder_bn!r}")
        _check(self.max_steps is None or self.max_steps >= 1, f"max steps must be >= 1, got {self.max_steps}")
        _check(
            self.mixed_precision in MIXED_PRECISION,
            f"mixed precision must be auto, on or off, got {self.mixed_precision!r}",
        )


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run; saved as ``RUN/config.json``."""

    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    version: int = CONFIG_VERSION

    def __post_init__(self) -> None:
        # The average is written into the model every epoch; from random weights it still holds a
        # large share of the initialisation (0.995**250 = 29% after one ISIC epoch), which no
        # longer matches BatchNorm's statistics: measured validation Dice 0.0 after epoch 1.
        _check(
            self.train.ema is None or self.model.init_weights is not None,
            "ema needs a warm start (--init-weights): it averages weights around a trained model",
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        return from_dict(cls, d)

    def save(self, path: str | Path) -> Path:
        from edgeseg.io import write_json

        return write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except (json.JSONDecodeError, TypeError, KeyError) as e:
            raise ConfigError(f"{path}: not a valid edgeseg config ({e})") from None


def from_dict(cls: type[C], d: dict[str, Any]) -> C:
    """Rebuild a (nested) frozen dataclass from :func:`dataclasses.asdict` output."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in d:
            continue
        value = d[f.name]
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            value = from_dict(tp, value)
        kwargs[f.name] = value
    unknown = set(d) - {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise TypeError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**kwargs)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)
