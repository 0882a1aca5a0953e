"""The model registry and the checks every builder runs before building anything.

A registry entry is a builder ``(input_shape, *, batch_norm, encoder_weights) -> keras.Model``;
``create_model`` in ``edgeseg.models`` is the only caller most code needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from edgeseg._keras import keras
from edgeseg.errors import ConfigError
from edgeseg.registry import Registry


class ModelBuilder(Protocol):
    """What a ``MODELS`` entry is: ``create_model``'s signature minus the name."""

    def __call__(
        self,
        input_shape: tuple[int, int, int] = ...,
        *,
        batch_norm: bool = ...,
        encoder_weights: str | None = ...,
    ) -> keras.Model: ...


MODELS: Registry[ModelBuilder] = Registry("model")


def register_variant(name: str, build: Callable[..., keras.Model], summary: str, **params: Any) -> ModelBuilder:
    """Register ``name`` as ``build`` with ``params`` fixed, e.g. ``unet_w025`` = ``build_unet(width=0.25)``.

    The registered builder has ``create_model``'s keyword signature and names the model ``name``;
    ``summary`` is its one-line description in ``edgeseg models``.
    """

    def builder(
        input_shape: tuple[int, int, int] = (192, 256, 3),
        *,
        batch_norm: bool = True,
        encoder_weights: str | None = None,
    ) -> keras.Model:
        return build(input_shape, batch_norm=batch_norm, encoder_weights=encoder_weights, name=name, **params)

    builder.__name__ = builder.__qualname__ = name
    fixed = ", ".join(f"{k}={v!r}" for k, v in params.items())
    builder.__doc__ = f"{summary} [{build.__name__}({fixed})]"
    # A family is one builder over one number: width variants are compared against each other.
    builder.family, builder.params = build.__name__, dict(params)  # type: ignore[attr-defined]
    MODELS.add(name, builder)
    return builder


# The one model with a pretrainable encoder; named in the error for every other model.
PRETRAINED_ENCODER_MODELS = ("mnv2_unet", "mnv2_unet_s16", "resnet50v2_unet")


# Layers every model owns outside its encoder: the input, its rescaling, the decoder and the head.
_NOT_ENCODER = ("image", "rescale", "dec", "head")


def encoder_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The pretrained encoder's layers of a model in :data:`PRETRAINED_ENCODER_MODELS` (what
    ``--freeze-encoder-epochs`` freezes): every layer but the input, ``rescale``, ``dec*`` and
    ``head*``, which is where ``keras.applications`` puts its own layer names."""
    return [layer for layer in model.layers if not layer.name.startswith(_NOT_ENCODER)]


def check_input_shape(name: str, input_shape: Sequence[int], factor: int) -> tuple[int, int, int]:
    """Validate ``(H, W, C)`` for a model that down-samples by ``factor``; return it as ints.

    Raises:
        ConfigError: not three positive ints, or H/W not divisible by ``factor`` (the skip
            concatenations / unpool masks would not line up).
    """
    try:
        h, w, c = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} needs input_shape (H, W, C), got {input_shape!r}") from None
    if min(h, w, c) < 1:
        raise ConfigError(f"{name} needs a positive input_shape (H, W, C), got {h}x{w}x{c}")
    if h % factor or w % factor:
        raise ConfigError(f"{name} needs H and W divisible by {factor}, got {h}x{w}")
    return h, w, c


def check_encoder_policy(name: str, freeze_encoder_epochs: int, encoder_bn: str,
                         encoder_bn_momentum: float | None = None) -> None:
    """Refuse encoder fine-tuning options for a model without a pretrainable encoder (on a U-Net
    they would silently act on its ``enc*`` layers)."""
    if name not in PRETRAINED_ENCODER_MODELS and (
            freeze_encoder_epochs or encoder_bn != "train" or encoder_bn_momentum is not None):
        raise ConfigError(f"{name} has no pretrained encoder; --freeze-encoder-epochs, --encoder-bn and "
                          f"--encoder-bn-momentum apply to {', '.join(PRETRAINED_ENCODER_MODELS)}")


def check_no_encoder_weights(name: str, encoder_weights: str | None) -> None:
    """Refuse ``encoder_weights`` for a model that has no pretrainable encoder (never ignore it)."""
    if encoder_weights is not None:
        raise ConfigError(
            f"{name} has no pretrained encoder; --encoder-weights applies to "
            f"{', '.join(PRETRAINED_ENCODER_MODELS)}"
        )
