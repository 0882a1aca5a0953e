"""The demo page (``edgeseg demo-report``, issue 19), built from a real tiny run's outputs: a real
training run, its gated int8 export, a real bench, and the shipped model's predictions and scores
on two sample test images. The page must name the numbers those files hold."""

import base64
import csv
import json
import re

import pytest

from edgeseg.defaults import DEFAULT_ARTIFACT

pytestmark = pytest.mark.skipif(not DEFAULT_ARTIFACT.is_file(), reason="the shipped model is missing")


@pytest.fixture(scope="module")
def demo(tiny_run, sample_root, tmp_path_factory):
    from typer.testing import CliRunner

    from edgeseg.cli import app

    def cli(*args):
        r = CliRunner().invoke(app, [str(a) for a in args])
        assert r.exit_code == 0, r.output
        return r

    run = tiny_run("demo").path
    cli("export", run, "--int8", "--no-fallback", "--calib-n", "8", "--limit", "4")
    cli("bench", run, "-t", "1", "-r", "tflite", "--min-runs", "2", "--min-seconds", "0", "--warmup", "1",
        "--no-frame", "--out", run / "bench")
    images = tmp_path_factory.mktemp("test_images") / "images"
    images.mkdir()
    (images.parent / "masks").mkdir()
    for p in sorted((sample_root / "test" / "images").glob("*.jpg"))[:2]:
        (images / p.name).write_bytes(p.read_bytes())
        mask = sample_root / "test" / "masks" / f"{p.stem}.png"
        (images.parent / "masks" / mask.name).write_bytes(mask.read_bytes())
    cli("eval", run, "--split", "test", "--limit", "2", "--out", run / "eval" / "test")
    cli("predict", "--largest", "--fill-holes", DEFAULT_ARTIFACT, images, run / "shipped" / "predict")
    cli("eval", DEFAULT_ARTIFACT, "--data", sample_root, "--split", "test", "--limit", "2", "--largest", "--fill-holes",
        "--out", run / "shipped" / "eval")
    r = cli("demo-report", run)
    assert f"demo page: {run / 'demo.html'}" in r.output
    return run, (run / "demo.html").read_text()


def test_the_page_names_the_numbers_of_this_run(demo):
    run, page = demo
    gates = json.loads((run / "export" / "gates.json").read_text())["results"]
    assert {g["artifact"] for g in gates} == {"tflite_static_wi8_ai8_int8io", "onnx_static_wi8_ai8"}
    for g in gates:
        assert f"<td>{g['artifact']}</td>" in page
        assert f"{g['dice']:.4f}" in page and f"{g['reference_dice']:.4f}" in page
        assert f"{g['dice'] - g['reference_dice']:+.4f}" in page
    rows = [json.loads(x) for x in (run / "bench" / "results.jsonl").read_text().splitlines()]
    for r in (r for r in rows if r["status"] == "ok"):
        assert f"{r['p50_ms']:.2f}" in page and f"{r['fps']:.0f}" in page
    shipped = json.loads((run / "shipped" / "eval" / "metrics.json").read_text())
    assert f"mean Dice <b>{shipped['mean']['dice']:.4f}</b> over 2 images" in page
    for r in csv.DictReader(open(run / "shipped" / "eval" / "per_image.csv")):
        assert f"{r['stem']}: Dice {float(r['dice']):.3f}" in page
    fresh = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    assert f"the float model scores mean Dice <b>{fresh['mean']['dice']:.4f}</b>" in page
    history = list(csv.DictReader(open(run / "history.csv")))
    best = max(float(h["val_dice"]) for h in history)
    assert f"best validation Dice {best:.4f}" in page and f"for {len(history)} epochs" in page
    assert "largest region kept, holes filled" in page and "Why this model is weak" in page
    assert str(run / "export" / "gates.json") in page and str(run / "bench") in page and str(run / "demo.html") in page
    state = json.loads((run / "state.json").read_text())
    assert f"A model trained for {state['wall_seconds']:.0f} seconds" in page


def test_the_images_are_embedded(demo):
    _, page = demo
    images = re.findall(r"src='data:image/(jpeg|png);base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 2 * 2 + 1  # prediction + ground truth per test image, and the learning curves
    assert all(len(base64.b64decode(data)) > 1000 for _, data in images)
    assert "src='/" not in page and "src='file:" not in page  # nothing outside the page


def test_a_missing_file_is_one_line_naming_it(cli, demo, tmp_path):
    run, _ = demo
    partial = tmp_path / "run"
    partial.mkdir()
    for name in ("config.json", "history.csv"):
        (partial / name).write_bytes((run / name).read_bytes())
    cli.assert_clean_error(cli("demo-report", partial), str(partial / "export" / "gates.json"), "make demo")
    cli.assert_clean_error(cli("demo-report", tmp_path / "nowhere"), "nowhere", "no such run folder")
