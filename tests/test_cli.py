"""The command line: help, the happy path, and every bad input ending in one clear line."""

import json

import pytest
from PIL import Image

from edgeseg.cli import main


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from edgeseg.models import create_model

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    create_model("unet_w025", (64, 96, 3)).save(path)
    return path


@pytest.fixture()
def small_data(copy_pairs, tmp_path):
    """A copy of 6 real validation pairs in the generic layout, free to corrupt."""
    return copy_pairs(tmp_path / "data")


@pytest.mark.parametrize("cmd", [[], ["train"], ["eval"], ["predict"], ["data"], ["models"]])
def test_help(cmd, cli):
    result = cli(*cmd, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_data_and_models_commands(sample_root, cli):
    result = cli("data", sample_root)
    assert result.exit_code == 0
    assert "48 pairs" in result.output and "12 pairs" in result.output
    result = cli("models")
    assert result.exit_code == 0 and "unet_w025" in result.output and "resnet50v2_unet" in result.output


def test_eval_and_predict_happy_path(model_file, small_data, tmp_path, cli):
    result = cli("eval", model_file, "--data", small_data, "--out", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert "thresholded_jaccard" in result.output and (tmp_path / "ev" / "metrics.json").is_file()
    result = cli("eval", model_file, "--data", small_data, "--out", tmp_path / "ev3", "--worst", "3")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ev3" / "worst.png").stat().st_size > 10_000
    result = cli("eval", model_file, "--data", small_data, "--out", tmp_path / "ev2", "--tta", "hv")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ev2" / "metrics.json").read_text())["tta"] == "hv"
    result = cli("predict", model_file, small_data, tmp_path / "pred")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "pred").glob("*_mask.png"))) == 6


# --- bad input: one line naming the thing, a non-zero exit, no traceback ----------------------


def test_wrong_path(tmp_path, cli):
    cli.assert_clean_error(cli("train", "--data", tmp_path / "nope", "--project", tmp_path / "runs"), "nope", "no such folder")


def test_empty_folder(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    cli.assert_clean_error(cli("train", "--data", tmp_path / "empty", "--project", tmp_path / "runs"), "empty", "expected one of")


def test_unknown_model(sample_root, tmp_path, cli):
    cli.assert_clean_error(cli("train", "--model", "unet_w03", "--project", tmp_path), "unknown model 'unet_w03'", "unet_w025")


def test_unknown_loss(tmp_path, cli):
    cli.assert_clean_error(cli("train", "--loss", "dicey", "--project", tmp_path), "unknown loss 'dicey'", "bce_dice")


def test_non_image_file(small_data, tmp_path, cli):
    bad = small_data / "images" / "isic2017_validation_0001.jpg"
    bad.write_text("this is not a JPEG")
    cli.assert_clean_error(cli("train", "--data", small_data, "--project", tmp_path / "runs"), bad.name, "not a readable image")
    assert not (tmp_path / "runs").exists()  # nothing was created for a run that could not start


def test_truncated_jpeg(small_data, tmp_path, cli):
    bad = small_data / "images" / "isic2017_validation_0001.jpg"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    cli.assert_clean_error(cli("train", "--data", small_data, "--project", tmp_path / "runs"), bad.name, "truncated")


def test_size_mismatch(small_data, tmp_path, cli):
    mask = small_data / "masks" / "isic2017_validation_0001.png"
    Image.open(mask).resize((128, 96)).save(mask)
    cli.assert_clean_error(
        cli("train", "--data", small_data, "--project", tmp_path / "runs"), mask.name, "isic2017_validation_0001.jpg"
    )


def test_resume_of_missing_run(tmp_path, cli):
    cli.assert_clean_error(cli("train", "--resume", tmp_path / "gone"), "gone", "no such run directory")


def test_resume_rejects_new_options(tmp_path, cli):
    cli.assert_clean_error(cli("train", "--resume", tmp_path, "--lr", "0.1"), "--lr")


def test_bad_size_and_eval_without_data(model_file, tmp_path, cli):
    cli.assert_clean_error(cli("train", "--size", "big", "--project", tmp_path), "HEIGHTxWIDTH")
    cli.assert_clean_error(cli("eval", model_file), "pass --data")
    cli.assert_clean_error(cli("eval", tmp_path / "missing.keras", "--data", tmp_path), "missing.keras")


def test_predict_refuses_to_overwrite(model_file, small_data, tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    cli.assert_clean_error(cli("predict", model_file, small_data, out), "not empty")
    assert (out / "keep.txt").read_text() == "mine"


def test_debug_shows_the_traceback(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "nope")]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", "train", "--data", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "no such folder" in err


def test_predict_without_a_model_uses_the_shipped_default(small_data, tmp_path, cli):
    from edgeseg.defaults import DEFAULT_ARTIFACT

    if not DEFAULT_ARTIFACT.is_file():
        pytest.skip("no shipped model")
    result = cli("predict", small_data, tmp_path / "pred")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert record["model"] == str(DEFAULT_ARTIFACT) and len(record["predictions"]) == 6
    cli.assert_clean_error(cli("predict", small_data), "[MODEL] INPUTS OUT_DIR")
