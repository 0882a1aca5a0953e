"""Keras -> TFLite for every recipe x IO type, run with LiteRT on real ISIC images.

One tiny U-Net (64x96) is fitted for a few seconds on 8 real sample pairs, so its masks are
neither empty nor constant 0.5, and every artifact is converted once per module and shared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edgeseg._keras import keras, tf
from edgeseg.config import Normalisation
from edgeseg.errors import ConfigError
from edgeseg.export import tflite as tflite_module
from edgeseg.artifact import TensorSpec
from edgeseg.export.tflite import quantization_error_report, write_tflite
from edgeseg.models import create_model
from edgeseg.quantize.recipes import IO_TYPES, RECIPES
from edgeseg.runtime.tflite_runner import TFLiteRunner

WEIGHT_BYTES = {"float32": 4, "float16": 2, "int8": 1}
# Every recipe the float checkpoint can take, with every IO type it allows (from the registries,
# so a new recipe is tested automatically). QAT needs its own model: see the slow test below.
COMBOS = [
    (name, io)
    for name in RECIPES.names()
    if not RECIPES.get(name).qat
    for io in (IO_TYPES if RECIPES.get(name).integer_activations else ("float32",))
]
FLOAT_RECIPES = [name for name in RECIPES.names() if not RECIPES.get(name).integer_activations]


from _float32 import kernel_tolerance  # noqa: E402
from _realdata import SIZE, load_xy as _load, mask_dice as _dice  # noqa: E402


@pytest.fixture(scope="module")
def train_xy(sample_root: Path) -> tuple[np.ndarray, np.ndarray]:
    return _load(sample_root / "train", 8)


@pytest.fixture(scope="module")
def val_x(sample_root: Path) -> np.ndarray:
    return _load(sample_root / "validation", 4)[0]


@pytest.fixture(scope="module")
def calibration(train_xy: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return train_xy[0]


@pytest.fixture(scope="module")
def model(train_xy: tuple[np.ndarray, np.ndarray]) -> keras.Model:
    """unet_w025 at 64x96, fitted 16 short epochs (~10 s) so BN statistics and outputs are real."""
    keras.utils.set_random_seed(0)
    m = create_model("unet_w025", (*SIZE, 3))
    m.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    m.fit(*train_xy, batch_size=4, epochs=16, verbose=0)
    return m


@pytest.fixture(scope="module")
def keras_out(model: keras.Model, val_x: np.ndarray) -> np.ndarray:
    out = model(val_x, training=False).numpy()
    # Guards the test itself: agreement on a constant map or an empty mask would prove nothing.
    assert out.std() > 0.05 and 0.02 < (out > 0.5).mean() < 0.98
    return out


@pytest.fixture(scope="module")
def export(
    model: keras.Model, calibration: np.ndarray, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, str], tuple[Path, tuple[TensorSpec, TensorSpec]]]:
    """``export(recipe, io)``: the written file and its specs, converted once per module."""
    folder = tmp_path_factory.mktemp("tflite")
    cache: dict[tuple[str, str], tuple[Path, tuple[TensorSpec, TensorSpec]]] = {}

    def get(recipe: str, io: str) -> tuple[Path, tuple[TensorSpec, TensorSpec]]:
        if (recipe, io) not in cache:
            r = RECIPES.get(recipe)
            out = folder / f"{recipe}_{io}" / "model.tflite"
            specs = write_tflite(model, out, r, io=io, calibration=calibration if r.needs_calibration else None)
            cache[recipe, io] = (out, specs)
        return cache[recipe, io]

    return get


@pytest.fixture(scope="module")
def run(export: Callable, val_x: np.ndarray) -> Callable[[str, str], np.ndarray]:
    """``run(recipe, io)``: the LiteRT runner's probabilities on the 4 validation images."""
    cache: dict[tuple[str, str], np.ndarray] = {}

    def get(recipe: str, io: str) -> np.ndarray:
        if (recipe, io) not in cache:
            cache[recipe, io] = TFLiteRunner(export(recipe, io)[0], Normalisation())(val_x)
        return cache[recipe, io]

    return get


@pytest.mark.parametrize(("recipe", "io"), COMBOS)
def test_every_recipe_writes_a_model_with_weights_that_runs(recipe, io, model, export, run):
    path, (src, dst) = export(recipe, io)
    weights = RECIPES.get(recipe).weights
    # The weightless-model trap (STACK.md) writes ~60 KB; a real file holds every weight.
    assert path.stat().st_size > 0.9 * model.count_params() * WEIGHT_BYTES[weights]
    assert [p.name for p in path.parent.iterdir()] == ["model.tflite"]  # no temp file left behind
    assert src.shape == (1, *SIZE, 3) and dst.shape == (1, *SIZE, 1)
    assert src.dtype == dst.dtype == io
    if io == "float32":
        assert src.scale is None and dst.zero_point is None
    else:
        assert src.scale > 0 and dst.scale > 0 and isinstance(src.zero_point, int)
    assert (TFLiteRunner(path, Normalisation()).input_spec, TFLiteRunner(path, Normalisation()).output_spec) == (src, dst)

    y = run(recipe, io)
    assert y.shape == (4, *SIZE, 1) and y.dtype == np.float32
    assert np.isfinite(y).all() and y.min() >= 0.0 and y.max() <= 1.0


