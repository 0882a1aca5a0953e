"""Accuracy-aware int8: what to try when a static int8 artifact misses its Dice budget.

In order, stopping at the first artifact within budget: another calibration method (the ones
the format offers), the format's other writer options (ONNX: 8-bit weights), keeping the ops
with the worst quantization error in float, then QAT, a fine-tune of the float run
(:func:`edgeseg.quantize.qat.qat`) exported as ``qat_wi8_ai8``. Every attempt is exported and
gated like any artifact, and stays on disk with its gate result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.export.exporter import Calibration, ExportConfig, Source, Target, load_source
from edgeseg.export.formats import FORMATS
from edgeseg.gates import GateResult
from edgeseg.run import RunDir

SELECTIVE_STEPS = (1, 3)  # how many of the worst-error ops to keep in float, in order

# Export and gate one target (from another source model: the QAT step); returns its gate result.
Attempt = Callable[[Target, Source | None], GateResult]


@dataclass
class Search:
    """One search: the target that missed, its steps (strategy, artifact, ΔDice, passed), the
    chosen artifact's label (None: nothing met the budget) and p50 latency of plain vs chosen."""

    target: str
    plain_dice_drop: float
    budget: float
    steps: list[dict[str, Any]] = field(default_factory=list)
    chosen: str | None = None
    latency_p50_ms: dict[str, float] = field(default_factory=dict)

    def record(self, strategy: str, target: Target | None, result: GateResult | None, note: str = "") -> bool:
        entry: dict[str, Any] = {"strategy": strategy, "artifact": target.label if target else None, "note": note}
        if result is not None:
            entry.update(dice=result.dice, dice_drop=result.dice_drop, passed=result.passed, size_bytes=result.size_bytes)
        self.steps.append(entry)
        return bool(result and result.passed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def search(target: Target, plain: GateResult, attempt: Attempt, source: Source, calibration: Calibration | None,
           run: RunDir, cfg: ExportConfig, folder: Path) -> Search:
    """Try calibration methods, other writer options, selective float ops, then QAT; see the
    module docstring.

    Args:
        target, plain: the static int8 target and its failed gate result.
        attempt: exports and gates one target (``edgeseg.pipeline`` passes its own).
        source, calibration: what the plain artifact was written from.
        run: the float run QAT fine-tunes (its QAT run is written beside it).
        cfg: ``qat_epochs`` / ``qat_max_steps`` set the QAT step's length.
        folder: the export folder the artifacts are written to.
    """
    from edgeseg.runtime import load_runner
    from edgeseg.runtime.timing import time_runner

    fmt = FORMATS.get(target.format)
    found = Search(target.label, plain.dice_drop, plain.budget)
    print(f"  {target.label} missed its budget: accuracy-aware fallback")
    chosen = (_calibrations(target, attempt, found) or _options(target, attempt, found)
              or _selective(target, attempt, source, calibration, found))
    if chosen is None:
        chosen = _qat(target, attempt, run, cfg, found)
    if chosen is not None:
        # Cost of the chosen option against the plain artifact, measured here.
        for label in (target.label, chosen.label):
            runner = load_runner(folder / label / fmt.filename)
            found.latency_p50_ms[label] = time_runner(runner, min_runs=10, min_seconds=0.5).p50_ms
        found.chosen = chosen.label
    return found


def _calibrations(target: Target, attempt: Attempt, found: Search) -> Target | None:
    fmt = FORMATS.get(target.format)
    if not fmt.calibration_methods:
        found.record("calibration", None, None, f"skipped: {fmt.no_calibration_choice}")
        return None
    current = target.options.calib_method
    for method in fmt.calibration_methods:
        if method == current:
            continue
        if (method, current) in fmt.same_calibration:
            found.record(f"calibration:{method}", None, None, f"skipped: {fmt.same_calibration[method, current]}")
            continue
        t = dataclasses.replace(target, options=dataclasses.replace(target.options, calib_method=method),
                                strategy=f"calib_{method}")
        if found.record(f"calibration:{method}", t, attempt(t, None)):
            return t
    return None


def _options(target: Target, attempt: Attempt, found: Search) -> Target | None:
    for step in FORMATS.get(target.format).option_steps:
        t = dataclasses.replace(target, options=dataclasses.replace(target.options, **dict(step.changes)),
                                strategy=step.strategy)
        if found.record(f"options:{step.strategy}", t, attempt(t, None), step.note):
            return t
    return None


def _selective(target: Target, attempt: Attempt, source: Source, calibration: Calibration | None,
               found: Search) -> Target | None:
    """Keep the ops with the worst quantization error in float."""
    fmt = FORMATS.get(target.format)
    if fmt.worst_ops is None or calibration is None:
        return None
    worst = fmt.worst_ops(source.model, calibration.images, target.options)
    for k in SELECTIVE_STEPS:
        if k > len(worst):
            break
        t = dataclasses.replace(target, options=dataclasses.replace(target.options, keep_float=tuple(worst[:k])),
                                strategy=f"float{k}")
        if found.record(f"selective:{k} ops in float", t, attempt(t, None)):
            return t
    return None


def _qat(target: Target, attempt: Attempt, run: RunDir, cfg: ExportConfig, found: Search) -> Target | None:
    from edgeseg.quantize.qat import QATConfig, qat

    qrun = qat(run.path, QATConfig(epochs=cfg.qat_epochs, max_steps=cfg.qat_max_steps), runs_root=run.path.parent)
    qsource, _ = load_source(qrun)
    t = dataclasses.replace(target, recipe="qat_wi8_ai8", strategy="qat")
    return t if found.record(f"qat ({qrun.path})", t, attempt(t, qsource)) else None
