"""Quantization-aware training with real tfmot on tiny real models and real images."""

import collections
import json

import numpy as np
import pytest

from edgeseg._keras import keras, tf
from edgeseg.config import RunConfig
from edgeseg.errors import ConfigError, RunError
from edgeseg.models import MaxUnpool, PoolIndexMask, create_model
from edgeseg.quantize.qat import (
    QATConfig,
    is_quantize_aware,
    load_qat_model,
    qat,
    quantize_aware,
    quantize_plan,
)


def _to_int8_tflite(model):
    """The QAT model -> TFLite with Optimize.DEFAULT (fake-quant ranges become int8 tensors)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def _run_tflite(flatbuffer, x):
    """Run one (1, H, W, 3) float32 batch; returns (output, Counter of (op, output dtype))."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = collections.Counter(
        (op["op_name"], tensors[op["outputs"][0]]["dtype"].__name__) for op in interpreter._get_ops_details()
    )
    return interpreter.get_tensor(out["index"]), ops


@pytest.fixture(scope="module")
def qat_run(float_run, digest):
    before = digest(float_run.path)
    run = qat(float_run.path, QATConfig(epochs=1, max_steps=2), runs_root=float_run.path.parent)
    return run, before


def test_qat_run_is_new_and_records_its_plan(qat_run, float_run, digest):
    run, before = qat_run
    assert run.path.name == "float-qat" and digest(float_run.path) == before  # source untouched
    record = json.loads((run.path / "qat.json").read_text())
    assert record["source"] == str(float_run.path.resolve())  # a run path, as the exporter reads it
    assert record["source_model_sha256"] == before["checkpoints/best.keras"]
    assert QATConfig(**record["qat"]) == QATConfig(epochs=1, max_steps=2)
    layers = record["layers"]
    assert layers["kept_float"] == {}  # the U-Net is fully quantized, and says so
    assert set(layers["explicit"]) == {"head"}  # the sigmoid: tfmot would leave it unquantized
    assert {"dec1_upconv", "dec1_concat", "enc1_bn1"} <= set(layers["tfmot"])
    dice = record["validation_dice"]
    assert 0 <= dice["before"] <= 1 and 0 <= dice["after"] <= 1
    assert RunConfig.load(run.path / "config.json").train.mixed_precision == "off"


def test_qat_model_converts_to_int8_and_runs_on_a_real_image(qat_run, sample_root):
    from edgeseg.data.decode import read_pair
    from edgeseg.data.pairs import find_splits
    from edgeseg.data.pipeline import resize_image

    run, _ = qat_run
    model = load_qat_model(run.path / "checkpoints" / "best.keras")
    assert is_quantize_aware(model)
    assert sum(type(layer).__name__ == "QuantizeWrapperV2" for layer in model.layers) > 40

    image, _ = read_pair(find_splits(sample_root)["validation"].pairs[0])
    x = run.config().data.normalisation.apply(resize_image(image, (64, 96)))[None]
    y, ops = _run_tflite(_to_int8_tflite(model), x)
    assert y.shape == (1, 64, 96, 1) and y.dtype == np.float32
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert ops[("CONV_2D", "int8")] == 19 and ops[("TRANSPOSE_CONV", "int8")] == 4
    assert ops[("LOGISTIC", "int8")] == 1 and ops[("CONCATENATION", "int8")] == 4
    # The Keras QAT model already emulates the int8 arithmetic.
    expected = model(x, training=False).numpy()
    assert np.abs(y - expected).max() < 0.1


@keras.utils.register_keras_serializable(package="edgeseg_test")
class Square(keras.layers.Layer):
    """A custom layer no rule knows: it must be kept float, on purpose and on the record."""

    def call(self, x):
        return x * x


