"""The accuracy gate: each artifact's Dice/IoU drop against its float model, as data.

A :class:`GateResult` holds the reference, the candidate, the drop, the budget and ``passed``;
it is saved as JSON (into the artifact's manifest and the export's ``gates.json``) and drives
the exit code. Both sides are scored by :func:`edgeseg.evaluate.evaluate` on the same pairs;
:func:`gate_artifact` is the stage ``gate(artifact, reference, budget) -> GateResult``.
"""

from __future__ import annotations

import dataclasses
import gzip
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifact import Artifact, size_bytes, write_manifest
from edgeseg.data.pairs import Pair
from edgeseg.errors import ConfigError
from edgeseg.evaluate import EvalResult, evaluate
from edgeseg.faults import fault_point
from edgeseg.metrics import confusion, per_image

DEFAULT_BUDGET = 0.01
GATES_FILE = Path(__file__).resolve().parents[1] / "quantize" / "gates.toml"


@dataclass(frozen=True)
class GateResult:
    """One artifact against its float reference (Dice/IoU are means over images).

    ``mask_agreement`` is the mean Dice between the artifact's masks and the float model's masks:
    how faithfully the artifact reproduces the float model, independent of the ground truth.
    """

    artifact: str
    format: str
    recipe: str
    size_bytes: int
    reference: str
    split: str
    n_images: int
    reference_dice: float
    reference_iou: float
    dice: float
    iou: float
    dice_drop: float
    iou_drop: float
    mask_agreement: float
    budget: float
    passed: bool
    gzip_bytes: int | None = None
    latency_p50_ms: float | None = None  # batch 1, this machine, measured beside the gate

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_budgets(path: str | Path | None = None) -> dict[str, float]:
    """Per-recipe Dice-drop budgets from ``quantize/gates.toml`` (``"default"`` for the rest).

    A missing default file (e.g. an installed package) means every budget is 0.01.
    """
    path = Path(path) if path else GATES_FILE
    if not path.is_file():
        if path != GATES_FILE:
            raise ConfigError(f"{path}: no such gates file")
        return {"default": DEFAULT_BUDGET}
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e})") from None
    budgets = {"default": float(raw.get("default", {}).get("max_dice_drop", DEFAULT_BUDGET))}
    budgets.update({name: float(v["max_dice_drop"]) for name, v in raw.get("recipes", {}).items()})
    return budgets


def budget_for(recipe: str, budgets: dict[str, float], override: float | None = None) -> float:
    if override is not None:
        return float(override)
    return budgets.get(recipe, budgets["default"])


def mask_agreement(a: EvalResult, b: EvalResult) -> float:
    """Mean Dice between two evaluations' predicted masks (both run with ``keep_masks``)."""
    if a.masks is None or b.masks is None:
        raise ValueError("mask agreement needs evaluate(..., keep_masks=True) on both sides")
    dice = [per_image(confusion(x, y))["dice"][0] for x, y in zip(a.masks, b.masks)]
    return float(np.mean(dice))


def gate(reference: EvalResult, candidate: EvalResult, *, artifact: str, format: str, recipe: str,
         size_bytes: int, reference_name: str, split: str, budget: float) -> GateResult:
    """Compare ``candidate`` with ``reference``; passes when the Dice drop is within ``budget``."""
    if reference.stems != candidate.stems:
        raise ValueError("the gate needs both models scored on the same pairs, in the same order")
    ref, cand = reference.scores.mean, candidate.scores.mean
    drop = ref["dice"] - cand["dice"]
    return GateResult(
        artifact=artifact, format=format, recipe=recipe, size_bytes=size_bytes, reference=reference_name,
        split=split, n_images=candidate.scores.n_images,
        reference_dice=ref["dice"], reference_iou=ref["iou"], dice=cand["dice"], iou=cand["iou"],
        dice_drop=drop, iou_drop=ref["iou"] - cand["iou"],
        mask_agreement=mask_agreement(reference, candidate), budget=budget, passed=bool(drop <= budget),
    )


