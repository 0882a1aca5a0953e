"""ResNet50V2-UNet specifics: skip resolutions, input rescaling, local encoder weights."""

from __future__ import annotations

import re

import numpy as np
import pytest

from edgeseg._keras import keras
from edgeseg.errors import ConfigError
from edgeseg.models import create_model
from edgeseg.models.resnet_unet import DECODER_CHANNELS, RESNET50V2_BRIDGE, RESNET50V2_SKIPS


def test_skips_sit_at_their_resolution(built_model, small_shape) -> None:
    model = built_model("resnet50v2_unet")
    h, w, _ = small_shape
    for factor, layer_name in {**RESNET50V2_SKIPS, 32: RESNET50V2_BRIDGE}.items():
        assert tuple(model.get_layer(layer_name).output.shape[1:3]) == (h // factor, w // factor), layer_name
    # Each skip is the last layer at its resolution that the next stage's stride-2 conv reads.
    for factor, layer_name in RESNET50V2_SKIPS.items():
        if factor >= 4:
            strided = layer_name.replace("_1_relu", "_2_conv")
            assert model.get_layer(strided).strides == (2, 2)
    concat_inputs = [
        tuple(t.shape[1:3]) for i in range(1, 6) for t in model.get_layer(f"dec{i}_concat").input
    ]
    assert concat_inputs == [(h // f, w // f) for f in (1, 1, 2, 2, 4, 4, 8, 8, 16, 16)]
    assert [model.get_layer(f"dec{i}_conv2").filters for i in (5, 4, 3, 2, 1)] == list(DECODER_CHANNELS)


def test_encoder_sees_minus_one_to_one(built_model, small_shape) -> None:
    model = built_model("resnet50v2_unet")
    probe = keras.Model(model.input, model.get_layer("rescale").output)
    x = np.ones((1, *small_shape), np.float32) * np.array([0.0, 0.5, 1.0], np.float32)  # per channel
    np.testing.assert_array_equal(probe(x).numpy()[0, 5, 7], [-1.0, 0.0, 1.0])
    assert model.get_layer("conv1_pad").input is model.get_layer("rescale").output


def test_encoder_weights_are_loaded_from_local_file(tmp_path, built_model) -> None:
    keras.utils.set_random_seed(1)
    bare = keras.applications.ResNet50V2(include_top=False, weights=None, input_shape=(64, 64, 3))
    path = tmp_path / "resnet50v2_notop.h5"
    bare.save_weights(path)

    model = create_model("resnet50v2_unet", (64, 96, 3), encoder_weights=str(path))
    for layer_name in ("conv1_conv", "conv3_block2_2_conv", "conv5_block3_3_conv"):
        np.testing.assert_array_equal(model.get_layer(layer_name).kernel, bare.get_layer(layer_name).kernel)
    # A randomly initialised model differs, so the equality above is the loading at work.
    random_kernel = built_model("resnet50v2_unet").get_layer("conv1_conv").kernel
    assert not np.array_equal(random_kernel, bare.get_layer("conv1_conv").kernel)


def test_missing_encoder_weights_file(tmp_path) -> None:
    missing = tmp_path / "nope.h5"
    expected = rf"^resnet50v2_unet: encoder weights file {re.escape(str(missing))} does not exist"
    with pytest.raises(ConfigError, match=expected):
        create_model("resnet50v2_unet", (64, 64, 3), encoder_weights=str(missing))


def test_unloadable_encoder_weights_file(tmp_path) -> None:
    wrong = tmp_path / "unet.h5"
    create_model("unet_w025", (64, 64, 3)).save_weights(wrong)
    expected = rf"^resnet50v2_unet: cannot load encoder weights from {re.escape(str(wrong))}"
    with pytest.raises(ConfigError, match=expected):
        create_model("resnet50v2_unet", (64, 64, 3), encoder_weights=str(wrong))
