"""Scale out: screen and score an archive of images on a distributed engine.

``run_job(JobConfig, items) -> JobResult`` (:mod:`edgeseg.scale.job`) runs the same per-image
work (:mod:`edgeseg.scale.work`) on an engine from :data:`ENGINES` (:mod:`edgeseg.scale.engines`):
``local`` (this process) or ``ray`` (Ray Data actors, one model load each). The engine only moves
data: the Runner, pre/post-processing, hints and metrics are edgeseg's own.
"""

from edgeseg.scale.engines import ENGINES, EngineSpec
from edgeseg.scale.inputs import Item, make_items, resolve_inputs
from edgeseg.scale.job import JobConfig, JobResult, run_job

__all__ = ["ENGINES", "EngineSpec", "Item", "JobConfig", "JobResult", "make_items", "resolve_inputs", "run_job"]
