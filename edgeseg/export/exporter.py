"""``export_run(run, cfg)``: write every requested artifact of a run, gate each one against the
float model on the run's evaluation split, and fall back (accuracy-aware int8) when a static
int8 artifact misses its budget.

Output (a new folder per call, never overwritten)::

    RUN/export[-N]/calibration.json        the calibration image list (int8)
    RUN/export[-N]/<format>_<recipe>[_<io>][-<fallback>]/{model file, manifest.json, golden/}
    RUN/export[-N]/gates.json, gates.md    the gate table (and fallbacks)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import ConfigError
from edgeseg.artifact import Manifest, atomic_folder, git_commit, read_manifest, sha256_file, size_bytes, write_manifest
from edgeseg.export.formats import FORMATS, WriteOptions
from edgeseg.gates import GateResult, budget_for, gate, gate_table, load_budgets
from edgeseg.io import next_free_path, write_json, write_text
from edgeseg.quantize.recipes import CALIBRATION_METHODS, IO_TYPES, RECIPES
from edgeseg.postprocess import PostprocessConfig
from edgeseg.screen.hints import HintConfig

FALLBACK_CALIBRATION = ("percentile", "entropy", "minmax")  # most promising first
SELECTIVE_STEPS = (1, 3)  # how many of the worst-error ops to keep in float, in order


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how to gate it.

    Attributes:
        formats, recipes: every supported (format, recipe) pair is exported; an unsupported
            pair is an error (``edgeseg export --help`` lists what each format supports).
        io: IO dtype of full-integer artifacts (``int8``, ``uint8``, or ``float32`` for the
            float-IO variant). Setting it with a float recipe is an error.
        onnx_nchw, opset: ONNX input layout and opset.
        calib_n, calib_seed, calib_method, calib_dir: int8 calibration: ``calib_n`` images drawn
            (seeded) from the train split, or from ``calib_dir``; ``calib_method`` for ORT.
        split, limit: the evaluation split the gate scores on (and an optional cap on its pairs).
        max_dice_drop: one budget for every artifact; None reads ``quantize/gates.toml``.
        gates_file: another gates TOML file.
        fallback: accuracy-aware int8: when a static int8 artifact misses its budget, try
            another calibration method, then selective float ops, then QAT.
        qat_epochs, qat_max_steps: the QAT fallback's fine-tune length.
    """

    formats: tuple[str, ...] = ("tflite",)
    recipes: tuple[str, ...] = ("fp32",)
    io: str | None = None
    onnx_nchw: bool = False
    opset: int = 17
    calib_n: int = 200
    calib_seed: int = 0
    calib_method: str = "minmax"
    calib_dir: str | None = None
    split: str = "validation"
    limit: int | None = None
    max_dice_drop: float | None = None
    gates_file: str | None = None
    fallback: bool = True
    qat_epochs: int = 1
    qat_max_steps: int | None = None
    input_size: tuple[int, int] | None = None  # export at another (h, w) than the run trained at

    def __post_init__(self) -> None:
        if not self.formats or not self.recipes:
            raise ConfigError("nothing to export: give at least one --format and --quant (or --int8)")
        for f in self.formats:
            fmt = FORMATS.get(f)
            for r in self.recipes:
                RECIPES.get(r)
                if r not in fmt.recipes:
                    raise ConfigError(f"format {f} has no recipe {r}; it supports: {', '.join(fmt.recipes)}")
        if self.io is not None:
            if self.io not in IO_TYPES:
                raise ConfigError(f"unknown --io {self.io!r}; choose one of: {', '.join(IO_TYPES)}")
            if self.io != "float32" and not any(RECIPES.get(r).integer_activations for r in self.recipes):
                raise ConfigError(
                    f"--io {self.io} needs a full-integer recipe (static_wi8_ai8, qat_wi8_ai8); "
                    f"{', '.join(self.recipes)} computes in float"
                )
        if self.calib_method not in CALIBRATION_METHODS:
            raise ConfigError(f"unknown calibration method {self.calib_method!r}; choose one of: {', '.join(CALIBRATION_METHODS)}")
        if self.calib_n < 1:
            raise ConfigError(f"--calib-n must be >= 1, got {self.calib_n}")
        if self.max_dice_drop is not None and self.max_dice_drop < 0:
            raise ConfigError(f"--max-dice-drop must be >= 0, got {self.max_dice_drop}")


@dataclass(frozen=True)
class Target:
    """One artifact to write: a format, a recipe and its writer options; ``strategy`` names the
    accuracy-aware step that produced it (``plain`` for the requested one)."""

    format: str
    recipe: str
    options: WriteOptions
    strategy: str = "plain"

    @property
    def label(self) -> str:
        label = f"{self.format}_{self.recipe}"
        if RECIPES.get(self.recipe).integer_activations and self.format == "tflite":
            label += f"_{self.options.io}io"
        if self.options.onnx_nchw and self.format == "onnx":
            label += "_nchw"
        return label if self.strategy == "plain" else f"{label}-{self.strategy}"


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


