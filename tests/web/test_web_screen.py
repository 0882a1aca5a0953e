"""web_demo/screen.js (the page's frame contract) against edgeseg's Python functions, in Node:
crop box, OpenCV-exact resize, normalisation, quantization, post-processing, measures and hints
on real ISIC frames of camera sizes. No browser needed, so these run wherever node does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _webtools import WEB, iou, isic_frames, need_node

from edgeseg.config import Normalisation
from edgeseg.artifact import TensorSpec
from edgeseg.postprocess import PostprocessConfig, postprocess
from edgeseg.runtime.tflite_runner import dequantize, quantize
from edgeseg.screen.frame import crop_box, frame_mask, preprocess_frame
from edgeseg.screen.hints import HintConfig, measures, screening_hints

MODEL_HW = (144, 192)
NORM = Normalisation()
# Camera frame sizes (H, W): phone 4:3 and 16:9 in both orientations, exact multiples (area-fast
# resize: 2x, 5x) and fractional scales, a frame barely larger than the model.
FRAMES = [(480, 640), (720, 1280), (1080, 1920), (288, 384), (720, 960), (1280, 720), (600, 800), (150, 200)]
POSTS = [PostprocessConfig(), PostprocessConfig(0.4, open_px=2), PostprocessConfig(close_px=3),
         PostprocessConfig(largest_component=True), PostprocessConfig(fill_holes=True),
         PostprocessConfig(0.6, open_px=1, close_px=2, largest_component=True, fill_holes=True)]


def blobs(h: int, w: int, seed: int, int8: bool = False) -> np.ndarray:
    """A smooth probability map with several lesion-like blobs, holes and specks."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), max(h, w) / 25)
    p = 1 / (1 + np.exp(-field / field.std() * 3))
    if int8:  # the int8 model's output levels, including exactly 0.5
        p = np.round(p * 256).clip(0, 255) / 256
    return p.astype(np.float32)


def run_node(tmp: Path, jobs: list[dict]) -> dict:
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([need_node(), str(Path(__file__).with_name("screen_node.mjs")), str(tmp / "jobs.json"),
                           str(WEB / "screen.js")], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r for r in json.loads((tmp / "results.json").read_text())}


def test_frame_contract_matches_python(tmp_path):
    frames = isic_frames(len(FRAMES), size=(480, 640), split="validation")
    post = PostprocessConfig()
    contract = {"input_size": list(MODEL_HW), "normalisation": {"scale": NORM.scale, "offset": NORM.offset},
                "postprocess": post.__dict__, "hints": HintConfig().__dict__}
    jobs, cases = [], {}
    for i, (H, W) in enumerate(FRAMES):
        frame = np.ascontiguousarray(cv2.resize(frames[i], (W, H), interpolation=cv2.INTER_AREA))
        if i == 3:  # a sharp, noisy frame too (exercises rounding in every resize branch)
            frame = np.random.default_rng(i).integers(0, 256, frame.shape, dtype=np.uint8)
        prob = blobs(*MODEL_HW, seed=i, int8=i % 2 == 0)
        frame.tofile(tmp_path / f"f{i}.rgb")
        prob.tofile(tmp_path / f"f{i}.prob")
        jobs.append({"op": "frame", "id": f"f{i}", "frame": f"f{i}.rgb", "prob": f"f{i}.prob", "W": W, "H": H, "contract": contract})
        cases[f"f{i}"] = (frame, prob)
    results = run_node(tmp_path, jobs)
    for key, (frame, prob) in cases.items():
        H, W = frame.shape[:2]
        r = results[key]
        x, small, box = preprocess_frame(frame, MODEL_HW, NORM)
        assert r["box"] == box.__dict__, key
        js_small = np.fromfile(tmp_path / f"{key}.small", np.uint8).reshape(small.shape)
        assert np.array_equal(js_small, small), f"{key} {H}x{W}: resize differs in {(js_small != small).sum()} values"
        assert np.array_equal(np.fromfile(tmp_path / f"{key}.input", np.float32).reshape(x.shape), x), key
        mask, prob_crop = frame_mask(prob, box, (H, W), post)
        js_mask = np.fromfile(tmp_path / f"{key}.mask", np.uint8).reshape(H, W)
        # Bilinear weights differ from OpenCV's by ~1e-5 at most, which can flip a pixel sitting on the
        # threshold (the int8 model outputs exactly 0.5): a few dozen pixels of a million.
        assert (js_mask != mask).mean() < 2e-4 and iou(js_mask, mask) > 0.999, (key, (js_mask != mask).sum())
        m = measures(small, prob, post.threshold)
        for k, v in m.items():
            # area and border are float32 means in Python, float64 here
            assert r["measures"][k] == pytest.approx(v, rel=1e-9 if k in ("laplacian_var", "mean_grey") else 1e-6), (key, k)
        assert [h["fired"] for h in r["hints"]] == [h["fired"] for h in screening_hints(m)], key
        assert [h["message"] for h in r["hints"]] == [h["message"] for h in screening_hints(m)]
        assert r["area_fraction"] == pytest.approx(mask.mean(), abs=1e-3)
        conf = float(prob_crop[mask[box.y:box.y + box.h, box.x:box.x + box.w] > 0].mean()) if mask.any() else 0.0
        assert r["confidence"] == pytest.approx(conf, abs=1e-4), key


