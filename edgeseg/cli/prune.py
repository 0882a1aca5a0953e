"""``edgeseg prune``: magnitude pruning fine-tune → a new run that ``edgeseg export`` accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeseg.cli.app import app
from edgeseg.cli.options import choices
from edgeseg.prune import SCHEDULES

PruneSchedule = choices("PruneSchedule", SCHEDULES)


@app.command("prune")
def prune_cmd(
    run: Annotated[Path, typer.Argument(help="The float run to prune (it stays untouched).")],
    sparsity: Annotated[float, typer.Option(help="Target fraction of zero weights in the conv kernels.")] = 0.5,
    schedule: Annotated[PruneSchedule, typer.Option(help="poly (ramp up from 0) or constant.")] = PruneSchedule("poly"),
    m_by_n: Annotated[Optional[str], typer.Option("--m-by-n", help="Structured M:N sparsity, e.g. 2:4.")] = None,
    epochs: Annotated[int, typer.Option(help="Fine-tuning epochs.")] = 2,
    lr: Annotated[float, typer.Option("--lr", help="Fine-tuning learning rate.")] = 1e-4,
    max_steps: Annotated[Optional[int], typer.Option(help="Cap on steps per epoch (quick runs).")] = None,
    project: Annotated[Path, typer.Option(help="Folder that holds the run directories.")] = Path("runs"),
    name: Annotated[Optional[str], typer.Option(help="Name of the new run. [default: RUN-pruned, numbered]")] = None,
) -> None:
    """Prune a trained run: fine-tune with magnitude pruning, strip the wrappers, save a new run.

    Pruning is a SIZE optimisation here: it shrinks the gzip-compressed file, but unstructured
    sparsity does not speed up TFLite/XNNPACK on a U-Net. The report gives the measured sparsity,
    the raw and gzip sizes and the validation Dice before and after; export the new run to gate it.
    """
    from edgeseg.prune import PruneConfig, prune

    cfg = PruneConfig(sparsity=sparsity, schedule=schedule.value, m_by_n=m_by_n, epochs=epochs, learning_rate=lr, max_steps=max_steps)
    out = prune(run, cfg, runs_root=project, name=name)
    typer.echo(f"run: {out.path}")
