"""Scale jobs on real engines (real Ray on 127.0.0.1, the shipped int8 TFLite, real ISIC images):
the Ray engine gives the masks and metrics of the in-process path, bad images become error rows,
an interrupted job resumes without duplicate rows, and bad input is one clear line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from edgeseg.defaults import DEFAULT_ARTIFACT
from edgeseg.postprocess import PostprocessConfig
from edgeseg.scale import JobConfig, make_items, resolve_inputs, run_job

N_IMAGES = 16  # default (non-slow) tests: enough for several shards on 2 workers


@pytest.fixture(scope="module")
def images(isic2017_root, tmp_path_factory) -> Path:
    """The first N_IMAGES ISIC 2017 test pairs, plus a truncated JPEG (no mask) in images/."""
    root = tmp_path_factory.mktemp("isic_subset")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for img in sorted((isic2017_root / "test" / "images").glob("*.jpg"))[:N_IMAGES]:
        shutil.copy(img, root / "images" / img.name)
        shutil.copy(isic2017_root / "test" / "masks" / f"{img.stem}.png", root / "masks" / f"{img.stem}.png")
    return root


@pytest.fixture()
def with_corrupt(images, tmp_path) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(images / "images", folder)
    data = (folder / sorted(os.listdir(folder))[0]).read_bytes()
    (folder / "zz_truncated.jpg").write_bytes(data[: len(data) // 3])
    return folder


def _masks(folder: Path, pattern: str, suffix: str) -> dict[str, bytes]:
    return {p.name[: -len(suffix)]: p.read_bytes() for p in folder.glob(pattern)}


# --- inputs ---------------------------------------------------------------------------------


def test_inputs_folder_glob_lists_and_file_uris(images, tmp_path):
    files = sorted(str(p) for p in (images / "images").glob("*.jpg"))
    assert [p for p, _ in resolve_inputs(str(images))] == files  # images/ sub-folder
    assert [p for p, _ in resolve_inputs(str(images / "images" / "*.jpg"))] == files
    (tmp_path / "l.txt").write_text("# archive\n" + "\n".join(files[:3]) + "\n\n")
    assert [p for p, _ in resolve_inputs(str(tmp_path / "l.txt"))] == files[:3]
    masks = [f.replace("/images/", "/masks/").replace(".jpg", ".png") for f in files[:2]]
    (tmp_path / "l.csv").write_text("image,mask\n" + "".join(f"{i},{m}\n" for i, m in zip(files, masks)))
    assert resolve_inputs(str(tmp_path / "l.csv")) == list(zip(files[:2], masks))
    import pyarrow as pa

    pq.write_table(pa.table({"path": [f"file://{f}" for f in files[:2]]}), tmp_path / "l.parquet")
    uris = [p for p, _ in resolve_inputs(str(tmp_path / "l.parquet"))]
    assert uris == [f"file://{f}" for f in files[:2]]
    assert [p for p, _ in resolve_inputs(f"file://{images}")] == [f"file://{f}" for f in files]
    # pathlib collapses "file:///x" to "file:/x" on the command line; it is restored
    assert [p for p, _ in resolve_inputs(str(Path(f"file://{files[0]}")))] == [f"file://{files[0]}"]
    # the same stem in two folders gets two keys
    items = make_items([("a/x.jpg", None), ("b/x.jpg", None), ("c/y.jpg", None)])
    assert len({i.key for i in items}) == 3 and items[2].key == "y"


def test_file_uris_give_the_same_rows(images, tmp_path):
    files = sorted((images / "images").glob("*.jpg"))[:2]
    local = run_job(JobConfig(model=str(DEFAULT_ARTIFACT), out=str(tmp_path / "a")),
                    make_items([(str(f), None) for f in files]))
    uri = run_job(JobConfig(model=str(DEFAULT_ARTIFACT), out=str(tmp_path / "b")),
                  make_items([(f"file://{f}", None) for f in files]))
    assert local.table.column("sha256").to_pylist() == uri.table.column("sha256").to_pylist()
    assert _masks(tmp_path / "a" / "masks", "*.png", ".png") == _masks(tmp_path / "b" / "masks", "*.png", ".png")


@pytest.mark.parametrize("args, needles", [
    (["predict", "{images}/nope", "{out}", "--engine", "ray"], ["nope", "no such file"]),
    (["predict", "{images}/images/*.png", "{out}", "--engine", "ray"], ["matches no image"]),
    (["predict", "{images}", "{out}", "--workers", "2"], ["--workers", "--engine ray"]),
    (["predict", "{images}", "{out}", "--engine", "ray", "--workers", "0"], ["--workers must be >= 1"]),
    (["predict", "{images}", "{out}", "--engine", "spark"], ["spark"]),
    (["eval", DEFAULT_ARTIFACT, "--data", "{images}", "--out", "{out}", "--engine", "ray", "--worst", "2"], ["--worst"]),
])
def test_bad_input_is_one_clear_line(cli, images, tmp_path, args, needles):
    result = cli(*[str(a).format(images=images, out=tmp_path / "o") for a in args])
    assert result.exit_code == 2, result.output
    if "spark" in needles:  # Typer's own usage error for an unknown choice
        assert "spark" in result.output and "Traceback" not in result.output
        return
    cli.assert_clean_error(result, *needles)


def test_a_foreign_or_different_output_folder_is_refused(images, tmp_path):
    items = make_items(resolve_inputs(str(images)))[:2]
    out = tmp_path / "o"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(Exception, match="not empty"):
        run_job(JobConfig(model=str(DEFAULT_ARTIFACT), out=str(out)), items)
    run_job(JobConfig(model=str(DEFAULT_ARTIFACT), out=str(tmp_path / "p")), items)
    with pytest.raises(Exception, match="postprocess differ"):
        run_job(JobConfig(model=str(DEFAULT_ARTIFACT), out=str(tmp_path / "p"),
                          post=PostprocessConfig(threshold=0.7)), items)


# --- local engine: error rows and resumption (no Ray) ---------------------------------------


def test_corrupt_image_is_an_error_row_and_resume_skips_done_shards(with_corrupt, tmp_path):
    items = make_items(resolve_inputs(str(with_corrupt)))
    cfg = JobConfig(model=str(DEFAULT_ARTIFACT), out=str(tmp_path / "job"), shard_size=4, tables=("parquet", "csv"))
    first = run_job(cfg, items)
    errors = [(p, e) for p, e in zip(first.table.column("path").to_pylist(), first.table.column("error").to_pylist()) if e]
    assert len(errors) == 1 and errors[0][0].endswith("zz_truncated.jpg") and "zz_truncated.jpg" in errors[0][1]
    assert first.summary["counts"] == {**first.summary["counts"], "images": N_IMAGES + 1, "ok": N_IMAGES, "errors": 1}
    assert not (tmp_path / "job" / "masks" / "zz_truncated.png").exists()
    # As if interrupted in the middle: one shard and the merged outputs never written.
    (tmp_path / "job" / "shards" / "shard-00002.parquet").unlink()
    (tmp_path / "job" / "results.parquet").unlink()
    again = run_job(cfg, items)
    assert again.summary["counts"]["skipped_done_before"] == N_IMAGES + 1 - 4
    assert again.summary["counts"]["processed_now"] == 4
    paths = pq.read_table(tmp_path / "job" / "results.parquet").column("path").to_pylist()
    assert paths == [i.path for i in items]  # once each, in input order
    assert first.table.to_pandas().equals(again.table.to_pandas())  # NaN where no metric


# --- Ray: the same masks and metrics as the in-process path ----------------------------------


@pytest.fixture(scope="module")
def local_ray():
    """One loopback Ray (no dashboard) for this module's jobs, started as the engine starts it."""
    import ray

    from edgeseg.scale.engines import EngineSpec, RayEngine
    from edgeseg.scale.work import WorkSpec

    engine = RayEngine(EngineSpec(model=str(DEFAULT_ARTIFACT), work=WorkSpec(), workers=2))
    engine._connect()
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    yield engine
    engine.close()