def plan_targets(cfg: ExportConfig, qat_run: bool = False) -> list[Target]:
    """The (format, recipe, options) list of a config. A QAT run exports its int8 recipes as
    ``qat_wi8_ai8`` (its weights are already quantization-aware)."""
    targets = []
    for f in cfg.formats:
        for r in cfg.recipes:
            recipe = RECIPES.get(r)
            if qat_run and recipe.integer_activations:
                r = "qat_wi8_ai8"
            io = (cfg.io or "int8") if recipe.integer_activations else "float32"
            targets.append(Target(f, r, WriteOptions(io=io, onnx_nchw=cfg.onnx_nchw, opset=cfg.opset,
                                                     calib_method=cfg.calib_method)))
    return list(dict.fromkeys(targets))


def export_run(run_path: str | Path, cfg: ExportConfig, out: str | Path | None = None) -> ExportReport:
    """Export, gate and (if needed) fall back; see the module docstring."""
    from edgeseg.data.splits import load_splits
    from edgeseg.evaluate import evaluate
    from edgeseg.models import rebuild_at
    from edgeseg.runtime.keras_runner import KerasRunner
    from edgeseg.run import RunDir

    run = RunDir.open(run_path)
    rcfg = run.config()
    source = _qat_source(run)
    model = _load_model(run, qat=source is not None)
    reference_run = RunDir.open(source) if source else run
    reference_model = _load_model(reference_run, qat=False) if source else model
    if cfg.input_size and tuple(cfg.input_size) != rcfg.data.image_size:
        if source:
            raise ConfigError("--size cannot re-size a QAT run; export its float source at that size instead")
        model = reference_model = rebuild_at(model, rcfg.model, cfg.input_size)
        rcfg = dataclasses.replace(rcfg, data=dataclasses.replace(rcfg.data, height=cfg.input_size[0], width=cfg.input_size[1]))
    budgets = load_budgets(cfg.gates_file)
    targets = plan_targets(cfg, qat_run=source is not None)

    splits = load_splits(run.path / "splits.json")
    if cfg.split not in splits or not splits[cfg.split]:
        raise ConfigError(f"{run.path}: no '{cfg.split}' split to gate on; it has {', '.join(splits)}")
    pairs = splits[cfg.split][: cfg.limit] if cfg.limit else splits[cfg.split]

    folder = next_free_path(Path(out) if out else run.path / "export")
    folder.mkdir(parents=True)
    calib, calib_info = None, None
    if any(RECIPES.get(t.recipe).needs_calibration for t in targets):
        calib, calib_info = _calibration(splits, cfg, rcfg, folder)

    print(f"gate reference: {reference_run.best_model()} on {len(pairs)} '{cfg.split}' pairs")
    norm = rcfg.data.normalisation
    ref_eval = evaluate(KerasRunner(reference_model, reference_run.best_model(), norm), pairs, keep_masks=True)
    report = ExportReport(folder)
    provenance = _provenance(run, model)

    def attempt(target: Target, model_: Any = model, prov: dict[str, Any] | None = None) -> GateResult:
        # Golden vectors use the first evaluation image: a real image no artifact was tuned on.
        art_dir = _write_artifact(model_, target, folder, calib, calib_info, prov or provenance, rcfg, cfg,
                                  golden_image=pairs[0].image)
        result = _gate_artifact(art_dir, target, ref_eval, pairs, reference_run, cfg, budgets)
        report.results.append(result)
        status = "pass" if result.passed else "FAIL"
        print(f"  {target.label:<40} Dice {result.dice:.4f}  ΔDice {-result.dice_drop:+.4f}  "
              f"agreement {result.mask_agreement:.4f}  [{status}, budget {result.budget}]")
        return result

    for target in targets:
        result = attempt(target)
        if not result.passed and cfg.fallback and target.recipe == "static_wi8_ai8":
            report.fallbacks.append(_fallback(target, result, attempt, model, run, cfg, calib, folder))

    _write_tables(report)
    return report


# --- accuracy-aware int8 --------------------------------------------------------------------


