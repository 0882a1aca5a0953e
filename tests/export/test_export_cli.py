"""``edgeseg export`` / ``edgeseg prune`` bad input: one line, non-zero exit, nothing half-written."""

import json
import shutil

import pytest
from _float32 import kernel_tolerance


@pytest.fixture(scope="module", name="tiny")
def tiny_fixture(tiny_run):
    return tiny_run("tiny", limit=8, max_steps=1)


@pytest.mark.parametrize("cmd", [["export"], ["prune"]])
def test_help(cmd, cli):
    result = cli(*cmd, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_export_cli_writes_and_gates(tiny, tmp_path, cli):
    result = cli("export", tiny.path, "--format", "tflite", "--limit", "4", "--out", tmp_path / "ex")
    assert result.exit_code == 0, result.output
    assert "tflite_fp32" in result.output and (tmp_path / "ex" / "gates.json").is_file()


def test_gate_failure_exits_3_and_marks_the_artifact(tiny, tmp_path, cli):
    gates = tmp_path / "g.toml"
    gates.write_text("[default]\nmax_dice_drop = -1.0\n")  # impossible: Dice would have to rise by 1
    result = cli("export", tiny.path, "--quant", "fp16", "--limit", "4", "--gates", gates, "--out", tmp_path / "ex")
    assert result.exit_code == 3, result.output
    manifest = json.loads((tmp_path / "ex" / "tflite_fp16" / "manifest.json").read_text())
    assert manifest["gate"]["passed"] is False  # kept, but marked failed


def test_run_without_weights(tiny, tmp_path, cli):
    bare = shutil.copytree(tiny.path, tmp_path / "bare", ignore=shutil.ignore_patterns("*.keras", "*.h5"))
    cli.assert_clean_error(cli("export", bare), "no checkpoint")


def test_unknown_recipe_lists_valid_ones(tiny, cli):
    cli.assert_clean_error(cli("export", tiny.path, "--quant", "int4"), "unknown quantization recipe 'int4'", "static_wi8_ai8")


def test_incompatible_options(tiny, cli):
    cli.assert_clean_error(cli("export", tiny.path, "--int8", "--quant", "fp16"), "--int8 is shorthand")
    cli.assert_clean_error(cli("export", tiny.path, "--quant", "fp16", "--io", "int8"), "--io int8 needs a full-integer recipe")
    cli.assert_clean_error(cli("export", tiny.path, "--format", "onnx", "--quant", "fp16"), "format onnx has no recipe fp16")
    assert not (tiny.path / "export").exists() or not any((tiny.path / "export").glob("*/manifest.json"))


def test_empty_calibration_folder(tiny, tmp_path, cli):
    (tmp_path / "calib").mkdir()
    cli.assert_clean_error(
        cli("export", tiny.path, "--quant", "static_wi8_ai8", "--calib-dir", tmp_path / "calib", "--out", tmp_path / "ex"),
        "calib", "no images",
    )
    assert not any((tmp_path / "ex").glob("*/model.*"))  # no half-written artifact


def test_corrupt_and_tampered_artifacts(tiny, tmp_path, sample_root, cli):
    result = cli("export", tiny.path, "--format", "tflite", "--format", "onnx", "--limit", "2", "--out", tmp_path / "ex")
    assert result.exit_code == 0, result.output
    for folder, name in (("tflite_fp32", "model.tflite"), ("onnx_fp32", "model.onnx")):
        art = tmp_path / "ex" / folder / name
        data = bytearray(art.read_bytes())
        data[len(data) // 2] ^= 0xFF
        art.write_bytes(bytes(data))  # one flipped byte: the manifest's sha256 no longer matches
        cli.assert_clean_error(cli("eval", art, "--data", tiny.path / "nope"), "does not match its manifest")
        foreign = tmp_path / f"foreign{art.suffix}"
        foreign.write_bytes(b"\x00" * 64)
        cli.assert_clean_error(cli("predict", foreign, sample_root / "test", tmp_path / f"out{art.suffix}"), foreign.name)


def test_prune_missing_run_and_bad_sparsity(tmp_path, tiny, cli):
    cli.assert_clean_error(cli("prune", tmp_path / "gone"), "gone")
    cli.assert_clean_error(cli("prune", tiny.path, "--sparsity", "1.5"), "sparsity")


def test_family_of_width_variants(tiny, tiny_run, cli):
    wide = tiny_run("wide", model="unet_w050", limit=8, max_steps=1)
    result = cli("export", tiny.path, wide.path, "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "Reference: the float unet_w050" in result.output
    assert (wide.path / "export" / "family.md").is_file()


def test_export_at_another_size_keeps_the_weights(cli, tiny, tmp_path):
    import numpy as np

    from edgeseg.artifact import read_manifest
    from edgeseg.runtime import load_runner

    out = tmp_path / "big"
    r = cli("export", tiny.path, "-f", "tflite", "-q", "fp32", "--size", "96x128", "--limit", "2", "--out", out)
    assert r.exit_code == 0, r.output
    m = read_manifest(out / "tflite_fp32" / "model.tflite")
    assert tuple(m.input_size) == (96, 128) and m.input.shape == (1, 96, 128, 3)
    runner = load_runner(out / "tflite_fp32" / "model.tflite")
    x = np.random.default_rng(0).random((1, 96, 128, 3), dtype=np.float32)
    from edgeseg.models import create_model

    same = create_model("unet_w025", (96, 128, 3))  # the same weights, built for the new size
    same.set_weights(load_runner(tiny.path).model.get_weights())
    reference = same(x).numpy()  # XNNPACK against Keras: the same sums in another order (tests/_float32.py)
    np.testing.assert_allclose(runner(x), reference, atol=kernel_tolerance(same, reference))
    cli.assert_clean_error(cli("export", tiny.path, "-f", "tflite", "-q", "fp32", "--size", "90x128", "--out", tmp_path / "bad"),
                           "90")
