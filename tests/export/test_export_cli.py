"""``edgeseg export`` / ``edgeseg prune`` bad input: one line, non-zero exit, nothing half-written."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from edgeseg.cli import app

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _assert_clean_error(result, *needles):
    assert result.exit_code != 0, result.output
    err = result.stderr.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "Traceback" not in result.output
    for n in needles:
        assert str(n) in err, (n, err)


@pytest.fixture(scope="module")
def tiny_run(sample_root, tmp_path_factory):
    from edgeseg.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from edgeseg.train import train

    cfg = RunConfig(data=DataConfig(root=str(sample_root), height=64, width=96, batch_size=4, limit=8),
                    model=ModelConfig(name="unet_w025"), train=TrainConfig(epochs=1, max_steps=1))
    return train(cfg, runs_root=tmp_path_factory.mktemp("runs"), name="tiny")


@pytest.mark.parametrize("cmd", [["export"], ["prune"]])
def test_help(cmd):
    result = _run(*cmd, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_export_cli_writes_and_gates(tiny_run, tmp_path):
    result = _run("export", tiny_run.path, "--format", "tflite", "--limit", "4", "--out", tmp_path / "ex")
    assert result.exit_code == 0, result.output
    assert "tflite_fp32" in result.output and (tmp_path / "ex" / "gates.json").is_file()


def test_gate_failure_exits_3_and_marks_the_artifact(tiny_run, tmp_path):
    gates = tmp_path / "g.toml"
    gates.write_text("[default]\nmax_dice_drop = -1.0\n")  # impossible: Dice would have to rise by 1
    result = _run("export", tiny_run.path, "--quant", "fp16", "--limit", "4", "--gates", gates, "--out", tmp_path / "ex")
    assert result.exit_code == 3, result.output
    manifest = json.loads((tmp_path / "ex" / "tflite_fp16" / "manifest.json").read_text())
    assert manifest["gate"]["passed"] is False  # kept, but marked failed


def test_run_without_weights(tiny_run, tmp_path):
    bare = shutil.copytree(tiny_run.path, tmp_path / "bare", ignore=shutil.ignore_patterns("*.keras", "*.h5"))
    _assert_clean_error(_run("export", bare), "no checkpoint")


def test_unknown_recipe_lists_valid_ones(tiny_run):
    _assert_clean_error(_run("export", tiny_run.path, "--quant", "int4"), "unknown quantization recipe 'int4'", "static_wi8_ai8")


def test_incompatible_options(tiny_run):
    _assert_clean_error(_run("export", tiny_run.path, "--int8", "--quant", "fp16"), "--int8 is shorthand")
    _assert_clean_error(_run("export", tiny_run.path, "--quant", "fp16", "--io", "int8"), "--io int8 needs a full-integer recipe")
    _assert_clean_error(_run("export", tiny_run.path, "--format", "onnx", "--quant", "fp16"), "format onnx has no recipe fp16")
    assert not (tiny_run.path / "export").exists() or not any((tiny_run.path / "export").glob("*/manifest.json"))


def test_empty_calibration_folder(tiny_run, tmp_path):
    (tmp_path / "calib").mkdir()
    _assert_clean_error(
        _run("export", tiny_run.path, "--quant", "static_wi8_ai8", "--calib-dir", tmp_path / "calib", "--out", tmp_path / "ex"),
        "calib", "no images",
    )
    assert not any((tmp_path / "ex").glob("*/model.*"))  # no half-written artifact


def test_corrupt_and_tampered_artifacts(tiny_run, tmp_path, sample_root):
    result = _run("export", tiny_run.path, "--format", "tflite", "--format", "onnx", "--limit", "2", "--out", tmp_path / "ex")
    assert result.exit_code == 0, result.output
    for folder, name in (("tflite_fp32", "model.tflite"), ("onnx_fp32", "model.onnx")):
        art = tmp_path / "ex" / folder / name
        data = bytearray(art.read_bytes())
        data[len(data) // 2] ^= 0xFF
        art.write_bytes(bytes(data))  # one flipped byte: the manifest's sha256 no longer matches
        _assert_clean_error(_run("eval", art, "--data", tiny_run.path / "nope"), "does not match its manifest")
        foreign = tmp_path / f"foreign{art.suffix}"
        foreign.write_bytes(b"\x00" * 64)
        _assert_clean_error(_run("predict", foreign, sample_root / "test", tmp_path / f"out{art.suffix}"), foreign.name)


def test_prune_missing_run_and_bad_sparsity(tmp_path, tiny_run):
    _assert_clean_error(_run("prune", tmp_path / "gone"), "gone")
    _assert_clean_error(_run("prune", tiny_run.path, "--sparsity", "1.5"), "sparsity")


def test_family_of_width_variants(tiny_run, sample_root, tmp_path):
    from edgeseg.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from edgeseg.train import train

    wide = train(RunConfig(data=DataConfig(root=str(sample_root), height=64, width=96, batch_size=4, limit=8),
                           model=ModelConfig(name="unet_w050"), train=TrainConfig(epochs=1, max_steps=1)),
                 runs_root=tmp_path, name="wide")
    result = _run("export", tiny_run.path, wide.path, "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "Reference: the float unet_w050" in result.output
    assert (wide.path / "export" / "family.md").is_file()
