"""The demo page: one self-contained HTML file (images embedded as base64) that shows what
``make demo`` did, built only from the files its commands wrote.

Inputs, all inside the demo's training run ``RUN`` (see docs/demo.md)::

    RUN/config.json, history.csv, state.json, splits.json, curves.png   edgeseg train
    RUN/export/gates.json                                               edgeseg export RUN --int8
    RUN/bench/results.jsonl, summary.json                               edgeseg bench RUN
    RUN/shipped/predict/predictions.json, *_overlay.jpg                 edgeseg predict (shipped model)
    RUN/shipped/eval/metrics.json, per_image.csv                        edgeseg eval (shipped model)

Every number on the page is read from these files; the page states none of its own.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgeseg.errors import RunError
from edgeseg.io import write_text
from edgeseg.postprocess import draw_outline

TRUTH_RGB = (255, 0, 255)  # ground-truth outline: magenta, unlike predict's green outline


@dataclass(frozen=True)
class DemoFiles:
    """Where each command of the demo wrote its files (defaults: the layout ``make demo`` uses)."""

    run: Path
    export: Path
    bench: Path
    predict: Path
    eval: Path

    @classmethod
    def of(cls, run: Path, export: Path | None = None, bench: Path | None = None, predict: Path | None = None,
           eval: Path | None = None) -> DemoFiles:  # noqa: A002
        run = Path(run)
        return cls(run, Path(export or run / "export"), Path(bench or run / "bench"),
                   Path(predict or run / "shipped" / "predict"), Path(eval or run / "shipped" / "eval"))

    def required(self) -> dict[str, Path]:
        return {"training config": self.run / "config.json", "training history": self.run / "history.csv",
                "gate results": self.export / "gates.json", "bench rows": self.bench / "results.jsonl",
                "bench summary": self.bench / "summary.json", "predictions": self.predict / "predictions.json",
                "shipped model's scores": self.eval / "metrics.json", "per-image scores": self.eval / "per_image.csv"}


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise RunError(f"{path}: not valid JSON ({e})") from None


def _b64(path_or_bytes: Path | bytes, mime: str) -> str:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _truth_jpeg(image: Path, mask: Path) -> bytes:
    """The image with the ground-truth outline drawn on it, JPEG quality 85."""
    rgb = cv2.cvtColor(cv2.imread(str(image), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    m = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
    if m.shape != rgb.shape[:2]:
        m = cv2.resize(m, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_NEAREST)
    out = draw_outline(rgb, (m > 127).astype(np.uint8), color=TRUTH_RGB)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise RunError(f"{image}: could not encode the ground-truth panel")
    return buf.tobytes()


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td{' class=num' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
                  for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _f(v: Any, fmt: str) -> str:
    return "–" if v is None or v == "" else format(v, fmt)


def _mask_for(image: Path) -> Path | None:
    """``.../images/x.jpg`` -> ``.../masks/x.png`` (the sample's layout), if it exists."""
    for m in (image.parent.parent / "masks" / f"{image.stem}.png", image.parent.parent / "masks" / f"{image.stem}_segmentation.png"):
        if m.is_file():
            return m
    return None


def _post_words(post: dict[str, Any]) -> str:
    words = [f"threshold {post.get('threshold', 0.5)}"]
    words.append("largest region kept" if post.get("largest_component") else "every region kept")
    words.append("holes filled" if post.get("fill_holes") else "holes kept")
    return ", ".join(words)


def demo_page(files: DemoFiles, page: Path | None = None) -> str:
    """The page as HTML text (``page``: where it will be written, for the list of files).

    Raises:
        RunError: a file the page needs is missing or is not valid JSON (names the file and the command that writes it).
    """
    missing = [f"{what} ({p})" for what, p in files.required().items() if not p.is_file()]
    if missing:
        raise RunError(f"demo page: missing {', '.join(missing)}; run `make demo` (or the command named in docs/demo.md)")
    cfg = _load_json(files.run / "config.json")
    state = _load_json(files.run / "state.json") if (files.run / "state.json").is_file() else {}
    history = list(csv.DictReader(open(files.run / "history.csv")))
    gates = _load_json(files.export / "gates.json").get("results", [])
    bench_rows = [json.loads(x) for x in (files.bench / "results.jsonl").read_text().splitlines() if x.strip()]
    bench_summary = _load_json(files.bench / "summary.json")
    preds = _load_json(files.predict / "predictions.json")
    shipped = _load_json(files.eval / "metrics.json")
    per_image = {r["stem"]: r for r in csv.DictReader(open(files.eval / "per_image.csv"))}
    splits = _load_json(files.run / "splits.json").get("splits", {}) if (files.run / "splits.json").is_file() else {}

    data, model, train = cfg.get("data", {}), cfg.get("model", {}), cfg.get("train", {})
    n_train, n_val = len(splits.get("train", [])), len(splits.get("validation", []))
    epochs_run = len(history)
    best = max(history, key=lambda r: float(r.get("val_dice") or 0)) if history else {}
    seconds = state.get("wall_seconds")
    ref = gates[0] if gates else {}

    parts = [_HEAD, "<h1>edgeseg demo: the main job on the embedded ISIC 2017 sample</h1>",
             "<p>This page was built by <code>edgeseg demo-report</code> from the files the demo's commands wrote; "
             "every number on it comes from this run.</p>"]

    # 1. the shipped model on the sample's test images
    shipped_dice = shipped.get("mean", {}).get("dice") if isinstance(shipped.get("mean"), dict) else shipped.get("dice")
    parts += ["<h2>1. The shipped model on the sample's test images</h2>",
              f"<p><code>edgeseg predict</code> with the shipped model <code>{html.escape(str(preds.get('model')))}</code> "
              f"on {len(preds.get('predictions', []))} test images of the sample. Left: its lesion outline (green); right: "
              f"the dermatologist's ground truth (magenta). <code>edgeseg eval</code> of the same model on the same images: "
              f"mean Dice <b>{_f(shipped_dice, '.4f')}</b> over {shipped.get('n_images', len(per_image))} images. "
              f"Post-processing: {_post_words(preds.get('postprocess') or {})}.</p>",
              "<div class=grid>"]
    for p in preds.get("predictions", []):
        image = Path(p["image"])
        overlay = files.predict / p["overlay"]
        mask = _mask_for(image)
        row = per_image.get(image.stem, {})
        dice = _f(float(row["dice"]), ".3f") if row.get("dice") else "–"
        truth = f"<img src='{_b64(_truth_jpeg(image, mask), 'image/jpeg')}' alt='ground truth'>" if mask else "<p>(no mask)</p>"
        parts.append(f"<figure><div class=pair><img src='{_b64(overlay, 'image/jpeg')}' alt='prediction'>{truth}</div>"
                     f"<figcaption>{html.escape(image.stem)}: Dice {dice}, lesion area {p['area_fraction']:.1%}</figcaption></figure>")
    parts.append("</div>")

    # 2. the freshly trained model and its gate
    size = f"{data.get('height', '?')}×{data.get('width', '?')}"
    fresh = _load_json(files.run / "eval" / "test" / "metrics.json") if (files.run / "eval" / "test" / "metrics.json").is_file() else None
    fresh_dice = fresh.get("mean", {}).get("dice") if fresh else None
    parts += [f"<h2>2. A model trained for {_f(seconds, '.0f')} seconds, exported and gated</h2>",
              f"<p><code>edgeseg train</code>: {html.escape(str(model.get('name', '?')))} on {n_train} training images at "
              f"{size} pixels for {epochs_run} epochs ({_f(seconds, '.0f')} s); best validation Dice "
              f"{_f(float(best['val_dice']) if best else None, '.4f')} (epoch {int(best['epoch']) + 1 if best else '–'}) on "
              f"{n_val} validation images. Then <code>edgeseg export --int8</code>: int8 TFLite and ONNX, each scored "
              f"against the float model on the same {ref.get('n_images', '?')} {html.escape(str(ref.get('split', '?')))} images "
              f"(the gate):</p>"]
    parts.append(_table(
        ["artifact", "recipe", "size", "Dice", "float Dice", "Δ (artifact − float)", "budget (max drop)", "gate"],
        [[html.escape(g["artifact"]), html.escape(str(g.get("recipe"))), f"{g['size_bytes'] / 1e6:.2f} MB",
          _f(g.get("dice"), ".4f"), _f(g.get("reference_dice"), ".4f"),
          _f(g["dice"] - g["reference_dice"] if g.get("dice") is not None and g.get("reference_dice") is not None else None, "+.4f"),
          _f(g.get("budget"), ".3f"), "pass" if g.get("passed") else "<b>FAIL</b>"] for g in gates],
        numeric={2, 3, 4, 5, 6}))
    if fresh_dice is not None:
        parts.append(f"<p>On the {fresh.get('n_images', '?')} test images of section 1 (<code>edgeseg eval RUN --split "
                     f"test</code>) the float model scores mean Dice <b>{fresh_dice:.4f}</b>, the shipped model "
                     f"{_f(shipped_dice, '.4f')}.</p>")
    parts.append(f"<p class=why><b>Why this model is weak:</b> it saw {n_train} images, {epochs_run} times each, at "
                 f"{size} pixels, from random weights. A segmentation network needs thousands of images and many more "
                 f"steps to learn what separates a lesion from skin, hair and shadows. With {n_val} validation images, each "
                 f"image is {1 / max(n_val, 1):.0%} of the validation Dice, so that score and the gate's verdict are noisy "
                 f"too. The shipped model (section 1) is the same toolchain run on the "
                 f"full ISIC 2017 training set (see its model card). The point of this run is the path — train, export, "
                 f"gate, bench, predict — not the score.</p>")
    if (files.run / "curves.png").is_file():
        parts.append(f"<figure class=wide><img src='{_b64(files.run / 'curves.png', 'image/png')}' alt='learning curves'>"
                     "<figcaption>Learning curves of this run (RUN/curves.png).</figcaption></figure>")

    # 3. the bench
    ok = [r for r in bench_rows if r.get("status") == "ok"]
    machine = bench_summary.get("machine", {})
    parts += ["<h2>3. The bench: latency of every artifact on every runtime</h2>",
              f"<p><code>edgeseg bench</code> on {html.escape(str(machine.get('cpu', '?')))} "
              f"({machine.get('cores', '?')} cores; flags {html.escape(', '.join(machine.get('cpu_flags', [])) or 'none of interest')}), "
              f"{len(ok)} of {len(bench_rows)} rows measured, batch 1, each row in its own process. This machine may be "
              "shared: the figures are what it measured now.</p>"]
    parts.append(_table(
        ["artifact", "runtime", "threads", "status", "p50 ms", "p90 ms", "FPS", "size", "G(FL)OP/s", "of peak", "Dice"],
        [[html.escape(r["artifact"]), html.escape(r["runtime"]), str(r["threads"]), html.escape(r["status"]),
          _f(r.get("p50_ms"), ".2f"), _f(r.get("p90_ms"), ".2f"), _f(r.get("fps"), ".0f"),
          f"{r['size_bytes'] / 1e6:.2f} MB" if r.get("size_bytes") else "–", _f(r.get("gflops"), ".1f"),
          _f(r.get("gemm_ratio"), ".0%"), _f(r.get("dice"), ".4f")] for r in bench_rows],
        numeric={2, 4, 5, 6, 7, 8, 9, 10}))
    peak = bench_summary.get("peak", {})
    theo = bench_summary.get("theoretical_peak", {})
    if peak.get("fp32") or peak.get("int8"):
        items = []
        for t in sorted(theo, key=int):
            items.append(f"{t} thread{'s' if str(t) != '1' else ''}: fp32 {_f(peak.get('fp32', {}).get(t), '.0f')} GFLOP/s "
                         f"measured (theoretical {_f(theo[t].get('fp32_gflops'), '.0f')}), int8 "
                         f"{_f(peak.get('int8', {}).get(t), '.0f')} GOP/s (theoretical {_f(theo[t].get('int8_gops'), '.0f')})")
        assumptions = next(iter(theo.values()), {}).get("assumptions")
        parts.append("<p>Peak of this machine (a large matmul through LiteRT + XNNPACK): " + "; ".join(items) + "."
                     + (f" <small>Theoretical: {html.escape(assumptions)}.</small>" if assumptions else "") + "</p>")

    # 4. where every file went
    where = [("training run (config, splits, checkpoints, history, curves)", files.run),
             ("best float checkpoint", files.run / "checkpoints" / "best.keras"),
             ("exported artifacts, one folder each with manifest.json", files.export),
             ("gate results", files.export / "gates.json"), ("bench rows, report and plot", files.bench),
             ("shipped model's masks, overlays and predictions.json", files.predict),
             ("shipped model's scores on the test images", files.eval),
             *([("fresh model's scores on the test images", files.run / "eval" / "test")] if fresh else []),
             ("this page", page or files.run / "demo.html")]
    parts += ["<h2>4. Where every file went</h2>", "<ul>"]
    parts += [f"<li>{html.escape(what)}: <code>{html.escape(str(p))}</code></li>" for what, p in where]
    parts += ["</ul>", "<p>Next: <code>docs/demo.md</code> says what each command did and what to try next.</p>",
              "</body></html>"]
    return "\n".join(parts) + "\n"


def write_demo_page(files: DemoFiles, out: Path | None = None) -> Path:
    """Build the page and write it atomically (default ``RUN/demo.html``); returns its path."""
    out = Path(out or files.run / "demo.html")
    write_text(out, demo_page(files, out))
    return out


_HEAD = """<!doctype html><html lang=en><head><meta charset=utf-8><title>edgeseg demo</title><style>
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px}
figure{margin:0}.pair{display:flex;gap:4px}.pair img{width:50%;height:auto}
figcaption{font-size:.85em;color:#555}figure.wide img{max-width:100%}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0}th,td{border:1px solid #ccc;padding:3px 7px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.why{background:#fff8e1;border-left:4px solid #f0b400;padding:.6em .9em}code{background:#f4f4f4;padding:0 3px}
</style></head><body>"""
