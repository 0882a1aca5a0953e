"""Option types shared by several commands (Typer ``Annotated`` aliases)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.data.pairs import LAYOUTS

# The largest input side --size accepts: 4096x4096 already needs 4 GiB for one 64-channel float32
# feature map of one image; larger sizes are typos (100000x100000) that would fail deep in OpenCV.
MAX_SIDE = 4096

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "assets" / "isic2017_sample"


def choices(name: str, values: Iterable[str]) -> type[Enum]:
    """A str Enum of ``values`` for a choice option: Typer lists them in ``--help`` and refuses
    any other value before the command runs. Built from the table that owns the values (a
    registry, a config's tuple), so the list is written once."""
    return Enum(name, [(v, v) for v in values], type=str)  # type: ignore[return-value]

LayoutOpt = Annotated[
    str,
    typer.Option(help=f"Data layout: auto or one of {', '.join(LAYOUTS.names())}."),
]
ThresholdOpt = Annotated[float, typer.Option(help="A pixel is lesion when its probability is > this.")]
def _runtime_names() -> list[str]:
    from edgeseg.bench.runtimes import BENCH_RUNTIMES

    return ["default", "auto", *BENCH_RUNTIMES.names()]


Runtime = choices("Runtime", _runtime_names())
RuntimeOpt = Annotated[Runtime, typer.Option(
    "--runtime", "-r",
    help="default: run the model file with the runtime its suffix names (LiteRT for .tflite, ONNX Runtime "
         "for .onnx). auto: the fastest artifact x runtime of the model folder (default: the shipped one), "
         "measured once on this host (a few runs of each) and cached per CPU and file sha256 in "
         "~/.cache/edgeseg/runtime_auto.json ($EDGESEG_RUNTIME_CACHE); prints which it chose. "
         "Or a bench runtime name (see `edgeseg bench --help`).")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", "-b", help="Batch size.")]
LimitOpt = Annotated[Optional[int], typer.Option(help="Use only the first N pairs of each split (quick runs).")]
OpenOpt = Annotated[int, typer.Option("--open", help="Morphological opening radius in px (removes specks).")]
CloseOpt = Annotated[int, typer.Option("--close", help="Morphological closing radius in px (bridges gaps).")]
LargestOpt = Annotated[bool, typer.Option("--largest/--all-components", help="Keep only the largest lesion region.")]
FillOpt = Annotated[bool, typer.Option("--fill-holes/--keep-holes", help="Fill holes inside the lesion.")]


AllowUngatedOpt = Annotated[bool, typer.Option(
    "--allow-ungated", help="Use an artifact whose export was interrupted before its accuracy gate (no gate result in its manifest).")]


def allow_ungated(flag: bool) -> None:
    """``--allow-ungated``: an environment switch (not an argument) so that the bench's worker
    processes, which load the artifacts again, inherit it; read by edgeseg.artifact.read_manifest."""
    import os

    from edgeseg.artifact import ALLOW_UNGATED_ENV

    if flag:
        os.environ[ALLOW_UNGATED_ENV] = "1"
    else:  # an earlier command in the same process (tests) must not leak its choice
        os.environ.pop(ALLOW_UNGATED_ENV, None)


def postprocess_config(threshold: float, open_px: int, close_px: int, largest: bool, fill: bool):  # noqa: ANN201
    from edgeseg.postprocess import PostprocessConfig

    return PostprocessConfig(threshold, open_px, close_px, largest, fill)


def parse_size(text: str | None, option: str = "--size") -> tuple[int, int] | None:
    """``"192x256"`` -> ``(192, 256)``; a one-line ConfigError otherwise."""
    from edgeseg.errors import ConfigError

    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"{option} must look like HEIGHTxWIDTH (e.g. 192x256), got {text!r}") from None
    if h < 1 or w < 1:
        raise ConfigError(f"{option} must be positive, got {text!r}")
    if max(h, w) > MAX_SIDE:
        raise ConfigError(f"{option} {text}: at most {MAX_SIDE} px a side")
    return h, w
