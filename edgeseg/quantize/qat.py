"""Quantization-aware training: ``qat(source_run, QATConfig) -> RunDir``.

``quantize_aware(model)`` annotates every layer of a float edgeseg model and applies tfmot's
default 8-bit scheme. Layers tfmot's registry does not know get an EXPLICIT ``QuantizeConfig``
(the rules in :func:`_explicit_rules`), never a silent skip; a layer that no rule covers is kept
float on purpose and named in the plan (:func:`quantize_plan`, and ``qat.json``). What tfmot refuses on our models (tfmot 0.8.1):

- ``unet_w025``: nothing. BatchNorm after a Conv2D is folded by tfmot's Conv+BN transforms,
  Concatenate has an output quantizer (tfmot's ConcatTransform moves it after the concat), and
  Conv2DTranspose has its own config.
- ``segnet*``: ``PoolIndexMask`` and ``MaxUnpool`` (custom layers).
- ``resnet50v2_unet``: ``Rescaling``, and the pre-activation BatchNorms that follow no conv.

tfmot also leaves the sigmoid head un-quantized (its Activation config gives sigmoid no output
quantizer); we fake-quantize it to TFLite's fixed int8 LOGISTIC range so QAT trains against the
same rounding the phone applies.

The fine-tune is a fine-tune stage (:mod:`edgeseg.finetune.stage`): a new run directory holds
``config.json``, ``splits.json``, ``qat.json`` (QATConfig, source run and sha256, the per-layer
plan, validation Dice before/after) and ``checkpoints/best.keras``, the QAT model, loadable with
:func:`load_qat_model`. The source run is only read.

Usage::

    from edgeseg.quantize.qat import QATConfig, qat, load_qat_model
    run = qat("runs/unet_w025", QATConfig(epochs=2))
    model = load_qat_model(run.path / "checkpoints" / "best.keras")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg._keras import keras  # before tfmot: it sets TF_USE_LEGACY_KERAS for the process
from edgeseg.config import RunConfig
from edgeseg.errors import RunError
from edgeseg.finetune.stage import Arrays, FineTuneConfig, FineTuneStage, Record, register, run_stage
from edgeseg.io import write_json
from edgeseg.run import RunDir
from edgeseg.train import FineTuneSource, FitHooks, compile_model, validation_dice

import tensorflow_model_optimization as tfmot  # noqa: E402  (after edgeseg._keras, see above)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import (  # noqa: E402
    QuantizeLayer as _TfmotQuantizeLayer,
)
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (  # noqa: E402
    QuantizeWrapperV2 as _TfmotQuantizeWrapperV2,
)

STAGE_FILE = "qat.json"
_q = tfmot.quantization.keras
# TFLite's int8 LOGISTIC always outputs scale 1/256, zero point -128: [0, 255/256].
SIGMOID_RANGE = (0.0, 255.0 / 256.0)


@dataclass(frozen=True)
class QATConfig(FineTuneConfig):
    """How to fine-tune a float run with fake-quantization: the fine-tune's ``epochs``,
    ``learning_rate`` and ``max_steps`` (:class:`~edgeseg.finetune.stage.FineTuneConfig`), no
    options of its own."""


# --- explicit quantize configs ---------------------------------------------------------------


@keras.utils.register_keras_serializable(package="edgeseg")
class OutputQuantizeConfig(_q.QuantizeConfig):
    """For a layer without weights: fake-quantize only its output, 8-bit asymmetric per-tensor,
    with a moving-average range (what tfmot's default does for Add or Concatenate)."""

    def get_weights_and_quantizers(self, layer: Any) -> list:
        return []

    def get_activations_and_quantizers(self, layer: Any) -> list:
        return []

    def set_quantize_weights(self, layer: Any, quantize_weights: list) -> None:
        pass

    def set_quantize_activations(self, layer: Any, quantize_activations: list) -> None:
        pass

    def get_output_quantizers(self, layer: Any) -> list:
        return [_q.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self) -> dict[str, Any]:
        return {}


@keras.utils.register_keras_serializable(package="edgeseg")
class FixedRangeOutputQuantizeConfig(OutputQuantizeConfig):
    """Fake-quantize the output in a FIXED range ``[low, high]`` (8 bits): for outputs whose
    range is known up front (a 0/1 mask, a sigmoid), so no range has to be learnt."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = float(low), float(high)

    def get_output_quantizers(self, layer: Any) -> list:
        return [_q.quantizers.FixedQuantizer(
            num_bits=8, init_min=self.low, init_max=self.high, narrow_range=False)]

    def get_config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


QAT_OBJECTS: dict[str, type] = {
    "OutputQuantizeConfig": OutputQuantizeConfig,
    "FixedRangeOutputQuantizeConfig": FixedRangeOutputQuantizeConfig,
}


def _is_sigmoid(layer: Any) -> bool:
    return (isinstance(layer, keras.layers.Activation)
            and getattr(layer.activation, "__name__", "") == "sigmoid")


def _follows_foldable_conv(layer: Any) -> bool:
    """Whether tfmot's Conv+BN transforms fold this BatchNorm: its input is a Conv2D or
    DepthwiseConv2D with a linear activation (Conv2DTranspose is not folded)."""
    inbound = layer.inbound_nodes[0].inbound_layers if layer.inbound_nodes else None
    return (
        type(inbound) in (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
        and getattr(inbound.activation, "__name__", "") == "linear"
    )


def _explicit_rules() -> list[tuple[Callable[[Any], bool], Callable[[], Any], str]]:
    """(matches layer, QuantizeConfig factory, why) for what tfmot's default registry refuses or
    handles in a way we do not want, checked in order before the registry."""
    from edgeseg.models import MaxUnpool, PoolIndexMask

    return [
        (_is_sigmoid, lambda: FixedRangeOutputQuantizeConfig(*SIGMOID_RANGE),
         "sigmoid head: tfmot gives sigmoid no output quantizer; fixed to TFLite's int8 LOGISTIC "
         "range [0, 255/256] so QAT sees the phone's rounding"),
        (lambda layer: isinstance(layer, PoolIndexMask), lambda: FixedRangeOutputQuantizeConfig(0.0, 1.0),
         "PoolIndexMask (custom): a 0/1 mask, exact in a fixed [0, 1] range; its EQUAL compares "
         "a tensor with its own max-pool, which share one scale, so int8 keeps the positions"),
        (lambda layer: isinstance(layer, MaxUnpool), OutputQuantizeConfig,
         "MaxUnpool (custom): no weights; upsample x mask, output quantized"),
        (lambda layer: isinstance(layer, keras.layers.Rescaling), OutputQuantizeConfig,
         "Rescaling: not in tfmot's registry; an affine op (MUL/ADD), output quantized"),
        (lambda layer: (isinstance(layer, keras.layers.BatchNormalization)
                        and not _follows_foldable_conv(layer)),
         OutputQuantizeConfig,
         "BatchNormalization after no Conv2D (pre-activation, or after Conv2DTranspose): tfmot "
         "folds BN only into Conv2D/DepthwiseConv2D; output quantized (its MUL/ADD stay float32 in "
         "TFLite: the folded per-channel scale has no fake-quant)"),
    ]


@dataclass(frozen=True)
class LayerPlan:
    """How one layer is quantized: ``how`` is ``tfmot`` (tfmot's registry/transforms),
    ``explicit`` (an edgeseg QuantizeConfig) or ``float`` (kept float on purpose)."""

    how: str
    config: str
    reason: str


def quantize_plan(model: keras.Model) -> dict[str, LayerPlan]:
    """Decide, per layer (input layers excluded), how :func:`quantize_aware` quantizes it."""
    registry = _q.default_8bit.Default8BitQuantizeRegistry()
    rules = _explicit_rules()
    plan: dict[str, LayerPlan] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for matches, make, why in rules:
            if matches(layer):
                plan[layer.name] = LayerPlan("explicit", type(make()).__name__, why)
                break
        else:
            if registry.supports(layer) or isinstance(layer, keras.layers.BatchNormalization):
                # (a BatchNorm reaching here follows a Conv2D: tfmot's transforms fold it)
                plan[layer.name] = LayerPlan("tfmot", "", "tfmot's default 8-bit registry")
            else:
                plan[layer.name] = LayerPlan(
                    "float", "", f"{type(layer).__name__}: no tfmot or edgeseg quantize config; kept float "
                    "(TFLite adds DEQUANTIZE/QUANTIZE around it)")
    return plan


def quantize_aware(model: keras.Model) -> keras.Model:
    """The QAT model of a float ``model``: annotated layer by layer (see :func:`quantize_plan`),
    then ``quantize_apply`` with tfmot's default 8-bit scheme.

    Args:
        model: a float edgeseg model, ``(N, H, W, 3)`` float32 -> ``(N, H, W, 1)`` float32.

    Returns:
        A new model with the same inputs/outputs (float32; fake-quant ops inside), with its own
        copy of the weights. ``model`` is not changed.
    """
    plan = quantize_plan(model)
    rules = _explicit_rules()
    kept = [name for name, p in plan.items() if p.how == "float"]
    if kept:
        print(f"QAT: kept float: {', '.join(f'{n} ({plan[n].reason})' for n in kept)}")

    def annotate(layer: Any) -> Any:
        p = plan.get(layer.name)
        if p is None or p.how == "float":
            return layer
        config = None
        if p.how == "explicit":
            config = next(make() for matches, make, _ in rules if matches(layer))
        return _q.quantize_annotate_layer(layer, quantize_config=config)

    annotated = keras.models.clone_model(model, clone_function=annotate)
    with quantize_scope():
        return _q.quantize_apply(annotated)


def quantize_scope() -> Any:
    """tfmot's quantize_scope with edgeseg's custom layers and quantize configs."""
    from edgeseg.models import custom_objects

    return _q.quantize_scope({**custom_objects(), **QAT_OBJECTS})


# tfmot 0.8.1 cannot reload its own QAT models from the .keras format (its open PR
# tensorflow/model-optimization#1123): during deserialization
# - QuantizeLayer.build never sets ``built``, so Keras builds it a second time and it expects 5
#   variables where 3 were saved;
# - QuantizeWrapperV2.build copies the inner layer's weights into its own list before the inner
#   layer is built, so it expects 4 variables where 6 (kernel, bias, kernel, step, min, max) were
#   saved.
# Loading swaps in these subclasses, which build in the saved order. They keep tfmot's class
# names, because the .keras weight store files each layer's variables under that name.


class _LoadableQuantizeLayer(_TfmotQuantizeLayer):
    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.built = True


class _LoadableQuantizeWrapperV2(_TfmotQuantizeWrapperV2):
    def build(self, input_shape: Any) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
        super().build(input_shape)


_LoadableQuantizeLayer.__name__ = _LoadableQuantizeLayer.__qualname__ = "QuantizeLayer"
_LoadableQuantizeWrapperV2.__name__ = _LoadableQuantizeWrapperV2.__qualname__ = "QuantizeWrapperV2"
_LOADABLE = {"QuantizeLayer": _LoadableQuantizeLayer, "QuantizeWrapperV2": _LoadableQuantizeWrapperV2}


def load_qat_model(path: str | Path, compile: bool = False) -> keras.Model:
    """Load a QAT ``.keras`` file (fake-quant wrappers, edgeseg layers and quantize configs).

    Args:
        path: a ``.keras`` file saved from a :func:`quantize_aware` model.
        compile: also restore the optimizer (to resume training).

    Returns:
        The QAT model, ``(N, H, W, 3)`` float32 -> ``(N, H, W, 1)`` float32 probabilities,
        with exactly the saved weights and quantization ranges.

    Raises:
        RunError: the file is missing or is not a loadable model.
    """
    from edgeseg.runtime.keras_runner import load_keras_model

    if not Path(path).is_file():
        raise RunError(f"{path}: no such QAT model file")
    # The inner scope wins over quantize_scope's own QuantizeLayer / QuantizeWrapperV2.
    with quantize_scope(), keras.utils.custom_object_scope(_LOADABLE):
        return load_keras_model(path, compile=compile, extra_objects=QAT_OBJECTS)


def is_quantize_aware(model: keras.Model) -> bool:
    """Whether ``model`` holds tfmot quantize wrappers."""
    return any(isinstance(layer, _q.QuantizeWrapperV2) for layer in model.layers)


# --- the stage -------------------------------------------------------------------------------


def qat(source: str | Path, cfg: QATConfig, runs_root: str | Path = "runs",
        name: str | None = None) -> RunDir:
    """Fine-tune the best model of run ``source`` with fake-quantization, into a new run.

    Returns:
        The new :class:`RunDir`; ``checkpoints/best.keras`` is the QAT model (best validation
        Dice), ``(N, H, W, 3)`` float32 -> ``(N, H, W, 1)`` float32 probabilities.

    Raises:
        RunError: ``source`` is not a run, has no checkpoint, or its model cannot be loaded;
            ``name`` exists.
        ConfigError: ``cfg`` is not a QATConfig.
        DataError: the source run's pairs cannot be read.
    """
    return run_stage(STAGE, source, cfg, runs_root, name)


def _plan(src: FineTuneSource, cfg: QATConfig, run_cfg: RunConfig, arrays: Arrays) -> Record:
    """The per-layer quantization plan and the float model's validation Dice."""
    from edgeseg.runtime.keras_runner import load_keras_model

    float_model = load_keras_model(src.model_path)
    # Every layer tfmot's registry refuses has an explicit config or is kept float on purpose,
    # so quantize_apply (run later, inside the strategy scope) has nothing left to refuse.
    plan = quantize_plan(float_model)
    dice_before = validation_dice(float_model, src.model_path, src.cfg, src.splits)
    return {
        "mixed_precision": "off (fake-quant ops are float32)",
        "layers": {
            "tfmot": [n for n, p in plan.items() if p.how == "tfmot"],
            "explicit": {n: {"config": p.config, "reason": p.reason}
                         for n, p in plan.items() if p.how == "explicit"},
            "kept_float": {n: p.reason for n, p in plan.items() if p.how == "float"},
        },
        "validation_dice": {"before": dice_before},
    }


def _hooks(cfg: QATConfig, record: Record, run_cfg: RunConfig) -> FitHooks:
    from edgeseg.runtime.keras_runner import load_keras_model

    def build(lr: float) -> Any:
        # Loaded here, inside the distribution strategy's scope, so its variables are mirrored.
        return compile_model(quantize_aware(load_keras_model(record["source_model"])), run_cfg, lr)

    return FitHooks(build=build, load=lambda path: load_qat_model(path, compile=True))


def _finish(run: RunDir, record: Record) -> RunDir:
    from edgeseg.data.splits import load_splits

    best = run.best_model()
    model = load_qat_model(best)
    dice = validation_dice(model, best, run.config(), load_splits(run.path / "splits.json"))
    record = {**record, "validation_dice": {**record["validation_dice"], "after": dice,
                                            "change": dice - record["validation_dice"]["before"]}}
    write_json(run.path / STAGE_FILE, record)
    kept = record["layers"]["kept_float"]
    print(f"QAT: validation Dice {record['validation_dice']['before']:.4f} -> {dice:.4f}; "
          f"{len(record['layers']['explicit'])} layers with explicit configs; "
          f"kept float: {', '.join(kept) if kept else 'none'}; model: {best}")
    return run


STAGE = register(FineTuneStage(
    name="qat", marker=STAGE_FILE, suffix="qat", config=QATConfig,
    plan=_plan, hooks=_hooks, finish=_finish,
    # Fake-quant ops run in float32; a float16 compute policy would quantize float16 tensors.
    train_changes={"mixed_precision": "off"},
))
