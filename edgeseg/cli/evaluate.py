"""``edgeseg eval``: score a run or model file on a data split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import AllowUngatedOpt, allow_ungated as allow_ungated_artifacts
from edgeseg.cli.engine import AddressOpt, Engine, EngineOpt, ThreadsOpt, WorkersOpt, check_engine, run_scale_job
from edgeseg.cli.options import BatchOpt, CloseOpt, FillOpt, LargestOpt, LayoutOpt, LimitOpt, OpenOpt, ThresholdOpt, choices, postprocess_config
from edgeseg.errors import DataError
from edgeseg.runtime.tta import TTA_MODES

Tta = choices("Tta", TTA_MODES)


@app.command("eval")
def eval_cmd(
    model: Annotated[Path, typer.Argument(help="A run directory (its best checkpoint) or a model file.")],
    data: Annotated[Optional[Path], typer.Option(help="Data folder. [default: the run's own data and split record]")] = None,
    split: Annotated[str, typer.Option(help="Split to score when the data has splits: train, validation or test.")] = "validation",
    layout: LayoutOpt = "auto",
    out: Annotated[Optional[Path], typer.Option(help="Report folder. [default: RUN/eval/SPLIT, or runs/eval/MODEL]")] = None,
    batch_size: BatchOpt = 8,
    limit: LimitOpt = None,
    threshold: ThresholdOpt = 0.5,
    open_px: OpenOpt = 0,
    close_px: CloseOpt = 0,
    largest: LargestOpt = False,
    fill_holes: FillOpt = False,
    tta: Annotated[Tta, typer.Option(help="Test-time flip augmentation: none, h (horizontal) or hv (4 flips); costs 2-4 model calls per image.")] = Tta("none"),
    worst: Annotated[int, typer.Option(help="Also draw the N lowest-Dice images (truth vs prediction) into worst.png.")] = 0,
    engine: EngineOpt = Engine.local,
    address: AddressOpt = None,
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    allow_ungated: AllowUngatedOpt = False,
) -> None:
    """Score a run or model: Dice, IoU, thresholded Jaccard, sensitivity, specificity (mean over images and pooled), at the masks' own resolution; writes metrics.json, per_image.csv and a confusion heatmap."""
    allow_ungated_artifacts(allow_ungated)
    from edgeseg.evaluate import eval_data, eval_folder, evaluate, format_table, write_report
    from edgeseg.runtime import load_runner

    tta = tta.value
    post = postprocess_config(threshold, open_px, close_px, largest, fill_holes)
    runner = load_runner(model)
    if tta != "none":
        from edgeseg.runtime.tta import FlipTTARunner

        runner = FlipTTARunner(runner, tta)
    scored = eval_data(model, data, split, layout, limit)
    pairs, split, source = scored.pairs, scored.split, scored.source
    out = out or eval_folder(model, split, tta)
    if check_engine(engine, address, workers, threads):
        from edgeseg.scale import make_items

        if worst > 0:
            raise DataError("--worst needs --engine local (a scale job keeps its masks on disk: see OUT/masks)")
        job = run_scale_job("eval", model, make_items([(str(p.image), str(p.mask)) for p in pairs]), out, post,
                            engine=engine, address=address, workers=workers, threads=threads, batch_size=batch_size, tta=tta)
        typer.echo(f"{runner.path} on {source} [{split}]")
        typer.echo(format_table(job.scores.scores))
        typer.echo(f"report: {out}")
        return
    result = evaluate(runner, pairs, batch_size=batch_size or 8, post=post, keep_masks=worst > 0)

    def draw_worst(folder: Path) -> None:
        from edgeseg.metrics import per_image
        from edgeseg.plots import worst_cases

        dice = list(per_image(result.counts)["dice"])
        worst_cases(list(pairs), list(result.masks), dice, folder / "worst.png", worst)

    paths = write_report(result, out, {"model": str(runner.path), "data": source, "split": split, "tta": tta},
                         extra=draw_worst if worst > 0 else None)
    typer.echo(f"{runner.path} on {source} [{split}]")
    typer.echo(format_table(result.scores))
    typer.echo(f"report: {paths['metrics'].parent}")