def test_fp32_matches_keras(run, model, keras_out):
    # The same sums in another order (tests/_float32.py), not a bound measured on one CPU.
    assert np.abs(run("fp32", "float32") - keras_out).max() < kernel_tolerance(model, keras_out)


def test_fp16_is_close_to_keras(run, keras_out):
    y = run("fp16", "float32")
    assert np.abs(y - keras_out).max() < 1e-2
    assert _dice(y, keras_out) > 0.99


@pytest.mark.parametrize(("recipe", "io"), [c for c in COMBOS if RECIPES.get(c[0]).weights == "int8"])
def test_int8_masks_agree_with_keras(recipe, io, run, keras_out):
    y = run(recipe, io)
    # Measured on this model: dynamic max 0.018 / Dice 0.986, full int8 max 0.022 / Dice 0.993.
    assert np.abs(y - keras_out).max() < 0.25
    assert _dice(y, keras_out) >= 0.9


@pytest.mark.parametrize("io", [t for t in IO_TYPES if t != "float32"])
def test_integer_io_matches_the_float_io_int8_model(io, run, export):
    """Same calibration, same body: only the runner's own quantize/dequantize differs, so the
    outputs agree to about one output step (1/256)."""
    _, (src, dst) = export("static_wi8_ai8", io)
    assert 0 < src.scale <= 1 / 255 * 1.001  # the calibrated input range, within [0, 1]
    assert dst.scale == pytest.approx(1 / 256)  # the LOGISTIC output's fixed range
    diff = np.abs(run("static_wi8_ai8", io) - run("static_wi8_ai8", "float32"))
    assert diff.max() <= 1 / 256 + 1e-6 and diff.mean() < 1e-3


def test_sizes_shrink_as_the_recipes_promise(export):
    size = {r: export(r, "float32")[0].stat().st_size for r in ("fp32", "fp16", "dynamic_wi8_afp32", "static_wi8_ai8")}
    assert 0.45 < size["fp16"] / size["fp32"] < 0.55
    assert 0.22 < size["dynamic_wi8_afp32"] / size["fp32"] < 0.30
    assert 0.22 < size["static_wi8_ai8"] / size["fp32"] < 0.30


@pytest.fixture(scope="module")
def report(model: keras.Model, calibration: np.ndarray) -> list[tuple[str, float]]:
    return quantization_error_report(model, calibration)


def _tensor_dtypes(path: Path) -> dict[str, str]:
    from ai_edge_litert.interpreter import Interpreter

    return {t["name"]: np.dtype(t["dtype"]).name for t in Interpreter(model_path=str(path)).get_tensor_details()}


def test_error_report_ranks_ops_worst_first(report):
    errors = [e for _, e in report]
    assert len(report) > 10 and errors == sorted(errors, reverse=True) and all(np.isfinite(errors))
    # Rounding alone costs 1/sqrt(12) ~ 0.29 quantization steps (the sigmoid output shows it);
    # the worst op must be above that and the exact copies (pool, concat) at 0 up to float32
    # rounding: the debugger dequantizes |q - zero_point| <= 255 steps, each product exact to
    # half an ulp (eps/2 relative), so an exact copy differs by at most 255 * eps / 2 steps. The
    # kernels that round it differ by ISA (1.2e-6 on AVX-512, 0 on AVX2): bound, don't measure.
    rounding = 255 * float(np.finfo(np.float32).eps) / 2
    assert errors[0] > 0.3 and errors[-1] == pytest.approx(0.0, abs=rounding)


def test_denylisting_the_worst_ops_keeps_them_in_float(model, calibration, report, export, val_x, keras_out, tmp_path):
    worst = [name for name, _ in report[:2]]
    out = tmp_path / "selective.tflite"
    src, dst = write_tflite(model, out, RECIPES.get("static_wi8_ai8"), calibration=calibration, denylisted_nodes=worst)
    assert src.dtype == dst.dtype == "float32"
    plain = export("static_wi8_ai8", "float32")[0]
    assert [_tensor_dtypes(out)[name] for name in worst] == ["float32", "float32"]
    assert [_tensor_dtypes(plain).get(name) for name in worst] == ["int8", "int8"]
    assert out.stat().st_size > plain.stat().st_size  # the float convs carry float weights

    y = TFLiteRunner(out, Normalisation())(val_x)
    assert y.shape == (4, *SIZE, 1) and np.isfinite(y).all() and 0 <= y.min() and y.max() <= 1
    assert _dice(y, keras_out) >= 0.9


