"""Contract tests for every registered model (parametrized over ``list_models()``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from _float32 import kernel_tolerance
from edgeseg._keras import keras, tf
from edgeseg.errors import ConfigError, UnknownNameError
from edgeseg.models import MODELS, create_model, custom_objects, list_models
from edgeseg.models.base import PRETRAINED_ENCODER_MODELS

# Converting these to TFLite (or saving them) takes well over 15 s on a 2-core box.
HEAVY = {"unet_w100", "segnet", "resnet50v2_unet"}


def _params(heavy_is_slow: bool) -> list:
    return [
        pytest.param(n, marks=pytest.mark.slow) if heavy_is_slow and n in HEAVY else n for n in list_models()
    ]


def _to_snake_case(name: str) -> str:  # Keras' own rule for auto-generated layer names
    s = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def test_registry_lists_every_model() -> None:
    expected = ["mnv2_unet", "mnv2_unet_s16", "resnet50v2_unet", "segnet", "segnet_w025", "unet_w025", "unet_w050", "unet_w100"]
    assert list_models() == expected
    assert list_models() == MODELS.names()


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_dtype_range(name: str, built_model, image_batch: np.ndarray) -> None:
    model = built_model(name)
    assert model.name == name
    assert model.input_names == ["image"] and model.output_names == ["head"]
    assert model.input.dtype == tf.float32
    out = model(image_batch, training=False)
    assert out.shape == (1, *image_batch.shape[1:3], 1) == (1, 64, 96, 1)
    assert out.dtype == tf.float32
    out = out.numpy()
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    assert out.std() > 0  # not a constant map: the image actually reaches the head


@pytest.mark.parametrize("name", list_models())
def test_layers_named_and_tflite_friendly(name: str, built_model) -> None:
    model = built_model(name)
    for layer in model.layers:
        assert not isinstance(layer, keras.layers.Lambda), layer.name
        auto = re.fullmatch(rf"{_to_snake_case(type(layer).__name__)}(_\d+)?", layer.name)
        assert auto is None, f"layer {layer.name!r} has an auto-generated name"
    head = model.get_layer("head")
    assert head.dtype == "float32" and head.activation is keras.activations.sigmoid
    assert model.get_layer("head_conv").kernel.shape[:2] == (1, 1)


@pytest.mark.parametrize("name", _params(heavy_is_slow=True))
def test_keras_save_load_round_trip(name: str, built_model, image_batch: np.ndarray, tmp_path) -> None:
    model = built_model(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded(image_batch, training=False), model(image_batch, training=False))


@pytest.mark.parametrize("name", _params(heavy_is_slow=True))
def test_tflite_builtins_only(name: str, built_model, image_batch: np.ndarray) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model = built_model(name)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # Raises if any op needs Flex (select TF ops) or a custom op.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    flatbuffer = converter.convert()

    # Reference kernels, not XNNPACK: XNNPACK's convs may differ by an ulp between positions
    # with identical neighbourhoods (the black corners of ISIC images), which turns an exact
    # tie in a SegNet pool window into a non-tie and moves a few unpooled values (~1e-3).
    reference = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interpreter = Interpreter(model_content=flatbuffer, experimental_op_resolver_type=reference)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.set_tensor(inp["index"], image_batch)
    interpreter.invoke()
    # Same probabilities as Keras: the unpool masks and resizes mean the same thing in TFLite.
    reference = model(image_batch).numpy()
    # Keras against the builtin kernels: the same sums in another order (tests/_float32.py).
    np.testing.assert_allclose(interpreter.get_tensor(out["index"]), reference, atol=kernel_tolerance(model, reference))


def test_unet_param_counts_without_batch_norm() -> None:
    counts = {
        n: create_model(n, (64, 64, 3), batch_norm=False).count_params()
        for n in ("unet_w100", "unet_w050", "unet_w025")
    }
    assert counts == {"unet_w100": 31_031_745, "unet_w050": 7_760_097, "unet_w025": 1_941_105}


def test_unet_w025_with_batch_norm_stays_small() -> None:
    model = create_model("unet_w025", (64, 64, 3))
    # 18 convs of 3x3, each with a BN of 4 x channels: 5,888 more parameters.
    assert model.count_params() == 1_941_105 + 5_888
    assert model.count_params() < 2_000_000
    assert model.get_layer("enc1_bn1") is not None


def test_batch_norm_between_conv_and_relu() -> None:
    model = create_model("unet_w025", (64, 64, 3))
    names = [layer.name for layer in model.layers]
    first = names.index("enc1_conv1")
    assert names[first : first + 3] == ["enc1_conv1", "enc1_bn1", "enc1_relu1"]
    assert model.get_layer("enc1_conv1").use_bias  # kept so the no-BN counts hold
    plain = create_model("unet_w025", (64, 64, 3), batch_norm=False)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in plain.layers)


def test_unet_channels_follow_width() -> None:
    model = create_model("unet_w025", (64, 64, 3), batch_norm=False)
    widths = [model.get_layer(f"enc{i}_conv2").filters for i in range(1, 5)]
    assert widths + [model.get_layer("bottleneck_conv2").filters] == [16, 32, 64, 128, 256]
    assert [model.get_layer(f"dec{i}_upconv").filters for i in (4, 3, 2, 1)] == [128, 64, 32, 16]


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError) as err:
        create_model("unet_w03")
    message = str(err.value)
    assert "unknown model 'unet_w03'" in message
    for name in list_models():
        assert name in message


@pytest.mark.parametrize("name", list_models())
def test_size_not_divisible_raises(name: str) -> None:
    factor = 16 if name.startswith("unet") or name.endswith("_s16") else 32
    with pytest.raises(ConfigError, match=rf"^{name} needs H and W divisible by {factor}, got 72x96$"):
        create_model(name, (72, 96, 3))
    with pytest.raises(ConfigError, match=rf"divisible by {factor}, got 64x{64 + factor // 2}$"):
        create_model(name, (64, 64 + factor // 2, 3))


def test_divisibility_message_example() -> None:
    with pytest.raises(ConfigError, match=r"^unet_w025 needs H and W divisible by 16, got 190x256$"):
        create_model("unet_w025", (190, 256, 3))


@pytest.mark.parametrize("name", [n for n in list_models() if n not in PRETRAINED_ENCODER_MODELS])
def test_encoder_weights_rejected_without_encoder(name: str) -> None:
    with pytest.raises(ConfigError) as err:
        create_model(name, (64, 64, 3), encoder_weights="resnet50v2_notop.h5")
    assert str(err.value) == (f"{name} has no pretrained encoder; --encoder-weights applies to "
                              "mnv2_unet, mnv2_unet_s16, resnet50v2_unet")


def test_head_is_float32_under_mixed_precision(image_batch: np.ndarray, small_shape) -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = create_model("unet_w025", small_shape)
        assert model.get_layer("enc1_conv1").compute_dtype == "float16"  # the policy did apply
        assert model.output.dtype == tf.float32
        out = model(image_batch, training=False)
        assert out.dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert keras.mixed_precision.global_policy().name == "float32"


def test_segnet_mixed_precision_masks(image_batch: np.ndarray, small_shape) -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = create_model("segnet_w025", small_shape)
        out = model(image_batch, training=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out.dtype == tf.float32 and out.shape == (1, *small_shape[:2], 1)
    assert np.isfinite(out.numpy()).all()
