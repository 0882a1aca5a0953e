"""``edgeseg data PATH``: what pairs a folder holds, in which layout, and what was skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import DEFAULT_DATA, LayoutOpt


@app.command("data")
def data_cmd(
    path: Annotated[Path, typer.Argument(help="Data folder (default: the embedded ISIC 2017 sample).")] = DEFAULT_DATA,
    layout: LayoutOpt = "auto",
) -> None:
    """Find image/mask pairs and show the layout, the splits and any unpaired files."""
    from edgeseg.data.pairs import find_splits

    for split, scan in find_splits(path, layout).items():
        typer.echo(f"{split:<11} {scan.summary()}")