def test_denylisting_an_inner_op_keeps_integer_io(model, calibration, report, val_x, keras_out, tmp_path):
    inner = next(name for name, _ in report if "enc2_conv1/" in name)
    out = tmp_path / "selective_int8.tflite"
    src, dst = write_tflite(model, out, RECIPES.get("static_wi8_ai8"), io="uint8", calibration=calibration,
                            denylisted_nodes=[inner])
    assert src.dtype == dst.dtype == "uint8" and _tensor_dtypes(out)[inner] == "float32"
    assert _dice(TFLiteRunner(out, Normalisation())(val_x), keras_out) >= 0.9


def test_integer_io_with_the_first_op_in_float_is_refused(model, calibration, report, tmp_path):
    """The converter would quietly keep float IO here; asking for int8 IO must not get float."""
    first = next(name for name, _ in report if "enc1_conv1/" in name)
    with pytest.raises(ConfigError, match="io int8 needs the model's first and last ops quantized"):
        write_tflite(model, tmp_path / "m.tflite", RECIPES.get("static_wi8_ai8"), io="int8", calibration=calibration,
                     denylisted_nodes=[first])
    assert not (tmp_path / "m.tflite").exists()


def test_unknown_denylisted_node_is_refused(model, calibration, tmp_path):
    with pytest.raises(ConfigError, match="quantization_error_report"):
        write_tflite(model, tmp_path / "m.tflite", RECIPES.get("static_wi8_ai8"), calibration=calibration,
                     denylisted_nodes=["no/such/op"])
    assert not (tmp_path / "m.tflite").exists()


@pytest.fixture
def no_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any conversion work fails the test: option errors must come first."""

    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("conversion started before the options were checked")

    monkeypatch.setattr(tflite_module, "_converter", boom)
    monkeypatch.setattr(tf.lite.TFLiteConverter, "from_concrete_functions", boom)


@pytest.mark.parametrize("recipe", FLOAT_RECIPES)
@pytest.mark.parametrize("io", ["int8", "uint8"])
def test_integer_io_with_a_float_recipe_is_refused_before_conversion(recipe, io, no_conversion, model, tmp_path):
    with pytest.raises(ConfigError, match=f"io {io} needs an integer recipe .*static_wi8_ai8.*; {recipe} computes in float"):
        write_tflite(model, tmp_path / "m.tflite", RECIPES.get(recipe), io=io)
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.parametrize(
    ("recipe", "kwargs", "message"),
    [
        ("static_wi8_ai8", {}, "needs calibration images"),
        ("static_wi8_ai8", {"io": "float16"}, "unknown io type 'float16'"),
        ("fp32", {"calibration": np.zeros((1, *SIZE, 3), np.float32)}, "takes no calibration"),
        ("fp32", {"denylisted_nodes": ["x"]}, "only apply to static_wi8_ai8"),
        ("static_wi8_ai8", {"calibration": np.zeros((2, 32, 32, 3), np.float32)}, "calibration images are 32x32"),
        ("static_wi8_ai8", {"calibration": np.zeros((0, *SIZE, 3), np.float32)}, r"N >= 1"),
        ("qat_wi8_ai8", {}, "needs the quantization-aware model"),
    ],
)
def test_bad_options_are_refused_before_conversion(recipe, kwargs, message, no_conversion, model, tmp_path):
    with pytest.raises(ConfigError, match=message):
        write_tflite(model, tmp_path / "m.tflite", RECIPES.get(recipe), **kwargs)
    assert not (tmp_path / "m.tflite").exists()


@pytest.mark.slow
def test_qat_model_converts_to_full_int8(model, train_xy, val_x, tmp_path):
    """tfmot quantization-aware model (a couple of fine-tune steps so its ranges are learned)
    -> full int8 with int8 IO; it matches the QAT Keras model (STACK.md measured 0.023)."""
    import tensorflow_model_optimization as tfmot

    keras.utils.set_random_seed(0)
    qat = tfmot.quantization.keras.quantize_model(model)
    qat.compile(keras.optimizers.Adam(1e-4), "binary_crossentropy")
    qat.fit(*train_xy, batch_size=4, epochs=2, verbose=0)
    reference = qat(val_x, training=False).numpy()
    for io in ("float32", "int8"):
        out = tmp_path / f"qat_{io}.tflite"
        src, _ = write_tflite(qat, out, RECIPES.get("qat_wi8_ai8"), io=io)
        assert src.dtype == io
        y = TFLiteRunner(out, Normalisation())(val_x)
        assert np.abs(y - reference).max() < 0.1
        assert _dice(y, reference) >= 0.9