def _fallback(target: Target, plain: GateResult, attempt: Any, model: Any, run: Any, cfg: ExportConfig,
              calib: Any, folder: Path) -> dict[str, Any]:
    """Try, in order: another calibration method, keeping the worst ops in float, QAT. Stop at
    the first artifact within budget. Every attempt stays on disk with its own gate result."""
    from edgeseg.bench.timing import time_runner
    from edgeseg.runtime import load_runner

    steps: list[dict[str, Any]] = []

    def record(strategy: str, t: Target | None, r: GateResult | None, note: str = "") -> bool:
        entry: dict[str, Any] = {"strategy": strategy, "artifact": t.label if t else None, "note": note}
        if r is not None:
            entry.update(dice=r.dice, dice_drop=r.dice_drop, passed=r.passed, size_bytes=r.size_bytes)
        steps.append(entry)
        return bool(r and r.passed)

    print(f"  {target.label} missed its budget: accuracy-aware fallback")
    chosen = None
    # 1. another calibration method (ORT offers three; the TFLite converter calibrates min/max only)
    if target.format == "onnx":
        for method in FALLBACK_CALIBRATION:
            if method == target.options.calib_method:
                continue
            if method == "entropy" and target.options.calib_method == "minmax":
                # quantize_static's entropy search has a single candidate with ORT 1.32's
                # defaults: it reproduces min/max exactly, so trying it would waste a step.
                record("calibration:entropy", None, None, "skipped: identical to minmax in ONNX Runtime 1.32")
                continue
            t = dataclasses.replace(target, options=dataclasses.replace(target.options, calib_method=method),
                                    strategy=f"calib_{method}")
            if record(f"calibration:{method}", t, attempt(t)):
                chosen = t
                break
    else:
        record("calibration", None, None, "skipped: TFLite already quantizes weights per channel and calibrates min/max only")
    # 2. selective quantization: keep the ops with the worst quantization error in float
    if chosen is None:
        worst = _worst_ops(target, model, calib)
        for k in SELECTIVE_STEPS:
            if k > len(worst):
                break
            t = dataclasses.replace(target, options=dataclasses.replace(target.options, keep_float=tuple(worst[:k])),
                                    strategy=f"float{k}")
            if record(f"selective:{k} ops in float", t, attempt(t)):
                chosen = t
                break
    # 3. QAT from the float run
    if chosen is None:
        from edgeseg.quantize.qat import QATConfig, qat

        qrun = qat(run.path, QATConfig(epochs=cfg.qat_epochs, max_steps=cfg.qat_max_steps), runs_root=run.path.parent)
        qmodel = _load_model(qrun, qat=True)
        t = dataclasses.replace(target, recipe="qat_wi8_ai8", strategy="qat")
        if record(f"qat ({qrun.path})", t, attempt(t, qmodel, _provenance(qrun, qmodel))):
            chosen = t

    # Cost of the chosen option against the plain artifact, measured here.
    costs = {}
    if chosen is not None:
        filename = FORMATS.get(target.format).filename
        for label in (target.label, chosen.label):
            costs[label] = time_runner(load_runner(folder / label / filename), min_runs=10, min_seconds=0.5).p50_ms
    return {"target": target.label, "plain_dice_drop": plain.dice_drop, "budget": plain.budget,
            "steps": steps, "chosen": chosen.label if chosen else None, "latency_p50_ms": costs}


def _worst_ops(target: Target, model: Any, calib: Any) -> list[str]:
    if target.format == "tflite":
        from edgeseg.export.tflite import quantization_error_report

        return [name for name, _ in quantization_error_report(model, calib, io=target.options.io)]
    import tempfile

    from edgeseg.export.onnx import quantization_error_report, write_onnx

    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        write_onnx(model, fp32, opset=target.options.opset, nchw=target.options.onnx_nchw)
        return [name for name, _ in quantization_error_report(fp32, calib, method=target.options.calib_method)]


# --- pieces ----------------------------------------------------------------------------------


def _qat_source(run: Any) -> str | None:
    path = run.path / "qat.json"
    if not path.is_file():
        return None
    info = json.loads(path.read_text())
    return info.get("source")


def _load_model(run: Any, qat: bool) -> Any:
    if qat:
        from edgeseg.quantize.qat import load_qat_model

        return load_qat_model(run.best_model())
    from edgeseg.runtime.keras_runner import load_keras_model

    return load_keras_model(run.best_model())


def _provenance(run: Any, model: Any) -> dict[str, Any]:
    from edgeseg.models.stats import count_macs

    cfg_text = (run.path / "config.json").read_bytes()
    return {
        "source_run": str(run.path), "source_model": str(run.best_model()),
        "model_name": run.config().model.name, "config_hash": hashlib.sha256(cfg_text).hexdigest()[:16],
        "git_commit": git_commit(), "params": int(model.count_params()), "macs": count_macs(model),
    }


def _calibration(splits: Any, cfg: ExportConfig, rcfg: Any, folder: Path) -> tuple[Any, dict[str, Any]]:
    from edgeseg.quantize.calibration import calibration_array, save_calibration_list, select_calibration

    images = select_calibration(splits, cfg.calib_n, cfg.calib_seed, cfg.split, cfg.calib_dir)
    listing = save_calibration_list(folder / "calibration.json", images, cfg.calib_seed)
    arr = calibration_array(images, rcfg.data.image_size, rcfg.data.normalisation)
    info = {"n": len(images), "seed": cfg.calib_seed, "source": cfg.calib_dir or "train split",
            "list": "../calibration.json", "list_sha256": sha256_file(listing)}
    return arr, info


