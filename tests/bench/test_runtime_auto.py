"""``--runtime auto`` (issue 19) for ``predict`` and ``camera``, measured for real on two shipped
artifacts (LiteRT and ONNX Runtime). Which pair wins is a timing and is never asserted: only that
the choice is one of the pairs measured, that it is cached, and that the cache is reused."""

import json
import shutil

import pytest

from edgeseg.artifact import sha256_file
from edgeseg.defaults import SHIPPED

UINT8 = SHIPPED / "tflite_static_wi8_ai8_uint8io"
# The phone model's int8 ONNX (8-bit weights: what its accuracy-aware fallback chose).
ONNX = SHIPPED / "onnx_static_wi8_ai8-weights8"
SAMPLE_TEST = SHIPPED.parents[1] / "edgeseg" / "assets" / "isic2017_sample" / "test" / "images"

pytestmark = pytest.mark.skipif(not (UINT8.is_dir() and ONNX.is_dir()), reason="the shipped artifacts are missing")


@pytest.fixture()
def folder(tmp_path):
    """A model folder with two shipped artifacts: a uint8-IO TFLite and an int8 ONNX."""
    f = tmp_path / "model"
    for a in (UINT8, ONNX):
        shutil.copytree(a, f / a.name, ignore=shutil.ignore_patterns("golden"))
    return f


@pytest.fixture()
def images(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    for p in sorted(SAMPLE_TEST.glob("*.jpg"))[:2]:
        shutil.copy(p, d / p.name)
    return d


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "runtime_auto.json"
    monkeypatch.setenv("EDGESEG_RUNTIME_CACHE", str(path))
    return path


def _chosen(output: str) -> tuple[str, str]:
    line = next(x for x in output.splitlines() if x.startswith("runtime auto: "))
    label, _, rest = line[len("runtime auto: "):].partition(" on ")
    return label, rest.split(" ")[0]


def test_predict_chooses_a_measured_pair_caches_it_and_reuses_the_cache(cli, folder, images, cache, tmp_path):
    r = cli("predict", "--runtime", "auto", folder, images, tmp_path / "p1")
    assert r.exit_code == 0, r.output
    assert "measured now" in r.output and len(list((tmp_path / "p1").glob("*_mask.png"))) == 2
    label, runtime = _chosen(r.output)

    data = json.loads(cache.read_text())
    (entry,) = data["entries"].values()
    measured = {(m["artifact"], m["runtime"]): m for m in entry["measured"]}
    # every artifact x every runtime that runs it here, each with its file's sha256
    assert set(measured) == {(UINT8.name, "tflite"), (UINT8.name, "tflite-builtin"), (ONNX.name, "ort-cpu")}
    for (art, _), m in measured.items():
        assert m["sha256"] == sha256_file(folder / art / json.loads((folder / art / "manifest.json").read_text())["file"]) and m["p50_ms"] > 0 and not m["error"]
    assert (label, runtime) in measured
    assert (entry["choice"]["artifact"], entry["choice"]["runtime"]) == (label, runtime)
    assert entry["threads"] >= 1 and " | flags " in entry["host"]

    before = cache.read_bytes()
    r2 = cli("predict", "--runtime", "auto", folder, images, tmp_path / "p2")
    assert r2.exit_code == 0, r2.output
    assert "read from the cache" in r2.output and _chosen(r2.output) == (label, runtime)
    assert cache.read_bytes() == before  # nothing measured, nothing written

    # The camera at the same thread count shares the entry.
    r3 = cli("camera", "--runtime", "auto", folder, "--source", images, "--headless", "--jsonl", tmp_path / "c.jsonl",
             "--every-frame", "--max-frames", "2", "--threads", str(entry["threads"]))
    assert r3.exit_code == 0, r3.output
    assert "read from the cache" in r3.output and _chosen(r3.output) == (label, runtime)
    assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 2


def test_other_files_are_measured_again_and_a_broken_cache_is_rewritten(folder, cache):
    from edgeseg.bench.auto import AutoConfig, choose

    quick = AutoConfig(warmup=1, rounds=1, runs=2)
    cache.parent.mkdir(parents=True)
    cache.write_text("{ not json")
    first = choose([folder / ONNX.name], threads=1, cfg=quick)
    assert not first.cached and (first.artifact, first.runtime) == (ONNX.name, "ort-cpu")
    assert choose([folder / ONNX.name], threads=1, cfg=quick).cached
    second = choose([folder], threads=1, cfg=quick)  # another set of files: another key, measured
    assert not second.cached and len(second.measured) == 3
    assert len(json.loads(cache.read_text())["entries"]) == 2


def test_a_cache_that_cannot_be_written_still_gives_a_choice(folder, tmp_path, monkeypatch):
    from edgeseg.bench.auto import AutoConfig, choose

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EDGESEG_RUNTIME_CACHE", str(blocker / "runtime_auto.json"))
    c = choose([folder / ONNX.name], threads=1, cfg=AutoConfig(warmup=1, rounds=1, runs=2))
    assert (c.artifact, c.runtime) == (ONNX.name, "ort-cpu") and not c.cached
    assert "not cached:" in c.line() and str(blocker) in c.line() and "is a file, not a folder" in c.line()


def test_a_named_runtime_loads_the_file_with_it(cli, images, cache, tmp_path):
    r = cli("predict", "--runtime", "tflite-builtin", UINT8 / "model.tflite", images, tmp_path / "p")
    assert r.exit_code == 0, r.output
    assert f"runtime: {UINT8 / 'model.tflite'} on tflite-builtin" in r.output and not cache.exists()


@pytest.mark.parametrize("args, needles", [
    (("predict", "--runtime", "fastest", "in", "out"), ("--runtime", "'fastest'", "auto", "ort-cpu")),
    (("predict", "--runtime", "auto", "--engine", "ray", "in", "out"), ("--runtime auto needs --engine local",)),
    (("predict", "--runtime", "ort-cpu", str(UINT8 / "model.tflite"), "in", "out"), ("--runtime ort-cpu runs .onnx",)),
    (("camera", "--runtime", "fastest", "--source", "0", "--headless", "--jsonl", "x.jsonl"), ("--runtime", "'fastest'")),
])
def test_bad_runtime_is_one_clean_line(cli, images, args, needles):
    args = [str(images) if a == "in" else a for a in args]
    cli.assert_clean_error(cli(*args), *needles)
