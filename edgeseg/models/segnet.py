"""SegNet (Badrinarayanan et al., 2017): a VGG16 encoder and a decoder that unpools with the
encoder's max-pool positions, built from TFLite builtins only.

``MaxPoolWithArgmax`` has no TFLite builtin, so each encoder pool also records a 0/1 mask of
where its maxima were (:class:`~edgeseg.models.blocks.PoolIndexMask`) and the decoder unpools by
nearest-upsampling and multiplying by that mask (:class:`~edgeseg.models.blocks.MaxUnpool`).
"""

from __future__ import annotations

from edgeseg._keras import keras
from edgeseg.models.base import check_input_shape, check_no_encoder_weights, register_variant
from edgeseg.models.blocks import (
    MaxUnpool,
    PoolIndexMask,
    conv_block,
    image_input,
    round_channels,
    segmentation_head,
)

# VGG16's conv stages: (channels, number of 3x3 convs), each followed by a 2x2 max-pool.
SEGNET_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
SEGNET_FACTOR = 2 ** len(SEGNET_STAGES)


def build_segnet(
    input_shape: tuple[int, int, int] = (192, 256, 3),
    width: float = 1.0,
    *,
    batch_norm: bool = True,
    encoder_weights: str | None = None,
    name: str = "segnet",
) -> keras.Model:
    """Build a SegNet whose channels are ``round_channels(c * width)`` for VGG16's 64..512.

    Layers: ``enc{1..5}`` ([3x3 conv (+BN) + ReLU] x 2 or 3), ``enc{i}_pool`` and ``enc{i}_mask``;
    ``dec{5..1}_unpool`` followed by ``dec{i}`` convs mirroring ``enc{i}`` (the last conv of
    ``dec{i}`` outputs ``enc{i-1}``'s channels, so it matches the next unpool's mask); ``head``.

    Args:
        input_shape: ``(H, W, C)``; H and W must be divisible by 32.
        width: channel multiplier.
        batch_norm: BatchNorm between every 3x3 conv and its ReLU.
        encoder_weights: must be None (no pretrained encoder is wired up).
        name: the model name.

    Returns:
        A model ``(N, H, W, C)`` float32 in [0, 1] -> ``(N, H, W, 1)`` float32 probabilities.

    Raises:
        ConfigError: ``encoder_weights`` given, or H/W not divisible by 32.
    """
    check_no_encoder_weights(name, encoder_weights)
    input_shape = check_input_shape(name, input_shape, SEGNET_FACTOR)
    stages = [(round_channels(c * width), n) for c, n in SEGNET_STAGES]

    inputs = image_input(input_shape)
    x = inputs
    masks = []
    for level, (ch, n) in enumerate(stages, start=1):
        x = conv_block(x, ch, n_convs=n, batch_norm=batch_norm, name=f"enc{level}")
        pooled = keras.layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
        masks.append(PoolIndexMask(2, name=f"enc{level}_mask")([x, pooled]))
        x = pooled

    for level in range(len(stages), 0, -1):
        ch, n = stages[level - 1]
        out_ch = stages[level - 2][0] if level > 1 else ch
        x = MaxUnpool(2, name=f"dec{level}_unpool")([x, masks[level - 1]])
        x = conv_block(x, [ch] * (n - 1) + [out_ch], batch_norm=batch_norm, name=f"dec{level}")

    return keras.Model(inputs, segmentation_head(x), name=name)


register_variant("segnet", build_segnet, "SegNet: VGG16-style encoder, max-pool-index unpooling", width=1.0)
register_variant("segnet_w025", build_segnet, "SegNet with channels x1/4", width=0.25)