def _zoo():
    """Every layer kind that tfmot refuses somewhere in our models, in one tiny graph."""
    inp = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="rescale")(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c1")(x)
    x = keras.layers.BatchNormalization(name="c1_bn")(x)  # folded by tfmot
    x = keras.layers.ReLU(name="c1_relu")(x)
    pooled = keras.layers.MaxPooling2D(2, name="pool")(x)
    mask = PoolIndexMask(2, name="mask")([x, pooled])
    y = keras.layers.Conv2D(8, 3, padding="same", name="c2")(pooled)
    y = MaxUnpool(2, name="unpool")([y, mask])
    u = keras.layers.Conv2DTranspose(8, 2, strides=2, name="up")(pooled)
    u = keras.layers.BatchNormalization(name="up_bn")(u)  # not folded: after a transposed conv
    u = Square(name="square")(u)
    x = keras.layers.Concatenate(name="concat")([y, u])
    x = keras.layers.Conv2D(1, 1, name="head_conv")(x)
    out = keras.layers.Activation("sigmoid", dtype="float32", name="head")(x)
    return keras.Model(inp, out)


def test_explicit_configs_for_what_tfmot_refuses(tmp_path):
    import tensorflow_model_optimization as tfmot

    model = _zoo()
    with pytest.raises(RuntimeError, match="not supported"):  # what we are working around
        tfmot.quantization.keras.quantize_model(model)

    plan = quantize_plan(model)
    how = {name: p.how for name, p in plan.items()}
    assert {n for n, h in how.items() if h == "explicit"} == {"rescale", "mask", "unpool", "up_bn", "head"}
    assert how["square"] == "float" and "kept float" in plan["square"].reason
    assert how["c1_bn"] == how["concat"] == how["up"] == "tfmot"

    q = quantize_aware(model)
    wrapped = {layer.layer.name for layer in q.layers if hasattr(layer, "quantize_config")}
    assert {"rescale", "mask", "unpool", "up_bn", "head", "c1", "up", "concat"} <= wrapped
    assert "square" not in wrapped and "square" in {layer.name for layer in q.layers}

    x = np.random.default_rng(0).random((2, 32, 32, 3), np.float32)
    q(x, training=True)  # let the moving-average ranges see data
    q.save(tmp_path / "zoo.keras")
    loaded = load_qat_model(tmp_path / "zoo.keras")
    np.testing.assert_array_equal(loaded(x, training=False).numpy(), q(x, training=False).numpy())

    y, ops = _run_tflite(_to_int8_tflite(loaded), x[:1])
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert ops[("CONV_2D", "int8")] >= 2 and ops[("TRANSPOSE_CONV", "int8")] == 1
    assert ops[("MUL", "float32")] >= 1  # the float island around `square`


def test_errors(float_run, tmp_path):
    with pytest.raises(RunError, match="no such run directory"):
        qat(tmp_path / "nope", QATConfig(), runs_root=tmp_path)
    with pytest.raises(RunError, match="no such QAT model file"):
        load_qat_model(tmp_path / "nope.keras")
    for kwargs in ({"epochs": 0}, {"learning_rate": 0}, {"max_steps": 0}):
        with pytest.raises(ConfigError):
            QATConfig(**kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["segnet_w025", "resnet50v2_unet"])
def test_other_models_quantize_and_convert(name):
    model = create_model(name, (64, 96, 3))
    plan = quantize_plan(model)
    assert not [n for n, p in plan.items() if p.how == "float"]
    explicit = {type(model.get_layer(n)).__name__ for n, p in plan.items() if p.how == "explicit"}
    assert explicit == ({"PoolIndexMask", "MaxUnpool", "Activation"} if name.startswith("segnet")
                        else {"Rescaling", "BatchNormalization", "Activation"})
    q = quantize_aware(model)
    x = np.random.default_rng(0).random((2, 64, 96, 3), np.float32)
    q(x, training=True)
    y, ops = _run_tflite(_to_int8_tflite(q), x[:1])
    assert 0.0 <= y.min() and y.max() <= 1.0 and ops[("CONV_2D", "int8")] > 10


@pytest.mark.slow
def test_resume_continues_a_qat_run(qat_run, tmp_path):
    import shutil

    from edgeseg.finetune import resume

    run, _ = qat_run
    path = shutil.copytree(run.path, tmp_path / "qat", symlinks=True)
    resume(path, epochs=2)  # last.keras holds the fake-quant ranges and Adam's moments
    assert json.loads((path / "state.json").read_text())["epoch"] == 2
    assert "after" in json.loads((path / "qat.json").read_text())["validation_dice"]
    assert is_quantize_aware(load_qat_model(path / "checkpoints" / "last.keras", compile=True))
