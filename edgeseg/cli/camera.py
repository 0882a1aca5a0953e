"""``edgeseg camera``: the screening loop on a camera, a video or a folder of frames."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import Runtime, RuntimeOpt
from edgeseg.cli.options import AllowUngatedOpt, allow_ungated as allow_ungated_artifacts


@app.command("camera")
def camera_cmd(
    artifact: Annotated[Optional[Path], typer.Argument(
        help="A model with a manifest (exported artifact) or a run directory (with --runtime auto, also an "
             "export folder). Default: the shipped int8 TFLite.",
        show_default=False)] = None,
    source: Annotated[str, typer.Option("--source", "-s", help="Camera index (0, 1, ...), a video file or a folder of frames.")] = "0",
    headless: Annotated[bool, typer.Option("--headless", help="No window: write --save video and the JSONL instead.")] = False,
    save: Annotated[Optional[Path], typer.Option(help="Annotated video to write (.mp4).")] = None,
    jsonl: Annotated[Optional[Path], typer.Option(help="Per-frame JSON lines (default: beside --save as .jsonl).")] = None,
    snapshot_every: Annotated[int, typer.Option(help="Save frame, mask, overlay and JSON every N processed frames (0: off; 's' key in the window).")] = 0,
    snapshot_dir: Annotated[Optional[Path], typer.Option(help="Where snapshots go (default: beside --save, else runs/camera/snapshots).")] = None,
    smooth: Annotated[float, typer.Option(help="Temporal smoothing of the probability map: weight of the previous frame, 0-0.95.")] = 0.0,
    realtime: Annotated[bool, typer.Option("--realtime/--every-frame", help="Pace files like a live camera and drop frames the model cannot keep up with, or process every frame.")] = True,
    fps: Annotated[float, typer.Option(help="Frame rate of a folder of frames.")] = 30.0,
    max_frames: Annotated[int, typer.Option(help="Stop after N frames read (0: until the source ends).")] = 0,
    threads: Annotated[Optional[int], typer.Option(help="Inference threads (TFLite/ONNX; default: the runtime's).")] = None,
    runtime: RuntimeOpt = Runtime.default,
    allow_ungated: AllowUngatedOpt = False,
) -> None:
    """Segment each frame, draw the lesion outline with area, confidence, FPS and screening hints
    (blurry, too dark/bright, touching the border, too small, no lesion); print per-stage latency."""
    allow_ungated_artifacts(allow_ungated)
    from edgeseg.errors import ConfigError, RunError
    from edgeseg.screen.camera import CameraConfig, check_video_path, run_camera
    from edgeseg.screen.process import FrameProcessor
    runtime = runtime.value  # default, auto or a bench runtime name
    if headless and save is None and jsonl is None and not snapshot_every:
        raise ConfigError("--headless needs somewhere to write: --save out.mp4, --jsonl, or --snapshot-every N")
    if save is not None:
        check_video_path(save)  # a missing or unknown extension fails before the model loads
    if jsonl is None and save is not None:
        jsonl = save.with_suffix(".jsonl")
    for p in (save, jsonl):
        if p is not None and p.exists():
            raise RunError(f"{p} already exists; choose a new path (nothing is overwritten)")
    if snapshot_every and snapshot_dir is None:
        snapshot_dir = save.with_name(save.stem + "_snapshots") if save else Path("runs/camera/snapshots")
    runner = _load(artifact, threads, runtime)
    cfg = CameraConfig(source=source, headless=headless, save=str(save) if save else None, jsonl=str(jsonl) if jsonl else None,
                       snapshot_every=snapshot_every, snapshot_dir=str(snapshot_dir) if snapshot_dir else None,
                       smooth=smooth, realtime=realtime, fps=fps, max_frames=max_frames)
    typer.echo(f"model: {runner.path} ({runner.name}, input {runner.input_size[0]}x{runner.input_size[1]}); source: {source}")
    try:
        summary = run_camera(FrameProcessor(runner, smooth=smooth), cfg)
    except Exception as e:
        partial = getattr(e, "summary", None)
        if partial is not None:
            _write_summary(jsonl, cfg, partial, runner)
            typer.echo(partial.text(), err=True)
            kept = ", ".join(partial.outputs.values())
            if kept:
                typer.echo(f"kept what was written so far: {kept}", err=True)
        raise
    _write_summary(jsonl, cfg, summary, runner)
    typer.echo(summary.text())
    for kind, path in summary.outputs.items():
        typer.echo(f"{kind}: {path}")


def _write_summary(jsonl: Path | None, cfg, summary, runner) -> None:  # noqa: ANN001
    """``<jsonl>.summary.json``: the session's config, model and summary, machine-readable."""
    if jsonl is None or not jsonl.exists():
        return
    import dataclasses

    from edgeseg.io import write_json

    path = jsonl.with_suffix(".summary.json")
    write_json(path, {"model": str(runner.path), "config": dataclasses.asdict(cfg), "summary": summary.to_dict()})
    summary.outputs["summary"] = str(path)


def _load(artifact: Path | None, threads: int | None, runtime: str = "default"):  # noqa: ANN202
    from edgeseg.bench.auto import load_with_runtime
    from edgeseg.defaults import default_artifact
    from edgeseg.errors import RunError
    from edgeseg.artifact import manifest_path

    path = artifact or (None if runtime == "auto" else default_artifact())
    if path is not None and path.is_file() and not manifest_path(path).is_file():
        raise RunError(f"{path}: no manifest.json beside it, so its preprocessing is unknown; "
                       "use an exported artifact (edgeseg export) or a run directory")
    runner, chosen = load_with_runtime(runtime, path, threads)
    if chosen:
        typer.echo(chosen)
    return runner