def gate_artifact(artifact: Artifact, reference: EvalResult, pairs: Sequence[Pair], *, budget: float,
                  reference_name: str, split: str, record: Callable[[GateResult], Any] | None = None) -> GateResult:
    """Score ``artifact`` on ``pairs`` against the float ``reference`` (scored on the same pairs
    with ``keep_masks``), measure its gzip size and batch-1 latency, and write the verdict into
    its manifest: a failed artifact is kept but marked failed. ``record`` is called with the
    result before the manifest gets it (the export writes its ``gates.json`` there), so a summary
    exists whenever an artifact claims to be complete.

    Raises:
        RunError: the artifact has no manifest, or its file no longer matches it.
    """
    from edgeseg.runtime import load_runner
    from edgeseg.runtime.timing import time_runner

    manifest = artifact.manifest(allow_ungated=True)  # the gate is what completes it
    runner = load_runner(artifact.file, allow_ungated=True)
    result = gate(
        reference, evaluate(runner, pairs, keep_masks=True), artifact=artifact.label, format=manifest.format,
        recipe=manifest.recipe, size_bytes=size_bytes(artifact.file), reference_name=reference_name,
        split=split, budget=budget,
    )
    # Size after gzip is what pruning buys; latency is measured, never inferred from sparsity.
    file = artifact.file
    result = dataclasses.replace(
        result, gzip_bytes=len(gzip.compress(file.read_bytes(), 6)) if file.is_file() else None,
        latency_p50_ms=round(time_runner(runner, min_runs=5, min_seconds=0.3).p50_ms, 2),
    )
    fault_point("export.gated")
    if record is not None:
        record(result)
        fault_point("export.recorded")
    write_manifest(artifact.folder, dataclasses.replace(manifest, gate=result.to_dict()))
    fault_point("export.complete")
    return result


def gate_table(results: list[GateResult]) -> str:
    """Markdown table of gate results."""
    head = ("| artifact | format | recipe | size | gzip | p50 ms | Dice | IoU | ΔDice | ΔIoU | mask agreement | budget | gate |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = [
        f"| {r.artifact} | {r.format} | {r.recipe} | {_size(r.size_bytes)} | "
        f"{_size(r.gzip_bytes) if r.gzip_bytes else '-'} | "
        f"{f'{r.latency_p50_ms:.1f}' if r.latency_p50_ms is not None else '-'} | {r.dice:.4f} | {r.iou:.4f} | "
        f"{_delta(r.dice_drop)} | {_delta(r.iou_drop)} | {r.mask_agreement:.4f} | {r.budget:.4f} | "
        f"{'pass' if r.passed else 'FAIL'} |"
        for r in results
    ]
    ref = results[0] if results else None
    note = (f"\nReference (float): {ref.reference}: Dice {ref.reference_dice:.4f}, IoU {ref.reference_iou:.4f} "
            f"on {ref.n_images} images of `{ref.split}` (means over images; Δ = artifact − float). "
            "p50: batch-1 latency on this machine, measured after the gate (see `edgeseg bench` for the full story).") if ref else ""
    return "\n".join([head, *rows]) + "\n" + note + "\n"


def family_table(variants: list[tuple[str, float, list[GateResult]]]) -> str:
    """Each variant's artifacts against the full-width float model of the family.

    Args:
        variants: ``(model_name, width, gate results)`` per exported run, all scored on the same
            pairs; the widest variant's float Dice is the reference.
    """
    name, _, results = max(variants, key=lambda v: v[1])
    ref = results[0].reference_dice
    lines = [f"Reference: the float {name} (Dice {ref:.4f}).", "",
             "| variant | artifact | size | Dice | ΔDice vs own float | ΔDice vs float " + name + " |",
             "|---|---|---:|---:|---:|---:|"]
    for model_name, _, res in sorted(variants, key=lambda v: -v[1]):
        lines += [f"| {model_name} | {r.artifact} | {_size(r.size_bytes)} | {r.dice:.4f} | {_delta(r.dice_drop)} | "
                  f"{_delta(ref - r.dice)} |" for r in res]
    return "\n".join(lines) + "\n"


def _delta(drop: float) -> str:
    """A drop shown as the signed change artifact − reference (no "-0.0000")."""
    return f"{-drop + 0.0:+.4f}"


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"
