"""The LiteRT runner: the Runner contract, integer IO, delegates/threads, and clean errors for
files that are not edgeseg segmenters. Real ISIC images, a tiny U-Net exported once per module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _float32 import kernel_tolerance
from edgeseg._keras import keras, tf
from edgeseg.config import Normalisation
from edgeseg.data.decode import read_image
from edgeseg.data.pairs import find_pairs
from edgeseg.data.pipeline import resize_image
from edgeseg.errors import ConfigError, DataError, RunError
from edgeseg.artifact import Manifest, TensorSpec, sha256_file, write_manifest
from edgeseg.export.tflite import write_tflite
from edgeseg.models import create_model
from edgeseg.quantize.recipes import RECIPES
from edgeseg.runtime import Runner, load_runner
from edgeseg.runtime.tflite_runner import TFLiteRunner, dequantize, load_tflite, quantize

SIZE = (64, 96)


@pytest.fixture(scope="module")
def images(sample_root: Path) -> np.ndarray:
    """4 real validation images, ``(4, 64, 96, 3)`` float32 in [0, 1]."""
    pairs = find_pairs(sample_root / "validation").pairs[:4]
    return np.stack([Normalisation().apply(resize_image(read_image(p.image), SIZE)) for p in pairs])


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(0)
    return create_model("unet_w025", (*SIZE, 3))


@pytest.fixture(scope="module")
def files(model: keras.Model, images: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``fp32`` and full-int8 ``uint8`` (uint8 IO) artifacts, each alone in its folder."""
    root = tmp_path_factory.mktemp("runner")
    out = {"fp32": root / "fp32" / "model.tflite", "uint8": root / "uint8" / "model.tflite"}
    write_tflite(model, out["fp32"], RECIPES.get("fp32"))
    write_tflite(model, out["uint8"], RECIPES.get("static_wi8_ai8"), io="uint8", calibration=images)
    return out


def test_runner_satisfies_the_runner_contract(files, model, images):
    runner = TFLiteRunner(files["fp32"], Normalisation())
    assert isinstance(runner, Runner)
    assert runner.name == "tflite" and runner.path == files["fp32"] and runner.input_size == SIZE
    assert runner.normalisation == Normalisation()
    y = runner(images)
    assert y.shape == (4, *SIZE, 1) and y.dtype == np.float32
    reference = model(images, training=False).numpy()
    # Keras (Eigen) against XNNPACK: the same sums in another order (tests/_float32.py).
    assert np.abs(y - reference).max() < kernel_tolerance(model, reference)
    assert runner(images[:0]).shape == (0, *SIZE, 1)  # an empty batch is not an error


def test_threads_and_the_builtin_kernels_give_the_same_answer(files, model, images):
    reference = TFLiteRunner(files["fp32"], Normalisation())(images[:2])
    for kwargs in ({"num_threads": 1}, {"num_threads": 2}, {"xnnpack": False}):
        y = TFLiteRunner(files["fp32"], Normalisation(), **kwargs)(images[:2])
        # XNNPACK splits work, not sums, across threads; its builtin kernels sum in another order.
        assert np.abs(y - reference).max() < kernel_tolerance(model, reference), kwargs


def test_uint8_io_is_fed_and_read_with_the_tensors_own_params(files, model, images):
    runner = TFLiteRunner(files["uint8"], Normalisation())
    src, dst = runner.input_spec, runner.output_spec
    assert (src.dtype, dst.dtype) == ("uint8", "uint8")
    # The calibrated input range: at most [0, 1] (these 4 images stop a little short of 1).
    assert 0 < src.scale <= 1 / 255 * 1.001 and src.zero_point == 0
    y = runner(images)
    assert y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1
    # Output steps are 1/256; a wrong scale or zero point would be off by far more.
    assert np.abs(y - model(images, training=False).numpy()).max() < 0.1


def test_quantize_rounds_and_clips_to_the_dtype_range():
    int8 = TensorSpec("x", (1, 2, 2, 3), "int8", scale=0.5, zero_point=-1)
    x = np.array([0.26, -100.0, 100.0, 0.75, -0.5], np.float32)
    # x / 0.5 = [0.52, -200, 200, 1.5, -1]; round (half to even) + zp, clipped to [-128, 127]
    np.testing.assert_array_equal(quantize(x, int8), np.array([0, -128, 127, 1, -2], np.int8))
    assert quantize(x, int8).dtype == np.int8
    np.testing.assert_allclose(dequantize(np.array([0, -128, 127], np.int8), int8), [0.5, -63.5, 64.0])

    uint8 = TensorSpec("x", (1, 2, 2, 3), "uint8", scale=1 / 255, zero_point=0)
    x = np.array([0.0, 1.0, 0.502, -0.1, 1.2], np.float32)
    np.testing.assert_array_equal(quantize(x, uint8), np.array([0, 255, 128, 0, 255], np.uint8))
    f32 = TensorSpec("x", (1,), "float32")
    assert quantize(x, f32) is not None and np.array_equal(quantize(x, f32), x)


