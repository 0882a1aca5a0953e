"""``edgeseg demo-report``: the page that ``make demo`` ends with (:mod:`edgeseg.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app


@app.command("demo-report")
def demo_report_cmd(
    run: Annotated[Path, typer.Argument(help="The demo's training run (edgeseg train).")],
    export: Annotated[Optional[Path], typer.Option(help="Its export folder (edgeseg export RUN --int8). [default: RUN/export]")] = None,
    bench: Annotated[Optional[Path], typer.Option(help="The bench folder (edgeseg bench RUN --out ...). [default: RUN/bench]")] = None,
    predict: Annotated[Optional[Path], typer.Option(help="The shipped model's predict folder. [default: RUN/shipped/predict]")] = None,
    eval: Annotated[Optional[Path], typer.Option("--eval", help="The shipped model's eval folder on the same images. [default: RUN/shipped/eval]")] = None,  # noqa: A002
    out: Annotated[Optional[Path], typer.Option(help="The page to write. [default: RUN/demo.html]")] = None,
) -> None:
    """One HTML page, images embedded: the shipped model's outlines next to the ground truth, the
    fresh model's gate table, the bench table and where every file went; every number is read
    from the files the demo's commands wrote."""
    from edgeseg.errors import RunError
    from edgeseg.report import DemoFiles, write_demo_page

    if not run.is_dir():
        raise RunError(f"{run}: no such run folder")
    path = write_demo_page(DemoFiles.of(run, export, bench, predict, eval), out)
    typer.echo(f"demo page: {path}  (open file://{path.resolve()} in a browser)")