def test_postprocess_matches_opencv(tmp_path):
    jobs, cases = [], {}
    for i, cfg in enumerate(POSTS):
        h, w = (120, 160) if i % 2 else (97, 131)
        prob = blobs(h, w, seed=10 + i)
        prob.tofile(tmp_path / f"p{i}.prob")
        jobs.append({"op": "postprocess", "id": f"p{i}", "prob": f"p{i}.prob", "w": w, "h": h, "post": cfg.__dict__})
        cases[f"p{i}"] = (prob, cfg)
    run_node(tmp_path, jobs)
    for key, (prob, cfg) in cases.items():
        js = np.fromfile(tmp_path / f"{key}.mask", np.uint8).reshape(prob.shape)
        ref = postprocess(prob, cfg)
        assert np.array_equal(js, ref), f"{cfg}: {(js != ref).sum()} pixels differ"
        assert 0 < ref.mean() < 1


def test_disk_crop_and_quantization_match_python(tmp_path):
    specs = [TensorSpec("image", (1, 144, 192, 3), "int8", 0.003921568859368563, -128),
             TensorSpec("Identity", (1, 144, 192, 1), "int8", 0.00390625, -128),
             TensorSpec("u", (1, 4), "uint8", 0.02, 3)]
    x = np.concatenate([NORM.apply(np.arange(256, dtype=np.uint8)), np.random.default_rng(0).uniform(-0.7, 1.7, 2000),
                        np.arange(-8, 9) * 0.5 * 0.02]).astype(np.float32)
    x.tofile(tmp_path / "x.f32")
    jobs = [{"op": "quantize", "id": f"q{i}", "x": "x.f32", "spec": s.__dict__} for i, s in enumerate(specs)]
    jobs += [{"op": "disk", "id": f"d{r}", "r": r} for r in range(1, 8)]
    frames = [(480, 640), (720, 1280), (1080, 1920), (1280, 720), (145, 193), (100, 101), (1000, 999)]
    jobs.append({"op": "crop", "id": "crop", "frames": frames, "h": 144, "w": 192})
    results = run_node(tmp_path, jobs)
    for i, s in enumerate(specs):
        q = quantize(x, s)
        assert np.array_equal(np.fromfile(tmp_path / f"q{i}.q", q.dtype), q), s
        assert np.array_equal(np.fromfile(tmp_path / f"q{i}.dq", np.float32), dequantize(q, s)), s
    for r in range(1, 8):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        ref = sorted([int(dy), int(dx)] for dy, dx in np.argwhere(kernel) - r)
        assert sorted(results[f"d{r}"]["offsets"]) == ref, r
    assert results["crop"]["boxes"] == [crop_box(f, (144, 192)).__dict__ for f in frames]