def test_ray_predict_and_eval_match_local_bit_for_bit(local_ray, cli, images, with_corrupt, tmp_path):
    ray_out, local_out = tmp_path / "ray", tmp_path / "local"
    result = cli("predict", with_corrupt, ray_out, "--engine", "ray", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert f"{N_IMAGES + 1} images" in result.output and "1 errors" in result.output
    assert cli("predict", images, local_out).exit_code == 0
    ray_masks = _masks(ray_out / "masks", "*.png", ".png")
    local_masks = _masks(local_out, "*_mask.png", "_mask.png")
    assert len(local_masks) == N_IMAGES and ray_masks == local_masks  # the same PNG bytes
    summary = json.loads((ray_out / "summary.json").read_text())
    assert summary["counts"]["errors"] == 1 and summary["failures"][0]["path"].endswith("zz_truncated.jpg")
    assert summary["model"]["sha256"] == summary["model"]["manifest"]["sha256"]
    table = pq.read_table(ray_out / "results.parquet")
    assert table.num_rows == N_IMAGES + 1 and len(set(table.column("path").to_pylist())) == N_IMAGES + 1

    for engine, out in (("ray", tmp_path / "ev_ray"), ("local", tmp_path / "ev_local")):
        result = cli("eval", DEFAULT_ARTIFACT, "--data", images, "--out", out, "--engine", engine,
                     *(["--workers", "2"] if engine == "ray" else []))
        assert result.exit_code == 0, result.output
    got, want = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("ev_ray", "ev_local"))
    assert got["mean"] == want["mean"] and got["pooled"] == want["pooled"] and got["n_images"] == N_IMAGES
    assert got["pixel_confusion"] == want["pixel_confusion"]
    per_ray = (tmp_path / "ev_ray" / "per_image.csv").read_text()
    assert per_ray == (tmp_path / "ev_local" / "per_image.csv").read_text()


# --- slow: a real interruption, a worker that dies ------------------------------------------


def _edgeseg(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgeseg.cli", *map(str, args)]


@pytest.mark.slow
def test_interrupted_ray_job_resumes_without_duplicates(isic2017_root, tmp_path):
    """Ctrl-C a Ray job after its first shards are on disk; the same command finishes the rest."""
    out = tmp_path / "job"
    cmd = _edgeseg("predict", isic2017_root / "test", out, "--engine", "ray", "--workers", "2")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and len(list(out.glob("shards/*.parquet"))) < 3:
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    done_before = len(list((out / "shards").glob("*.parquet")))
    assert 0 < done_before < 600 // 32 + 1 and not (out / "results.parquet").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["skipped_done_before"] >= done_before * 32 - 32
    table = pq.read_table(out / "results.parquet")
    paths = table.column("path").to_pylist()
    assert len(paths) == 600 == len(set(paths)) and summary["counts"]["errors"] == 0
    assert len(list((out / "masks").glob("*.png"))) == 600
