"""Segmentation models: U-Net widths, SegNet, ResNet50V2-UNet, all behind one registry.

Every model maps ``(N, H, W, C)`` float32 in [0, 1] (input ``image``) to ``(N, H, W, 1)``
float32 lesion probabilities (output ``head``), and uses TFLite-builtin ops only.

Usage::

    from edgeseg.models import create_model, list_models
    model = create_model("unet_w025", (192, 256, 3))
"""

from __future__ import annotations

from typing import Any

from edgeseg._keras import keras
from edgeseg.models import mnv2_unet, resnet_unet, segnet, unet  # noqa: F401  (importing registers the models)
from edgeseg.models.base import MODELS, PRETRAINED_ENCODER_MODELS, ModelBuilder, encoder_layers
from edgeseg.models.blocks import CUSTOM_LAYERS, MaxUnpool, PoolIndexMask, round_channels

__all__ = [
    "MODELS",
    "MaxUnpool",
    "ModelBuilder",
    "PoolIndexMask",
    "PRETRAINED_ENCODER_MODELS",
    "create_model",
    "encoder_layers",
    "custom_objects",
    "list_models",
    "round_channels",
]


def create_model(
    name: str,
    input_shape: tuple[int, int, int] = (192, 256, 3),
    *,
    batch_norm: bool = True,
    encoder_weights: str | None = None,
) -> keras.Model:
    """Build the registered model ``name`` (uncompiled, freshly initialised unless pretrained).

    Args:
        name: a registered name, see :func:`list_models`.
        input_shape: ``(H, W, C)`` of one image; H and W must be divisible by the model's
            down-sampling factor (16 for the U-Nets, 32 for the others).
        batch_norm: BatchNorm after every 3x3 conv that the builder owns.
        encoder_weights: pretrained encoder weights (models in ``PRETRAINED_ENCODER_MODELS``):
            a local weights file, or ``"imagenet"`` (``mnv2_unet*``: Keras' download).

    Returns:
        ``(N, H, W, C)`` float32 in [0, 1] -> ``(N, H, W, 1)`` float32 in [0, 1].

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the valid names).
        ConfigError: an invalid input shape or encoder-weights option for this model.
    """
    return MODELS.get(name)(input_shape, batch_norm=batch_norm, encoder_weights=encoder_weights)


def rebuild_at(model: keras.Model, model_cfg: Any, size: tuple[int, int]) -> keras.Model:
    """The same weights in ``model_cfg``'s architecture built for another input ``size`` (h, w).

    The registered models are fully convolutional, so only the input layer changes; the size must
    suit the model's down-sampling (ConfigError otherwise).
    """
    rebuilt = create_model(model_cfg.name, (size[0], size[1], 3), batch_norm=model_cfg.batch_norm)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return MODELS.names()


def custom_objects() -> dict[str, type]:
    """Every edgeseg custom layer by class name, for ``keras.models.load_model(custom_objects=...)``.

    The layers are also registered as ``edgeseg>ClassName``, so loading works without this too;
    the dict covers older files and explicit callers.
    """
    return {cls.__name__: cls for cls in CUSTOM_LAYERS}
