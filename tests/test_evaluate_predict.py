"""Evaluation scores at each mask's own resolution; prediction writes masks and overlays."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.data.pairs import find_pairs
from edgeseg.evaluate import evaluate, write_report
from edgeseg.predict import predict
from edgeseg.runtime import Runner, load_runner


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from edgeseg.models import create_model

    path = tmp_path_factory.mktemp("m") / "m.keras"
    create_model("unet_w025", (64, 96, 3)).save(path)
    return load_runner(path)


def test_runner_contract(runner, sample_root):
    assert isinstance(runner, Runner)
    assert runner.input_size == (64, 96)
    x = np.random.default_rng(0).random((2, 64, 96, 3), dtype=np.float32)
    y = runner(x)
    assert y.shape == (2, 64, 96, 1) and y.dtype == np.float32 and 0 <= y.min() and y.max() <= 1


def test_scores_at_native_mask_resolution(runner, sample_root, tmp_path):
    pairs = find_pairs(sample_root / "test").pairs[:5]
    result = evaluate(runner, pairs, batch_size=2)
    totals = sum(np.array(c) for c in result.counts.astuple())
    # Every pixel of every 192x256 ground-truth mask is counted once, though the model sees 64x96.
    assert totals.sum() == 5 * 192 * 256
    assert list(result.counts.tp + result.counts.fn) == [int(np.asarray(Image.open(p.mask)).astype(bool).sum()) for p in pairs]
    paths = write_report(result, tmp_path / "rep", {"split": "test"})
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["n_images"] == 5 and metrics["split"] == "test"
    assert set(metrics["mean"]) >= {"dice", "iou", "thresholded_jaccard", "sensitivity", "specificity"}
    rows = list(csv.DictReader(open(paths["per_image"])))
    assert [r["stem"] for r in rows] == [p.stem for p in pairs]
    assert float(rows[0]["dice"]) == pytest.approx(
        2 * int(rows[0]["tp"]) / max(1, 2 * int(rows[0]["tp"]) + int(rows[0]["fp"]) + int(rows[0]["fn"])), abs=1e-6
    )
    assert paths["confusion"].stat().st_size > 1000


def test_predict_writes_binary_masks_at_image_size(runner, sample_root, tmp_path):
    images = [p.image for p in find_pairs(sample_root / "test").pairs[:3]]
    results = predict(runner, images, tmp_path / "out")
    assert len(results) == 3
    mask = np.asarray(Image.open(tmp_path / "out" / results[0].mask))
    assert mask.shape == (192, 256) and set(np.unique(mask)) <= {0, 255}
    assert results[0].area_fraction == pytest.approx((mask > 0).mean())
    overlay = np.asarray(Image.open(tmp_path / "out" / results[0].overlay))
    assert overlay.shape == (192, 256, 3)
    record = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert len(record["predictions"]) == 3


# --- which pairs `edgeseg eval` scores, and where its report goes -----------------------------------


def test_eval_data_from_a_folder_and_from_a_runs_split_record(sample_root, tmp_path):
    from edgeseg.data.pairs import find_splits
    from edgeseg.data.splits import save_splits
    from edgeseg.errors import DataError
    from edgeseg.evaluate import eval_data

    model = tmp_path / "m.keras"
    model.write_bytes(b"")
    with pytest.raises(DataError, match="is a model file: pass --data"):
        eval_data(model)
    got = eval_data(model, sample_root, "test", limit=3)
    assert (got.split, got.source, len(got.pairs)) == ("test", str(sample_root), 3)
    assert got.pairs == find_splits(sample_root)["test"].pairs[:3]
    with pytest.raises(DataError, match="no split 'tset'; it has train, validation, test"):
        eval_data(model, sample_root, "tset")
    # A folder without splits is scored whole, whatever split was asked for.
    whole = eval_data(model, sample_root / "validation", "test")
    assert (whole.split, len(whole.pairs)) == ("all", 12)

    run = tmp_path / "run"
    run.mkdir()
    save_splits(run / "splits.json", {k: v.pairs for k, v in find_splits(sample_root).items()}, {})
    own = eval_data(run)
    assert (own.split, own.source, len(own.pairs)) == ("validation", f"{run}/splits.json", 12)


def test_eval_folder_is_new_each_time(tmp_path, monkeypatch):
    from edgeseg.evaluate import eval_folder

    run = tmp_path / "run"
    (run / "eval" / "validation").mkdir(parents=True)
    assert eval_folder(run, "validation") == run / "eval" / "validation-2"
    assert eval_folder(run, "test", "hv") == run / "eval" / "test-tta_hv"
    monkeypatch.chdir(tmp_path)
    assert eval_folder(tmp_path / "model.tflite", "all") == Path("runs") / "eval" / "model"
