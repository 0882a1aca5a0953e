"""A U-Net decoder on a ResNet50V2 encoder (``keras.applications``), optionally pretrained from
a local weights file. Nothing is ever downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path

from edgeseg._keras import keras
from edgeseg.errors import ConfigError
from edgeseg.models.base import check_input_shape, register_variant
from edgeseg.models.blocks import conv_block, image_input, segmentation_head, up_conv

RESNET_FACTOR = 32

# Encoder features the decoder concatenates, by down-sampling factor (checked in the tests).
# ResNetV2 strides in the *last* block of a stage (conv2_block3, conv3_block4, conv4_block6), so
# a stage's final full-resolution feature is that block's first 1x1 conv + BN + ReLU
# ("_1_relu"), just before its stride-2 3x3 conv; the "_out" layers are already down-sampled.
# At 1/2 ResNetV2 has nothing but conv1's raw (pre-activation) output.
RESNET50V2_SKIPS = {
    2: "conv1_conv",  # 64 channels
    4: "conv2_block3_1_relu",  # 64
    8: "conv3_block4_1_relu",  # 128
    16: "conv4_block6_1_relu",  # 256
}
RESNET50V2_BRIDGE = "post_relu"  # 1/32, 2048 channels
DECODER_CHANNELS = (256, 128, 64, 32, 16)  # 1/16, 1/8, 1/4, 1/2, 1/1


def build_resnet50v2_unet(
    input_shape: tuple[int, int, int] = (192, 256, 3),
    *,
    batch_norm: bool = True,
    encoder_weights: str | None = None,
    name: str = "resnet50v2_unet",
) -> keras.Model:
    """Build ResNet50V2-UNet.

    The input (``(N, H, W, C)`` float32 in [0, 1]) goes through ``rescale`` (x * 2 - 1: ResNetV2
    was trained on [-1, 1]) into ResNet50V2 (``include_top=False``); its layers keep their
    ``keras.applications`` names. The decoder ``dec5..dec1`` up-samples ``post_relu`` (1/32) five
    times: ``dec{i}_upconv`` (2x2 stride-2 transposed conv), ``dec{i}_concat`` with the skip
    (:data:`RESNET50V2_SKIPS`, then the image itself at 1/1), [3x3 conv (+BN) + ReLU] x2, with
    256, 128, 64, 32, 16 channels; then ``head``.

    Args:
        input_shape: ``(H, W, C)``; H and W must be divisible by 32.
        batch_norm: BatchNorm in the decoder's conv blocks (the encoder always has its own).
        encoder_weights: a local ResNet50V2 no-top weights file (``.h5``, as saved by
            ``keras.applications.ResNet50V2(include_top=False).save_weights``), loaded into the
            encoder by topology. ``None``: random initialisation.
        name: the model name.

    Returns:
        A model ``(N, H, W, C)`` float32 in [0, 1] -> ``(N, H, W, 1)`` float32 probabilities.

    Raises:
        ConfigError: H/W not divisible by 32, or ``encoder_weights`` missing or not loadable.
    """
    input_shape = check_input_shape(name, input_shape, RESNET_FACTOR)
    weights_path = _existing_weights_file(name, encoder_weights)

    inputs = image_input(input_shape)
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="rescale")(inputs)
    # Built on our tensor (not nested as a sub-model) so every layer is reachable by name and
    # the saved model is one flat graph.
    encoder = keras.applications.ResNet50V2(include_top=False, weights=None, input_tensor=x)
    _name_shortcut_pools(encoder)
    if weights_path is not None:
        try:
            encoder.load_weights(str(weights_path))
        except (ValueError, OSError) as e:
            raise ConfigError(
                f"{name}: cannot load encoder weights from {weights_path} "
                f"({str(e).splitlines()[0]}); expected ResNet50V2 no-top weights for "
                f"{input_shape[-1]} input channels"
            ) from None

    skips = [inputs] + [encoder.get_layer(RESNET50V2_SKIPS[f]).output for f in sorted(RESNET50V2_SKIPS)]
    x = encoder.get_layer(RESNET50V2_BRIDGE).output
    for level, ch in zip(range(len(DECODER_CHANNELS), 0, -1), DECODER_CHANNELS):
        x = up_conv(x, ch, name=f"dec{level}_upconv")
        x = keras.layers.Concatenate(name=f"dec{level}_concat")([x, skips[level - 1]])
        x = conv_block(x, ch, batch_norm=batch_norm, name=f"dec{level}")

    return keras.Model(inputs, segmentation_head(x), name=name)


def _name_shortcut_pools(encoder: keras.Model) -> None:
    """Name the three unnamed 1x1 stride-2 shortcut pools of ResNetV2 ``{block}_shortcut_pool``.

    keras.applications leaves them as ``max_pooling2d_<n>``, where n counts every pool built
    before in the process, so the saved graph's names would depend on what ran first. They hold
    no weights, so loading weights by topology is unaffected.
    """
    for layer in encoder.layers:
        if not re.fullmatch(r"max_pooling2d(_\d+)?", layer.name):
            continue
        (block_out,) = [
            other
            for other in encoder.layers
            if isinstance(other, keras.layers.Add) and any(t is layer.output for t in other.input)
        ]
        # A Layer's name has no public setter; the functional graph refers to layer objects,
        # so renaming before the outer Model is built is safe.
        layer._name = block_out.name.removesuffix("_out") + "_shortcut_pool"


def _existing_weights_file(name: str, encoder_weights: str | None) -> Path | None:
    """Check the weights file exists before building (a TF checkpoint is named by its prefix)."""
    if encoder_weights is None or encoder_weights.lower() == "none":
        return None
    path = Path(encoder_weights).expanduser()
    if not (path.is_file() or Path(f"{path}.index").is_file()):
        raise ConfigError(f"{name}: encoder weights file {path} does not exist (nothing is downloaded)")
    return path


register_variant("resnet50v2_unet", build_resnet50v2_unet, "ResNet50V2 encoder (random or --encoder-weights) + U-Net decoder")
