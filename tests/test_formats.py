"""The one format table: every layer's formats are rows of it, and suffixes resolve through it."""

import importlib

import pytest

from edgeseg.formats import MODEL_FORMATS, format_of, suffixes


@pytest.mark.parametrize("name", MODEL_FORMATS.names())
def test_every_format_names_a_loader_that_exists(name):
    module, fn = MODEL_FORMATS.get(name).loader.split(":")
    assert callable(getattr(importlib.import_module(module), fn))


def test_export_and_bench_formats_are_rows_of_the_table():
    from edgeseg.bench.runtimes import BENCH_RUNTIMES
    from edgeseg.export.formats import FORMATS

    assert set(FORMATS.names()) == set(MODEL_FORMATS.names())
    assert {n: FORMATS.get(n).filename for n in FORMATS} == {
        "keras": "model.keras", "onnx": "model.onnx", "savedmodel": "model.savedmodel", "tflite": "model.tflite"}
    assert {s for n in BENCH_RUNTIMES for s in BENCH_RUNTIMES.get(n).suffixes} <= set(suffixes())


def test_format_of_a_path():
    assert format_of("export/a/model.TFLite").name == "tflite"
    assert format_of("runs/x/model.savedmodel").name == "savedmodel"
    assert format_of("runs/unet_w025") is None and format_of("notes.txt") is None
    assert suffixes("tflite", "onnx") == (".tflite", ".onnx")
    assert [n for n in MODEL_FORMATS if MODEL_FORMATS.get(n).on_device] == ["onnx", "tflite"]
