"""The screening page in a real headless Chromium (Debian's), driven by playwright-core: a fake
rear camera playing real ISIC images, LiteRT.js running the shipped int8 model on the "phone",
and every claim of the page checked from outside.

One browser session (tests/web/drive.mjs) runs every scenario; the tests below read its result.
Artifacts (screenshots, the saved image/mask/JSON, result.json) go to runs/test_artifacts/web/
(override with EDGESEG_TEST_ARTIFACTS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _webtools import (
    CHROMIUM,
    NODE_MODULES,
    REPO,
    copy_artifact,
    edit_manifest,
    iou,
    isic_frames,
    need_browser,
    need_node,
    rehash,
    write_y4m,
)

from edgeseg.defaults import DEFAULT_ARTIFACT

FP32 = DEFAULT_ARTIFACT.parent.parent / "tflite_fp32" / "model.tflite"
ARTIFACTS = Path(os.environ.get("EDGESEG_TEST_ARTIFACTS", REPO / "runs" / "test_artifacts")) / "web"
RUN_SECONDS = 4

pytestmark = pytest.mark.skipif(not DEFAULT_ARTIFACT.is_file(), reason="the shipped model (edgeseg.defaults.SHIPPED) is missing")


def _serve(models):
    from edgeseg.web import make_server, start_background

    server = make_server(models, host="127.0.0.1", port=0)
    start_background(server)
    return server


def _broken_artifacts(tmp: Path) -> dict[str, list]:
    """Each failure the page must explain, as the artifacts a server offers."""
    from edgeseg.web import plan_models

    out = {}
    # Model file missing (deleted after export, or a static host without it).
    missing = copy_artifact(DEFAULT_ARTIFACT, tmp / "missing")
    served = plan_models(missing, use_fallback=False)
    missing.unlink()
    out["missing"] = served
    # Corrupt model (header intact, body garbage, manifest re-hashed so only loading can tell):
    # the page falls back to the float artifact and says why.
    corrupt = copy_artifact(DEFAULT_ARTIFACT, tmp / "corrupt")
    data = bytearray(corrupt.read_bytes())
    data[64:] = np.random.default_rng(0).integers(0, 256, len(data) - 64, dtype=np.uint8).tobytes()
    corrupt.write_bytes(bytes(data))
    rehash(corrupt)
    out["fallback"] = plan_models(corrupt, FP32) if FP32.is_file() else plan_models(corrupt, use_fallback=False)
    # Corrupt without a fallback: a clear error.
    corrupt_only = copy_artifact(corrupt, tmp / "corrupt_only")
    out["corrupt"] = plan_models(corrupt_only, use_fallback=False)
    # The model file changed after export: sha256 no longer matches the manifest.
    sha = copy_artifact(DEFAULT_ARTIFACT, tmp / "sha")
    data = bytearray(sha.read_bytes())
    data[-1] ^= 0xFF
    sha.write_bytes(bytes(data))
    out["sha256"] = plan_models(sha, use_fallback=False)
    # A manifest for another input size than the model's (sha256 still right).
    shape = copy_artifact(DEFAULT_ARTIFACT, tmp / "shape")
    m = json.loads((shape.parent / "manifest.json").read_text())
    h, w = m["input"]["shape"][1:3]
    edit_manifest(shape, input_size=[h + 32, w + 32], input={**m["input"], "shape": [1, h + 32, w + 32, 3]})
    out["shape"] = plan_models(shape, use_fallback=False)
    # An engine that runs but computes something else than Python did (here: the reference
    # output inverted) fails the golden self-check and is not used.
    golden = copy_artifact(DEFAULT_ARTIFACT, tmp / "golden")
    ref = golden.parent / "golden" / "output.f32"
    (1 - np.fromfile(ref, "<f4")).astype("<f4").tofile(ref)
    out["golden"] = plan_models(golden, use_fallback=False)
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Run drive.mjs once over every scenario; yields (result, main server's requests, artifacts dir)."""
    need_browser()
    from edgeseg.web import plan_models

    tmp = tmp_path_factory.mktemp("web")
    out = ARTIFACTS
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    y4m = write_y4m(tmp / "camera.y4m", isic_frames(3))
    main = _serve(plan_models())
    others = {name: _serve(models) for name, models in _broken_artifacts(tmp).items()}
    port = main.server_address[1]
    cfg = {
        "chromium": str(CHROMIUM), "node_modules": str(NODE_MODULES), "y4m": str(y4m), "out_dir": str(out),
        "user_data_dir": str(tmp / "profile"), "run_seconds": RUN_SECONDS,
        "main_url": f"http://localhost:{port}/", "denied_url": f"http://127.0.0.1:{port}/",
        "error_urls": {name: s.url for name, s in others.items()},
    }
    (tmp / "config.json").write_text(json.dumps(cfg))
    proc = subprocess.Popen([need_node(), str(Path(__file__).with_name("drive.mjs")), str(tmp / "config.json")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    killer = threading.Timer(170, proc.kill)
    killer.start()
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip())
            if line.strip() == "OFFLINE-READY":
                main.shutdown()
                main.server_close()
                proc.stdin.write("go\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
        proc.wait(timeout=30)
    finally:
        killer.cancel()
        for s in [main, *others.values()]:
            s.shutdown()
            s.server_close()
    (out / "driver.log").write_text("\n".join(lines) + "\n")
    result_file = out / "result.json"
    assert result_file.is_file(), "the browser driver wrote no result:\n" + "\n".join(lines[-30:])
    result = json.loads(result_file.read_text())
    assert "error" not in result, result["error"] + "\n" + "\n".join(lines[-30:])
    requests = {"main": main.requests.snapshot(), **{k: s.requests.snapshot() for k, s in others.items()}}
    yield result, requests, out


def test_runs_the_int8_model_on_device_and_reports_fps(session):
    result, _, out = session
    main = result["scenarios"]["main"]
    assert main["phase"] == "running", main
    assert main["model"]["recipe"] == "static_wi8_ai8" and main["model"]["input_dtype"] == "int8", main["model"]
    assert main["engine"]["runtime"].startswith("LiteRT.js") and main["engine"]["accelerator"] == "wasm", main["engine"]
    assert main["fallbacks"] == [] and main["notice"] == ""
    assert "int8" in main["engineText"] and "Wasm/XNNPACK" in main["engineText"]
    # The golden self-check: the artifact's reference frame through this browser, stage by stage.
    check = main["selfCheck"]
    assert check["passed"] and check["crop_box_equal"] and check["input_max_abs_diff"] <= 1e-6, check
    assert check["output_mask_iou"] >= 0.98 and check["frame_mask_iou"] >= 0.98, check
    assert check["hints_fired"] == check["hints_fired_reference"]
    # FPS: shown on the page and measured over RUN_SECONDS of the fake 30 FPS camera. How high it
    # is depends on the machine and its load (bench territory); here only that it was measured.
    assert main["fps"] > 0 and main["frames_in_window"] >= 1, main  # the loop kept running
    assert main["fpsText"] == f"{main['fps']:.1f} FPS" or main["fpsText"].endswith("FPS")
    print(f"\nheadless Chromium FPS {main['fps']:.2f} ({main['engineText']}), "
          f"camera {main['camera']['width']}x{main['camera']['height']}, browser session {result['seconds']:.0f} s")
    assert "Nothing is uploaded" in main["privacyText"]
    assert (out / "screening_page.png").stat().st_size > 10_000


def test_frozen_frame_and_saved_mask_match_the_python_runner(session):
    from edgeseg.artifact import read_manifest
    from edgeseg.postprocess import PostprocessConfig
    from edgeseg.runtime import load_runner
    from edgeseg.screen.frame import frame_mask, preprocess_frame
    from edgeseg.screen.hints import HintConfig, fired, measures, screening_hints

    result, _, out = session
    frozen = result["scenarios"]["frozen"]
    assert frozen["frames_after_freeze"] == 0 and frozen["button"] == "Resume", frozen
    assert frozen["resumed"], "Resume should start screening again"
    names = sorted(d["name"] for d in result["downloads"])
    assert len(names) == 3, names
    image_file = next(out / n for n in names if n.endswith("_image.png"))
    mask_file = next(out / n for n in names if n.endswith("_mask.png"))
    record = json.loads(next(out / n for n in names if n.endswith(".json")).read_text())
    assert record["uploaded"] is False and record["model"]["recipe"] == "static_wi8_ai8"
    assert record["area_fraction"] == pytest.approx(frozen["record"]["area_fraction"])

    frame = cv2.cvtColor(cv2.imread(str(image_file)), cv2.COLOR_BGR2RGB)
    page_mask = (cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE) > 127).astype(np.uint8)
    assert frame.shape[:2] == page_mask.shape == (record["frame"]["height"], record["frame"]["width"])
    runner = load_runner(DEFAULT_ARTIFACT)
    manifest = read_manifest(DEFAULT_ARTIFACT)
    post, hint_cfg = PostprocessConfig(**manifest.postprocess), HintConfig(**manifest.hints)
    x, small, box = preprocess_frame(frame, runner.input_size, runner.normalisation)
    prob = runner(x)[0, ..., 0]
    mask, _ = frame_mask(prob, box, frame.shape[:2], post)
    score = iou(page_mask, mask)
    print(f"\npage vs Python TFLite runner on the frozen frame: mask IoU {score:.4f}, lesion {mask.mean():.1%}")
    assert mask.mean() > 0.01, "the frozen frame should show a lesion"
    assert score >= 0.98
    assert record["crop_box"] == box.__dict__
    m = measures(small, prob, post.threshold)
    for k, v in m.items():
        assert record["measures"][k] == pytest.approx(v, rel=1e-4, abs=1e-6), k
    assert record["hints"] == fired(screening_hints(m, hint_cfg))
    assert record["area_fraction"] == pytest.approx(page_mask.mean())


def test_no_request_leaves_localhost(session):
    result, requests, _ = session
    assert len(result["requests"]) > 20  # the recorder saw the page, runtime, model and service worker
    hosts = {urlsplit(r["url"]).hostname for r in result["requests"] if not r["url"].startswith(("blob:", "data:"))}
    assert hosts <= {"localhost", "127.0.0.1"}, hosts
    assert {r["method"] for r in result["requests"]} == {"GET"}, [r for r in result["requests"] if r["method"] != "GET"]
    assert any(r["sw"] for r in result["requests"]), "service-worker requests should be recorded too"
    assert result["websockets"] == []
    for name, log in requests.items():
        assert {m for m, _, _ in log} <= {"GET", "HEAD"}, (name, log)
    # Saving is a download from memory (blob:), not a request to anyone.
    assert all(d["url"].startswith("blob:") for d in result["downloads"])


def test_works_offline_after_the_first_load(session):
    result, _, _ = session
    offline = result["scenarios"]["offline"]
    assert offline["phase"] == "running" and offline["frames"] >= 2, offline
    assert offline["model"]["recipe"] == "static_wi8_ai8"


def test_camera_permission_denied_is_explained(session):
    denied = session[0]["scenarios"]["denied"]
    assert denied["phase"] == "error"
    assert "Camera permission was denied" in denied["message"] and "Allow camera access" in denied["message"]


def test_missing_model_is_explained(session):
    s = session[0]["scenarios"]["missing"]
    assert s["phase"] == "error"
    assert "The model could not be loaded" in s["message"] and "The model file is missing" in s["message"]
    assert "404" in s["message"]


def test_corrupt_model_is_explained(session):
    s = session[0]["scenarios"]["corrupt"]
    assert s["phase"] == "error"
    assert "corrupt or not a TFLite model" in s["message"], s["message"]


def test_corrupt_int8_model_falls_back_to_float_and_says_so(session):
    if not FP32.is_file():
        pytest.skip(f"no float artifact at {FP32}")
    s = session[0]["scenarios"]["fallback"]
    assert s["phase"] == "running", s
    assert s["model"]["recipe"] == "fp32" and "tflite_fp32" in s["engineText"]
    assert "Running the fallback tflite_fp32" in s["notice"] and "corrupt" in s["notice"], s["notice"]
    assert s["selfCheck"]["passed"], s["selfCheck"]


def test_manifest_sha256_mismatch_is_explained(session):
    s = session[0]["scenarios"]["sha256"]
    assert s["phase"] == "error"
    assert "does not match its manifest: sha256" in s["message"] and "refuses to run it" in s["message"], s["message"]


def test_manifest_input_shape_mismatch_is_explained(session):
    s = session[0]["scenarios"]["shape"]
    assert s["phase"] == "error"
    h, w = json.loads((DEFAULT_ARTIFACT.parent / "manifest.json").read_text())["input"]["shape"][1:3]
    assert "does not match its manifest" in s["message"] and f"input shape [1,{h},{w},3]" in s["message"], s["message"]


def test_golden_self_check_failure_is_explained(session):
    s = session[0]["scenarios"]["golden"]
    assert s["phase"] == "error"
    assert "differs from the Python reference on the golden frame" in s["message"], s["message"]