def _write_artifact(model: Any, target: Target, folder: Path, calib: Any, calib_info: Any,
                    provenance: dict[str, Any], rcfg: Any, cfg: ExportConfig, golden_image: Path | None = None) -> Path:
    fmt = FORMATS.get(target.format)
    recipe = RECIPES.get(target.recipe)
    dest = folder / target.label
    with atomic_folder(dest) as tmp:
        file = tmp / fmt.filename
        in_spec, out_spec = fmt.write(model, file, recipe, calib if recipe.needs_calibration else None, target.options)
        if target.format == "tflite":
            _add_metadata(file, rcfg)
        if golden_image is not None:
            from edgeseg.export.golden import write_golden
            from edgeseg.runtime import load_runner

            write_golden(tmp, load_runner(file), golden_image)
        manifest = Manifest(
            format=target.format, recipe=target.recipe, file=fmt.filename, sha256=sha256_file(file),
            size_bytes=size_bytes(file), input=in_spec, output=out_spec,
            layout="NCHW" if target.options.onnx_nchw and target.format == "onnx" else "NHWC",
            input_size=rcfg.data.image_size, normalisation=dataclasses.asdict(rcfg.data.normalisation),
            calibration=calib_info if recipe.needs_calibration else None,
            export_config={"target": target.label, "strategy": target.strategy,
                           "options": dataclasses.asdict(target.options), "export": dataclasses.asdict(cfg)},
            postprocess=dataclasses.asdict(PostprocessConfig()), hints=dataclasses.asdict(HintConfig()),
            **provenance,
        )
        write_manifest(tmp, manifest)
    return dest


def _add_metadata(file: Path, rcfg: Any) -> None:
    try:
        from edgeseg.export.metadata import add_segmenter_metadata
    except ImportError:
        return
    add_segmenter_metadata(file, rcfg.data.normalisation)


def _gate_artifact(art_dir: Path, target: Target, ref_eval: Any, pairs: Any, reference_run: Any,
                   cfg: ExportConfig, budgets: dict[str, float]) -> GateResult:
    from edgeseg.evaluate import evaluate
    from edgeseg.runtime import load_runner

    import gzip

    from edgeseg.bench.timing import time_runner

    fmt = FORMATS.get(target.format)
    file = art_dir / fmt.filename
    runner = load_runner(file)
    result = gate(
        ref_eval, evaluate(runner, pairs, keep_masks=True), artifact=target.label, format=target.format,
        recipe=target.recipe, size_bytes=size_bytes(file), reference_name=str(reference_run.best_model()),
        split=cfg.split, budget=budget_for(target.recipe, budgets, cfg.max_dice_drop),
    )
    # Size after gzip is what pruning buys; latency is measured, never inferred from sparsity.
    result = dataclasses.replace(
        result, gzip_bytes=len(gzip.compress(file.read_bytes(), 6)) if file.is_file() else None,
        latency_p50_ms=round(time_runner(runner, min_runs=5, min_seconds=0.3).p50_ms, 2),
    )
    manifest = read_manifest(file)
    assert manifest is not None
    # The gate verdict joins the contract; a failed artifact is kept but marked failed.
    write_manifest(art_dir, dataclasses.replace(manifest, gate=result.to_dict()))
    return result


def _write_tables(report: ExportReport) -> None:
    write_json(report.folder / "gates.json", {
        "passed": report.passed, "results": [r.to_dict() for r in report.results], "fallbacks": report.fallbacks,
    })
    text = "# Export gate\n\n" + gate_table(report.results)
    for fb in report.fallbacks:
        text += f"\n## Accuracy-aware fallback for {fb['target']}\n\n"
        text += f"Plain int8 ΔDice {-fb['plain_dice_drop']:+.4f} missed the budget {fb['budget']}.\n\n"
        text += "| step | artifact | ΔDice | gate |\n|---|---|---:|---|\n"
        for s in fb["steps"]:
            verdict = "-" if s.get("passed") is None else ("pass" if s["passed"] else "FAIL")
            drop = f"{-s['dice_drop']:+.4f}" if "dice_drop" in s else "-"
            text += f"| {s['strategy']} | {s['artifact'] or s['note']} | {drop} | {verdict} |\n"
        text += f"\nChosen: {fb['chosen'] or 'none met the budget'}"
        if fb["latency_p50_ms"]:
            text += " (p50 latency: " + ", ".join(f"{k} {v:.1f} ms" for k, v in fb["latency_p50_ms"].items()) + ")"
        text += "\n"
    write_text(report.folder / "gates.md", text)

