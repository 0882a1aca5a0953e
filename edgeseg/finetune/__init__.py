"""Fine-tune stages: a finished float run's model, wrapped and fine-tuned into a new run.

The template is :mod:`edgeseg.finetune.stage`; each stage module registers its
:class:`~edgeseg.finetune.stage.FineTuneStage` there when it is imported. :func:`load_stages`
is the one list of stage modules, and :func:`resume` continues any run: a stage's run through
its stage (found by its marker file), a plain training run through :func:`edgeseg.train.resume`.

A new stage (say ``edgeseg/distill.py``) builds its ``FineTuneStage``, calls
``register(...)``, and adds its import to :func:`load_stages`.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.finetune.stage import STAGES, FineTuneStage, find_stage, resume_stage
from edgeseg.registry import Registry
from edgeseg.run import RunDir


def load_stages() -> Registry[FineTuneStage]:
    """Import every stage module (each registers itself) and return :data:`STAGES`."""
    # Deferred: the stage modules load TensorFlow and tfmot.
    import edgeseg.prune  # noqa: F401
    import edgeseg.quantize.qat  # noqa: F401

    return STAGES


def resume(path: str | Path, epochs: int | None = None) -> RunDir:
    """Continue an interrupted run of any kind from its last checkpoint (``epochs`` may extend it).

    Raises:
        RunError: no such run, it has finished (and ``epochs`` does not extend it), or its
            checkpoint is missing.
    """
    from edgeseg.train import resume as resume_training

    run = RunDir.open(path)
    load_stages()
    stage = find_stage(run)
    return resume_training(run.path, epochs) if stage is None else resume_stage(stage, run, epochs)
