"""U-Net (Ronneberger et al., 2015) with 'same' padding, and its width variants.

Without BatchNorm and with 3 input channels the parameter counts are: ``unet_w100`` 31,031,745,
``unet_w050`` 7,760,097, ``unet_w025`` 1,941,105.
"""

from __future__ import annotations

from edgeseg._keras import keras
from edgeseg.models.base import check_input_shape, check_no_encoder_weights, register_variant
from edgeseg.models.blocks import conv_block, image_input, round_channels, segmentation_head, up_conv

UNET_CHANNELS = (64, 128, 256, 512)  # encoder levels; the bottleneck is 2x the last
UNET_FACTOR = 2 ** len(UNET_CHANNELS)  # four 2x2 max-pools


def build_unet(
    input_shape: tuple[int, int, int] = (192, 256, 3),
    width: float = 1.0,
    *,
    batch_norm: bool = True,
    encoder_weights: str | None = None,
    name: str = "unet",
) -> keras.Model:
    """Build a U-Net whose channels are ``round_channels(c * width)`` for c in 64..1024.

    Layers: ``enc{1..4}`` ([3x3 conv (+BN) + ReLU] x2, then ``enc{i}_pool`` 2x2 max-pool),
    ``bottleneck``, ``dec{4..1}`` (``dec{i}_upconv`` 2x2 stride-2 transposed conv halving the
    channels, ``dec{i}_concat`` with the skip, [3x3 conv (+BN) + ReLU] x2), ``head``.

    Args:
        input_shape: ``(H, W, C)``; H and W must be divisible by 16.
        width: channel multiplier.
        batch_norm: BatchNorm between every 3x3 conv and its ReLU.
        encoder_weights: must be None (the U-Net has no pretrained encoder).
        name: the model name (the registry name of a variant).

    Returns:
        A model ``(N, H, W, C)`` float32 in [0, 1] -> ``(N, H, W, 1)`` float32 probabilities.

    Raises:
        ConfigError: ``encoder_weights`` given, or H/W not divisible by 16.
    """
    check_no_encoder_weights(name, encoder_weights)
    input_shape = check_input_shape(name, input_shape, UNET_FACTOR)
    channels = [round_channels(c * width) for c in UNET_CHANNELS]

    inputs = image_input(input_shape)
    x = inputs
    skips = []
    for level, ch in enumerate(channels, start=1):
        x = conv_block(x, ch, batch_norm=batch_norm, name=f"enc{level}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)

    x = conv_block(x, round_channels(2 * UNET_CHANNELS[-1] * width), batch_norm=batch_norm, name="bottleneck")

    for level in range(len(channels), 0, -1):
        ch = channels[level - 1]
        x = up_conv(x, ch, name=f"dec{level}_upconv")
        x = keras.layers.Concatenate(name=f"dec{level}_concat")([x, skips[level - 1]])
        x = conv_block(x, ch, batch_norm=batch_norm, name=f"dec{level}")

    return keras.Model(inputs, segmentation_head(x), name=name)


register_variant("unet_w100", build_unet, "Classic U-Net, 64..1024 channels", width=1.0)
register_variant("unet_w050", build_unet, "U-Net with channels x1/2", width=0.5)
register_variant("unet_w025", build_unet, "U-Net with channels x1/4: the phone model", width=0.25)
