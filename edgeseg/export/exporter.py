"""``export(source, target, calibration, folder) -> Artifact``: one model file, its manifest and
its golden vectors. Exporting writes; it neither scores nor trains.

The gate (:func:`edgeseg.gates.gate_artifact`) scores an artifact against its float model, the
accuracy-aware search (:mod:`edgeseg.quantize.accuracy_aware`) decides what to try when a static
int8 artifact misses its budget, and :func:`edgeseg.pipeline.export_run` runs the three for
``edgeseg export``. What differs between formats lives in their :data:`FORMATS` entries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifact import Artifact, Manifest, atomic_folder, git_commit, sha256_file, size_bytes, write_manifest
from edgeseg.config import RunConfig
from edgeseg.errors import ConfigError
from edgeseg.export.formats import FORMATS, WriteOptions
from edgeseg.postprocess import PostprocessConfig
from edgeseg.quantize.recipes import CALIBRATION_METHODS, IO_TYPES, RECIPES
from edgeseg.run import RunDir
from edgeseg.screen.hints import HintConfig


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
        label = FORMATS.get(self.format).label(RECIPES.get(self.recipe), self.options)
        return label if self.strategy == "plain" else f"{label}-{self.strategy}"


@dataclass(frozen=True)
class Source:
    """The Keras model an export writes from, and what every manifest records about it.

    Attributes:
        model: the compiled Keras model (a QAT model keeps its fake-quant ops).
        run_config: its run's config; ``data`` gives the input size and normalisation.
        provenance: source run and model, config hash, git commit, params, MACs.
    """

    model: Any
    run_config: RunConfig
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Calibration:
    """Calibration images ``(N, H, W, 3)`` float32, normalised, and their manifest record."""

    images: np.ndarray
    info: dict[str, Any]


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


def export(source: Source, target: Target, calibration: Calibration | None, folder: Path, *,
           golden_image: Path | None = None, settings: dict[str, Any] | None = None) -> Artifact:
    """Write ``folder/<target.label>/``: the model file, ``manifest.json`` and golden vectors.

    Args:
        calibration: needed by recipes that calibrate (``static_wi8_ai8``); ignored by the rest.
        golden_image: the image the golden vectors are computed on (None: no golden folder).
        settings: the export's settings, recorded in the manifest's ``export_config``.

    Raises:
        ConfigError: the recipe needs calibration and none was given.
        RunError: ``folder/<label>`` exists (artifacts are never overwritten).
    """
    fmt = FORMATS.get(target.format)
    recipe = RECIPES.get(target.recipe)
    if recipe.needs_calibration and calibration is None:
        raise ConfigError(f"{target.label}: the {recipe.name} recipe needs calibration images")
    data = source.run_config.data
    dest = folder / target.label
    with atomic_folder(dest) as tmp:
        file = tmp / fmt.filename
        in_spec, out_spec = fmt.write(source.model, file, recipe,
                                      calibration.images if recipe.needs_calibration else None, target.options)
        if golden_image is not None:
            from edgeseg.export.golden import write_golden
            from edgeseg.runtime import load_runner

            write_golden(tmp, load_runner(file), golden_image)
        manifest = Manifest(
            format=target.format, recipe=target.recipe, file=fmt.filename, sha256=sha256_file(file),
            size_bytes=size_bytes(file), input=in_spec, output=out_spec, layout=fmt.layout(target.options),
            input_size=data.image_size, normalisation=dataclasses.asdict(data.normalisation),
            calibration=calibration.info if recipe.needs_calibration else None,
            export_config={"target": target.label, "strategy": target.strategy,
                           "options": dataclasses.asdict(target.options), "export": settings or {}},
            postprocess=dataclasses.asdict(PostprocessConfig()), hints=dataclasses.asdict(HintConfig()),
            **source.provenance,
        )
        write_manifest(tmp, manifest)
    return Artifact(dest, dest / fmt.filename)


def load_source(run: RunDir, input_size: tuple[int, int] | None = None) -> tuple[Source, RunDir]:
    """The model to export from a run, and the run whose float model is its gate reference.

    A QAT run exports its own (fake-quantized) model and is gated against its float source run;
    ``input_size`` rebuilds the model at another (h, w) with the same weights.

    Raises:
        ConfigError: ``input_size`` with a QAT run.
    """
    from edgeseg.models import rebuild_at

    rcfg = run.config()
    qat_from = _qat_source(run)
    model = _load_model(run, qat=qat_from is not None)
    reference = RunDir.open(qat_from) if qat_from else run
    if input_size and tuple(input_size) != rcfg.data.image_size:
        if qat_from:
            raise ConfigError("--size cannot re-size a QAT run; export its float source at that size instead")
        model = rebuild_at(model, rcfg.model, input_size)
        rcfg = dataclasses.replace(rcfg, data=dataclasses.replace(rcfg.data, height=input_size[0], width=input_size[1]))
    return Source(model, rcfg, _provenance(run, model)), reference


def load_float_model(run: RunDir) -> Any:
    """A run's best checkpoint as a Keras model (the float reference of a gate)."""
    return _load_model(run, qat=False)


def calibrate(splits: dict[str, Any], cfg: ExportConfig, rcfg: RunConfig, folder: Path) -> Calibration:
    """Draw the calibration images (train split, or ``cfg.calib_dir``), list them in
    ``folder/calibration.json`` and load them at the export size."""
    from edgeseg.quantize.calibration import calibration_array, save_calibration_list, select_calibration

    images = select_calibration(splits, cfg.calib_n, cfg.calib_seed, cfg.split, cfg.calib_dir)
    listing = save_calibration_list(folder / "calibration.json", images, cfg.calib_seed)
    arr = calibration_array(images, rcfg.data.image_size, rcfg.data.normalisation)
    info = {"n": len(images), "seed": cfg.calib_seed, "source": cfg.calib_dir or "train split",
            "list": "../calibration.json", "list_sha256": sha256_file(listing)}
    return Calibration(arr, info)


def _qat_source(run: RunDir) -> str | None:
    path = run.path / "qat.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("source")


def _load_model(run: RunDir, qat: bool) -> Any:
    if qat:
        from edgeseg.quantize.qat import load_qat_model

        return load_qat_model(run.best_model())
    from edgeseg.runtime.keras_runner import load_keras_model

    return load_keras_model(run.best_model())


def _provenance(run: RunDir, model: Any) -> dict[str, Any]:
    from edgeseg.models.stats import count_macs

    cfg_text = (run.path / "config.json").read_bytes()
    return {
        "source_run": str(run.path), "source_model": str(run.best_model()),
        "model_name": run.config().model.name, "config_hash": hashlib.sha256(cfg_text).hexdigest()[:16],
        "git_commit": git_commit(), "params": int(model.count_params()), "macs": count_macs(model),
    }
