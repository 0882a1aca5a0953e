"""MobileNetV2 U-Net specifics: skips and bridge, input rescaling, cost, and the ImageNet weights
loaded offline from the shared file (never the network)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edgeseg._keras import keras
from edgeseg.errors import ConfigError
from edgeseg.models import create_model, encoder_layers
from edgeseg.models.mnv2_unet import MNV2_BRIDGES, MNV2_SKIPS
from edgeseg.models.stats import count_macs

WEIGHTS = Path(__file__).resolve().parents[3] / "shared" / "weights" / "mobilenet_v2_1.0_imagenet_no_top.h5"


@pytest.fixture(scope="module")
def weights_file() -> Path:
    if not WEIGHTS.is_file():
        pytest.skip(f"shared MobileNetV2 weights not found at {WEIGHTS}")
    return WEIGHTS


@pytest.mark.parametrize("name, stride", [("mnv2_unet", 32), ("mnv2_unet_s16", 16)])
def test_skips_and_bridge_sit_at_their_resolution(name, stride, built_model, small_shape) -> None:
    model = built_model(name)
    h, w, _ = small_shape
    for factor, layer_name in {**MNV2_SKIPS, stride: MNV2_BRIDGES[stride]}.items():
        if factor <= stride:
            assert tuple(model.get_layer(layer_name).output.shape[1:3]) == (h // factor, w // factor), layer_name
    # Each skip is the last full-resolution feature: the next layer that reads it strides by 2.
    for factor, layer_name in MNV2_SKIPS.items():
        if factor < stride:
            pad = model.get_layer(layer_name.replace("_expand_relu", "_pad"))
            assert pad.input is model.get_layer(layer_name).output
    levels = stride.bit_length() - 1
    concat_inputs = [tuple(t.shape[1:3]) for i in range(levels, 0, -1) for t in model.get_layer(f"dec{i}_concat").input]
    assert concat_inputs == [(h // f, w // f) for f in (2 ** i for i in range(levels - 1, -1, -1)) for _ in (0, 1)]
    # The encoder is cut at the bridge: nothing deeper (Conv_1's 1280 channels) is in the model.
    names = {layer.name for layer in model.layers}
    assert "Conv_1" not in names and "out_relu" not in names
    assert not any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in model.layers)


def test_encoder_sees_minus_one_to_one(built_model, small_shape) -> None:
    model = built_model("mnv2_unet")
    probe = keras.Model(model.input, model.get_layer("rescale").output)
    x = np.ones((1, *small_shape), np.float32) * np.array([0.0, 0.5, 1.0], np.float32)
    np.testing.assert_array_equal(probe(x).numpy()[0, 5, 7], [-1.0, 0.0, 1.0])
    assert model.get_layer("Conv1").input is model.get_layer("rescale").output


def test_cost_at_isic_size_is_a_quarter_of_the_unet_or_less() -> None:
    # Counted at the data's own 192x256; the phone budget (issue 15) is <= 1/4 of unet_w025's MACs
    # and under 2M parameters for every preset.
    unet = create_model("unet_w025", (192, 256, 3))
    counts = {}
    for name in ("mnv2_unet", "mnv2_unet_s16"):
        model = create_model(name, (192, 256, 3))
        counts[name] = (model.count_params(), count_macs(model))
    assert counts == {"mnv2_unet": (1_968_648, 502_069_248), "mnv2_unet_s16": (612_072, 422_264_832)}
    assert all(p < 2_000_000 and 4 * m <= count_macs(unet) for p, m in counts.values())


def test_depthwise_convs_count_one_mac_per_tap_and_channel() -> None:
    x = keras.Input((8, 10, 6))
    model = keras.Model(x, keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x))
    assert count_macs(model) == 8 * 10 * 3 * 3 * 6 * 2


def test_imagenet_weights_load_from_the_shared_file(weights_file) -> None:
    model = create_model("mnv2_unet", (64, 96, 3), encoder_weights=str(weights_file))
    reference = keras.applications.MobileNetV2(include_top=False, weights=str(weights_file), input_shape=(96, 96, 3))
    for layer_name in ("Conv1", "expanded_conv_depthwise", "block_6_expand", "block_16_project", "block_16_project_BN"):
        for a, b in zip(model.get_layer(layer_name).get_weights(), reference.get_layer(layer_name).get_weights()):
            np.testing.assert_array_equal(a, b)
    random = create_model("mnv2_unet", (64, 96, 3))
    assert not np.array_equal(random.get_layer("Conv1").kernel, model.get_layer("Conv1").kernel)
    # "none" is random initialisation, as from the CLI.
    none = create_model("mnv2_unet", (64, 96, 3), encoder_weights="none")
    assert not np.array_equal(none.get_layer("Conv1").kernel, model.get_layer("Conv1").kernel)


def test_missing_and_foreign_weights_fail_with_one_line(tmp_path) -> None:
    missing = tmp_path / "nope.h5"
    with pytest.raises(ConfigError, match=rf"^mnv2_unet: encoder weights file {re.escape(str(missing))} does not exist"):
        create_model("mnv2_unet", (64, 96, 3), encoder_weights=str(missing))
    foreign = tmp_path / "unet.h5"
    create_model("unet_w025", (64, 96, 3)).save_weights(foreign)
    with pytest.raises(ConfigError, match=rf"^mnv2_unet: cannot load encoder weights from {re.escape(str(foreign))} \(") as e:
        create_model("mnv2_unet", (64, 96, 3), encoder_weights=str(foreign))
    assert "\n" not in str(e.value)


def test_encoder_layers_are_the_backbone_only(built_model) -> None:
    model = built_model("mnv2_unet")
    enc = {layer.name for layer in encoder_layers(model)}
    assert {"Conv1", "bn_Conv1", "block_16_project_BN", "block_13_expand_relu"} <= enc
    assert not any(n.startswith(("dec", "head", "rescale", "image")) for n in enc)
    # Every weight belongs to exactly one side.
    decoder = [layer for layer in model.layers if layer.name not in enc]
    assert sum(layer.count_params() for layer in encoder_layers(model)) + sum(
        layer.count_params() for layer in decoder) == model.count_params()
