"""``export_run(run, cfg)``: what ``edgeseg export`` runs. Export every requested artifact of a run,
gate each against the float model on the run's evaluation split, and hand a static int8 artifact
that misses its budget to the accuracy-aware search.

The three stages stay separate: :func:`edgeseg.export.exporter.export` writes,
:func:`edgeseg.gates.gate_artifact` scores, :func:`edgeseg.quantize.accuracy_aware.search` decides
what to try next (and runs QAT as a stage of its own). Output (a new folder per call, never
overwritten)::

    RUN/export[-N]/calibration.json        the calibration image list (int8)
    RUN/export[-N]/<format>_<recipe>[_<io>][-<fallback>]/{model file, manifest.json, golden/}
    RUN/export[-N]/gates.json, gates.md    the gate table (and fallbacks)
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import ConfigError
from edgeseg.faults import fault_point
from edgeseg.export.exporter import ExportConfig, Source, Target, calibrate, export, load_float_model, load_source, plan_targets
from edgeseg.gates import GateResult, budget_for, gate_artifact, gate_table, load_budgets
from edgeseg.io import next_free_path, write_json, write_text
from edgeseg.quantize.accuracy_aware import search
from edgeseg.quantize.recipes import RECIPES
from edgeseg.run import RunDir


@dataclass
class ExportReport:
    """What an export produced: artifacts with their gate results, and any fallback searches."""

    folder: Path
    results: list[GateResult] = field(default_factory=list)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every requested artifact passed, directly or through a fallback that met the budget."""
        rescued = {f["target"] for f in self.fallbacks if f["chosen"]}
        return all(r.passed or r.artifact in rescued for r in self.results if "-" not in r.artifact)


def export_run(run_path: str | Path, cfg: ExportConfig, out: str | Path | None = None) -> ExportReport:
    """Export, gate and (if needed) search; see the module docstring.

    Exporting into the run (no ``out``) holds the run's writer lock, and first removes the hidden
    temporary folders an interrupted export left in its export folders.

    Raises:
        RunError: no such run, no checkpoint in it, or another process writing to it.
        ConfigError: the run has no ``cfg.split`` split to gate on.
    """
    run = RunDir.open(run_path)
    if out is not None:
        return _export_run(run, cfg, out)
    with run.lock():
        for stale in [p for d in run.path.glob("export*") if d.is_dir() for p in d.iterdir()
                      if p.is_dir() and p.name.startswith(".")]:
            shutil.rmtree(stale, ignore_errors=True)
        return _export_run(run, cfg, out)


def _export_run(run: RunDir, cfg: ExportConfig, out: str | Path | None) -> ExportReport:
    from edgeseg.data.splits import load_splits
    from edgeseg.evaluate import evaluate
    from edgeseg.runtime.keras_runner import KerasRunner

    source, reference_run = load_source(run, cfg.input_size)
    reference_model = load_float_model(reference_run) if reference_run != run else source.model
    budgets = load_budgets(cfg.gates_file)
    targets = plan_targets(cfg, qat_run=reference_run != run)

    splits = load_splits(run.path / "splits.json")
    if cfg.split not in splits or not splits[cfg.split]:
        raise ConfigError(f"{run.path}: no '{cfg.split}' split to gate on; it has {', '.join(splits)}")
    pairs = splits[cfg.split][: cfg.limit] if cfg.limit else splits[cfg.split]

    folder = next_free_path(Path(out) if out else run.path / "export")
    folder.mkdir(parents=True)
    calibration = None
    if any(RECIPES.get(t.recipe).needs_calibration for t in targets):
        calibration = calibrate(splits, cfg, source.run_config, folder)

    print(f"gate reference: {reference_run.best_model()} on {len(pairs)} '{cfg.split}' pairs")
    norm = source.run_config.data.normalisation
    ref_eval = evaluate(KerasRunner(reference_model, reference_run.best_model(), norm), pairs, keep_masks=True)
    report = ExportReport(folder)

    def attempt(target: Target, other: Source | None = None) -> GateResult:
        # Golden vectors use the first evaluation image: a real image no artifact was tuned on.
        artifact = export(other or source, target, calibration, folder, golden_image=pairs[0].image,
                          settings=dataclasses.asdict(cfg))
        fault_point("export.written")
        # gates.json gets each result before the artifact's manifest does (see gate_artifact).
        result = gate_artifact(artifact, ref_eval, pairs, budget=budget_for(target.recipe, budgets, cfg.max_dice_drop),
                               reference_name=str(reference_run.best_model()), split=cfg.split,
                               record=lambda r: _write_tables(ExportReport(folder, [*report.results, r], report.fallbacks),
                                                              complete=False))
        report.results.append(result)
        status = "pass" if result.passed else "FAIL"
        print(f"  {target.label:<40} Dice {result.dice:.4f}  ΔDice {-result.dice_drop:+.4f}  "
              f"agreement {result.mask_agreement:.4f}  [{status}, budget {result.budget}]")
        return result

    for target in targets:
        result = attempt(target)
        if not result.passed and cfg.fallback and target.recipe == "static_wi8_ai8":
            found = search(target, result, attempt, source, calibration, run, cfg, folder)
            report.fallbacks.append(found.to_dict())

    _write_tables(report)
    fault_point("export.tables")
    return report


