"""One camera frame through the model: preprocess -> infer -> post-process -> hints -> overlay,
each stage timed. Shared by ``edgeseg camera`` and the bench's camera-frame row."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from edgeseg.postprocess import PostprocessConfig, draw_outline
from edgeseg.runtime.base import Runner
from edgeseg.screen.frame import CropBox, frame_mask, preprocess_frame
from edgeseg.screen.hints import HintConfig, fired, measures, screening_hints

STAGES = ("preprocess", "inference", "postprocess", "draw")


def screening_config(runner: Runner) -> tuple[PostprocessConfig, HintConfig]:
    """Post-processing and hint thresholds from the artifact's manifest (defaults without one)."""
    from edgeseg.artifact import read_manifest

    manifest = read_manifest(runner.path) if runner.path.is_file() else None
    post = PostprocessConfig(**manifest.postprocess) if manifest and manifest.postprocess else PostprocessConfig()
    hints = HintConfig(**manifest.hints) if manifest and manifest.hints else HintConfig()
    return post, hints


@dataclass
class FrameResult:
    """What one frame gave: the full-frame mask, lesion area fraction, mean probability inside
    the outline, the hint measures and hints, stage latencies (ms) and the overlay (if drawn)."""

    mask: np.ndarray
    box: CropBox
    area_fraction: float
    confidence: float
    measures: dict[str, float]
    hints: list[dict[str, Any]]
    latency_ms: dict[str, float] = field(default_factory=dict)
    overlay: np.ndarray | None = None
    overlay_text: list[str] = field(default_factory=list)  # the panel's lines, as drawn

    def record(self) -> dict[str, Any]:
        """The JSON-able part (no arrays)."""
        return {"area_fraction": self.area_fraction, "confidence": self.confidence, "crop_box": asdict(self.box),
                "measures": self.measures, "hints": fired(self.hints), "hint_values": self.hints,
                "latency_ms": self.latency_ms, "overlay_text": self.overlay_text}


class FrameProcessor:
    """Callable ``processor(frame_rgb) -> FrameResult``.

    Args:
        runner: any Runner (Keras, TFLite, ONNX).
        post, hint_cfg: post-processing and hint thresholds (default: from the manifest).
        smooth: weight of the previous probability map in an exponential moving average
            (0 = off); steadies the outline when the hand shakes, at the cost of some lag.
    """

    def __init__(self, runner: Runner, post: PostprocessConfig | None = None,
                 hint_cfg: HintConfig | None = None, smooth: float = 0.0) -> None:
        from edgeseg.errors import ConfigError

        if not 0.0 <= smooth < 1.0:
            raise ConfigError(f"--smooth must be in [0, 1), got {smooth}")
        manifest_post, manifest_hints = screening_config(runner)
        self.runner, self.smooth = runner, smooth
        self.post, self.hint_cfg = post or manifest_post, hint_cfg or manifest_hints
        self._prev: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, draw: bool = True, fps: float | None = None) -> FrameResult:
        t = [time.perf_counter_ns()]
        x, small, box = preprocess_frame(frame, self.runner.input_size, self.runner.normalisation)
        t.append(time.perf_counter_ns())
        prob = self.runner(x)[0, ..., 0]
        t.append(time.perf_counter_ns())
        if self.smooth and self._prev is not None and self._prev.shape == prob.shape:
            prob = self.smooth * self._prev + (1 - self.smooth) * prob
        self._prev = prob
        mask, prob_crop = frame_mask(prob, box, frame.shape[:2], self.post)
        crop_mask = mask[box.y:box.y + box.h, box.x:box.x + box.w] > 0
        m = measures(small, prob, self.post.threshold)
        hints = screening_hints(m, self.hint_cfg)
        area = float(mask.mean())
        conf = float(prob_crop[crop_mask].mean()) if crop_mask.any() else 0.0
        t.append(time.perf_counter_ns())
        result = FrameResult(mask, box, area, conf, m, hints)
        if draw:
            result.overlay = draw_overlay(frame, result, fps)
        t.append(time.perf_counter_ns())
        result.latency_ms = {s: (t[i + 1] - t[i]) / 1e6 for i, s in enumerate(STAGES)}
        return result


def _ms(v: float | None) -> str:
    # One decimal below 10 ms: a 0.4 ms stage must not read as "0".
    return "–" if v is None else f"{v:.1f}" if v < 10 else f"{v:.0f}"


def overlay_lines(r: FrameResult, fps: float | None = None,
                  latency_ms: dict[str, float | None] | None = None) -> list[str]:
    """The text panel's lines: area and confidence, FPS, every stage's latency under its full
    name (None shows as "–": e.g. a draw time not measured yet), then the fired hints."""
    lines = [f"lesion {r.area_fraction:.1%} of frame, confidence {r.confidence:.2f}"]
    if fps is not None:
        lines.append(f"{fps:.1f} FPS")
    if latency_ms:
        lines.append("ms: " + ", ".join(f"{k} {_ms(v)}" for k, v in latency_ms.items()))
    return lines + [f"! {h['message']}" for h in r.hints if h["fired"]]


def _wrap(lines: list[str], max_px: int, scale: float) -> list[str]:
    """Break lines at ", " so each fits ``max_px`` wide (a word longer than that stays whole)."""
    out = []
    for line in lines:
        cur = ""
        for word in line.split(", "):
            cand = f"{cur}, {word}" if cur else word
            if cur and cv2.getTextSize(cand, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + 16 > max_px:
                out.append(cur + ",")
                cur = "  " + word
            else:
                cur = cand
        out.append(cur)
    return out


def draw_overlay(frame: np.ndarray, r: FrameResult, fps: float | None = None,
                 latency_ms: dict[str, float | None] | None = None) -> np.ndarray:
    """The frame with the crop box, lesion outline and a text panel (:func:`overlay_lines`,
    wrapped to the frame's width); the lines drawn are kept in ``r.overlay_text``."""
    out = draw_outline(frame, r.mask, thickness=max(2, frame.shape[0] // 240))
    b = r.box
    cv2.rectangle(out, (b.x, b.y), (b.x + b.w - 1, b.y + b.h - 1), (255, 255, 255), 1)
    scale = max(0.4, frame.shape[0] / 1200)
    lines = _wrap(overlay_lines(r, fps, latency_ms), out.shape[1], scale)
    r.overlay_text = lines
    step = int(26 * scale * 1.6)
    # A solid panel, not an outlined font: OpenCV advances glyphs by stroke thickness, so a
    # thick shadow drifts away from thin text.
    width = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in lines) + 16
    cv2.rectangle(out, (0, 0), (min(width, out.shape[1] - 1), step * len(lines) + step // 2), (0, 0, 0), -1)
    for i, text in enumerate(lines):
        color = (255, 200, 0) if text.startswith("!") else (255, 255, 255)
        cv2.putText(out, text, (8, (i + 1) * step), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
    return out
