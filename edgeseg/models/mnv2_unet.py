"""The edge-native phone model: a U-Net decoder of depthwise-separable convs on a MobileNetV2
encoder (``keras.applications``), ImageNet-initialised from a local file, Keras' download, or
random.

Why this shape: at 192x256 it needs about a fifth of ``unet_w025``'s MACs, every op is a TFLite
builtin that XNNPACK, LiteRT.js and NNAPI run (CONV_2D, DEPTHWISE_CONV_2D, RESIZE_BILINEAR,
CONCATENATION, RELU6), and the encoder can start from ImageNet, which a from-scratch U-Net on
2,000 images cannot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeseg._keras import keras
from edgeseg.errors import ConfigError, first_line
from edgeseg.models.base import check_input_shape, register_variant
from edgeseg.models.blocks import image_input

# MobileNetV2's last full-resolution feature at each down-sampling factor: the expansion ReLU of
# the first block of the next stage, just before its stride-2 depthwise conv (checked in tests).
MNV2_SKIPS = {
    2: "block_1_expand_relu",  # 96 channels
    4: "block_3_expand_relu",  # 144
    8: "block_6_expand_relu",  # 192
    16: "block_13_expand_relu",  # 576
}
# The deepest feature the decoder starts from, by encoder stride (the encoder is cut there).
MNV2_BRIDGES = {
    16: "block_12_add",  # 96 channels
    32: "block_16_project_BN",  # 320 (Conv_1's 1280 channels are left out: 0.41M parameters)
}
ENCODER_WEIGHT_CHOICES = ("imagenet", "a local .h5 path", "none")


def build_mnv2_unet(
    input_shape: tuple[int, int, int] = (192, 256, 3),
    *,
    batch_norm: bool = True,
    encoder_weights: str | None = None,
    name: str = "mnv2_unet",
    encoder_stride: int = 32,
    decoder_channels: Sequence[int] = (64, 64, 48, 32, 16),
) -> keras.Model:
    """Build a MobileNetV2 U-Net.

    The input (``(N, H, W, 3)`` float32 in [0, 1]) goes through ``rescale`` (x * 2 - 1, the
    [-1, 1] range MobileNetV2 was trained on) into MobileNetV2 (alpha 1.0, ``include_top=False``,
    layers keep their ``keras.applications`` names), cut at ``MNV2_BRIDGES[encoder_stride]``.
    Each decoder level ``dec{i}`` (from the deepest) up-samples 2x bilinearly
    (``dec{i}_up``), concatenates the skip at that resolution (``dec{i}_concat``; the rescaled
    image at 1/1), and applies two depthwise-separable convs
    (``dec{i}_dw{j}`` 3x3 depthwise, ``dec{i}_pw{j}`` 1x1, each + BN + ReLU); then ``head``.

    Args:
        input_shape: ``(H, W, 3)``; H and W divisible by ``encoder_stride``.
        batch_norm: BatchNorm in the decoder (the encoder always has its own).
        encoder_weights: ``"imagenet"`` (Keras' download), a local MobileNetV2 no-top ``.h5``
            (the file ``keras.applications`` downloads), or None for random weights.
        name: the model name.
        encoder_stride: 16 or 32, where the encoder is cut.
        decoder_channels: one width per decoder level, deepest first (``log2(stride)`` levels).

    Raises:
        ConfigError: a bad shape, stride or decoder width list, or weights that cannot be loaded.
    """
    if encoder_stride not in MNV2_BRIDGES:
        raise ConfigError(f"{name}: encoder_stride must be one of {sorted(MNV2_BRIDGES)}, got {encoder_stride}")
    levels = encoder_stride.bit_length() - 1
    if len(decoder_channels) != levels:
        raise ConfigError(f"{name}: a stride-{encoder_stride} encoder needs {levels} decoder widths, "
                          f"got {len(decoder_channels)}")
    input_shape = check_input_shape(name, input_shape, encoder_stride)
    if input_shape[-1] != 3:
        raise ConfigError(f"{name} takes RGB input (3 channels), got {input_shape[-1]}")
    weights = resolve_encoder_weights(name, encoder_weights)

    inputs = image_input(input_shape)
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="rescale")(inputs)
    # Built on our tensor (not nested as a sub-model) so every layer is reachable by name, the
    # saved model is one flat graph, and the standard API loads the weights by topology.
    try:
        encoder = keras.applications.MobileNetV2(include_top=False, alpha=1.0, weights=weights, input_tensor=x)
    except Exception as e:  # noqa: BLE001 - Keras raises ValueError/OSError/URL errors alike
        source = "Keras' ImageNet download (no network?)" if weights == "imagenet" else weights
        raise ConfigError(f"{name}: cannot load encoder weights from {source} ({first_line(e)}); "
                          "expected MobileNetV2 alpha 1.0 no-top weights") from None

    skips = [x] + [encoder.get_layer(MNV2_SKIPS[f]).output for f in sorted(MNV2_SKIPS) if f < encoder_stride]
    x = encoder.get_layer(MNV2_BRIDGES[encoder_stride]).output
    for level, ch in zip(range(levels, 0, -1), decoder_channels):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{level}_up")(x)
        x = keras.layers.Concatenate(name=f"dec{level}_concat")([x, skips[level - 1]])
        for j in (1, 2):
            x = _separable(x, ch, batch_norm=batch_norm, name=f"dec{level}", index=j)
    x = keras.layers.Conv2D(1, 1, name="head_conv")(x)
    return keras.Model(inputs, keras.layers.Activation("sigmoid", dtype="float32", name="head")(x), name=name)


def _separable(x: Any, filters: int, *, batch_norm: bool, name: str, index: int) -> Any:
    """3x3 depthwise (+BN) + ReLU, then 1x1 conv to ``filters`` (+BN) + ReLU."""
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=not batch_norm, name=f"{name}_dw{index}")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_dw{index}_bn")(x)
    x = keras.layers.ReLU(name=f"{name}_dw{index}_relu")(x)
    x = keras.layers.Conv2D(filters, 1, use_bias=not batch_norm, name=f"{name}_pw{index}")(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_pw{index}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_pw{index}_relu")(x)


def resolve_encoder_weights(name: str, encoder_weights: str | None) -> str | None:
    """``None``/``"none"`` -> None, ``"imagenet"`` as is, else an existing file's path (checked
    before anything is built or written, since Keras' own message for a missing file is vague)."""
    if encoder_weights is None or str(encoder_weights).lower() == "none":
        return None
    if encoder_weights == "imagenet":
        return "imagenet"
    path = Path(encoder_weights).expanduser()
    if not path.is_file():
        raise ConfigError(f"{name}: encoder weights file {path} does not exist "
                          f"(--encoder-weights takes {', '.join(ENCODER_WEIGHT_CHOICES)})")
    return str(path)



register_variant(
    "mnv2_unet", build_mnv2_unet,
    "MobileNetV2 encoder cut at 1/32 + depthwise-separable U-Net decoder: the phone model",
    encoder_stride=32, decoder_channels=(64, 64, 48, 32, 16),
)
register_variant(
    "mnv2_unet_s16", build_mnv2_unet,
    "MobileNetV2 encoder cut at 1/16 (fewer parameters, more decoder MACs)",
    encoder_stride=16, decoder_channels=(64, 48, 32, 16),
)
