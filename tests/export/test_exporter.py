"""Export end to end on a tiny real run: artifacts, manifests, the gate, and the int8 fallback."""

import json

import pytest

from edgeseg.errors import ConfigError, RunError
from edgeseg.artifact import read_manifest, sha256_file
from edgeseg.export.exporter import ExportConfig, plan_targets
from edgeseg.pipeline import export_run


@pytest.fixture(scope="module", name="tiny")
def tiny_fixture(tiny_run):
    return tiny_run("tiny", epochs=2, max_steps=3)


def test_float_artifacts_pass_their_gate(tiny):
    cfg = ExportConfig(formats=("tflite", "onnx"), recipes=("fp32",), limit=6)
    report = export_run(tiny.path, cfg)
    assert report.passed and report.folder == tiny.path / "export"
    labels = [r.artifact for r in report.results]
    assert labels == ["tflite_fp32", "onnx_fp32"]
    for r in report.results:
        assert r.dice_drop == pytest.approx(0.0, abs=1e-3) and r.mask_agreement > 0.99
        folder = report.folder / r.artifact
        model_file = next(folder.glob("model.*"))
        m = read_manifest(model_file)
        assert m.sha256 == sha256_file(model_file) and m.size_bytes == model_file.stat().st_size
        assert m.gate["passed"] is True and m.gate["split"] == "validation"
        assert m.input_size == (64, 96) and m.params > 1_900_000 and m.macs > 0
        assert m.source_run == str(tiny.path) and m.config_hash and m.normalisation["scale"] == pytest.approx(1 / 255)
    gates = json.loads((report.folder / "gates.json").read_text())
    assert gates["passed"] and len(gates["results"]) == 2
    assert "| tflite_fp32 |" in (report.folder / "gates.md").read_text()
    # A second export never overwrites the first.
    again = export_run(tiny.path, ExportConfig(formats=("tflite",), recipes=("fp32",), limit=2))
    assert again.folder.name == "export-2"


def test_int8_with_calibration_record(tiny, tmp_path):
    cfg = ExportConfig(formats=("tflite",), recipes=("static_wi8_ai8",), calib_n=8, limit=6,
                       max_dice_drop=1.0, fallback=False)
    with pytest.warns(UserWarning, match="calibration images"):
        report = export_run(tiny.path, cfg, out=tmp_path / "ex")
    (r,) = report.results
    assert r.artifact == "tflite_static_wi8_ai8_int8io" and r.passed
    m = read_manifest(tmp_path / "ex" / r.artifact / "model.tflite")
    assert m.input.dtype == "int8" and m.input.scale and m.calibration["n"] == 8
    listed = json.loads((tmp_path / "ex" / "calibration.json").read_text())["images"]
    assert len(listed) == 8 and all("/train/" in p for p in listed)


