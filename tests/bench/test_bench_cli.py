"""``edgeseg bench`` on the shipped artifacts, measured for real (few runs: these check the
report, not the speed; speed lives in bench/)."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np

import pytest

from edgeseg.defaults import SHIPPED

INT8 = SHIPPED / "tflite_static_wi8_ai8_int8io"
# The shipped model's own input size, from its manifest (the test is about the refusal, not a size).
INT8_SIZE = "x".join(map(str, json.loads((INT8 / "manifest.json").read_text())["input"]["shape"][1:3])) if INT8.is_dir() else "?"
QUICK = ("--min-runs", "3", "--min-seconds", "0", "--warmup", "1")

pytestmark = pytest.mark.skipif(not INT8.is_dir(), reason="the shipped model (edgeseg.defaults.SHIPPED) is missing")


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    from typer.testing import CliRunner

    from edgeseg.cli import app

    out = tmp_path_factory.mktemp("bench") / "b"
    r = CliRunner().invoke(app, ["bench", str(INT8), "-t", "1", *QUICK, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out, r.output


def test_writes_table_jsonl_csv_markdown_and_plot(first):
    out, output = first
    assert {"results.jsonl", "results.csv", "report.md", "pareto.png", "summary.json", "bench_config.json"} <= {
        p.name for p in out.iterdir()}
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert list(csv.DictReader(open(out / "results.csv")))[0]["artifact"] == rows[0]["artifact"]
    manifest = json.loads((INT8 / "manifest.json").read_text())
    ok = [r for r in rows if r["status"] == "ok"]
    assert {r["runtime"] for r in ok} == {"tflite", "tflite-builtin"}
    for r in ok:
        assert r["sha256"] == manifest["sha256"] and r["threads"] == 1 and r["batch"] == 1
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] and r["runs"] >= 3
        assert r["fps"] == pytest.approx(1000 / r["p50_ms"])
        assert r["peak_rss_mb"] > r["rss_before_load_mb"] > 10
        assert r["gflops"] == pytest.approx(2 * manifest["macs"] / (r["p50_ms"] / 1e3) / 1e9)
        assert r["gemm_gflops"] > 0 and r["dice"] == manifest["gate"]["dice"]
        assert r["cpu"] and r["cores"] >= 1 and "onnxruntime=" in r["versions"]
    summary = json.loads((out / "summary.json").read_text())
    # Both measured; which p50 is larger is a timing (two separate measurements on a possibly
    # loaded machine), so it is reported by the bench, not asserted here.
    assert summary["frame"]["frame_p50_ms"] > 0 and summary["frame"]["inference_p50_ms"] > 0
    assert "| artifact |" in (out / "report.md").read_text() and "edgeseg bench" in output


def test_compare_prints_ratios_against_an_earlier_run(cli, first, tmp_path):
    out, _ = first
    r = cli("bench", INT8, "-t", "1", "-r", "tflite", *QUICK, "--no-frame", "--compare", out / "results.jsonl",
            "--out", tmp_path / "b2")
    assert r.exit_code == 0, r.output
    assert "vs results.jsonl: tflite_static_wi8_ai8_int8io/tflite 1t b1:" in r.output


def test_floor_dice_fails_the_command(cli, tmp_path):
    r = cli("bench", INT8, "-t", "1", "-r", "tflite", *QUICK, "--no-frame", "--floor-dice", "0.99", "--out", tmp_path / "b")
    assert r.exit_code == 3 and "under --floor-dice 0.99" in r.stderr


def test_gpu_rows_say_no_gpu_instead_of_vanishing(cli, tmp_path):
    import shutil as sh

    if sh.which("nvidia-smi"):
        pytest.skip("this machine has a GPU")
    onnx = SHIPPED / "onnx_static_wi8_ai8-weights8"
    r = cli("bench", onnx, "-t", "1", "-r", "ort-cuda", "-r", "ort-tensorrt", *QUICK, "--no-frame", "--out", tmp_path / "b")
    assert r.exit_code == 1, r.output  # no row measured (issue 19), but the rows say why
    assert "no row was measured" in r.stderr
    rows = [json.loads(x) for x in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]
    assert [(x["runtime"], x["status"], x["reason"]) for x in rows] == [
        ("ort-cuda", "not supported here", "no GPU"), ("ort-tensorrt", "not supported here", "no GPU")]


def test_a_failing_artifact_gets_its_row_and_the_others_still_run(cli, tmp_path):
    from edgeseg.artifact import sha256_file

    folder = tmp_path / "export"
    shutil.copytree(INT8, folder / "good")
    broken = folder / "broken"
    broken.mkdir()
    (broken / "model.tflite").write_bytes(b"TFL3 but not really a model" * 50)
    manifest = json.loads((INT8 / "manifest.json").read_text())
    manifest["sha256"] = sha256_file(broken / "model.tflite")
    (broken / "manifest.json").write_text(json.dumps(manifest))
    unfinished = folder / "unfinished"
    unfinished.mkdir()
    (unfinished / "manifest.json").write_text(json.dumps(manifest))
    r = cli("bench", folder, "-t", "1", "-r", "tflite", *QUICK, "--no-frame", "--out", tmp_path / "b")
    assert r.exit_code == 0, r.output
    rows = {x["artifact"]: x for x in map(json.loads, (tmp_path / "b" / "results.jsonl").read_text().splitlines())}
    assert rows["good"]["status"] == "ok"
    assert rows["broken"]["status"] == "run failed" and "broken/model.tflite" in rows["broken"]["reason"]
    assert rows["unfinished"]["status"] == "export failed" and "no model file" in rows["unfinished"]["reason"]


@pytest.mark.parametrize("args, needles", [
    (("nowhere/model.tflite",), ("nowhere/model.tflite", "no such artifact")),
    ((str(INT8), "-r", "tfl1te"), ("unknown bench runtime 'tfl1te'", "Did you mean 'tflite'")),
    ((str(INT8), "-t", "0"), ("--threads must be >= 1",)),
    ((str(INT8), "--size", "256x256"), (f"takes {INT8_SIZE} input only, not 256x256",)),
])
def test_bad_input_is_one_clean_line(cli, args, needles):
    cli.assert_clean_error(cli("bench", *args, "--no-frame"), *needles)


def test_a_changed_file_is_refused_by_its_sha256(cli, tmp_path):
    copy = tmp_path / "art"
    shutil.copytree(INT8, copy)
    with open(copy / "model.tflite", "ab") as f:
        f.write(b"\0")
    cli.assert_clean_error(cli("bench", copy, "--no-frame"), "model.tflite", "does not match its manifest")


def test_sweep_fits_exponents_over_sizes_and_widths(tmp_path):
    from edgeseg.bench.sweep import SweepConfig, sweep

    result = sweep(SweepConfig(models=("unet_w025", "unet_w050"), sizes=((64, 64), (128, 128)), threads=1,
                               min_runs=3, min_seconds=0), tmp_path / "s")
    # Every model x size point was timed and fitted; the fitted values themselves are timings
    # (load- and CPU-dependent), so they belong to `edgeseg bench --sweep`, not to a test.
    assert sorted((p["model"], p["size"]) for p in result["points"]) == [
        (m, s) for m in ("unet_w025", "unet_w050") for s in ("128x128", "64x64")]
    assert all(p["p50_ms"] > 0 for p in result["points"])  # timed, not failed
    assert set(result["exponents"]["pixels"]) == {"unet_w025", "unet_w050"}
    assert all(np.isfinite(e) for fit in result["exponents"].values() for e in fit.values())
    assert (Path(result["folder"]) / "sweep.png").is_file()
