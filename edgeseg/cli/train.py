"""``edgeseg train``: train a new run, or ``--resume`` an interrupted one."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import DEFAULT_DATA, BatchOpt, LimitOpt, choices, parse_size
from edgeseg.config import ENCODER_BN, MIXED_PRECISION, AugmentConfig, DataConfig, RunConfig
from edgeseg.errors import ConfigError
from edgeseg.train import SCHEDULES

Schedule = choices("Schedule", SCHEDULES.names())
EncoderBn = choices("EncoderBn", ENCODER_BN)
MixedPrecision = choices("MixedPrecision", MIXED_PRECISION)

_P = "Options are layered: defaults, then --config FILE, then the options you pass."


def _set(obj, **changes):  # noqa: ANN001,ANN202
    """dataclasses.replace with only the options the user actually passed."""
    changes = {k: v for k, v in changes.items() if v is not None}
    return dataclasses.replace(obj, **changes) if changes else obj


def _encoder_weights(value: str | None) -> str | None:
    """'none' (random init) is kept, so it overrides a --config file's weights; a path is stored absolute
    so the run resumes from any directory."""
    if value is None:
        return None
    if value.lower() == "none":
        return "none"
    if value == "imagenet":
        return value
    return str(Path(value).expanduser().resolve())


@app.command("train", help=f"Train a segmentation model; every epoch is checkpointed and resumable. {_P}")
def train_cmd(
    data: Annotated[Optional[Path], typer.Option(help="Data folder with a folder split or one layout. [default: the embedded ISIC 2017 sample]")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Model name (`edgeseg models` lists them). [default: unet_w025]")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", "-e", help="Total epochs. [default: 50]")] = None,
    batch_size: BatchOpt = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Adam learning rate. [default: 1e-3]")] = None,
    loss: Annotated[Optional[str], typer.Option(help="Loss: bce, dice, bce_dice, focal, focal_dice. [default: bce_dice]")] = None,
    schedule: Annotated[Optional[Schedule], typer.Option(help="Learning-rate schedule: plateau (halve when validation Dice stalls) or cosine (anneal to the minimum over --epochs). [default: plateau]")] = None,
    ema: Annotated[Optional[float], typer.Option(help="Keep a moving average of the weights with this momentum (e.g. 0.99) and use it at every epoch's end. [default: off]")] = None,
    teacher: Annotated[Optional[Path], typer.Option(help="Distil from this trained run (its best checkpoint) or .keras file: its probabilities on each augmented batch are blended into the targets.")] = None,
    distill_weight: Annotated[Optional[float], typer.Option(help="The teacher's share of the targets, in (0, 0.5). [default: 0.3]")] = None,
    size: Annotated[Optional[str], typer.Option(help="Input HEIGHTxWIDTH. [default: 192x256]")] = None,
    layout: Annotated[Optional[str], typer.Option(help="Data layout (auto, generic, isic, ph2). [default: auto]")] = None,
    limit: LimitOpt = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Cap on training steps per epoch (quick runs).")] = None,
    augment: Annotated[Optional[bool], typer.Option("--augment/--no-augment", help="Joint image+mask augmentation. [default: on]")] = None,
    batch_norm: Annotated[Optional[bool], typer.Option("--batch-norm/--no-batch-norm", help="BatchNorm after each conv. [default: on]")] = None,
    encoder_weights: Annotated[Optional[str], typer.Option(help="Pretrained encoder (mnv2_unet*, resnet50v2_unet): a local weights file, 'imagenet' (Keras' download, mnv2_unet* only; needs the internet) or 'none'. [default: none]")] = None,
    freeze_encoder_epochs: Annotated[Optional[int], typer.Option(help="Train only the decoder for this many epochs, then unfreeze the pretrained encoder. [default: 0]")] = None,
    unfreeze_lr: Annotated[Optional[float], typer.Option(help="Learning rate once the encoder is unfrozen. [default: --lr / 10]")] = None,
    encoder_bn: Annotated[Optional[EncoderBn], typer.Option(help="Encoder BatchNorm: 'train' (learns once unfrozen) or 'frozen' (inference mode, pretrained statistics, for the whole run). [default: train]")] = None,
    encoder_bn_momentum: Annotated[Optional[float], typer.Option(help="With --encoder-bn train: the encoder BatchNorm's moving-average momentum (Keras' MobileNetV2 uses 0.999, which lags far behind a fine-tune; e.g. 0.99). [default: keep]")] = None,
    init_weights: Annotated[Optional[Path], typer.Option(help="Warm start from a run (its best checkpoint) or .keras file of the same model, e.g. to fine-tune at a higher --size.")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Early-stopping patience in epochs on validation Dice (0: off). [default: 10]")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for weights, shuffling and augmentation. [default: 0]")] = None,
    mixed_precision: Annotated[Optional[MixedPrecision], typer.Option(help="auto (GPU only), on or off. [default: auto]")] = None,
    tensorboard: Annotated[bool, typer.Option("--tensorboard", help="Also write TensorBoard logs to RUN/tensorboard.")] = False,
    config: Annotated[Optional[Path], typer.Option(help="Start from a saved config.json (e.g. another run's).")] = None,
    project: Annotated[Path, typer.Option(help="Folder that holds the run directories.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(help="Run name (must be new). [default: the model name, numbered]")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Resume this interrupted run from its last checkpoint (--epochs may extend it).")] = None,
) -> None:
    from edgeseg.finetune import resume as resume_run
    from edgeseg.train import train

    schedule, encoder_bn, mixed_precision = (c.value if c else None for c in (schedule, encoder_bn, mixed_precision))
    if resume is not None:
        given = {"data": data, "model": model, "batch_size": batch_size, "lr": lr, "loss": loss, "schedule": schedule,
                 "ema": ema, "teacher": teacher, "distill_weight": distill_weight, "size": size,
                 "layout": layout, "limit": limit, "max_steps": max_steps, "augment": augment, "batch_norm": batch_norm,
                 "encoder_weights": encoder_weights, "freeze_encoder_epochs": freeze_encoder_epochs,
                 "unfreeze_lr": unfreeze_lr, "encoder_bn": encoder_bn,
                 "encoder_bn_momentum": encoder_bn_momentum, "init_weights": init_weights, "patience": patience, "seed": seed,
                 "mixed_precision": mixed_precision, "config": config, "name": name}
        other = {k: v for k, v in given.items() if v is not None}
        if other:
            raise ConfigError(f"--resume continues a run with its saved config; drop {', '.join('--' + k.replace('_', '-') for k in other)} (only --epochs may change)")
        run = resume_run(resume, epochs=epochs)
        typer.echo(f"run: {run.path}")
        return

    base = RunConfig.load(config) if config else RunConfig(data=DataConfig(root=str(DEFAULT_DATA)))
    hw = parse_size(size)
    cfg = dataclasses.replace(
        base,
        data=_set(
            base.data, root=str(data) if data else None, layout=layout, batch_size=batch_size, limit=limit,
            height=hw[0] if hw else None, width=hw[1] if hw else None,
            augment=AugmentConfig(enabled=False) if augment is False else (AugmentConfig() if augment else None),
        ),
        model=_set(base.model, name=model, batch_norm=batch_norm, encoder_weights=_encoder_weights(encoder_weights),
                   init_weights=str(init_weights) if init_weights else None),
        train=_set(
            base.train, epochs=epochs, learning_rate=lr, loss=loss, schedule=schedule, ema=ema, max_steps=max_steps,
            teacher=str(teacher) if teacher else None, distill_weight=distill_weight,
            freeze_encoder_epochs=freeze_encoder_epochs, unfreeze_lr=unfreeze_lr, encoder_bn=encoder_bn,
            encoder_bn_momentum=encoder_bn_momentum, early_stopping_patience=patience, seed=seed, mixed_precision=mixed_precision, tensorboard=tensorboard or None,
        ),
    )
    run = train(cfg, runs_root=project, name=name)
    typer.echo(f"run: {run.path}")
