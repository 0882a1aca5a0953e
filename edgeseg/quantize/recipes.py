"""Quantization recipes: small frozen dataclasses in a registry, named as ai-edge-quantizer does
(weights ``w``, activations ``a``, bits). Dispatch on a recipe is a lookup, never a flag tuple."""

from __future__ import annotations

from dataclasses import dataclass

from edgeseg.registry import Registry


@dataclass(frozen=True)
class Recipe:
    """How an artifact's numbers are stored.

    Attributes:
        name: the registry name, e.g. ``static_wi8_ai8``.
        weights: ``float32``, ``float16`` or ``int8``.
        activations: ``float32`` or ``int8`` (int8 needs calibration or QAT).
        needs_calibration: static activation ranges are measured on calibration images.
        qat: the source is a quantization-aware fine-tuned model, not the float checkpoint.
        summary: one line for ``--help`` and tables.
    """

    name: str
    weights: str
    activations: str
    needs_calibration: bool
    summary: str
    qat: bool = False

    @property
    def integer_activations(self) -> bool:
        return self.activations == "int8"


RECIPES: Registry[Recipe] = Registry("quantization recipe")
for _r in (
    Recipe("fp32", "float32", "float32", False, "float32 weights and activations (the reference)"),
    Recipe("fp16", "float16", "float32", False, "float16 weights, float32 compute: half the size"),
    Recipe("dynamic_wi8_afp32", "int8", "float32", False, "int8 weights, activations quantized on the fly"),
    Recipe("static_wi8_ai8", "int8", "int8", True, "full integer: int8 weights and activations, calibrated"),
    Recipe("qat_wi8_ai8", "int8", "int8", False, "full integer from quantization-aware fine-tuning", qat=True),
):
    RECIPES.add(_r.name, _r)

# IO types a full-integer artifact may expose (float32 IO keeps QUANTIZE/DEQUANTIZE inside).
IO_TYPES = ("float32", "int8", "uint8")

# ONNX Runtime static calibration methods (see edgeseg.export.onnx for what each does in 1.32).
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
