"""``edgeseg export``: deployable artifacts from a run, each gated against the float model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import LimitOpt, choices, parse_size
from edgeseg.errors import ConfigError
from edgeseg.export.formats import FORMATS
from edgeseg.quantize.recipes import RECIPES

GATE_FAILED = 3

_FORMATS_HELP = "; ".join(f"{f.name}: {', '.join(f.recipes)}" for f in (FORMATS.get(n) for n in FORMATS.names()))
ExportFormat = choices("ExportFormat", FORMATS.names())
_RECIPES_HELP = "; ".join(f"{r.name} ({r.summary})" for r in (RECIPES.get(n) for n in RECIPES.names()))


@app.command("export")
def export_cmd(
    runs: Annotated[list[Path], typer.Argument(help="Training run directories (each one's best checkpoint is exported). Several variants of one family (unet_w100, unet_w050, unet_w025) also get a table against the full-width float model.")],
    format: Annotated[Optional[list[ExportFormat]], typer.Option("--format", "-f", help=f"Format(s) and the recipes each supports: {_FORMATS_HELP}. [default: tflite]")] = None,
    quant: Annotated[Optional[list[str]], typer.Option("--quant", "-q", help=f"Recipe(s): {_RECIPES_HELP}. [default: fp32]")] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Shorthand for --format tflite --format onnx --quant static_wi8_ai8.")] = False,
    qat: Annotated[bool, typer.Option("--qat", help="Quantization-aware fine-tune a copy of the run first (the float run is untouched), then export int8 TFLite and ONNX from it.")] = False,
    io: Annotated[Optional[str], typer.Option(help="IO dtype of full-integer TFLite artifacts: int8, uint8 or float32 (float-IO variant). [default: int8]")] = None,
    onnx_nchw: Annotated[bool, typer.Option("--onnx-nchw", help="ONNX input as NCHW (default NHWC).")] = False,
    opset: Annotated[int, typer.Option(help="ONNX opset (>= 13).")] = 17,
    calib_n: Annotated[int, typer.Option(help="Calibration images, drawn only from the train split.")] = 200,
    calib_method: Annotated[str, typer.Option(help="ONNX Runtime calibration: minmax, entropy or percentile.")] = "minmax",
    calib_dir: Annotated[Optional[Path], typer.Option(help="Calibrate on this folder of images instead of the train split.")] = None,
    calib_seed: Annotated[int, typer.Option(help="Seed of the calibration sample (saved with the artifact).")] = 0,
    split: Annotated[str, typer.Option(help="Split the gate evaluates on (never the calibration split).")] = "validation",
    limit: LimitOpt = None,
    max_dice_drop: Annotated[Optional[float], typer.Option(help="Dice-drop budget for every artifact. [default: per recipe in quantize/gates.toml, 0.01]")] = None,
    gates: Annotated[Optional[Path], typer.Option(help="Another gates TOML file.")] = None,
    fallback: Annotated[bool, typer.Option("--fallback/--no-fallback", help="Accuracy-aware int8: when static int8 misses its budget, try another calibration, then other writer options (ONNX: 8-bit weights), then float ops, then QAT.")] = True,
    qat_epochs: Annotated[int, typer.Option(help="Epochs of QAT fine-tuning (--qat and the QAT fallback).")] = 1,
    qat_max_steps: Annotated[Optional[int], typer.Option(help="Cap on QAT steps per epoch (quick runs).")] = None,
    size: Annotated[Optional[str], typer.Option(help="Export at this HxW input instead of the training size (same weights; e.g. 256x256 for benchmarks).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (one run only). [default: RUN/export, numbered if it exists]")] = None,
) -> None:
    """Export a run to TFLite / ONNX / SavedModel, evaluate every artifact on the same split as the
    float model, print the Dice/IoU drop table, and exit 3 if any artifact misses its budget."""
    from edgeseg.export.exporter import ExportConfig
    from edgeseg.gates import gate_table
    from edgeseg.pipeline import export_runs, family_table_of
    from edgeseg.quantize.qat import QATConfig

    if int8 and (quant or format):
        raise ConfigError("--int8 is shorthand for --format tflite --format onnx --quant static_wi8_ai8; pass either it or --format/--quant")
    if qat and quant and any(q not in ("static_wi8_ai8", "qat_wi8_ai8") for q in quant):
        raise ConfigError("--qat exports full-integer artifacts; drop the float --quant recipes")
    formats = ("tflite", "onnx") if (int8 or (qat and not format)) else tuple(f.value for f in format or ()) or ("tflite",)
    recipes = ("static_wi8_ai8",) if (int8 or (qat and not quant)) else tuple(quant or ("fp32",))
    cfg = ExportConfig(
        formats=formats, recipes=recipes, io=io, onnx_nchw=onnx_nchw, opset=opset, calib_n=calib_n,
        calib_seed=calib_seed, calib_method=calib_method, calib_dir=str(calib_dir) if calib_dir else None,
        split=split, limit=limit, max_dice_drop=max_dice_drop, gates_file=str(gates) if gates else None,
        fallback=fallback, qat_epochs=qat_epochs, qat_max_steps=qat_max_steps, input_size=parse_size(size),
    )
    qat_cfg = QATConfig(epochs=qat_epochs, max_steps=qat_max_steps) if qat else None
    reports = export_runs(runs, cfg, out, qat=qat_cfg)
    for _, report in reports:
        typer.echo("")
        typer.echo(gate_table(report.results))
        typer.echo(f"artifacts, gates.json and gates.md: {report.folder}")
    if len(reports) > 1:
        table = family_table_of(reports)
        typer.echo("(no family table: the runs are not width variants of one model on the same splits)" if table is None
                   else "\nFamily: every variant against the full-width float model\n" + table)
    if not all(r.passed for _, r in reports):
        typer.echo("error: at least one artifact missed its Dice-drop budget (kept, marked failed in its manifest)", err=True)
        raise typer.Exit(GATE_FAILED)