def test_load_runner_picks_the_tflite_runner_by_suffix(files):
    runner = load_runner(files["fp32"])
    assert isinstance(runner, TFLiteRunner) and runner.normalisation == Normalisation()


def test_the_manifest_beside_the_file_gives_the_normalisation(files, tmp_path):
    import shutil

    path = tmp_path / "model.tflite"
    shutil.copy(files["fp32"], path)
    spec_in = TensorSpec("image", (1, *SIZE, 3), "float32")
    spec_out = TensorSpec("Identity", (1, *SIZE, 1), "float32")
    write_manifest(tmp_path, Manifest(format="tflite", recipe="fp32", file=path.name, sha256=sha256_file(path),
                                      size_bytes=path.stat().st_size, input=spec_in, output=spec_out,
                                      input_size=SIZE, normalisation={"scale": 2 / 255, "offset": -1.0},
                                      gate={"passed": True}))  # a complete (gated) artifact
    assert load_runner(path).normalisation == Normalisation(scale=2 / 255, offset=-1.0)
    # An explicit normalisation (a run dir's config) wins over the manifest.
    assert load_tflite(path, Normalisation()).normalisation == Normalisation()


def test_wrong_input_shape_and_bad_threads_are_refused(files, images):
    runner = TFLiteRunner(files["fp32"], Normalisation())
    with pytest.raises(DataError, match=r"takes \(N, 64, 96, 3\) input"):
        runner(images[:, :32])
    with pytest.raises(ConfigError, match="num_threads"):
        TFLiteRunner(files["fp32"], Normalisation(), num_threads=0)


def _write_bad(tmp_path: Path, files: dict[str, Path], kind: str) -> Path:
    path = tmp_path / f"{kind}.tflite"
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "truncated":
        data = files["fp32"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "header_only":
        path.write_bytes(files["fp32"].read_bytes()[:64])
    return path


@pytest.mark.parametrize("kind", ["random", "truncated", "empty", "header_only"])
def test_a_damaged_file_is_a_one_line_run_error_naming_it(kind, files, tmp_path):
    path = _write_bad(tmp_path, files, kind)
    with pytest.raises(RunError) as info:
        load_runner(path)
    message = str(info.value)
    assert str(path) in message and "not a loadable TFLite model" in message and "\n" not in message


def _foreign(tmp_path: Path, name: str, in_shape: tuple[int, ...], fn) -> Path:  # noqa: ANN001
    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec(in_shape, tf.float32))
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert())
    return path


@pytest.mark.parametrize(
    ("name", "in_shape", "fn", "problem"),
    [
        ("classifier", (1, 16), lambda x: tf.nn.softmax(x[:, :4]), r"its input is \(1, 16\), expected \(1, H, W, 3\)"),
        ("two_class", (1, 8, 8, 3), lambda x: tf.sigmoid(x[..., :2]), r"its output is \(1, 8, 8, 2\), expected \(1, 8, 8, 1\)"),
        ("gray", (1, 8, 8, 1), lambda x: tf.sigmoid(x), r"its input is \(1, 8, 8, 1\)"),
        ("batch4", (4, 8, 8, 3), lambda x: tf.sigmoid(x[..., :1]), r"its input is \(4, 8, 8, 3\)"),
    ],
)
def test_a_foreign_model_is_a_run_error_naming_the_problem(name, in_shape, fn, problem, tmp_path):
    path = _foreign(tmp_path, name, in_shape, fn)
    with pytest.raises(RunError, match=problem) as info:
        load_runner(path)
    assert str(path) in str(info.value) and "not an edgeseg segmenter" in str(info.value)


def test_missing_file_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="no such"):
        TFLiteRunner(tmp_path / "nope.tflite", Normalisation())


def test_the_cli_prints_one_line_for_a_damaged_model(files, tmp_path, sample_root, capsys):
    from edgeseg.cli import main

    path = _write_bad(tmp_path, files, "random")
    assert main(["eval", str(path), "--data", str(sample_root / "validation"), "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(path) in err and "Traceback" not in err and len(err.splitlines()) == 1
