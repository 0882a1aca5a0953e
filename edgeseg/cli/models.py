"""``edgeseg models``: the registered architectures."""

from __future__ import annotations

from typing import Annotated

import typer

from edgeseg.cli.app import app


@app.command("models")
def models_cmd(
    params: Annotated[bool, typer.Option("--params", help="Build each model to count its parameters (slower).")] = False,
    height: Annotated[int, typer.Option(help="Input height for --params.")] = 192,
    width: Annotated[int, typer.Option(help="Input width for --params.")] = 256,
) -> None:
    """List the registered model names (use one with `edgeseg train --model NAME`)."""
    from edgeseg.models import MODELS, create_model

    for name in MODELS.names():
        doc = (MODELS.get(name).__doc__ or "").strip().splitlines()
        line = f"{name:<18} {doc[0] if doc else ''}"
        if params:
            n = create_model(name, (height, width, 3), batch_norm=False).count_params()
            line += f"  [{n:,} params without BatchNorm]"
        typer.echo(line)
