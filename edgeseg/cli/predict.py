"""``edgeseg predict``: masks and outline overlays for a folder of images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import AllowUngatedOpt, allow_ungated as allow_ungated_artifacts
from edgeseg.cli.engine import AddressOpt, Engine, EngineOpt, OverlaysOpt, ThreadsOpt, WorkersOpt, check_engine, run_scale_job
from edgeseg.cli.options import CloseOpt, FillOpt, LargestOpt, OpenOpt, Runtime, RuntimeOpt, ThresholdOpt, postprocess_config


@app.command("predict")
def predict_cmd(
    paths: Annotated[list[Path], typer.Argument(
        help="[MODEL] INPUTS OUT_DIR. MODEL: a run directory or a model file (default: the shipped int8 "
             "TFLite in export/mnv2_unet). INPUTS: an image or a folder of images (or with an images/ "
             "sub-folder). OUT_DIR: a new or empty output folder. With --runtime auto, MODEL may also be an "
             "export folder: its gated artifacts are the candidates.", metavar="[MODEL] INPUTS OUT_DIR")],
    threshold: ThresholdOpt = 0.5,
    open_px: OpenOpt = 0,
    close_px: CloseOpt = 0,
    largest: LargestOpt = False,
    fill_holes: FillOpt = False,
    runtime: RuntimeOpt = Runtime.default,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    overlays: OverlaysOpt = False,
    allow_ungated: AllowUngatedOpt = False,
) -> None:
    """Write <stem>_mask.png (0/255), <stem>_overlay.jpg (lesion outline) and predictions.json."""
    allow_ungated_artifacts(allow_ungated)
    from edgeseg.defaults import default_artifact
    from edgeseg.errors import ConfigError
    from edgeseg.data.images import list_images
    from edgeseg.predict import predict
    from edgeseg.bench.auto import load_with_runtime

    if len(paths) not in (2, 3):
        raise ConfigError(f"predict takes [MODEL] INPUTS OUT_DIR, got {len(paths)} paths")
    runtime = runtime.value  # default, auto or a bench runtime name
    model, inputs, out_dir = paths if len(paths) == 3 else (None, *paths)
    if check_engine(engine, address, workers, threads, overlays):  # INPUTS may also be a glob, a list file or a URI
        from edgeseg.scale import make_items, resolve_inputs

        if runtime != "default":
            raise ConfigError(f"--runtime {runtime} needs --engine local (a Ray job runs the model file by its suffix)")
        model = model or default_artifact()

        items = make_items(resolve_inputs(str(inputs)))
        run_scale_job("predict", model, items, out_dir, postprocess_config(threshold, open_px, close_px, largest, fill_holes),
                      engine=engine, address=address, workers=workers, threads=threads, overlays=overlays)
        return
    images = list_images(inputs)
    runner, chosen = load_with_runtime(runtime, model, None)
    if chosen:
        typer.echo(chosen)
    results = predict(runner, images, out_dir, postprocess_config(threshold, open_px, close_px, largest, fill_holes))
    typer.echo(f"{len(results)} images -> {out_dir} (mean lesion area {sum(r.area_fraction for r in results) / len(results):.1%})")