def _write_tables(report: ExportReport, complete: bool = True) -> None:
    """gates.json and gates.md; ``complete`` False while the export is still running (or was
    interrupted): the results so far."""
    write_json(report.folder / "gates.json", {
        "passed": report.passed, "complete": complete, "results": [r.to_dict() for r in report.results],
        "fallbacks": report.fallbacks,
    })
    text = "# Export gate\n\n" + gate_table(report.results)
    for fb in report.fallbacks:
        text += f"\n## Accuracy-aware fallback for {fb['target']}\n\n"
        text += f"Plain int8 ΔDice {-fb['plain_dice_drop']:+.4f} missed the budget {fb['budget']}.\n\n"
        text += "| step | artifact | ΔDice | gate | note |\n|---|---|---:|---|---|\n"
        for s in fb["steps"]:
            verdict = "-" if s.get("passed") is None else ("pass" if s["passed"] else "FAIL")
            drop = f"{-s['dice_drop']:+.4f}" if "dice_drop" in s else "-"
            text += f"| {s['strategy']} | {s['artifact'] or '-'} | {drop} | {verdict} | {s['note'] or ''} |\n"
        text += f"\nChosen: {fb['chosen'] or 'none met the budget'}"
        if fb["latency_p50_ms"]:
            text += " (p50 latency: " + ", ".join(f"{k} {v:.1f} ms" for k, v in fb["latency_p50_ms"].items()) + ")"
        text += "\n"
    write_text(report.folder / "gates.md", text)


def export_runs(runs: list[Path], cfg: ExportConfig, out: Path | None = None,
                qat: Any | None = None) -> list[tuple[Path, ExportReport]]:
    """:func:`export_run` over several runs; ``qat`` (a ``QATConfig``) first fine-tunes a
    quantization-aware copy of each run (the float run is untouched) and exports that copy.

    Raises:
        ConfigError: ``out`` with several runs (each export goes to its own ``RUN/export``).
    """
    if out is not None and len(runs) > 1:
        raise ConfigError("--out names one folder; with several runs each export goes to RUN/export")
    reports = []
    for run in runs:
        if qat is not None:
            from edgeseg.quantize.qat import qat as qat_finetune

            run = qat_finetune(run, qat, runs_root=Path(run).parent).path
            print(f"QAT run: {run}")
        reports.append((Path(run), export_run(run, cfg, out)))
    return reports


def family_table_of(reports: list[tuple[Path, ExportReport]]) -> str | None:
    """The family table (every variant against the widest float model) when the runs are width
    variants of one registered family scored on the same pairs; None otherwise. It is also
    written to each export folder as ``family.md``."""
    from edgeseg.gates import family_table
    from edgeseg.models import MODELS

    variants, families, splits = [], set(), set()
    for run, report in reports:
        name = RunDir.open(run).config().model.name
        builder = MODELS.get(name)
        width = getattr(builder, "params", {}).get("width")
        if width is None:
            return None
        families.add(builder.family)
        variants.append((name, float(width), report.results))
        splits.add((run / "splits.json").read_text())
    if len(families) != 1 or len(splits) != 1:
        return None
    table = family_table(variants)
    for _, report in reports:
        write_text(report.folder / "family.md", "# Family gate\n\n" + table)
    return table
