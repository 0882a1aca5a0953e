"""Option types shared by several commands (Typer ``Annotated`` aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.data.pairs import LAYOUTS

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "assets" / "isic2017_sample"

LayoutOpt = Annotated[
    str,
    typer.Option(help=f"Data layout: auto or one of {', '.join(LAYOUTS.names())}."),
]
ThresholdOpt = Annotated[float, typer.Option(help="A pixel is lesion when its probability is > this.")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Batch size.")]
LimitOpt = Annotated[Optional[int], typer.Option(help="Use only the first N pairs of each split (quick runs).")]
OpenOpt = Annotated[int, typer.Option("--open", help="Morphological opening radius in px (removes specks).")]
CloseOpt = Annotated[int, typer.Option("--close", help="Morphological closing radius in px (bridges gaps).")]
LargestOpt = Annotated[bool, typer.Option("--largest/--all-components", help="Keep only the largest lesion region.")]
FillOpt = Annotated[bool, typer.Option("--fill-holes/--keep-holes", help="Fill holes inside the lesion.")]


def postprocess_config(threshold: float, open_px: int, close_px: int, largest: bool, fill: bool):  # noqa: ANN201
    from edgeseg.postprocess import PostprocessConfig

    return PostprocessConfig(threshold, open_px, close_px, largest, fill)