def test_fallback_runs_in_order_and_is_reported(tiny, tmp_path):
    # A budget no artifact can meet (Dice would have to rise by a full point) forces the whole chain.
    gates = tmp_path / "impossible.toml"
    gates.write_text("[default]\nmax_dice_drop = -1.0\n")
    cfg = ExportConfig(formats=("onnx",), recipes=("static_wi8_ai8",), calib_n=4, limit=4, gates_file=str(gates),
                       qat_epochs=1, qat_max_steps=1)
    with pytest.warns(UserWarning):
        report = export_run(tiny.path, cfg, out=tmp_path / "fb")
    (fb,) = report.fallbacks
    rank = {"calibration": 0, "options": 1, "selective": 2, "qat": 3}
    ranks = [rank[s["strategy"].split(":")[0].split(" ")[0]] for s in fb["steps"]]
    assert ranks[0] == 0 and ranks == sorted(ranks)  # calibration, options, selective, then QAT
    (weights8,) = [s for s in fb["steps"] if s["strategy"] == "options:weights8"]
    assert read_manifest(tmp_path / "fb" / weights8["artifact"] / "model.onnx").export_config["options"]["onnx_weight_bits"] == 8
    assert "saturate" in weights8["note"]
    passed = [s.get("passed") for s in fb["steps"]]
    assert True not in passed[:-1]  # the chain stops at the first option within budget
    assert fb["chosen"] is None and not report.passed
    assert [s["strategy"].split(":")[0].split(" ")[0] for s in fb["steps"]][-1] == "qat"  # QAT was the last resort
    assert any(s["strategy"].startswith("selective") and s["artifact"] for s in fb["steps"])
    # Every attempt is on disk, gated, and marked in its manifest.
    for step in fb["steps"]:
        if step["artifact"]:
            m = read_manifest(tmp_path / "fb" / step["artifact"] / "model.onnx")
            assert m.gate["passed"] == step["passed"]
    assert "Accuracy-aware fallback" in (tmp_path / "fb" / "gates.md").read_text()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"formats": ("onnx",), "recipes": ("fp16",)}, "format onnx has no recipe fp16"),
        ({"formats": ("tflite",), "recipes": ("fp16",), "io": "int8"}, "--io int8 needs a full-integer recipe"),
        ({"recipes": ("int4",)}, "unknown quantization recipe 'int4'"),
        ({"calib_method": "magic"}, "unknown calibration method"),
        ({"formats": ("coreml",)}, "unknown export format"),
    ],
)
def test_incompatible_options_fail_before_work(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ExportConfig(**kwargs)


def test_plan_targets_and_missing_run(tmp_path):
    labels = [t.label for t in plan_targets(ExportConfig(formats=("tflite", "onnx"), recipes=("fp32", "static_wi8_ai8"), io="uint8"))]
    assert labels == ["tflite_fp32", "tflite_static_wi8_ai8_uint8io", "onnx_fp32", "onnx_static_wi8_ai8"]
    with pytest.raises(RunError, match="no such run"):
        export_run(tmp_path / "missing", ExportConfig())


def test_savedmodel_artifact_runs_and_passes(tiny, tmp_path):
    report = export_run(tiny.path, ExportConfig(formats=("savedmodel",), recipes=("fp32",), limit=3), out=tmp_path / "sm")
    (r,) = report.results
    assert r.artifact == "savedmodel_fp32" and r.passed and r.mask_agreement > 0.99
    m = read_manifest(tmp_path / "sm" / "savedmodel_fp32" / "model.savedmodel")
    assert m.sha256 == sha256_file(tmp_path / "sm" / "savedmodel_fp32" / "model.savedmodel")


def test_golden_vectors_reproduce_through_the_runner(tiny, tmp_path):
    import numpy as np

    from edgeseg.export.golden import read_golden
    from edgeseg.runtime import load_runner
    from edgeseg.screen.frame import frame_mask, preprocess_frame
    from edgeseg.screen.hints import measures, screening_hints

    report = export_run(tiny.path, ExportConfig(formats=("tflite",), recipes=("fp32",), limit=2), out=tmp_path / "g")
    art = tmp_path / "g" / report.results[0].artifact
    g = read_golden(art)
    runner = load_runner(art / "model.tflite")
    manifest = read_manifest(art / "model.tflite")
    assert manifest.postprocess["threshold"] == 0.5 and manifest.hints == g["hint_config"]
    assert g["input_array"].shape == (1, 64, 96, 3) and g["image_array"].shape == (192, 256, 3)
    x, small, box = preprocess_frame(g["image_array"], runner.input_size, runner.normalisation)
    np.testing.assert_array_equal(x, g["input_array"])
    assert box.__dict__ == g["crop_box"]
    # The file, the runtime and the CPU that wrote the golden output: the same arithmetic (XNNPACK
    # splits work, never sums, across threads), so it replays bit for bit.
    np.testing.assert_array_equal(runner(g["input_array"]), g["output_array"])
    mask, _ = frame_mask(g["output_array"][0, ..., 0], box, g["image_array"].shape[:2])
    np.testing.assert_array_equal(mask, g["mask_array"])
    assert g["mask"]["area_fraction"] == mask.mean()
    m = measures(small, g["output_array"][0, ..., 0], 0.5)
    assert m == g["measures"] and screening_hints(m) == g["hints"]
